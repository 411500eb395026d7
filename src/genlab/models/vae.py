"""Variational autoencoder (Kingma & Welling 2014), with the beta weight of beta-VAE.

    encoder(x) -> (mu, log sigma^2)         q(z|x) = N(mu, sigma^2 I)
    z = mu + sigma * eps, eps ~ N(0, I)      the reparameterization trick
    decoder(z) -> p(x|z)                     Bernoulli (logits) or Gaussian (mean, fixed std)
    loss = E_q[-log p(x|z)] + beta * KL(q(z|x) || N(0, I))

All losses are per image, summed over pixels and latent dimensions, in nats. With beta = 1 the
loss is the negative ELBO, an upper bound on -log p(x); :meth:`VAE.log_likelihood` tightens it by
importance sampling (the IWAE bound, Burda et al. 2016).

Two relatives differ only in what they inject:
- ``cvae`` (conditional VAE, Sohn et al. 2015): the label enters the encoder (as extra input
  planes or features) and the decoder (concatenated to z): q(z|x, y), p(x|z, y).
- ``iwae`` (Burda et al. 2016): the same networks trained on the k-sample importance-weighted
  bound log (1/k) sum_i p(x, z_i) / q(z_i|x) instead of the ELBO.

``prior='vamp'`` (``vae`` and ``iwae``) replaces N(0, I) by the VampPrior (Tomczak & Welling 2018):
p(z) = 1/K sum_k q(z|u_k), the encoder's posteriors at K learned pseudo-inputs u_k. The KL term
then has no closed form and is estimated with the posterior draw: log q(z|x) - log p(z).

``top_latent_dim > 0`` (``vae`` and ``iwae``) adds a second stochastic layer z2 above the code z1
(Burda et al. 2016's two-layer model; MLPs between the layers): q(z1|x) q(z2|z1) for inference,
p(z2) = N(0, I), p(z1|z2), p(x|z1) for generation; the KL term becomes the one-draw estimate
log q(z1|x) + log q(z2|z1) - log p(z1|z2) - log p(z2).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F

from genlab.config import check_range, check_sizes
from genlab.models.base import Batch, LikelihoodModel, Losses, default_labels
from genlab.models.parts import Activation, build_encoder_decoder, check_networks
from genlab.registry import register

LOG_2PI = math.log(2 * math.pi)


@dataclass
class VAEConfig:
    """Configuration of :class:`VAE`.

    Attributes:
        data_shape: (C, H, W) of the images; filled from the dataset at training time.
        latent_dim: size of z.
        architecture: 'conv' (strided convolutions / transposed convolutions) or 'mlp'.
        mlp_hidden: hidden layer sizes of the MLP encoder (the decoder mirrors them).
        conv_widths: channels per stride-2 level of the conv encoder (mirrored by the decoder).
        conv_hidden: a fully connected layer between the conv features and the code (0 = none).
        extra_convs: stride-1 3x3 convolutions per level (capacity at the same resolution).
        activation: activation between layers.
        likelihood: 'bernoulli' (binary cross-entropy on logits; for binarized or [0,1] data) or
            'gaussian' (squared error scaled by a fixed std, with its normalizing constant).
        gaussian_std: the decoder's fixed standard deviation for the Gaussian likelihood.
        beta: weight of the KL term (1 = the ELBO; > 1 = beta-VAE).
        kl_warmup_steps: KL warm-up (Sønderby et al. 2016): the KL weight grows linearly from 0 to
            beta over this many training steps (0 = off).
        free_bits: free bits (Kingma et al. 2016, IAF paper, eq. 15): each latent unit's KL,
            averaged over the batch, counts as at least this many nats (0 = off).
        prior: 'normal' (N(0, I)) or 'vamp' (the VampPrior: a mixture of the encoder's posteriors at
            ``vamp_components`` learned pseudo-inputs; Tomczak & Welling 2018).
        vamp_components: K, the VampPrior's pseudo-inputs (each one more encoder pass per update).
        top_latent_dim: size of a second stochastic layer z2 above z (0 = one stochastic layer).
        top_hidden: hidden units of the MLPs q(z2|z1) and p(z1|z2).
    """

    data_shape: tuple[int, int, int] = (1, 28, 28)
    latent_dim: int = 32
    architecture: Literal["conv", "mlp"] = "conv"
    mlp_hidden: tuple[int, ...] = (512, 256)
    conv_widths: tuple[int, ...] = (32, 64)
    conv_hidden: int = 512
    extra_convs: int = 0
    activation: Activation = "elu"
    likelihood: Literal["bernoulli", "gaussian"] = "bernoulli"
    gaussian_std: float = 0.1
    beta: float = 1.0
    kl_warmup_steps: int = 0
    free_bits: float = 0.0
    prior: Literal["normal", "vamp"] = "normal"
    vamp_components: int = 500
    top_latent_dim: int = 0
    top_hidden: int = 256

    def __post_init__(self) -> None:
        check_range("kl_warmup_steps", self.kl_warmup_steps, 0)
        check_range("free_bits", self.free_bits, 0)
        if self.prior not in ("normal", "vamp"):
            raise ValueError(f"prior must be 'normal' or 'vamp', got {self.prior!r}")
        check_sizes("vamp_components", self.vamp_components, maximum=100_000)
        if self.prior == "vamp" and self.free_bits > 0:
            raise ValueError("free_bits floors each latent unit's KL, which the VampPrior's KL does not split into; "
                             "use it with prior='normal'")
        check_range("top_latent_dim", self.top_latent_dim, 0)
        check_sizes("top_hidden", self.top_hidden)
        if self.top_latent_dim and (self.free_bits > 0 or self.prior != "normal"):
            raise ValueError("top_latent_dim (two stochastic layers) takes neither free_bits nor prior='vamp'")
        if self.latent_dim < 1:
            raise ValueError(f"latent_dim must be positive, got {self.latent_dim}")
        check_networks(self)
        if self.beta < 0:
            raise ValueError(f"beta must be non-negative, got {self.beta}")
        if self.gaussian_std <= 0:
            raise ValueError(f"gaussian_std must be positive, got {self.gaussian_std}")


def gaussian_kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, sigma^2) || N(0, 1)) summed over the last dimension, (B, D) -> (B,).

    Kingma & Welling 2014, Appendix B: -KL = 1/2 * sum(1 + log sigma^2 - mu^2 - sigma^2).
    """
    return gaussian_kl_per_unit(mu, logvar).sum(-1)


