"""An exponential moving average of a network's weights (the GAN family's EMA generator, the
diffusion models' EMA U-Net).

Sampling from an average of the weights over the last updates gives smoother, often better
samples than the last iterate (Yazıcı et al. 2019 for GANs; Ho et al. 2020, appendix B, for DDPM).
"""
from __future__ import annotations

import torch
from torch import nn


def ema_decay_at(decay: float, updates: int) -> float:
    """The EMA decay after ``updates`` updates: min(decay, (1 + t) / (10 + t)).

    The warm-up keeps early averages from being dominated by the random initial weights.
    """
    return min(decay, (1.0 + updates) / (10.0 + updates))


@torch.no_grad()
def ema_update_(average: nn.Module, model: nn.Module, decay: float) -> None:
    """theta_avg <- decay * theta_avg + (1 - decay) * theta; buffers (batch-norm statistics) copied.

    One foreach call for all the parameters and one for the buffers (a few kernels on a GPU, not two
    per tensor); the same lerp as a loop of ``lerp_`` (a test checks the bits on the CPU).
    """
    averages: list[torch.Tensor] = list(average.parameters())
    params: list[torch.Tensor] = list(model.parameters())
    if len(averages) != len(params):
        raise ValueError("the average and the model have different parameters")
    if averages:
        torch._foreach_lerp_(averages, params, 1.0 - decay)
    avg_buffers, buffers = list(average.buffers()), list(model.buffers())
    if len(avg_buffers) != len(buffers):
        raise ValueError("the average and the model have different buffers")
    if avg_buffers:
        torch._foreach_copy_(avg_buffers, buffers)
