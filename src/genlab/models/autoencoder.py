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
  Jacobian (Rifai et al. 2011, eq. 2), computed exactly by :func:`encoder_jacobian`;
* ``conv-ae`` is convolutional, with strided or max-pooling downsampling;
* ``stacked-ae`` pretrains each layer as its own autoencoder, then fine-tunes end to end
  (Bengio et al. 2007), driven by a step counter kept in the model's state (so resume is exact).

An autoencoder has no prior to sample from. :meth:`AutoEncoder.sample` decodes codes drawn from a
diagonal Gaussian fitted to the training codes: :class:`CodeStatistics` keeps their running mean
and variance as buffers, updated during training and saved with the weights.

An overcomplete code (more units than input values) without a regularizer can copy its input and
learns nothing useful, so such a config is refused.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Literal

import torch
import torch.nn.functional as F
from torch import nn

from genlab.models.base import Batch, LatentModel, Losses
from genlab.models.vae import Activation, build_encoder_decoder, check_networks
from genlab.nn import ConvEncoder, activation, downsample_sizes
from genlab.registry import register

CODE_ACTIVATIONS = ("none", "sigmoid", "tanh", "relu")
CORRUPTIONS = ("gaussian", "masking", "salt_pepper")


# ------------------------------------------------------------------------------------- configs

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

    def __post_init__(self) -> None:
        if self.latent_dim < 1:
            raise ValueError(f"latent_dim must be positive, got {self.latent_dim}")
        check_networks(self)
        inputs = math.prod(self.data_shape)
        if self.latent_dim > inputs and not self.regularized():
            raise ValueError(
                f"latent_dim {self.latent_dim} is larger than the input ({inputs} values): an unregularized "
                f"overcomplete autoencoder can learn the identity; use denoising-ae, sparse-ae or contractive-ae "
                f"with a non-zero weight, or a latent_dim of at most {inputs}")


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
    mlp_alternative = "`genlab train ae --architecture mlp`"  # not a field: named when images are too small

    def __post_init__(self) -> None:
        if self.architecture != "conv":
            raise ValueError("conv-ae is convolutional; for an MLP use `ae --architecture mlp`")
        super().__post_init__()


@dataclass
class StackedAEConfig(AEConfig):
    """Configuration of :class:`StackedAE` (``stacked-ae``; MLP layers mlp_hidden..., latent_dim).

    Attributes:
        pretrain_steps: training steps spent pretraining each layer as its own autoencoder before
            end-to-end fine-tuning (0 = no pretraining: a deep autoencoder trained end to end).
        architecture: always 'mlp' for this model (it pretrains fully connected layers).
    """

    architecture: Literal["mlp"] = "mlp"
    pretrain_steps: int = 500

    def __post_init__(self) -> None:
        if self.pretrain_steps < 0:
            raise ValueError(f"pretrain_steps must be non-negative, got {self.pretrain_steps}")
        if self.architecture != "mlp":
            raise ValueError("stacked-ae pretrains fully connected layers: use architecture 'mlp'")
        super().__post_init__()


# ------------------------------------------------------------------------------- shared parts

class CodeStatistics(nn.Module):
    """Running mean and variance of training codes, and draws from the Gaussian they define.

    The update weight is 1/(batches seen + 1) until it falls to ``min_momentum`` (an exact running
    average at first, then an exponential one that follows the codes as the encoder changes).
    """

    def __init__(self, dim: int, min_momentum: float = 0.01):
        super().__init__()
        self.min_momentum = min_momentum
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("var", torch.ones(dim))
        self.register_buffer("batches", torch.zeros((), dtype=torch.long))

    @torch.no_grad()
    def update(self, codes: torch.Tensor) -> None:
        """Fold a batch of codes (B, D) into the statistics."""
        codes = codes.detach().float()
        m = max(self.min_momentum, 1.0 / (int(self.batches) + 1))
        self.mean.mul_(1 - m).add_(m * codes.mean(0))
        self.var.mul_(1 - m).add_(m * codes.var(0, unbiased=False) if len(codes) > 1 else 0 * self.var)
        self.batches.add_(1)

    def sample(self, n: int) -> torch.Tensor:
        """n codes from N(mean, diag(var)), (n, D)."""
        return self.mean + self.var.clamp_min(0).sqrt() * torch.randn(n, self.mean.shape[0], device=self.mean.device)


def code_activation(name: str) -> nn.Module:
    return nn.Identity() if name == "none" else activation(name)


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


