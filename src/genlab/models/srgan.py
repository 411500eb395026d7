"""Super-resolution: SRResNet (MSE, the PSNR-oriented model) and SRGAN (Ledig et al. 2017).

The generator is :class:`genlab.nn.translation.SRResNet` (residual blocks, pixel-shuffle x2 / x4).
It trains on super-resolution pairs (``mnist-sr4``, ``photos-sr4``, ``pairs:DIR`` whose B images
are an integer multiple of A's size) or on plain images, whose low-resolution inputs it makes by
area downsampling (``--scale``, 4 by default; the factor must divide the image size).

    srresnet   generator:      minimize |G(a) - b|^2                                     (MSE)
    srgan      discriminator:  minimize L_D(D(b), D(G(a)))                               (G fixed)
               generator:      minimize content(G(a), b) + 1e-3 * L_G(D(G(a)))           (D fixed)

The content loss is 'mse', 'l1' or 'perceptual': the mean squared difference of feature maps
phi (the input of the last pooling layer) of a frozen classifier, on images in [0, 1]. The paper
uses ImageNet VGG19 (phi_5,4) and rescales it by 1/12.75; genlab cannot download it, so the
feature network is one genlab trained itself: by default the dataset's evaluation classifier
(``genlab train`` fills ``feature_net`` with its cache directory: LeNet-5 on MNIST, whose
C3 maps (16 x 10 x 10) are shallow, low-resolution features of digits rather than VGG's deep
ImageNet texture features), or any saved classifier given with ``--feature-net DIR`` (e.g. a
VGG trained with ``genlab train classifier``). The path is recorded in the run's config; the
feature network is loaded when training needs it and is not part of the saved weights.
``generator_init`` starts the generator from a trained srresnet, as the paper does.

Departure from the paper: by default (``residual``) the generator predicts a correction to the
bicubic upsampling of its input, with its last conv zeroed at the start, so an untrained model is
exactly bicubic and short CPU budgets improve on it instead of first relearning the image (the
paper's generator outputs the whole image; ``--no-residual`` restores that).
"""
from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from genlab.config import check_range, check_sizes
from genlab.errors import ConfigError
from genlab.models.base import Batch, GenerativeModel, Losses, Phase
from genlab.models.translation import ImageTranslator, TranslatorConfig
from genlab.nn.lenet import LeNet5
from genlab.nn.translation import SRDiscriminator, SRResNet
from genlab.nn.vgg import VGG
from genlab.registry import register

SCALES = (0, 2, 3, 4, 8)
_WARNED: list[bool] = []  # the missing-feature-network warning is printed once per process


@dataclass
class SRGANConfig(TranslatorConfig):
    """Configuration of :class:`SRGAN` (Ledig et al. 2017).

    Attributes:
        scale: upscaling factor 2, 3, 4 or 8; 0 = the pairs' own factor (4 on plain images).
        width: channels of the SRResNet (64 in the paper).
        n_blocks: residual blocks of the SRResNet (16 in the paper).
        d_width: channels of the discriminator's first layer (64).
        d_hidden: size of the discriminator's dense layer (1024).
        content_loss: 'mse' (pixels), 'l1' (mean absolute pixel error, as EDSR: it drives small errors
            on flat regions to zero, where MSE's gradient vanishes) or 'perceptual' (feature maps of a
            frozen classifier).
        feature_net: a saved genlab classifier (directory) for the perceptual loss; empty = the
            dataset's evaluation classifier, filled in by `genlab train`.
        pixel_weight: weight of an extra pixel MSE term beside a perceptual content loss.
        adversarial_weight: weight of the generator's adversarial loss (1e-3; 0 = SRResNet, no discriminator).
        generator_init: a saved srresnet / srgan (run directory) whose generator weights start this one.
        residual: the generator predicts a correction to the bicubic upsampling of its input and
            starts as bicubic (True; a departure from the paper, whose generator learns the whole image).
        patch: train on one random patch of this many low-resolution pixels a side per batch (the
            same place in every image of the batch; 0 = whole images): more, cheaper steps.
        augment: random horizontal flips and transposes of training batches (the 8 symmetries of
            the square with both; transposes only for square images).
        block_norm: batch norm in the generator's residual blocks (True, the paper's; False as EDSR).
        upsampling: 'paper' (pixel-shuffle x2 stages, then a 9x9 conv at the output resolution) or
            'subpixel' (every conv at the input resolution, a last 3x3 conv to scale^2 sub-pixels per
            pixel: ~7x cheaper per image at 4x; a departure from the paper, as ESPCN / EDSR).
    """

    loss: Literal["minimax", "non_saturating", "least_squares", "wasserstein", "hinge"] = "non_saturating"
    init_std: float = 0.0
    gan_lr: float = 1e-4
    gan_betas: tuple[float, float] = (0.9, 0.999)
    scale: int = 0
    width: int = 64
    n_blocks: int = 16
    d_width: int = 64
    d_hidden: int = 1024
    content_loss: Literal["mse", "l1", "perceptual"] = "perceptual"
    feature_net: str = ""
    pixel_weight: float = 0.0
    adversarial_weight: float = 1e-3
    generator_init: str = ""
    residual: bool = True
    block_norm: bool = True
    upsampling: Literal["paper", "subpixel"] = "paper"
    patch: int = 0
    augment: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        check_range("patch", self.patch, 0)
        if self.scale not in SCALES:
            raise ValueError(f"scale must be 2, 3, 4 or 8 (0 = the data's), got {self.scale}")
        check_sizes("width", self.width)
        check_range("n_blocks", self.n_blocks, 0)
        check_sizes("d_width", self.d_width)
        check_sizes("d_hidden", self.d_hidden)
        check_range("pixel_weight", self.pixel_weight, 0)
        check_range("adversarial_weight", self.adversarial_weight, 0)


