"""Sequence VAE: the recurrent autoencoder's encoder and decoder with one Gaussian latent per sequence.

    encoder RNN over x_1..x_T -> h_T -> (mu, log sigma^2) -> z ~ q(z | x)          (B, D)
    decoder: initial state from z, input z at every step -> x_hat_1..x_hat_L         (B, L, F)
    loss = sum_t ||x_t - x_hat_t||^2 / (2 obs_std^2) + beta * KL(q(z | x) || N(0, I))   per sequence

The networks are :class:`~genlab.models.recurrent.RecurrentAE`'s (packing by length, masks,
images read as rows); only the code layer doubles to give a mean and a log-variance. Samples
decode z ~ N(0, I); the decoder can be unrolled for any ``length`` (new series of a given length).

``recurrent-cvae`` conditions both on a class label (a one-hot appended to the encoder's last
state and to the code the decoder reads): for labelled sequences (an npz with 'y').
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from genlab.config import check_range
from genlab.errors import ConfigError
from genlab.models.base import Batch, Losses, default_labels
from genlab.models.recurrent import CELLS, RecurrentAE, RecurrentAEConfig
from genlab.registry import register

MAX_LENGTH = 100_000


@dataclass
class RecurrentVAEConfig(RecurrentAEConfig):
    """Configuration of :class:`RecurrentVAE` (``recurrent-vae``).

    Attributes:
        beta: weight of the KL term.
        obs_std: standard deviation of the Gaussian observation model of (standardized) sequence
            values; images use a Bernoulli likelihood instead.
    """

    beta: float = 1.0
    obs_std: float = 0.3

    def __post_init__(self) -> None:
        super().__post_init__()
        check_range("beta", self.beta, 0, 1e6)
        check_range("obs_std", self.obs_std, 1e-4, 1e3)


@register("recurrent-vae", RecurrentVAEConfig, "sequence VAE: recurrent encoder/decoder, one latent per sequence")
class RecurrentVAE(RecurrentAE):
    """A VAE over sequences on the recurrent autoencoder's parts; see the module docstring."""

    config: RecurrentVAEConfig
    sample_options = ("length",)

    def __init__(self, config: RecurrentVAEConfig):
        super().__init__(config)
        self.to_code = nn.Linear(config.hidden_size + self.label_dim, 2 * config.latent_dim)  # mean and log-variance
        del self.code_stats  # the prior N(0, I) replaces the fitted Gaussian

    @property
    def label_dim(self) -> int:
        return self.num_classes

    def _one_hot(self, labels: torch.Tensor | None, n: int, device: torch.device) -> torch.Tensor:
        if not self.label_dim:
            return torch.zeros(n, 0, device=device)
        if labels is None:
            labels = default_labels(n, self.label_dim, device)
        return F.one_hot(labels.long(), self.label_dim).float()

    def posterior(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(mu, logvar) of q(z | x), each (B, D)."""
        seq, valid = self.as_sequence(x)
        stats = self._code_layer(seq, valid, labels)
        mu, logvar = stats.chunk(2, dim=1)
        return mu, logvar.clamp(-12, 8)

    def _code_layer(self, seq: torch.Tensor, valid: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        """(B, 2D): mean and log-variance from the encoder's last state (and the label's one-hot)."""
        h = self.last_state(seq, valid)
        if self.label_dim:
            h = torch.cat([h, self._one_hot(labels, len(h), h.device)], 1)
        return self.to_code(h).float()

    def _decoder_input(self, z: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        return torch.cat([z, self._one_hot(labels, len(z), z.device)], 1) if self.label_dim else z

    def losses(self, batch: Batch, phase: str = "model") -> Losses:
        seq, valid = self.as_sequence(batch.x)
        labels = batch.y if self.label_dim else None
        mu, logvar = self._code_layer(seq, valid, labels).chunk(2, dim=1)
        logvar = logvar.clamp(-12, 8)
        z = mu + torch.randn_like(mu) * (0.5 * logvar).exp()
        out = self.decoder_output(self._decoder_input(z, labels))
        mask = valid[..., None].expand_as(out).float()
        if self.images:
            rec = (F.binary_cross_entropy_with_logits(out, seq.float(), reduction="none") * mask).sum((1, 2)).mean()
            mse = ((torch.sigmoid(out) - seq.float()).pow(2) * mask).sum() / mask.sum()
        else:
            sq = (out - seq.float()).pow(2) * mask
            rec = (sq.sum((1, 2)) / (2 * self.config.obs_std ** 2)).mean()
            mse = sq.sum() / mask.sum().clamp_min(1)
        kl = 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).sum(1).mean()
        loss = rec + self.config.beta * kl
        return {"loss": loss, "rec": rec.detach(), "kl": kl.detach(), "mse": mse.detach()}

    # --- the LatentModel interface ------------------------------------------------------------
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Posterior means (B, D)."""
        return self.posterior(x)[0]

    def decode(self, z: torch.Tensor, length: int | None = None) -> torch.Tensor:
        """Images in [0, 1], or standardized sequences (B, length or T, F)."""
        out = self.decoder_output(z, length)
        return self.from_sequence(torch.sigmoid(out) if self.images else out)

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        rec = self._images(self._codes(x, labels), labels)
        return rec if self.images else rec.masked_fill(torch.isnan(x), float("nan"))

    @torch.no_grad()
    def sample(self, n: int, labels: torch.Tensor | None = None, length: int | None = None) -> torch.Tensor:
        """Decode n draws of the prior N(0, I); ``length``: steps of each new series (sequence data only)."""
        if length is not None:
            if self.images:
                raise ConfigError(f"--length sets the length of new series; this {self.registry_name} model was "
                                  f"trained on images")
            if not 1 <= length <= MAX_LENGTH:
                raise ConfigError(f"--length must be in 1..{MAX_LENGTH}, got {length}")
        z = torch.randn(n, self.config.latent_dim, device=self.device)
        out = self.decoder_output(self._decoder_input(z, labels), length)
        return self.from_sequence(torch.sigmoid(out) if self.images else out)

    def sample_from_noise(self, noise: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """The prior draw is the noise: decode it at the training length (the exported 'sample' part)."""
        out = self.decoder_output(self._decoder_input(noise, labels))
        return self.from_sequence(torch.sigmoid(out) if self.images else out)


@dataclass
class RecurrentCVAEConfig(RecurrentVAEConfig):
    """Configuration of :class:`RecurrentCVAE` (``recurrent-cvae``).

    Attributes:
        num_classes: number of labels; filled from the dataset at training time.
    """

    num_classes: int = 2

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.num_classes < 1:
            raise ValueError(f"num_classes must be positive, got {self.num_classes}")


@register("recurrent-cvae", RecurrentCVAEConfig, "conditional sequence VAE: recurrent-vae given a class label")
class RecurrentCVAE(RecurrentVAE):
    """The sequence VAE with the label appended to the encoder's state and the decoder's code."""

    config: RecurrentCVAEConfig
    requires_labels = True

    def __init__(self, config: RecurrentCVAEConfig):
        super().__init__(config)
        cfg, k = config, config.num_classes
        drop = cfg.rnn_dropout if cfg.num_layers > 1 else 0.0
        states = 2 if cfg.cell == "lstm" else 1
        self.from_code = nn.Linear(cfg.latent_dim + k, states * cfg.num_layers * cfg.hidden_size)
        self.decoder = CELLS[cfg.cell](cfg.latent_dim + k, cfg.hidden_size, cfg.num_layers, batch_first=True,
                                       dropout=drop)

    def encode(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.posterior(x, labels)[0]

    def decode(self, z: torch.Tensor, labels: torch.Tensor | None = None,  # type: ignore[override]
               length: int | None = None) -> torch.Tensor:
        out = self.decoder_output(self._decoder_input(z, labels), length)
        return self.from_sequence(torch.sigmoid(out) if self.images else out)
