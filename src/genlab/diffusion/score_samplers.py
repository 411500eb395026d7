"""Samplers and the likelihood of score-based models, apart from any network.

Every function here takes a score function, ``score(x, t) -> grad_x log p_t(x)`` with x (B, ...)
and t (B,) float times in [0, 1] (or, for annealed Langevin dynamics, noise-level indices), and an
:class:`~genlab.diffusion.sde.SDE`:

* :func:`euler_maruyama`: the reverse SDE dx = [f - g^2 s] dt + g dw_bar, stepped from t = 1 to
  t = eps (Song et al. 2021, eq. 6); the last step returns its mean (no noise).
* :func:`predictor_corrector`: before every predictor (Euler-Maruyama) step, ``corrector_steps``
  Langevin steps x <- x + e s + sqrt(2 e) z with e = 2 alpha (snr ||z|| / ||s||)^2, the norms
  averaged over the batch (Song et al. 2021, Algorithms 4-5: "PC sampling").
* :func:`probability_flow`: the ODE dx/dt = f - 1/2 g^2 s (eq. 13) with a fixed-step Euler or Heun
  solver, or the adaptive Dormand-Prince RK45 pair (:func:`dopri5`, in torch so the state stays on
  the model's device with no host round trip per step; the tests check it against SciPy's ``solve_ivp``).
* :func:`ode_log_likelihood`: log p_0(x) = log p_1(x(1)) + int_eps^1 div f~(x(t), t) dt along the
  ODE from the data to the prior (the instantaneous change of variables, Chen et al. 2018), the
  divergence estimated by Hutchinson's trace estimator eps^T (df~/dx) eps with one fixed probe per
  sample (Grathwohl et al. 2019); :func:`dopri5` integrates it.
* :func:`annealed_langevin`: NCSN's sampler (Song & Ermon 2019, Algorithm 1) over noise levels
  sigma_1 > ... > sigma_L: at level i, ``steps`` updates x <- x + a_i/2 s(x, sigma_i) + sqrt(a_i) z
  with a_i = lr sigma_i^2 / sigma_L^2, then one denoising step x + sigma_L^2 s(x, sigma_L)
  (Song & Ermon 2020, Appendix: Tweedie's formula).
"""
from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from genlab.diffusion.sde import SDE, _b

Score = Callable[[Tensor, Tensor], Tensor]  # (x (B, ...), t (B,)) -> score, shape of x
ODE_METHODS = ("euler", "heun", "rk45")


def _times(steps: int, eps: float, device: torch.device) -> Tensor:
    if steps < 1:
        raise ValueError(f"steps must be at least 1, got {steps}")
    return torch.linspace(1.0, eps, steps + 1, device=device)  # (steps + 1,), descending


@torch.no_grad()
def euler_maruyama(score: Score, sde: SDE, x: Tensor, steps: int = 500, eps: float = 1e-3) -> Tensor:
    """Sample the reverse SDE from x = x(1) ~ prior down to t = eps; returns x(eps) (its mean on the last step)."""
    times = _times(steps, eps, x.device)
    for i in range(steps):
        t = times[i].expand(x.shape[0])
        dt = float(times[i + 1] - times[i])  # < 0
        mean = x + sde.reverse_drift(x, t, score(x, t)) * dt
        g = sde.drift_diffusion(x, t)[1]
        x = mean + _b(g, x) * (-dt) ** 0.5 * torch.randn_like(x) if i + 1 < steps else mean
    return x


@torch.no_grad()
def langevin_correct(score: Score, sde: SDE, x: Tensor, t: Tensor, snr: float, steps: int, dt: float) -> Tensor:
    """``steps`` Langevin corrector steps at time t with signal-to-noise ratio ``snr`` (Song et al. Alg. 5)."""
    alpha = sde.corrector_alpha(t, dt)  # (B,)
    for _ in range(steps):
        grad = score(x, t)
        z = torch.randn_like(x)
        # norms averaged over the batch: one step size for all samples (a per-sample ratio explodes for
        # samples where the score happens to be small, which in low dimension is common)
        grad_norm = grad.flatten(1).norm(dim=1).mean().clamp_min(1e-12)
        noise_norm = z.flatten(1).norm(dim=1).mean()
        step = 2 * alpha * (snr * noise_norm / grad_norm) ** 2  # (B,)
        x = x + _b(step, x) * grad + _b((2 * step).sqrt(), x) * z
    return x


