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
from collections.abc import Sequence
from dataclasses import dataclass

from genlab.errors import ConfigError


def _check(name: str, value: int, minimum: int) -> int:
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {value}")
    return value


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


# --- pooling on a small matrix (the notes' worked example) ----------------------------------------

def parse_matrix(text: str) -> list[list[float]]:
    """A matrix written as rows separated by ';' (or new lines), values by spaces or commas:
    '1 3; 2 4' or '[1, 3; 2, 4]' -> [[1, 3], [2, 4]].

    Raises:
        ConfigError: a non-number, or rows of different lengths.
    """
    rows = []
    for line in text.strip().strip("[]").replace("\n", ";").split(";"):
        cells = [c for c in line.replace(",", " ").split() if c]
        if not cells:
            continue
        try:
            row = [float(c) for c in cells]
        except ValueError:
            raise ConfigError(f"cannot read the matrix '{text}': '{line.strip()}' is not a row of numbers") from None
        if not all(math.isfinite(v) for v in row):
            raise ConfigError(f"the matrix '{text}' holds a value that is not finite")
        rows.append(row)
    if not rows:
        raise ConfigError("the matrix is empty: write rows separated by ';', e.g. '1 3; 2 4'")
    if len({len(r) for r in rows}) != 1:
        raise ConfigError(f"the rows of '{text}' have different lengths ({', '.join(str(len(r)) for r in rows)})")
    return rows


def pool2d(matrix: Sequence[Sequence[float]], kernel: int, stride: int | None = None, padding: int = 0,
           mode: str = "max") -> list[list[float]]:
    """Max or average pooling of one 2-d matrix, as ``nn.MaxPool2d`` / ``nn.AvgPool2d`` compute it.

    Each output value is the maximum (or the mean) of one kernel x kernel window; windows start
    every ``stride`` values (default: the kernel size). Padding adds values that never win a
    maximum (-inf) and count as zeros in an average (PyTorch's ``count_include_pad=True``).
    Example: pool2d([[1, 3], [2, 4]], 2) == [[4]] and, with mode='avg', [[2.5]].
    """
    if mode not in ("max", "avg"):
        raise ConfigError(f"pooling mode must be 'max' or 'avg', got '{mode}'")
    h, w = len(matrix), len(matrix[0])
    out_h = pool_output_size(h, kernel, stride, padding)
    out_w = pool_output_size(w, kernel, stride, padding)
    stride = kernel if stride is None else stride
    fill = -math.inf if mode == "max" else 0.0

    def at(i: int, j: int) -> float:
        i, j = i - padding, j - padding
        return float(matrix[i][j]) if 0 <= i < h and 0 <= j < w else fill

    out = []
    for oi in range(out_h):
        row = []
        for oj in range(out_w):
            window = [at(oi * stride + a, oj * stride + b) for a in range(kernel) for b in range(kernel)]
            row.append(max(window) if mode == "max" else sum(window) / len(window))
        out.append(row)
    return out


# --- parameters of a stack of layers (the notes' 448 + 4640 = 5088) ------------------------------

@dataclass(frozen=True)
class LayerParameters:
    """Parameters of one layer of a stack.

    Attributes:
        spec: the layer as written ('conv:3:16:3').
        description: e.g. 'conv 3->16, 3x3'.
        weights_formula: e.g. '3x3x3x16'.
        weights, biases: the two parts of the count.
        in_size, out_size: channels (conv) or features (linear) in and out.
        kind: 'conv' or 'linear'.
    """

    spec: str
    description: str
    weights_formula: str
    weights: int
    biases: int
    in_size: int
    out_size: int
    kind: str

    @property
    def parameters(self) -> int:
        return self.weights + self.biases


LAYER_KINDS = {"conv": "conv", "linear": "linear", "fc": "linear", "dense": "linear"}


def parse_layer(spec: str, bias: bool = True) -> LayerParameters:
    """One layer of a stack: 'conv:CIN:COUT:K' (or K as KHxKW; an optional 5th part is the groups)
    or 'linear:IN:OUT' ('fc' and 'dense' are the same).

    Raises:
        ConfigError: an unknown kind, missing parts, or sizes that are not positive integers.
    """
    kind, *parts = [p.strip() for p in spec.split(":")]
    kind = LAYER_KINDS.get(kind.lower(), "")
    usage = "conv:IN_CHANNELS:OUT_CHANNELS:KERNEL[:GROUPS] or linear:IN_FEATURES:OUT_FEATURES"
    if not kind or (kind == "conv" and len(parts) not in (3, 4)) or (kind == "linear" and len(parts) != 2):
        raise ConfigError(f"cannot read layer '{spec}': write {usage}")

    def size(text: str, what: str) -> int:
        if not text.isdigit() or int(text) < 1:
            raise ConfigError(f"layer '{spec}': {what} must be a positive integer, got '{text}'")
        return int(text)

    if kind == "linear":
        n_in, n_out = size(parts[0], "in features"), size(parts[1], "out features")
        return LayerParameters(spec, f"linear {n_in}->{n_out}", f"{n_in}x{n_out}", n_in * n_out,
                               n_out if bias else 0, n_in, n_out, kind)
    c_in, c_out = size(parts[0], "in channels"), size(parts[1], "out channels")
    kh_text, _, kw_text = parts[2].lower().partition("x")
    kh = size(kh_text, "kernel size")
    kw = size(kw_text, "kernel size") if kw_text else kh
    groups = size(parts[3], "groups") if len(parts) == 4 else 1
    total = conv_parameters(kh, kw, c_in, c_out, bias, groups)
    weights = total - (c_out if bias else 0)
    per_group = f"{c_in}/{groups}" if groups > 1 else f"{c_in}"
    return LayerParameters(spec, f"conv {c_in}->{c_out}, {kh}x{kw}" + (f", groups {groups}" if groups > 1 else ""),
                           f"{kh}x{kw}x{per_group}x{c_out}", weights, c_out if bias else 0, c_in, c_out, kind)


def stack_parameters(specs: Sequence[str], bias: bool = True) -> list[LayerParameters]:
    """The layers of a stack, first layer first, checking that each takes what the previous gives
    (channels between convolutions, features between linear layers).

    Example: stack_parameters(['conv:3:16:3', 'conv:16:32:3']) -> 448 and 4640 parameters (5088 in all).
    """
    layers = [parse_layer(s, bias) for s in specs]
    for prev, layer in zip(layers, layers[1:], strict=False):
        if prev.kind == layer.kind and prev.out_size != layer.in_size:
            unit = "channels" if layer.kind == "conv" else "features"
            raise ConfigError(f"layer '{layer.spec}' takes {layer.in_size} {unit} but '{prev.spec}' gives "
                              f"{prev.out_size}")
    return layers
