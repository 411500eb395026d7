"""Deterministic autoencoders: one encoder/decoder and the variants that differ by one term.

    x_in = corrupt(x)                  the identity, except for the denoising AE
    h = f(x_in)                        the code, (B, D)
    x_hat = g(h)                       decoder logits; the image is sigmoid(x_hat) in [0, 1]
    loss = rec(x_hat, x) + penalty(x_in, h)

``ae`` is the plain model (MLP or convolutional). The variants inject their part:

* ``denoising-ae`` overrides :meth:`AutoEncoder.corrupt` (Gaussian, masking, salt-and-pepper;
  Vincent et al. 2008) and reconstructs the clean input;
* ``sparse-ae`` overrides :meth:`AutoEncoder.penalty` with an L1 penalty on the code or the KL
  divergence between a target rate rho and each unit's mean activation (Ng, "Sparse autoencoder"
  lecture notes);
* ``contractive-ae`` overrides the penalty with the squared Frobenius norm of the encoder's
  Jacobian (Rifai et al. 2011, eq. 2), computed exactly by
  :func:`genlab.nn.jacobian.encoder_jacobian`;
* ``conv-ae`` is convolutional, with strided or max-pooling downsampling;
* ``stacked-ae`` (in :mod:`genlab.models.stacked_ae`) pretrains each layer as its own autoencoder,
  then fine-tunes end to end (Bengio et al. 2007).

Each config sits right above its model.

An autoencoder has no prior to sample from. :meth:`AutoEncoder.sample` decodes codes drawn from a
diagonal Gaussian fitted to the training codes: :class:`genlab.models.parts.CodeStatistics` keeps
their running mean and variance as buffers, updated during training and saved with the weights.

An overcomplete code (more units than input values) without a regularizer can copy its input and
learns nothing useful, so such a config is refused.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, cast

import torch
import torch.nn.functional as F
from torch import nn

from genlab.models.base import Batch, Losses
from genlab.models.parts import Activation, CodeStatistics, FittedCodeModel, build_encoder_decoder, check_networks
from genlab.nn import ConvEncoder, activation, downsample_sizes
from genlab.nn.jacobian import encoder_jacobian
from genlab.registry import register

CODE_ACTIVATIONS = ("none", "sigmoid", "tanh", "relu")
CORRUPTIONS = ("gaussian", "masking", "salt_pepper")


# ------------------------------------------------------------------------------------------- ae

@dataclass
class AEConfig:
    """Configuration of :class:`AutoEncoder` (``ae``).

    Attributes:
        data_shape: (C, H, W) of the images; filled from the dataset at training time.
        latent_dim: size of the code h. Larger than the input (overcomplete) only with a regularizer.
        architecture: 'mlp' or 'conv' (strided convolutions / transposed convolutions).
        mlp_hidden: hidden layer sizes of the MLP encoder (the decoder mirrors them).
        conv_widths: channels per downsampling level of the conv encoder (mirrored by the decoder).
        conv_hidden: a fully connected layer between the conv features and the code (0 = none).
        extra_convs: stride-1 3x3 convolutions per level (capacity at the same resolution).
        activation: activation between layers.
        code_activation: activation applied to the code: 'none' (linear), 'sigmoid', 'tanh', 'relu'.
        reconstruction: 'bce' (binary cross-entropy on logits, summed over pixels) or 'mse'
            (squared error of the sigmoid output, summed over pixels).
    """

    data_shape: tuple[int, int, int] = (1, 28, 28)
    latent_dim: int = 32
    architecture: Literal["mlp", "conv"] = "mlp"
    mlp_hidden: tuple[int, ...] = (512, 256)
    conv_widths: tuple[int, ...] = (32, 64)
    conv_hidden: int = 256
    extra_convs: int = 0
    activation: Activation = "relu"
    code_activation: Literal["none", "sigmoid", "tanh", "relu"] = "none"
    reconstruction: Literal["bce", "mse"] = "bce"

    def regularized(self) -> bool:
        """Whether the config has a term that stops an overcomplete code from copying the input."""
        return False

    def mlp_alternative(self) -> str:
        """What to use instead when the images do not suit the conv architecture (named in the error)."""
        return "--architecture mlp"

    def __post_init__(self) -> None:
        if self.latent_dim < 1:
            raise ValueError(f"latent_dim must be positive, got {self.latent_dim}")
        check_networks(self, self.mlp_alternative())
        inputs = math.prod(self.data_shape)
        if self.latent_dim > inputs and not self.regularized():
            raise ValueError(
                f"latent_dim {self.latent_dim} is larger than the input ({inputs} values): an unregularized "
                f"overcomplete autoencoder can learn the identity; use denoising-ae, sparse-ae or contractive-ae "
                f"with a non-zero weight, or a latent_dim of at most {inputs}")


def code_activation(name: str) -> nn.Module:
    return nn.Identity() if name == "none" else activation(name)


@register("ae", AEConfig, "autoencoder (MLP or conv): code = f(x), loss = reconstruction error")
class AutoEncoder(FittedCodeModel):
    """Encoder -> code -> decoder; the variants override :meth:`corrupt` or :meth:`penalty`."""

    config: AEConfig
    export_parts = ("sample", "encoder", "decoder")

    def __init__(self, config: AEConfig):
        super().__init__(config)
        self.encoder, self.decoder = self.build_networks(config)
        self.code_stats = CodeStatistics(config.latent_dim)

    def build_networks(self, cfg: AEConfig) -> tuple[nn.Module, nn.Module]:
        """(encoder: image -> code (B, D), decoder: code -> logits (B, C, H, W))."""
        encoder, decoder = build_encoder_decoder(cfg, cfg.latent_dim, cfg.latent_dim)
        return nn.Sequential(encoder, code_activation(cfg.code_activation)), decoder

    # --- the terms the variants change ---------------------------------------------------------
    def corrupt(self, x: torch.Tensor) -> torch.Tensor:
        """The training input made from a clean batch (the identity here)."""
        return x

    def penalty(self, x_in: torch.Tensor, code: torch.Tensor) -> Losses:
        """Regularizer: {'penalty': weighted scalar, plus logged scalars} (none here)."""
        return {"penalty": code.new_zeros(())}

    # --- training -----------------------------------------------------------------------------
    def reconstruction_error(self, logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Per-image reconstruction error summed over pixels: (B, C, H, W) x2 -> (B,)."""
        if self.config.reconstruction == "bce":
            return F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(-1)
        return (torch.sigmoid(logits) - x).pow(2).flatten(1).sum(-1)

    def end_to_end_losses(self, x: torch.Tensor) -> Losses:
        """The autoencoder objective on clean images x (B, C, H, W)."""
        x_in = self.corrupt(x) if self.training else x
        code = self.encode(x_in)  # (B, D)
        logits = self.decoder(code).float()  # (B, C, H, W)
        rec = self.reconstruction_error(logits, x)  # (B,)
        terms = self.penalty(x_in, code)
        penalty = terms.pop("penalty")
        if self.training and torch.is_grad_enabled():
            self.code_stats.update(code)
        return {"loss": rec.mean() + penalty, "rec": rec.mean().detach(),
                "mse": (torch.sigmoid(logits) - x).pow(2).mean().detach(),
                "penalty": penalty.detach(), **{k: v.detach() for k, v in terms.items()}}

    def losses(self, batch: Batch, phase: str = "model") -> Losses:
        return self.end_to_end_losses(batch.x)

    # --- the LatentModel interface ------------------------------------------------------------
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The code, (B, D) float32."""
        return self.encoder(x).float()

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Images in [0, 1], (B, C, H, W)."""
        return torch.sigmoid(self.decoder(z).float())



