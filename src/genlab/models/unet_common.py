"""What the U-Net models (``ddpm``/``cddpm``, ``score-sde``, ``ncsn``) share and none of them owns: the
U-Net and EMA fields of their configs, their checks, and the network built from them."""
from __future__ import annotations

from dataclasses import dataclass

from genlab.nn.unet import UNet, check_unet_settings


@dataclass
class UNetModelConfig:
    """U-Net and EMA settings (each model's config documents them).

    Attributes:
        data_shape: (C, H, W) of the images; filled from the dataset at training time.
        base_width: U-Net channels at full resolution.
        width_mults: U-Net channels per level as multiples of base_width (one level per entry).
        blocks_per_level: residual blocks per U-Net level.
        attention_size: self-attention at U-Net levels whose feature maps are at most this many
            pixels on a side, and in the middle (0 = none).
        attention_heads: heads per self-attention layer.
        dropout: dropout in the residual blocks.
        norm_groups: GroupNorm groups.
        ema_decay: decay of the moving average of weights used for sampling (0 = the trained weights).
    """

    data_shape: tuple[int, int, int] = (1, 28, 28)
    base_width: int = 32
    width_mults: tuple[int, ...] = (1, 2, 2)
    blocks_per_level: int = 1
    attention_size: int = 8
    attention_heads: int = 1
    dropout: float = 0.0
    norm_groups: int = 8
    ema_decay: float = 0.999

    def __post_init__(self) -> None:
        check_unet_settings(self.base_width, self.width_mults, self.blocks_per_level, self.attention_size,
                            self.attention_heads, self.norm_groups)
        if not 0 <= self.dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if not 0 <= self.ema_decay < 1:
            raise ValueError(f"ema_decay must be in [0, 1), got {self.ema_decay}")

    def build_unet(self, num_classes: int = 0) -> UNet:
        """The U-Net these settings describe, for images of ``data_shape`` (class-conditional when
        ``num_classes`` > 0)."""
        c, h, w = self.data_shape
        return UNet(c, (h, w), self.base_width, tuple(self.width_mults), self.blocks_per_level,
                    self.attention_size, self.attention_heads, self.dropout, self.norm_groups, num_classes)
