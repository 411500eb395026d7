"""Score-based diffusion in continuous time (Song et al. 2021, "Score-Based Generative Modeling
through Stochastic Differential Equations"), apart from any network: the SDEs and their marginals.

A forward SDE dx = f(x, t) dt + g(t) dw on t in [0, 1] turns data into noise. With the score
s(x, t) = grad_x log p_t(x), the reverse-time SDE and the probability-flow ODE share its marginals:

    reverse SDE:        dx = [f(x, t) - g(t)^2 s(x, t)] dt + g(t) dw_bar        (eq. 6)
    probability flow:   dx/dt = f(x, t) - 1/2 g(t)^2 s(x, t)                      (eq. 13)

Two SDEs, both with a Gaussian transition kernel p_0t(x_t | x_0) = N(m(t) x_0, v(t) I):

* VP (variance preserving, the continuous DDPM; eq. 11, 29):
  beta(t) = beta_min + t (beta_max - beta_min), f = -1/2 beta(t) x, g = sqrt(beta(t)),
  m(t) = exp(-1/4 t^2 (beta_max - beta_min) - 1/2 t beta_min), v(t) = 1 - m(t)^2. Prior N(0, I).
* VE (variance exploding, the continuous NCSN; eq. 9, 30):
  sigma(t) = sigma_min (sigma_max / sigma_min)^t, f = 0, g = sigma(t) sqrt(2 log(sigma_max / sigma_min)),
  m(t) = 1, v(t) = sigma(t)^2 - sigma_min^2 (the exact variance of the SDE started at t = 0; the
  paper approximates it by sigma(t)^2). Prior N(0, sigma_max^2 I).

Everything is computed in the dtype of the inputs; ``t`` is a tensor of shape (B,) in [0, 1].
"""
from __future__ import annotations

import math

import torch
from torch import Tensor


def _b(values: Tensor, like: Tensor) -> Tensor:
    """(B,) values shaped to broadcast against ``like`` (B, ...)."""
    return values.to(like.dtype).reshape(-1, *([1] * (like.dim() - 1)))


class SDE:
    """A forward SDE with a Gaussian kernel; subclasses give f, g, the kernel and the prior."""

    name = "sde"

    def drift_diffusion(self, x: Tensor, t: Tensor) -> tuple[Tensor, Tensor]:
        """f(x, t) (shape of x) and g(t) (B,)."""
        raise NotImplementedError

    def marginal(self, t: Tensor) -> tuple[Tensor, Tensor]:
        """m(t) and the standard deviation sqrt(v(t)) of p_0t(x_t | x_0) = N(m x_0, v I), each (B,)."""
        raise NotImplementedError

    def prior_std(self) -> float:
        """Standard deviation of the prior p_1 = N(0, prior_std^2 I) the samplers start from."""
        raise NotImplementedError

    def perturb(self, x0: Tensor, noise: Tensor, t: Tensor) -> Tensor:
        """x_t = m(t) x_0 + sqrt(v(t)) noise, a draw of p_0t(x_t | x_0)."""
        m, s = self.marginal(t)
        return _b(m, x0) * x0 + _b(s, x0) * noise

    def prior_sample(self, shape: tuple[int, ...], device: torch.device | None = None) -> Tensor:
        return torch.randn(shape, device=device) * self.prior_std()

    def prior_log_prob(self, z: Tensor) -> Tensor:
        """log N(z; 0, prior_std^2 I) per sample, (B, ...) -> (B,)."""
        d = z[0].numel()
        s = self.prior_std()
        return -0.5 * z.flatten(1).pow(2).sum(1) / s**2 - d * (math.log(s) + 0.5 * math.log(2 * math.pi))

    def reverse_drift(self, x: Tensor, t: Tensor, score: Tensor, ode: bool = False) -> Tensor:
        """f - g^2 s (the reverse SDE, eq. 6) or f - 1/2 g^2 s (the probability-flow ODE, eq. 13)."""
        f, g = self.drift_diffusion(x, t)
        return f - (0.5 if ode else 1.0) * _b(g, x) ** 2 * score

    def corrector_alpha(self, t: Tensor, dt: float) -> Tensor:
        """The alpha_i of Song et al.'s Langevin corrector for a step of size dt (Algorithm 5; 1 for VE), (B,)."""
        return torch.ones_like(t)


