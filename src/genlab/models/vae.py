"""Variational autoencoder (Kingma & Welling 2014), with the beta weight of beta-VAE.

    encoder(x) -> (mu, log sigma^2)         q(z|x) = N(mu, sigma^2 I)
    z = mu + sigma * eps, eps ~ N(0, I)      the reparameterization trick
    decoder(z) -> p(x|z)                     Bernoulli (logits) or Gaussian (mean, fixed std)
    loss = E_q[-log p(x|z)] + beta * KL(q(z|x) || N(0, I))

All losses are per image, summed over pixels and latent dimensions, in nats. With beta = 1 the
loss is the negative ELBO, an upper bound on -log p(x); :meth:`VAE.log_likelihood` tightens it by
importance sampling (the IWAE bound, Burda et al. 2016).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from genlab.models.base import Batch, LatentModel, Losses
from genlab.nn import MLP, ConvDecoder, ConvEncoder
from genlab.registry import register

LOG_2PI = math.log(2 * math.pi)


@dataclass
class VAEConfig:
    """Configuration of :class:`VAE`.

    Attributes:
        data_shape: (C, H, W) of the images; filled from the dataset at training time.
        latent_dim: size of z.
        architecture: 'conv' (strided convolutions / transposed convolutions) or 'mlp'.
        mlp_hidden: hidden layer sizes of the MLP encoder (the decoder mirrors them).
        conv_widths: channels per stride-2 level of the conv encoder (mirrored by the decoder).
        conv_hidden: a fully connected layer between the conv features and the code (0 = none).
        extra_convs: stride-1 3x3 convolutions per level (capacity at the same resolution).
        activation: activation between layers.
        likelihood: 'bernoulli' (binary cross-entropy on logits; for binarized or [0,1] data) or
            'gaussian' (squared error scaled by a fixed std, with its normalizing constant).
        gaussian_std: the decoder's fixed standard deviation for the Gaussian likelihood.
        beta: weight of the KL term (1 = the ELBO; > 1 = beta-VAE).
    """

    data_shape: tuple[int, int, int] = (1, 28, 28)
    latent_dim: int = 32
    architecture: Literal["conv", "mlp"] = "conv"
    mlp_hidden: tuple[int, ...] = (512, 256)
    conv_widths: tuple[int, ...] = (32, 64)
    conv_hidden: int = 256
    extra_convs: int = 0
    activation: str = "relu"
    likelihood: Literal["bernoulli", "gaussian"] = "bernoulli"
    gaussian_std: float = 0.1
    beta: float = 1.0

    def __post_init__(self) -> None:
        if self.latent_dim < 1:
            raise ValueError(f"latent_dim must be positive, got {self.latent_dim}")
        if self.beta < 0:
            raise ValueError(f"beta must be non-negative, got {self.beta}")
        if self.gaussian_std <= 0:
            raise ValueError(f"gaussian_std must be positive, got {self.gaussian_std}")


def build_encoder_decoder(cfg, out_features: int, in_features: int) -> tuple[nn.Module, nn.Module]:
    """The encoder (image -> out_features) and decoder (in_features -> image) a config asks for.

    Shared by every model whose config has the fields of :class:`VAEConfig`'s architecture part.
    """
    c, h, w = cfg.data_shape
    if cfg.architecture == "mlp":
        encoder = MLP([c * h * w, *cfg.mlp_hidden, out_features], cfg.activation)
        decoder = nn.Sequential(MLP([in_features, *reversed(cfg.mlp_hidden), c * h * w], cfg.activation),
                                nn.Unflatten(1, (c, h, w)))
    else:
        encoder = ConvEncoder(cfg.data_shape, cfg.conv_widths, out_features, cfg.conv_hidden, cfg.activation,
                              extra_convs=cfg.extra_convs)
        decoder = ConvDecoder(in_features, cfg.data_shape, cfg.conv_widths, cfg.conv_hidden, cfg.activation,
                              extra_convs=cfg.extra_convs)
    return encoder, decoder


def gaussian_kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, sigma^2) || N(0, 1)) summed over the last dimension, (B, D) -> (B,).

    Kingma & Welling 2014, Appendix B: -KL = 1/2 * sum(1 + log sigma^2 - mu^2 - sigma^2).
    """
    return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(-1)


