"""Denoising diffusion (Ho et al. 2020, "DDPM"), sampled by DDPM or DDIM (Song et al. 2021).

    training: x0 in [-1, 1], t ~ U{0..T-1}, eps ~ N(0, I)
              x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) eps                 (DDPM eq. 4)
              loss = || target - net(x_t, t) ||^2, target = eps, x0 or v     (L_simple, DDPM eq. 14)
    sampling: x_T ~ N(0, I), then a sampler's steps down to x0 (genlab.diffusion.samplers)

The noise schedule and the samplers live in :mod:`genlab.diffusion`; the network is the U-Net of
:mod:`genlab.nn.unet`. An exponential moving average of the weights (updated after every optimizer
step) is what samples, as in DDPM. ``cddpm`` adds class conditioning with classifier-free guidance
(Ho & Salimans 2022): labels are dropped with probability ``label_dropout`` in training, and
sampling mixes eps = (1 + w) eps(x, y) - w eps(x, no label) with w = ``guidance_scale``.

Default sampling is DDIM with 20 steps (deterministic, eta = 0): cheap enough for the sample grids
drawn during training and for quick looks; ``sample(n, steps=50)`` or ``sample(n, sampler="ddpm")``
(all T steps, 50x slower) trade time for quality (docs/benchmarks.md measures the trade).
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from genlab.config import check_sizes
from genlab.diffusion import SAMPLERS, DDIMSampler, DDPMSampler, NoiseSchedule, Sampler, sample_loop
from genlab.errors import ConfigError, DataError
from genlab.models.base import Batch, GenerativeModel, Losses, default_labels
from genlab.models.unet_common import UNetModelConfig
from genlab.nn.ema import ema_decay_at, ema_update_
from genlab.registry import register

# images per reverse-process pass of `sample`: memory stays bounded for any n (2000 samples in one pass held
# 3.1 GB), and the U-Net's activations (128 x 64 x 28 x 28 floats: 26 MB) stay under glibc's raised mmap
# threshold, so they are reused from the heap instead of being mapped and faulted in at every step
SAMPLE_CHUNK = 128


@dataclass
class DDPMConfig(UNetModelConfig):
    """Configuration of :class:`DDPM`.

    Attributes:
        data_shape: (C, H, W) of the images; filled from the dataset at training time.
        timesteps: T, the number of diffusion steps.
        beta_schedule: 'linear' (beta_start to beta_end, DDPM) or 'cosine' (Nichol & Dhariwal 2021).
        beta_start: first beta of the linear schedule.
        beta_end: last beta of the linear schedule.
        prediction: what the network predicts: 'eps' (the noise, DDPM), 'x0' (the clean image) or
            'v' (sqrt(abar) eps - sqrt(1 - abar) x0, Salimans & Ho 2022).
        base_width: U-Net channels at full resolution.
        width_mults: U-Net channels per level as multiples of base_width (one level per entry).
        blocks_per_level: residual blocks per U-Net level.
        attention_size: self-attention at U-Net levels whose feature maps are at most this many
            pixels on a side, and in the middle (0 = none).
        attention_heads: heads per self-attention layer.
        dropout: dropout in the residual blocks.
        norm_groups: GroupNorm groups.
        ema_decay: decay of the moving average of weights used for sampling (0 = sample with the
            trained weights).
        sampler: default sampler: 'ddim' (sample_steps steps, noise eta) or 'ddpm' (all T steps).
        sample_steps: DDIM steps S of the default sampler.
        eta: DDIM noise (0 = deterministic, 1 = DDPM's posterior variance).
        ddpm_variance: variance of the DDPM sampler: 'posterior' (beta tilde) or 'beta'.
        clip_denoised: clip each step's estimate of x0 to [-1, 1].
    """

    timesteps: int = 1000
    beta_schedule: Literal["linear", "cosine"] = "linear"
    beta_start: float = 1e-4
    beta_end: float = 0.02
    prediction: Literal["eps", "x0", "v"] = "eps"
    sampler: Literal["ddim", "ddpm"] = "ddim"
    sample_steps: int = 20
    eta: float = 0.0
    ddpm_variance: Literal["posterior", "beta"] = "posterior"
    clip_denoised: bool = True

    def __post_init__(self) -> None:
        super().__post_init__()
        checks = [
            (self.timesteps >= 1, f"timesteps must be at least 1, got {self.timesteps}"),
            (0 < self.beta_start <= self.beta_end < 1,
             f"need 0 < beta_start <= beta_end < 1, got {self.beta_start} and {self.beta_end}"),
            (1 <= self.sample_steps <= self.timesteps,
             f"sample_steps must be between 1 and timesteps = {self.timesteps}, got {self.sample_steps}"),
            (self.eta >= 0, f"eta must be non-negative, got {self.eta}"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)
        check_sizes("timesteps", self.timesteps, maximum=100_000)


@dataclass
class ConditionalDDPMConfig(DDPMConfig):
    """Configuration of the class-conditional :class:`DDPM` (``cddpm``); adds to :class:`DDPMConfig`.

    Attributes:
        num_classes: number of classes; filled from the dataset's labels at training time.
        label_dropout: probability of training on "no label", so one network learns both the
            conditional and the unconditional model (classifier-free guidance).
        guidance_scale: w in eps = (1 + w) eps(x, y) - w eps(x) (Ho & Salimans 2022, eq. 6);
            0 = plain conditional sampling, larger = more class-typical, less diverse samples.
    """

    num_classes: int = 10
    label_dropout: float = 0.1
    guidance_scale: float = 0.5

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0 <= self.label_dropout < 1:
            raise ValueError(f"label_dropout must be in [0, 1), got {self.label_dropout}")
        if self.guidance_scale < 0:
            raise ValueError(f"guidance_scale must be non-negative, got {self.guidance_scale}")
        check_sizes("num_classes", self.num_classes)


def make_schedule(cfg: DDPMConfig) -> NoiseSchedule:
    """The noise schedule a config describes."""
    extra = {"beta_start": cfg.beta_start, "beta_end": cfg.beta_end} if cfg.beta_schedule == "linear" else {}
    return NoiseSchedule.named(cfg.beta_schedule, cfg.timesteps, **extra)


def _conditional(cfg: DDPMConfig) -> ConditionalDDPMConfig:
    """The config of a conditional model (``num_classes`` > 0): only :class:`ConditionalDDPMConfig` has the
    label fields."""
    if not isinstance(cfg, ConditionalDDPMConfig):
        raise ConfigError(f"a conditional diffusion model needs a ConditionalDDPMConfig, got {type(cfg).__name__}")
    return cfg


@register("ddpm", DDPMConfig, "denoising diffusion: U-Net noise prediction, EMA weights, DDPM or DDIM sampling")
class DDPM(GenerativeModel):
    """A noise-prediction U-Net trained on the simple diffusion loss; see the module docstring."""

    config: DDPMConfig
    sample_options = ("sampler", "steps", "eta", "guidance")  # sample()'s keyword options
    has_trajectory = True  # denoising_trajectory()
    export_parts = ("denoiser",)  # one U-Net evaluation (x_t, t [, labels]) -> prediction; the loop stays outside
    export_refusals = {"sample": "sampling runs the denoiser once per step in a Python loop with a sampler; export "
                                 "the 'denoiser' part and run the loop around it (docs/export.md)"}
    updates: Tensor  # buffer (registered in __init__)

    def __init__(self, config: DDPMConfig):
        super().__init__(config)
        if self.requires_labels and self.num_classes < 1:
            raise ConfigError("a conditional diffusion model needs class labels, and this dataset has none")
        self.schedule = make_schedule(config)
        self.net = config.build_unet(self.num_classes)
        self.ema = copy.deepcopy(self.net).requires_grad_(False) if config.ema_decay > 0 else None
        self.register_counter("updates")  # EMA warm-up; in checkpoints

    # --- training --------------------------------------------------------------------------------
    def _labels(self, batch: Batch) -> Tensor | None:
        if not self.num_classes:
            return None
        if batch.y is None:
            raise DataError(f"model '{self.registry_name}' is conditional and needs labelled data")
        drop = torch.rand(batch.y.shape, device=batch.y.device) < _conditional(self.config).label_dropout
        return torch.where(drop, torch.full_like(batch.y, self.num_classes), batch.y)  # (B,)

    def losses(self, batch: Batch, phase: str = "model") -> Losses:
        x0 = batch.x * 2 - 1  # (B, C, H, W) in [-1, 1]
        t = torch.randint(0, self.config.timesteps, (x0.shape[0],), device=x0.device)  # uniform t
        noise = torch.randn_like(x0)
        xt = self.schedule.add_noise(x0, noise, t)  # DDPM eq. 4
        output = self.net(xt, t, self._labels(batch)).float()
        target = self.schedule.target(x0, noise, t, self.config.prediction)
        loss = F.mse_loss(output, target)  # L_simple (DDPM eq. 14), mean over pixels
        return {"loss": loss, "mse": loss.detach()}

    def after_step(self, phase: str) -> None:
        """Move the EMA weights toward the trained ones (with a warm-up for short runs)."""
        if self.ema is not None:
            ema_update_(self.ema, self.net, ema_decay_at(self.config.ema_decay, self.counted("updates")))
        self.count("updates")

    # --- sampling --------------------------------------------------------------------------------
    def denoiser_output(self, x_t: Tensor, t: Tensor, labels: Tensor | None = None) -> Tensor:
        """The sampling network's prediction (the config's ``prediction``: eps, x0 or v) for x_t in [-1, 1] at
        steps t (B,); labels for cddpm (``num_classes`` = no label, the unconditional pass of guidance)."""
        net = self.ema if self.ema is not None else self.net
        return net(x_t, t, labels).float()

    def make_sampler(self, sampler: str | None = None, steps: int | None = None, eta: float | None = None) -> Sampler:
        """The sampler to use: the config's defaults, overridden by the arguments given.

        Raises:
            ConfigError: an unknown sampler, a step count out of range, or eta with 'ddpm'.
        """
        name = sampler or self.config.sampler
        if name not in SAMPLERS:
            raise ConfigError(f"unknown sampler '{name}' (choose {', '.join(SAMPLERS)})")
        try:
            if name == "ddpm":
                if eta is not None:
                    raise ValueError("eta applies to the ddim sampler only (ddpm uses its own variance)")
                return DDPMSampler(self.schedule, self.config.ddpm_variance, steps)
            return DDIMSampler(self.schedule, self.config.sample_steps if steps is None else steps,
                               self.config.eta if eta is None else eta)
        except ValueError as e:
            raise ConfigError(str(e)) from None

    def _predict_fn(self, labels: Tensor | None, guidance: float):
        """(x_t, t) -> (x0, eps) with the sampling network, with classifier-free guidance if conditional."""
        net = self.ema if self.ema is not None else self.net
        prediction = self.config.prediction

        def predict(xt: Tensor, t: Tensor) -> tuple[Tensor, Tensor]:
            if labels is None or guidance == 0:
                out = net(xt, t, labels).float()
                return self.schedule.split_prediction(out, xt.float(), t, prediction)
            # classifier-free guidance (Ho & Salimans 2022, eq. 6), both passes in one batch
            null = torch.full_like(labels, self.num_classes)
            out = net(torch.cat([xt, xt]), torch.cat([t, t]), torch.cat([labels, null])).float()
            cond, uncond = out.chunk(2)
            eps_c = self.schedule.split_prediction(cond, xt.float(), t, prediction)[1]
            eps_u = self.schedule.split_prediction(uncond, xt.float(), t, prediction)[1]
            eps = (1 + guidance) * eps_c - guidance * eps_u
            return self.schedule.split_prediction(eps, xt.float(), t, "eps")

        return predict

    def _resolve_labels(self, n: int, labels: Tensor | None, guidance: float | None) -> tuple[Tensor | None, float]:
        if not self.num_classes:
            if guidance is not None:
                raise ConfigError(f"guidance needs a class-conditional model ('cddpm'); '{self.registry_name}' is not")
            return None, 0.0
        if labels is None:
            labels = default_labels(n, self.num_classes, self.device)
        scale = _conditional(self.config).guidance_scale if guidance is None else float(guidance)
        if scale < 0:
            raise ConfigError(f"guidance must be non-negative, got {scale}")
        return labels.to(self.device).long(), scale

    @torch.no_grad()
    def sample(self, n: int, labels: Tensor | None = None, sampler: str | None = None, steps: int | None = None,
               eta: float | None = None, guidance: float | None = None) -> Tensor:
        """``n`` images (N, C, H, W) in [0, 1].

        Args:
            n: number of images.
            labels: (N,) classes for a conditional model (default 0, 1, ..., K-1, 0, ...).
            sampler: 'ddim' or 'ddpm' (default: the config's).
            steps: DDIM steps S (default: the config's sample_steps).
            eta: DDIM noise (default: the config's eta).
            guidance: classifier-free guidance scale w (conditional models; default: the config's).
        """
        return self._run(n, labels, sampler, steps, eta, guidance)[0]

    @torch.no_grad()
    def denoising_trajectory(self, frames: int = 10, label: int | None = None, sampler: str | None = None,
                             steps: int | None = None, eta: float | None = None,
                             guidance: float | None = None) -> Tensor:
        """One sample's reverse process as two rows of ``frames`` images, (2 * frames, C, H, W) in [0, 1].

        Row 1 holds x_t at evenly spaced steps from pure noise to the final sample; row 2 holds the
        network's estimate of x0 at the same steps.
        """
        labels = None if label is None else torch.tensor([label], device=self.device)
        _, xs, x0s = self._run(1, labels, sampler, steps, eta, guidance, frames=max(2, frames))
        return torch.cat([xs, x0s])

    def _run(self, n: int, labels: Tensor | None, sampler: str | None, steps: int | None, eta: float | None,
             guidance: float | None, frames: int = 0) -> tuple[Tensor, Tensor, Tensor]:
        chosen = self.make_sampler(sampler, steps, eta)
        labels, scale = self._resolve_labels(n, labels, guidance)
        c, h, w = self.config.data_shape
        x = torch.randn(n, c, h, w, device=self.device)  # x_T, (N, C, H, W)
        total = chosen.num_steps
        keep = {round(i * (total - 1) / (frames - 1)) for i in range(frames - 1)} if frames else set()
        xs, x0s = [], []

        def record(i: int, t: int, xt: Tensor, x0: Tensor) -> None:
            if i in keep:
                xs.append(xt[0].float())
                x0s.append(x0[0].float())

        if frames:
            out = sample_loop(self._predict_fn(labels, scale), chosen, x, self.config.clip_denoised, record)
        else:  # SAMPLE_CHUNK images at a time: bounded memory, activations reused from the heap (genlab/cpu.py)
            parts = []
            for i in range(0, n, SAMPLE_CHUNK):
                part_labels = None if labels is None else labels[i:i + SAMPLE_CHUNK]
                parts.append(sample_loop(self._predict_fn(part_labels, scale), chosen, x[i:i + SAMPLE_CHUNK],
                                         self.config.clip_denoised))
            out = torch.cat(parts)
        to_image = lambda v: ((v + 1) / 2).clamp(0, 1)  # noqa: E731 - [-1, 1] -> [0, 1]
        if frames:
            xs.append(out[0].float())
            x0s.append(out[0].float())
            return to_image(out), to_image(torch.stack(xs)), to_image(torch.stack(x0s))
        return to_image(out), out.new_empty(0), out.new_empty(0)


@register("cddpm", ConditionalDDPMConfig,
          "class-conditional diffusion with classifier-free guidance (label dropout + guidance scale)")
class ConditionalDDPM(DDPM):
    """:class:`DDPM` conditioned on class labels; see the module docstring."""

    config: ConditionalDDPMConfig
    requires_labels = True  # sample grids get one row per class
