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
- loss: Wasserstein with the gradient penalty 10 (``LOSS_PAIRS['wasserstein']``; the penalty of
  :func:`~genlab.models.adversarial.gradient_penalty` on packed groups, with the critic's input
  gradient written out: :meth:`PacDiscriminator.input_gradient`);
- Adam 2e-4, betas (0.5, 0.9), weight decay 1e-6, batch 500, embedding 128, 256-256 networks.

Sampling draws the conditional vector from the data frequencies (not the log-frequencies) unless
a condition is given; a given condition also fixes the conditioned block of the output.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, cast

import torch
import torch.nn.functional as F
from torch import nn

from genlab.config import OptimizerConfig
from genlab.errors import ConfigError, DataError
from genlab.models.adversarial import LOSS_PAIRS
from genlab.models.base import Batch, GenerativeModel, Losses, Phase
from genlab.models.tabular import (
    Layout,
    activate,
    check_layout,
    conditional_slices,
    frequency,
    log_frequency,
    logsumexp,
)
from genlab.nn.gan_blocks import pack, whole_packs
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


class Dropout(nn.Module):
    """nn.Dropout's function (zero each value with probability p in training, scale the rest by
    1 / (1 - p)), its mask drawn by comparing uniforms: on CPU torch's bernoulli_ costs ~3x more."""

    def __init__(self, p: float):
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0:
            return x
        return x * ((torch.rand_like(x) >= self.p).to(x.dtype) / (1 - self.p))


class PacDiscriminator(nn.Module):
    """Packed rows (B / pac, pac * (D + C)) -> scores (B / pac,) float32."""

    def __init__(self, n_in: int, dims: tuple[int, ...], pac: int):
        super().__init__()
        layers, width = [], n_in * pac
        for d in dims:
            layers += [nn.Linear(width, d), nn.LeakyReLU(0.2), Dropout(0.5)]
            width = d
        self.body = nn.Sequential(*layers, nn.Linear(width, 1))

    def forward(self, packed: torch.Tensor) -> torch.Tensor:
        return self.body(packed).squeeze(1).float()

    def input_gradient(self, packed: torch.Tensor) -> torch.Tensor:
        """d score / d input of every pack (B / pac, pac * (D + C)), differentiable in the weights
        (what the gradient penalty needs), written out for this network: with m_i the slope of
        layer i's LeakyReLU at its input times its dropout mask (drawn as in a forward pass),
        grad = ((w_out * m_k) @ W_k * ... * m_1) @ W_1. autograd's double backward gives the same
        values, but also differentiates the forward pass, whose effect on the gradient (through
        the slopes and masks) is zero."""
        mods = list(self.body)
        hidden = [(mods[i], mods[i + 1], mods[i + 2]) for i in range(0, len(mods) - 1, 3)]
        masks = []
        with torch.no_grad():  # the forward pass: only the slopes and the masks
            h = packed
            for lin, act, drop in hidden:
                a = lin(h)
                m = torch.where(a > 0, 1.0, cast(nn.LeakyReLU, act).negative_slope).to(a.dtype)
                p = cast(Dropout, drop).p
                if drop.training and p > 0:
                    m = m * ((torch.rand_like(a) >= p).to(a.dtype) / (1 - p))
                masks.append(m)
                h = a * m
        out = cast(nn.Linear, mods[-1])
        g = out.weight * masks[-1] if masks else out.weight.expand(packed.shape[0], -1)
        for i in range(len(hidden) - 1, -1, -1):
            g = g @ cast(nn.Linear, hidden[i][0]).weight
            if i:
                g = g * masks[i - 1]
        return g


