"""The GAN family on one adversarial loop: gan, dcgan, cgan, wgan and wgan-gp.

A generator G maps noise z ~ N(0, I) (and, for cgan, a class label) to an image; a discriminator
(a critic, for the Wasserstein loss) D scores images. One training round is

    discriminator x n_critic:  minimize L_D(D(x), D(G(z)))    (G fixed; fresh batch each time)
    generator x 1:             minimize L_G(D(G(z)))          (D fixed)

with the loss pair, the architecture and the stabilizers all chosen by :class:`GANConfig` (see
:mod:`genlab.models.adversarial`). The five registered names are one model with different
defaults, following their papers except where measured per CPU-second (below):

=========  =====================================================================================
gan        MLP networks, non-saturating loss, Adam 2e-4 (Goodfellow et al. 2014)
dcgan      DCGAN networks with batch norm, N(0, 0.02) init, Adam betas (0.5, 0.999) (Radford et
           al. 2016), sized for a CPU: 32 then 64 channels (image side first) in both networks and
           lr 4e-4 (``--g-widths 64 128 --d-widths 64 128 --gan-lr 2e-4``: the paper's, the earlier
           defaults)
cgan       dcgan conditioned on labels: generator input [z, embed(y)], projection discriminator
           (Mirza & Osindero 2014; Miyato & Koyama 2018), as narrow as dcgan, lr 2e-4
wgan       Wasserstein loss, weight clipping 0.01, n_critic 5, RMSprop 5e-5 (Arjovsky et al. 2017)
wgan-gp    Wasserstein loss, gradient penalty 10, no batch norm in the critic (Gulrajani et al.
           2017), with CPU defaults: n_critic 2, Adam 2e-4 betas (0, 0.9) (the paper: n_critic 5,
           Adam 1e-4 (0.5, 0.9); ``--n-critic 5 --gan-lr 1e-4 --gan-betas 0.5 0.9``)
=========  =====================================================================================

The dcgan widths and learning rate and the wgan-gp defaults were measured per CPU-second
(docs/benchmarks.md, issue 21): at 100 CPU-seconds on MNIST (fp32, one thread) the paper's
wgan-gp settings bought 67 generator updates and noise
(one class covered); n_critic 2 with Adam 2e-4 (0, 0.9) bought 151 and all ten classes; dcgan
at widths 32-64 trained on 2.6x more images than at 64-128 and reached FD 67 against 100 (52 with
lr 4e-4), cgan 87.5% label accuracy against 33.6%.

Networks work on images scaled to [-1, 1] (the generator ends in tanh); ``sample`` maps back to
[0, 1]. The optimizer of both phases comes from the model config (``gan_optimizer``, ``gan_lr``,
``gan_betas``); the train flags ``--optimizer/--lr/--betas`` override them for both phases when
given, and ``--phase-lr discriminator=LR generator=LR`` the learning rate of one phase (TTUR).
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from genlab.config import OptimizerConfig, check_betas, check_range, check_sizes
from genlab.errors import ConfigError, DataError
from genlab.models.adversarial import (
    LOSS_PAIRS,
    add_instance_noise,
    check_stabilizers,
    clip_weights_,
    gradient_penalty,
    instance_noise_std,
    parameter_grad_norm,
)
from genlab.models.base import Batch, GenerativeModel, Losses, Phase, default_labels
from genlab.models.parts import check_conv_shape
from genlab.nn.ema import ema_decay_at, ema_update_
from genlab.nn.gan_blocks import (
    DCGANDiscriminator,
    DCGANGenerator,
    MLPDiscriminator,
    MLPGenerator,
    apply_spectral_norm,
    init_normal_,
)
from genlab.registry import register

LossName = Literal["minimax", "non_saturating", "least_squares", "wasserstein", "hinge"]
Norm = Literal["batch", "layer", "none"]


@dataclass
class GANConfig:
    """Configuration of the GAN family (defaults: the 2014 MLP GAN).

    Attributes:
        data_shape: (C, H, W) of the images; filled from the dataset at training time.
        architecture: 'mlp' (fully connected) or 'dcgan' (transposed / strided convolutions).
        noise_dim: size of the noise vector z ~ N(0, I).
        g_hidden, d_hidden: hidden layer sizes of the MLP generator / discriminator.
        g_widths, d_widths: channels per resolution level of the DCGAN generator / discriminator,
            image side first.
        g_norm: normalization in the generator: 'batch', 'layer' or 'none'.
        d_norm: normalization in the discriminator (never on its first layer): 'batch', 'layer' or 'none'.
        init_std: draw weights from N(0, init_std) (DCGAN: 0.02); 0 keeps PyTorch's initialization.
        loss: the loss pair: minimax, non_saturating, least_squares, wasserstein or hinge.
        n_critic: discriminator updates per generator update, each on a fresh batch.
        gradient_penalty: weight lambda of the WGAN-GP gradient penalty on interpolates (0 = off).
        weight_clip: clamp discriminator weights to [-c, c] after each update (0 = off; wasserstein only).
        spectral_norm: spectrally normalize every discriminator layer (each layer 1-Lipschitz).
        minibatch_std: give the discriminator the minibatch standard deviation as an extra feature.
        minibatch_discrimination: 'B,C': give the discriminator B minibatch-discrimination features
            from a learned B x C projection of its last features (Salimans et al. 2016; none = off).
        instance_noise: std of Gaussian noise added to real and fake discriminator inputs (images
            in [-1, 1]), annealed linearly to 0 (0 = off).
        instance_noise_steps: discriminator updates over which the instance noise decays to 0.
        label_smoothing: one-sided label smoothing: the real target becomes 1 - s (0 = off).
        ema_decay: keep an exponential moving average of the generator's weights with this decay
            and sample from it (0 = off; e.g. 0.999).
        gan_optimizer: optimizer of both networks, 'adam' or 'rmsprop' (the train flags
            --optimizer/--lr/--betas, when given, override these for both phases).
        gan_lr: learning rate of both networks (--phase-lr discriminator=LR overrides one phase).
        gan_betas: Adam's (beta1, beta2).
    """

    data_shape: tuple[int, int, int] = (1, 28, 28)
    architecture: Literal["mlp", "dcgan"] = "mlp"
    noise_dim: int = 100
    g_hidden: tuple[int, ...] = (256, 512)
    d_hidden: tuple[int, ...] = (512, 256)
    g_widths: tuple[int, ...] = (64, 128)
    d_widths: tuple[int, ...] = (64, 128)
    g_norm: Norm = "none"
    d_norm: Norm = "none"
    init_std: float = 0.0
    loss: LossName = "non_saturating"
    n_critic: int = 1
    gradient_penalty: float = 0.0
    weight_clip: float = 0.0
    spectral_norm: bool = False
    minibatch_std: bool = False
    minibatch_discrimination: tuple[int, int] | None = None
    instance_noise: float = 0.0
    instance_noise_steps: int = 2000
    label_smoothing: float = 0.0
    ema_decay: float = 0.0
    gan_optimizer: Literal["adam", "rmsprop"] = "adam"
    gan_lr: float = 2e-4
    gan_betas: tuple[float, float] = (0.5, 0.999)

    def __post_init__(self) -> None:
        checks = [
            (self.noise_dim >= 1, f"noise_dim must be positive, got {self.noise_dim}"),
            (self.n_critic >= 1, f"n_critic must be at least 1, got {self.n_critic}"),
            (self.gradient_penalty >= 0, f"gradient_penalty must be >= 0, got {self.gradient_penalty}"),
            (self.weight_clip >= 0, f"weight_clip must be >= 0, got {self.weight_clip}"),
            (self.instance_noise >= 0, f"instance_noise must be >= 0, got {self.instance_noise}"),
            (0 <= self.label_smoothing < 0.5, f"label_smoothing must be in [0, 0.5), got {self.label_smoothing}"),
            (0 <= self.ema_decay < 1, f"ema_decay must be in [0, 1), got {self.ema_decay}"),
            (self.gan_lr > 0, f"gan_lr must be positive, got {self.gan_lr}"),
            (self.architecture == "dcgan" or len(self.d_hidden) >= 1, "d_hidden needs at least one layer"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)
        check_sizes("g_hidden", self.g_hidden, non_empty=self.architecture == "mlp")
        check_sizes("d_hidden", self.d_hidden)
        check_sizes("g_widths", self.g_widths, non_empty=self.architecture == "dcgan")
        check_sizes("d_widths", self.d_widths, non_empty=self.architecture == "dcgan")
        check_sizes("noise_dim", self.noise_dim)
        check_range("n_critic", self.n_critic, 1, 1000)
        check_range("init_std", self.init_std, 0)
        if self.minibatch_discrimination is not None:
            check_sizes("minibatch_discrimination", self.minibatch_discrimination)
        check_range("instance_noise_steps", self.instance_noise_steps, 1)
        check_betas("gan_betas", self.gan_betas)
        if self.architecture == "dcgan":
            check_conv_shape(self.data_shape, "the dcgan architecture", "--architecture mlp")
        check_stabilizers(self)


def _preset(summary: str, extra_attributes: str = ""):
    """Give a preset config class ``summary`` plus the field docs of :class:`GANConfig` (for --help)."""
    def wrap(cls: type) -> type:
        shared_fields = (GANConfig.__doc__ or "").split("Attributes:", 1)[1].lstrip("\n")
        cls.__doc__ = f"{summary}\n\n    Attributes:\n{extra_attributes}{shared_fields}"
        return cls
    return wrap


@_preset("GANConfig with the DCGAN defaults (Radford et al. 2016), 32-64 channels wide and lr 4e-4 "
         "(per CPU-second).")
@dataclass
class DCGANConfig(GANConfig):
    architecture: Literal["mlp", "dcgan"] = "dcgan"
    g_widths: tuple[int, ...] = (32, 64)
    d_widths: tuple[int, ...] = (32, 64)
    g_norm: Norm = "batch"
    d_norm: Norm = "batch"
    init_std: float = 0.02
    gan_lr: float = 4e-4


_CONDITIONAL_ATTRIBUTES = """\
        num_classes: number of classes; filled from the dataset's labels at training time.
        conditioning: how the discriminator sees the label: 'projection' (inner product of a class
            embedding with its features, Miyato & Koyama 2018) or 'concat' (a class embedding
            concatenated to its features before the output layer).
        embed_dim: size of the label embedding fed to the generator (and to a 'concat' discriminator).
