"""Network blocks for clips (B, T, C, H, W): frames through 2-D layers, time through 1-D/3-D ones.

* :func:`frames` / :func:`unframes`: fold time into the batch for per-frame 2-D layers and back;
* :class:`TemporalMix`: a residual 1-D convolution over time at every pixel (zero-initialized, so a
  block starts as the per-frame image block it follows);
* :class:`TemporalAttention`: residual self-attention over the T frames at every pixel;
* :class:`SpaceTimeUNet`: the noise-prediction U-Net of :mod:`genlab.nn.unet` with factorized
  space-time blocks: every residual block is spatial (per frame) and followed by a temporal mix,
  and the middle adds temporal attention (a "(2+1)-D" U-Net, as in video diffusion models);
  ``attention='every'`` adds temporal attention after every block;
* :class:`VideoDiscriminator`: 3-D convolutions over (T, H, W) -> features (B, F), the video
  discriminator of MoCoGAN.
"""
from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genlab.nn.conv import downsample_sizes
from genlab.nn.unet import Downsample, ResidualBlock, Upsample, group_norm, timestep_embedding


def frames(x: Tensor) -> Tensor:
    """(B, T, C, H, W) -> (B * T, C, H, W)."""
    return x.reshape(x.shape[0] * x.shape[1], *x.shape[2:])


def unframes(x: Tensor, t: int) -> Tensor:
    """(B * T, C, H, W) -> (B, T, C, H, W)."""
    return x.reshape(-1, t, *x.shape[1:])


