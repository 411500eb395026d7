"""The model registry: ONE dict from model name to (config class, model class).

Model files register themselves with :func:`register`; ``genlab.models`` imports every model file
so that importing it fills the registry. Nothing else dispatches on model names.

``CATALOG`` names every built-in model with its one-line summary and the module that defines it,
so listing models (``genlab models``, :func:`names`, :func:`summary`) needs no torch import;
:func:`get` imports only the module of the model asked for. A model file's ``@register`` must agree
with its catalog line (checked when the module is imported). Models registered from outside genlab
(plugins) need no catalog line: they are listed once their module has been imported.
"""
from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from genlab.config import from_dict, suggest
from genlab.errors import ConfigError


@dataclass(frozen=True)
class Entry:
    """One registered model. The classes are typed ``type[Any]``: the registry sits below the
    models and does not import their base class."""

    name: str
    config_class: type[Any]
    model_class: type[Any]
    summary: str


MODELS: dict[str, Entry] = {}


@dataclass(frozen=True)
class CatalogLine:
    module: str
    summary: str


def _line(module: str, summary: str) -> CatalogLine:
    return CatalogLine(f"genlab.models.{module}", summary)


CATALOG: dict[str, CatalogLine] = {
    "ae": _line("autoencoder", "autoencoder (MLP or conv): code = f(x), loss = reconstruction error"),
    "denoising-ae": _line("autoencoder", "denoising autoencoder: reconstruct clean x from corrupted x"),
    "sparse-ae": _line("autoencoder", "sparse autoencoder: L1 or KL(rho || mean activation) penalty on the code"),
    "contractive-ae": _line("autoencoder", "contractive autoencoder: penalty on ||d code / d x||_F^2"),
    "conv-ae": _line("autoencoder",
                     "convolutional autoencoder: strided conv or max-pool encoder, transposed-conv decoder"),
    "stacked-ae": _line("stacked_ae",
                        "stacked autoencoder: greedy layer-wise pretraining, then end-to-end fine-tuning"),
    "recurrent-ae": _line("recurrent",
                          "recurrent (LSTM/GRU) seq2seq autoencoder for time series and sequences"),
    "recurrent-vae": _line("recurrent_vae", "sequence VAE: recurrent encoder/decoder, one latent per sequence"),
    "recurrent-cvae": _line("recurrent_vae", "conditional sequence VAE: recurrent-vae given a class label"),
    "video-vae": _line("video", "clip VAE: per-frame latents with a learned prior over time (or one per "
                               "clip); predicts frames"),
    "video-gan": _line("video", "MoCoGAN-style clip GAN: content code per clip, recurrent motion code per frame"),
    "video-ddpm": _line("video_diffusion", "clip diffusion: factorized space-time U-Net, DDIM sampling"),
    "vae": _line("vae", "variational autoencoder: reparameterization, ELBO = reconstruction + beta * KL"),
    "cvae": _line("vae", "conditional VAE: encoder and decoder see the class label; sample any class"),
    "iwae": _line("vae", "importance-weighted autoencoder: a VAE trained on the k-sample IWAE bound"),
    "vaegan": _line("vaegan",
                    "VAE-GAN: VAE with a discriminator-feature reconstruction loss and a GAN loss"),
    "gan": _line("gan", "GAN: generator vs discriminator, swappable loss pairs and stabilizers (MLP defaults)"),
    "dcgan": _line("gan", "DCGAN: transposed-conv generator with batch norm, strided-conv discriminator"),
    "cgan": _line("gan", "conditional DCGAN: label embedding into G, projection discriminator; sample --label"),
    "wgan": _line("gan", "Wasserstein GAN: clipped critic (0.01), n_critic 5, RMSprop 5e-5"),
    "wgan-gp": _line("gan", "WGAN-GP: gradient penalty 10 on interpolates, n_critic 2, Adam (2e-4, 0, 0.9)"),
    "progan": _line("progan", "ProGAN: progressive growing 4x4 -> full size with fade-in, equalized lr, WGAN-GP"),
    "stylegan": _line("stylegan", "StyleGAN2-style: mapping net, modulated convs, noise, style mixing, lazy R1, "
                                  "truncation"),
    "ddpm": _line("diffusion", "denoising diffusion: U-Net noise prediction, EMA weights, DDPM or DDIM sampling"),
    "cddpm": _line("diffusion",
                   "class-conditional diffusion with classifier-free guidance (label dropout + guidance scale)"),
    "score-sde": _line("score",
                       "score SDE (--sde vp|ve): denoising score matching; em, pc or probability-flow ode sampling"),
    "ncsn": _line("score", "noise-conditional score network: geometric noise levels, annealed Langevin sampling"),
    "ctgan": _line("ctgan", "CTGAN: conditional tabular GAN (mode-specific normalization, PacGAN, WGAN-GP)"),
    "tvae": _line("tvae", "TVAE: table VAE on mode-specific normalized rows (Gaussian / softmax outputs)"),
    "pix2pix": _line("translation", "pix2pix: U-Net generator + conditional PatchGAN on paired images, GAN + 100 L1"),
    "cyclegan": _line("cyclegan", "CycleGAN: two ResNet generators + two PatchGANs, LSGAN, cycle 10, identity 5, "
                                  "history pool 50"),
    "srresnet": _line("srgan", "SRResNet: residual super-resolution network trained on MSE (PSNR-oriented); upscale"),
    "srgan": _line("srgan", "SRGAN: SRResNet generator + VGG-style discriminator, perceptual + 1e-3 adversarial "
                            "loss; upscale"),
    "classifier": _line("classifier",
                        "image classifier (LeNet-5, VGG-11/13/16/19): cross-entropy; not generative"),
}


