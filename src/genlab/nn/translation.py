"""Networks of image-to-image translation and super-resolution, shared by pix2pix, CycleGAN and SRGAN.

* :class:`UNetGenerator` (Isola et al. 2017, appendix 6.1.1): an encoder-decoder of stride-2 4x4
  convolutions with skip connections between mirrored levels; dropout 0.5 on the innermost decoder
  levels is the generator's noise source.
* :class:`ResnetGenerator` (Zhu et al. 2017, appendix 7.2, after Johnson et al. 2016): c7s1-w,
  two stride-2 downsamplings, residual blocks, two upsamplings, c7s1-C with tanh.
* :class:`PatchGAN` (Isola et al. 2017, appendix 6.1.2): a fully convolutional discriminator whose
  outputs each judge one patch of the input; ``n_layers`` = 3 gives the 70x70 PatchGAN
  (:func:`patchgan_layers` lists its (kernel, stride) for :func:`genlab.cnn.arithmetic.receptive_field`).
* :class:`SRResNet` and :class:`SRDiscriminator` (Ledig et al. 2017, fig. 4): residual blocks with
  batch norm and PReLU, pixel-shuffle upsampling x2 (x3) per stage; a VGG-style discriminator of
  3x3 convolutions, strided every second layer.

Generators map [-1, 1] images to [-1, 1] (tanh), except :class:`SRResNet`, whose output is linear
(as in the paper; callers clamp). Any image size works: the U-Net and ResNet generators resize
their upsampled maps to the matching encoder level, the PatchGAN caps ``n_layers`` so at least
one patch fits, and the SR discriminator pools globally before its dense layers.
"""
from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from genlab.nn.gan_blocks import NORMS_2D

# the GAN family's 2-D norms plus instance norm (CycleGAN, and pix2pix at batch size 1)
TRANSLATION_NORMS: dict[str, Callable[[int], nn.Module]] = {**NORMS_2D, "instance": nn.InstanceNorm2d}


def _norm(name: str, channels: int) -> nn.Module:
    return TRANSLATION_NORMS[name](channels)


