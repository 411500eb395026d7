"""Multi-layer perceptron and the activation names configs may use."""
from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import Literal

import torch
from torch import nn

# the activation names configs may use: the keys of ACTIVATIONS (tests/nn/test_mlp.py checks they agree)
Activation = Literal["relu", "leaky_relu", "elu", "gelu", "silu", "tanh", "sigmoid"]

ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "relu": nn.ReLU,
    "leaky_relu": lambda: nn.LeakyReLU(0.2),
    "elu": nn.ELU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
}


def activation(name: str) -> nn.Module:
    """An activation module by name (relu, leaky_relu (slope 0.2), elu, gelu, silu, tanh, sigmoid)."""
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation '{name}' (choose one of {', '.join(ACTIVATIONS)})")
    return ACTIVATIONS[name]()


class MLP(nn.Sequential):
    """Linear layers with an activation between them (none after the last).

    Args:
        sizes: [in_features, hidden..., out_features].
        act: activation name between layers.
        final_act: optional activation name after the last layer.
    """

    def __init__(self, sizes: Sequence[int], act: str = "relu", final_act: str | None = None):
        layers: list[nn.Module] = []
        for i, (a, b) in enumerate(itertools.pairwise(sizes)):
            layers.append(nn.Linear(a, b))
            if i < len(sizes) - 2:
                layers.append(activation(act))
        if final_act:
            layers.append(activation(final_act))
        super().__init__(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, ...) -> (B, out)
        return super().forward(x.flatten(1))
