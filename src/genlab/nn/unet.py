"""A U-Net for noise prediction (the DDPM network, Ho et al. 2020, Appendix B, sized by config).

    x (B, C, H, W), t (B,) [, y (B,)]
      -> sinusoidal embedding of t -> MLP -> temb (B, 4w)   (+ class embedding of y)
      -> 3x3 conv -> down path: per level, residual blocks (GroupNorm, SiLU, conv, + temb)
         [+ self-attention where the feature map is small], then a stride-2 conv
      -> middle: residual, attention, residual
      -> up path: per level, residual blocks on [features, skip] concatenations, then upsampling
      -> GroupNorm, SiLU, 3x3 conv -> (B, C, H, W)

Any image size works: downsampling rounds up (28 -> 14 -> 7 -> 4) and upsampling returns to the
size of the matching skip connection. Class conditioning adds a learned embedding of the label to
the time embedding; label ``num_classes`` is the "no label" token that classifier-free guidance
trains by label dropout.
"""
from __future__ import annotations

import math
import typing
from collections.abc import Iterable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genlab.config import check_sizes


def check_unet_settings(base_width: int, width_mults: typing.Sequence[int], blocks_per_level: int,
                        attention_size: int, attention_heads: int, norm_groups: int) -> None:
    """Refuse U-Net settings that cannot build (the diffusion and score models' configs share them).

    Raises:
        ValueError: naming the setting.
    """
    check_sizes("base_width", base_width)
    check_sizes("width_mults", width_mults, maximum=64, non_empty=True)
    check_sizes("base_width * width_mults", base_width * max(width_mults))
    check_sizes("blocks_per_level", blocks_per_level, maximum=64)
    check_sizes("attention_size", attention_size, minimum=0)
    check_sizes("attention_heads", attention_heads)
    check_sizes("norm_groups", norm_groups)
    if attention_size > 0:
        for m in width_mults:
            if (base_width * m) % attention_heads:
                raise ValueError(f"attention_heads ({attention_heads}) must divide the channels of every U-Net level "
                                 f"(base_width * width_mults = {base_width * m} does not)")


def timestep_embedding(t: Tensor, dim: int, max_period: float = 10000.0) -> Tensor:
    """Sinusoidal embedding of integer steps (Vaswani et al. 2017, section 3.5, as used by DDPM).

    emb[:, i] = sin(t / max_period^(i / half)), emb[:, half + i] = cos(...), i < half = dim // 2.

    Args:
        t: (B,) steps (any numeric dtype).
        dim: embedding size (an odd size gets a zero last column).

    Returns:
        (B, dim) float32.
    """
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32, device=t.device) / half)
    args = t.float()[:, None] * freqs[None]  # (B, half)
    emb = torch.cat([torch.sin(args), torch.cos(args)], dim=1)
    return F.pad(emb, (0, dim % 2))


def group_norm(channels: int, groups: int) -> nn.GroupNorm:
    """GroupNorm with the largest group count <= ``groups`` that divides ``channels``."""
    return nn.GroupNorm(math.gcd(groups, channels), channels)



def zero_init(conv: nn.Conv2d) -> None:
    """Zero a convolution's weight and bias: a residual branch or output that starts as nothing."""
    nn.init.zeros_(conv.weight)
    if conv.bias is not None:
        nn.init.zeros_(conv.bias)


class ResidualBlock(nn.Module):
    """GroupNorm-SiLU-conv, add the projected time embedding, GroupNorm-SiLU-dropout-conv, + skip.

    The second convolution starts at zero, so each block starts as the identity (DDPM's init).
    """

    def __init__(self, c_in: int, c_out: int, temb_dim: int, groups: int, dropout: float = 0.0):
        super().__init__()
        self.norm1, self.conv1 = group_norm(c_in, groups), nn.Conv2d(c_in, c_out, 3, padding=1)
        self.temb = nn.Linear(temb_dim, c_out)
        self.norm2, self.drop = group_norm(c_out, groups), nn.Dropout(dropout)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1)
        zero_init(self.conv2)
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x: Tensor, temb: Tensor) -> Tensor:
        h = self.conv1(F.silu(self.norm1(x)))  # (B, c_out, H, W)
        h = h + self.temb(F.silu(temb))[:, :, None, None]
        h = self.conv2(self.drop(F.silu(self.norm2(h))))
        return self.skip(x) + h


