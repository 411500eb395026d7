"""Tiny tables shared by the table tests."""
from __future__ import annotations

import numpy as np
import pandas as pd

TINY_CTGAN = ["--epochs", "2", "--batch-size", "40", "--embedding-dim", "8", "--generator-dims", "16", "16",
              "--discriminator-dims", "16", "16", "--pac", "5"]
TINY_TVAE = {"embedding_dim": 8, "compress_dims": [16], "decompress_dims": [16]}


def mixed_frame(n: int = 120, seed: int = 0) -> pd.DataFrame:
    """Every column kind, with missing cells in a numeric and a categorical column."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "x": np.r_[rng.normal(-5, 0.5, n // 2), rng.normal(5, 0.5, n - n // 2)],
        "count": rng.integers(0, 40, n),
        "colour": rng.choice(["red", "green", "blue"], n, p=[0.6, 0.3, 0.1]),
        "flag": rng.choice([True, False], n),
        "day": pd.to_datetime("2021-03-01") + pd.to_timedelta(rng.integers(0, 400, n), unit="D"),
        "score": np.where(rng.random(n) < 0.2, np.nan, rng.normal(50, 10, n)),
        "grade": rng.choice(["a", "b", None], n),
    })
