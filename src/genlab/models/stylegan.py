"""StyleGAN2-style GAN (Karras et al. 2019, 2020), sized for a CPU.

Generator
    mapping   z ~ N(0, I) -> pixel norm -> ``mapping_layers`` equalized linear layers (learning-rate
              multiplier 0.01, LeakyReLU) -> w. A running average of w (``w_avg``, beta 0.995) is
              tracked during training for the truncation trick.
    synthesis a learned constant 4x4 input; per resolution two 3x3 modulated convolutions with weight
              demodulation (the first upsamples, bilinear), each followed by per-pixel noise with a
              learned strength, a bias and LeakyReLU; a 1x1 modulated (not demodulated) toRGB per
              resolution whose outputs are upsampled and summed ('skip' output, StyleGAN2 fig. 7b).
              Every layer takes its own w: ``num_ws`` = 2 per resolution.
Discriminator
    residual blocks (two 3x3 convs + average-pool, a 1x1 skip, summed / sqrt 2) from the full
    resolution down to 4x4, then a minibatch std channel, a 3x3 conv and two dense layers.
Training
    non-saturating logistic loss (:data:`genlab.models.adversarial.LOSS_PAIRS`), lazy R1 on reals
    every ``r1_every`` discriminator steps with weight gamma / 2 * r1_every; optional path-length
    regularization every ``pl_every`` generator steps (weight * pl_every); style mixing: with
    probability ``style_mixing`` two w's split at a random layer; Adam (2e-3, betas (0, 0.99)), with
    StyleGAN2's correction of lr and betas for lazy regularization; an EMA generator samples.
Sampling
    ``sample(n, truncation=psi, noise='random'|'fixed')``: w = w_avg + psi (w - w_avg);
    ``mapping(z)``, ``synthesize(w)``, ``style_mix(rows, cols)``, ``interpolate_w(...)``.
    (Simplifications for a CPU: no blur filters around resampling, bilinear upsampling.)
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from genlab.config import OptimizerConfig, check_range, check_sizes
from genlab.errors import ConfigError
from genlab.models.adversarial import LOSS_PAIRS, parameter_grad_norm
from genlab.models.base import Batch, GenerativeModel, Losses, Phase, interpolate_codes
from genlab.models.style_common import GrowingGANConfig, check_resolution, widths_for
from genlab.nn.ema import ema_decay_at, ema_update_
from genlab.nn.style import (
    EqualizedConv2d,
    EqualizedLinear,
    MinibatchStd,
    ModulatedConv2d,
    NoiseInjection,
    PixelNorm,
    lazy_r1,
    lrelu,
    path_length_penalty,
)
from genlab.registry import register

NoiseMode = Literal["random", "fixed", "none"]
NOISE_MODES = ("random", "fixed", "none")

# the classic style-mixing grid: which layers (by resolution) take the row source's styles
MIX_LEVELS = ("coarse", "middle", "fine")


@dataclass
class StyleGANConfig(GrowingGANConfig):
    """Configuration of the StyleGAN2-style GAN (defaults sized for a 2-core CPU at 32 px).

    Attributes:
        data_shape: (C, H, W) of the images; filled from the dataset (square, power-of-two side 8..256).
        latent_dim: size of z ~ N(0, I).
        w_dim: size of the intermediate latent w (the styles).
        mapping_layers: layers of the mapping network z -> w (8 in the paper).
        mapping_lr_mul: learning-rate multiplier of the mapping network.
        channel_base: the width at resolution r is min(channel_max, channel_base / r), both networks.
        channel_max: the most channels of any block.
        channel_min: the fewest channels of any block (widths are then max(channel_min, ...)).
        style_mixing: probability that a training batch mixes two w's at a random layer.
        r1_gamma: R1 weight gamma (the penalty is gamma / 2 * E||grad D(x)||^2 on reals).
        r1_every: lazy regularization: R1 every this many discriminator steps, scaled by it.
        pl_weight: path-length regularization weight (0 = off; 2 in the paper).
        pl_every: path-length regularization every this many generator steps, scaled by it.
        pl_decay: decay of the running mean path length.
        w_avg_beta: the tracked w average moves by (1 - beta) toward each batch's mean w.
        mbstd_group: group size of the minibatch standard deviation.
        ema_decay: decay of the EMA generator that samples (0 = sample from the trained one).
        gan_lr: Adam learning rate of both networks.
        gan_betas: Adam's (beta1, beta2).
    """

    w_dim: int = 128
    mapping_layers: int = 8
    mapping_lr_mul: float = 0.01
    style_mixing: float = 0.9
    r1_gamma: float = 1.0
    r1_every: int = 16
    pl_weight: float = 0.0
    pl_every: int = 4
    pl_decay: float = 0.01
    w_avg_beta: float = 0.995
    gan_lr: float = 2e-3

    model_name = "stylegan"

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("w_dim", "mapping_layers", "r1_every", "pl_every"):
            check_sizes(name, getattr(self, name))
        check_range("mapping_lr_mul", self.mapping_lr_mul, 1e-6, 1.0)
        check_range("style_mixing", self.style_mixing, 0.0, 1.0)
        check_range("r1_gamma", self.r1_gamma, 0)
        check_range("pl_weight", self.pl_weight, 0)
        check_range("pl_decay", self.pl_decay, 0.0, 1.0)
        check_range("w_avg_beta", self.w_avg_beta, 0.0, 1.0)


class MappingNetwork(nn.Module):
    """z (B, latent_dim) -> w (B, w_dim); keeps ``w_avg``, the running mean of w (a buffer)."""

    w_avg: torch.Tensor

    def __init__(self, latent_dim: int, w_dim: int, layers: int, lr_mul: float):
        super().__init__()
        dims = [latent_dim] + [w_dim] * layers
        self.norm = PixelNorm()
        self.layers = nn.ModuleList([EqualizedLinear(a, b, lr_mul=lr_mul) for a, b in zip(dims[:-1], dims[1:],
                                                                                           strict=True)])
        self.register_buffer("w_avg", torch.zeros(w_dim))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = self.norm(z.unsqueeze(-1).unsqueeze(-1)).flatten(1)  # pixel norm over the features
        for layer in self.layers:
            x = lrelu(layer(x))
        return x


class StyleLayer(nn.Module):
    """Modulated 3x3 conv (+ upsampling), noise, bias, LeakyReLU; ``noise_const`` is the fixed noise."""

    noise_const: torch.Tensor

    def __init__(self, c_in: int, c_out: int, w_dim: int, resolution: int, upsample: bool):
        super().__init__()
        self.conv = ModulatedConv2d(c_in, c_out, 3, w_dim, demodulate=True, upsample=upsample)
        self.noise = NoiseInjection()
        self.bias = nn.Parameter(torch.zeros(c_out))
        self.register_buffer("noise_const", torch.randn(1, 1, resolution, resolution))

    def forward(self, x: torch.Tensor, w: torch.Tensor, noise: str) -> torch.Tensor:
        x = self.conv(x, w)
        if noise == "random":
            x = self.noise(x, torch.randn(x.shape[0], 1, *x.shape[2:], device=x.device))
        elif noise == "fixed":
            x = self.noise(x, self.noise_const)
        return lrelu(x + self.bias.view(1, -1, 1, 1).to(x.dtype)) * math.sqrt(2)


class ToRGB(nn.Module):
    def __init__(self, c_in: int, channels: int, w_dim: int):
        super().__init__()
        self.conv = ModulatedConv2d(c_in, channels, 1, w_dim, demodulate=False)
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        return self.conv(x, w) + self.bias.view(1, -1, 1, 1).to(x.dtype)


class SynthesisNetwork(nn.Module):
    """ws (B, num_ws, w_dim) -> images (B, C, R, R), linear output in about [-1, 1] (skip architecture)."""

    def __init__(self, channels: int, resolution: int, w_dim: int, widths: list[int]):
        super().__init__()
        self.const = nn.Parameter(torch.randn(widths[0], 4, 4))
        self.layers = nn.ModuleList([StyleLayer(widths[0], widths[0], w_dim, 4, upsample=False)])
        self.to_rgb = nn.ModuleList([ToRGB(widths[0], channels, w_dim)])
        for k, (c_in, c_out) in enumerate(zip(widths[:-1], widths[1:], strict=True), start=1):
            res = 4 << k
            self.layers.append(StyleLayer(c_in, c_out, w_dim, res, upsample=True))
            self.layers.append(StyleLayer(c_out, c_out, w_dim, res, upsample=False))
            self.to_rgb.append(ToRGB(c_out, channels, w_dim))
        self.num_ws = 2 * len(widths)

    def forward(self, ws: torch.Tensor, noise: str = "random") -> torch.Tensor:
        x = self.const.unsqueeze(0).expand(ws.shape[0], -1, -1, -1)
        x = self.layers[0](x, ws[:, 0], noise)
        img = self.to_rgb[0](x, ws[:, 1])
        for b in range(1, len(self.to_rgb)):
            x = self.layers[2 * b - 1](x, ws[:, 2 * b - 1], noise)
            x = self.layers[2 * b](x, ws[:, 2 * b], noise)
            img = F.interpolate(img, scale_factor=2, mode="bilinear", align_corners=False) + \
                self.to_rgb[b](x, ws[:, 2 * b + 1])
        return img


class StyleGenerator(nn.Module):
    """Mapping and synthesis networks together."""

    def __init__(self, cfg: StyleGANConfig, widths: list[int]):
        super().__init__()
        channels, resolution = cfg.data_shape[0], cfg.data_shape[1]
        self.mapping = MappingNetwork(cfg.latent_dim, cfg.w_dim, cfg.mapping_layers, cfg.mapping_lr_mul)
        self.synthesis = SynthesisNetwork(channels, resolution, cfg.w_dim, widths)
        self.num_ws = self.synthesis.num_ws


class ResidualBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.conv0 = EqualizedConv2d(c_in, c_in, 3)
        self.conv1 = EqualizedConv2d(c_in, c_out, 3)
        self.skip = EqualizedConv2d(c_in, c_out, 1, bias=False, gain=1.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.avg_pool2d(lrelu(self.conv1(lrelu(self.conv0(x)))) * math.sqrt(2), 2)
        return (y + self.skip(F.avg_pool2d(x, 2))) / math.sqrt(2)


class ResidualDiscriminator(nn.Module):
    """images (B, C, R, R) -> logits (B,) in float32."""

    def __init__(self, channels: int, widths: list[int], group: int):
        super().__init__()
        self.from_rgb = EqualizedConv2d(channels, widths[-1], 1)
        self.blocks = nn.Sequential(*[ResidualBlock(widths[k], widths[k - 1]) for k in range(len(widths) - 1, 0, -1)])
        w0 = widths[0]
        self.mbstd = MinibatchStd(group)
        self.conv = EqualizedConv2d(w0 + 1, w0, 3)
        self.dense = EqualizedLinear(w0 * 16, w0)
        self.out = EqualizedLinear(w0, 1, gain=1.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.blocks(lrelu(self.from_rgb(x)))
        h = lrelu(self.conv(self.mbstd(h)))
        return self.out(lrelu(self.dense(h.flatten(1)))).squeeze(1).float()


def mix_styles(w1: torch.Tensor, w2: torch.Tensor, crossover: int, num_ws: int) -> torch.Tensor:
    """ws (B, num_ws, D): w1 (B, D) for layers before ``crossover``, w2 (B, D) from it on."""
    ws = w1.unsqueeze(1).repeat(1, num_ws, 1)
    if crossover < num_ws:
        ws[:, crossover:] = w2.unsqueeze(1)
    return ws


def mix_layers(num_ws: int) -> dict[str, range]:
    """The layers each style level covers: coarse (4-8 px), middle (16-32 px; 16 px only for models of at
    most 32 px, so each level has layers), fine (the rest)."""
    coarse = min(num_ws, 4)
    middle = min(num_ws, 6 if num_ws <= 8 else 8)
    return {"coarse": range(0, coarse), "middle": range(coarse, middle), "fine": range(middle, num_ws)}


@register("stylegan", StyleGANConfig, "StyleGAN2-style: mapping net, modulated convs, noise, style mixing, lazy R1, "
                                      "truncation")
class StyleGAN(GenerativeModel):
    """A style-based GAN; see the module docstring."""

    config: StyleGANConfig
    watch_modes = True
    has_styles = True
    sample_options = ("truncation", "noise")
    # z -> mapping (truncation 1) -> synthesis with the model's fixed noise images: sample(noise='fixed')
    export_parts = ("sample",)
    d_updates: torch.Tensor  # buffers (registered in __init__)
    g_updates: torch.Tensor
    pl_mean: torch.Tensor
    grad_norms: torch.Tensor

    def __init__(self, config: StyleGANConfig):
        super().__init__(config)
        channels, resolution = config.data_shape[0], check_resolution(config.data_shape, "stylegan")
        widths = widths_for(resolution, config.channel_base, config.channel_max, config.channel_min)
        self.pair = LOSS_PAIRS["non_saturating"]
        self.generator = StyleGenerator(config, widths)
        self.discriminator = ResidualDiscriminator(channels, widths, config.mbstd_group)
        self.ema_generator = copy.deepcopy(self.generator).requires_grad_(False) if config.ema_decay > 0 else None
        self.num_ws = self.generator.num_ws
        self.register_counter("d_updates")
        self.register_counter("g_updates")
        self.register_buffer("pl_mean", torch.zeros(()))
        self.register_buffer("grad_norms", torch.zeros(2), persistent=False)
        self._batch_w_mean: torch.Tensor | None = None  # the last batch's mean w (after_step moves w_avg)
        self._pl_mean_next: torch.Tensor | None = None  # the path-length mean after this step's penalty

    # --- training contract -------------------------------------------------------------------
    def phases(self) -> list[Phase]:
        cfg = self.config

        def lazy(every: int, on: bool) -> OptimizerConfig:
            c = every / (every + 1) if on else 1.0  # StyleGAN2's lazy-regularization correction
            return OptimizerConfig("adam", cfg.gan_lr * c, (cfg.gan_betas[0] ** c, cfg.gan_betas[1] ** c))

        return [Phase("discriminator", ("discriminator",), 1, lazy(cfg.r1_every, cfg.r1_gamma > 0)),
                Phase("generator", ("generator",), 1, lazy(cfg.pl_every, cfg.pl_weight > 0))]

    def _styles(self, n: int, device: torch.device) -> torch.Tensor:
        """Training styles (n, num_ws, w_dim) from the trained mapping, mixed with probability style_mixing."""
        gen = self.generator
        w1 = gen.mapping(torch.randn(n, self.config.latent_dim, device=device))
        crossover = self.num_ws
        if self.config.style_mixing > 0 and float(torch.rand(())) < self.config.style_mixing:
            crossover = int(torch.randint(1, self.num_ws, ()))
        w2 = gen.mapping(torch.randn(n, self.config.latent_dim, device=device)) if crossover < self.num_ws else w1
        self._batch_w_mean = w1.detach().float().mean(0)
        return mix_styles(w1, w2, crossover, self.num_ws)

    def r1_due(self) -> bool:
        """Lazy R1: on discriminator updates 0, k, 2k, ... (k = r1_every)."""
        return self.config.r1_gamma > 0 and self.counted("d_updates") % self.config.r1_every == 0

    def pl_due(self) -> bool:
        return self.config.pl_weight > 0 and self.counted("g_updates") % self.config.pl_every == 0

    def discriminator_losses(self, x: torch.Tensor, regularize: bool = True) -> Losses:
        cfg = self.config
        with torch.no_grad():
            fake = self.generator.synthesis(self._styles(x.shape[0], x.device))
        d_real, d_fake = self.discriminator(x), self.discriminator(fake.to(x.dtype))
        loss = self.pair.discriminator(d_real, d_fake, 1.0)
        logs = {"D(x)": torch.sigmoid(d_real).mean().detach(), "D(G(z))": torch.sigmoid(d_fake).mean().detach()}
        if regularize and self.r1_due():
            term, logs["r1"] = lazy_r1(self.discriminator, x, cfg.r1_gamma, cfg.r1_every)
            loss = loss + term
        return {"loss": loss, **logs}

    def generator_losses(self, n: int, device: torch.device, regularize: bool = True) -> Losses:
        cfg = self.config
        ws = self._styles(n, device)
        d_fake = self.discriminator(self.generator.synthesis(ws))
        loss = self.pair.generator(d_fake)
        logs = {"D(G(z))": torch.sigmoid(d_fake).mean().detach()}
        if regularize and self.pl_due():
            penalty, length, new_mean = path_length_penalty(self.generator.synthesis, ws, self.pl_mean, cfg.pl_decay)
            self._pl_mean_next = new_mean
            loss = loss + cfg.pl_weight * cfg.pl_every * penalty
            logs.update(path_length=length, pl_penalty=penalty.detach())
        return {"loss": loss, **logs}

    def losses(self, batch: Batch, phase: str = "discriminator") -> Losses:
        x = batch.x * 2 - 1
        self._pl_mean_next = None
        if phase == "discriminator":
            out = self.discriminator_losses(x)
        elif phase == "generator":
            out = self.generator_losses(x.shape[0], x.device)
        else:
            raise ValueError(f"unknown phase '{phase}' (discriminator or generator)")
        out["grad_norm"] = self.grad_norms[0 if phase == "discriminator" else 1].detach().clone()
        return out

    def after_step(self, phase: str) -> None:
        """Count updates; after a generator step move w_avg, the path-length mean and the EMA generator."""
        self.grad_norms[0 if phase == "discriminator" else 1] = parameter_grad_norm(
            self.get_submodule(phase).parameters())
        if phase == "discriminator":
            self.count("d_updates")
            return
        if phase != "generator":
            return
        self.count("g_updates")
        mapping = self.generator.mapping
        if self._batch_w_mean is not None:
            mapping.w_avg.lerp_(self._batch_w_mean.to(mapping.w_avg), 1.0 - self.config.w_avg_beta)
        if self._pl_mean_next is not None:
            self.pl_mean.copy_(self._pl_mean_next)
        if self.ema_generator is not None:
            decay = ema_decay_at(self.config.ema_decay, self.counted("g_updates"))
            ema_update_(self.ema_generator, self.generator, decay)

    @torch.no_grad()
    def evaluate(self, batch: Batch) -> dict[str, float]:
        x = batch.x * 2 - 1
        logs = {f"discriminator/{k}": float(v) for k, v in self.discriminator_losses(x, regularize=False).items()}
        logs.update({f"generator/{k}": float(v)
                     for k, v in self.generator_losses(x.shape[0], x.device, regularize=False).items()})
        return logs

    # --- generation and style controls ----------------------------------------------------------
    @property
    def sampling_generator(self) -> StyleGenerator:
        return self.ema_generator if self.ema_generator is not None else self.generator

    @staticmethod
    def check_sampling(truncation: float, noise: str) -> None:
        if not 0.0 <= truncation <= 1.0 or math.isnan(truncation):
            raise ConfigError(f"--truncation must be in [0, 1], got {truncation}")
        if noise not in NOISE_MODES:
            raise ConfigError(f"--noise must be one of {', '.join(NOISE_MODES)}, got {noise!r}")

    @torch.no_grad()
    def mapping(self, z: torch.Tensor, truncation: float = 1.0) -> torch.Tensor:
        """w (B, w_dim) for z (B, latent_dim), truncated toward the tracked average: w_avg + psi (w - w_avg)."""
        self.check_sampling(truncation, "random")
        mapping = self.sampling_generator.mapping
        w = mapping(z.to(self.device))
        return mapping.w_avg + truncation * (w - mapping.w_avg)

    @torch.no_grad()
    def synthesize(self, w: torch.Tensor, noise: str = "random") -> torch.Tensor:
        """Images in [0, 1] from w (B, w_dim) (the same style at every layer) or ws (B, num_ws, w_dim)."""
        self.check_sampling(1.0, noise)
        ws = w.to(self.device)
        if ws.dim() == 2:
            ws = ws.unsqueeze(1).expand(-1, self.num_ws, -1)
        return ((self.sampling_generator.synthesis(ws, noise).float() + 1) / 2).clamp(0, 1)

    @torch.no_grad()
    def sample(self, n: int, labels: torch.Tensor | None = None, truncation: float = 1.0,
               noise: str = "random") -> torch.Tensor:
        """n images in [0, 1]: z ~ N(0, I), w truncated by ``truncation`` (psi), noise 'random',
        'fixed' (the same noise images every call) or 'none'."""
        if labels is not None:
            raise ConfigError("model 'stylegan' is not conditional; labels need a conditional model")
        self.check_sampling(truncation, noise)
        z = torch.randn(n, self.config.latent_dim, device=self.device)
        return self.synthesize(self.mapping(z, truncation), noise)

    def noise_shape(self) -> tuple[int, ...]:
        return (self.config.latent_dim,)

    def sample_from_noise(self, noise: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Images in [0, 1] from z with truncation 1 and the fixed noise images (a pure function of z, what
        ``sample(n, noise='fixed')`` draws; random per-pixel noise cannot be part of an exported graph)."""
        return self.synthesize(self.mapping(noise), "fixed")

    @torch.no_grad()
    def style_mix(self, rows: int = 4, cols: int = 5, truncation: float = 1.0,
                  noise: str = "fixed") -> tuple[torch.Tensor, list[str]]:
        """The classic style-mixing grid: (1 + 3 * rows) x (1 + cols) images and row titles.

        Row 0 shows the column sources (the top-left cell blank); for each level (coarse, middle,
        fine) ``rows`` rows start with a row source, followed by the column sources with that
        level's layers taken from the row source.
        """
        self.check_sampling(truncation, noise)
        z = torch.randn(rows + cols, self.config.latent_dim, device=self.device)
        w = self.mapping(z, truncation)
        w_rows, w_cols = w[:rows], w[rows:]
        blank = torch.ones(1, self.config.data_shape[0], *self.config.data_shape[1:], device=self.device)
        cells = [blank, self.synthesize(w_cols, noise)]
        titles = ["sources"]
        for level, layers in mix_layers(self.num_ws).items():
            if not len(layers):
                continue
            for r in range(rows):
                ws = w_cols.unsqueeze(1).repeat(1, self.num_ws, 1)
                ws[:, layers.start:layers.stop] = w_rows[r]
                cells += [self.synthesize(w_rows[r:r + 1], noise), self.synthesize(ws, noise)]
                titles.append(level)
        return torch.cat(cells), titles

    @torch.no_grad()
    def interpolate_w(self, steps: int = 10, truncation: float = 1.0, method: str = "linear") -> torch.Tensor:
        """Images (steps, C, H, W) along the path between the w's of two random z (fixed noise)."""
        self.check_sampling(truncation, "fixed")
        w = self.mapping(torch.randn(2, self.config.latent_dim, device=self.device), truncation)
        t = torch.linspace(0, 1, steps, device=w.device)[:, None]
        return self.synthesize(interpolate_codes(w[0], w[1], t, method), "fixed")
