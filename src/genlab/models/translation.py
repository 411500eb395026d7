"""Image-to-image translation: the contract of translators, and pix2pix (Isola et al. 2017).

A translator maps an image of domain A to one of domain B (and, for CycleGAN, back). It trains on
the packed pairs of :mod:`genlab.data.pairs` (``a_channels`` and ``pair_scale`` in its config come
from the data, like ``data_shape``) and does not sample from noise: ``generative`` is False,
``genlab sample`` points to ``genlab translate`` / ``genlab upscale``, and :meth:`ImageTranslator.translate`
is the Python entry point. Networks see images in [-1, 1]; ``translate`` takes and returns [0, 1].

pix2pix: a U-Net generator G (dropout as its noise) and a conditional PatchGAN D on (A, B) pairs::

    discriminator:  minimize 1/2 L_D(D(a, b), D(a, G(a)))             (G fixed)
    generator:      minimize gan_weight * L_G(D(a, G(a))) + l1_weight * |G(a) - b|_1     (D fixed)

with any loss pair of the GAN family (``loss``; the paper's is the non-saturating BCE), L1 weight
100 and Adam 2e-4 (0.5, 0.999). ``gan_weight`` 0 trains the L1 regression alone (no discriminator
phase): the baseline that shows what the adversarial term adds.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import torch
import torch.nn.functional as F
from torch import nn

from genlab.config import OptimizerConfig, check_betas, check_range, check_sizes
from genlab.data.base import ArrayDataset
from genlab.data.pairs import unpack
from genlab.errors import ConfigError
from genlab.models.adversarial import LOSS_PAIRS, check_stabilizers, gradient_penalty
from genlab.models.base import Batch, GenerativeModel, Losses, Phase
from genlab.models.gan import LossName
from genlab.nn.ema import ema_decay_at, ema_update_
from genlab.nn.gan_blocks import apply_spectral_norm, init_normal_
from genlab.nn.translation import PatchGAN, UNetGenerator
from genlab.registry import register

TranslationNorm = Literal["batch", "instance", "layer", "none"]


@dataclass
class TranslatorConfig:
    """Fields every translator shares (data-derived, adversarial settings, optimizer).

    Attributes:
        data_shape: (C, H, W) of the packed pairs (A's channels, then B's); filled from the dataset.
        a_channels: channels of A in the packed pairs; filled from the dataset (0 = plain images).
        pair_scale: B's size / A's size (1 for translation, 2 or 4 for super-resolution); filled from the dataset.
        loss: adversarial loss pair: 'minimax', 'non_saturating', 'least_squares', 'wasserstein' or 'hinge'.
        spectral_norm: spectral normalization on every discriminator layer.
        gradient_penalty: weight of the WGAN-GP penalty on the discriminator (0 = off).
        label_smoothing: one-sided: real targets 1 - this value.
        weight_clip: clip discriminator weights to [-c, c] (Wasserstein only; 0 = off).
        d_norm: normalization in the discriminator ('batch', 'instance', 'layer', 'none').
        ema_decay: keep an exponential moving average of the generator(s) for translating (0 = off).
        init_std: N(0, std) initialization of conv weights (0.02 in the papers; 0 = PyTorch default).
        gan_lr, gan_betas: Adam learning rate and betas of every phase.
    """

    data_shape: tuple[int, ...] = (2, 28, 28)
    a_channels: int = 0
    pair_scale: int = 1
    loss: LossName = "non_saturating"
    spectral_norm: bool = False
    gradient_penalty: float = 0.0
    label_smoothing: float = 0.0
    weight_clip: float = 0.0
    d_norm: TranslationNorm = "batch"
    ema_decay: float = 0.0
    init_std: float = 0.02
    gan_lr: float = 2e-4
    gan_betas: tuple[float, float] = (0.5, 0.999)

    def __post_init__(self) -> None:
        if len(self.data_shape) != 3:
            raise ValueError(f"data_shape must be (C, H, W), got {tuple(self.data_shape)}")
        check_sizes("data_shape", tuple(self.data_shape), maximum=1 << 16)
        check_range("a_channels", self.a_channels, 0, self.data_shape[0] - 1)
        check_range("pair_scale", self.pair_scale, 1)
        check_range("gradient_penalty", self.gradient_penalty, 0)
        check_range("label_smoothing", self.label_smoothing, 0, 1, high_open=True)
        check_range("weight_clip", self.weight_clip, 0)
        check_range("ema_decay", self.ema_decay, 0, 1, high_open=True)
        check_range("init_std", self.init_std, 0)
        check_range("gan_lr", self.gan_lr, 0, low_open=True)
        check_betas("gan_betas", self.gan_betas)
        check_stabilizers(self)


class HistoryPool(nn.Module):
    """A history of generated images for the discriminator (Shrivastava et al. 2017; CycleGAN sec. 4).

    ``query(images)`` returns one image per input: while the pool holds fewer than ``size`` images,
    the input itself (which is stored); afterwards, with probability 1/2 a stored image chosen
    uniformly (replaced by the input), else the input. Its contents are non-persistent buffers:
    checkpoints carry them (exact resume), saved weights do not.
    """

    images: torch.Tensor
    count: torch.Tensor

    def __init__(self, size: int, shape: tuple[int, ...]):
        super().__init__()
        self.size = size
        self.register_buffer("images", torch.zeros(size, *shape), persistent=False)
        self.register_buffer("count", torch.zeros((), dtype=torch.long), persistent=False)

    @torch.no_grad()
    def query(self, images: torch.Tensor) -> torch.Tensor:
        if self.size == 0:
            return images
        out = []
        for img in images:
            n = int(self.count)
            if n < self.size:
                self.images[n] = img.to(self.images.dtype)
                self.count += 1
                out.append(img)
            elif float(torch.rand(())) < 0.5:
                k = int(torch.randint(self.size, ()))
                out.append(self.images[k].clone().to(img.dtype))
                self.images[k] = img.to(self.images.dtype)
            else:
                out.append(img)
        return torch.stack(out)


class ImageTranslator(GenerativeModel):
    """The contract of image-to-image models: :meth:`translate`; trained on packed pairs.

    Subclasses set :attr:`generators` (direction -> attribute name of its generator network) and
    implement the phases and losses. ``translate`` uses the EMA copy of a generator when one is kept.
    """

    config: TranslatorConfig
    generative = False  # no sampling from noise: `genlab sample` points to translate / upscale
    data_kinds: ClassVar[tuple[str, ...]] = ("pairs",)
    g_updates: torch.Tensor  # a buffer (registered in _setup_networks)
    # direction ('AB', 'BA') -> the generator attribute that translates that way
    generators: ClassVar[dict[str, str]] = {"AB": "generator"}
    # the command that applies it to image files: `genlab translate` (`genlab upscale` for super-resolution)
    command: ClassVar[str] = "translate"
    export_parts: ClassVar[tuple[str, ...]] = ("translate",)  # A -> B (cyclegan: its g_ab)
    export_refusals: ClassVar[dict[str, str]] = {
        "sample": "an image-to-image model translates images instead of sampling them (export 'translate')"}

    def __init__(self, config: TranslatorConfig):
        super().__init__(config)
        self.pair = LOSS_PAIRS[config.loss]

    # --- shapes ------------------------------------------------------------------------------
    @property
    def a_shape(self) -> tuple[int, int, int]:
        """(C, H, W) of an A image (the plain image's own shape for plain images)."""
        c, h, w = self.config.data_shape
        a = self.config.a_channels
        s = self.config.pair_scale
        return (a, h // s, w // s) if a else (c, h, w)

    @property
    def b_shape(self) -> tuple[int, int, int]:
        c, h, w = self.config.data_shape
        return (c - self.config.a_channels, h, w)

    def split(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        """(A, B) of a batch in [-1, 1]; plain images (a_channels 0) are their own pair."""
        x = batch.x * 2 - 1
        if not self.config.a_channels:
            return x, x
        return unpack(x, self.config.a_channels, self.config.pair_scale)

    # --- EMA and networks ----------------------------------------------------------------------
    def _setup_networks(self) -> None:
        """Initialize, spectrally normalize and copy (EMA) the networks once the subclass built them."""
        cfg = self.config
        for name in self.generators.values():
            if cfg.init_std > 0:
                init_normal_(self.get_submodule(name), cfg.init_std)
        for name in self.discriminator_names():
            if cfg.init_std > 0:
                init_normal_(self.get_submodule(name), cfg.init_std)
            if cfg.spectral_norm:
                apply_spectral_norm(self.get_submodule(name))
        self.ema = nn.ModuleDict({name: copy.deepcopy(self.get_submodule(name)).requires_grad_(False)
                                  for name in self.generators.values()}) if cfg.ema_decay > 0 else None
        self.register_counter("g_updates")

    def discriminator_names(self) -> list[str]:
        return []

    def update_ema(self) -> None:
        self.count("g_updates")
        if self.ema is not None:
            decay = ema_decay_at(self.config.ema_decay, self.counted("g_updates"))
            for name, avg in self.ema.items():
                ema_update_(avg, self.get_submodule(name), decay)

    def translating_network(self, direction: str = "AB") -> nn.Module:
        if direction not in self.generators:
            raise ConfigError(f"model '{self.registry_name}' translates {' and '.join(self.generators)}, "
                              f"not '{direction}'")
        name = self.generators[direction]
        return self.ema[name] if self.ema is not None else self.get_submodule(name)

    def optimizer(self) -> OptimizerConfig:
        beta1, beta2 = self.config.gan_betas
        return OptimizerConfig("adam", self.config.gan_lr, (beta1, beta2))

    def adversarial_d_loss(self, d: nn.Module, real: torch.Tensor, fake: torch.Tensor) -> Losses:
        """The discriminator loss (halved, as in pix2pix / CycleGAN) on real and fake inputs, any loss pair."""
        cfg = self.config
        d_real, d_fake = d(real).flatten(), d(fake).flatten()  # every patch is one score
        loss = 0.5 * self.pair.discriminator(d_real, d_fake, 1.0 - cfg.label_smoothing)
        logs: Losses = {}
        if cfg.gradient_penalty > 0 and torch.is_grad_enabled():
            gp, _ = gradient_penalty(lambda v: d(v).flatten(1).mean(1), real, fake)
            loss = loss + cfg.gradient_penalty * gp
            logs["gradient_penalty"] = gp.detach()
        if self.pair.probabilistic:
            logs["D(x)"] = torch.sigmoid(d_real).mean().detach()
            logs["D(G(z))"] = torch.sigmoid(d_fake).mean().detach()
        return {"loss": loss, **logs}

    def after_step(self, phase: str) -> None:
        if self.config.weight_clip > 0 and phase.startswith("discriminator"):
            with torch.no_grad():
                for p in self.get_submodule(phase).parameters():
                    p.clamp_(-self.config.weight_clip, self.config.weight_clip)
        if phase == "generator" or phase == "generators":
            self.update_ema()

    @torch.no_grad()
    def evaluate(self, batch: Batch) -> dict[str, float]:
        """Validation losses of every phase, as 'PHASE/NAME', the generator phase(s) first."""
        phases = sorted((p.name for p in self.phases()), key=lambda name: not name.startswith("generator"))
        return {f"{name}/{k}": float(v) for name in phases for k, v in self.losses(batch, name).items()}

    # --- use -----------------------------------------------------------------------------------
    def split_packed(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(A, B) in [0, 1] of packed test images (N, Ca + Cb, H, W) in [0, 1]; plain images: A = B = x."""
        if self.config.a_channels:
            return unpack(x, self.config.a_channels, self.config.pair_scale)
        return x, x

    @torch.no_grad()
    def translate(self, x: torch.Tensor, direction: str = "AB") -> torch.Tensor:
        """Translate images (N, C, H, W) in [0, 1] of domain A (B for 'BA') into the other domain, in [0, 1]."""
        want = self.a_shape if direction == "AB" else self.b_shape
        net = self.translating_network(direction)
        if x.dim() != 4 or x.shape[1] != want[0]:
            raise ConfigError(f"model '{self.registry_name}' translates {want[0]}-channel images "
                              f"({'A' if direction == 'AB' else 'B'} domain), got shape {tuple(x.shape)}")
        out = net(x.to(self.device).float() * 2 - 1)
        return ((out.float() + 1) / 2).clamp(0, 1)

    grid_from_data = True  # training grids: rows of fixed validation images (sample_grid)

    def grid_columns(self, a: torch.Tensor, b: torch.Tensor) -> list[torch.Tensor]:
        """The columns of a training grid for A and B images in [0, 1]: input | output | target."""
        return [a, self.translate(a), b]

    @torch.no_grad()
    def sample_grid(self, n: int, data: ArrayDataset | None = None, **options: Any) -> tuple[torch.Tensor, int | None]:
        """Rows of the first ``n`` items of ``data`` (a split of packed pairs), one column per image of
        :meth:`grid_columns` (smaller inputs enlarged by nearest, 1-channel images shown as RGB beside
        RGB ones), for the grids the run layer draws during training."""
        if data is None or not len(data):
            raise NotImplementedError(f"model '{self.registry_name}' draws its grids from data")
        a, b = self.split_packed(data.images(torch.arange(min(n, len(data)))))
        cols = [c.float().cpu() for c in self.grid_columns(a.to(self.device), b)]
        size, channels = cols[-1].shape[-2:], max(c.shape[1] for c in cols)
        cols = [F.interpolate(c, size=size, mode="nearest") if c.shape[-2:] != size else c for c in cols]
        cols = [c.expand(-1, channels, -1, -1) for c in cols]
        return torch.stack(cols, 1).flatten(0, 1), len(cols)  # (n * columns, C, H, W), one item per row

    def sample(self, n: int, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Translators do not sample from noise (NotImplementedError); their training grids come from
        :meth:`sample_grid` on validation images."""
        raise NotImplementedError(f"model '{self.registry_name}' translates images instead of sampling them: use "
                                  f"`genlab {self.command} RUN --input ... --out DIR`")


@dataclass
class PatchGANTranslatorConfig(TranslatorConfig):
    """The generator and PatchGAN fields pix2pix and cyclegan share.

    Attributes:
        g_width: channels of the generator's first layer (64 in the papers; a U-Net doubles to at most 8x).
        g_depth: U-Net levels at most (8 at 256 px: a 1x1 bottleneck; fewer on small images).
        g_norm: normalization in the generator(s).
        d_width: channels of the PatchGAN's first layer.
        n_layers: stride-2 layers of the PatchGAN (3 = the 70x70 PatchGAN; capped so a patch fits).
    """

    g_width: int = 64
    g_depth: int = 8
    g_norm: TranslationNorm = "batch"
    d_width: int = 64
    n_layers: int = 3

    def __post_init__(self) -> None:
        super().__post_init__()
        check_sizes("g_width", self.g_width)
        check_sizes("g_depth", self.g_depth)
        check_sizes("d_width", self.d_width)
        check_range("n_layers", self.n_layers, 0)


@dataclass
class Pix2PixConfig(PatchGANTranslatorConfig):
    """Configuration of :class:`Pix2Pix` (Isola et al. 2017); the U-Net and PatchGAN fields are
    :class:`PatchGANTranslatorConfig`'s.

    Attributes:
        dropout: dropout of the 3 innermost decoder levels (the generator's noise; 0.5).
        l1_weight: lambda of the L1 term (100 in the paper).
        gan_weight: weight of the adversarial term (0 = L1 regression only, no discriminator).
    """

    dropout: float = 0.5
    l1_weight: float = 100.0
    gan_weight: float = 1.0

    def __post_init__(self) -> None:
        super().__post_init__()
        check_range("dropout", self.dropout, 0, 1, high_open=True)
        check_range("l1_weight", self.l1_weight, 0)
        check_range("gan_weight", self.gan_weight, 0)
        if self.l1_weight == 0 and self.gan_weight == 0:
            raise ValueError("l1_weight and gan_weight are both 0: the generator would learn nothing")


@register("pix2pix", Pix2PixConfig, "pix2pix: U-Net generator + conditional PatchGAN on paired images, GAN + 100 L1")
class Pix2Pix(ImageTranslator):
    """Paired translation A -> B; see the module docstring."""

    config: Pix2PixConfig

    def __init__(self, config: Pix2PixConfig):
        super().__init__(config)
        if config.pair_scale != 1:
            raise ConfigError(f"pix2pix translates images of one size, and this dataset's B images are "
                              f"{config.pair_scale}x its A images (train srresnet or srgan for super-resolution)")
        ca, cb, size = self.a_shape[0], self.b_shape[0], min(config.data_shape[1:])
        self.generator = UNetGenerator(ca, cb, size, config.g_width, config.g_depth, config.g_norm, config.dropout)
        self.discriminator = PatchGAN(ca + cb, size, config.d_width, config.n_layers, config.d_norm) \
            if config.gan_weight > 0 else None
        self._setup_networks()

    def discriminator_names(self) -> list[str]:
        return ["discriminator"] if self.discriminator is not None else []

    def phases(self) -> list[Phase]:
        opt = self.optimizer()
        generator = Phase("generator", ("generator",), 1, opt, fresh_batch=self.discriminator is None)
        if self.discriminator is None:
            return [generator]
        return [Phase("discriminator", ("discriminator",), 1, opt), generator]

    def losses(self, batch: Batch, phase: str = "generator") -> Losses:
        a, b = self.split(batch)  # (B, Ca, H, W), (B, Cb, H, W) in [-1, 1]
        if phase == "discriminator" and self.discriminator is not None:
            with torch.no_grad():
                fake = self.generator(a)
            return self.adversarial_d_loss(self.discriminator, torch.cat([a, b], 1),
                                           torch.cat([a, fake.to(a.dtype)], 1))
        if phase != "generator":
            raise ValueError(f"unknown phase '{phase}' (discriminator or generator)")
        fake = self.generator(a)
        l1 = F.l1_loss(fake.float(), b.float())
        loss = self.config.l1_weight * l1
        logs: Losses = {"l1": l1.detach()}
        if self.discriminator is not None:
            adv = self.pair.generator(self.discriminator(torch.cat([a, fake], 1)).flatten())
            loss = loss + self.config.gan_weight * adv
            logs["adversarial"] = adv.detach()
        return {"loss": loss, **logs}

