"""VAE-GAN (Larsen et al. 2016): a VAE whose reconstruction error is measured in the feature
space of a GAN discriminator, so the decoder learns sharp images and the encoder a structured code.

With x~ = Dec(z), z ~ q(z|x) = Enc(x), x_p = Dec(z_p), z_p ~ N(0, I), and Dis_l the activations of
discriminator layer l (paper eq. 7-9):

    L_prior = KL(q(z|x) || N(0, I))
    L_llike = -log N(Dis_l(x); Dis_l(x~), I) = 1/2 ||Dis_l(x) - Dis_l(x~)||^2 + const
    L_GAN   = log Dis(x) + log(1 - Dis(x~)) + log(1 - Dis(x_p))

    encoder:        L_prior + L_llike             (the GAN loss never reaches the encoder)
    decoder:        gamma * L_llike - L_GAN       (non-saturating form: -log Dis(x~) - log Dis(x_p))
    discriminator:  -L_GAN                        (binary cross-entropy: x real, x~ and x_p fake)

genlab's defaults depart from the paper in two measured ways (benchmarks/vaegan_study.py,
docs/benchmarks.md, issue 19): the GAN term shows the discriminator prior samples only
(``gan_fakes='prior'``: the x~ terms above drop out), and the encoder and decoder learn at 1e-3
(``autoencoder_lr``) beside the discriminator's 3e-4.

Each network is a phase of the trainer, updated in turn on the same batch: discriminator, then
encoder, then decoder. Every phase runs its own forward pass, so no backward pass ever goes
through weights that another phase has already stepped (the in-place error that joint-graph
VAE-GAN code hits when it steps one optimizer before the last backward).
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genlab.config import OptimizerConfig, check_range, check_sizes
from genlab.models.base import Batch, Losses, Phase
from genlab.models.vae import VAE, VAEConfig, gaussian_kl
from genlab.nn.ema import ema_decay_at, ema_update_
from genlab.nn.gan_blocks import DCGANDiscriminator, apply_spectral_norm
from genlab.registry import register


@dataclass
class VAEGANConfig(VAEConfig):
    """Configuration of :class:`VAEGAN`: a :class:`VAEConfig` for encoder and decoder, plus the discriminator.

    Attributes:
        disc_widths: channels per stride-2 level of the discriminator.
        feature_layer: the discriminator level (1 = first) whose activations measure reconstruction.
        gamma: weight of the feature reconstruction loss against the GAN loss in the decoder's update
            (1; the old default 0.01 let the GAN term drown the reconstruction: on MNIST at 25
            CPU-s, FD 262 -> 93 and recon FD 243 -> 28, benchmarks/vaegan_study.py, docs/benchmarks.md).
        adversarial_lr: Adam learning rate of the discriminator (betas 0.5, 0.999); --phase-lr
            discriminator=LR (or encoder=, decoder=) sets one network's.
        autoencoder_lr: Adam learning rate of the encoder and of the decoder (betas 0.5, 0.999);
            1e-3 (the VAE's rate; at 3e-4 they learned too slowly for the budget: FD 93.8 -> 77.9 at
            25 CPU-s on MNIST).
        equilibrium: Larsen et al.'s equilibrium rule (0 = off): the discriminator's update is
            dropped while its cross-entropy on real or on fake images is below equilibrium -
            margin (it is winning), and the decoder's GAN term while either is above equilibrium +
            margin (it is losing); ln 2 = 0.69 is the chance level.
        equilibrium_margin: the margin of the equilibrium rule.
        pixel_weight: weight of the VAE's pixel reconstruction NLL (the ``likelihood``, summed over
            pixels) added to the encoder's and the decoder's losses (0 = Larsen et al.'s pure
            feature-space reconstruction; > 0 = a hybrid that keeps the VAE's pixel fidelity).
        gan_fakes: what the GAN term shows the discriminator as fakes: 'both' (reconstructions and
            prior samples, the paper), 'prior' (prior samples only; the default: the GAN term on
            reconstructions pulls them away from their inputs; FD 77.9 -> 45.0, recon FD 7.7 -> 4.9
            at 25 CPU-s on MNIST) or 'recon' (reconstructions only).
        vae_warmup_steps: this many encoder updates train the VAE part only (the discriminator is
            not updated and the decoder gets no GAN term) before the GAN game starts (0 = off).
        disc_spectral_norm: spectral normalization of every discriminator weight (Miyato et al. 2018).
        ema_decay: keep an exponential moving average of the decoder's weights with this decay and
            sample from it (0 = off); reconstructions use the trained decoder.
    """

    disc_widths: tuple[int, ...] = (32, 64)
    feature_layer: int = 2
    gamma: float = 1.0
    adversarial_lr: float = 3e-4
    autoencoder_lr: float = 1e-3
    equilibrium: float = 0.0
    equilibrium_margin: float = 0.35
    pixel_weight: float = 0.0
    gan_fakes: Literal["both", "prior", "recon"] = "prior"
    vae_warmup_steps: int = 0
    disc_spectral_norm: bool = False
    ema_decay: float = 0.0
    prior: Literal["normal"] = "normal"  # the GAN term draws N(0, I)

    def __post_init__(self) -> None:
        super().__post_init__()
        check_range("pixel_weight", self.pixel_weight, 0)
        check_range("vae_warmup_steps", self.vae_warmup_steps, 0)
        if not 0 <= self.ema_decay < 1:
            raise ValueError(f"ema_decay must be in [0, 1), got {self.ema_decay}")
        if self.gan_fakes not in ("both", "prior", "recon"):
            raise ValueError(f"gan_fakes must be 'both', 'prior' or 'recon', got {self.gan_fakes!r}")
        check_range("equilibrium", self.equilibrium, 0)
        check_range("equilibrium_margin", self.equilibrium_margin, 0)
        check_sizes("disc_widths", self.disc_widths, non_empty=True)
        check_range("adversarial_lr", self.adversarial_lr, 0, low_open=True)
        check_range("autoencoder_lr", self.autoencoder_lr, 0, low_open=True)
        if not 1 <= self.feature_layer <= len(self.disc_widths):
            raise ValueError(f"feature_layer must be between 1 and {len(self.disc_widths)} "
                             f"(the discriminator's levels), got {self.feature_layer}")
        if self.gamma < 0:
            raise ValueError(f"gamma must be non-negative, got {self.gamma}")
        if self.prior != "normal" or self.top_latent_dim:
            raise ValueError("vaegan takes prior='normal' and one stochastic layer only (its GAN term draws the "
                             "prior N(0, I))")


class FeatureDiscriminator(nn.Module):
    """A DCGAN discriminator that also returns the activations of one level.

    Args:
        in_shape: (C, H, W) of the images.
        widths: channels per stride-2 level.
        feature_layer: level whose output :meth:`forward` returns beside the logit.
    """

    def __init__(self, in_shape, widths, feature_layer: int, spectral: bool = False):
        super().__init__()
        self.body = DCGANDiscriminator(in_shape, widths, norm="none")
        self.head = nn.Linear(self.body.out_features, 1)
        if spectral:
            apply_spectral_norm(self)
        self.cut = 3 * feature_layer  # each level is (conv, norm, LeakyReLU)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Images in [0, 1] (B, C, H, W) -> (logits (B,), layer features (B, F))."""
        h = x * 2 - 1
        layers = list(self.body.net)
        for layer in layers[: self.cut]:
            h = layer(h)
        features = h.flatten(1)
        for layer in layers[self.cut:]:
            h = layer(h)
        return self.head(h.flatten(1)).squeeze(1).float(), features.float()


@register("vaegan", VAEGANConfig, "VAE-GAN: VAE with a discriminator-feature reconstruction loss and a GAN loss")
class VAEGAN(VAE):
    """Encoder and decoder of a :class:`VAE` plus a :class:`FeatureDiscriminator`."""

    watch_modes = True

    config: VAEGANConfig
    d_bce: Tensor  # buffer (registered in __init__)

    def __init__(self, config: VAEGANConfig):
        super().__init__(config)
        self.discriminator = FeatureDiscriminator(config.data_shape, config.disc_widths, config.feature_layer,
                                                  config.disc_spectral_norm)
        self.ema_decoder = copy.deepcopy(self.decoder).requires_grad_(False) if config.ema_decay > 0 else None
        # the discriminator's last cross-entropies on real and on fake images (the equilibrium rule);
        # training state, carried by checkpoints as a non-persistent buffer
        self.register_buffer("d_bce", torch.full((2,), math.log(2.0)), persistent=False)

    def after_step(self, phase: str) -> None:
        super().after_step(phase)
        if phase == "decoder" and self.ema_decoder is not None:
            ema_update_(self.ema_decoder, self.decoder, ema_decay_at(self.config.ema_decay, self.counted("updates")))

    @torch.no_grad()
    def sample(self, n: int, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Decode n draws from the prior N(0, I), with the EMA decoder when one is kept."""
        return self.sample_from_noise(torch.randn(n, self.config.latent_dim, device=self.device), labels)

    def sample_from_noise(self, noise: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """The prior draw is the noise: decode it (with the EMA decoder when one is kept)."""
        if self.ema_decoder is None:
            return self.decode(noise, labels)
        return torch.sigmoid(self.ema_decoder(self.decoder_input(noise, labels)).float())

    def _in_warmup(self) -> bool:
        """True while the VAE part trains alone (``vae_warmup_steps``)."""
        return self.counted("updates") < self.config.vae_warmup_steps

    def _pixel_nll(self, x: torch.Tensor, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(decoded images in [0, 1], the pixel reconstruction NLL per image (B,)) from codes z."""
        out = self.decoder_output(z)
        return torch.sigmoid(out), self.reconstruction_nll(out, x)

    def _equilibrium(self) -> tuple[bool, bool]:
        """(train the discriminator, give the decoder its GAN term) under the equilibrium rule."""
        eq, margin = self.config.equilibrium, self.config.equilibrium_margin
        if eq <= 0:
            return True, True
        real, fake = float(self.d_bce[0]), float(self.d_bce[1])
        return not (real < eq - margin or fake < eq - margin), not (real > eq + margin or fake > eq + margin)

    def phases(self) -> list[Phase]:
        opt = OptimizerConfig("adam", self.config.adversarial_lr, (0.5, 0.999))
        ae = OptimizerConfig("adam", self.config.autoencoder_lr, (0.5, 0.999))
        return [Phase("discriminator", ("discriminator",), optimizer=opt),
                Phase("encoder", ("encoder",), optimizer=ae, fresh_batch=False),
                Phase("decoder", ("decoder",), optimizer=ae, fresh_batch=False)]

    def feature_nll(self, real_features: torch.Tensor, rec_features: torch.Tensor) -> torch.Tensor:
        """L_llike per image: 1/2 ||Dis_l(x) - Dis_l(x~)||^2, (B, F) x2 -> (B,)."""
        return 0.5 * (real_features - rec_features).pow(2).sum(1)

    def losses(self, batch: Batch, phase: str = "decoder") -> Losses:
        cfg = self.config
        x = batch.x
        n = x.shape[0]
        z_prior = torch.randn(n, cfg.latent_dim, device=x.device)
        use_rec, use_prior = cfg.gan_fakes != "prior", cfg.gan_fakes != "recon"
        warmup = self._in_warmup()
        if phase == "discriminator":
            if warmup:  # the VAE part trains alone: no forward pass, a zero loss (Adam's state stays zero)
                zero = self.discriminator.head.bias.sum() * 0.0
                return {"loss": zero, "d_trained": torch.tensor(0.0)}
            logits_real, _ = self.discriminator(x)
            ones = torch.ones_like(logits_real)
            bce_real = F.binary_cross_entropy_with_logits(logits_real, ones)
            fakes: dict[str, torch.Tensor] = {}
            with torch.no_grad():  # 1. fakes: reconstructions and/or prior samples; no gradient to Enc/Dec
                if use_rec:
                    fakes["d_rec"] = self.decode(self.reparameterize(*self.encode_distribution(x)))
                if use_prior:
                    fakes["d_prior"] = self.decode(z_prior)
            logits = {k: self.discriminator(v)[0] for k, v in fakes.items()}
            bce_fake = torch.stack([F.binary_cross_entropy_with_logits(v, 0 * ones) for v in logits.values()]).mean()
            loss = bce_real + 2 * bce_fake
            train_d, _ = self._equilibrium()
            if not train_d:  # the update's gradient is zeroed (Adam's momentum still moves the weights a little)
                loss = loss * 0.0
            if self.training:
                self.d_bce.copy_(torch.stack([bce_real.detach(), bce_fake.detach()]).float())
            return {"loss": loss, "d_trained": torch.tensor(float(train_d)),
                    "d_real": torch.sigmoid(logits_real).mean().detach(),
                    **{k: torch.sigmoid(v).mean().detach() for k, v in logits.items()}}
        if phase == "encoder":  # 2. L_prior + L_llike (+ pixel NLL), through a fixed decoder and discriminator
            mu, logvar = self.encode_distribution(x)
            rec, pixel = self._pixel_nll(x, self.reparameterize(mu, logvar))
            _, real_features = self.discriminator(x)
            _, rec_features = self.discriminator(rec)
            kl = gaussian_kl(mu, logvar)
            llike = self.feature_nll(real_features.detach(), rec_features)
            loss = llike.mean() + self.kl_objective(mu, logvar)
            if cfg.pixel_weight > 0:
                loss = loss + cfg.pixel_weight * pixel.mean()
            return {"loss": loss, "kl": kl.mean().detach(), "feature_nll": llike.mean().detach(),
                    "pixel_nll": pixel.mean().detach()}
        # 3. decoder: gamma * L_llike (+ pixel NLL) + non-saturating GAN loss on reconstructions and/or
        # prior samples; codes are computed without gradient, so the GAN loss cannot reach the encoder
        with torch.no_grad():
            z = self.reparameterize(*self.encode_distribution(x))
            _, real_features = self.discriminator(x)
        rec, pixel = self._pixel_nll(x, z)
        logits_rec, rec_features = self.discriminator(rec)
        gan = torch.zeros((), device=x.device)
        if not warmup and self._equilibrium()[1]:
            if use_rec:
                gan = gan + F.binary_cross_entropy_with_logits(logits_rec, torch.ones_like(logits_rec))
            if use_prior:
                logits_fake, _ = self.discriminator(self.decode(z_prior))
                gan = gan + F.binary_cross_entropy_with_logits(logits_fake, torch.ones_like(logits_fake))
        llike = self.feature_nll(real_features, rec_features).mean()
        loss = cfg.gamma * llike + gan
        if cfg.pixel_weight > 0:
            loss = loss + cfg.pixel_weight * pixel.mean()
        return {"loss": loss, "gan": gan.detach(), "feature_nll": llike.detach(),
                "pixel_nll": pixel.mean().detach(), "pixel_mse": (rec - x).pow(2).mean().detach()}

    @torch.no_grad()
    def evaluate(self, batch: Batch) -> dict[str, float]:
        """Validation: the VAE's negative ELBO (pixel Bernoulli/Gaussian likelihood) and the decoder's losses."""
        rec_nll, kl = self.elbo_terms(batch.x)
        out = {f"decoder/{k}": float(v) for k, v in self.losses(batch, "decoder").items()}
        return {"nelbo": float((rec_nll + kl).mean()), "kl": float(kl.mean()), **out}
