"""Reverse-process samplers: DDPM ancestral sampling and DDIM, each a ``step`` over a schedule.

A sampler knows nothing of networks. It lists the steps it visits (:meth:`Sampler.timesteps`,
descending, each with the step it moves to; -1 is the clean image) and, given the current x_t and
the network's estimates of x0 and eps at x_t, returns the next, less noisy, x:

    x_prev = mean(x_t, x0, eps) + std * noise                       (:meth:`Sampler.step`)

:func:`sample_loop` runs a sampler with any ``predict(x_t, t) -> (x0, eps)`` function.
"""
from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from genlab.diffusion.schedules import NoiseSchedule, _at

Predict = Callable[[Tensor, Tensor], tuple[Tensor, Tensor]]  # (x_t (B,C,H,W), t (B,)) -> (x0, eps)


class Sampler:
    """The step contract; subclasses implement :meth:`timesteps` and :meth:`step_distribution`."""

    def __init__(self, schedule: NoiseSchedule):
        self.schedule = schedule

    def timesteps(self) -> list[tuple[int, int]]:
        """(t, t_prev) pairs in the order they are visited, from t = T-1 down to t_prev = -1."""
        raise NotImplementedError

    def step_distribution(self, xt: Tensor, x0: Tensor, eps: Tensor, t: Tensor,
                          t_prev: Tensor) -> tuple[Tensor, Tensor]:
        """Mean (B, C, H, W) and standard deviation (B, 1, 1, 1) of p(x_{t_prev} | x_t)."""
        raise NotImplementedError

    def step(self, xt: Tensor, x0: Tensor, eps: Tensor, t: Tensor, t_prev: Tensor, noise: Tensor) -> Tensor:
        """One reverse step: x_{t_prev} = mean + std * noise.

        Args:
            xt: current images (B, C, H, W).
            x0, eps: the network's estimates of the clean image and of the noise at x_t.
            t, t_prev: (B,) current step and the step to move to (-1 = the clean image).
            noise: N(0, I) draws, same shape as xt (unused where std = 0).
        """
        mean, std = self.step_distribution(xt, x0, eps, t, t_prev)
        return mean + std * noise

    @property
    def num_steps(self) -> int:
        return len(self.timesteps())


class DDPMSampler(Sampler):
    """Ancestral sampling over all T steps (Ho et al. 2020, Algorithm 2).

    Args:
        schedule: the noise schedule.
        variance: 'posterior' (sigma^2 = beta~_t, eq. 7) or 'beta' (sigma^2 = beta_t); DDPM section
            3.2 reports both give similar results.
        steps: None or T (ancestral sampling always runs every step).
    """

    def __init__(self, schedule: NoiseSchedule, variance: str = "posterior", steps: int | None = None):
        super().__init__(schedule)
        if variance not in ("posterior", "beta"):
            raise ValueError(f"unknown DDPM variance '{variance}' (choose posterior or beta)")
        if steps is not None and steps != schedule.timesteps:
            raise ValueError(f"the ddpm sampler runs all {schedule.timesteps} steps (got steps = {steps}); "
                             f"use the ddim sampler for fewer")
        self.variance = variance

    def timesteps(self) -> list[tuple[int, int]]:
        return [(t, t - 1) for t in range(self.schedule.timesteps - 1, -1, -1)]

    def step_distribution(self, xt: Tensor, x0: Tensor, eps: Tensor, t: Tensor,
                          t_prev: Tensor) -> tuple[Tensor, Tensor]:
        # 1. mean: the posterior mean mu~_t(x_t, x0_hat) (DDPM eq. 7); with the unclipped
        #    x0_hat of eq. 15 this equals eq. 11, 1/sqrt(alpha_t) (x_t - beta_t / sqrt(1 - abar_t) eps).
        mean, posterior_var = self.schedule.posterior(x0, xt, t)
        # 2. variance: beta~_t or beta_t; no noise on the last step (Algorithm 2: z = 0 if t = 1).
        var = posterior_var if self.variance == "posterior" else _at(self.schedule.betas, t, xt)
        last = (t > 0).to(xt.dtype).reshape(var.shape)  # (B, 1, 1, 1): 0 on the step to x0
        return mean, var.sqrt() * last