"""


@_preset("DCGANConfig conditioned on class labels (both networks), with a projection discriminator.",
         _CONDITIONAL_ATTRIBUTES)
@dataclass
class CGANConfig(DCGANConfig):
    gan_lr: float = 2e-4  # its probes ran at 2e-4
    num_classes: int = 10
    conditioning: Literal["projection", "concat"] = "projection"
    embed_dim: int = 32

    def __post_init__(self) -> None:
        super().__post_init__()
        check_sizes("num_classes", self.num_classes)
        check_sizes("embed_dim", self.embed_dim)


@_preset("GANConfig with the WGAN defaults (Arjovsky et al. 2017): a clipped critic, RMSprop 5e-5.")
@dataclass
class WGANConfig(DCGANConfig):
    g_widths: tuple[int, ...] = (64, 128)  # not studied per CPU-second: the earlier widths
    d_widths: tuple[int, ...] = (64, 128)
    loss: LossName = "wasserstein"
    n_critic: int = 5
    weight_clip: float = 0.01
    gan_optimizer: Literal["adam", "rmsprop"] = "rmsprop"
    gan_lr: float = 5e-5


@_preset("GANConfig with the WGAN-GP defaults (Gulrajani et al. 2017): gradient penalty 10, no critic batch norm; "
         "per CPU-second n_critic 2 and Adam 2e-4 (0, 0.9) (the paper: n_critic 5, Adam 1e-4 (0.5, 0.9)).")
@dataclass
class WGANGPConfig(DCGANConfig):
    g_widths: tuple[int, ...] = (64, 128)  # its probes ran at these widths
    d_widths: tuple[int, ...] = (64, 128)
    d_norm: Norm = "none"
    loss: LossName = "wasserstein"
    n_critic: int = 2
    gradient_penalty: float = 10.0
    gan_lr: float = 2e-4
    gan_betas: tuple[float, float] = (0.0, 0.9)


def _conditional(cfg: GANConfig) -> CGANConfig:
    """The config of a conditional GAN (``num_classes`` > 0): only :class:`CGANConfig` has the label fields."""
    if not isinstance(cfg, CGANConfig):
        raise ConfigError(f"a conditional GAN needs a CGANConfig (num_classes, conditioning, embed_dim), "
                          f"got {type(cfg).__name__}")
    return cfg


class Generator(nn.Module):
    """(z (B, noise_dim), labels (B,) or None) -> images (B, C, H, W) in [-1, 1].

    ``num_classes`` > 0 makes it conditional (the model's :attr:`GAN.num_classes`).
    """

    def __init__(self, cfg: GANConfig, num_classes: int = 0):
        super().__init__()
        embed_dim = _conditional(cfg).embed_dim if num_classes else 0
        self.embed = nn.Embedding(num_classes, embed_dim) if num_classes else None
        n_in = cfg.noise_dim + embed_dim
        if cfg.architecture == "mlp":
            self.net: nn.Module = MLPGenerator(n_in, cfg.data_shape, cfg.g_hidden, cfg.g_norm)
        else:
            self.net = DCGANGenerator(n_in, cfg.data_shape, cfg.g_widths, cfg.g_norm)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        if self.embed is not None:
            z = torch.cat([z, self.embed(labels)], dim=1)  # (B, noise_dim + embed_dim)
        return self.net(z)


class Discriminator(nn.Module):
    """(images (B, C, H, W) in [-1, 1], labels (B,) or None) -> raw scores (B,) in float32.

    score = w . phi(x) + b                        unconditional
    score = w . phi(x) + b + embed(y) . phi(x)    'projection' (Miyato & Koyama 2018, eq. 3)
    score = w . [phi(x), embed(y)] + b            'concat'

    ``num_classes`` > 0 makes it conditional (the model's :attr:`GAN.num_classes`).
    """

    def __init__(self, cfg: GANConfig, num_classes: int = 0):
        super().__init__()
        if cfg.architecture == "mlp":
            self.body: nn.Module = MLPDiscriminator(cfg.data_shape, cfg.d_hidden, cfg.d_norm, cfg.minibatch_std,
                                                       cfg.minibatch_discrimination)
        else:
            self.body = DCGANDiscriminator(cfg.data_shape, cfg.d_widths, cfg.d_norm, cfg.minibatch_std,
                                           cfg.minibatch_discrimination)
        features = self.body.out_features
        cond = _conditional(cfg) if num_classes else None
        self.concat = cond is not None and cond.conditioning == "concat"
        embed_dim = cond.embed_dim if cond is not None and self.concat else 0
        self.embed = None
        if num_classes:
            self.embed = nn.Embedding(num_classes, embed_dim if self.concat else features)
        self.head = nn.Linear(features + embed_dim, 1)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        phi = self.body(x)  # (B, F)
        if self.embed is None:
            return self.head(phi).squeeze(1).float()
        e = self.embed(labels)  # (B, E) or (B, F)
        if self.concat:
            return self.head(torch.cat([phi, e.to(phi.dtype)], dim=1)).squeeze(1).float()
        return (self.head(phi).squeeze(1) + (e * phi).sum(1)).float()


def class_grid_labels(n: int, num_classes: int, device: torch.device | None = None) -> torch.Tensor:
    """Labels (n,) for a square grid of n images with one class per row (cycling through classes)."""
    return default_labels(n, num_classes, device, run=math.ceil(math.sqrt(n)))


_PHASE_INDEX = {"discriminator": 0, "generator": 1}  # rows of GAN.grad_norms


@register("gan", GANConfig, "GAN: generator vs discriminator, swappable loss pairs and stabilizers (MLP defaults)")
class GAN(GenerativeModel):
    """Generator and discriminator trained in alternating phases; see the module docstring."""

    config: GANConfig
    watch_modes = True
    export_parts = ("sample",)  # noise [+ labels] -> images (sample_from_noise)
    export_refusals = {"encoder": "a GAN has no encoder (use vaegan for one)",
                       "decoder": "a GAN has no decoder: its generator is the 'sample' part"}
    d_updates: torch.Tensor  # buffers (registered in __init__)
    g_updates: torch.Tensor
    grad_norms: torch.Tensor

    def __init__(self, config: GANConfig):
        super().__init__(config)
        if self.requires_labels and self.num_classes < 1:
            raise ConfigError(f"a conditional GAN needs class labels, and this dataset has none (num_classes = "
                              f"{self.num_classes})")
        self.pair = LOSS_PAIRS[config.loss]
        self.generator = Generator(config, self.num_classes)
        self.discriminator = Discriminator(config, self.num_classes)
        if config.init_std > 0:
            init_normal_(self.generator, config.init_std)
            init_normal_(self.discriminator, config.init_std)
        if config.spectral_norm:
            apply_spectral_norm(self.discriminator)
        self.ema_generator = copy.deepcopy(self.generator).requires_grad_(False) if config.ema_decay > 0 else None
        self.register_counter("d_updates")  # in checkpoints: exact resume
        self.register_counter("g_updates")
        # each phase's last parameter-gradient norm (discriminator, generator): training state, not
        # weights, so non-persistent; checkpoints carry non-persistent buffers, so a resume logs it exactly
        self.register_buffer("grad_norms", torch.zeros(2), persistent=False)

    # --- training contract -------------------------------------------------------------------
    def phases(self) -> list[Phase]:
        cfg = self.config
        beta1, beta2 = cfg.gan_betas  # two values (checked in GANConfig)
        opt = OptimizerConfig(cfg.gan_optimizer, cfg.gan_lr, (beta1, beta2))
        # the generator phase uses only the size and labels of a batch: it reuses the critic's last one,
        # so no real batch is drawn or converted for it and an epoch is one pass of real images through D
        return [Phase("discriminator", ("discriminator",), cfg.n_critic, opt),
                Phase("generator", ("generator",), 1, opt, fresh_batch=False)]

    def _labels(self, batch: Batch) -> torch.Tensor | None:
        if not self.requires_labels:
            return None
        if batch.y is None:
            raise DataError(f"model '{self.registry_name}' is conditional and needs labelled data")
        return batch.y

    def _noise_std(self) -> float:
        cfg = self.config
        return instance_noise_std(cfg.instance_noise, self.counted("d_updates"), cfg.instance_noise_steps)

    def _scores(self, real: torch.Tensor, fake: torch.Tensor, prefix: str = "") -> Losses:
        """What to log about D's outputs: mean D(x), D(G(z)) or the critic's scores."""
        if self.pair.probabilistic:
            return {"D(x)": torch.sigmoid(real).mean().detach(), "D(G(z))": torch.sigmoid(fake).mean().detach()}
        logs = {"critic_real": real.mean().detach(), "critic_fake": fake.mean().detach()}
        if self.config.loss == "wasserstein":
            logs["wasserstein"] = (real.mean() - fake.mean()).detach()  # the critic's W-1 estimate
        return logs

    def discriminator_losses(self, x: torch.Tensor, labels: torch.Tensor | None, z: torch.Tensor,
                             penalty: bool = True) -> Losses:
        """The discriminator's loss on real images x (B, C, H, W) in [-1, 1] and G(z) (G held fixed)."""
        cfg = self.config
        with torch.no_grad():
            fake = self.generator(z, labels)  # (B, C, H, W)
        std = self._noise_std()
        real_in, fake_in = add_instance_noise(x, std), add_instance_noise(fake.to(x.dtype), std)
        d_real, d_fake = self.discriminator(real_in, labels), self.discriminator(fake_in, labels)  # (B,) each
        loss = self.pair.discriminator(d_real, d_fake, 1.0 - cfg.label_smoothing)
        logs = self._scores(d_real, d_fake)
        if penalty and cfg.gradient_penalty > 0:
            gp, norm = gradient_penalty(lambda v: self.discriminator(v, labels), real_in, fake_in)
            loss = loss + cfg.gradient_penalty * gp
            logs.update(gradient_penalty=gp.detach(), critic_input_grad_norm=norm)
        if cfg.instance_noise > 0:
            logs["instance_noise"] = torch.tensor(std)
        return {"loss": loss, **logs}

    def generator_losses(self, labels: torch.Tensor | None, z: torch.Tensor) -> Losses:
        """The generator's loss on D(G(z)) (D's weights receive gradients but are not stepped)."""
        fake = self.generator(z, labels)  # (B, C, H, W)
        d_fake = self.discriminator(add_instance_noise(fake, self._noise_std()), labels)  # (B,)
        logs = {"D(G(z))": torch.sigmoid(d_fake).mean().detach()} if self.pair.probabilistic else \
            {"critic_fake": d_fake.mean().detach()}
        return {"loss": self.pair.generator(d_fake), **logs}

    def losses(self, batch: Batch, phase: str = "discriminator") -> Losses:
        labels = self._labels(batch)
        z = torch.randn(batch.x.shape[0], self.config.noise_dim, device=batch.x.device)  # (B, noise_dim)
        if phase == "discriminator":
            out = self.discriminator_losses(batch.x * 2 - 1, labels, z)  # real images in [-1, 1]
        elif phase == "generator":  # only the batch's size and labels: the real images are not looked at
            out = self.generator_losses(labels, z)
        else:
            raise ValueError(f"unknown phase '{phase}' (discriminator or generator)")
        # the parameter-gradient norm of this phase's previous update (0 before the first)
        out["grad_norm"] = self.grad_norms[_PHASE_INDEX[phase]].detach().clone()
        return out

    def after_step(self, phase: str) -> None:
        """Record the gradient norm; clip the critic / count its updates, or update the EMA generator."""
        self.grad_norms[_PHASE_INDEX[phase]] = parameter_grad_norm(self.get_submodule(phase).parameters())
        if phase == "discriminator":
            self.count("d_updates")
            if self.config.weight_clip > 0:
                clip_weights_(self.discriminator, self.config.weight_clip)
        elif phase == "generator":
            self.count("g_updates")
            if self.ema_generator is not None:
                decay = ema_decay_at(self.config.ema_decay, self.counted("g_updates"))
                ema_update_(self.ema_generator, self.generator, decay)

    @torch.no_grad()
    def evaluate(self, batch: Batch) -> dict[str, float]:
        """Both losses and D's outputs on a validation batch (no gradient penalty: it needs gradients)."""
        x, labels = batch.x * 2 - 1, self._labels(batch)
        z = torch.randn(x.shape[0], self.config.noise_dim, device=x.device)
        d_losses = self.discriminator_losses(x, labels, z, penalty=False)
        logs = {f"discriminator/{k}": float(v) for k, v in d_losses.items()}
        logs.update({f"generator/{k}": float(v) for k, v in self.generator_losses(labels, z).items()})
        return logs

    # --- generation ----------------------------------------------------------------------------
    @property
    def sampling_generator(self) -> Generator:
        """The generator that samples: the EMA copy when one is kept, else the trained one."""
        return self.ema_generator if self.ema_generator is not None else self.generator

    @torch.no_grad()
    def sample(self, n: int, labels: torch.Tensor | None = None) -> torch.Tensor:
        """n images (N, C, H, W) in [0, 1], from the EMA generator when it is kept.

        Args:
            n: number of images.
            labels: (n,) classes for a conditional model; None = a grid with one class per row
                (n = num_classes^2, e.g. 100 for MNIST, shows every class once per row).
        """
        cfg = self.config
        if labels is not None and not self.requires_labels:
            raise ConfigError(f"model '{self.registry_name}' is not conditional; "
                              "labels need a conditional model (cgan)")
        if self.requires_labels:
            if labels is None:
                labels = class_grid_labels(n, self.num_classes, self.device)
            else:
                labels = labels.to(self.device).long()
            if labels.shape != (n,) or int(labels.min()) < 0 or int(labels.max()) >= self.num_classes:
                raise ConfigError(f"labels must be {n} classes in 0..{self.num_classes - 1}")
        z = torch.randn(n, cfg.noise_dim, device=self.device)
        return ((self.sampling_generator(z, labels).float() + 1) / 2).clamp(0, 1)

    def noise_shape(self) -> tuple[int, ...]:
        return (self.config.noise_dim,)

    def sample_from_noise(self, noise: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """The sampling generator on ``noise`` (and labels for cgan), mapped to [0, 1]."""
        return ((self.sampling_generator(noise, labels).float() + 1) / 2).clamp(0, 1)


@register("dcgan", DCGANConfig, "DCGAN: transposed-conv generator with batch norm, strided-conv discriminator")
class DCGAN(GAN):
    """:class:`GAN` with :class:`DCGANConfig` defaults."""


@register("cgan", CGANConfig, "conditional DCGAN: label embedding into G, projection discriminator; sample --label")
class CGAN(GAN):
    """:class:`GAN` with :class:`CGANConfig` defaults (conditional)."""

    requires_labels = True  # refused on unlabelled data before training; grids get a row per class


@register("wgan", WGANConfig, "Wasserstein GAN: clipped critic (0.01), n_critic 5, RMSprop 5e-5")
class WGAN(GAN):
    """:class:`GAN` with :class:`WGANConfig` defaults."""


@register("wgan-gp", WGANGPConfig, "WGAN-GP: gradient penalty 10 on interpolates, n_critic 2, Adam (2e-4, 0, 0.9)")
class WGANGP(GAN):
    """:class:`GAN` with :class:`WGANGPConfig` defaults."""
