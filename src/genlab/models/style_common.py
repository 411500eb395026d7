"""What the progressive and style-based GANs share: image-size rule, block widths, and the config
fields and checks common to both (``progan`` and ``stylegan`` each extend :class:`GrowingGANConfig`)."""
from __future__ import annotations

import math
from dataclasses import dataclass

from genlab.config import check_betas, check_sizes
from genlab.errors import ConfigError

MIN_RESOLUTION, MAX_RESOLUTION = 8, 256


def check_resolution(shape: tuple[int, ...], model: str) -> int:
    """The side of a square power-of-two image shape from 8 to 256, else a ConfigError naming it."""
    _, h, w = shape
    if h != w or h < MIN_RESOLUTION or h > MAX_RESOLUTION or h & (h - 1):
        raise ConfigError(f"{model} needs square images with a power-of-two side from {MIN_RESOLUTION} to "
                          f"{MAX_RESOLUTION}, got {h}x{w} (resize with --image-size, e.g. --image-size 32)")
    return h


def widths_for(resolution: int, base: int, most: int, least: int = 1) -> list[int]:
    """Channels at 4, 8, ..., resolution: min(most, base // r), at least ``least`` (and 1).

    ``least`` keeps the high resolutions from thinning out when ``base`` is small: base 256, most 64,
    least 16 gives 64, 32, 16, 16, 16 at 4..64 px, wide where the image's layout is decided and cheap
    (a 4 px block costs 1/256 of a 64 px one per channel pair), 16 channels where the pixels are many."""
    return [max(1, least, min(most, base // (4 << k))) for k in range(int(math.log2(resolution)) - 1)]


@dataclass
class GrowingGANConfig:
    """Fields both growing GANs have (documented on each model's config).

    Subclasses set ``model_name`` (for messages) and may override defaults (e.g. ``gan_lr``)."""

    data_shape: tuple[int, int, int] = (3, 32, 32)
    latent_dim: int = 128
    channel_base: int = 1024
    channel_max: int = 64
    channel_min: int = 1
    mbstd_group: int = 4
    ema_decay: float = 0.999
    gan_lr: float = 1e-3
    gan_betas: tuple[float, float] = (0.0, 0.99)

    model_name = "growing GAN"  # a class attribute, not a field

    def __post_init__(self) -> None:
        for name in ("latent_dim", "channel_base", "channel_max", "channel_min", "mbstd_group"):
            check_sizes(name, getattr(self, name))
        if not 0 <= self.ema_decay < 1:
            raise ValueError(f"ema_decay must be in [0, 1), got {self.ema_decay}")
        if not self.gan_lr > 0:
            raise ValueError(f"gan_lr must be positive, got {self.gan_lr}")
        if self.channel_min > self.channel_max:
            raise ValueError(f"channel_min ({self.channel_min}) must not exceed channel_max ({self.channel_max})")
        check_betas("gan_betas", self.gan_betas)
        check_resolution(self.data_shape, self.model_name)
