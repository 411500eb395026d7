"""Convolutional encoder and its mirror-image transposed-convolution decoder.

The encoder halves the spatial size with stride-2 convolutions (kernel 4, padding 1, so
(n + 2 - 4) / 2 + 1 = n / 2 exactly) while the size is even and above 4 and widths remain:
28 -> 14 -> 7, 32 -> 16 -> 8 -> 4, 64 -> 32 -> 16 -> 8 -> 4. The decoder retraces the same sizes
with transposed convolutions (kernel 4, stride 2, padding 1: (n - 1) * 2 - 2 + 4 = 2n).
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from genlab.nn.mlp import activation


def downsample_sizes(size: int, levels: int) -> list[int]:
    """Spatial sizes after each stride-2 level: [size, size/2, ...] while even and above 4."""
    sizes = [size]
    while len(sizes) <= levels and sizes[-1] % 2 == 0 and sizes[-1] > 4:
        sizes.append(sizes[-1] // 2)
    return sizes


def _norm(kind: str, channels: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "group":
        return nn.GroupNorm(min(8, channels), channels)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"unknown norm '{kind}' (choose batch, group or none)")


class ConvEncoder(nn.Module):
    """Image (B, C, H, W) -> features (B, out_features).

    Args:
        in_shape: (C, H, W), square images.
        widths: channels of each stride-2 level (levels stop early when the size is odd or 4).
        out_features: size of the output vector (a linear layer after flattening).
        hidden: an extra linear layer of this size before the output (0 = none).
        act, norm: activation name; 'batch', 'group' or 'none' normalization.
        extra_convs: stride-1 3x3 convolutions after each level (more capacity, same sizes).
    """

    def __init__(self, in_shape: Sequence[int], widths: Sequence[int], out_features: int, hidden: int = 0,
                 act: str = "relu", norm: str = "none", extra_convs: int = 0):
        super().__init__()
        c, h, w = in_shape
        if h != w:
            raise ValueError(f"convolutional networks here take square images, got {h}x{w}")
        sizes = downsample_sizes(h, len(widths))
        layers: list[nn.Module] = []
        for width in widths[: len(sizes) - 1]:
            layers += [nn.Conv2d(c, width, 4, 2, 1), _norm(norm, width), activation(act)]
            for _ in range(extra_convs):
                layers += [nn.Conv2d(width, width, 3, 1, 1), _norm(norm, width), activation(act)]
            c = width
        self.features = nn.Sequential(*layers)
        self.out_shape = (c, sizes[-1], sizes[-1])  # before flattening
        flat = c * sizes[-1] ** 2
        head: list[nn.Module] = [nn.Flatten()]
        if hidden:
            head += [nn.Linear(flat, hidden), activation(act)]
            flat = hidden
        head.append(nn.Linear(flat, out_features))
        self.head = nn.Sequential(*head)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))  # (B, out_features)


class ConvDecoder(nn.Module):
    """Vector (B, in_features) -> image logits (B, C, H, W); the mirror of :class:`ConvEncoder`."""

    def __init__(self, in_features: int, out_shape: Sequence[int], widths: Sequence[int], hidden: int = 0,
                 act: str = "relu", norm: str = "none", extra_convs: int = 0):
        super().__init__()
        c_out, h, _ = out_shape
        sizes = downsample_sizes(h, len(widths))
        levels = len(sizes) - 1
        chans = list(widths[:levels])[::-1]  # deepest first
        self.start_shape = (chans[0], sizes[-1], sizes[-1])
        flat = chans[0] * sizes[-1] ** 2
        stem: list[nn.Module] = []
        if hidden:
            stem += [nn.Linear(in_features, hidden), activation(act)]
            in_features = hidden
        stem += [nn.Linear(in_features, flat), activation(act)]
        self.stem = nn.Sequential(*stem)
        layers: list[nn.Module] = []
        for i, width in enumerate(chans):
            for _ in range(extra_convs):
                layers += [nn.Conv2d(width, width, 3, 1, 1), _norm(norm, width), activation(act)]
            nxt = chans[i + 1] if i + 1 < len(chans) else c_out
            layers.append(nn.ConvTranspose2d(width, nxt, 4, 2, 1))
            if i + 1 < len(chans):
                layers += [_norm(norm, nxt), activation(act)]
        self.layers = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.stem(z).view(z.shape[0], *self.start_shape)  # (B, C0, s, s)
        return self.layers(h)  # (B, C, H, W) logits / unconstrained means