def gaussian_kl_per_unit(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, sigma^2) || N(0, 1)) of each latent unit, (B, D) -> (B, D)."""
    return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar)


def gaussian_log_prob(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """log N(z; mu, diag(exp(logvar))) summed over the last dimension."""
    return -0.5 * (LOG_2PI + logvar + (z - mu).pow(2) / logvar.exp()).sum(-1)


def mixture_log_prob(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """log (1/K) sum_k N(z; mu_k, diag(exp(logvar_k))): z (..., D), mu and logvar (K, D) -> (...).

    The squared distances to all K components come from two matrix products, so the memory is
    N x K, not N x K x D.
    """
    # in float32 even under autocast: the expanded square cancels, which bf16 products would ruin
    with torch.autocast(z.device.type, enabled=False):
        flat, mu, logvar = z.reshape(-1, z.shape[-1]).float(), mu.float(), logvar.float()  # (N, D), (K, D) x2
        inv = (-logvar).exp()  # (K, D)
        sq = flat.pow(2) @ inv.T - 2 * flat @ (mu * inv).T + (mu.pow(2) * inv).sum(-1)  # (N, K)
        log_n = -0.5 * (z.shape[-1] * LOG_2PI + logvar.sum(-1) + sq)
    return (torch.logsumexp(log_n, dim=-1) - math.log(mu.shape[0])).reshape(z.shape[:-1])


@register("vae", VAEConfig, "variational autoencoder: reparameterization, ELBO = reconstruction + beta * KL")
class VAE(LikelihoodModel):
    """Encoder -> (mu, log sigma^2) -> z -> decoder; see the module docstring.

    Every method takes optional ``labels``; the plain VAE ignores them and :class:`CVAE` feeds
    them to both networks, so the two share all of the code below.
    """

    config: VAEConfig
    export_parts = ("sample", "encoder", "decoder")  # the encoder gives the posterior mean
    updates: torch.Tensor  # buffer (registered in __init__)

    def __init__(self, config: VAEConfig):
        super().__init__(config)
        k = self.label_features
        self.encoder, self.decoder = build_encoder_decoder(config, 2 * config.latent_dim, config.latent_dim + k, k)
        if config.prior == "vamp":  # pseudo-inputs, as logits of images in [0, 1], near 0.5 at the start
            self.pseudo_inputs = torch.nn.Parameter(0.01 * torch.randn(config.vamp_components, *config.data_shape))
        if config.top_latent_dim:  # q(z2|z1) and p(z1|z2), each (mean, log-variance)
            d1, d2, h = config.latent_dim, config.top_latent_dim, config.top_hidden
            self.top_encoder = torch.nn.Sequential(torch.nn.Linear(d1, h), torch.nn.ELU(), torch.nn.Linear(h, 2 * d2))
            self.top_decoder = torch.nn.Sequential(torch.nn.Linear(d2, h), torch.nn.ELU(), torch.nn.Linear(h, 2 * d1))
        # encoder updates so far, for the KL warm-up: training state (non-persistent, so saved models keep
        # their format; checkpoints carry it)
        self.register_counter("updates", persistent=False)

    def after_step(self, phase: str) -> None:
        if phase in ("model", "encoder"):
            self.count("updates")

    # --- the prior -------------------------------------------------------------------------------
    def prior_components(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The VampPrior's components: q(z|u_k) at the pseudo-inputs, mean and log-variance (K, D) each."""
        return self.encode_distribution(torch.sigmoid(self.pseudo_inputs))

    def log_prior(self, z: torch.Tensor) -> torch.Tensor:
        """log p(z) summed over the code, (..., D) -> (...)."""
        if self.config.prior == "vamp":
            return mixture_log_prob(z, *self.prior_components())
        return gaussian_log_prob(z, torch.zeros_like(z), torch.zeros_like(z))

    @staticmethod
    def _gaussian(out: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logvar = out.float().chunk(2, dim=-1)
        return mu, logvar.clamp(-30.0, 20.0)

    def latent_log_ratio(self, z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
        """log p(z...) - log q(z...|x) of the posterior draw z (..., D) of q(z|x) = N(mu, exp(logvar)),
        summed over the code, (...). With a second stochastic layer, z2 ~ q(z2|z) is drawn here:
        log p(z2) + log p(z|z2) - log q(z|x) - log q(z2|z)."""
        log_q = gaussian_log_prob(z, mu, logvar)
        if not self.config.top_latent_dim:
            return self.log_prior(z) - log_q
        mu2, logvar2 = self._gaussian(self.top_encoder(z))
        z2 = self.reparameterize(mu2, logvar2)
        log_pz2 = gaussian_log_prob(z2, torch.zeros_like(z2), torch.zeros_like(z2))
        return log_pz2 + gaussian_log_prob(z, *self._gaussian(self.top_decoder(z2))) - log_q \
            - gaussian_log_prob(z2, mu2, logvar2)

    def kl(self, mu: torch.Tensor, logvar: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """KL(q(z|x) || p(z)) per image, (B,): closed form for N(0, I); for the VampPrior and two
        stochastic layers the one-draw estimate -:meth:`latent_log_ratio` at the posterior draw z."""
        if self.config.prior == "vamp" or self.config.top_latent_dim:
            return -self.latent_log_ratio(z, mu, logvar)
        return gaussian_kl(mu, logvar)

    def kl_objective(self, mu: torch.Tensor, logvar: torch.Tensor, z: torch.Tensor | None = None,
                     kl: torch.Tensor | None = None) -> torch.Tensor:
        """The KL term as trained, a scalar: beta (warmed up) times the KL, with free bits if set.

        Without warm-up or free bits this is beta * mean over images of KL(q(z|x) || N(0, I)); with
        the VampPrior or two stochastic layers, of the estimate :meth:`kl` at the posterior draw z
        (required then; ``kl``, that estimate per image, when it was already drawn).
        """
        cfg = self.config
        if cfg.prior == "vamp" or cfg.top_latent_dim:
            if kl is None:
                if z is None:
                    raise ValueError("this prior's KL is estimated at the posterior draw: pass z")
                kl = self.kl(mu, logvar, z)
            kl = kl.mean()
        elif cfg.free_bits > 0:  # max(lambda, E_batch KL_j), summed over units
            per_unit = gaussian_kl_per_unit(mu, logvar)  # (B, D)
            kl = per_unit.mean(0).clamp_min(cfg.free_bits).sum()
        else:
            kl = gaussian_kl(mu, logvar).mean()
        weight = cfg.beta
        if cfg.kl_warmup_steps > 0:
            weight *= min(1.0, float(self.counted("updates")) / cfg.kl_warmup_steps)
        return weight * kl

    # --- conditioning (none for the plain VAE) ---------------------------------------------------
    @property
    def label_features(self) -> int:
        """Size of the label input of encoder and decoder (0 = unconditional)."""
        return 0

    def encoder_input(self, x: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        return x

    def decoder_input(self, z: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        return z

    # --- the model -----------------------------------------------------------------------------
    def encode_distribution(self, x: torch.Tensor,
                            labels: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """q(z|x): mean and log-variance, each (B, D), in float32."""
        mu, logvar = self.encoder(self.encoder_input(x, labels)).float().chunk(2, dim=-1)
        return mu, logvar.clamp(-30.0, 20.0)

    @staticmethod
    def reparameterize(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
        """z = mu + sigma * eps with eps ~ N(0, I): a sample that gradients flow through."""
        return mu + (0.5 * logvar).exp() * torch.randn_like(mu)

    def decoder_output(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Bernoulli logits or Gaussian pre-sigmoid means, (B, C, H, W) float32."""
        return self.decoder(self.decoder_input(z, labels)).float()

    def reconstruction_nll(self, out: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """-log p(x|z) per image, summed over pixels: (B, C, H, W) x2 -> (B,)."""
        if self.config.likelihood == "bernoulli":
            return F.binary_cross_entropy_with_logits(out, x, reduction="none").flatten(1).sum(-1)
        std = self.config.gaussian_std
        sq = (x - torch.sigmoid(out)).pow(2).flatten(1).sum(-1)
        return 0.5 * sq / std**2 + x[0].numel() * (math.log(std) + 0.5 * LOG_2PI)

    def elbo_terms(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """One-sample reconstruction NLL and analytic KL per image, each (B,)."""
        mu, logvar = self.encode_distribution(x, labels)  # (B, D) each
        z = self.reparameterize(mu, logvar)
        rec = self.reconstruction_nll(self.decoder_output(z, labels), x)  # (B,)
        return rec, self.kl(mu, logvar, z)

    def losses(self, batch: Batch, phase: str = "model") -> Losses:
        mu, logvar = self.encode_distribution(batch.x, batch.y)  # (B, D) each
        z = self.reparameterize(mu, logvar)
        rec = self.reconstruction_nll(self.decoder_output(z, batch.y), batch.x)  # (B,)
        kl = self.kl(mu, logvar, z)
        return {
            "loss": rec.mean() + self.kl_objective(mu, logvar, z, kl),
            "nelbo": (rec + kl).mean().detach(),
            "rec": rec.mean().detach(),
            "kl": kl.mean().detach(),
        }

    # --- the LatentModel interface ------------------------------------------------------------
    def encode(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """The posterior mean of z, (B, D)."""
        return self.encode_distribution(x, labels)[0]

    def decode(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Mean image of p(x|z) in [0, 1], (B, C, H, W)."""
        return torch.sigmoid(self.decoder_output(z, labels))

    @torch.no_grad()
    def sample(self, n: int, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Decode n draws from the prior (N(0, I), or the VampPrior through :meth:`prior_draw`)."""
        return self.sample_from_noise(torch.randn(n, *self.noise_shape(), device=self.device), labels)

    def noise_shape(self) -> tuple[int, ...]:
        """(latent_dim,); the VampPrior takes one more coordinate, which picks the component; two
        stochastic layers take top_latent_dim more (z2's)."""
        return (self.config.latent_dim + (self.config.prior == "vamp") + self.config.top_latent_dim,)

    def prior_draw(self, noise: torch.Tensor) -> torch.Tensor:
        """Standard normal noise (N, *noise_shape()) -> a draw from the prior (N, D).

        N(0, I): the noise itself. VampPrior: the last coordinate u picks component
        k = floor(Phi(u) K) (uniform over the K components), the rest is the reparameterization's
        eps: z = mu_k + sigma_k eps. Two stochastic layers: the first top_latent_dim coordinates are
        z2, the rest the eps of z ~ p(z|z2).
        """
        if self.config.top_latent_dim:
            d2 = self.config.top_latent_dim
            mu1, logvar1 = self._gaussian(self.top_decoder(noise[:, :d2]))
            return mu1 + (0.5 * logvar1).exp() * noise[:, d2:]
        if self.config.prior != "vamp":
            return noise
        mu, logvar = self.prior_components()
        k = mu.shape[0]
        u = 0.5 * (1 + torch.erf(noise[:, -1] / math.sqrt(2)))
        index = (u * k).long().clamp(0, k - 1)
        return mu[index] + (0.5 * logvar[index]).exp() * noise[:, :-1]

    def sample_from_noise(self, noise: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Decode the prior draw the noise stands for (:meth:`prior_draw`)."""
        return self.decode(self.prior_draw(noise), labels)

    # --- likelihood -----------------------------------------------------------------------------
    def log_weights(self, x: torch.Tensor, k: int, labels: torch.Tensor | None = None,
                    posterior: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
        """Importance log-weights log p(x, z_i) - log q(z_i|x) for k draws z_i ~ q(z|x): (k, B).

        Differentiable (reparameterized draws), so :class:`IWAE` trains on it directly.
        """
        mu, logvar = posterior if posterior is not None else self.encode_distribution(x, labels)  # (B, D)
        z = mu + (0.5 * logvar).exp() * torch.randn(k, *mu.shape, device=mu.device)  # (k, B, D)
        rep = None if labels is None else labels.repeat(k)
        out = self.decoder_output(z.flatten(0, 1), rep)  # (k*B, C, H, W)
        log_px = -self.reconstruction_nll(out, x.repeat(k, *([1] * (x.dim() - 1)))).view(k, -1)  # (k, B)
        return log_px + self.latent_log_ratio(z, mu, logvar)

    @torch.no_grad()
    def log_likelihood(self, x: torch.Tensor, k: int = 1000, chunk: int = 250,
                       labels: torch.Tensor | None = None) -> torch.Tensor:
        """Importance-sampled estimate of log p(x) per image, (B,), in nats.

        log p(x) ~= logsumexp_i [log p(x|z_i) + log p(z_i) - log q(z_i|x)] - log k, z_i ~ q(z|x).
        A lower bound for every k (the IWAE bound) that tightens to log p(x) as k grows.
        """
        posterior = self.encode_distribution(x, labels)
        weights = [self.log_weights(x, min(chunk, k - start), labels, posterior) for start in range(0, k, chunk)]
        return torch.logsumexp(torch.cat(weights), dim=0) - math.log(k)


@dataclass
class CVAEConfig(VAEConfig):
    """Configuration of :class:`CVAE`: a :class:`VAEConfig` plus the number of classes.

    The default code is smaller than the VAE's (8 instead of 32): with fewer latent units the
    decoder has to take the digit's identity from the label rather than from z, so samples follow
    the requested label (MNIST, 5 epochs: classifier accuracy on samples against the requested
    labels 95.7% with 8 units, 89.0% with 16, 83.4% with 32; see docs/benchmarks.md).

    Attributes:
        num_classes: number of labels; filled from the dataset at training time.
    """

    latent_dim: int = 8
    num_classes: int = 10
    prior: Literal["normal"] = "normal"  # the VampPrior's pseudo-inputs would carry no labels

    def __post_init__(self) -> None:
        super().__post_init__()
        check_sizes("num_classes", self.num_classes)
        if self.prior != "normal" or self.top_latent_dim:
            raise ValueError("cvae takes prior='normal' and one stochastic layer only (the VampPrior's pseudo-inputs "
                             "and the top layer carry no labels)")


@register("cvae", CVAEConfig, "conditional VAE: encoder and decoder see the class label; sample any class")
class CVAE(VAE):
    """q(z|x, y) and p(x|z, y): a one-hot label joins the encoder input and the decoder input."""

    config: CVAEConfig
    requires_labels = True

    @property
    def label_features(self) -> int:
        return self.config.num_classes

    def _one_hot(self, labels: torch.Tensor | None, n: int, device: torch.device) -> torch.Tensor:
        if labels is None:
            raise ValueError("a conditional VAE needs labels")
        return F.one_hot(labels.long(), self.config.num_classes).float().to(device)  # (B, K)

    def encoder_input(self, x: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        y = self._one_hot(labels, x.shape[0], x.device)
        if self.config.architecture == "mlp":
            return torch.cat([x.flatten(1), y], dim=1)  # (B, CHW + K)
        return torch.cat([x, y[:, :, None, None].expand(-1, -1, *x.shape[-2:])], dim=1)  # (B, C + K, H, W)

    def decoder_input(self, z: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        return torch.cat([z, self._one_hot(labels, z.shape[0], z.device)], dim=1)  # (B, D + K)

    @torch.no_grad()
    def sample(self, n: int, labels: torch.Tensor | None = None) -> torch.Tensor:
        """n samples of the given labels (default: classes 0, 1, ... in turn)."""
        if labels is None:
            labels = default_labels(n, self.num_classes, self.device)
        return super().sample(n, labels.to(self.device))


@dataclass
class IWAEConfig(VAEConfig):
    """Configuration of :class:`IWAE`: a :class:`VAEConfig` plus the number of importance samples.

    Attributes:
        importance_samples: k, the samples per image in the training bound (k = 1 is the VAE).
    """

    importance_samples: int = 5

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.importance_samples < 1:
            raise ValueError(f"importance_samples must be at least 1, got {self.importance_samples}")
        if self.kl_warmup_steps > 0 or self.free_bits > 0:
            raise ValueError("kl_warmup_steps and free_bits shape the ELBO's KL term; the IWAE bound has no "
                             "separate KL term")
        check_sizes("importance_samples", self.importance_samples, maximum=10_000)


@register("iwae", IWAEConfig, "importance-weighted autoencoder: a VAE trained on the k-sample IWAE bound")
class IWAE(VAE):
    """Trained on L_k = E[log (1/k) sum_i w_i], w_i = p(x, z_i) / q(z_i|x) (Burda et al. 2016, eq. 8)."""

    config: IWAEConfig

    def losses(self, batch: Batch, phase: str = "model") -> Losses:
        k = self.config.importance_samples
        log_w = self.log_weights(batch.x, k, batch.y)  # (k, B)
        bound = torch.logsumexp(log_w, dim=0) - math.log(k)  # (B,)
        # the single-sample ELBO of the first draw, for comparison with the VAE
        return {"loss": -bound.mean(), "iwae_nll_bound": -bound.mean().detach(), "nelbo": -log_w[0].mean().detach()}
