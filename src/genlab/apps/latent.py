"""Latent-space editing: attribute vectors and the decoded manifold of a 2-D code.

An attribute vector is the mean code of the images that have an attribute minus the mean code of
those that do not (with MNIST labels: "is a 7"). Adding it with a strength s to an image's code and
decoding moves the image toward the attribute: x' = decode(encode(x) + s * v).
"""
from __future__ import annotations

import torch

from genlab.apps.embed import embed
from genlab.models.base import LatentModel


def attribute_vector(model: LatentModel, x: torch.Tensor, has_attribute: torch.Tensor) -> torch.Tensor:
    """mean code of x[has_attribute] - mean code of x[~has_attribute], (D,).

    Args:
        model: an encoder model.
        x: images (N, C, H, W) in [0, 1].
        has_attribute: (N,) bool, with both values present.
    """
    if has_attribute.all() or not has_attribute.any():
        raise ValueError("an attribute vector needs images with and without the attribute")
    codes = embed(model, x)  # (N, D)
    mask = has_attribute.to(codes.device)
    return codes[mask].mean(0) - codes[~mask].mean(0)


@torch.no_grad()
def edit(model: LatentModel, x: torch.Tensor, vector: torch.Tensor, strengths: list[float]) -> torch.Tensor:
    """Decoded edits of each image: (N * len(strengths), C, H, W), one row of strengths per image."""
    model.eval()
    codes = model.encode(x.to(model.device))  # (N, D)
    s = torch.tensor(strengths, device=codes.device, dtype=codes.dtype)
    moved = codes[:, None, :] + s[None, :, None] * vector.to(codes.device)  # (N, S, D)
    return model.decode(moved.flatten(0, 1))


@torch.no_grad()
def manifold_grid(model: LatentModel, steps: int = 15, span: float = 2.5) -> torch.Tensor:
    """Decode a steps x steps grid of 2-D codes over [-span, span]^2: (steps^2, C, H, W), rows = 2nd dim."""
    values = torch.linspace(-span, span, steps, device=model.device)
    grid = torch.stack(torch.meshgrid(values.flip(0), values, indexing="ij"), -1).reshape(-1, 2)  # (y, x) -> (z2, z1)
    return model.decode(grid[:, [1, 0]])
