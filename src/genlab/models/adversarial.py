"""Swappable parts of adversarial training: loss pairs, regularizers and stabilizers.

Everything here works on discriminator outputs (raw scores / logits, shape (B,)) and on modules,
so any model with a discriminator (the GAN family, VAE-GAN) can use it.

Loss pairs (``LOSS_PAIRS``), with d = the discriminator's raw output and sigma the logistic
function, D = sigma(d) for the probabilistic losses:

=================  ==============================================  ================================
name               discriminator loss                              generator loss
=================  ==============================================  ================================
minimax            -E[log D(x)] - E[log(1 - D(G(z)))]              E[log(1 - D(G(z)))]  (saturates)
non_saturating     same as minimax                                 -E[log D(G(z))]
least_squares      1/2 E[(d(x) - 1)^2] + 1/2 E[d(G(z))^2]          1/2 E[(d(G(z)) - 1)^2]
wasserstein        E[d(G(z))] - E[d(x)]                            -E[d(G(z))]
hinge              E[max(0, 1 - d(x))] + E[max(0, 1 + d(G(z)))]    -E[d(G(z))]
=================  ==============================================  ================================

(Goodfellow et al. 2014, eq. 1 and sec. 3; Mao et al. 2017, eq. 2 with a=0, b=c=1; Arjovsky et
al. 2017, Algorithm 1; Lim & Ye 2017 / Miyato et al. 2018, eq. 16-17.)

Stabilizers: gradient penalty (Gulrajani et al. 2017), weight clipping (Arjovsky et al. 2017),
spectral normalization (Miyato et al. 2018, in :mod:`genlab.nn.gan_blocks`), minibatch standard
deviation (Karras et al. 2018, same place), minibatch discrimination (Salimans et al. 2016, same
place), annealed instance noise (Sønderby et al. 2017),
one-sided label smoothing (Salimans et al. 2016) and an exponential moving average of the
generator's weights (Yazıcı et al. 2019, in :mod:`genlab.nn.ema`). :func:`check_stabilizers`
refuses combinations that make no sense.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from genlab.errors import ConfigError

Tensor = torch.Tensor


# --- loss pairs ------------------------------------------------------------------------------------
def _bce_discriminator(real: Tensor, fake: Tensor, real_target: float = 1.0) -> Tensor:
    """-E[t log D(x) + (1 - t) log(1 - D(x))] - E[log(1 - D(G(z)))], D = sigmoid(logits).

    With t = 1 this is the minimax discriminator loss (Goodfellow et al. 2014, eq. 1, negated);
    t < 1 is one-sided label smoothing. -log sigmoid(d) = softplus(-d) and
    -log(1 - sigmoid(d)) = softplus(d), computed stably.
    """
    real_term = real_target * F.softplus(-real) + (1.0 - real_target) * F.softplus(real)  # (B,)
    return real_term.mean() + F.softplus(fake).mean()


def _minimax_generator(fake: Tensor) -> Tensor:
    """E[log(1 - D(G(z)))] = -E[softplus(d)]: the saturating generator loss of the minimax game."""
    return -F.softplus(fake).mean()


def _non_saturating_generator(fake: Tensor) -> Tensor:
    """-E[log D(G(z))] = E[softplus(-d)]: strong gradients when D rejects the samples."""
    return F.softplus(-fake).mean()


def _least_squares_discriminator(real: Tensor, fake: Tensor, real_target: float = 1.0) -> Tensor:
    """1/2 E[(d(x) - b)^2] + 1/2 E[(d(G(z)) - a)^2] with a = 0, b = real_target (Mao et al. 2017)."""
    return 0.5 * (real - real_target).pow(2).mean() + 0.5 * fake.pow(2).mean()


def _least_squares_generator(fake: Tensor) -> Tensor:
    """1/2 E[(d(G(z)) - c)^2] with c = 1."""
    return 0.5 * (fake - 1.0).pow(2).mean()


def _wasserstein_discriminator(real: Tensor, fake: Tensor, real_target: float = 1.0) -> Tensor:
    """E[d(G(z))] - E[d(x)]: minus the critic's estimate of the Wasserstein-1 distance."""
    return fake.mean() - real.mean()


def _critic_generator(fake: Tensor) -> Tensor:
    """-E[d(G(z))] (the generator side of both the Wasserstein and the hinge loss)."""
    return -fake.mean()


def _hinge_discriminator(real: Tensor, fake: Tensor, real_target: float = 1.0) -> Tensor:
    """E[max(0, 1 - d(x))] + E[max(0, 1 + d(G(z)))]."""
    return F.relu(1.0 - real).mean() + F.relu(1.0 + fake).mean()


@dataclass(frozen=True)
class LossPair:
    """A discriminator loss and the generator loss that goes with it.

    Attributes:
        discriminator: (d(x) (B,), d(G(z)) (B,), real_target) -> scalar loss of the discriminator.
        generator: d(G(z)) (B,) -> scalar loss of the generator.
        probabilistic: the raw outputs are logits of a probability D = sigmoid(d) (logged as such).
        has_targets: the loss regresses on real/fake targets, so label smoothing applies.
        unbounded: the critic's scores are unbounded and need a Lipschitz constraint.
    """

    discriminator: Callable[[Tensor, Tensor, float], Tensor]
    generator: Callable[[Tensor], Tensor]
    probabilistic: bool
    has_targets: bool
    unbounded: bool = False


