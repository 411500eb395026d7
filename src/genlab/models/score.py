"""Score-based generative models: ``score-sde`` (Song et al. 2021) and ``ncsn`` (Song & Ermon 2019).

Both train the DDPM U-Net (:mod:`genlab.nn.unet`) by denoising score matching: for clean images
x0 in [-1, 1], a noise level and z ~ N(0, I),

    x~ = m x0 + sigma z,      s(x~) = -net(x~ / sqrt(m^2 + sigma^2), level) / sigma
    loss = E || sigma s(x~) + z ||^2 = E || net(...) - z ||^2        (lambda(sigma) = sigma^2 weighting)

so the network predicts the noise and the score is -prediction / sigma (the optimum of the loss is
sigma times the score of the perturbed data, Vincent 2011). The input is divided by
sqrt(m^2 + sigma^2) so it has about unit scale at every noise level (for the VP SDE this is 1).

* ``score-sde``: continuous t ~ U(t_eps, 1) under the VP or the VE SDE (``--sde vp|ve``; the SDEs
  and samplers live in :mod:`genlab.diffusion.sde` / :mod:`genlab.diffusion.score_samplers`);
  samplers 'em' (Euler-Maruyama on the reverse SDE), 'pc' (predictor-corrector with a Langevin
  corrector) and 'ode' (the probability-flow ODE: fixed-step Euler / Heun or adaptive RK45), and the
  exact likelihood through the ODE (:meth:`ScoreSDE.bits_per_dim`).
* ``ncsn``: L geometric noise levels sigma_1 > ... > sigma_L, a level drawn uniformly per image
  (Song & Ermon 2019, eq. 5-6), sampled by annealed Langevin dynamics ('ald').

The network's time input is 999 t (score-sde) or 999 i / (L - 1) for level i (ncsn), the range of
DDPM's integer steps the U-Net's sinusoidal embedding was sized for. An EMA of the weights samples.
"""
from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from genlab.config import check_range, check_sizes
from genlab.diffusion.score_samplers import (
    annealed_langevin,
    euler_maruyama,
    ode_log_likelihood,
    predictor_corrector,
    probability_flow,
)
from genlab.diffusion.sde import SDE, VESDE, VPSDE, geometric_sigmas
from genlab.errors import ConfigError
from genlab.models.base import Batch, GenerativeModel, Losses
from genlab.models.unet_common import UNetModelConfig
from genlab.nn.ema import ema_decay_at, ema_update_
from genlab.registry import register


@dataclass
class ScoreNetConfig(UNetModelConfig):
    """The U-Net and EMA settings both score models share (:class:`~genlab.models.unet_common.UNetModelConfig`,
    as in :class:`~genlab.models.diffusion.DDPMConfig`) and their default sampler's length.

    Attributes:
        sample_steps: steps of the default sampler (score-sde: time steps; ncsn: Langevin steps per level).
    """

    sample_steps: int = 25

    def __post_init__(self) -> None:
        super().__post_init__()
        check_sizes("sample_steps", self.sample_steps, maximum=100_000)


@dataclass
class ScoreSDEConfig(ScoreNetConfig):
    """Configuration of :class:`ScoreSDE`; adds to the U-Net settings.

    Attributes:
        sde: 'vp' (variance preserving: the continuous DDPM) or 've' (variance exploding: the continuous NCSN).
        beta_min: beta(0) of the VP SDE.
        beta_max: beta(1) of the VP SDE.
        sigma_min: sigma(0) of the VE SDE.
        sigma_max: sigma(1) of the VE SDE (about the largest distance between two training images in [-1, 1]).
        t_eps: smallest time trained on and the time sampling ends at (the score blows up at t = 0).
        sampler: default sampler: 'em' (Euler-Maruyama), 'pc' (predictor-corrector) or 'ode'
            (the probability-flow ODE).
        ode_method: solver of the 'ode' sampler: 'euler', 'heun' (fixed steps) or 'rk45' (adaptive Dormand-Prince).
        snr: signal-to-noise ratio of the Langevin corrector (pc).
        corrector_steps: Langevin corrector steps per predictor step (pc).
    """

    sde: Literal["vp", "ve"] = "vp"
    beta_min: float = 0.1
    beta_max: float = 20.0
    sigma_min: float = 0.01
    sigma_max: float = 30.0
    t_eps: float = 1e-3
    sampler: Literal["em", "pc", "ode"] = "ode"
    ode_method: Literal["euler", "heun", "rk45"] = "heun"
    snr: float = 0.16
    corrector_steps: int = 1

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0 < self.beta_min <= self.beta_max:
            raise ValueError(f"need 0 < beta_min <= beta_max, got {self.beta_min} and {self.beta_max}")
        if not 0 < self.sigma_min < self.sigma_max:
            raise ValueError(f"need 0 < sigma_min < sigma_max, got {self.sigma_min} and {self.sigma_max}")
        check_range("t_eps", self.t_eps, 0, 0.5, low_open=True)
        check_range("snr", self.snr, 0, low_open=True)
        check_sizes("corrector_steps", self.corrector_steps, maximum=1000)


