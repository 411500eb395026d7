"""Negative log-likelihood by importance sampling (the IWAE bound, Burda et al. 2016, eq. 8).

    log p(x) ~= log (1/k) sum_i p(x, z_i) / q(z_i|x),  z_i ~ q(z|x)
             = logsumexp_i [log p(x|z_i) + log p(z_i) - log q(z_i|x)] - log k

The estimate is a lower bound on log p(x) in expectation for every k, tightening as k grows; with
the exact posterior as proposal every weight equals p(x) and one sample suffices.
:func:`importance_sampled_log_likelihood` is the estimator for any proposal and joint density;
models expose it as ``model.log_likelihood(x, k)`` (the VAE family), and
:func:`negative_log_likelihood` evaluates that over a split: nats per image and bits per dimension
(nats / (D ln 2)).
"""
from __future__ import annotations

import math
from collections.abc import Callable

import torch

from genlab.errors import ConfigError
from genlab.models.base import GenerativeModel, LikelihoodModel


def importance_sampled_log_likelihood(sample_proposal: Callable[[int], torch.Tensor],
                                      log_proposal: Callable[[torch.Tensor], torch.Tensor],
                                      log_joint: Callable[[torch.Tensor], torch.Tensor],
                                      k: int, chunk: int = 250) -> torch.Tensor:
    """Importance-sampled log p(x) per item.

    Args:
        sample_proposal: m -> z of shape (m, B, D), draws from q(z|x) for each of the B items.
        log_proposal: z (m, B, D) -> log q(z|x), (m, B).
        log_joint: z (m, B, D) -> log p(x, z) = log p(x|z) + log p(z), (m, B).
        k: importance samples per item.
        chunk: samples drawn at once (memory).

    Returns:
        (B,) estimates of log p(x) in nats.
    """
    if k < 1:
        raise ConfigError(f"importance sampling needs k >= 1, got {k}")
    log_w = []
    for start in range(0, k, chunk):
        z = sample_proposal(min(chunk, k - start))  # (m, B, D)
        log_w.append(log_joint(z) - log_proposal(z))  # (m, B), log importance weights
    return torch.logsumexp(torch.cat(log_w), dim=0) - math.log(k)


def negative_log_likelihood(model: GenerativeModel, images: torch.Tensor, k: int = 1000, batch_size: int = 100,
                            labels: torch.Tensor | None = None) -> dict[str, float]:
    """Mean -log p(x) of images under ``model.log_likelihood`` (nats per image and bits per dim).

    Args:
        model: a :class:`genlab.models.base.LikelihoodModel` (VAE family).
        images: (N, C, H, W) in [0, 1], prepared as the model was trained (e.g. binarized).
        k: importance samples per image.
        labels: (N,) labels, passed to ``log_likelihood`` (conditional models give log p(x | y);
            the contract lets unconditional ones ignore them).

    Raises:
        ConfigError: the model has no likelihood.
    """
    if not isinstance(model, LikelihoodModel):
        name = model.registry_name if isinstance(model, GenerativeModel) else ""
        raise ConfigError(f"model '{name or type(model).__name__}' has no log-likelihood "
                          f"(only VAE-family models do); drop 'nll' from --metrics")
    device = model.device
    # summed on the device (float64 where it has it) and read once: no host sync per batch
    total = torch.zeros((), dtype=torch.float32 if device.type == "mps" else torch.float64, device=device)
    for i in range(0, len(images), batch_size):
        y = None if labels is None else labels[i:i + batch_size].to(device)
        total += model.log_likelihood(images[i:i + batch_size].to(device), k=k, labels=y).to(total.dtype).sum()
    nats = -float(total) / len(images)
    dims = images[0].numel()
    return {"nll_nats": nats, "nll_bits_per_dim": nats / (dims * math.log(2))}
