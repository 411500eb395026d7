"""scikit-learn's small handwritten digits set: 1797 8x8 images, bundled with scikit-learn."""
from __future__ import annotations

import numpy as np
import torch

from genlab.config import DataConfig
from genlab.data.base import ArrayDataset, Splits, split_off


def load_digits(cfg: DataConfig, path: str | None = None) -> Splits:
    """Load the digits as uint8 (N, 1, 8, 8) in 0..255 with labels 0..9, split by ``split_off``.

    Args:
        cfg: data config; ``validation_fraction`` and ``test_fraction`` set the split.
        path: unused (digits takes no path).

    Returns:
        The train/validation/test splits (deterministic).
    """
    from sklearn.datasets import load_digits as sklearn_digits  # imported lazily: sklearn is slow to import

    bunch = sklearn_digits()
    x = np.rint(bunch.images * (255.0 / 16.0)).astype(np.uint8)  # (1797, 8, 8), 0..16 -> 0..255
    ds = ArrayDataset(torch.from_numpy(x).unsqueeze(1), torch.from_numpy(bunch.target.astype(np.int64)),
                      cfg.dataset, [str(d) for d in range(10)])
    return split_off(ds, (cfg.validation_fraction, cfg.test_fraction))
