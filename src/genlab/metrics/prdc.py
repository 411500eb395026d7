"""Manifold-based precision / recall and density / coverage on feature vectors.

Improved precision and recall (Kynkäänniemi et al. 2019, eqs. 1-3): the manifold of a set is the
union of balls around its points, each with the radius of the distance to its k-th nearest
neighbour in the same set.

    precision = share of generated points inside the real manifold
    recall    = share of real points inside the generated manifold

Density and coverage (Naeem et al. 2020, eqs. 3-4) use the real balls only, which makes them
robust to outliers among the real points:

    density  = 1 / (k M) * sum_j sum_i 1[Y_j in B(X_i, NND_k(X_i))]
    coverage = 1 / N * sum_i 1[exists j: Y_j in B(X_i, NND_k(X_i))]

with real points X_i (N of them), generated points Y_j (M), NND_k the k-NN distance.
"""
from __future__ import annotations

import torch

from genlab.errors import ConfigError


def _pairwise(a: torch.Tensor, b: torch.Tensor, chunk: int = 2048) -> torch.Tensor:
    """Euclidean distances (N, M) in float32, computed in row chunks (float64 accumulation)."""
    return torch.cat([torch.cdist(a[i:i + chunk].double(), b.double()).float() for i in range(0, len(a), chunk)])


def knn_radii(x: torch.Tensor, k: int) -> torch.Tensor:
    """Distance of each point to its k-th nearest other point of the same set, (N, D) -> (N,)."""
    if k >= len(x):
        raise ConfigError(f"k = {k} nearest neighbours need more than {k} points, got {len(x)}")
    radii = []
    for i in range(0, len(x), 2048):
        d = torch.cdist(x[i:i + 2048].double(), x.double())  # (c, N); column of the point itself is 0
        radii.append(d.kthvalue(k + 1, dim=1).values.float())  # +1 skips the point itself
    return torch.cat(radii)


def _inside_balls(points: torch.Tensor, centres: torch.Tensor, radii: torch.Tensor) -> torch.Tensor:
    """Which ``points`` lie in which centre's ball: bool (P, C), entry [p, c] = |points_p - centres_c| <= radii_c.

    Callers reduce it: ``.any(1)`` is "point p is in some ball", ``.any(0)`` "ball c holds a point",
    ``.sum()`` the number of (point, ball) pairs.
    """
    dist = _pairwise(points, centres)  # (P, C)
    return dist <= radii[None, :]


def precision_recall(real: torch.Tensor, fake: torch.Tensor, k: int = 3) -> tuple[float, float]:
    """Improved precision and recall (Kynkäänniemi et al. 2019) with k-NN balls.

    Args:
        real, fake: features (N, D) and (M, D).
        k: neighbourhood size (the paper's default 3).
    """
    real, fake = real.float(), fake.float()
    inside_real = _inside_balls(fake, real, knn_radii(real, k))  # (M, N): fake j in real ball i
    inside_fake = _inside_balls(real, fake, knn_radii(fake, k))  # (N, M): real i in fake ball j
    return float(inside_real.any(1).float().mean()), float(inside_fake.any(1).float().mean())


def density_coverage(real: torch.Tensor, fake: torch.Tensor, k: int = 5) -> tuple[float, float]:
    """Density and coverage (Naeem et al. 2020) with k-NN balls around the real points.

    Args:
        real, fake: features (N, D) and (M, D).
        k: neighbourhood size (the paper's default 5).
    """
    real, fake = real.float(), fake.float()
    inside = _inside_balls(fake, real, knn_radii(real, k))  # (M, N)
    density = float(inside.sum()) / (k * len(fake))
    coverage = float(inside.any(0).float().mean())
    return density, coverage
