"""Shared network blocks. Knows nothing of models, losses or training."""
from genlab.nn.conv import ConvDecoder, ConvEncoder, downsample_sizes
from genlab.nn.mlp import MLP, activation

__all__ = ["MLP", "ConvEncoder", "ConvDecoder", "activation", "downsample_sizes"]
from genlab.nn.lenet import LeNet5  # noqa: E402
from genlab.nn.vgg import VGG, VGG_LAYOUTS  # noqa: E402

__all__ += ["LeNet5", "VGG", "VGG_LAYOUTS"]