class VPSDE(SDE):
    """The variance-preserving SDE (continuous DDPM); see the module docstring.

    Args:
        beta_min, beta_max: beta(0) and beta(1) (Song et al.: 0.1 and 20, i.e. DDPM's 1e-4..0.02 x 1000).
    """

    name = "vp"

    def __init__(self, beta_min: float = 0.1, beta_max: float = 20.0):
        if not 0 < beta_min <= beta_max:
            raise ValueError(f"need 0 < beta_min <= beta_max, got {beta_min} and {beta_max}")
        self.beta_min, self.beta_max = float(beta_min), float(beta_max)

    def beta(self, t: Tensor) -> Tensor:
        return self.beta_min + t * (self.beta_max - self.beta_min)

    def drift_diffusion(self, x: Tensor, t: Tensor) -> tuple[Tensor, Tensor]:
        beta = self.beta(t)
        return -0.5 * _b(beta, x) * x, beta.sqrt()

    def marginal(self, t: Tensor) -> tuple[Tensor, Tensor]:
        log_m = -0.25 * t**2 * (self.beta_max - self.beta_min) - 0.5 * t * self.beta_min
        return log_m.exp(), (-torch.expm1(2 * log_m)).clamp_min(0).sqrt()

    def prior_std(self) -> float:
        return 1.0

    def corrector_alpha(self, t: Tensor, dt: float) -> Tensor:
        return 1 - self.beta(t) * dt  # alpha_i = 1 - beta_i of the discretized chain


class VESDE(SDE):
    """The variance-exploding SDE (continuous NCSN); see the module docstring.

    Args:
        sigma_min, sigma_max: sigma(0) and sigma(1); sigma_max should be about the largest distance
            between two training images (Song & Ermon 2020, technique 1).
    """

    name = "ve"

    def __init__(self, sigma_min: float = 0.01, sigma_max: float = 50.0):
        if not 0 < sigma_min < sigma_max:
            raise ValueError(f"need 0 < sigma_min < sigma_max, got {sigma_min} and {sigma_max}")
        self.sigma_min, self.sigma_max = float(sigma_min), float(sigma_max)
        self._log_ratio = math.log(self.sigma_max / self.sigma_min)

    def sigma(self, t: Tensor) -> Tensor:
        return self.sigma_min * torch.exp(t * self._log_ratio)

    def drift_diffusion(self, x: Tensor, t: Tensor) -> tuple[Tensor, Tensor]:
        return torch.zeros_like(x), self.sigma(t) * math.sqrt(2 * self._log_ratio)

    def marginal(self, t: Tensor) -> tuple[Tensor, Tensor]:
        return torch.ones_like(t), (self.sigma(t) ** 2 - self.sigma_min**2).clamp_min(0).sqrt()

    def prior_std(self) -> float:
        return self.sigma_max


SDES: dict[str, type[SDE]] = {"vp": VPSDE, "ve": VESDE}


def geometric_sigmas(sigma_max: float, sigma_min: float, levels: int) -> Tensor:
    """NCSN's noise levels sigma_1 > ... > sigma_L, a geometric sequence (Song & Ermon 2019, sec. 4.2), (L,)."""
    if not 0 < sigma_min < sigma_max or levels < 2:
        raise ValueError(f"need 0 < sigma_min < sigma_max and at least 2 levels, got {sigma_min}, {sigma_max}, "
                         f"{levels}")
    return torch.exp(torch.linspace(math.log(sigma_max), math.log(sigma_min), levels, dtype=torch.float64))
