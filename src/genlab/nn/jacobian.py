"""The exact Jacobian of an MLP encoder, per example (the contractive autoencoder's penalty).

Works on any stack of Linear layers and elementwise activations; knows nothing of models.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

# Derivative a'(u) of each elementwise activation, from the module, its input u and output a.
# (the module is typed Any: its attributes, such as negative_slope or alpha, are plain numbers)
ACTIVATION_DERIVATIVES: dict[type, Callable[[Any, torch.Tensor, torch.Tensor], torch.Tensor]] = {
    nn.ReLU: lambda m, u, a: (u > 0).to(u.dtype),
    nn.LeakyReLU: lambda m, u, a: torch.where(u > 0, 1.0, m.negative_slope).to(u.dtype),
    nn.Sigmoid: lambda m, u, a: a * (1 - a),
    nn.Tanh: lambda m, u, a: 1 - a * a,
    nn.ELU: lambda m, u, a: torch.where(u > 0, torch.ones_like(u), a + m.alpha),
    nn.SiLU: lambda m, u, a: torch.sigmoid(u) * (1 + u * (1 - torch.sigmoid(u))),
    nn.GELU: lambda m, u, a: (0.5 * (1 + torch.erf(u / math.sqrt(2)))
                              + u * torch.exp(-0.5 * u * u) / math.sqrt(2 * math.pi)),
}


def encoder_jacobian(encoder: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The code and the exact Jacobian dh/dx of an MLP encoder, per example.

    The encoder must be built from Linear layers and elementwise activations (any nesting of
    Sequentials, Flatten, Identity). For h = a_L(W_L ... a_1(W_1 x)):

        1. forward, keeping each W_k and each activation derivative D_k = diag(a_k'(u_k));
        2. J = D_L W_L D_{L-1} W_{L-1} ... D_1 W_1, accumulated from the code side, so every
           product is (B, D, n) with D the code size: the cost of D vector-Jacobian products,
           instead of the d (input size, D << d) a forward accumulation would need.

    For one sigmoid layer this is Rifai et al. 2011's closed form
    ||J||_F^2 = sum_j (h_j (1 - h_j))^2 sum_i W_ji^2.

    Args:
        encoder: the MLP.
        x: inputs (B, ...); flattened to (B, d).

    Returns:
        (code (B, D), Jacobian (B, D, d)), float32, differentiable w.r.t. the parameters.
    """
    factors: list[tuple[str, torch.Tensor]] = []
    h = x.flatten(1).float()
    with torch.autocast(device_type=x.device.type, enabled=False):
        for layer in (m for m in encoder.modules() if not list(m.children())):
            if isinstance(layer, nn.Linear):
                factors.append(("linear", layer.weight.float()))  # (n_out, n_in)
                h = layer(h)
            elif type(layer) in ACTIVATION_DERIVATIVES:
                a = layer(h)
                factors.append(("diag", ACTIVATION_DERIVATIVES[type(layer)](layer, h, a)))  # (B, n)
                h = a
            elif isinstance(layer, (nn.Identity, nn.Flatten)):
                h = layer(h)
            else:
                raise TypeError(f"encoder_jacobian supports Linear layers and elementwise activations, "
                                f"not {type(layer).__name__}")
        jac: torch.Tensor | None = None  # (B, D, n), from the code back towards the input
        for kind, f in reversed(factors):
            if kind == "diag":
                jac = torch.diag_embed(f) if jac is None else jac * f[:, None, :]
            else:
                jac = f.expand(h.shape[0], -1, -1) if jac is None else jac @ f
    if jac is None:
        raise TypeError("encoder_jacobian needs an encoder with at least one Linear layer")
    return h, jac
