"""Parts that several model families share (neutral ground, so no family imports a sibling's file).

- :func:`build_encoder_decoder`: the MLP or conv encoder / decoder pair a config's architecture
  fields ask for (VAE family, autoencoders);
- :class:`CodeStatistics`: running mean and variance of training codes, and samples from the
  Gaussian they define (models without a prior: autoencoders, the recurrent autoencoder);
- :func:`check_networks`, :func:`check_conv_shape` and ``Activation``: the checks of those
  architecture fields (VAE family, autoencoders, DCGAN-style GANs).
"""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

from genlab.config import check_range, check_sizes
from genlab.models.base import LatentModel
from genlab.nn import MLP, ConvDecoder, ConvEncoder, downsample_sizes
from genlab.nn.mlp import Activation as Activation  # re-exported: the configs' activation field type

MAX_EXTRA_CONVS = 16


def check_networks(cfg, alternative: str = "--architecture mlp") -> None:
    """Sizes of the encoder/decoder part shared by VAE and autoencoder configs (ValueError if wrong).

    ``alternative``: what to use instead when the images do not suit the conv architecture.
    """
    check_sizes("latent_dim", cfg.latent_dim)
    check_sizes("mlp_hidden", cfg.mlp_hidden)
    check_sizes("conv_widths", cfg.conv_widths, non_empty=cfg.architecture == "conv")
    check_sizes("conv_hidden", cfg.conv_hidden, minimum=0)
    check_range("extra_convs", cfg.extra_convs, 0, MAX_EXTRA_CONVS)
    if cfg.architecture == "conv":
        check_conv_shape(cfg.data_shape, "the conv architecture", alternative)


def check_conv_shape(data_shape, what: str, alternative: str) -> None:
    """The stride-2 networks of genlab.nn need square images whose side halves at least once
    (even and larger than 4); ValueError naming the way out otherwise."""
    if len(data_shape) != 3:
        raise ValueError(f"{what} takes images (C, H, W), got data_shape {tuple(data_shape)}")
    _, h, w = data_shape
    if h != w:
        raise ValueError(f"{what} takes square images, got {h}x{w}: pass --image-size N (or use {alternative})")
    if len(downsample_sizes(h, 1)) < 2:
        raise ValueError(f"{what} needs images whose side is even and larger than 4, got {h}x{w}: "
                         f"pass --image-size 8 or more (or use {alternative})")


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


class FittedCodeModel(LatentModel):
    """A latent model without a prior (the plain autoencoders): it samples by decoding draws from the
    Gaussian that its :class:`CodeStatistics` (``self.code_stats``, updated by the subclass while it
    trains) fitted to the training codes. Subclasses set ``code_stats`` and implement encode / decode."""

    code_stats: CodeStatistics

    @torch.no_grad()
    def sample(self, n: int, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Decode n codes from the Gaussian fitted to the training codes."""
        return self.decode(self.code_stats.sample(n))

    def noise_shape(self) -> tuple[int, ...]:
        return (self.config.latent_dim,)

    def sample_from_noise(self, noise: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Decode mean + std * noise, the Gaussian fitted to the training codes (the exported 'sample' part)."""
        stats = self.code_stats
        return self.decode(stats.mean + stats.var.clamp_min(0).sqrt() * noise)