@dataclass
class NCSNConfig(ScoreNetConfig):
    """Configuration of :class:`NCSN`; adds to the U-Net settings.

    Attributes:
        sigma_max: the largest noise level sigma_1.
        sigma_min: the smallest noise level sigma_L.
        num_levels: L, the number of noise levels (geometric between sigma_max and sigma_min).
        step_lr: epsilon of annealed Langevin dynamics (level i steps by epsilon sigma_i^2 / sigma_L^2).
        denoise: end sampling with one denoising step x + sigma_L^2 s(x, sigma_L).
    """

    sigma_max: float = 5.0
    sigma_min: float = 0.01
    num_levels: int = 10
    step_lr: float = 2e-5
    denoise: bool = True
    sample_steps: int = 5

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0 < self.sigma_min < self.sigma_max:
            raise ValueError(f"need 0 < sigma_min < sigma_max, got {self.sigma_min} and {self.sigma_max}")
        check_sizes("num_levels", self.num_levels, minimum=2, maximum=10_000)
        check_range("step_lr", self.step_lr, 0, low_open=True)


def make_sde(cfg: ScoreSDEConfig) -> SDE:
    """The SDE a config describes."""
    return VPSDE(cfg.beta_min, cfg.beta_max) if cfg.sde == "vp" else VESDE(cfg.sigma_min, cfg.sigma_max)


class ScoreModel(GenerativeModel):
    """The U-Net, its EMA copy and the training bookkeeping both score models share."""

    config: ScoreNetConfig
    sample_options = ("sampler", "steps")
    export_parts = ("score",)  # the score network at one (x, t): the sampler's loop stays outside (docs/export.md)
    export_refusals = {"sample": "sampling runs the score network once per step in a Python loop with a sampler; "
                                 "export the 'score' part and run the loop outside (docs/export.md)"}
    has_trajectory = True  # denoising_trajectory(): x along the sampler's path and its denoised estimate
    updates: Tensor  # buffer (registered in __init__)

    def __init__(self, config: ScoreNetConfig):
        super().__init__(config)
        self.net = config.build_unet()
        self.ema = copy.deepcopy(self.net).requires_grad_(False) if config.ema_decay > 0 else None
        self.register_counter("updates")

    def score(self, x: Tensor, t: Tensor, ema: bool = True) -> Tensor:
        """s(x, t) for x (B, C, H, W) in the [-1, 1] scale at times / noise levels t (B,)."""
        raise NotImplementedError

    def score_times(self, n: int, generator: torch.Generator) -> Tensor:
        """n valid time inputs of :meth:`score` (example inputs of the exported 'score' part)."""
        raise NotImplementedError

    def denoised(self, x: Tensor, t: Tensor, score: Tensor) -> Tensor:
        """Tweedie's estimate E[x0 | x_t] from the score at (x, t), in the [-1, 1] scale."""
        raise NotImplementedError

    def draw(self, n: int, sampler: str | None, steps: int | None, score: Callable[[Tensor, Tensor], Tensor]) -> Tensor:
        """n samples in the [-1, 1] scale by ``sampler`` with ``steps``, asking ``score`` (x, t) at every step."""
        raise NotImplementedError

    @torch.no_grad()
    def sample(self, n: int, labels: Tensor | None = None, sampler: str | None = None,
               steps: int | None = None) -> Tensor:
        """``n`` images (N, C, H, W) in [0, 1] (``sampler``, ``steps``: see :meth:`draw`)."""
        if labels is not None:
            raise ConfigError(f"model '{self.registry_name}' is not conditional; it takes no labels")
        return self._to_image(self.draw(n, sampler, steps, self.score))

    @torch.no_grad()
    def denoising_trajectory(self, frames: int = 10, label: int | None = None, sampler: str | None = None,
                             steps: int | None = None) -> Tensor:
        """One sample's sampler path as two rows of ``frames`` images, (2 * frames, C, H, W) in [0, 1].

        Row 1 holds x at evenly spaced score evaluations from the prior draw, then the sample; row 2
        the denoised estimate (:meth:`denoised`) at the same evaluations, then the sample.
        """
        if label is not None:
            raise ConfigError(f"model '{self.registry_name}' is not conditional; it takes no label")
        frames = max(2, frames)
        seen: list[tuple[Tensor, Tensor]] = []

        def recording(x: Tensor, t: Tensor) -> Tensor:
            out = self.score(x, t)
            seen.append((x[0].float().clone(), self.denoised(x[:1], t[:1], out[:1])[0].float()))
            return out

        final = self.draw(1, sampler, steps, recording)[0].float()
        last = len(seen) - 1
        picked = [seen[round(i * last / max(1, frames - 2))] for i in range(frames - 1)]
        xs = [x for x, _ in picked] + [final]
        x0s = [x0 for _, x0 in picked] + [final]
        return self._to_image(torch.stack(xs + x0s))

    def after_step(self, phase: str) -> None:
        if self.ema is not None:
            ema_update_(self.ema, self.net, ema_decay_at(self.config.ema_decay, self.counted("updates")))
        self.count("updates")

    @staticmethod
    def _dsm_loss(output: Tensor, noise: Tensor) -> Losses:
        loss = F.mse_loss(output.float(), noise)  # || sigma s + z ||^2 with s = -output / sigma
        return {"loss": loss, "dsm": loss.detach()}

    def _noise_prediction(self, x: Tensor, mean_coef: Tensor, std: Tensor, time_input: Tensor, ema: bool) -> Tensor:
        net = self.ema if ema and self.ema is not None else self.net
        scale = (mean_coef**2 + std**2).rsqrt().to(x.dtype).view(-1, *([1] * (x.dim() - 1)))
        return net(x * scale, time_input).float()

    @staticmethod
    def _to_image(x: Tensor) -> Tensor:
        return ((x.float() + 1) / 2).clamp(0, 1)