@dataclass
class SRResNetConfig(SRGANConfig):
    """SRGANConfig with the SRResNet defaults: MSE content loss, no adversarial term (no discriminator)."""

    content_loss: Literal["mse", "l1", "perceptual"] = "mse"
    adversarial_weight: float = 0.0


SRResNetConfig.__doc__ = f"{SRResNetConfig.__doc__}\n\n    Attributes:\n" + \
    (SRGANConfig.__doc__ or "").split("Attributes:", 1)[1].lstrip("\n")


def resolve_scale(cfg: SRGANConfig) -> int:
    """The upscaling factor of a config on its data, or a ConfigError saying why there is none."""
    c, h, w = cfg.data_shape
    if cfg.a_channels:
        if cfg.pair_scale == 1:
            raise ConfigError("super-resolution needs low-resolution inputs, and this dataset's A and B images have "
                              "one size (train pix2pix for same-size translation)")
        if cfg.scale and cfg.scale != cfg.pair_scale:
            raise ConfigError(f"--scale {cfg.scale} does not match the dataset's pairs, which upscale "
                              f"{cfg.pair_scale}x (pass --scale {cfg.pair_scale} or leave it out)")
        return cfg.pair_scale
    s = cfg.scale or 4
    if h % s or w % s:
        raise ConfigError(f"the upscale factor {s} does not divide the image size {h}x{w} (pass --scale with a "
                          f"divisor, or --image-size a multiple of {s})")
    return s


