"""The ``genlab`` command line: parse flags, build configs, call one library function.

Each command group lives in its own module with a ``register(subparsers)`` function that adds its
sub-commands and sets ``func`` on them; ``COMMAND_MODULES`` lists the groups.
"""
from __future__ import annotations

import argparse
import importlib
import signal
import sys
from typing import Sequence

from genlab.errors import GenlabError

COMMAND_MODULES = ["genlab.cli.train", "genlab.cli.generate", "genlab.cli.info", "genlab.cli.apps", "genlab.cli.evaluate", "genlab.cli.gan", "genlab.cli.anomaly", "genlab.cli.synth"]


class _Parser(argparse.ArgumentParser):
    """argparse with usage errors as one line (``genlab: error: ...``) instead of usage + exit."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise GenlabError(f"{message} (see `{self.prog} --help`)")


def build_parser(argv: Sequence[str] = ()) -> argparse.ArgumentParser:
    parser = _Parser(
        prog="genlab", description="Classic deep generative models: train, sample, reconstruct, evaluate.")
    from genlab import __version__

    parser.add_argument("--version", action="version", version=f"genlab {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub, list(argv))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = build_parser(argv).parse_args(argv)
        return int(args.func(args) or 0)
    except GenlabError as e:
        print(f"genlab: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("genlab: interrupted", file=sys.stderr)
        return 128 + signal.SIGINT
    except BrokenPipeError:
        return 1
    except OSError as e:  # a file the user named cannot be read or written (permissions, full disk, ...)
        where = f": {e.filename}" if getattr(e, "filename", None) else ""
        print(f"genlab: error: {e.strerror or e}{where}", file=sys.stderr)
        return 2