@register("score-sde", ScoreSDEConfig,
          "score SDE (--sde vp|ve): denoising score matching; em, pc or probability-flow ode sampling")
class ScoreSDE(ScoreModel):
    """Continuous-time score model; see the module docstring."""

    config: ScoreSDEConfig

    def __init__(self, config: ScoreSDEConfig):
        super().__init__(config)
        self.sde = make_sde(config)

    def losses(self, batch: Batch, phase: str = "model") -> Losses:
        x0 = batch.x * 2 - 1  # (B, C, H, W) in [-1, 1]
        b = x0.shape[0]
        t = self.config.t_eps + (1 - self.config.t_eps) * torch.rand(b, device=x0.device)  # (B,)
        noise = torch.randn_like(x0.float())
        m, std = self.sde.marginal(t)
        xt = self.sde.perturb(x0, noise.to(x0.dtype), t)
        return self._dsm_loss(self._noise_prediction(xt, m, std, t * 999, ema=False), noise)

    def score_times(self, n: int, generator: torch.Generator) -> Tensor:
        return self.config.t_eps + (1 - self.config.t_eps) * torch.rand(n, generator=generator)

    def score(self, x: Tensor, t: Tensor, ema: bool = True) -> Tensor:
        """s(x, t) = grad_x log p_t(x) for x (B, C, H, W) in the [-1, 1] scale and times t (B,)."""
        m, std = self.sde.marginal(t)
        out = self._noise_prediction(x, m, std, t * 999, ema)
        return -out / std.clamp_min(1e-12).view(-1, *([1] * (x.dim() - 1)))

    def denoised(self, x: Tensor, t: Tensor, score: Tensor) -> Tensor:
        m, std = self.sde.marginal(t)
        view = (-1, *([1] * (x.dim() - 1)))
        return (x + std.view(view) ** 2 * score) / m.view(view)

    def draw(self, n: int, sampler: str | None, steps: int | None, score: Callable[[Tensor, Tensor], Tensor]) -> Tensor:
        """``n`` samples (N, C, H, W) in the [-1, 1] scale.

        Args:
            sampler: 'em', 'pc' or 'ode' (default: the config's).
            steps: time steps of em / pc / the fixed-step ode solver (default: the config's sample_steps).
        """
        cfg = self.config
        name = sampler or cfg.sampler
        steps = cfg.sample_steps if steps is None else int(steps)
        if steps < 1:
            raise ConfigError(f"steps must be at least 1, got {steps}")
        x = self.sde.prior_sample((n, *cfg.data_shape), self.device)
        if name == "em":
            out = euler_maruyama(score, self.sde, x, steps, cfg.t_eps)
        elif name == "pc":
            out = predictor_corrector(score, self.sde, x, steps, cfg.t_eps, cfg.snr, cfg.corrector_steps)
        elif name == "ode":
            out = probability_flow(score, self.sde, x, steps, cfg.t_eps, cfg.ode_method)[0]
        else:
            raise ConfigError(f"unknown sampler '{name}' for model '{self.registry_name}' (choose em, pc or ode; "
                              f"'ald' is the ncsn model's)")
        return out

    def bits_per_dim(self, x: Tensor, dequantize: bool = True, rtol: float = 1e-5, atol: float = 1e-5,
                     eps: float = 1e-5, generator: torch.Generator | None = None) -> tuple[Tensor, int]:
        """Negative log-likelihood of 8-bit images in bits per dimension, through the probability-flow ODE.

        Images x in [0, 1] (values k / 255) are dequantized to (k + u) / 256, u ~ U(0, 1) (or taken as
        they are with ``dequantize=False``) and scaled to [-1, 1]; the ODE gives the density there
        (:func:`~genlab.diffusion.score_samplers.ode_log_likelihood`, Hutchinson's estimator) and
        bits/dim = -log2 p(x) / D + 7, the 7 = log2(256 / 2) for the bin width 2 / 256 of the
        [-1, 1] scale. Comparable with a VAE's NLL on the same dequantized data (a VAE's nats on
        binarized MNIST are a different, discrete quantity).

        Returns:
            (B,) bits/dim and the number of ODE drift evaluations.
        """
        if dequantize:
            u = torch.rand(x.shape, generator=generator, device=x.device, dtype=torch.float32)
            x = (torch.round(x.float() * 255) + u) / 256
        y = x.float() * 2 - 1
        logp, nfe = ode_log_likelihood(lambda v, t: self.score(v, t), self.sde, y, eps, rtol, atol,
                                       generator=generator)
        d = x[0].numel()
        return -logp / (d * math.log(2)) + 7.0, nfe