def gaussian_log_prob(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """log N(z; mu, diag(exp(logvar))) summed over the last dimension."""
    return -0.5 * (LOG_2PI + logvar + (z - mu).pow(2) / logvar.exp()).sum(-1)


@register("vae", VAEConfig, "variational autoencoder: reparameterization, ELBO = reconstruction + beta * KL")
class VAE(LatentModel):
    """Encoder -> (mu, log sigma^2) -> z -> decoder; see the module docstring."""

    config: VAEConfig

    def __init__(self, config: VAEConfig):
        super().__init__(config)
        self.encoder, self.decoder = build_encoder_decoder(config, 2 * config.latent_dim, config.latent_dim)

    # --- the model -----------------------------------------------------------------------------
    def encode_distribution(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """q(z|x): mean and log-variance, each (B, D), in float32."""
        mu, logvar = self.encoder(x).float().chunk(2, dim=-1)
        return mu, logvar.clamp(-30.0, 20.0)

    @staticmethod
    def reparameterize(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
        """z = mu + sigma * eps with eps ~ N(0, I): a sample that gradients flow through."""
        return mu + (0.5 * logvar).exp() * torch.randn_like(mu)

    def decoder_output(self, z: torch.Tensor) -> torch.Tensor:
        """Bernoulli logits or Gaussian pre-sigmoid means, (B, C, H, W) float32."""
        return self.decoder(z).float()

    def reconstruction_nll(self, out: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """-log p(x|z) per image, summed over pixels: (B, C, H, W) x2 -> (B,)."""
        if self.config.likelihood == "bernoulli":
            return F.binary_cross_entropy_with_logits(out, x, reduction="none").flatten(1).sum(-1)
        std = self.config.gaussian_std
        sq = (x - torch.sigmoid(out)).pow(2).flatten(1).sum(-1)
        return 0.5 * sq / std**2 + x[0].numel() * (math.log(std) + 0.5 * LOG_2PI)

    def losses(self, batch: Batch, phase: str = "model") -> Losses:
        x = batch.x
        mu, logvar = self.encode_distribution(x)  # (B, D) each
        z = self.reparameterize(mu, logvar)
        rec = self.reconstruction_nll(self.decoder_output(z), x)  # (B,)
        kl = gaussian_kl(mu, logvar)  # (B,)
        return {
            "loss": (rec + self.config.beta * kl).mean(),
            "nelbo": (rec + kl).mean().detach(),
            "rec": rec.mean().detach(),
            "kl": kl.mean().detach(),
        }

    # --- the LatentModel interface ------------------------------------------------------------
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The posterior mean of z, (B, D)."""
        return self.encode_distribution(x)[0]

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Mean image of p(x|z) in [0, 1], (B, C, H, W)."""
        return torch.sigmoid(self.decoder_output(z))

    @torch.no_grad()
    def sample(self, n: int, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Decode n draws from the prior N(0, I)."""
        return self.decode(torch.randn(n, self.config.latent_dim, device=self.device))

    # --- likelihood -----------------------------------------------------------------------------
    @torch.no_grad()
    def log_likelihood(self, x: torch.Tensor, k: int = 1000, chunk: int = 250) -> torch.Tensor:
        """Importance-sampled estimate of log p(x) per image, (B,), in nats.

        log p(x) ~= logsumexp_i [log p(x|z_i) + log p(z_i) - log q(z_i|x)] - log k, z_i ~ q(z|x).
        A lower bound for every k (the IWAE bound) that tightens to log p(x) as k grows.
        """
        mu, logvar = self.encode_distribution(x)  # (B, D)
        weights = []
        for start in range(0, k, chunk):
            m = min(chunk, k - start)
            z = mu + (0.5 * logvar).exp() * torch.randn(m, *mu.shape, device=mu.device)  # (m, B, D)
            out = self.decoder_output(z.flatten(0, 1))  # (m*B, C, H, W)
            log_px = -self.reconstruction_nll(out, x.repeat(m, 1, 1, 1)).view(m, -1)  # (m, B)
            log_pz = gaussian_log_prob(z, torch.zeros_like(z), torch.zeros_like(z))
            log_qz = gaussian_log_prob(z, mu, logvar)
            weights.append(log_px + log_pz - log_qz)
        return torch.logsumexp(torch.cat(weights), dim=0) - math.log(k)
