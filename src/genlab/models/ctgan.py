"""CTGAN: a conditional tabular GAN (Xu et al. 2019, "Modeling Tabular Data using Conditional GAN").

Rows come transformed by mode-specific normalization and one-hot encoding (the table layout is in
the config, see :mod:`genlab.models.tabular`). The parts, following the paper:

- conditional vector: one discrete column j is picked uniformly, one of its categories k is set;
  the generator gets [z, cond] and is penalized by the cross-entropy between its output for
  column j and k, so it learns to honour the condition;
- training-by-sampling: k is drawn with probability proportional to log(1 + count of k), so rare
  categories are trained on, and the critic sees real rows that have category k in column j.
  Here the real rows come from the trainer's batch: each batch row is redrawn (with replacement)
  with weight p_log(k) / p_data(k) of its own category, which gives real rows whose categories
  follow the log-frequency in expectation, paired with exactly their own conditional vector;
- generator: residual layers (fc -> batch norm -> ReLU, concatenated to the input), then tanh for
  the scaled offsets and Gumbel-softmax (tau 0.2) for every one-hot block;
- critic: PacGAN (Lin et al. 2018) with pac 10: groups of ``pac`` rows (with their conditions)
  are scored together; two fc-LeakyReLU(0.2)-Dropout(0.5) layers;
- loss: Wasserstein with the gradient penalty 10 (``LOSS_PAIRS['wasserstein']`` and
  :func:`~genlab.models.adversarial.gradient_penalty`, applied to packed groups);
- Adam 2e-4, betas (0.5, 0.9), weight decay 1e-6, batch 500, embedding 128, 256-256 networks.

Sampling draws the conditional vector from the data frequencies (not the log-frequencies) unless
a condition is given; a given condition also fixes the conditioned block of the output.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import cast

import torch
import torch.nn.functional as F
from torch import nn

from genlab.config import OptimizerConfig
from genlab.errors import ConfigError, DataError
from genlab.models.adversarial import LOSS_PAIRS, gradient_penalty
from genlab.models.base import Batch, GenerativeModel, Losses, Phase
from genlab.models.tabular import Layout, activate, check_layout, conditional_slices, frequency, log_frequency
from genlab.registry import register


@dataclass
class CTGANConfig:
    """Configuration of ctgan (paper defaults).

    Attributes:
        spans: the table layout, [size, kind] per block (0 = tanh offset, 1 = softmax one-hot);
            filled from the table transformer by `genlab synth fit`.
        discrete: indices of the blocks that are categorical columns (the conditional vector).
        category_counts: training counts of each category of each discrete block.
        embedding_dim: size of the noise vector z.
        generator_dims: sizes of the generator's residual layers.
        discriminator_dims: sizes of the critic's hidden layers.
        pac: rows scored together by the critic (PacGAN); the batch size must be a multiple.
        gradient_penalty: weight of the WGAN-GP penalty.
        discriminator_steps: critic updates per generator update.
        tau: temperature of the Gumbel-softmax.
        log_frequency: draw training conditions by log-frequency (False: by frequency).
        gan_lr, gan_betas, gan_weight_decay: Adam settings of both networks.
    """

    spans: list[list[int]] = field(default_factory=list)
    discrete: list[int] = field(default_factory=list)
    category_counts: list[list[float]] = field(default_factory=list)
    embedding_dim: int = 128
    generator_dims: tuple[int, ...] = (256, 256)
    discriminator_dims: tuple[int, ...] = (256, 256)
    pac: int = 10
    gradient_penalty: float = 10.0
    discriminator_steps: int = 1
    tau: float = 0.2
    log_frequency: bool = True
    gan_lr: float = 2e-4
    gan_betas: tuple[float, float] = (0.5, 0.9)
    gan_weight_decay: float = 1e-6

    def __post_init__(self) -> None:
        if self.pac < 1 or self.embedding_dim < 1 or self.discriminator_steps < 1:
            raise ValueError("pac, embedding_dim and discriminator_steps must be at least 1")
        if len(self.category_counts) not in (0, len(self.discrete)):
            raise ValueError("category_counts needs one list per discrete block")

    @property
    def data_dim(self) -> int:
        return sum(int(s) for s, _ in self.spans)

    @property
    def cond_dim(self) -> int:
        return sum(int(self.spans[b][0]) for b in self.discrete)


class Residual(nn.Module):
    """x -> [relu(bn(fc(x))), x]: each layer sees everything before it (CTGAN's generator block)."""

    def __init__(self, n_in: int, n_out: int):
        super().__init__()
        self.fc, self.bn = nn.Linear(n_in, n_out), nn.BatchNorm1d(n_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([F.relu(self.bn(self.fc(x))), x], dim=1)


class TableGenerator(nn.Module):
    """[z, cond] (B, E + C) -> row logits (B, D)."""

    def __init__(self, n_in: int, dims: tuple[int, ...], data_dim: int):
        super().__init__()
        layers, width = [], n_in
        for d in dims:
            layers.append(Residual(width, d))
            width += d
        self.body = nn.Sequential(*layers)
        self.out = nn.Linear(width, data_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.body(x))


class PacDiscriminator(nn.Module):
    """Packed rows (B / pac, pac * (D + C)) -> scores (B / pac,) float32."""

    def __init__(self, n_in: int, dims: tuple[int, ...], pac: int):
        super().__init__()
        layers, width = [], n_in * pac
        for d in dims:
            layers += [nn.Linear(width, d), nn.LeakyReLU(0.2), nn.Dropout(0.5)]
            width = d
        self.body = nn.Sequential(*layers, nn.Linear(width, 1))

    def forward(self, packed: torch.Tensor) -> torch.Tensor:
        return self.body(packed).squeeze(1).float()


def pack(rows: torch.Tensor, pac: int) -> torch.Tensor:
    """(B, F) with B a multiple of pac -> (B / pac, pac * F): consecutive rows side by side."""
    return rows.reshape(rows.shape[0] // pac, pac * rows.shape[1])


@register("ctgan", CTGANConfig, "CTGAN: conditional tabular GAN (mode-specific normalization, PacGAN, WGAN-GP)")
class CTGAN(GenerativeModel):
    """Conditional tabular GAN; see the module docstring."""

    config: CTGANConfig
    tabular = True
    sample_options = ("condition",)  # sample(n, condition=...): rows with a fixed discrete value

    def __init__(self, config: CTGANConfig):
        super().__init__(config)
        check_layout(config.spans, config.discrete, config.category_counts, "ctgan")
        d, c = config.data_dim, config.cond_dim
        self.generator = TableGenerator(config.embedding_dim + c, tuple(config.generator_dims), d)
        self.discriminator = PacDiscriminator(d + c, tuple(config.discriminator_dims), config.pac)
        self.pair = LOSS_PAIRS["wasserstein"]
        self.cond_slices = conditional_slices(config.spans, config.discrete)
        self.layout = Layout(config.spans)
        counts = config.category_counts or [[1.0] * config.spans[b][0] for b in config.discrete]
        pick = log_frequency if config.log_frequency else frequency
        self._train_probs = [pick(c_) for c_ in counts]
        self._data_probs = [frequency(c_) for c_ in counts]

    # --- conditions ------------------------------------------------------------------------------
    def sample_conditions(self, n: int, probs: list[torch.Tensor] | None = None,
                          generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """n conditions: a discrete column uniformly, then a category by ``probs`` (log-frequency).

        Returns (cond (n, C), column index (n,), category index (n,)).
        """
        probs = self._train_probs if probs is None else probs
        cond = torch.zeros(n, self.config.cond_dim)
        if not self.cond_slices:
            return cond, torch.zeros(n, dtype=torch.long), torch.zeros(n, dtype=torch.long)
        cols = torch.randint(len(self.cond_slices), (n,), generator=generator)
        cats = torch.zeros(n, dtype=torch.long)
        for j, (_, _, c0, _) in enumerate(self.cond_slices):
            rows = (cols == j).nonzero().squeeze(1)
            if len(rows):
                cats[rows] = torch.multinomial(probs[j], len(rows), replacement=True, generator=generator)
                cond[rows, c0 + cats[rows]] = 1.0
        return cond, cols, cats

    def _conditioned_real(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Real rows redrawn from the batch so their categories follow the training probabilities,
        with their own conditional vectors: (rows (B, D), cond (B, C))."""
        b = x.shape[0]
        cond = torch.zeros(b, self.config.cond_dim, device=x.device, dtype=x.dtype)
        if not self.cond_slices:
            return x, cond
        cols = torch.randint(len(self.cond_slices), (b,), device=x.device)
        rows = torch.empty(b, dtype=torch.long, device=x.device)
        for j, (s, e, c0, _) in enumerate(self.cond_slices):
            slots = (cols == j).nonzero().squeeze(1)
            if not len(slots):
                continue
            cats = x[:, s:e].argmax(1)  # (B,)
            weight = (self._train_probs[j].to(x.device) / self._data_probs[j].to(x.device).clamp_min(1e-12))[cats]
            picked = torch.multinomial(weight, len(slots), replacement=True)
            rows[slots] = picked
            cond[slots, c0 + cats[picked]] = 1.0
        return x[rows], cond

    def _conditional_loss(self, raw: torch.Tensor, cols: torch.Tensor, cats: torch.Tensor) -> torch.Tensor:
        """Mean cross-entropy between the generator's logits for the conditioned column and its category."""
        if not self.cond_slices:
            return raw.new_zeros(()).float()
        total = raw.new_zeros(()).float()
        for j, (s, e, _, _) in enumerate(self.cond_slices):
            rows = (cols == j).nonzero().squeeze(1)
            if len(rows):
                total = total + F.cross_entropy(raw[rows, s:e].float(), cats[rows], reduction="sum")
        return total / raw.shape[0]

    # --- training contract -------------------------------------------------------------------
    def phases(self) -> list[Phase]:
        cfg = self.config
        betas = cast("tuple[float, float]", tuple(cfg.gan_betas))  # a list once read back; OptimizerConfig checks it
        opt = OptimizerConfig("adam", cfg.gan_lr, betas, cfg.gan_weight_decay)
        return [Phase("discriminator", ("discriminator",), cfg.discriminator_steps, opt),
                Phase("generator", ("generator",), 1, opt, fresh_batch=False)]  # it only needs the batch size

    def _rows(self, batch: Batch) -> torch.Tensor:
        x = batch.x.flatten(1)
        if x.shape[1] != self.config.data_dim:
            raise DataError(f"ctgan expects rows of {self.config.data_dim} values, got {x.shape[1]}")
        pac = self.config.pac
        b = x.shape[0] - x.shape[0] % pac
        if b == 0:  # a batch smaller than one pack (validation leftovers): repeat rows to fill it
            x = x.repeat(-(-pac // x.shape[0]), 1)
            b = pac
        return x[:b]

    def _noise(self, n: int, device: torch.device) -> torch.Tensor:
        return torch.randn(n, self.config.embedding_dim, device=device)

    def losses(self, batch: Batch, phase: str = "generator") -> Losses:
        x = self._rows(batch)
        b, pac, dev = x.shape[0], self.config.pac, x.device
        if phase == "discriminator":
            real, cond = self._conditioned_real(x)
            with torch.no_grad():
                fake = activate(self.generator(torch.cat([self._noise(b, dev), cond], 1)), self.layout,
                                self.config.tau)
            real_in = pack(torch.cat([real, cond], 1), pac)
            fake_in = pack(torch.cat([fake.to(real.dtype), cond], 1), pac)
            d_real, d_fake = self.discriminator(real_in), self.discriminator(fake_in)
            loss = self.pair.discriminator(d_real, d_fake, 1.0)
            gp, norm = gradient_penalty(self.discriminator, real_in, fake_in)
            return {"loss": loss + self.config.gradient_penalty * gp,
                    "wasserstein": (d_real.mean() - d_fake.mean()).detach(),
                    "gradient_penalty": gp.detach(), "grad_norm_interp": norm}
        if phase != "generator":
            raise ConfigError(f"ctgan has phases discriminator and generator, not '{phase}'")
        cond, cols, cats = self.sample_conditions(b)
        cond = cond.to(dev)
        raw = self.generator(torch.cat([self._noise(b, dev), cond], 1))
        fake = activate(raw, self.layout, self.config.tau)
        d_fake = self.discriminator(pack(torch.cat([fake, cond.to(fake.dtype)], 1), pac))
        adversarial = self.pair.generator(d_fake)
        cross_entropy = self._conditional_loss(raw, cols.to(dev), cats.to(dev))
        return {"loss": adversarial + cross_entropy, "adversarial": adversarial.detach(),
                "conditional_ce": cross_entropy.detach()}

    # --- generation ----------------------------------------------------------------------------
    @torch.no_grad()
    def sample(self, n: int, labels: torch.Tensor | None = None,
               condition: dict[int, int] | None = None) -> torch.Tensor:
        """``n`` rows (n, D) in the transformed layout (one-hots exact).

        ``condition`` maps a discrete block's position in ``config.discrete`` to a category index;
        without it the conditional vector is drawn from the data frequencies.
        """
        dev = self.device
        if condition:
            cond = torch.zeros(n, self.config.cond_dim)
            for j, k in condition.items():
                _, _, c0, c1 = self.cond_slices[j]
                if not 0 <= k < c1 - c0:
                    raise DataError(f"category index {k} out of range for discrete block {j}")
                cond[:, c0 + k] = 1.0
        else:
            cond, _, _ = self.sample_conditions(n, self._data_probs)
        cond = cond.to(dev)
        rows = activate(self.generator(torch.cat([self._noise(n, dev), cond], 1)), self.layout, hard="sample")
        for j, k in (condition or {}).items():  # the condition holds in every row
            s, e, _, _ = self.cond_slices[j]
            rows[:, s:e] = 0.0
            rows[:, s + k] = 1.0
        return rows.float()


__all__ = ["CTGAN", "CTGANConfig", "PacDiscriminator", "TableGenerator", "pack"]