LOSS_PAIRS: dict[str, LossPair] = {
    "minimax": LossPair(_bce_discriminator, _minimax_generator, probabilistic=True, has_targets=True),
    "non_saturating": LossPair(_bce_discriminator, _non_saturating_generator, probabilistic=True, has_targets=True),
    "least_squares": LossPair(_least_squares_discriminator, _least_squares_generator, probabilistic=False,
                              has_targets=True),
    "wasserstein": LossPair(_wasserstein_discriminator, _critic_generator, probabilistic=False, has_targets=False,
                            unbounded=True),
    "hinge": LossPair(_hinge_discriminator, _critic_generator, probabilistic=False, has_targets=False),
}


# --- regularizers and stabilizers --------------------------------------------------------------
def gradient_penalty(critic: Callable[[Tensor], Tensor], real: Tensor, fake: Tensor,
                     eps: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """The WGAN-GP penalty E[(||grad_x d(x_hat)||_2 - 1)^2] on random interpolates.

    Gulrajani et al. 2017, Algorithm 1:
      1. eps ~ U[0, 1], one per sample;
      2. x_hat = eps * x + (1 - eps) * x_fake;
      3. g = grad of d(x_hat) w.r.t. x_hat (kept in the graph, so the penalty trains the critic);
      4. the norm of g per sample, over every non-batch dimension (C, H, W together);
      5. penalty = mean over the batch of (||g|| - 1)^2.

    Args:
        critic: maps images (B, ...) to scores (B,).
        real, fake: (B, ...) images of the same shape.
        eps: (B,) interpolation weights; drawn uniformly when None.

    Returns:
        (penalty, mean gradient norm), both scalars (float32).
    """
    b = real.shape[0]
    if eps is None:
        eps = torch.rand(b, device=real.device)
    eps = eps.view(b, *([1] * (real.dim() - 1))).to(real.dtype)
    x_hat = (eps * real.detach() + (1 - eps) * fake.detach()).requires_grad_(True)  # (B, ...)
    scores = critic(x_hat)  # (B,)
    (grad,) = torch.autograd.grad(scores.float().sum(), x_hat, create_graph=True)
    norms = (grad.float().flatten(1).pow(2).sum(1) + 1e-12).sqrt()  # (B,)
    return (norms - 1.0).pow(2).mean(), norms.mean().detach()


@torch.no_grad()
def clip_weights_(module: nn.Module, bound: float) -> None:
    """Clamp every parameter of ``module`` to [-bound, bound] (Arjovsky et al. 2017, Algorithm 1)."""
    for p in module.parameters():
        p.clamp_(-bound, bound)


def instance_noise_std(initial: float, step: int, anneal_steps: int) -> float:
    """Std of the instance noise after ``step`` discriminator updates: linear from initial to 0."""
    if anneal_steps <= 0:
        return initial
    return initial * max(0.0, 1.0 - step / anneal_steps)


def add_instance_noise(x: Tensor, std: float) -> Tensor:
    """x + N(0, std^2) per element (Sønderby et al. 2017): real and fake overlap, D cannot be perfect."""
    return x + std * torch.randn_like(x) if std > 0 else x


def parameter_grad_norm(params: Any) -> float:
    """The 2-norm of the gradients of ``params`` taken together (0 when none has a gradient)."""
    norms = [p.grad.detach().float().norm() for p in params if p.grad is not None]
    return float(torch.stack(norms).norm()) if norms else 0.0


# --- which combinations make sense ---------------------------------------------------------------
# (condition on the settings, message) pairs: any condition that holds refuses the config.
_REFUSED: list[tuple[Callable[[Any], bool], Callable[[Any], str]]] = [
    (lambda c: c.loss not in LOSS_PAIRS,
     lambda c: f"unknown loss '{c.loss}' (choose {', '.join(LOSS_PAIRS)})"),
    (lambda c: c.weight_clip > 0 and c.loss != "wasserstein",
     lambda c: f"weight clipping bounds a Wasserstein critic; with loss '{c.loss}' use --spectral-norm or "
               f"--gradient-penalty instead"),
    (lambda c: c.weight_clip > 0 and c.gradient_penalty > 0,
     lambda c: "choose one Lipschitz constraint: --weight-clip or --gradient-penalty, not both"),
    (lambda c: c.weight_clip > 0 and c.spectral_norm,
     lambda c: "choose one Lipschitz constraint: --weight-clip or --spectral-norm, not both"),
    (lambda c: c.label_smoothing > 0 and not LOSS_PAIRS[c.loss].has_targets,
     lambda c: f"label smoothing softens real targets, and loss '{c.loss}' has none (use minimax, "
               f"non_saturating or least_squares)"),
    (lambda c: c.gradient_penalty > 0 and c.d_norm == "batch",
     lambda c: "the gradient penalty is per sample and batch norm mixes samples: use --d-norm layer or none "
               "(Gulrajani et al. 2017, sec. 4)"),
    (lambda c: c.gradient_penalty > 0 and c.minibatch_discrimination is not None,
     lambda c: "the gradient penalty is per sample and minibatch discrimination scores each sample against the "
               "others: drop --minibatch-discrimination or --gradient-penalty"),
    (lambda c: LOSS_PAIRS[c.loss].unbounded and not (c.weight_clip > 0 or c.gradient_penalty > 0 or c.spectral_norm),
     lambda c: f"loss '{c.loss}' needs a Lipschitz critic: set --weight-clip, --gradient-penalty or --spectral-norm"),
]


def check_stabilizers(settings: Any) -> None:
    """Refuse combinations of loss and stabilizers that make no sense, with one clear line.

    Args:
        settings: any object with the fields ``loss``, ``weight_clip``, ``gradient_penalty``,
            ``spectral_norm``, ``label_smoothing``, ``d_norm`` and ``minibatch_discrimination`` (e.g. a
            GAN config).

    Raises:
        ConfigError: naming the first conflict found.
    """
    for refused, message in _REFUSED:
        if refused(settings):
            raise ConfigError(message(settings))