class SelfAttention(nn.Module):
    """Multi-head self-attention over the H*W positions, with a residual connection."""

    def __init__(self, channels: int, heads: int, groups: int):
        super().__init__()
        if channels % heads:
            raise ValueError(f"attention over {channels} channels cannot be split into {heads} heads")
        self.heads = heads
        self.norm = group_norm(channels, groups)
        self.qkv = nn.Conv2d(channels, 3 * channels, 1)
        self.out = nn.Conv2d(channels, channels, 1)
        zero_init(self.out)

    def forward(self, x: Tensor, temb: Tensor | None = None) -> Tensor:
        b, c, h, w = x.shape
        q, k, v = self.qkv(self.norm(x)).reshape(b, 3, self.heads, c // self.heads, h * w).unbind(1)  # (B, nh, d, HW)
        # (B, nh, HW, d)
        y = F.scaled_dot_product_attention(q.transpose(-1, -2), k.transpose(-1, -2), v.transpose(-1, -2))
        return x + self.out(y.transpose(-1, -2).reshape(b, c, h, w))


class Downsample(nn.Module):
    """3x3 stride-2 convolution: (H, W) -> (ceil(H/2), ceil(W/2))."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, stride=2, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(x)


class Upsample(nn.Module):
    """Nearest-neighbour upsampling to a given size, then a 3x3 convolution."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: Tensor, size: tuple[int, int]) -> Tensor:
        return self.conv(F.interpolate(x, size=size, mode="nearest"))


class Level(nn.Module):
    """The residual blocks of one resolution, each optionally followed by self-attention."""

    def __init__(self, widths_in: list[int], c_out: int, temb_dim: int, groups: int, dropout: float,
                 attention: bool, heads: int):
        super().__init__()
        self.blocks = nn.ModuleList(ResidualBlock(c, c_out, temb_dim, groups, dropout) for c in widths_in)
        self.attns = nn.ModuleList(SelfAttention(c_out, heads, groups) if attention else nn.Identity()
                                   for _ in widths_in)


class UNet(nn.Module):
    """Noise-prediction U-Net: (x_t, t[, y]) -> a tensor shaped like x_t.

    Args:
        channels: image channels C (input and output).
        image_size: (H, W), to decide where attention goes.
        base_width: channels of the first level.
        width_mults: channels of level i = base_width * width_mults[i]; one level per entry, each
            but the last followed by a stride-2 downsampling.
        blocks_per_level: residual blocks per level on the down path (the up path has one more).
        attention_size: self-attention after the residual blocks of every level whose feature map
            is at most this many pixels on its longer side, and in the middle (0 = no attention).
        attention_heads: heads of each self-attention layer.
        dropout: dropout inside the residual blocks.
        norm_groups: GroupNorm groups (reduced to a divisor of the channel count where needed).
        num_classes: > 0 adds class conditioning; label ``num_classes`` means "no label".
    """

    def __init__(self, channels: int, image_size: tuple[int, int], base_width: int = 32,
                 width_mults: tuple[int, ...] = (1, 2, 2), blocks_per_level: int = 1, attention_size: int = 8,
                 attention_heads: int = 1, dropout: float = 0.0, norm_groups: int = 8, num_classes: int = 0):
        super().__init__()
        if not width_mults or min(width_mults) < 1 or base_width < 1 or blocks_per_level < 1:
            raise ValueError("the U-Net needs base_width >= 1, blocks_per_level >= 1 and positive width_mults")
        temb_dim = 4 * base_width
        self.base_width, self.num_classes = base_width, num_classes
        self.time_mlp = nn.Sequential(nn.Linear(base_width, temb_dim), nn.SiLU(), nn.Linear(temb_dim, temb_dim))
        self.label_embedding = nn.Embedding(num_classes + 1, temb_dim) if num_classes > 0 else None
        self.stem = nn.Conv2d(channels, base_width, 3, padding=1)

        widths = [base_width * m for m in width_mults]
        sizes = [max(image_size)]
        for _ in widths[1:]:
            sizes.append((sizes[-1] + 1) // 2)
        attend = [0 < attention_size and s <= attention_size for s in sizes]

        # down path: record the width of every tensor pushed onto the skip stack
        skips, c = [base_width], base_width
        self.down = nn.ModuleList()
        self.downsample = nn.ModuleList()
        for i, w in enumerate(widths):
            ins = [c] + [w] * (blocks_per_level - 1)
            self.down.append(Level(ins, w, temb_dim, norm_groups, dropout, attend[i], attention_heads))
            c = w
            skips += [w] * blocks_per_level
            if i < len(widths) - 1:
                self.downsample.append(Downsample(c))
                skips.append(c)
        self.mid1 = ResidualBlock(c, c, temb_dim, norm_groups, dropout)
        self.mid_attn = SelfAttention(c, attention_heads, norm_groups) if attention_size > 0 else nn.Identity()
        self.mid2 = ResidualBlock(c, c, temb_dim, norm_groups, dropout)

        # up path: blocks_per_level + 1 blocks per level, each eating one skip
        self.up = nn.ModuleList()
        self.upsample = nn.ModuleList()
        for i, w in reversed(list(enumerate(widths))):
            ins = []
            for _ in range(blocks_per_level + 1):
                ins.append(c + skips.pop())
                c = w
            self.up.append(Level(ins, w, temb_dim, norm_groups, dropout, attend[i], attention_heads))
            if i > 0:
                self.upsample.append(Upsample(c))
        last = nn.Conv2d(c, channels, 3, padding=1)
        zero_init(last)
        self.head = nn.Sequential(group_norm(c, norm_groups), nn.SiLU(), last)

    def embed(self, t: Tensor, labels: Tensor | None) -> Tensor:
        """Time (and label) embedding, (B, 4 * base_width)."""
        temb = self.time_mlp(timestep_embedding(t, self.base_width))
        if self.label_embedding is not None:
            if labels is None:
                labels = torch.full_like(t, self.num_classes, dtype=torch.long)  # the "no label" token
            temb = temb + self.label_embedding(labels)
        return temb

    def forward(self, x: Tensor, t: Tensor, labels: Tensor | None = None) -> Tensor:
        """Args: x (B, C, H, W), t (B,) integer steps, labels (B,) in [0, num_classes] or None.

        Returns:
            (B, C, H, W), the prediction (noise, clean image or v, as the model trains it).
        """
        temb = self.embed(t, labels)  # (B, 4w)
        h = self.stem(x)  # (B, w, H, W)
        stack = [h]
        for i, level in enumerate(typing.cast("Iterable[Level]", self.down)):
            for block, attn in zip(level.blocks, level.attns, strict=True):
                h = attn(block(h, temb))
                stack.append(h)
            if i < len(self.downsample):
                h = self.downsample[i](h)  # (B, c, ceil(H/2), ceil(W/2))
                stack.append(h)
        h = self.mid2(self.mid_attn(self.mid1(h, temb)), temb)
        for i, level in enumerate(typing.cast("Iterable[Level]", self.up)):
            for block, attn in zip(level.blocks, level.attns, strict=True):
                h = attn(block(torch.cat([h, stack.pop()], dim=1), temb))
            if i < len(self.upsample):
                h = self.upsample[i](h, stack[-1].shape[-2:])
        return self.head(h)
