"""Parts that several model families share (neutral ground, so no family imports a sibling's file).

- :func:`build_encoder_decoder`: the MLP or conv encoder / decoder pair a config's architecture
  fields ask for (VAE family, autoencoders);
- :class:`CodeStatistics`: running mean and variance of training codes, and samples from the
  Gaussian they define (models without a prior: autoencoders, the recurrent autoencoder).
"""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

from genlab.nn import MLP, ConvDecoder, ConvEncoder


def build_encoder_decoder(cfg: Any, out_features: int, in_features: int,
                          extra_inputs: int = 0) -> tuple[nn.Module, nn.Module]:
    """The encoder (image -> out_features) and decoder (in_features -> image) a config asks for.

    Shared by every model whose config has the architecture fields of
    :class:`genlab.models.vae.VAEConfig` (data_shape, architecture, mlp_hidden, conv_widths,
    conv_hidden, extra_convs, activation).
    ``extra_inputs`` widens the encoder's input by that many features (MLP) or planes (conv), for
    conditioning information such as a one-hot label.
    """
    c, h, w = cfg.data_shape
    encoder: nn.Module
    decoder: nn.Module
    if cfg.architecture == "mlp":
        encoder = MLP([c * h * w + extra_inputs, *cfg.mlp_hidden, out_features], cfg.activation)
        decoder = nn.Sequential(MLP([in_features, *reversed(cfg.mlp_hidden), c * h * w], cfg.activation),
                                nn.Unflatten(1, (c, h, w)))
    else:
        encoder = ConvEncoder((c + extra_inputs, h, w), cfg.conv_widths, out_features, cfg.conv_hidden, cfg.activation,
                              extra_convs=cfg.extra_convs)
        decoder = ConvDecoder(in_features, cfg.data_shape, cfg.conv_widths, cfg.conv_hidden, cfg.activation,
                              extra_convs=cfg.extra_convs)
    return encoder, decoder


class CodeStatistics(nn.Module):
    """Running mean and variance of training codes, and draws from the Gaussian they define.

    The update weight is 1/(batches seen + 1) until it falls to ``min_momentum`` (an exact running
    average at first, then an exponential one that follows the codes as the encoder changes).
    """

    mean: torch.Tensor  # (D,) buffers
    var: torch.Tensor
    batches: torch.Tensor  # () long

    def __init__(self, dim: int, min_momentum: float = 0.01):
        super().__init__()
        self.min_momentum = min_momentum
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("var", torch.ones(dim))
        self.register_buffer("batches", torch.zeros((), dtype=torch.long))

    @torch.no_grad()
    def update(self, codes: torch.Tensor) -> None:
        """Fold a batch of codes (B, D) into the statistics."""
        codes = codes.detach().float()
        m = max(self.min_momentum, 1.0 / (int(self.batches) + 1))
        self.mean.mul_(1 - m).add_(m * codes.mean(0))
        self.var.mul_(1 - m).add_(m * codes.var(0, unbiased=False) if len(codes) > 1 else 0 * self.var)
        self.batches.add_(1)

    def sample(self, n: int) -> torch.Tensor:
        """n codes from N(mean, diag(var)), (n, D)."""
        return self.mean + self.var.clamp_min(0).sqrt() * torch.randn(n, self.mean.shape[0], device=self.mean.device)