def _match(x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """x resized (nearest) to like's spatial size when an odd size made them differ."""
    return x if x.shape[-2:] == like.shape[-2:] else F.interpolate(x, size=like.shape[-2:], mode="nearest")


def unet_depth(size: int, depth: int) -> int:
    """Levels a U-Net of at most ``depth`` levels uses on ``size`` pixels: halve while the map has >= 2 pixels."""
    levels = 0
    while levels < depth and size >= 2:
        size //= 2
        levels += 1
    return max(1, levels)


class UNetGenerator(nn.Module):
    """(B, in_channels, H, W) -> (B, out_channels, H, W) in [-1, 1], the pix2pix U-Net.

    Encoder level i: 4x4 stride-2 conv to width * min(2^i, 8) channels, norm (not on the first and
    innermost levels), LeakyReLU 0.2. Decoder level i: ReLU, 4x4 stride-2 transposed conv, norm,
    dropout on the ``dropout_levels`` innermost levels, then concatenation with encoder level i-1.

    Args:
        depth: levels at most (8 at 256 px: a 1x1 bottleneck); fewer on small images (:func:`unet_depth`).
        dropout: dropout probability of the innermost decoder levels (0.5 in the paper).
        dropout_levels: how many innermost decoder levels get dropout (3 in the paper).
    """

    def __init__(self, in_channels: int, out_channels: int, size: int, width: int = 64, depth: int = 8,
                 norm: str = "batch", dropout: float = 0.5, dropout_levels: int = 3):
        super().__init__()
        levels = unet_depth(size, depth)
        widths = [width * min(2 ** i, 8) for i in range(levels)]
        self.down = nn.ModuleList()
        c = in_channels
        for i, w in enumerate(widths):
            layers: list[nn.Module] = [nn.Conv2d(c, w, 4, 2, 1)]
            if 0 < i < levels - 1:
                layers.append(_norm(norm, w))
            self.down.append(nn.Sequential(*layers))
            c = w
        self.up = nn.ModuleList()
        for i in reversed(range(levels)):  # innermost first
            inner = i == levels - 1
            c_in = widths[i] if inner else widths[i] * 2  # the innermost level has no skip to concatenate
            if i == 0:
                self.up.append(nn.Sequential(nn.ReLU(), nn.ConvTranspose2d(c_in, out_channels, 4, 2, 1), nn.Tanh()))
                continue
            layers = [nn.ReLU(), nn.ConvTranspose2d(c_in, widths[i - 1], 4, 2, 1), _norm(norm, widths[i - 1])]
            if levels - 1 - i < dropout_levels and dropout > 0:
                layers.append(nn.Dropout(dropout))
            self.up.append(nn.Sequential(*layers))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        h = x
        for i, block in enumerate(self.down):
            h = block(h if i == 0 else F.leaky_relu(h, 0.2))
            skips.append(h)
        for j, block in enumerate(self.up):
            if j > 0:
                skip = skips[len(skips) - 1 - j]
                h = torch.cat([_match(h, skip), skip], 1)
            h = block(h)
        return _match(h, x)  # (B, out_channels, H, W)


class ResidualBlock(nn.Module):
    """x + [reflect-pad, 3x3 conv, norm, ReLU, (dropout), reflect-pad, 3x3 conv, norm](x)."""

    def __init__(self, channels: int, norm: str = "instance", dropout: float = 0.0):
        super().__init__()
        layers: list[nn.Module] = [nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3), _norm(norm, channels),
                                   nn.ReLU()]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        layers += [nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3), _norm(norm, channels)]
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class ResnetGenerator(nn.Module):
    """(B, in_channels, H, W) -> (B, out_channels, H, W) in [-1, 1], CycleGAN's generator.

    c7s1-w, d2w, d4w, R4w x n_blocks, u2w, uw, c7s1-out + tanh (Zhu et al. 2017, appendix 7.2;
    6 blocks at 128 px, 9 at 256). Reflection padding; the two downsamplings are skipped on maps
    smaller than 4 pixels.
    """

    def __init__(self, in_channels: int, out_channels: int, size: int, width: int = 64, n_blocks: int = 9,
                 norm: str = "instance", n_down: int = 2):
        super().__init__()
        levels, s = 0, size
        while levels < n_down and s >= 4:  # keep maps of at least 2 pixels for the reflection padding
            s, levels = (s + 1) // 2, levels + 1
        n_down = levels
        pad = min(3, size - 1)
        layers: list[nn.Module] = [nn.ReflectionPad2d(pad), nn.Conv2d(in_channels, width, 2 * pad + 1),
                                   _norm(norm, width), nn.ReLU()]
        c = width
        for _ in range(n_down):
            layers += [nn.Conv2d(c, c * 2, 3, 2, 1), _norm(norm, c * 2), nn.ReLU()]
            c *= 2
        layers += [ResidualBlock(c, norm) for _ in range(n_blocks)]
        for _ in range(n_down):
            layers += [nn.ConvTranspose2d(c, c // 2, 3, 2, 1, output_padding=1), _norm(norm, c // 2), nn.ReLU()]
            c //= 2
        self.body = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.ReflectionPad2d(pad), nn.Conv2d(c, out_channels, 2 * pad + 1), nn.Tanh())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(_match(self.body(x), x))  # (B, out_channels, H, W)


def patchgan_levels(size: int, n_layers: int) -> int:
    """``n_layers`` capped so the last map still has at least one patch: floor(size / 2^n) - 2 >= 1."""
    n = n_layers
    while n > 0 and size // 2 ** n - 2 < 1:
        n -= 1
    return n


def patchgan_layers(n_layers: int) -> list[tuple[int, int]]:
    """(kernel, stride) of every convolution of a PatchGAN, first first (for the receptive field)."""
    return [(4, 2)] * n_layers + [(4, 1), (4, 1)]


class PatchGAN(nn.Module):
    """(B, in_channels, H, W) -> raw scores (B, 1, h, w) in float32, one per overlapping patch.

    C64 (no norm) - C128 - ... (n_layers stride-2 4x4 convs, width doubling up to 8x), one stride-1
    4x4 conv, then a stride-1 4x4 conv to one channel; LeakyReLU 0.2. With n_layers = 3 every output
    sees a 70x70 patch. A conditional discriminator gets the input image concatenated to the
    output (in_channels = Ca + Cb).
    """

    def __init__(self, in_channels: int, size: int, width: int = 64, n_layers: int = 3, norm: str = "batch"):
        super().__init__()
        self.n_layers = patchgan_levels(size, n_layers)
        layers: list[nn.Module] = []
        c = in_channels
        for i in range(self.n_layers + 1):
            w = width * min(2 ** i, 8)
            stride = 2 if i < self.n_layers else 1
            layers.append(nn.Conv2d(c, w, 4, stride, 1, bias=i == 0 or norm == "none"))
            if i > 0:
                layers.append(_norm(norm, w))
            layers.append(nn.LeakyReLU(0.2))
            c = w
        layers.append(nn.Conv2d(c, 1, 4, 1, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).float()  # (B, 1, h, w)


class SRResidualBlock(nn.Module):
    """x + [3x3 conv, BN, PReLU, 3x3 conv, BN](x) (Ledig et al. 2017, fig. 4); ``norm`` False drops the
    BNs (as EDSR does: batch statistics of small crops add noise to a regression)."""

    def __init__(self, channels: int, norm: bool = True):
        super().__init__()

        def bn() -> nn.Module:
            return nn.BatchNorm2d(channels) if norm else nn.Identity()  # Identity keeps the weights' names
        self.body = nn.Sequential(nn.Conv2d(channels, channels, 3, 1, 1), bn(), nn.PReLU(),
                                  nn.Conv2d(channels, channels, 3, 1, 1), bn())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


def upsampling_stages(scale: int) -> list[int]:
    """Pixel-shuffle factors whose product is ``scale``: 2s (and one 3)."""
    stages, rest = [], scale
    while rest % 2 == 0:
        stages.append(2)
        rest //= 2
    if rest == 3:
        stages.append(3)
        rest = 1
    if rest != 1:
        raise ValueError(f"scale {scale} is not 2^k or 3 * 2^k")
    return stages


class SRResNet(nn.Module):
    """(B, in_channels, h, w) -> (B, out_channels, s h, s w), linear output (images in [-1, 1] when trained).

    9x9 conv + PReLU; ``n_blocks`` residual blocks; 3x3 conv + BN and the long skip; per upsampling
    stage a 3x3 conv to f^2 * width channels, PixelShuffle(f), PReLU; a 9x9 conv to the image.

    ``upsampling`` 'subpixel' (a departure from the paper, as in ESPCN / EDSR's last layer) keeps every
    conv at the input's resolution: no upsampling stages, and the last conv is a 3x3 to
    ``out_channels * scale^2`` channels followed by one PixelShuffle(scale); about 7x cheaper per image
    at 4x (the paper's 9x9 conv at the output resolution and its 2x stage dominate the cost).
    ``norm`` False drops the BNs of the residual blocks.

    With ``residual`` the network predicts a correction to the bicubic upsampling of its input
    (a departure from the paper, which learns the whole image): the output is bicubic(x) + tail(...),
    and the last conv starts at zero, so an untrained network is exactly bicubic upsampling and
    training improves from there. A 1-channel input is repeated to ``out_channels`` for the bicubic
    term; other channel mismatches cannot be residual.
    """

    def __init__(self, in_channels: int, out_channels: int, scale: int = 4, width: int = 64, n_blocks: int = 16,
                 residual: bool = False, norm: bool = True, upsampling: str = "paper"):
        super().__init__()
        if residual and in_channels not in (1, out_channels):
            raise ValueError(f"a residual SRResNet needs {out_channels} or 1 input channels, got {in_channels}")
        if upsampling not in ("paper", "subpixel"):
            raise ValueError(f"upsampling must be 'paper' or 'subpixel', got {upsampling!r}")
        self.scale = scale
        self.residual = residual
        self.head = nn.Sequential(nn.Conv2d(in_channels, width, 9, 1, 4), nn.PReLU())
        self.blocks = nn.Sequential(*[SRResidualBlock(width, norm) for _ in range(n_blocks)],
                                    nn.Conv2d(width, width, 3, 1, 1), nn.BatchNorm2d(width) if norm else nn.Identity())
        up: list[nn.Module] = []
        if upsampling == "subpixel":  # the last conv makes scale^2 sub-pixels per input pixel
            self.upsample = nn.Sequential()
            self.tail: nn.Module = nn.Sequential(nn.Conv2d(width, out_channels * scale * scale, 3, 1, 1),
                                                 nn.PixelShuffle(scale))
        else:
            for f in upsampling_stages(scale):
                up += [nn.Conv2d(width, width * f * f, 3, 1, 1), nn.PixelShuffle(f), nn.PReLU()]
            self.upsample = nn.Sequential(*up)
            self.tail = nn.Conv2d(width, out_channels, 9, 1, 4, bias=True)
        if residual:  # start at the bicubic upsampling
            with torch.no_grad():
                for p in self.tail.parameters():
                    p.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.head(x)
        h = h + self.blocks(h)  # the long skip
        out = self.tail(self.upsample(h))  # (B, out_channels, s h, s w)
        if not self.residual:
            return out
        base = F.interpolate(x.float(), size=out.shape[-2:], mode="bicubic", align_corners=False)
        return out + base.expand_as(out).to(out.dtype)


class SRDiscriminator(nn.Module):
    """(B, C, H, W) -> raw scores (B,) in float32: SRGAN's VGG-style discriminator.

    Pairs of 3x3 convs (stride 1, then stride 2) with widths w, 2w, 4w, 8w, BN after all but the
    first, LeakyReLU 0.2; then global average pooling (so any size works; the paper flattens a
    fixed 96 px map), dense ``hidden``, LeakyReLU, dense 1.
    """

    def __init__(self, in_channels: int, width: int = 64, hidden: int = 1024, norm: str = "batch"):
        super().__init__()
        layers: list[nn.Module] = []
        c = in_channels
        for i in range(8):
            w = width * 2 ** (i // 2)
            layers.append(nn.Conv2d(c, w, 3, 1 + i % 2, 1))
            if i > 0:
                layers.append(_norm(norm, w))
            layers.append(nn.LeakyReLU(0.2))
            c = w
        layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, hidden), nn.LeakyReLU(0.2), nn.Linear(hidden, 1)]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(1).float()  # (B,)