def register(name: str, config_class: type[Any], summary: str) -> Callable[[type[Any]], type[Any]]:
    """Class decorator: ``@register("vae", VAEConfig, "one-line summary")``."""

    def wrap(model_class: type[Any]) -> type[Any]:
        if name in MODELS:
            raise RuntimeError(f"model name '{name}' registered twice")
        line = CATALOG.get(name)
        if line is not None and (line.module, line.summary) != (model_class.__module__, summary):
            raise RuntimeError(f"model '{name}' ({model_class.__module__}) disagrees with its line in "
                               f"genlab.registry.CATALOG ({line.module}): module or summary differ")
        MODELS[name] = Entry(name, config_class, model_class, summary)
        model_class.registry_name = name
        return model_class

    return wrap


def get(name: str) -> Entry:
    if name not in MODELS:
        if name in CATALOG:
            importlib.import_module(CATALOG[name].module)
        else:
            _ensure_loaded()  # plugins may register names that the catalog does not know
    if name not in MODELS:
        raise ConfigError(f"unknown model '{name}'{suggest(name, names())}; `genlab models` lists them")
    return MODELS[name]


def names() -> list[str]:
    """Every model name, without importing any model (built-in ones come from the catalog)."""
    return sorted(set(CATALOG) | set(MODELS))


def summary(name: str) -> str:
    """The one-line description of model ``name`` (no import for built-in models)."""
    if name in CATALOG:
        return CATALOG[name].summary
    return get(name).summary


def build(name: str, config: Any = None) -> Any:
    """Build model ``name`` from a config object, a dict of its fields, or the defaults."""
    entry = get(name)
    if config is None:
        config = entry.config_class()
    elif isinstance(config, dict):
        config = from_dict(entry.config_class, config, f"model config of '{name}'")
    elif not isinstance(config, entry.config_class):
        raise ConfigError(f"model '{name}' takes a {entry.config_class.__name__}, got {type(config).__name__}")
    return entry.model_class(config)


def _ensure_loaded() -> None:
    """Import every built-in model (the registry is filled as a side effect)."""
    importlib.import_module("genlab.models")