class DDIMSampler(Sampler):
    """DDIM (Song et al. 2021): S of the T steps, noise level eta (0 = deterministic).

    Visits tau_i = floor(i T / S), i = S-1 .. 0, so S = T visits every step.

    Args:
        schedule: the noise schedule the network was trained with.
        steps: S, the number of network evaluations (1 <= S <= T).
        eta: 0 gives the deterministic DDIM; 1 gives DDPM's posterior variance (eq. 16).
    """

    def __init__(self, schedule: NoiseSchedule, steps: int | None = 50, eta: float = 0.0):
        super().__init__(schedule)
        steps = schedule.timesteps if steps is None else int(steps)
        if not 1 <= steps <= schedule.timesteps:
            raise ValueError(f"ddim steps must be between 1 and T = {schedule.timesteps}, got {steps}")
        if eta < 0:
            raise ValueError(f"eta must be non-negative, got {eta}")
        self.steps, self.eta = steps, float(eta)

    def timesteps(self) -> list[tuple[int, int]]:
        tau = [i * self.schedule.timesteps // self.steps for i in range(self.steps)]  # ascending, tau_0 = 0
        return [(tau[i], tau[i - 1] if i > 0 else -1) for i in range(self.steps - 1, -1, -1)]

    def step_distribution(self, xt: Tensor, x0: Tensor, eps: Tensor, t: Tensor,
                          t_prev: Tensor) -> tuple[Tensor, Tensor]:
        shape = (-1,) + (1,) * (xt.dim() - 1)
        abar = self.schedule.alpha_bar(t).to(xt.dtype).reshape(shape)  # (B, 1, 1, 1)
        abar_prev = self.schedule.alpha_bar(t_prev).to(xt.dtype).reshape(shape)  # 1 at t_prev = -1
        # 1. sigma_tau(eta) = eta sqrt((1 - abar_prev) / (1 - abar)) sqrt(1 - abar / abar_prev)   (DDIM eq. 16)
        sigma = self.eta * ((1 - abar_prev) / (1 - abar) * (1 - abar / abar_prev)).clamp_min(0).sqrt()
        # 2. x_prev = sqrt(abar_prev) x0 + sqrt(1 - abar_prev - sigma^2) eps + sigma z   (DDIM eq. 12)
        direction = (1 - abar_prev - sigma**2).clamp_min(0).sqrt()
        return abar_prev.sqrt() * x0 + direction * eps, sigma


SAMPLERS: dict[str, type[Sampler]] = {"ddpm": DDPMSampler, "ddim": DDIMSampler}


@torch.no_grad()
def sample_loop(predict: Predict, sampler: Sampler, x: Tensor, clip: bool = True,
                on_step: Callable[[int, int, Tensor, Tensor], None] | None = None) -> Tensor:
    """Run the reverse process from x_T = ``x`` to a clean sample.

    Args:
        predict: (x_t, t) -> (x0, eps) estimates, e.g. a noise-prediction network and
            :meth:`NoiseSchedule.split_prediction`.
        sampler: the sampler (its schedule must be the one the network was trained with).
        x: the starting noise (B, C, H, W), N(0, I).
        clip: clip the x0 estimate to [-1, 1] (and recompute eps from it) before each step.
        on_step: called as on_step(i, t, x_t, x0) before step i, e.g. to record a trajectory.

    Returns:
        x_{-1}, the sample (B, C, H, W), in the data scale [-1, 1] (approximately).
    """
    schedule = sampler.schedule
    for i, (t_int, t_prev_int) in enumerate(sampler.timesteps()):
        t = torch.full((x.shape[0],), t_int, dtype=torch.long, device=x.device)  # (B,)
        t_prev = torch.full_like(t, t_prev_int)
        x0, eps = predict(x, t)
        if clip:
            x0 = x0.clamp(-1, 1)
            eps = schedule.eps_from_x0(x, x0, t)
        if on_step is not None:
            on_step(i, t_int, x, x0)
        x = sampler.step(x, x0, eps, t, t_prev, torch.randn_like(x))
    return x
