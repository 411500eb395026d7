"""Denoising: pass noisy images through an autoencoder; PSNR/SSIM before and after when clean
references are known."""
from __future__ import annotations

from typing import NamedTuple

import torch

from genlab.apps.inputs import batched
from genlab.metrics.recon import summarize
from genlab.models.base import LatentModel


class DenoiseResult(NamedTuple):
    """Denoised images (N, C, H, W) in [0, 1]; metrics {'mse', 'psnr', 'ssim'} before/after (or None)."""

    denoised: torch.Tensor
    before: dict[str, float] | None
    after: dict[str, float] | None


def denoise(model: LatentModel, noisy: torch.Tensor, clean: torch.Tensor | None = None,
            batch_size: int = 256) -> DenoiseResult:
    """Reconstruct ``noisy`` with ``model``; compare both with ``clean`` when given.

    Args:
        model: a trained autoencoder-family model (a denoising AE is the one trained for this).
        noisy: images (N, C, H, W) in [0, 1].
        clean: the clean references, same shape, or None.
        batch_size: images per forward pass.

    Returns:
        :class:`DenoiseResult`: ``before`` compares noisy with clean, ``after`` denoised with clean.
    """
    model.eval()
    denoised = batched(model.reconstruct, noisy, batch_size, model.device).clamp(0, 1)
    if clean is None:
        return DenoiseResult(denoised, None, None)
    return DenoiseResult(denoised, summarize(noisy, clean), summarize(denoised, clean))
