"""Embeddings: the codes of a dataset under an encoder, and a 2-D picture of them."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from genlab.apps.inputs import batched
from genlab.models.base import LatentModel


def embed(model: LatentModel, x: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    """Codes (N, D) of data x (images or sequences)."""
    model.eval()
    return batched(model.encode, x, batch_size, model.device).float()


def project_2d(codes: torch.Tensor) -> tuple[torch.Tensor, str]:
    """Codes (N, D) -> (N, 2) points and how they were made: the code itself when D <= 2, else the
    first two principal components (the top right singular vectors of the centred codes)."""
    if codes.shape[1] == 2:
        return codes, "code"
    if codes.shape[1] == 1:
        return torch.cat([codes, torch.zeros_like(codes)], 1), "code"
    centred = codes - codes.mean(0)
    _, s, vh = torch.linalg.svd(centred, full_matrices=False)
    share = (s[:2].pow(2).sum() / s.pow(2).sum().clamp_min(1e-12)).item()
    return centred @ vh[:2].T, f"PCA ({100 * share:.0f}% of variance)"


def plot_codes(codes: torch.Tensor, labels: torch.Tensor | None, path: str | Path, title: str = "") -> Path:
    """Scatter plot of the codes in 2-D, coloured by label; saved as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points, how = project_2d(codes)
    fig, ax = plt.subplots(figsize=(6, 5))
    c = None if labels is None else labels.numpy()
    sc = ax.scatter(points[:, 0].numpy(), points[:, 1].numpy(), c=c, cmap="tab10" if c is not None else None,
                    s=4, alpha=0.7)
    if c is not None:
        fig.colorbar(sc, ax=ax, ticks=np.unique(c)[:20], label="label")
    ax.set_xlabel(f"{how}: 1")
    ax.set_ylabel(f"{how}: 2")
    ax.set_title(title or f"{len(points)} codes")
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
