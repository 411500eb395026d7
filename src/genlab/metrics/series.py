"""Metrics of generated time series: windows (N, T, F) of real and generated values.

* :func:`discriminative_score`: the held-out accuracy of a classifier (scikit-learn's MLP on
  the flattened windows) telling real from generated windows; 0.5 = indistinguishable, 1 =
  always told apart (TimeGAN, Yoon et al. 2019, reports |accuracy - 0.5|);
* :func:`predictive_score`: train a one-step-ahead predictor (ridge regression on the previous
  T - 1 steps) on generated windows, report its mean absolute error on real windows ("train on
  synthetic, test on real"), beside the same predictor trained on real windows;
* :func:`autocorrelation` / :func:`spectrum`: the mean autocorrelation per lag and the mean
  periodogram of a set of windows; :func:`save_comparison_plot` draws them for several sets;
* :func:`block_bootstrap`: the simple baseline generator, windows cut from a series rebuilt from
  random blocks of the training series (the moving-block bootstrap).
"""
from __future__ import annotations

import io
import warnings
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from genlab.io import atomic_write_bytes


def _flat(x: np.ndarray) -> np.ndarray:
    return np.asarray(x, dtype=np.float64).reshape(len(x), -1)


def discriminative_score(real: np.ndarray, fake: np.ndarray, seed: int = 0, test_fraction: float = 0.3) -> float:
    """Held-out accuracy of an MLP telling real from generated windows (equal numbers of each)."""
    from sklearn.neural_network import MLPClassifier  # deferred: scikit-learn is heavy

    n = min(len(real), len(fake))
    rng = np.random.default_rng(seed)
    x = np.concatenate([_flat(real)[rng.permutation(len(real))[:n]], _flat(fake)[rng.permutation(len(fake))[:n]]])
    y = np.concatenate([np.ones(n), np.zeros(n)])
    order = rng.permutation(2 * n)
    x, y = x[order], y[order]
    cut = max(1, int(round(2 * n * (1 - test_fraction))))
    clf = MLPClassifier(hidden_layer_sizes=(32,), solver="lbfgs", max_iter=300, random_state=seed)
    with warnings.catch_warnings():  # a classifier that has not converged still gives an accuracy
        warnings.simplefilter("ignore")
        clf.fit(x[:cut], y[:cut])
    return float((clf.predict(x[cut:]) == y[cut:]).mean())


def _one_step(train: np.ndarray, test: np.ndarray) -> float:
    from sklearn.linear_model import Ridge  # deferred: scikit-learn is heavy

    model = Ridge(alpha=1.0).fit(_flat(train[:, :-1]), _flat(train[:, -1:]))
    target = _flat(test[:, -1:])
    return float(np.abs(model.predict(_flat(test[:, :-1])).reshape(target.shape) - target).mean())


def predictive_score(real: np.ndarray, fake: np.ndarray) -> dict[str, float]:
    """One-step-ahead MAE on real windows of a predictor trained on generated windows (and, for
    reference, of one trained on the real windows themselves: half of them, tested on the other half)."""
    half = len(real) // 2
    return {"train_generated": _one_step(fake, real[half:]), "train_real": _one_step(real[:half], real[half:])}


def autocorrelation(x: np.ndarray, max_lag: int) -> np.ndarray:
    """Mean autocorrelation (max_lag + 1,) of windows (N, T, F), per window and feature, then averaged."""
    x = np.asarray(x, dtype=np.float64)
    x = x - x.mean(axis=1, keepdims=True)
    var = (x ** 2).sum(axis=1)  # (N, F)
    out = []
    for lag in range(max_lag + 1):
        cov = (x[:, :x.shape[1] - lag] * x[:, lag:]).sum(axis=1)
        out.append(np.nanmean(np.where(var > 0, cov / np.where(var > 0, var, 1), np.nan)))
    return np.asarray(out)


def spectrum(x: np.ndarray) -> np.ndarray:
    """Mean periodogram (T // 2 + 1,) of windows (N, T, F), each window centred."""
    x = np.asarray(x, dtype=np.float64)
    x = x - x.mean(axis=1, keepdims=True)
    return (np.abs(np.fft.rfft(x, axis=1)) ** 2).mean(axis=(0, 2)) / x.shape[1]


def block_bootstrap(series: np.ndarray, n: int, length: int, block: int, seed: int = 0) -> np.ndarray:
    """n windows (n, length, F) each made of random blocks of ``block`` consecutive steps of ``series`` (L, F)."""
    series = np.asarray(series, dtype=np.float64)
    series = series[:, None] if series.ndim == 1 else series
    block = max(1, min(block, len(series)))
    rng = np.random.default_rng(seed)
    out = np.empty((n, length, series.shape[1]))
    for i in range(n):
        parts, have = [], 0
        while have < length:
            s = int(rng.integers(0, len(series) - block + 1))
            parts.append(series[s:s + block])
            have += block
        out[i] = np.concatenate(parts)[:length]
    return out


def save_comparison_plot(sets: Mapping[str, np.ndarray], path: str | Path, max_lag: int, title: str = "") -> Path:
    """Autocorrelation (left) and spectrum (right) of several sets of windows, a line each."""
    import matplotlib  # deferred: plotting is optional

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(8, 3), dpi=90)
    for name, x in sets.items():
        left.plot(autocorrelation(x, max_lag), label=name, lw=1.2)
        right.semilogy(spectrum(x) + 1e-12, label=name, lw=1.2)
    left.set_xlabel("lag")
    left.set_title("autocorrelation", fontsize=9)
    right.set_xlabel("frequency bin")
    right.set_title("mean periodogram", fontsize=9)
    left.legend(fontsize=7)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())
    return Path(path)