@torch.no_grad()
def predictor_corrector(score: Score, sde: SDE, x: Tensor, steps: int = 500, eps: float = 1e-3, snr: float = 0.16,
                        corrector_steps: int = 1) -> Tensor:
    """PC sampling: Langevin corrector steps, then an Euler-Maruyama predictor step, at each time."""
    times = _times(steps, eps, x.device)
    for i in range(steps):
        t = times[i].expand(x.shape[0])
        dt = float(times[i + 1] - times[i])
        x = langevin_correct(score, sde, x, t, snr, corrector_steps, -dt)
        mean = x + sde.reverse_drift(x, t, score(x, t)) * dt
        g = sde.drift_diffusion(x, t)[1]
        x = mean + _b(g, x) * (-dt) ** 0.5 * torch.randn_like(x) if i + 1 < steps else mean
    return x


@torch.no_grad()
def probability_flow(score: Score, sde: SDE, x: Tensor, steps: int = 100, eps: float = 1e-3, method: str = "heun",
                     rtol: float = 1e-5, atol: float = 1e-5) -> tuple[Tensor, int]:
    """Integrate the probability-flow ODE from x(1) = ``x`` to t = eps.

    Args:
        method: 'euler' or 'heun' (fixed ``steps``; Heun takes two score evaluations per step but
            the last) or 'rk45' (adaptive Dormand-Prince with ``rtol`` / ``atol``; ``steps`` unused).

    Returns:
        x(eps) and the number of score evaluations.
    """
    if method not in ODE_METHODS:
        raise ValueError(f"unknown ODE method '{method}' (choose {', '.join(ODE_METHODS)})")

    def drift(v: Tensor, t: float) -> Tensor:
        tt = torch.full((v.shape[0],), t, device=v.device, dtype=v.dtype)
        return sde.reverse_drift(v, tt, score(v, tt), ode=True)

    if method == "rk45":
        out, nfe = dopri5(lambda t, v: drift(v.to(x.dtype), t).to(v.dtype), x.double(), 1.0, eps, rtol, atol)
        return out.to(x.dtype), nfe
    times = _times(steps, eps, x.device).tolist()
    nfe = 0
    for i in range(steps):
        t, t_next = times[i], times[i + 1]
        d = drift(x, t)
        nfe += 1
        if method == "heun":
            x_euler = x + d * (t_next - t)
            d2 = drift(x_euler, t_next)
            nfe += 1
            x = x + 0.5 * (d + d2) * (t_next - t)
        else:
            x = x + d * (t_next - t)
    return x, nfe


def ode_log_likelihood(score: Score, sde: SDE, x: Tensor, eps: float = 1e-5, rtol: float = 1e-5, atol: float = 1e-5,
                       probe: str = "rademacher", generator: torch.Generator | None = None) -> tuple[Tensor, int]:
    """log p_0(x) per sample (nats) through the probability-flow ODE with Hutchinson's trace estimator.

    Args:
        x: data (B, ...) in the scale the score was trained on.
        eps: the ODE starts at t = eps (the score is not trained at t = 0).
        probe: 'rademacher' (+-1 entries) or 'gaussian' probes; one per sample, fixed along the path.

    Returns:
        (B,) log-likelihoods in nats (of the continuous density of x) and the number of drift evaluations.
    """
    if probe not in ("rademacher", "gaussian"):
        raise ValueError(f"unknown probe '{probe}' (choose rademacher or gaussian)")
    shape, device, dtype = x.shape, x.device, x.dtype
    b, n = shape[0], x[0].numel()
    noise = torch.randn(shape, device=device, dtype=dtype, generator=generator)
    if probe == "rademacher":
        noise = noise.sign()

    def rhs(t: float, y: Tensor) -> Tensor:  # y = [x flattened, accumulated divergence] in float64
        v = y[: b * n].reshape(shape).to(dtype)
        tt = torch.full((b,), t, device=device, dtype=dtype)
        with torch.enable_grad():
            v.requires_grad_(True)
            drift = sde.reverse_drift(v, tt, score(v, tt), ode=True)
            (grad,) = torch.autograd.grad((drift * noise).sum(), v)
        div = (grad * noise).flatten(1).sum(1)  # (B,) eps^T (d drift / dx) eps
        return torch.cat([drift.detach().reshape(-1), div.detach()]).double()

    y0 = torch.cat([x.detach().double().reshape(-1), torch.zeros(b, dtype=torch.float64, device=device)])
    end, nfe = dopri5(rhs, y0, eps, 1.0, rtol, atol)
    z, delta = end[: b * n].reshape(shape), end[b * n:]
    return sde.prior_log_prob(z) + delta, nfe


