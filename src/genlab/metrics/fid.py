"""Fréchet distance and kernel inception distance between two sets of features.

Fréchet distance (Heusel et al. 2017, eq. 6; Dowson & Landau 1982) between Gaussians fitted to
the features:

    FD = ||mu_1 - mu_2||^2 + Tr(S_1 + S_2 - 2 (S_1 S_2)^{1/2})

The trace of the matrix square root is computed from a symmetric matrix: S_1 S_2 is similar to
A = S_1^{1/2} S_2 S_1^{1/2} (PSD), so Tr (S_1 S_2)^{1/2} = sum_i sqrt(lambda_i(A)), which needs
only symmetric eigendecompositions (no complex parts, no failed iterations).

KID (Binkowski et al. 2018, eq. 4 with the kernel of sec. 3): the unbiased estimate of the squared
MMD with the cubic polynomial kernel k(x, y) = (x.y / d + 1)^3, averaged over random subsets.
"""
from __future__ import annotations

import numpy as np
import torch

from genlab.errors import ConfigError


def feature_statistics(features: torch.Tensor | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean (D,) and unbiased covariance (D, D) of features (N, D), in float64."""
    f = np.asarray(features.detach().cpu() if isinstance(features, torch.Tensor) else features, dtype=np.float64)
    if f.ndim != 2 or f.shape[0] < 2:
        raise ConfigError(f"need at least 2 feature vectors (N, D) for a covariance, got shape {f.shape}")
    return f.mean(0), np.cov(f, rowvar=False)


def _psd_sqrt(m: np.ndarray) -> np.ndarray:
    """Square root of a symmetric PSD matrix via its eigendecomposition (negative round-off clipped)."""
    w, v = np.linalg.eigh((m + m.T) / 2)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2).

    Args:
        mu1, mu2: means (D,); sigma1, sigma2: covariances (D, D).

    Returns:
        ||mu1 - mu2||^2 + Tr(sigma1 + sigma2 - 2 (sigma1 sigma2)^{1/2}), >= 0.
    """
    mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
    sigma1, sigma2 = np.asarray(sigma1, np.float64), np.asarray(sigma2, np.float64)
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape:
        raise ConfigError(f"feature statistics of different sizes: {mu1.shape} vs {mu2.shape}")
    # 1. squared distance of the means
    mean_term = float(np.sum((mu1 - mu2) ** 2))
    # 2. Tr (S1 S2)^{1/2} = sum sqrt(eig(S1^{1/2} S2 S1^{1/2}))
    root1 = _psd_sqrt(sigma1)
    inner = root1 @ sigma2 @ root1
    trace_sqrt = float(np.sum(np.sqrt(np.clip(np.linalg.eigvalsh((inner + inner.T) / 2), 0, None))))
    # 3. eq. 6
    return max(0.0, mean_term + float(np.trace(sigma1) + np.trace(sigma2)) - 2.0 * trace_sqrt)


def frechet_distance_of_features(a: torch.Tensor, b: torch.Tensor) -> float:
    """FD between Gaussians fitted to two feature sets (N, D) and (M, D)."""
    return frechet_distance(*feature_statistics(a), *feature_statistics(b))


def _polynomial_mmd2(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased MMD^2 with k(a, b) = (a.b / d + 1)^3 for equal-size sets x, y (m, d)."""
    m, d = x.shape
    k_xx = (x @ x.T / d + 1) ** 3
    k_yy = (y @ y.T / d + 1) ** 3
    k_xy = (x @ y.T / d + 1) ** 3
    # diagonal terms k(x_i, x_i) are excluded from the within-set sums (the unbiased estimator)
    sum_xx = (k_xx.sum() - np.trace(k_xx)) / (m * (m - 1))
    sum_yy = (k_yy.sum() - np.trace(k_yy)) / (m * (m - 1))
    return float(sum_xx + sum_yy - 2 * k_xy.mean())


def kernel_inception_distance(real: torch.Tensor, fake: torch.Tensor, subset_size: int = 1000, subsets: int = 100,
                              seed: int = 0) -> tuple[float, float | None]:
    """KID: mean and standard deviation of the unbiased polynomial-kernel MMD^2 over random subsets.

    When the subset size equals both sample sizes every subset is the whole of both samples: the
    MMD^2 is computed once and the standard deviation is ``None`` (there is no spread to report;
    a subset smaller than the sample gives one).

    Args:
        real, fake: features (N, D) and (M, D).
        subset_size: items drawn (without replacement) from each set per subset.
        subsets: number of subsets.
        seed: the subsets' random draw.

    Raises:
        ConfigError: a subset larger than either feature set, or smaller than 2.
    """
    x = np.asarray(real.detach().cpu() if isinstance(real, torch.Tensor) else real, np.float64)
    y = np.asarray(fake.detach().cpu() if isinstance(fake, torch.Tensor) else fake, np.float64)
    if subset_size < 2 or subsets < 1:
        raise ConfigError(f"KID needs a subset size of at least 2 and at least 1 subset (got {subset_size}, {subsets})")
    if subset_size > min(len(x), len(y)):
        raise ConfigError(f"KID subset size {subset_size} is larger than the sample ({len(y)} generated, "
                          f"{len(x)} real); lower --kid-subset-size or raise --n")
    if subset_size == len(x) == len(y):  # every subset would be the whole of both samples
        return _polynomial_mmd2(x, y), None
    rng = np.random.default_rng(seed)
    values = [_polynomial_mmd2(x[rng.choice(len(x), subset_size, replace=False)],
                               y[rng.choice(len(y), subset_size, replace=False)]) for _ in range(subsets)]
    return float(np.mean(values)), float(np.std(values))
