"""Anomaly scores of genlab models: higher means more unusual under what the model learned.

=========  =====================================================================  ==============
score      per item                                                               models
=========  =====================================================================  ==============
mse        mean squared error between the input and its reconstruction            autoencoders, VAEs
bce        mean binary cross-entropy of the reconstruction (inputs in [0, 1])     autoencoders, VAEs
elbo       negative ELBO in nats: one-sample reconstruction NLL + analytic KL     VAE family
nll        importance-sampled -log p(x) with k samples (the IWAE bound)           VAE family
disc       minus the discriminator's raw score (real looks high to D)             unconditional GANs
latent     latent search: min over z of ||G(z) - x||^2 by gradient descent        unconditional GANs
=========  =====================================================================  ==============

For sequences (the recurrent autoencoder), ``mse`` is averaged over the valid steps of a window,
and :func:`step_errors` gives the squared error at every step, which the detector spreads back to
time points.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from genlab.errors import ConfigError
from genlab.models.base import GenerativeModel, LatentModel, LikelihoodModel
from genlab.models.gan import GAN

SCORES = ("mse", "bce", "elbo", "nll", "disc", "latent")
# what each score needs of a model: the contract class it must be, and the method named in the refusal
NEEDS = {"mse": (LatentModel, "reconstruct"), "bce": (LatentModel, "reconstruct"),
         "elbo": (LikelihoodModel, "elbo_terms"), "nll": (LikelihoodModel, "log_likelihood")}


def _model_class(model: GenerativeModel | type[GenerativeModel]) -> type[GenerativeModel]:
    return model if isinstance(model, type) else type(model)


def _is_gan(model: GenerativeModel | type[GenerativeModel]) -> bool:
    """Whether ``model`` (an instance or a model class) is of the GAN family."""
    return issubclass(_model_class(model), GAN)


def default_score(model: GenerativeModel | type[GenerativeModel]) -> str:
    """'elbo' for the VAE family, 'disc' for GANs, 'mse' for everything that reconstructs (instance or class)."""
    if issubclass(_model_class(model), LikelihoodModel):
        return "elbo"
    if _is_gan(model):
        return "disc"
    return "mse"


def check_score(model: GenerativeModel | type[GenerativeModel], score: str) -> None:
    """Refuse a score the model (an instance, or its class before training) cannot give, with one clear line."""
    cls = _model_class(model)
    name = cls.registry_name or cls.__name__
    if score not in SCORES:
        raise ConfigError(f"unknown anomaly score '{score}'; choose from {', '.join(SCORES)}")
    if score in NEEDS and not issubclass(cls, NEEDS[score][0]):
        raise ConfigError(f"model '{name}' cannot give the '{score}' score (it has no {NEEDS[score][1]}); "
                          f"use an autoencoder or VAE, or another --score")
    if score in ("disc", "latent"):
        if not _is_gan(model):
            raise ConfigError(f"the '{score}' score needs a GAN; model '{name}' is not one")
        if cls.requires_labels:
            raise ConfigError(f"model '{name}' is conditional: its discriminator and generator need the class of an "
                              f"input, which anomaly detection does not know; use an unconditional GAN")
    if score == "bce" and isinstance(model, GenerativeModel) and model.data_kind == "sequences":
        raise ConfigError("the 'bce' score needs inputs in [0, 1]; sequences are standardized, use 'mse'")


# scores that are a pure function of one input (no sampling, no search): the ones `genlab export` can write
DETERMINISTIC = ("mse", "bce", "disc")


def image_scores(model, x: torch.Tensor, score: str) -> torch.Tensor:
    """A deterministic score (:data:`DETERMINISTIC`) of a batch of images (B, C, H, W) -> (B,), unbatched and
    without a seed: the function an exported detector computes."""
    if score not in DETERMINISTIC:
        raise ConfigError(f"the '{score}' score is not a pure function of the input")
    return _batch_scores(model, x, score, 1)


def step_errors(model, x: torch.Tensor) -> torch.Tensor:
    """Squared reconstruction error per step of sequences (B, T, F) -> (B, T), NaN at padding."""
    rec = model.reconstruct(x)
    return (rec.float() - x).pow(2).mean(-1)


@torch.no_grad()
def _batch_scores(model, x: torch.Tensor, score: str, nll_k: int) -> torch.Tensor:
    if score in ("mse", "bce"):
        if x.dim() == 3:  # sequences: mean over valid steps
            err = step_errors(model, x)
            return torch.nanmean(err, dim=1) if score == "mse" else err
        rec = model.reconstruct(x).float()
        if score == "mse":
            return (rec - x).pow(2).flatten(1).mean(1)
        return F.binary_cross_entropy(rec.clamp(1e-6, 1 - 1e-6), x, reduction="none").flatten(1).mean(1)
    if score == "elbo":
        rec, kl = model.elbo_terms(x)
        return (rec + kl).float()
    if score == "nll":
        return -model.log_likelihood(x, k=nll_k).float()
    if score == "disc":
        return -model.discriminator(x * 2 - 1, None).float()
    raise ConfigError(f"unknown anomaly score '{score}'")


def latent_search(model, x: torch.Tensor, steps: int = 200, lr: float = 0.05, restarts: int = 1) -> torch.Tensor:
    """min over z of the mean squared error ||G(z) - x||^2 (x in [0, 1]), found by Adam from random starts."""
    generator = model.sampling_generator  # the EMA generator when one is kept
    target = x * 2 - 1
    best = torch.full((x.shape[0],), float("inf"), device=x.device)
    for _ in range(restarts):
        z = torch.randn(x.shape[0], model.config.noise_dim, device=x.device, requires_grad=True)
        opt = torch.optim.Adam([z], lr=lr)
        for _ in range(steps):
            err = (generator(z, None).float() - target).pow(2).flatten(1).mean(1)
            (z.grad,) = torch.autograd.grad(err.sum(), z)  # only z moves; the generator keeps no gradients
            opt.step()
        with torch.no_grad():
            err = (generator(z, None).float() - target).pow(2).flatten(1).mean(1) / 4  # in [0, 1] units
        best = torch.minimum(best, err)
    return best.detach()


def item_scores(model, x: torch.Tensor, score: str, batch_size: int = 256, nll_k: int = 100,
                latent_steps: int = 200, latent_lr: float = 0.05, seed: int = 0) -> torch.Tensor:
    """Scores (N,) float64 of inputs ``x`` (images in [0, 1] or standardized sequences), batched.

    Stochastic scores (elbo, nll, latent) draw from a generator seeded with ``seed``, so the same
    input gets the same score every time.
    """
    check_score(model, score)
    model.eval()
    out = []
    device = model.device
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(seed)
        for i in range(0, len(x), batch_size):
            xb = x[i:i + batch_size].to(device)
            if score == "latent":
                with torch.enable_grad():
                    out.append(latent_search(model, xb, latent_steps, latent_lr).double().cpu())
            else:
                out.append(_batch_scores(model, xb, score, nll_k).double().cpu())
    return torch.cat(out) if out else torch.empty(0, dtype=torch.float64)
