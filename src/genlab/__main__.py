"""``python -m genlab`` (and so ``torchrun -m genlab train ...``)."""
import sys

from genlab.cli import main

if __name__ == "__main__":
    sys.exit(main())
