"""Noise schedules of Gaussian diffusion, kept apart from any network.

The forward process adds Gaussian noise over T steps (Ho et al. 2020, "DDPM"):

    q(x_t | x_{t-1}) = N(sqrt(1 - beta_t) x_{t-1}, beta_t I)                    DDPM eq. 2
    q(x_t | x_0)     = N(sqrt(abar_t) x_0, (1 - abar_t) I),  abar_t = prod_s (1 - beta_s)   eq. 4
    q(x_{t-1} | x_t, x_0) = N(mu~_t(x_t, x_0), beta~_t I)                        eq. 6, 7

Indices here are 0-based: ``t = 0 .. T-1`` is the paper's ``t = 1 .. T``, so ``abar[0] = 1 - beta_1``
and "the step before t = 0" is the clean image (abar = 1).

A network may predict one of three targets, all interchangeable given x_t and t:
``eps`` (the noise, DDPM), ``x0`` (the clean image) or ``v = sqrt(abar) eps - sqrt(1 - abar) x0``
(Salimans & Ho 2022, "Progressive distillation", section 4).

Schedule values are computed in float64 and cast to the dtype of the images when used.
"""
from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

PREDICTIONS = ("eps", "x0", "v")


def linear_betas(timesteps: int, beta_start: float = 1e-4, beta_end: float = 0.02) -> Tensor:
    """beta_t evenly spaced from beta_start to beta_end (DDPM section 4: 1e-4 to 0.02, T = 1000).

    Returns:
        (T,) float64.
    """
    return torch.linspace(beta_start, beta_end, timesteps, dtype=torch.float64)


def cosine_betas(timesteps: int, offset: float = 0.008, max_beta: float = 0.999) -> Tensor:
    """The cosine schedule of Nichol & Dhariwal 2021 (eq. 17).

    abar(t) = f(t) / f(0), f(t) = cos^2(((t / T) + s) / (1 + s) * pi / 2); beta_t = 1 - abar(t) / abar(t-1),
    clipped to ``max_beta`` so the last steps stay finite.

    Returns:
        (T,) float64.
    """
    steps = torch.arange(timesteps + 1, dtype=torch.float64) / timesteps  # t / T, (T+1,)
    f = torch.cos((steps + offset) / (1 + offset) * math.pi / 2) ** 2
    abar = f / f[0]
    return (1 - abar[1:] / abar[:-1]).clamp(max=max_beta)


BETA_SCHEDULES: dict[str, Callable[..., Tensor]] = {"linear": linear_betas, "cosine": cosine_betas}


def _at(values: Tensor, t: Tensor, like: Tensor) -> Tensor:
    """values[t] shaped to broadcast against ``like`` (B, ...) and in its dtype/device."""
    out = values.to(like.device)[t.to(like.device)]  # (B,)
    return out.to(like.dtype).reshape(-1, *([1] * (like.dim() - 1)))  # (B, 1, 1, 1)


