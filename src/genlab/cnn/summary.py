"""Layer-by-layer summaries of any network: output shape, parameters and multiply-adds.

The summary runs one real forward pass with hooks on every leaf module, so shapes are the ones
PyTorch produces; parameters are counted with ``numel``; multiply-adds per image come from the
formulas in :mod:`genlab.cnn.arithmetic` (convolutions, transposed convolutions, linear layers;
other layers such as pooling, normalization and activations are shown with 0 multiply-adds).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from genlab.cnn.arithmetic import conv_multiply_adds


@dataclass
class LayerRow:
    """One leaf module call in a forward pass.

    Attributes:
        name: the module's dotted name in the network.
        kind: its class name (with kernel/stride for convolutions and pooling).
        output_shape: output shape of one image (batch dimension dropped).
        parameters: parameters the module owns (counted once, at its first call).
        multiply_adds: multiply-adds for one image.
    """

    name: str
    kind: str
    output_shape: tuple[int, ...]
    parameters: int
    multiply_adds: int


def _multiply_adds(module: nn.Module, inputs: tuple[Any, ...], output: torch.Tensor) -> int:
    """Multiply-adds per image of one call of ``module`` (0 for layers without products)."""
    if isinstance(module, nn.Conv2d):
        _, c_out, h, w = output.shape
        kh, kw = module.kernel_size
        return conv_multiply_adds(h, w, kh, kw, module.in_channels, c_out, module.groups)
    if isinstance(module, nn.ConvTranspose2d):  # every input value is spread over KH*KW*Cout/groups outputs
        _, c_in, h, w = inputs[0].shape
        kh, kw = module.kernel_size
        return h * w * c_in * kh * kw * (module.out_channels // module.groups)
    if isinstance(module, nn.Conv1d):
        _, c_out, length = output.shape
        return length * c_out * module.kernel_size[0] * (module.in_channels // module.groups)
    if isinstance(module, nn.Linear):
        return output[0].numel() * module.in_features
    return 0


def _describe(module: nn.Module) -> str:
    name = type(module).__name__
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
        k, s, p = module.kernel_size, module.stride, module.padding
        return f"{name} {k[0]}x{k[1]}/{s[0]} p{p[0]}"
    if isinstance(module, (nn.MaxPool2d, nn.AvgPool2d)):
        size, step = module.kernel_size, module.stride
        kernel = size if isinstance(size, int) else size[0]
        stride = step if isinstance(step, int) else step[0]
        return f"{name} {kernel}x{kernel}/{stride}"
    return name


def summarize(module: nn.Module, run: Callable[[], Any]) -> list[LayerRow]:
    """Rows of every leaf module call made while ``run()`` executes (in call order).

    Args:
        module: the network (its leaf modules get temporary forward hooks).
        run: a function doing one forward pass (e.g. ``lambda: net(torch.zeros(1, 1, 28, 28))``).

    Returns:
        one :class:`LayerRow` per call; a module called twice appears twice, its parameters once.
    """
    names = {m: n for n, m in module.named_modules()}
    rows: list[LayerRow] = []
    counted: set[int] = set()

    def hook(m: nn.Module, inputs: tuple[Any, ...], output: Any) -> None:
        if not isinstance(output, torch.Tensor):
            return
        params = 0 if id(m) in counted else sum(p.numel() for p in m.parameters(recurse=False))
        counted.add(id(m))
        rows.append(LayerRow(names.get(m, "?"), _describe(m), tuple(output.shape[1:]), params,
                             _multiply_adds(m, inputs, output)))

    leaves = [m for m in module.modules() if not list(m.children())]
    handles = [m.register_forward_hook(hook) for m in leaves]
    was_training = module.training
    try:
        module.eval()
        with torch.no_grad():
            run()
    finally:
        for h in handles:
            h.remove()
        module.train(was_training)
    return rows


def format_summary(rows: list[LayerRow], title: str = "", total_parameters: int | None = None) -> str:
    """A plain-text table of ``rows`` with totals at the bottom.

    Args:
        rows: from :func:`summarize`.
        title: a first line (e.g. the model and input shape).
        total_parameters: the network's full parameter count, when it differs from the rows'
            (parameters of modules the forward pass did not use are reported separately).
    """
    header = ("layer", "type", "output shape", "parameters", "mult-adds")
    body = [(r.name, r.kind, "x".join(map(str, r.output_shape)), f"{r.parameters:,}", f"{r.multiply_adds:,}")
            for r in rows]
    params = sum(r.parameters for r in rows)
    macs = sum(r.multiply_adds for r in rows)
    footer = [("total", "", "", f"{params:,}", f"{macs:,}")]
    widths = [max(len(line[i]) for line in [header, *body, *footer]) for i in range(5)]

    def fmt(line: tuple[str, ...]) -> str:
        cells = enumerate(zip(line, widths, strict=True))
        return "  ".join(c.ljust(w) if i < 3 else c.rjust(w) for i, (c, w) in cells).rstrip()

    rule = "-" * len(fmt(tuple("-" * w for w in widths)))
    lines = ([title] if title else []) + [fmt(header), rule, *map(fmt, body), rule, *map(fmt, footer)]
    if total_parameters is not None and total_parameters != params:
        lines.append(f"({total_parameters - params:,} parameters belong to modules this forward pass does not use)")
    return "\n".join(lines)