class TemporalMix(nn.Module):
    """x + conv1d_over_time(SiLU(GroupNorm(x))) on frames (B * T, C, H, W); starts as the identity."""

    def __init__(self, channels: int, groups: int, kernel: int = 3):
        super().__init__()
        self.norm = group_norm(channels, groups)
        self.conv = nn.Conv1d(channels, channels, kernel, padding=kernel // 2)
        nn.init.zeros_(self.conv.weight)
        nn.init.zeros_(self.conv.bias)  # type: ignore[arg-type]  # Conv1d has a bias here

    def forward(self, x: Tensor, t: int) -> Tensor:
        bt, c, h, w = x.shape
        y = F.silu(self.norm(x)).reshape(bt // t, t, c, h * w).permute(0, 3, 2, 1)  # (B, HW, C, T)
        y = self.conv(y.reshape(-1, c, t))  # (B * HW, C, T)
        y = y.reshape(bt // t, h * w, c, t).permute(0, 3, 2, 1).reshape(bt, c, h, w)
        return x + y


class TemporalAttention(nn.Module):
    """x + attention over the T frames at each pixel (multi-head, zero-initialized output)."""

    def __init__(self, channels: int, heads: int, groups: int):
        super().__init__()
        self.heads = heads if channels % heads == 0 else 1
        self.norm = group_norm(channels, groups)
        self.qkv = nn.Linear(channels, 3 * channels)
        self.out = nn.Linear(channels, channels)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, x: Tensor, t: int) -> Tensor:
        bt, c, h, w = x.shape
        y = self.norm(x).reshape(bt // t, t, c, h * w).permute(0, 3, 1, 2).reshape(-1, t, c)  # (B*HW, T, C)
        # -1, not len(y): a traced (exported) batch stays dynamic
        q, k, v = self.qkv(y).reshape(-1, t, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        y = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(-1, t, c)  # (B*HW, T, C)
        y = self.out(y).reshape(bt // t, h * w, t, c).permute(0, 2, 3, 1).reshape(bt, c, h, w)
        return x + y


class SpaceTimeBlock(nn.Module):
    """A spatial residual block (per frame, with the time embedding) followed by a temporal mix, and
    optionally by temporal attention (``heads`` > 0)."""

    def __init__(self, c_in: int, c_out: int, temb_dim: int, groups: int, dropout: float, heads: int = 0):
        super().__init__()
        self.spatial = ResidualBlock(c_in, c_out, temb_dim, groups, dropout)
        self.temporal = TemporalMix(c_out, groups)
        self.attention = TemporalAttention(c_out, heads, groups) if heads > 0 else None

    def forward(self, x: Tensor, temb: Tensor, t: int) -> Tensor:
        h = self.temporal(self.spatial(x, temb), t)
        return h if self.attention is None else self.attention(h, t)


class SpaceTimeUNet(nn.Module):
    """Noise prediction for clips: (B, T, C, H, W), steps (B,) -> (B, T, C, H, W).

    Args:
        channels: C.
        base_width: channels at full resolution; level i has base_width * width_mults[i].
        width_mults: one entry per resolution level.
        groups: GroupNorm groups.
        heads: heads of the temporal attention in the middle.
        dropout: dropout in the residual blocks.
        attention: 'mid': temporal attention in the middle only; 'every': also after every block's
            temporal mix (per-pixel attention over the T frames at every resolution).
    """

    def __init__(self, channels: int, base_width: int = 32, width_mults: tuple[int, ...] = (1, 2),
                 groups: int = 8, heads: int = 4, dropout: float = 0.0, attention: str = "mid"):
        super().__init__()
        widths = [base_width * m for m in width_mults]
        self.base_width = base_width
        temb_dim = 4 * base_width
        self.temb = nn.Sequential(nn.Linear(base_width, temb_dim), nn.SiLU(), nn.Linear(temb_dim, temb_dim))
        self.stem = nn.Conv2d(channels, base_width, 3, padding=1)
        self.down = nn.ModuleList()
        self.downsample = nn.ModuleList()
        c = base_width
        skips = []
        block_heads = heads if attention == "every" else 0
        for i, w in enumerate(widths):
            self.down.append(SpaceTimeBlock(c, w, temb_dim, groups, dropout, block_heads))
            c = w
            skips.append(c)
            self.downsample.append(Downsample(c) if i + 1 < len(widths) else nn.Identity())
        self.mid = SpaceTimeBlock(c, c, temb_dim, groups, dropout)
        self.mid_attention = TemporalAttention(c, heads, groups)
        self.up = nn.ModuleList()
        self.upsample = nn.ModuleList()
        for i, w in reversed(list(enumerate(widths))):
            self.up.append(SpaceTimeBlock(c + skips[i], w, temb_dim, groups, dropout, block_heads))
            c = w
            self.upsample.append(Upsample(c) if i > 0 else nn.Identity())
        self.out_norm = group_norm(c, groups)
        self.out = nn.Conv2d(c, channels, 3, padding=1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)  # type: ignore[arg-type]  # Conv2d has a bias here

    def forward(self, x: Tensor, steps: Tensor) -> Tensor:
        t = x.shape[1]
        temb = self.temb(timestep_embedding(steps, self.base_width))  # (B, E)
        temb = temb.repeat_interleave(t, dim=0)  # (B * T, E): one per frame
        h = self.stem(frames(x))
        skips = []
        for block, down in zip(self.down, self.downsample, strict=True):
            h = block(h, temb, t)
            skips.append(h)
            h = down(h)
        h = self.mid_attention(self.mid(h, temb, t), t)
        for block, up in zip(self.up, self.upsample, strict=True):
            skip = skips.pop()
            if h.shape[-2:] != skip.shape[-2:]:
                h = F.interpolate(h, size=skip.shape[-2:], mode="nearest")
            h = block(torch.cat([h, skip], 1), temb, t)
            if not isinstance(up, nn.Identity):
                h = up(h, (h.shape[-2] * 2, h.shape[-1] * 2))
        return unframes(self.out(F.silu(self.out_norm(h))), t)


NORMS_3D: dict[str, Callable[[int], nn.Module]] = {
    "batch": nn.BatchNorm3d,
    "layer": lambda c: nn.GroupNorm(1, c),  # each clip over (C, T, H, W)
    "none": lambda c: nn.Identity(),
}


class VideoDiscriminator(nn.Module):
    """Clip (B, T, C, H, W) -> features (B, out_features): 3-D convolutions, LeakyReLU 0.2.

    Each level halves H and W (kernel 4, stride 2) and T where it is at least 4 (else keeps it).

    Args:
        in_shape: (T, C, H, W).
        widths: channels per level.
        norm: 'none', 'batch' or 'layer' after every level but the first (as DCGAN's discriminator).
        differences: also feed the frame differences x_t - x_{t-1} (x_0 - x_0 = 0 for the first frame)
            as C more input channels, so motion (or its absence) is in the first layer's input.
    """

    def __init__(self, in_shape: tuple[int, ...], widths: tuple[int, ...], norm: str = "none",
                 differences: bool = False):
        super().__init__()
        t, c, h, _ = in_shape
        self.differences = differences
        c = 2 * c if differences else c
        sizes = downsample_sizes(h, len(widths))
        layers: list[nn.Module] = []
        for i, width in enumerate(widths[: len(sizes) - 1]):
            kt, st, pt = (4, 2, 1) if t >= 4 else (1, 1, 0)
            layers.append(nn.Conv3d(c, width, (kt, 4, 4), (st, 2, 2), (pt, 1, 1)))
            if i and norm != "none":
                layers.append(NORMS_3D[norm](width))
            layers.append(nn.LeakyReLU(0.2))
            t = (t + 2 * pt - kt) // st + 1
            c = width
        layers.append(nn.Flatten())
        self.net = nn.Sequential(*layers)
        self.out_features = c * t * sizes[-1] ** 2

    def forward(self, x: Tensor) -> Tensor:
        if self.differences:
            x = torch.cat([x, torch.cat([torch.zeros_like(x[:, :1]), x[:, 1:] - x[:, :-1]], 1)], 2)
        return self.net(x.transpose(1, 2))  # Conv3d takes (B, C, T, H, W)


class ClipClassifierNet(nn.Module):
    """Clip (B, T, C, H, W) in [0, 1] -> class logits, with ``features`` (B, feature_dim): a small 3-D CNN.

    Three 3-D convolutions (kernel 3, ReLU, batch norm) halving H and W at the second and third and T at
    the third where T >= 4; pooled to (1, 4, 4), then a hidden layer of ``hidden`` units (the features).
    The classifier of the clip-level FD (``classifier --arch clip3d``).

    Args:
        in_shape: (T, C, H, W).
        num_classes: classes.
        width: channels of the first level (then 2x, 4x).
        hidden: size of the feature layer.
    """

    def __init__(self, in_shape: tuple[int, ...], num_classes: int, width: int = 16, hidden: int = 128):
        super().__init__()
        t, c, _, _ = in_shape
        st = 2 if t >= 4 else 1
        layers: list[nn.Module] = []
        for c_in, c_out, stride in ((c, width, (1, 1, 1)), (width, 2 * width, (1, 2, 2)),
                                    (2 * width, 4 * width, (st, 2, 2))):
            layers += [nn.Conv3d(c_in, c_out, 3, stride, 1), nn.BatchNorm3d(c_out), nn.ReLU()]
        layers += [nn.AdaptiveAvgPool3d((1, 4, 4)), nn.Flatten(), nn.Linear(4 * width * 16, hidden), nn.ReLU()]
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(hidden, num_classes)
        self.feature_dim = hidden

    def features(self, x: Tensor) -> Tensor:
        return self.body(x.transpose(1, 2))  # Conv3d takes (B, C, T, H, W)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x))
