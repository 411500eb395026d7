"""ProGAN: progressive growing of a GAN from 4x4 to the data's resolution (Karras et al. 2018).

Every block of both networks exists from the start; the *stage* decides which are used. Stage k
works at resolution 4 * 2^k. Stage 0 trains for ``stable_images`` images shown to the
discriminator; every later stage first fades its new blocks in over ``fade_images`` images, with
alpha going linearly from 0 to 1,

    G_k(z) = (1 - alpha) * upsample(toRGB_{k-1}(h_{k-1})) + alpha * toRGB_k(block_k(h_{k-1}))
    D_k(x) = D_{k-1}-trunk((1 - alpha) * fromRGB_{k-1}(avgpool(x)) + alpha * block_k(fromRGB_k(x)))

then trains ``stable_images`` more at alpha = 1; the last stage goes on for as long as training
does. Real images are shown at the stage's resolution, faded the same way (section A.1). The stage
is a function of the images shown, a buffer in the state dict: a checkpoint holds it and resuming
mid-fade is exact. Each change of stage logs a ``stage`` record to metrics.jsonl.

Networks (section 4): equalized learning rate, pixelwise feature normalization after every
generator convolution, a minibatch standard deviation channel before the discriminator's last
block, LeakyReLU 0.2, a linear generator output. Loss: WGAN-GP (lambda 10, via
:mod:`genlab.models.adversarial`) plus the drift term 0.001 * E[D(x)^2]; Adam 1e-3, betas (0, 0.99);
an EMA generator samples. ``loss='non_saturating'`` swaps the loss for the non-saturating logistic
pair with lazy R1 on reals (gamma / 2 * r1_every every r1_every rounds, as StyleGAN2; no gradient
penalty on interpolates, no drift term): one double backward every r1_every rounds instead of every
discriminator step. ``pac`` > 1 makes the discriminator judge packs of images (PacGAN, Lin et al.
2018: ``pac`` consecutive images stacked on the channel axis, one score each), the batch-level signal
against dropped modes that dcgan's batch-normalized discriminator has and ProGAN's lacks. Widths are
max(channel_min, min(channel_max, channel_base / resolution)) per resolution, small by default so 32 px
trains on a 2-core CPU.
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import nn

from genlab.config import OptimizerConfig, check_choices, check_range
from genlab.errors import ConfigError
from genlab.models.adversarial import LOSS_PAIRS, gradient_penalty, parameter_grad_norm
from genlab.models.base import Batch, GenerativeModel, Losses, Phase
from genlab.models.style_common import GrowingGANConfig, check_resolution, widths_for
from genlab.nn.ema import ema_decay_at, ema_update_
from genlab.nn.gan_blocks import pack, whole_packs
from genlab.nn.style import EqualizedConv2d, EqualizedLinear, MinibatchStd, PixelNorm, lazy_r1, lrelu
from genlab.registry import register


@dataclass
class ProGANConfig(GrowingGANConfig):
    """Configuration of ProGAN (defaults sized for a CPU at 32 px).

    Attributes:
        data_shape: (C, H, W) of the images; filled from the dataset (square, power-of-two side 8..256).
        latent_dim: size of z ~ N(0, I) (pixel-normalized before the first layer).
        channel_base: the width at resolution r is min(channel_max, channel_base / r).
        channel_max: the most channels of any block.
        channel_min: the fewest channels of any block (widths are then max(channel_min, ...)).
        fade_images: images shown to the discriminator while a new block fades in (alpha 0 -> 1).
        stable_images: images shown at alpha 1 before the next stage (the first stage: its length).
        phase_scaling: p in the phase lengths at resolution r: fade_images and stable_images times
            (R / r)^p, R the data's resolution. 0 (the paper's): every stage alike; 1: each halving of the
            resolution doubles its phases, so the cheap low resolutions get many more steps (on a CPU a
            4 px image costs a small fraction of a 64 px one: docs/benchmarks.md, issue 16).
        n_critic: discriminator updates per generator update (the paper: 1).
        gradient_penalty: WGAN-GP weight lambda.
        drift: weight of the drift term E[D(x)^2] that keeps critic scores near 0.
        loss: 'wgan-gp' (the paper's: WGAN-GP + drift) or 'non_saturating' (logistic loss + lazy R1;
            gradient_penalty and drift are then unused).
        r1_gamma: R1 weight gamma of the 'non_saturating' loss (gamma / 2 * E||grad D(x)||^2 on reals).
        r1_every: the 'non_saturating' loss applies R1 on every this many rounds, scaled by it.
        mbstd_group: group size of the minibatch standard deviation (counted in packs when pac > 1).
        pac: images the discriminator judges together (PacGAN, Lin et al. 2018): groups of ``pac``
            images, stacked on the channel axis, get one score, so a generator that drops modes is seen
            in every pack; 1 (the paper's) scores each image alone. Batches are cut to whole packs.
        ema_decay: decay of the EMA generator that samples (0 = sample from the trained one).
        gan_lr: Adam learning rate of both networks.
        gan_betas: Adam's (beta1, beta2).
    """

    fade_images: int = 20000
    stable_images: int = 20000
    n_critic: int = 1
    gradient_penalty: float = 10.0
    drift: float = 0.001
    loss: Literal["wgan-gp", "non_saturating"] = "wgan-gp"
    r1_gamma: float = 0.1
    r1_every: int = 16
    phase_scaling: float = 0.0
    pac: int = 1

    model_name = "progan"

    def __post_init__(self) -> None:
        super().__post_init__()
        check_range("fade_images", self.fade_images, 1)
        check_range("stable_images", self.stable_images, 1)
        check_range("n_critic", self.n_critic, 1, 1000)
        check_range("gradient_penalty", self.gradient_penalty, 0)
        check_range("drift", self.drift, 0)
        check_choices(self)  # ``loss`` (one of its Literal's values), on the config itself
        check_range("r1_gamma", self.r1_gamma, 0)
        check_range("r1_every", self.r1_every, 1)
        check_range("phase_scaling", self.phase_scaling, 0, 4)
        check_range("pac", self.pac, 1, 64)


def stage_at(images: int, stages: int, fade: int, stable: int, scaling: float = 0.0) -> tuple[int, float]:
    """(stage index, alpha) after ``images`` images shown: stage 0 for ``stable`` images, then
    each stage fades in over ``fade`` and stays ``stable``; the last stage never ends. With ``scaling``
    p, stage k's phases are ``fade`` and ``stable`` times 2^(p * (stages - 1 - k)) (rounded)."""
    if scaling:
        for k in range(stages):
            factor = 2.0 ** (scaling * (stages - 1 - k))
            fade_k, stable_k = (0 if k == 0 else round(fade * factor)), round(stable * factor)
            if k == stages - 1 or images < fade_k + stable_k:
                return k, (1.0 if k == 0 else min(1.0, images / fade_k))
            images -= fade_k + stable_k
    if images < stable or stages == 1:
        return 0, 1.0
    k, rest = divmod(images - stable, fade + stable)
    k += 1
    if k >= stages:
        return stages - 1, 1.0
    return k, min(1.0, rest / fade)


class ProGenerator(nn.Module):
    """(z (B, latent_dim), stage k, alpha) -> images (B, C, 4 * 2^k, 4 * 2^k), linear output in about [-1, 1]."""

    def __init__(self, latent_dim: int, channels: int, widths: list[int]):
        super().__init__()
        self.norm = PixelNorm()
        w0 = widths[0]
        self.w0 = w0
        self.dense = EqualizedLinear(latent_dim, w0 * 16, gain=math.sqrt(2) / 4)  # the 4x4 'transposed conv'
        self.blocks = nn.ModuleList([EqualizedConv2d(w0, w0, 3)])
        self.up_blocks = nn.ModuleList()
        for c_in, c_out in zip(widths[:-1], widths[1:], strict=True):
            self.up_blocks.append(nn.ModuleList([EqualizedConv2d(c_in, c_out, 3), EqualizedConv2d(c_out, c_out, 3)]))
        self.to_rgb = nn.ModuleList([EqualizedConv2d(c, channels, 1, gain=1.0) for c in widths])

    def features(self, z: torch.Tensor, k: int) -> list[torch.Tensor]:
        """Features after blocks 0..k."""
        h = self.norm(lrelu(self.dense(self.norm(z))).view(z.shape[0], self.w0, 4, 4))
        h = self.norm(lrelu(self.blocks[0](h)))
        out = [h]
        for block in self.up_blocks[:k]:
            h = F.interpolate(h, scale_factor=2, mode="nearest")
            for conv in block:  # type: ignore[attr-defined]  # a ModuleList of two convs
                h = self.norm(lrelu(conv(h)))
            out.append(h)
        return out

    def forward(self, z: torch.Tensor, k: int, alpha: float = 1.0) -> torch.Tensor:
        feats = self.features(z, k)
        new = self.to_rgb[k](feats[k])
        if k == 0 or alpha >= 1.0:
            return new
        old = F.interpolate(self.to_rgb[k - 1](feats[k - 1]), scale_factor=2, mode="nearest")
        return torch.lerp(old, new, alpha)


class ProDiscriminator(nn.Module):
    """(images (B, C, 4 * 2^k, ...), stage k, alpha) -> raw critic scores (B / pac,) in float32: with
    ``pac`` > 1 each score judges ``pac`` consecutive images, stacked on the channel axis (B a multiple)."""

    def __init__(self, channels: int, widths: list[int], group: int, pac: int = 1):
        super().__init__()
        self.pac = pac
        self.from_rgb = nn.ModuleList([EqualizedConv2d(channels * pac, c, 1) for c in widths])
        # down_blocks[k-1] takes resolution 4 * 2^k to 4 * 2^(k-1)
        self.down_blocks = nn.ModuleList([
            nn.ModuleList([EqualizedConv2d(c_out, c_out, 3), EqualizedConv2d(c_out, c_in, 3)])
            for c_in, c_out in zip(widths[:-1], widths[1:], strict=True)])
        w0 = widths[0]
        self.mbstd = MinibatchStd(group)
        self.conv = EqualizedConv2d(w0 + 1, w0, 3)
        self.dense = EqualizedLinear(w0 * 16, w0)
        self.out = EqualizedLinear(w0, 1, gain=1.0)

    def _down(self, h: torch.Tensor, k: int) -> torch.Tensor:
        for conv in self.down_blocks[k - 1]:  # type: ignore[attr-defined]  # a ModuleList of two convs
            h = lrelu(conv(h))
        return F.avg_pool2d(h, 2)

    def forward(self, x: torch.Tensor, k: int, alpha: float = 1.0) -> torch.Tensor:
        x = pack(x, self.pac)
        h = lrelu(self.from_rgb[k](x))
        if k > 0:
            h = self._down(h, k)
            if alpha < 1.0:
                old = lrelu(self.from_rgb[k - 1](F.avg_pool2d(x, 2)))
                h = torch.lerp(old, h, alpha)
            for j in range(k - 1, 0, -1):
                h = self._down(h, j)
        h = lrelu(self.conv(self.mbstd(h)))
        h = lrelu(self.dense(h.flatten(1)))
        return self.out(h).squeeze(1).float()


def real_at_stage(x: torch.Tensor, k: int, alpha: float) -> torch.Tensor:
    """Real images (B, C, R, R) shown at stage k: average-pooled to 4 * 2^k, faded like the generator."""
    side = 4 << k
    small = F.adaptive_avg_pool2d(x, side) if x.shape[-1] != side else x
    if k == 0 or alpha >= 1.0:
        return small
    coarse = F.interpolate(F.avg_pool2d(small, 2), scale_factor=2, mode="nearest")
    return torch.lerp(coarse, small, alpha)


@register("progan", ProGANConfig, "ProGAN: progressive growing 4x4 -> full size with fade-in, equalized lr, WGAN-GP")
class ProGAN(GenerativeModel):
    """Progressive GAN; see the module docstring."""

    config: ProGANConfig
    watch_modes = True
    sample_options = ("stage",)
    export_parts = ("sample",)  # noise -> images at the stage training reached, at the data's size
    images_seen: torch.Tensor  # buffers (registered in __init__)
    stage: torch.Tensor
    alpha: torch.Tensor
    g_updates: torch.Tensor
    grad_norms: torch.Tensor

    def __init__(self, config: ProGANConfig):
        super().__init__(config)
        channels, resolution = config.data_shape[0], check_resolution(config.data_shape, "progan")
        widths = widths_for(resolution, config.channel_base, config.channel_max, config.channel_min)
        self.num_stages = len(widths)
        self.pair = LOSS_PAIRS["wasserstein" if config.loss == "wgan-gp" else "non_saturating"]
        self.generator = ProGenerator(config.latent_dim, channels, widths)
        self.discriminator = ProDiscriminator(channels, widths, config.mbstd_group, config.pac)
        self.ema_generator = copy.deepcopy(self.generator).requires_grad_(False) if config.ema_decay > 0 else None
        # the training stage: images shown, and the (stage, alpha) they give (kept for readers of checkpoints)
        self.register_counter("images_seen")
        self.register_buffer("stage", torch.zeros((), dtype=torch.long))
        self.register_buffer("alpha", torch.ones(()))
        self.register_counter("g_updates")
        self.register_buffer("grad_norms", torch.zeros(2), persistent=False)
        self._batch_size = 0
        self._records: list[dict[str, Any]] = []  # this round's stage changes (training_records)
        self._round_done = True

    # --- stages ------------------------------------------------------------------------------
    def current_stage(self) -> tuple[int, float]:
        cfg = self.config
        return stage_at(self.counted("images_seen"), self.num_stages, cfg.fade_images, cfg.stable_images,
                        cfg.phase_scaling)

    def sampling_stage(self) -> tuple[str, dict[str, Any]]:
        """The current stage's grid name (``stage1_8px``) and the options that sample it."""
        k, _ = self.current_stage()
        return f"stage{k}_{4 << k}px", {"stage": k}

    def stage_resolution(self, k: int) -> int:
        return 4 << k

    def load_state_dict(self, state_dict: Any, strict: bool = True, assign: bool = False) -> Any:
        """Refuse a state whose stage does not follow from its images shown under this config (a
        checkpoint of another schedule or resolution), naming both."""
        if "images_seen" in state_dict and "stage" in state_dict:
            cfg = self.config
            k, alpha = stage_at(int(state_dict["images_seen"]), self.num_stages, cfg.fade_images, cfg.stable_images,
                                cfg.phase_scaling)
            saved_k, saved_alpha = int(state_dict["stage"]), float(state_dict["alpha"])
            if int(state_dict["images_seen"]) > 0 and (saved_k != k or abs(saved_alpha - alpha) > 1e-6):
                raise ValueError(f"the checkpoint is at progan stage {saved_k} ({4 << saved_k}px, alpha "
                                 f"{saved_alpha:.3f}) but this config puts it at stage {k} ({4 << k}px, alpha "
                                 f"{alpha:.3f}): the schedule (fade_images, stable_images, phase_scaling) or "
                                 f"resolution differ")
        return super().load_state_dict(state_dict, strict=strict, assign=assign)

    def training_records(self) -> list[dict[str, Any]]:
        """The stage changes of the last training round (a ``stage`` record each)."""
        return list(self._records)

    # --- training contract -------------------------------------------------------------------
    def phases(self) -> list[Phase]:
        cfg = self.config
        opt = OptimizerConfig("adam", cfg.gan_lr, (cfg.gan_betas[0], cfg.gan_betas[1]))
        return [Phase("discriminator", ("discriminator",), cfg.n_critic, opt),
                Phase("generator", ("generator",), 1, opt)]

    def discriminator_losses(self, x: torch.Tensor, z: torch.Tensor, penalty: bool = True) -> Losses:
        cfg = self.config
        k, alpha = self.current_stage()
        real = real_at_stage(x, k, alpha)
        with torch.no_grad():
            fake = self.generator(z, k, alpha)

        def critic(v: torch.Tensor) -> torch.Tensor:
            return self.discriminator(v, k, alpha)

        d_real, d_fake = critic(real), critic(fake.to(real.dtype))
        stage = {"resolution": torch.tensor(float(4 << k)), "alpha": torch.tensor(alpha)}
        if cfg.loss == "non_saturating":
            loss = self.pair.discriminator(d_real, d_fake, 1.0)
            logs = {"D(x)": torch.sigmoid(d_real).mean().detach(), "D(G(z))": torch.sigmoid(d_fake).mean().detach()}
            if penalty and self.r1_due():
                term, logs["r1"] = lazy_r1(critic, real, cfg.r1_gamma, cfg.r1_every)
                loss = loss + term
            return {"loss": loss, **logs, **stage}
        drift = d_real.pow(2).mean()
        loss = self.pair.discriminator(d_real, d_fake, 1.0) + cfg.drift * drift
        logs = {"critic_real": d_real.mean().detach(), "critic_fake": d_fake.mean().detach(),
                "wasserstein": (d_real.mean() - d_fake.mean()).detach(), "drift": drift.detach()}
        if penalty and cfg.gradient_penalty > 0:
            gp, norm = gradient_penalty(critic, real, fake)
            loss = loss + cfg.gradient_penalty * gp
            logs.update(gradient_penalty=gp.detach(), critic_input_grad_norm=norm)
        return {"loss": loss, **logs, **stage}

    def r1_due(self) -> bool:
        """Lazy R1 of the 'non_saturating' loss: on the discriminator steps of rounds 0, k, 2k, ...
        (k = r1_every; rounds counted by generator updates, so every critic step of such a round)."""
        return self.config.r1_gamma > 0 and self.counted("g_updates") % self.config.r1_every == 0

    def generator_losses(self, z: torch.Tensor) -> Losses:
        k, alpha = self.current_stage()
        d_fake = self.discriminator(self.generator(z, k, alpha), k, alpha)
        return {"loss": self.pair.generator(d_fake), "critic_fake": d_fake.mean().detach()}

    def losses(self, batch: Batch, phase: str = "discriminator") -> Losses:
        x = whole_packs(batch.x, self.config.pac) * 2 - 1
        z = torch.randn(x.shape[0], self.config.latent_dim, device=x.device)
        if phase == "discriminator":
            if self._round_done:  # a new round: the last round's records have been read
                self._records, self._round_done = [], False
            self._batch_size = x.shape[0]
            out = self.discriminator_losses(x, z)
        elif phase == "generator":
            out = self.generator_losses(z)
        else:
            raise ValueError(f"unknown phase '{phase}' (discriminator or generator)")
        out["grad_norm"] = self.grad_norms[0 if phase == "discriminator" else 1].detach().clone()
        return out

    def after_step(self, phase: str) -> None:
        """Count images and move the stage (discriminator), or update the EMA generator."""
        self.grad_norms[0 if phase == "discriminator" else 1] = parameter_grad_norm(
            self.get_submodule(phase).parameters())
        if phase == "discriminator":
            before = self.current_stage()
            self.count("images_seen", self._batch_size)
            k, alpha = self.current_stage()
            self.stage.fill_(k)
            self.alpha.fill_(alpha)
            first = self.counted("images_seen") == self._batch_size
            if first or k != before[0] or (before[1] < 1.0 <= alpha):
                self._records.append({"split": "stage", "stage": k, "resolution": 4 << k, "alpha": alpha,
                                      "images": self.counted("images_seen"),
                                      "phase": "fade" if alpha < 1.0 else "stable"})
        elif phase == "generator":
            self._round_done = True
            self.count("g_updates")
            if self.ema_generator is not None:
                decay = ema_decay_at(self.config.ema_decay, self.counted("g_updates"))
                ema_update_(self.ema_generator, self.generator, decay)

    @torch.no_grad()
    def evaluate(self, batch: Batch) -> dict[str, float]:
        x = whole_packs(batch.x, self.config.pac) * 2 - 1
        z = torch.randn(x.shape[0], self.config.latent_dim, device=x.device)
        logs = {f"discriminator/{k}": float(v) for k, v in self.discriminator_losses(x, z, penalty=False).items()}
        logs.update({f"generator/{k}": float(v) for k, v in self.generator_losses(z).items()})
        return logs

    # --- generation ----------------------------------------------------------------------------
    @property
    def sampling_generator(self) -> ProGenerator:
        return self.ema_generator if self.ema_generator is not None else self.generator

    @torch.no_grad()
    def sample(self, n: int, labels: torch.Tensor | None = None, stage: int | None = None) -> torch.Tensor:
        """n images in [0, 1]: at the current stage, upsampled to the data's size; or, with ``stage``,
        at that stage's own resolution 4 * 2^stage (stages up to the one training has reached)."""
        if labels is not None:
            raise ConfigError("model 'progan' is not conditional; labels need a conditional model")
        k, alpha = self.current_stage()
        if stage is not None:
            if not 0 <= stage <= k:
                raise ConfigError(f"--stage {stage} is not available: this progan has reached stage {k} "
                                  f"({4 << k}px); stages 0..{k} can be sampled")
            alpha = 1.0 if stage < k else alpha
            k = stage
        z = torch.randn(n, self.config.latent_dim, device=self.device)
        if stage is None:
            return self.sample_from_noise(z)
        return ((self.sampling_generator(z, k, alpha).float() + 1) / 2).clamp(0, 1)

    def noise_shape(self) -> tuple[int, ...]:
        return (self.config.latent_dim,)

    def sample_from_noise(self, noise: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Images in [0, 1] from z: the stage training reached (faded in by its alpha), at the data's size."""
        k, alpha = self.current_stage()
        images = self.sampling_generator(noise.to(self.device), k, alpha).float()
        if images.shape[-1] != self.config.data_shape[-1]:
            images = F.interpolate(images, size=self.config.data_shape[1:], mode="nearest")
        return ((images + 1) / 2).clamp(0, 1)
