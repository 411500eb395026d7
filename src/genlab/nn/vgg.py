"""VGG-11/13/16/19 (Simonyan & Zisserman 2015, Table 1 configurations A, B, D, E).

Stacks of 3x3 convolutions (padding 1) separated by 2x2 max pooling, then a classifier of two
hidden fully connected layers. Configurable for small images and CPUs: the width of the first
stage (the paper's 64; later stages double it up to 8x), the hidden size of the classifier
(the paper's 4096), input size and channels, batch normalization after every convolution.

A pooling step is skipped once the feature map is 1x1, so the same layout runs on 8x8 digits,
28x28 MNIST and 32x32 CIFAR images.
"""
from __future__ import annotations

import torch
from torch import nn

# stage widths as multiples of the first stage's width, "M" = 2x2 max pooling (the paper's Table 1)
VGG_LAYOUTS: dict[str, list[int | str]] = {
    "vgg11": [1, "M", 2, "M", 4, 4, "M", 8, 8, "M", 8, 8, "M"],
    "vgg13": [1, 1, "M", 2, 2, "M", 4, 4, "M", 8, 8, "M", 8, 8, "M"],
    "vgg16": [1, 1, "M", 2, 2, "M", 4, 4, 4, "M", 8, 8, 8, "M", 8, 8, 8, "M"],
    "vgg19": [1, 1, "M", 2, 2, "M", 4, 4, 4, 4, "M", 8, 8, 8, 8, "M", 8, 8, 8, 8, "M"],
}


class VGG(nn.Module):
    """A VGG classifier; :meth:`features` gives the last hidden layer's activations.

    Args:
        depth: 'vgg11', 'vgg13', 'vgg16' or 'vgg19'.
        in_channels, input_size: image channels and height = width.
        num_classes: output classes.
        width: channels of the first stage (64 in the paper); stages use 1x, 2x, 4x, 8x of it.
        hidden: size of the two hidden fully connected layers (4096 in the paper).
        batch_norm: BatchNorm2d after every convolution.
        dropout: dropout before each hidden fully connected layer (0.5 in the paper).
    """

    def __init__(self, depth: str = "vgg11", in_channels: int = 3, input_size: int = 32, num_classes: int = 10,
                 width: int = 64, hidden: int = 4096, batch_norm: bool = True, dropout: float = 0.5):
        super().__init__()
        if depth not in VGG_LAYOUTS:
            raise ValueError(f"unknown VGG depth '{depth}' (choose one of {', '.join(VGG_LAYOUTS)})")
        layers: list[nn.Module] = []
        channels, size = in_channels, input_size
        for item in VGG_LAYOUTS[depth]:
            if item == "M":
                if size >= 2:  # stop pooling at 1x1
                    layers.append(nn.MaxPool2d(2, 2))
                    size //= 2
                continue
            out = width * int(item)
            layers.append(nn.Conv2d(channels, out, 3, padding=1, bias=not batch_norm))
            if batch_norm:
                layers.append(nn.BatchNorm2d(out))
            layers.append(nn.ReLU(inplace=True))
            channels = out
        self.convs = nn.Sequential(*layers)  # (B, 8 * width, size, size)
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Dropout(dropout), nn.Linear(channels * size * size, hidden), nn.ReLU(inplace=True),
            nn.Dropout(dropout), nn.Linear(hidden, hidden), nn.ReLU(inplace=True),
        )
        self.head = nn.Linear(hidden, num_classes)
        self.feature_dim = hidden

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Second hidden layer's activations, (B, C, H, W) -> (B, hidden)."""
        return self.classifier(self.convs(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits, (B, C, H, W) -> (B, num_classes)."""
        return self.head(self.features(x))
