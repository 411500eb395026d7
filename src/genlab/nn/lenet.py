"""LeNet-5 (LeCun et al. 1998), adapted to 28x28 and 32x32 inputs.

The classic layout, for a 32x32 input:

    C1  conv 5x5, 6 maps              -> 6 x 28 x 28
    S2  pool 2x2 / 2                  -> 6 x 14 x 14
    C3  conv 5x5, 16 maps             -> 16 x 10 x 10
    S4  pool 2x2 / 2                  -> 16 x 5 x 5
    C5  conv 5x5, 120 maps            -> 120 x 1 x 1
    F6  linear 120 -> 84
    out linear 84 -> classes          (the paper's Euclidean RBF units replaced by a linear layer)

A 28x28 input (MNIST) gets 2 pixels of zero padding in C1, so every later map has the paper's
size. Any other size is first resized (bilinear) to 32x32 by an ``Upsample`` layer, visible in
the summary. C3 connects every S2 map to every C3 map (the paper's sparse connection table is
dropped, as in most modern re-implementations).
"""
from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from genlab.nn.mlp import activation


class LeNet5(nn.Module):
    """LeNet-5 classifier; :meth:`features` gives the 84-d F6 activations.

    Args:
        in_channels: image channels (1 for MNIST).
        input_size: image height = width; 28 and 32 are native, other sizes are resized to 32.
        num_classes: output classes.
        act: activation after C1, C3, C5 and F6 ('tanh' is the paper's, 'relu' trains faster).
        pooling: 'max' or 'avg' (the paper's subsampling is an average with a learned scale).
    """

    def __init__(self, in_channels: int = 1, input_size: int = 28, num_classes: int = 10, act: str = "relu",
                 pooling: Literal["max", "avg"] = "max"):
        super().__init__()
        pool = {"max": nn.MaxPool2d, "avg": nn.AvgPool2d}[pooling]
        layers: list[nn.Module] = []
        if input_size not in (28, 32):
            layers.append(nn.Upsample(size=(32, 32), mode="bilinear", align_corners=False))
        padding = 2 if input_size == 28 else 0
        layers += [
            nn.Conv2d(in_channels, 6, 5, padding=padding), activation(act), pool(2, 2),  # C1, S2: (B, 6, 14, 14)
            nn.Conv2d(6, 16, 5), activation(act), pool(2, 2),  # C3, S4: (B, 16, 5, 5)
            nn.Conv2d(16, 120, 5), activation(act), nn.Flatten(),  # C5: (B, 120)
            nn.Linear(120, 84), activation(act),  # F6: (B, 84)
        ]
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(84, num_classes)
        self.feature_dim = 84

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """F6 activations, (B, C, H, W) -> (B, 84)."""
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits, (B, C, H, W) -> (B, num_classes)."""
        return self.head(self.body(x))