# Dormand & Prince 1980, the RK5(4)7M pair: nodes, stage weights, 5th- and 4th-order solutions
_DP_C = (0.0, 1 / 5, 3 / 10, 4 / 5, 8 / 9, 1.0, 1.0)
_DP_A = ((), (1 / 5,), (3 / 40, 9 / 40), (44 / 45, -56 / 15, 32 / 9),
         (19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729),
         (9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656),
         (35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84))
_DP_B5 = (35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84, 0.0)
_DP_B4 = (5179 / 57600, 0.0, 7571 / 16695, 393 / 640, -92097 / 339200, 187 / 2100, 1 / 40)


@torch.no_grad()
def dopri5(f: Callable[[float, Tensor], Tensor], y: Tensor, t0: float, t1: float, rtol: float = 1e-5,
           atol: float = 1e-5, max_steps: int = 10_000) -> tuple[Tensor, int]:
    """Integrate dy/dt = f(t, y) from t0 to t1 (either direction) with adaptive Dormand-Prince RK45.

    Each step takes the 7 stages of the pair; the step is accepted when the RMS of the difference
    between the 5th- and 4th-order solutions, scaled by atol + rtol |y|, is at most 1, and the next
    step size is h * clamp(0.9 err^(-1/5), 0.2, 5) (Hairer, Norsett & Wanner, sec. II.4). The 5th-order
    solution is kept (local extrapolation).

    Returns:
        y(t1) and the number of evaluations of f.
    """
    span = t1 - t0
    if span == 0:
        return y, 0
    direction = 1.0 if span > 0 else -1.0
    t, h, nfe = t0, direction * min(abs(span), 0.01 * abs(span) + 1e-3), 0
    for _ in range(max_steps):
        if direction * (t + h - t1) > 0:
            h = t1 - t
        ks: list[Tensor] = []
        for c, a in zip(_DP_C, _DP_A, strict=True):
            yi = y + h * sum((w * k for w, k in zip(a, ks, strict=False) if w), torch.zeros_like(y))
            ks.append(f(t + c * h, yi))
        nfe += len(ks)
        y5 = y + h * sum((w * k for w, k in zip(_DP_B5, ks, strict=True) if w), torch.zeros_like(y))
        err = h * sum(((b5 - b4) * k for b5, b4, k in zip(_DP_B5, _DP_B4, ks, strict=True)), torch.zeros_like(y))
        scale = atol + rtol * torch.maximum(y.abs(), y5.abs())
        ratio = float((err / scale).pow(2).mean().sqrt())
        if ratio <= 1.0:
            t, y = t + h, y5
            if direction * (t - t1) >= -1e-12:
                return y, nfe
        h *= min(5.0, max(0.2, 0.9 * (ratio + 1e-16) ** -0.2))
    raise RuntimeError(f"dopri5 did not reach t = {t1} in {max_steps} steps (at t = {t})")


@torch.no_grad()
def annealed_langevin(score: Callable[[Tensor, Tensor], Tensor], sigmas: Tensor, x: Tensor, steps: int = 100,
                      lr: float = 2e-5, denoise: bool = True) -> Tensor:
    """NCSN's annealed Langevin dynamics from ``x`` (Song & Ermon 2019, Algorithm 1).

    Args:
        score: (x, level (B,) long) -> the score at noise level sigmas[level].
        sigmas: (L,) descending noise levels.
        steps: Langevin steps per level (the paper's T).
        lr: the step size epsilon; level i uses a_i = lr sigma_i^2 / sigma_L^2.
        denoise: end with x + sigma_L^2 s(x, sigma_L) (Tweedie's formula), which removes the last
            level's noise.
    """
    if steps < 1:
        raise ValueError(f"steps must be at least 1, got {steps}")
    sigma_last = float(sigmas[-1])
    for i, sigma in enumerate(sigmas.tolist()):
        level = torch.full((x.shape[0],), i, dtype=torch.long, device=x.device)
        a = lr * (sigma / sigma_last) ** 2
        for _ in range(steps):
            x = x + 0.5 * a * score(x, level) + a**0.5 * torch.randn_like(x)
    if denoise:
        level = torch.full((x.shape[0],), len(sigmas) - 1, dtype=torch.long, device=x.device)
        x = x + sigma_last**2 * score(x, level)
    return x