# --------------------------------------------------------------------------------- denoising-ae

@dataclass
class DenoisingAEConfig(AEConfig):
    """Configuration of :class:`DenoisingAE` (``denoising-ae``).

    Attributes:
        noise: corruption applied to training inputs: 'gaussian' (add N(0, level^2), clip to
            [0, 1]), 'masking' (set a fraction 'level' of pixels to 0) or 'salt_pepper' (set a
            fraction 'level' of pixels to 0 or 1 with equal odds).
        noise_level: the standard deviation (gaussian) or the fraction of corrupted pixels.
    """

    noise: Literal["gaussian", "masking", "salt_pepper"] = "gaussian"
    noise_level: float = 0.3

    def regularized(self) -> bool:
        return self.noise_level > 0

    def __post_init__(self) -> None:
        if self.noise_level < 0 or (self.noise != "gaussian" and self.noise_level > 1):
            raise ValueError(f"noise_level must be in [0, 1] for {self.noise} noise (>= 0 for gaussian), "
                             f"got {self.noise_level}")
        super().__post_init__()


def corrupt(x: torch.Tensor, kind: str, level: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Corrupt images in [0, 1] (the denoising AE's q_D(x_in | x), Vincent et al. 2008, sec. 2.3).

    Args:
        x: images (B, C, H, W) in [0, 1].
        kind: 'gaussian' (x + level * eps, clipped to [0, 1]), 'masking' (each pixel set to 0 with
            probability level) or 'salt_pepper' (each pixel set to 0 or 1, equally likely, with
            probability level).
        level: noise standard deviation or corruption probability.
        generator: optional CPU generator for reproducible noise.

    Returns:
        Corrupted images, same shape, in [0, 1].
    """
    def rand(fn: Callable) -> torch.Tensor:
        return fn(x.shape, generator=generator, dtype=x.dtype).to(x.device)

    if kind == "gaussian":
        return (x + level * rand(torch.randn)).clamp(0, 1)
    if kind == "masking":
        return x * (rand(torch.rand) >= level).to(x.dtype)
    if kind == "salt_pepper":
        hit = rand(torch.rand) < level
        return torch.where(hit, (rand(torch.rand) < 0.5).to(x.dtype), x)
    raise ValueError(f"unknown corruption '{kind}' (choose one of {', '.join(CORRUPTIONS)})")


@register("denoising-ae", DenoisingAEConfig, "denoising autoencoder: reconstruct clean x from corrupted x")
class DenoisingAE(AutoEncoder):
    """Trains on corrupted inputs (:func:`corrupt`), reconstructing the clean ones."""

    config: DenoisingAEConfig

    def corrupt(self, x: torch.Tensor) -> torch.Tensor:
        return corrupt(x, self.config.noise, self.config.noise_level)


# ------------------------------------------------------------------------------------ sparse-ae

@dataclass
class SparseAEConfig(AEConfig):
    """Configuration of :class:`SparseAE` (``sparse-ae``).

    Attributes:
        sparsity: 'kl' (KL(rho || mean activation of each unit); needs a sigmoid code) or 'l1'
            (sum of absolute code values).
        sparsity_weight: weight of the sparsity penalty (per image, next to the summed reconstruction).
        target_rate: rho, the target mean activation of each code unit for 'kl'.
        code_activation: activation applied to the code (sigmoid by default, as 'kl' requires).
    """

    code_activation: Literal["none", "sigmoid", "tanh", "relu"] = "sigmoid"
    sparsity: Literal["kl", "l1"] = "kl"
    sparsity_weight: float = 1.0
    target_rate: float = 0.05

    def regularized(self) -> bool:
        return self.sparsity_weight > 0

    def __post_init__(self) -> None:
        if self.sparsity_weight < 0:
            raise ValueError(f"sparsity_weight must be non-negative, got {self.sparsity_weight}")
        if not 0 < self.target_rate < 1:
            raise ValueError(f"target_rate must be in (0, 1), got {self.target_rate}")
        if self.sparsity == "kl" and self.code_activation != "sigmoid":
            raise ValueError("sparsity 'kl' compares mean activations with a rate in (0, 1): "
                             "use code_activation 'sigmoid' (or sparsity 'l1')")
        super().__post_init__()


@register("sparse-ae", SparseAEConfig, "sparse autoencoder: L1 or KL(rho || mean activation) penalty on the code")
class SparseAE(AutoEncoder):
    """Adds a sparsity penalty on the code."""

    config: SparseAEConfig

    def penalty(self, x_in: torch.Tensor, code: torch.Tensor) -> Losses:
        cfg = self.config
        if cfg.sparsity == "l1":
            term = code.abs().sum(-1).mean()  # sum_j |h_j|, averaged over the batch
        else:
            term = sparsity_kl(cfg.target_rate, code.mean(0)).sum()  # sum_j KL(rho || rho_hat_j)
        return {"penalty": cfg.sparsity_weight * term, "sparsity_term": term,
                "mean_activation": code.abs().mean(), "near_zero": (code.abs() < 0.05).float().mean()}


def sparsity_kl(rho: float, rho_hat: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """KL between Bernoulli(rho) and Bernoulli(rho_hat) per unit (Ng's sparse AE notes).

    KL(rho || rho_hat) = rho log(rho / rho_hat) + (1 - rho) log((1 - rho) / (1 - rho_hat)).
    """
    rho_hat = rho_hat.clamp(eps, 1 - eps)
    return rho * torch.log(rho / rho_hat) + (1 - rho) * torch.log((1 - rho) / (1 - rho_hat))


# ------------------------------------------------------------------------------- contractive-ae

@dataclass
class ContractiveAEConfig(AEConfig):
    """Configuration of :class:`ContractiveAE` (``contractive-ae``; MLP encoders).

    Attributes:
        contractive_weight: lambda, the weight of ||J_f(x)||_F^2 (per image).
        code_activation: activation applied to the code (sigmoid, as in Rifai et al. 2011).
        architecture: always 'mlp' for this model (the exact Jacobian is of an MLP encoder).
    """

    architecture: Literal["mlp"] = "mlp"

    code_activation: Literal["none", "sigmoid", "tanh", "relu"] = "sigmoid"
    contractive_weight: float = 0.1

    def regularized(self) -> bool:
        return self.contractive_weight > 0

    def __post_init__(self) -> None:
        if self.contractive_weight < 0:
            raise ValueError(f"contractive_weight must be non-negative, got {self.contractive_weight}")
        if self.architecture != "mlp":
            raise ValueError("contractive-ae computes the exact Jacobian of an MLP encoder: use architecture 'mlp'")
        super().__post_init__()


@register("contractive-ae", ContractiveAEConfig, "contractive autoencoder: penalty on ||d code / d x||_F^2")
class ContractiveAE(AutoEncoder):
    """Adds lambda * ||J_f(x)||_F^2 (Rifai et al. 2011, eq. 2), with J exact (:func:`encoder_jacobian`)."""

    config: ContractiveAEConfig

    def jacobian_norm_sq(self, x: torch.Tensor) -> torch.Tensor:
        """||J_f(x)||_F^2 per image, (B,)."""
        return encoder_jacobian(self.encoder, x)[1].pow(2).sum((1, 2))

    def penalty(self, x_in: torch.Tensor, code: torch.Tensor) -> Losses:
        frob = self.jacobian_norm_sq(x_in).mean()
        return {"penalty": self.config.contractive_weight * frob, "jacobian_fro2": frob}


# -------------------------------------------------------------------------------------- conv-ae

@dataclass
class ConvAEConfig(AEConfig):
    """Configuration of :class:`ConvAE` (``conv-ae``).

    Attributes:
        architecture: always 'conv' for this model.
        downsample: 'stride' (4x4 convolutions with stride 2) or 'pool' (3x3 convolution then 2x2
            max pooling); the decoder upsamples with stride-2 transposed convolutions either way.
    """

    architecture: Literal["conv"] = "conv"
    downsample: Literal["stride", "pool"] = "stride"

    def mlp_alternative(self) -> str:
        return "`genlab train ae --architecture mlp`"

    def __post_init__(self) -> None:
        if self.architecture != "conv":
            raise ValueError("conv-ae is convolutional; for an MLP use `ae --architecture mlp`")
        super().__post_init__()


class _PoolingFeatures(nn.Sequential):
    """3x3 convolution + activation (+ extra convs) + 2x2 max pooling per level: (B, C, H, W) -> (B, C', H', W')."""

    def __init__(self, in_channels: int, widths: list[int], act: str, extra_convs: int):
        layers: list[nn.Module] = []
        c = in_channels
        for width in widths:
            layers += [nn.Conv2d(c, width, 3, 1, 1), activation(act)]
            for _ in range(extra_convs):
                layers += [nn.Conv2d(width, width, 3, 1, 1), activation(act)]
            layers.append(nn.MaxPool2d(2))
            c = width
        super().__init__(*layers)


@register("conv-ae", ConvAEConfig,
          "convolutional autoencoder: strided conv or max-pool encoder, transposed-conv decoder")
class ConvAE(AutoEncoder):
    """The conv :class:`AutoEncoder`, with max-pooling downsampling as an option."""

    config: ConvAEConfig

    def build_networks(self, cfg: ConvAEConfig) -> tuple[nn.Module, nn.Module]:  # type: ignore[override]
        encoder, decoder = super().build_networks(cfg)
        if cfg.downsample == "pool":
            conv = cast(ConvEncoder, cast(nn.Sequential, encoder)[0])
            levels = len(downsample_sizes(cfg.data_shape[1], len(cfg.conv_widths))) - 1
            # same sizes and channels as the strided features, so the head is unchanged
            conv.features = _PoolingFeatures(cfg.data_shape[0], list(cfg.conv_widths[:levels]), cfg.activation,
                                             cfg.extra_convs)
        return encoder, decoder