def feature_maps(net: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The input of the last pooling layer of a LeNet-5 or VGG: its deepest full-resolution conv features."""
    layers = net.body if isinstance(net, LeNet5) else net.convs if isinstance(net, VGG) else None
    if not isinstance(layers, nn.Sequential):
        raise ConfigError(f"the perceptual loss takes a LeNet-5 or VGG classifier, not {type(net).__name__}")
    maps, h = x, x
    for layer in layers:
        if isinstance(layer, (nn.MaxPool2d, nn.AvgPool2d)):
            maps = h
        h = layer(h)
    return maps


@register("srgan", SRGANConfig, "SRGAN: SRResNet generator + VGG-style discriminator, perceptual + 1e-3 adversarial "
                                "loss; upscale")
class SRGAN(ImageTranslator):
    """Super-resolution by an SRResNet with an optional discriminator; see the module docstring."""

    config: SRGANConfig
    data_kinds = ("images", "pairs")
    command = "upscale"
    export_parts = ("upscale",)  # one tile: low-resolution -> upscaled images; tiling stays outside
    export_refusals = {"sample": "a super-resolution model upscales images instead of sampling them (export "
                                 "'upscale')",
                       "translate": "a super-resolution model's A -> B path is its 'upscale' part"}

    def __init__(self, config: SRGANConfig):
        super().__init__(config)
        self.scale = resolve_scale(config)
        c = self.b_shape[0]
        if config.residual and self.a_shape[0] not in (1, c):
            raise ConfigError(f"a residual generator (--residual) adds the bicubic upsampling of its "
                              f"{self.a_shape[0]}-channel input to {c}-channel outputs; pass --no-residual")
        self.generator = SRResNet(self.a_shape[0], c, self.scale, config.width, config.n_blocks, config.residual,
                                  config.block_norm, config.upsampling)
        self.discriminator = SRDiscriminator(c, config.d_width, config.d_hidden, config.d_norm) \
            if config.adversarial_weight > 0 else None
        self._setup_networks()
        self._feature_net: list[nn.Module] = []  # loaded on first use; a list keeps it out of the weights
        if config.generator_init:
            start = GenerativeModel.load(config.generator_init)
            if not isinstance(start, SRGAN):
                raise ConfigError(f"generator_init {config.generator_init} holds a '{start.registry_name}' model, "
                                  f"not srresnet or srgan")
            try:
                self.generator.load_state_dict(start.generator.state_dict())
            except RuntimeError:
                raise ConfigError(f"the generator of {config.generator_init} does not fit this model (different "
                                  f"width, blocks, scale or channels)") from None

    # --- shapes: plain images are their own high-resolution targets ----------------------------
    @property
    def a_shape(self) -> tuple[int, int, int]:
        c, h, w = self.config.data_shape
        a = self.config.a_channels
        return (a or c, h // self.scale, w // self.scale)

    def split(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        if self.config.a_channels:
            return super().split(batch)
        b = batch.x * 2 - 1
        return F.avg_pool2d(b, self.scale), b  # area downsampling

    def discriminator_names(self) -> list[str]:
        return ["discriminator"] if self.discriminator is not None else []

    def phases(self) -> list[Phase]:
        opt = self.optimizer()
        generator = Phase("generator", ("generator",), 1, opt, fresh_batch=self.discriminator is None)
        return [generator] if self.discriminator is None else [Phase("discriminator", ("discriminator",), 1, opt),
                                                                generator]

    # --- the content loss ------------------------------------------------------------------------
    def feature_net(self, device: torch.device) -> nn.Module | None:
        """The frozen classifier network of the perceptual loss (None: no network was given)."""
        if not self._feature_net:
            path = self.config.feature_net
            if not path:
                return None
            classifier = GenerativeModel.load(path)
            net = classifier.get_submodule("net")
            c_in = int(classifier.config.data_shape[0])
            if c_in != self.b_shape[0]:
                raise ConfigError(f"feature net {path} takes {c_in}-channel images, and this model makes "
                                  f"{self.b_shape[0]}-channel ones")
            self._feature_net.append(net.eval().requires_grad_(False))
        return self._feature_net[0].to(device)

    def content(self, fake: torch.Tensor, real: torch.Tensor) -> Losses:
        """The content loss of G(a) against b (both in [-1, 1]), and its parts."""
        cfg = self.config
        mse = F.mse_loss(fake.float(), real.float())
        if cfg.content_loss == "mse":
            return {"content": mse, "mse": mse.detach()}
        if cfg.content_loss == "l1":
            l1 = F.l1_loss(fake.float(), real.float())
            return {"content": l1, "l1": l1.detach(), "mse": mse.detach()}
        net = self.feature_net(fake.device)
        if net is None:  # built outside `genlab train` with no --feature-net: say so once, use pixels
            if not _WARNED:
                print("genlab: warning: srgan has no feature network for its perceptual loss (pass --feature-net DIR, "
                      "or train with `genlab train`, which uses the dataset's evaluation classifier); using pixel MSE",
                      file=sys.stderr)
                _WARNED.append(True)
            return {"content": mse, "mse": mse.detach()}
        phi_fake = feature_maps(net, (fake.float() + 1) / 2)
        with torch.no_grad():
            phi_real = feature_maps(net, (real.float() + 1) / 2)
        perceptual = F.mse_loss(phi_fake, phi_real)
        return {"content": perceptual + cfg.pixel_weight * mse, "perceptual": perceptual.detach(), "mse": mse.detach()}

    def training_view(self, a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """A training batch's random patch (``patch``) and flip / transpose (``augment``), the same for A and B."""
        cfg, s = self.config, self.scale
        h, w = a.shape[-2:]
        if 0 < cfg.patch < min(h, w):
            i, j = (int(torch.randint(0, 1 + n - cfg.patch, ())) for n in (h, w))
            a = a[..., i:i + cfg.patch, j:j + cfg.patch]
            b = b[..., i * s:(i + cfg.patch) * s, j * s:(j + cfg.patch) * s]
        if cfg.augment:
            flip, transpose = (bool(v) for v in torch.rand(2) < 0.5)
            if flip:
                a, b = a.flip(-1), b.flip(-1)
            if transpose and a.shape[-1] == a.shape[-2]:
                a, b = a.transpose(-1, -2), b.transpose(-1, -2)
        return a, b

    def losses(self, batch: Batch, phase: str = "generator") -> Losses:
        a, b = self.split(batch)  # (B, C, h, w), (B, C, H, W) in [-1, 1]
        if self.training:
            a, b = self.training_view(a, b)
        if phase == "discriminator" and self.discriminator is not None:
            with torch.no_grad():
                fake = self.generator(a)
            return self.adversarial_d_loss(self.discriminator, b, fake.to(b.dtype))
        if phase != "generator":
            raise ValueError(f"unknown phase '{phase}' (discriminator or generator)")
        fake = self.generator(a)
        parts = self.content(fake, b)
        loss = parts.pop("content")
        logs: Losses = {k: v.detach() for k, v in parts.items()}
        logs["psnr"] = (10 * math.log10(4.0) - 10 * torch.log10(logs["mse"].clamp_min(1e-12))).detach()  # range 2
        if self.discriminator is not None:
            adv = self.pair.generator(self.discriminator(fake))
            loss = loss + self.config.adversarial_weight * adv
            logs["adversarial"] = adv.detach()
        return {"loss": loss, **logs}


    # --- use -----------------------------------------------------------------------------------
    def split_packed(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(low-res, high-res) of packed pairs; plain images are their own targets, area-downsampled as inputs."""
        if self.config.a_channels:
            return super().split_packed(x)
        return F.avg_pool2d(x, self.scale), x

    @torch.no_grad()
    def translate(self, x: torch.Tensor, direction: str = "AB") -> torch.Tensor:
        if direction != "AB":
            raise ConfigError(f"model '{self.registry_name}' upscales (direction AB only), not '{direction}'")
        if x.dim() != 4 or x.shape[1] != self.a_shape[0]:
            raise ConfigError(f"model '{self.registry_name}' upscales {self.a_shape[0]}-channel images, got shape "
                              f"{tuple(x.shape)}")
        out = self.translating_network("AB")(x.to(self.device).float() * 2 - 1)
        return ((out.float() + 1) / 2).clamp(0, 1)

    @torch.no_grad()
    def upscale(self, x: torch.Tensor, tile: int = 128, overlap: int = 16) -> torch.Tensor:
        """Upscale images (N, C, h, w) in [0, 1] of any size to (N, C, s h, s w), tile by tile.

        Inputs larger than ``tile`` pixels are cut into tiles that overlap by ``overlap`` pixels on
        each side; only each tile's centre is kept, so memory stays bounded and seams fall where
        both neighbours saw the same context.
        """
        if tile <= 2 * overlap:
            raise ConfigError(f"--tile ({tile}) must exceed twice --overlap ({overlap})")
        n, c, h, w = x.shape
        if h <= tile and w <= tile:
            return self.translate(x)
        s, step = self.scale, tile - 2 * overlap
        out = torch.zeros(n, self.b_shape[0], h * s, w * s)
        for y in range(0, h, step):
            for x0 in range(0, w, step):
                ylo, xlo = max(0, y - overlap), max(0, x0 - overlap)
                yhi, xhi = min(h, y + step + overlap), min(w, x0 + step + overlap)
                up = self.translate(x[:, :, ylo:yhi, xlo:xhi]).cpu()
                ye, xe = min(h, y + step), min(w, x0 + step)
                out[:, :, y * s:ye * s, x0 * s:xe * s] = \
                    up[:, :, (y - ylo) * s:(ye - ylo) * s, (x0 - xlo) * s:(xe - xlo) * s]
        return out


@register("srresnet", SRResNetConfig, "SRResNet: residual super-resolution network trained on MSE (PSNR-oriented); "
                                      "upscale")
class SRResNetModel(SRGAN):
    """:class:`SRGAN` with :class:`SRResNetConfig` defaults (MSE only, no discriminator)."""