@register("ctgan", CTGANConfig, "CTGAN: conditional tabular GAN (mode-specific normalization, PacGAN, WGAN-GP)")
class CTGAN(GenerativeModel):
    """Conditional tabular GAN; see the module docstring."""

    config: CTGANConfig
    tabular = True
    sample_options = ("condition",)  # sample(n, condition=...): rows with a fixed discrete value
    # noise + conditional vector -> rows (one-hots by argmax), decoded by the synth transformer (runs/export.py)
    export_parts: ClassVar[tuple[str, ...]] = ("rows",)

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
        self._build_condition_tables()

    # --- conditions ------------------------------------------------------------------------------
    # Every discrete column at once (no loop over the columns): the conditional vector's positions
    # in the row (``_cond_index``), each column's span in it (``_member``, ``_cond_start``) and
    # the category probabilities padded to one matrix (a padded category has probability 0).
    def _build_condition_tables(self) -> None:
        slices = self.cond_slices
        self._cond_index = torch.tensor([i for s, e, _, _ in slices for i in range(s, e)], dtype=torch.long)
        self._cond_start = torch.tensor([c0 for _, _, c0, _ in slices], dtype=torch.long)
        self._member = torch.zeros(len(slices), self.config.cond_dim, dtype=torch.bool)
        for j, (_, _, c0, c1) in enumerate(slices):
            self._member[j, c0:c1] = True
        self._train_matrix = self._padded(self._train_probs)
        self._data_matrix = self._padded(self._data_probs)
        # weight of a real row with category k in column j: p_train(k) / p_data(k)
        self._ratio = (torch.cat(self._train_probs) / torch.cat(self._data_probs).clamp_min(1e-12)
                       if slices else torch.zeros(0))

    def _padded(self, probs: list[torch.Tensor]) -> torch.Tensor:
        width = max((len(p) for p in probs), default=1)
        out = torch.zeros(len(probs), width)
        for j, p in enumerate(probs):
            out[j, :len(p)] = p
        return out

    def sample_conditions(self, n: int, probs: list[torch.Tensor] | None = None,
                          generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """n conditions: a discrete column uniformly, then a category by ``probs`` (log-frequency).

        Returns (cond (n, C), column index (n,), category index (n,)).
        """
        matrix = (self._train_matrix if probs is None or probs is self._train_probs else
                  self._data_matrix if probs is self._data_probs else self._padded(probs))
        cond = torch.zeros(n, self.config.cond_dim)
        if not self.cond_slices:
            return cond, torch.zeros(n, dtype=torch.long), torch.zeros(n, dtype=torch.long)
        cols = torch.randint(len(self.cond_slices), (n,), generator=generator)
        cats = torch.multinomial(matrix[cols], 1, replacement=True, generator=generator).squeeze(1)
        cond[torch.arange(n), self._cond_start[cols] + cats] = 1.0
        return cond, cols, cats

    def _conditioned_real(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Real rows redrawn from the batch so their categories follow the training probabilities,
        with their own conditional vectors: (rows (B, D), cond (B, C)).

        Slot i picks column cols[i] uniformly, then a batch row with probability proportional to
        p_train(k) / p_data(k) of that row's category k in the column: inverse-CDF sampling on
        the per-column cumulative weights, laid end to end as [0, 1], [1, 2], ... so one
        ``searchsorted`` serves every column."""
        b, dev = x.shape[0], x.device
        if not self.cond_slices:
            return x, torch.zeros(b, self.config.cond_dim, device=dev, dtype=x.dtype)
        n_cols = len(self.cond_slices)
        member = self._member.to(dev)
        onehots = x[:, self._cond_index.to(dev)]                                   # (B, C)
        weight = (onehots.double() * self._ratio.to(dev, torch.float64)) @ member.T.double()  # (B, J)
        cdf = weight.cumsum(0)
        cdf = cdf / cdf[-1]
        ends = (cdf + torch.arange(n_cols, device=dev, dtype=torch.float64)).T.reshape(-1)  # (J * B,)
        cols = torch.randint(n_cols, (b,), device=dev)
        u = torch.rand(b, device=dev, dtype=torch.float64)
        rows = (torch.searchsorted(ends, cols + u, right=True) - cols * b).clamp_(0, b - 1)
        cond = onehots[rows] * member[cols].to(x.dtype)
        return x[rows], cond

    def _gradient_penalty(self, real: torch.Tensor, fake: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """WGAN-GP's E[(||grad d(x_hat)||_2 - 1)^2] on packs x_hat = eps real + (1 - eps) fake
        (:func:`~genlab.models.adversarial.gradient_penalty`, with the critic's input gradient
        written out: :meth:`PacDiscriminator.input_gradient`)."""
        eps = torch.rand(real.shape[0], 1, device=real.device).to(real.dtype)
        x_hat = eps * real.detach() + (1 - eps) * fake.detach()
        grad = self.discriminator.input_gradient(x_hat)
        norms = (grad.float().pow(2).sum(1) + 1e-12).sqrt()
        return (norms - 1.0).pow(2).mean(), norms.mean().detach()

    def _conditional_loss(self, raw: torch.Tensor, cols: torch.Tensor, cats: torch.Tensor) -> torch.Tensor:
        """Mean cross-entropy between the generator's logits for the conditioned column and its category."""
        if not self.cond_slices:
            return raw.new_zeros(()).float()
        dev = raw.device
        logits = raw[:, self._cond_index.to(dev)].float()                            # (B, C)
        norm = logsumexp(logits.masked_fill(~self._member.to(dev)[cols], float("-inf")))
        target = logits.gather(1, (self._cond_start.to(dev)[cols] + cats)[:, None]).squeeze(1)
        return (norm - target).sum() / raw.shape[0]

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
        return whole_packs(x, self.config.pac)

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
            d_both = self.discriminator(torch.cat([real_in, fake_in]))  # one pass (own dropout per pack)
            d_real, d_fake = d_both[:real_in.shape[0]], d_both[real_in.shape[0]:]
            loss = self.pair.discriminator(d_real, d_fake, 1.0)
            gp, norm = self._gradient_penalty(real_in, fake_in)
            return {"loss": loss + self.config.gradient_penalty * gp,
                    "wasserstein": (d_real.mean() - d_fake.mean()).detach(),
                    "gradient_penalty": gp.detach(), "grad_norm_interp": norm}
        if phase != "generator":
            raise ConfigError(f"ctgan has phases discriminator and generator, not '{phase}'")
        cond, cols, cats = self.sample_conditions(b)
        cond = cond.to(dev)
        raw = self.generator(torch.cat([self._noise(b, dev), cond], 1))
        fake = activate(raw, self.layout, self.config.tau)
        critic = list(self.discriminator.parameters())
        for p in critic:  # this phase trains the generator: no gradients for the critic's weights
            p.requires_grad_(False)
        try:
            d_fake = self.discriminator(pack(torch.cat([fake, cond.to(fake.dtype)], 1), pac))
        finally:
            for p in critic:
                p.requires_grad_(True)
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

    # --- export ----------------------------------------------------------------------------------
    def row_inputs(self) -> dict[str, int]:
        """The inputs of :meth:`rows_from_noise` and their widths (the 'rows' export part)."""
        return {"noise": self.config.embedding_dim, "condition": self.config.cond_dim}

    def rows_from_noise(self, noise: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        """Rows (B, D) in the transformed layout from noise (B, embedding_dim) and a conditional vector
        (B, cond_dim): :meth:`sample`'s path with the one-hots taken by argmax instead of drawn from the
        softmax, and no conditioned block overwritten."""
        return activate(self.generator(torch.cat([noise, condition], 1)), self.layout, hard="argmax").float()


__all__ = ["CTGAN", "CTGANConfig", "Dropout", "PacDiscriminator", "TableGenerator"]
