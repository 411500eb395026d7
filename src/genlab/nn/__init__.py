"""Shared network blocks. Knows nothing of models, losses or training."""
from genlab.nn.conv import ConvDecoder, ConvEncoder, downsample_sizes
from genlab.nn.mlp import MLP, activation

__all__ = ["MLP", "ConvEncoder", "ConvDecoder", "activation", "downsample_sizes"]
