"""Image classifiers (LeNet-5, VGG) trained with the same trainer as the generative models.

    genlab train classifier --arch lenet5 --dataset mnist --epochs 10

The loss is the cross-entropy of the class logits; accuracy is logged beside it (training and
validation). A classifier is not generative (``generative = False``): it cannot sample, and
``genlab bench`` skips it. genlab's evaluation metrics use classifiers trained this way as their
feature extractors (:mod:`genlab.metrics.features`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F

from genlab.config import check_sizes
from genlab.errors import DataError
from genlab.models.base import Batch, GenerativeModel, Losses
from genlab.nn import VGG, VGG_LAYOUTS, LeNet5
from genlab.nn.mlp import Activation
from genlab.nn.video import ClipClassifierNet
from genlab.registry import register

ARCHITECTURES = ("lenet5", *VGG_LAYOUTS, "clip3d")


@dataclass
class ClassifierConfig:
    """Configuration of :class:`Classifier`.

    Attributes:
        data_shape: (C, H, W) of the images, or (T, C, H, W) of clips for 'clip3d'; filled from the
            dataset at training time.
        num_classes: number of classes; filled from the dataset at training time.
        arch: 'lenet5' (28x28 / 32x32 native, other sizes resized to 32) or 'vgg11', 'vgg13',
            'vgg16', 'vgg19'; 'clip3d' (clips: a small 3-D CNN, width ``vgg_width``, features
            ``vgg_hidden``; the classifier of the clip-level FD).
        activation: LeNet-5's activation ('relu', or the paper's 'tanh').
        pooling: LeNet-5's pooling, 'max' or 'avg' (the paper's subsampling).
        vgg_width: channels of VGG's first stage (64 in the paper; later stages double it up to 8x).
        vgg_hidden: size of VGG's two hidden fully connected layers (4096 in the paper).
        batch_norm: batch normalization after every VGG convolution.
        dropout: dropout before VGG's hidden fully connected layers.
        factors: also regress the dataset's known generative factors (:attr:`ArrayDataset.factors`,
            e.g. `shapes`' hues, scale, rotation, position) from the features with a linear head, the
            mean squared error added to the cross-entropy at ``factor_weight``: features that see what
            the label alone ignores (the `shapes` extractor, so FD notices wrong colours and backgrounds).
        factor_dim: number of factor targets; filled from the dataset at training time (0: none).
        factor_weight: weight of the factors' mean squared error (targets of unit variance).
    """

    data_shape: tuple[int, ...] = (1, 28, 28)
    num_classes: int = 10
    arch: Literal["lenet5", "vgg11", "vgg13", "vgg16", "vgg19", "clip3d"] = "lenet5"
    activation: Activation = "relu"
    pooling: Literal["max", "avg"] = "max"
    vgg_width: int = 64
    vgg_hidden: int = 512
    batch_norm: bool = True
    dropout: float = 0.5
    factors: bool = False
    factor_dim: int = 0
    factor_weight: float = 1.0

    def __post_init__(self) -> None:
        if len(self.data_shape) != (4 if self.arch == "clip3d" else 3):
            raise ValueError(f"arch '{self.arch}' classifies {'clips' if self.arch == 'clip3d' else 'images'}, "
                             f"but data_shape is {tuple(self.data_shape)} (arch clip3d takes clips (T, C, H, W), "
                             f"the others images (C, H, W))")
        if self.num_classes < 2:
            raise ValueError(f"a classifier needs at least 2 classes, got {self.num_classes}")
        if self.data_shape[-2] != self.data_shape[-1]:
            raise ValueError(f"classifiers take square images, got {tuple(self.data_shape)}")
        if self.vgg_width < 1 or self.vgg_hidden < 1:
            raise ValueError("vgg_width and vgg_hidden must be positive")
        check_sizes("vgg_width", self.vgg_width, maximum=4096)  # the last stages have 8x as many
        check_sizes("vgg_hidden", self.vgg_hidden)
        if not 0 <= self.dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.factor_dim < 0 or self.factor_weight < 0:
            raise ValueError("factor_dim and factor_weight must not be negative")


def build_network(cfg: ClassifierConfig) -> LeNet5 | VGG | ClipClassifierNet:
    """The network a config asks for (LeNet5, VGG or the clip CNN), with ``features`` and ``forward`` (logits)."""
    if cfg.arch == "clip3d":
        return ClipClassifierNet(tuple(cfg.data_shape), cfg.num_classes, cfg.vgg_width, cfg.vgg_hidden)
    c, size, _ = cfg.data_shape
    if cfg.arch == "lenet5":
        return LeNet5(c, size, cfg.num_classes, cfg.activation, cfg.pooling)
    return VGG(cfg.arch, c, size, cfg.num_classes, cfg.vgg_width, cfg.vgg_hidden, cfg.batch_norm, cfg.dropout)


@register("classifier", ClassifierConfig, "image classifier (LeNet-5, VGG-11/13/16/19): cross-entropy; not generative")
class Classifier(GenerativeModel):
    """A LeNet-5 or VGG classifier under the model contract (it cannot sample)."""

    config: ClassifierConfig
    generative = False
    data_kinds = ("images", "clips")  # clips with arch 'clip3d' (the config refuses other pairings)

    def __init__(self, config: ClassifierConfig):
        super().__init__(config)
        self.net = build_network(config)
        if config.factors and config.factor_dim < 1:
            raise DataError("--factors: this dataset has no known generative factors to regress (shapes has)")
        self.factor_head = torch.nn.Linear(self.net.feature_dim, config.factor_dim) if config.factors else None

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits in float32, (B, C, H, W) -> (B, num_classes)."""
        return self.net(x).float()

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate activations in float32, (B, C, H, W) -> (B, feature_dim)."""
        return self.net.features(x).float()

    @property
    def feature_dim(self) -> int:
        return self.net.feature_dim

    def losses(self, batch: Batch, phase: str = "model") -> Losses:
        if batch.y is None:
            raise DataError("a classifier needs labels, and this dataset has none")
        features = self.net.features(batch.x)  # one pass for both heads (logits() is head(features()))
        logits = self.net.head(features).float()  # (B, K)
        loss = F.cross_entropy(logits, batch.y)
        out = {"loss": loss, "accuracy": (logits.argmax(-1) == batch.y).float().mean().detach()}
        if self.factor_head is None:
            return out
        if batch.factors is None:
            raise DataError("a classifier with --factors needs a dataset with known generative factors (shapes)")
        error = F.mse_loss(self.factor_head(features).float(), batch.factors)
        return {**out, "loss": loss + self.config.factor_weight * error, "cross_entropy": loss.detach(),
                "factor_mse": error.detach()}

    @torch.no_grad()
    def predict(self, x: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
        """Predicted classes, (N, C, H, W) -> (N,) int64, in batches."""
        return torch.cat([self.logits(x[i:i + batch_size]).argmax(-1) for i in range(0, len(x), batch_size)])
