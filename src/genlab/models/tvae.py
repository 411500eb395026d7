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
from typing import ClassVar, Literal, cast

import torch
from torch import nn

from genlab.config import OptimizerConfig
from genlab.errors import DataError
from genlab.models.base import Batch, GenerativeModel, Losses, Phase
from genlab.models.tabular import Layout, activate, block_product, check_layout, segment_max
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


class _Reconstruction(torch.autograd.Function):
    """-log p(x | z) summed over the batch (up to constants) with its gradient written out.

    Forward: the Gaussian terms of the offsets, (x - tanh(raw))^2 / (2 sigma^2) + log sigma, and
    each one-hot block's cross-entropy, logsumexp(raw) - raw[target]. Backward, the analytic
    derivatives: d/draw = -(x - tanh(raw)) (1 - tanh(raw)^2) / sigma^2 on the offsets and
    softmax(raw) - x on the one-hot blocks, d/dsigma = -(x - tanh(raw))^2 / sigma^3 + 1 / sigma.
    The same values as autograd's, in a third of the tensor ops (a step of tvae on a small table is
    mostly per-op overhead)."""

    @staticmethod
    def forward(ctx, raw: torch.Tensor, x: torch.Tensor, sigma: torch.Tensor,
                layout: Layout) -> torch.Tensor:
        block_of, member, soft = layout.segments(raw.device)
        tanh = layout.tanh.to(raw.device)  # the offsets' positions (tanh is costly: only there)
        sd = sigma[tanh]
        t = torch.tanh(raw[:, tanh])
        d = x[:, tanh] - t
        inv = 1 / (2 * sd * sd)
        gaussian = (d * d * inv).sum() + torch.log(sd).sum() * raw.shape[0]
        if layout.n_blocks:
            top = segment_max(raw, layout)
            e = (raw - top[:, block_of]).exp()
            sums = block_product(e, member)
            target = x * soft
            ce = (sums[:, :layout.n_blocks].log() + top[:, :layout.n_blocks]).sum() - (raw * target).sum()
        else:
            e = sums = target = raw.new_zeros(())
            ce = raw.new_zeros(())
        ctx.layout = layout
        ctx.shape = raw.shape
        ctx.save_for_backward(t, d, inv, sd, e, sums, target)
        return gaussian + ce

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        t, d, inv, sd, e, sums, target = ctx.saved_tensors
        layout: Layout = ctx.layout
        _, member, soft = layout.segments(t.device)
        tanh = layout.tanh.to(t.device)
        if layout.n_blocks:
            g_raw = (e / block_product(sums, member.T) - target).masked_fill_(~soft, 0.0)
        else:
            g_raw = t.new_zeros(ctx.shape)
        g_raw[:, tanh] = -2 * d * inv * (1 - t * t)
        g_sigma = t.new_zeros(ctx.shape[1])
        g_sigma[tanh] = t.shape[0] / sd - (d * d).sum(0) / (sd * sd * sd)
        return g_raw * grad, None, g_sigma * grad, None


class _Code(torch.autograd.Function):
    """The reparameterized code z = mu + eps * exp(logvar / 2) and KL(N(mu, sigma^2) || N(0, I)) =
    -1/2 sum(1 + logvar - mu^2 - exp(logvar)), both with their gradients written out
    (d kl / d mu = mu, d kl / d logvar = (exp(logvar) - 1) / 2, dz / dlogvar = eps * std / 2)."""

    @staticmethod
    def forward(ctx, mu: torch.Tensor, logvar: torch.Tensor,
                eps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        std = torch.exp(0.5 * logvar)
        var = std * std
        kl = -0.5 * (1 + logvar - mu * mu - var).sum()
        ctx.save_for_backward(mu, std, var, eps)
        return mu + eps * std, kl

    @staticmethod
    def backward(ctx, g_z: torch.Tensor, g_kl: torch.Tensor):
        mu, std, var, eps = ctx.saved_tensors
        return g_z + g_kl * mu, 0.5 * (g_z * eps * std + g_kl * (var - 1)), None


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
    # noise + the offsets' output noise -> rows (one-hots by argmax), decoded by the synth transformer (runs/export.py)
    export_parts: ClassVar[tuple[str, ...]] = ("rows",)

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
        return cast(torch.Tensor, _Reconstruction.apply(raw.float(), x.float(), self.sigma.float(), self.layout))

    def losses(self, batch: Batch, phase: str = "model") -> Losses:
        x = batch.x.flatten(1)
        if x.shape[1] != self.config.data_dim:
            raise DataError(f"tvae expects rows of {self.config.data_dim} values, got {x.shape[1]}")
        mu, logvar = self.encode(x)
        mu, logvar = mu.float(), logvar.float()
        z, kl = _Code.apply(mu, logvar, torch.randn_like(mu))
        raw = self.decoder(z)
        rec = self.reconstruction(x, raw)
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

    def row_inputs(self) -> dict[str, int]:
        """The inputs of :meth:`rows_from_noise` and their widths (the 'rows' export part)."""
        return {"noise": self.config.embedding_dim, "offset_noise": len(self.layout.tanh)}

    def rows_from_noise(self, noise: torch.Tensor, offset_noise: torch.Tensor) -> torch.Tensor:
        """Rows (B, D) in the transformed layout from z (B, embedding_dim) and the offsets' N(0, 1) output
        noise (B, tanh values): :meth:`sample`'s path (the same draws in the same order) with the one-hots
        taken by argmax (``discrete_sampling='argmax'``)."""
        rows = activate(self.decoder(noise), self.layout, hard="argmax")
        t = self.layout.tanh.to(rows.device)
        rows[:, t] = (rows[:, t] + offset_noise * self.sigma[t]).clamp(-1, 1)
        return rows.float()


__all__ = ["TVAE", "TVAEConfig"]
