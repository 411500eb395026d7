"""TVAE: the table VAE of Xu et al. 2019 (sec. 4.3 and appendix), on the same row layout as ctgan.

Encoder: row (B, D) -> 128 -> 128 (ReLU) -> mu, log sigma^2 of a 128-dim code. Decoder: code ->
128 -> 128 (ReLU) -> logits (B, D), plus one learned std per value (kept in [0.01, 1]).
The reconstruction term per block: a Gaussian N(tanh(logit), sigma^2) on each scaled offset
(-log p up to a constant: (x - tanh(r))^2 / (2 sigma^2) + log sigma) and a softmax cross-entropy
on each one-hot block. loss = (loss_factor * reconstruction + KL(q(z|x) || N(0, I))) / B, with
loss_factor 2, Adam 2e-3 (the paper's 1e-3 converges too slowly on small tables:
see docs/benchmarks.md, issue 17), weight decay 1e-5, batch 500 (fewer on small tables, see
:class:`genlab.tables.SynthConfig`). Sampling decodes z ~ N(0, I), adds the
learned noise to the offsets and draws every one-hot block from its softmax (the reference code
takes the argmax, which collapses each column onto its most likely categories and modes; set
``discrete_sampling='argmax'`` for that).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import torch
from torch import nn

from genlab.config import OptimizerConfig
from genlab.errors import DataError
from genlab.models.base import Batch, GenerativeModel, Losses, Phase
from genlab.models.tabular import Layout, activate, check_layout, softmax_cross_entropy
from genlab.registry import register


@dataclass
class TVAEConfig:
    """Configuration of tvae (paper defaults).

    Attributes:
        spans: the table layout, [size, kind] per block (0 = tanh offset, 1 = softmax one-hot);
            filled from the table transformer by `genlab synth fit`.
        discrete: indices of the blocks that are categorical columns (for conditions).
        category_counts: training counts of each category of each discrete block.
        embedding_dim: size of the code z.
        compress_dims: hidden sizes of the encoder.
        decompress_dims: hidden sizes of the decoder.
        loss_factor: weight of the reconstruction term against the KL term.
        vae_lr, vae_weight_decay: Adam settings.
        discrete_sampling: how a sample's one-hot blocks are read from the decoder's logits:
            'sample' (drawn from the softmax) or 'argmax' (the most likely category, as the
            reference code does; it over-produces frequent categories and modes).
    """

    spans: list[list[int]] = field(default_factory=list)
    discrete: list[int] = field(default_factory=list)
    category_counts: list[list[float]] = field(default_factory=list)
    embedding_dim: int = 128
    compress_dims: tuple[int, ...] = (128, 128)
    decompress_dims: tuple[int, ...] = (128, 128)
    loss_factor: float = 2.0
    vae_lr: float = 2e-3
    vae_weight_decay: float = 1e-5
    discrete_sampling: Literal["argmax", "sample"] = "sample"

    def __post_init__(self) -> None:
        if self.embedding_dim < 1 or self.loss_factor <= 0:
            raise ValueError("embedding_dim must be at least 1 and loss_factor positive")

    @property
    def data_dim(self) -> int:
        return sum(int(s) for s, _ in self.spans)


def _mlp(n_in: int, dims: tuple[int, ...]) -> tuple[nn.Sequential, int]:
    layers, width = [], n_in
    for d in dims:
        layers += [nn.Linear(width, d), nn.ReLU()]
        width = d
    return nn.Sequential(*layers), width


@register("tvae", TVAEConfig, "TVAE: table VAE on mode-specific normalized rows (Gaussian / softmax outputs)")
class TVAE(GenerativeModel):
    """Table VAE; see the module docstring."""

    config: TVAEConfig
    tabular = True
    sample_options = ("condition",)  # sample(n, condition=...): rows with a fixed discrete value

    def __init__(self, config: TVAEConfig):
        super().__init__(config)
        check_layout(config.spans, config.discrete, config.category_counts, "tvae")
        d = config.data_dim
        self.encoder, width = _mlp(d, tuple(config.compress_dims))
        self.mu = nn.Linear(width, config.embedding_dim)
        self.logvar = nn.Linear(width, config.embedding_dim)
        body, width = _mlp(config.embedding_dim, tuple(config.decompress_dims))
        self.decoder = nn.Sequential(*body, nn.Linear(width, d))
        self.sigma = nn.Parameter(torch.full((d,), 0.1))
        self.layout = Layout(config.spans)

    def phases(self) -> list[Phase]:
        cfg = self.config
        return [Phase("model", (), 1, OptimizerConfig("adam", cfg.vae_lr, (0.9, 0.999), cfg.vae_weight_decay))]

    def after_step(self, phase: str) -> None:
        with torch.no_grad():
            self.sigma.clamp_(0.01, 1.0)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.encoder(x)
        return self.mu(h), self.logvar(h)

    def reconstruction(self, x: torch.Tensor, raw: torch.Tensor) -> torch.Tensor:
        """Summed -log p(x | z) over the batch, up to constants."""
        raw, x = raw.float(), x.float()
        _, _, soft = self.layout.segments(x.device)
        tanh = (~soft).float()  # the offsets' Gaussian terms over the whole row, 0 on the one-hot values
        gaussian = ((x - torch.tanh(raw)) ** 2 * (tanh / (2 * self.sigma ** 2))).sum() \
            + (tanh * torch.log(self.sigma)).sum() * x.shape[0]
        return gaussian + softmax_cross_entropy(raw, x, self.layout)

    def losses(self, batch: Batch, phase: str = "model") -> Losses:
        x = batch.x.flatten(1)
        if x.shape[1] != self.config.data_dim:
            raise DataError(f"tvae expects rows of {self.config.data_dim} values, got {x.shape[1]}")
        mu, logvar = self.encode(x)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        raw = self.decoder(z)
        rec = self.reconstruction(x, raw)
        kl = -0.5 * torch.sum(1 + logvar.float() - mu.float() ** 2 - logvar.float().exp())
        b = x.shape[0]
        return {"loss": (self.config.loss_factor * rec + kl) / b, "reconstruction": (rec / b).detach(),
                "kl": (kl / b).detach()}

    @torch.no_grad()
    def sample(self, n: int, labels: torch.Tensor | None = None,
               condition: dict[int, int] | None = None) -> torch.Tensor:
        """``n`` rows (n, D) in the transformed layout. ``condition`` is not used by the network (tvae
        is unconditional): the synthesizer keeps only rows that meet it (rejection sampling)."""
        z = torch.randn(n, self.config.embedding_dim, device=self.device)
        raw = self.decoder(z)
        rows = activate(raw, self.layout, hard=self.config.discrete_sampling)
        t = self.layout.tanh.to(rows.device)
        rows[:, t] = (rows[:, t] + torch.randn_like(rows[:, t]) * self.sigma[t]).clamp(-1, 1)
        return rows.float()


__all__ = ["TVAE", "TVAEConfig"]
