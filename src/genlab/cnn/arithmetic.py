"""Convolution arithmetic: output sizes, parameter counts, multiply-adds and receptive fields.

The formulas are the ones PyTorch's layers implement (Dumoulin & Visin 2016, "A guide to
convolution arithmetic for deep learning", relationships 1-14), per spatial dimension:

    convolution:            o = floor((n + 2p - d (f - 1) - 1) / s) + 1      (= floor((n + 2p - f) / s) + 1 for d = 1)
    transposed convolution: o = (n - 1) s - 2p + d (f - 1) + output_padding + 1
    pooling:                as convolution (floor), or ceil with ceil_mode (a window may not start in the right padding)
    conv parameters:        (KH * KW * Cin / groups + 1) * Cout   (the +1 is the bias)
    receptive field:        r_l = r_{l-1} + (f_l - 1) * d_l * j_{l-1},  j_l = j_{l-1} * s_l,  r_0 = j_0 = 1
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

from genlab.errors import ConfigError


def _check(name: str, value: int, minimum: int) -> None:
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {value}")


def conv_output_size(n: int, kernel: int, padding: int = 0, stride: int = 1, dilation: int = 1) -> int:
    """Output length of a convolution along one dimension.

    Args:
        n: input length; kernel, padding, stride, dilation: the layer's settings.

    Returns:
        floor((n + 2p - d (f - 1) - 1) / s) + 1.

    Raises:
        ConfigError: invalid settings, or a kernel larger than the padded input.
    """
    _check("input", n, 1), _check("kernel", kernel, 1), _check("stride", stride, 1)
    _check("padding", padding, 0), _check("dilation", dilation, 1)
    span = dilation * (kernel - 1) + 1  # the kernel's extent on the input
    if n + 2 * padding < span:
        raise ConfigError(f"a kernel spanning {span} does not fit an input of {n} with padding {padding}")
    return (n + 2 * padding - span) // stride + 1


def conv_transpose_output_size(n: int, kernel: int, padding: int = 0, stride: int = 1, output_padding: int = 0,
                               dilation: int = 1) -> int:
    """Output length of a transposed convolution: (n - 1) s - 2p + d (f - 1) + output_padding + 1.

    Raises:
        ConfigError: invalid settings (output_padding must be smaller than stride or dilation).
    """
    _check("input", n, 1), _check("kernel", kernel, 1), _check("stride", stride, 1)
    _check("padding", padding, 0), _check("dilation", dilation, 1), _check("output_padding", output_padding, 0)
    if output_padding >= max(stride, dilation):
        raise ConfigError(f"output_padding ({output_padding}) must be smaller than stride or dilation")
    out = (n - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1
    if out < 1:
        raise ConfigError(f"padding {padding} removes the whole output (size {out})")
    return out


def pool_output_size(n: int, kernel: int, stride: int | None = None, padding: int = 0, dilation: int = 1,
                     ceil_mode: bool = False) -> int:
    """Output length of max or average pooling (stride defaults to the kernel size, as in PyTorch).

    With ``ceil_mode`` the division rounds up, but a last window starting inside the right
    padding is dropped (PyTorch's rule).
    """
    stride = kernel if stride is None else stride
    _check("input", n, 1), _check("kernel", kernel, 1), _check("stride", stride, 1), _check("padding", padding, 0)
    if padding > kernel // 2:
        raise ConfigError(f"pooling padding ({padding}) must be at most half the kernel ({kernel})")
    span = dilation * (kernel - 1) + 1
    if n + 2 * padding < span:
        raise ConfigError(f"a pooling window of {span} does not fit an input of {n} with padding {padding}")
    if not ceil_mode:
        return (n + 2 * padding - span) // stride + 1
    out = math.ceil((n + 2 * padding - span) / stride) + 1
    if (out - 1) * stride >= n + padding:  # the last window would start in the padding
        out -= 1
    return out


def conv_parameters(kernel_h: int, kernel_w: int, in_channels: int, out_channels: int, bias: bool = True,
                    groups: int = 1) -> int:
    """Parameters of a 2-d convolution: (KH * KW * Cin / groups + bias) * Cout."""
    if in_channels % groups or out_channels % groups:
        raise ConfigError(f"groups ({groups}) must divide both channel counts ({in_channels}, {out_channels})")
    return (kernel_h * kernel_w * in_channels // groups + int(bias)) * out_channels


def conv_multiply_adds(out_h: int, out_w: int, kernel_h: int, kernel_w: int, in_channels: int, out_channels: int,
                       groups: int = 1) -> int:
    """Multiply-adds of one image through a 2-d convolution: every output value costs KH*KW*Cin/groups."""
    return out_h * out_w * out_channels * kernel_h * kernel_w * (in_channels // groups)


@dataclass(frozen=True)
class ReceptiveField:
    """Receptive field of a stack of layers on its input.

    Attributes:
        size: input pixels (per dimension) that one output unit sees.
        jump: input pixels between neighbouring output units (the product of the strides).
    """

    size: int
    jump: int


def receptive_field(layers: Sequence[tuple[int, int] | tuple[int, int, int]]) -> ReceptiveField:
    """Receptive field of a stack of convolutions / poolings, first layer first.

    Args:
        layers: (kernel, stride) or (kernel, stride, dilation) per layer.

    Returns:
        the size and jump after the last layer (r_l = r_{l-1} + (f_l - 1) d_l j_{l-1}, j_l = j_{l-1} s_l).
    """
    size, jump = 1, 1
    for layer in layers:
        kernel, stride, dilation = (*layer, 1)[:3] if len(layer) == 2 else layer
        _check("kernel", kernel, 1), _check("stride", stride, 1), _check("dilation", dilation, 1)
        size += (kernel - 1) * dilation * jump
        jump *= stride
    return ReceptiveField(size, jump)