class NoiseSchedule:
    """The quantities of a beta schedule and the closed forms built on them.

    Args:
        betas: (T,) the variance of each forward step, each in (0, 1).
    """

    def __init__(self, betas: Tensor):
        betas = betas.to(torch.float64)
        if betas.dim() != 1 or len(betas) < 1 or not bool(((betas > 0) & (betas < 1)).all()):
            raise ValueError("betas must be a non-empty 1-D tensor with values in (0, 1)")
        self.betas = betas  # (T,)
        self.alphas = 1 - betas  # (T,)
        self.alpha_bars = torch.cumprod(self.alphas, 0)  # abar_t, (T,)
        self.alpha_bars_prev = torch.cat([torch.ones(1, dtype=torch.float64), self.alpha_bars[:-1]])  # abar_{t-1}
        # beta~_t = (1 - abar_{t-1}) / (1 - abar_t) * beta_t   (DDPM eq. 7)
        self.posterior_variance = (1 - self.alpha_bars_prev) / (1 - self.alpha_bars) * betas

    @classmethod
    def named(cls, name: str, timesteps: int = 1000, **kwargs: float) -> NoiseSchedule:
        """A schedule from :data:`BETA_SCHEDULES` ('linear' or 'cosine'); kwargs go to its beta function."""
        if name not in BETA_SCHEDULES:
            raise ValueError(f"unknown beta schedule '{name}' (choose {', '.join(BETA_SCHEDULES)})")
        return cls(BETA_SCHEDULES[name](timesteps, **kwargs))

    @property
    def timesteps(self) -> int:
        return len(self.betas)

    def alpha_bar(self, t: Tensor) -> Tensor:
        """abar_t for integer steps t, with abar_{-1} = 1 (the clean image); float64, shape of t."""
        padded = torch.cat([torch.ones(1, dtype=torch.float64), self.alpha_bars])
        return padded[t.long().cpu() + 1].to(t.device)

    # --- the forward process -----------------------------------------------------------------------
    def add_noise(self, x0: Tensor, noise: Tensor, t: Tensor) -> Tensor:
        """x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps, a draw of q(x_t | x_0) (DDPM eq. 4).

        Args:
            x0: clean images (B, C, H, W).
            noise: eps ~ N(0, I), same shape.
            t: (B,) integer steps in [0, T).
        """
        abar = _at(self.alpha_bars, t, x0)  # (B, 1, 1, 1)
        return abar.sqrt() * x0 + (1 - abar).sqrt() * noise

    def forward_step(self, x_prev: Tensor, noise: Tensor, t: Tensor) -> Tensor:
        """One forward step x_t = sqrt(1 - beta_t) x_{t-1} + sqrt(beta_t) eps (DDPM eq. 2)."""
        beta = _at(self.betas, t, x_prev)
        return (1 - beta).sqrt() * x_prev + beta.sqrt() * noise

    def posterior(self, x0: Tensor, xt: Tensor, t: Tensor) -> tuple[Tensor, Tensor]:
        """Mean and variance of q(x_{t-1} | x_t, x_0) (DDPM eq. 6, 7).

        mu~_t = sqrt(abar_{t-1}) beta_t / (1 - abar_t) x_0 + sqrt(alpha_t) (1 - abar_{t-1}) / (1 - abar_t) x_t
        beta~_t = (1 - abar_{t-1}) / (1 - abar_t) beta_t

        Returns:
            mean (B, C, H, W) and variance (B, 1, 1, 1).
        """
        abar, abar_prev = _at(self.alpha_bars, t, xt), _at(self.alpha_bars_prev, t, xt)
        beta, alpha = _at(self.betas, t, xt), _at(self.alphas, t, xt)
        mean = abar_prev.sqrt() * beta / (1 - abar) * x0 + alpha.sqrt() * (1 - abar_prev) / (1 - abar) * xt
        return mean, _at(self.posterior_variance, t, xt)

    # --- prediction targets ------------------------------------------------------------------------
    def target(self, x0: Tensor, noise: Tensor, t: Tensor, prediction: str) -> Tensor:
        """What a network predicting ``prediction`` ('eps', 'x0' or 'v') should output for x_t."""
        if prediction == "eps":
            return noise
        if prediction == "x0":
            return x0
        if prediction == "v":  # v = sqrt(abar) eps - sqrt(1 - abar) x0  (Salimans & Ho 2022, sec. 4)
            abar = _at(self.alpha_bars, t, x0)
            return abar.sqrt() * noise - (1 - abar).sqrt() * x0
        raise ValueError(f"unknown prediction target '{prediction}' (choose {', '.join(PREDICTIONS)})")

    def split_prediction(self, output: Tensor, xt: Tensor, t: Tensor, prediction: str) -> tuple[Tensor, Tensor]:
        """(x0, eps) implied by a network output of kind ``prediction`` at x_t.

        From x_t = sqrt(abar) x0 + sqrt(1 - abar) eps (eq. 4):
            eps -> x0 = (x_t - sqrt(1 - abar) eps) / sqrt(abar)          (DDPM eq. 15)
            x0  -> eps = (x_t - sqrt(abar) x0) / sqrt(1 - abar)
            v   -> x0 = sqrt(abar) x_t - sqrt(1 - abar) v,  eps = sqrt(1 - abar) x_t + sqrt(abar) v
        """
        abar = _at(self.alpha_bars, t, xt)
        a, s = abar.sqrt(), (1 - abar).sqrt()
        if prediction == "eps":
            return (xt - s * output) / a, output
        if prediction == "x0":
            return output, (xt - a * output) / s
        if prediction == "v":
            return a * xt - s * output, s * xt + a * output
        raise ValueError(f"unknown prediction target '{prediction}' (choose {', '.join(PREDICTIONS)})")

    def eps_from_x0(self, xt: Tensor, x0: Tensor, t: Tensor) -> Tensor:
        """eps = (x_t - sqrt(abar_t) x0) / sqrt(1 - abar_t), e.g. after clipping x0 to [-1, 1]."""
        abar = _at(self.alpha_bars, t, xt)
        return (xt - abar.sqrt() * x0) / (1 - abar).sqrt()