@register("ncsn", NCSNConfig, "noise-conditional score network: geometric noise levels, annealed Langevin sampling")
class NCSN(ScoreModel):
    """Discrete noise levels and annealed Langevin dynamics; see the module docstring."""

    config: NCSNConfig
    sigmas: Tensor  # buffer (registered in __init__)

    def __init__(self, config: NCSNConfig):
        super().__init__(config)
        self.register_buffer("sigmas", geometric_sigmas(config.sigma_max, config.sigma_min, config.num_levels).float(),
                             persistent=False)

    def _time_input(self, level: Tensor) -> Tensor:
        return level.float() * (999.0 / (self.config.num_levels - 1))

    def losses(self, batch: Batch, phase: str = "model") -> Losses:
        x0 = batch.x * 2 - 1
        level = torch.randint(0, self.config.num_levels, (x0.shape[0],), device=x0.device)  # (B,)
        sigma = self.sigmas[level]
        noise = torch.randn_like(x0.float())
        xt = x0 + sigma.view(-1, 1, 1, 1).to(x0.dtype) * noise.to(x0.dtype)
        return self._dsm_loss(self._noise_prediction(xt, torch.ones_like(sigma), sigma, self._time_input(level),
                                                     ema=False), noise)

    def score_times(self, n: int, generator: torch.Generator) -> Tensor:
        return torch.randint(0, self.config.num_levels, (n,), generator=generator)

    def score(self, x: Tensor, level: Tensor, ema: bool = True) -> Tensor:
        """s(x, sigma_level) for x (B, C, H, W) in the [-1, 1] scale and level indices (B,)."""
        sigma = self.sigmas[level]
        out = self._noise_prediction(x, torch.ones_like(sigma), sigma, self._time_input(level), ema)
        return -out / sigma.view(-1, *([1] * (x.dim() - 1)))

    def denoised(self, x: Tensor, level: Tensor, score: Tensor) -> Tensor:
        return x + self.sigmas[level].view(-1, *([1] * (x.dim() - 1))) ** 2 * score

    def draw(self, n: int, sampler: str | None, steps: int | None, score: Callable[[Tensor, Tensor], Tensor]) -> Tensor:
        """``n`` samples (N, C, H, W) in the [-1, 1] scale by annealed Langevin dynamics.

        Args:
            sampler: 'ald' (the only one).
            steps: Langevin steps per noise level (default: the config's sample_steps).
        """
        if sampler not in (None, "ald"):
            raise ConfigError(f"unknown sampler '{sampler}' for model '{self.registry_name}' (choose ald; em, pc "
                              f"and ode are the score-sde model's)")
        cfg = self.config
        steps = cfg.sample_steps if steps is None else int(steps)
        if steps < 1:
            raise ConfigError(f"steps must be at least 1, got {steps}")
        x = torch.randn(n, *cfg.data_shape, device=self.device) * cfg.sigma_max
        out = annealed_langevin(score, self.sigmas, x, steps, cfg.step_lr, cfg.denoise)
        return out