# Derivative a'(u) of each elementwise activation, from the module, its input u and output a.
ACTIVATION_DERIVATIVES: dict[type, Callable[[nn.Module, torch.Tensor, torch.Tensor], torch.Tensor]] = {
    nn.ReLU: lambda m, u, a: (u > 0).to(u.dtype),
    nn.LeakyReLU: lambda m, u, a: torch.where(u > 0, 1.0, m.negative_slope).to(u.dtype),
    nn.Sigmoid: lambda m, u, a: a * (1 - a),
    nn.Tanh: lambda m, u, a: 1 - a * a,
    nn.ELU: lambda m, u, a: torch.where(u > 0, torch.ones_like(u), a + m.alpha),
    nn.SiLU: lambda m, u, a: torch.sigmoid(u) * (1 + u * (1 - torch.sigmoid(u))),
    nn.GELU: lambda m, u, a: 0.5 * (1 + torch.erf(u / math.sqrt(2))) + u * torch.exp(-0.5 * u * u) / math.sqrt(2 * math.pi),
}


def encoder_jacobian(encoder: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The code and the exact Jacobian dh/dx of an MLP encoder, per example.

    The encoder must be built from Linear layers and elementwise activations (any nesting of
    Sequentials, Flatten, Identity). For h = a_L(W_L ... a_1(W_1 x)):

        1. forward, keeping each W_k and each activation derivative D_k = diag(a_k'(u_k));
        2. J = D_L W_L D_{L-1} W_{L-1} ... D_1 W_1, accumulated from the code side, so every
           product is (B, D, n) with D the code size: the cost of D vector-Jacobian products,
           instead of the d (input size, D << d) a forward accumulation would need.

    For one sigmoid layer this is Rifai et al. 2011's closed form
    ||J||_F^2 = sum_j (h_j (1 - h_j))^2 sum_i W_ji^2.

    Args:
        encoder: the MLP.
        x: inputs (B, ...); flattened to (B, d).

    Returns:
        (code (B, D), Jacobian (B, D, d)), float32, differentiable w.r.t. the parameters.
    """
    factors: list[tuple[str, torch.Tensor]] = []
    h = x.flatten(1).float()
    with torch.autocast(device_type=x.device.type, enabled=False):
        for layer in (m for m in encoder.modules() if not list(m.children())):
            if isinstance(layer, nn.Linear):
                factors.append(("linear", layer.weight.float()))  # (n_out, n_in)
                h = layer(h)
            elif type(layer) in ACTIVATION_DERIVATIVES:
                a = layer(h)
                factors.append(("diag", ACTIVATION_DERIVATIVES[type(layer)](layer, h, a)))  # (B, n)
                h = a
            elif isinstance(layer, (nn.Identity, nn.Flatten)):
                h = layer(h)
            else:
                raise TypeError(f"encoder_jacobian supports Linear layers and elementwise activations, "
                                f"not {type(layer).__name__}")
        jac: torch.Tensor | None = None  # (B, D, n), from the code back towards the input
        for kind, f in reversed(factors):
            if kind == "diag":
                jac = torch.diag_embed(f) if jac is None else jac * f[:, None, :]
            else:
                jac = f.expand(h.shape[0], -1, -1) if jac is None else jac @ f
    return h, jac


# ---------------------------------------------------------------------------------- the models

@register("ae", AEConfig, "autoencoder (MLP or conv): code = f(x), loss = reconstruction error")
class AutoEncoder(LatentModel):
    """Encoder -> code -> decoder; the variants override :meth:`corrupt` or :meth:`penalty`."""

    config: AEConfig

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

    @torch.no_grad()
    def sample(self, n: int, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Decode n codes from a diagonal Gaussian fitted to the training codes (no prior exists)."""
        return self.decode(self.code_stats.sample(n))


@register("denoising-ae", DenoisingAEConfig, "denoising autoencoder: reconstruct clean x from corrupted x")
class DenoisingAE(AutoEncoder):
    """Trains on corrupted inputs (:func:`corrupt`), reconstructing the clean ones."""

    config: DenoisingAEConfig

    def corrupt(self, x: torch.Tensor) -> torch.Tensor:
        return corrupt(x, self.config.noise, self.config.noise_level)


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


@register("conv-ae", ConvAEConfig, "convolutional autoencoder: strided conv or max-pool encoder, transposed-conv decoder")
class ConvAE(AutoEncoder):
    """The conv :class:`AutoEncoder`, with max-pooling downsampling as an option."""

    config: ConvAEConfig

    def build_networks(self, cfg: ConvAEConfig) -> tuple[nn.Module, nn.Module]:
        encoder, decoder = super().build_networks(cfg)
        if cfg.downsample == "pool":
            conv: ConvEncoder = encoder[0]
            levels = len(downsample_sizes(cfg.data_shape[1], len(cfg.conv_widths))) - 1
            # same sizes and channels as the strided features, so the head is unchanged
            conv.features = _PoolingFeatures(cfg.data_shape[0], list(cfg.conv_widths[:levels]), cfg.activation,
                                             cfg.extra_convs)
        return encoder, decoder


@register("stacked-ae", StackedAEConfig, "stacked autoencoder: greedy layer-wise pretraining, then end-to-end fine-tuning")
class StackedAE(AutoEncoder):
    """An MLP autoencoder whose layers are first trained one at a time.

    Layer k (sizes s_k -> s_{k+1}, with s = [input, *mlp_hidden, latent_dim]) has an encoder block
    ``encoder[k + 1]`` and a decoder block ``decoder[L - 1 - k]``; the full decoder is the decoder
    blocks in reverse order, so fine-tuning starts from the pretrained weights. The stage follows
    from ``steps_done`` (a buffer counted in :meth:`after_step`, saved in checkpoints):

        stage k < L (steps [k * P, (k + 1) * P)): train layer k alone to reconstruct its input,
            the frozen output of layers 0..k-1 (the image for k = 0, with the image loss; the
            hidden code for k > 0, with squared error);
        stage L: fine-tune everything end to end on the image reconstruction.
    """

    partial_updates = True  # pretraining stage k trains layer k only

    config: StackedAEConfig

    def __init__(self, config: StackedAEConfig):
        super().__init__(config)
        self.register_buffer("steps_done", torch.zeros((), dtype=torch.long))

    def build_networks(self, cfg: StackedAEConfig) -> tuple[nn.Module, nn.Module]:
        sizes = [math.prod(cfg.data_shape), *cfg.mlp_hidden, cfg.latent_dim]
        n = len(sizes) - 1
        enc = [nn.Sequential(nn.Linear(a, b), activation(cfg.activation) if k < n - 1 else code_activation(cfg.code_activation))
               for k, (a, b) in enumerate(zip(sizes[:-1], sizes[1:]))]
        dec = [nn.Sequential(nn.Linear(b, a), activation(cfg.activation) if k > 0 else nn.Identity())
               for k, (a, b) in enumerate(zip(sizes[:-1], sizes[1:]))]
        return nn.Sequential(nn.Flatten(), *enc), nn.Sequential(*reversed(dec), nn.Unflatten(1, tuple(cfg.data_shape)))

    @property
    def num_layers(self) -> int:
        return len(self.config.mlp_hidden) + 1

    def stage(self) -> int:
        """0..L-1 while pretraining layer k, L when fine-tuning."""
        p = self.config.pretrain_steps
        return self.num_layers if p == 0 else min(int(self.steps_done) // p, self.num_layers)

    def layer_losses(self, x: torch.Tensor, k: int) -> Losses:
        """Stage k: layer k as a one-layer autoencoder of the frozen output of layers 0..k-1."""
        L = self.num_layers
        with torch.no_grad():
            inp = self.encoder[:k + 1](x).float()  # (B, s_k): flatten + layers 0..k-1
        out = self.decoder[L - 1 - k](self.encoder[k + 1](inp)).float()  # (B, s_k)
        if k == 0:
            rec = self.reconstruction_error(out.view_as(x), x)  # (B,) image loss
        else:
            rec = (out - inp).pow(2).sum(-1)  # (B,) squared error of the hidden code
        stage = torch.tensor(float(k), device=x.device)
        return {"loss": rec.mean(), "rec": rec.mean().detach(), "stage": stage}

    def losses(self, batch: Batch, phase: str = "model") -> Losses:
        k = self.stage() if self.training else self.num_layers
        if k < self.num_layers:
            return self.layer_losses(batch.x, k)
        return {**self.end_to_end_losses(batch.x), "stage": torch.tensor(float(k), device=batch.x.device)}

    @torch.no_grad()
    def evaluate(self, batch: Batch) -> dict[str, float]:
        """Validation always measures the whole autoencoder, whatever the stage."""
        return {k: float(v) for k, v in self.end_to_end_losses(batch.x).items()}

    def after_step(self, phase: str) -> None:
        self.steps_done.add_(1)
