"""Clip models: a VAE and a MoCoGAN-style GAN for clips (B, T, C, H, W) in [0, 1].

``ClipModel`` declares ``data_kinds = ('clips',)``: image and sequence data are refused before a
clip model is built, and clip data before an image model is (``check_data_kind``). ``sample``
returns clips (N, T, C, H, W) in [0, 1].

video-vae has two designs (``latent``). ``per-frame`` (the default; SVG-LP / DSVAE-style,
Denton & Fergus 2018, Li & Mandt 2018): a shared 2-D conv frame encoder and decoder, one Gaussian
latent z_t per frame with the posterior q(z_t | x_t, h_{t-1}) and a learned prior
p(z_t | h_{t-1}), where h_t = GRUCell(z_t, h_{t-1}) summarizes z_<t, optionally a per-clip static
code s (q(s | the frames' mean feature), prior N(0, I)) that starts h and joins every z_t at the
decoder. The loss is the Bernoulli likelihood of every frame given [z_t, s] plus the KL of every
frame's posterior to its prior (and of s). Samples run the prior; ``predict_frames(clips, k)``
reads the posterior means for t < k and the prior means after. ``per-clip`` (the first design,
what runs saved before format 4 load as): a per-frame conv encoder, a GRU over the frame features,
one latent per clip; the decoder's GRU reads z at every step and the frame decoder maps its state to
Bernoulli logits.

A fraction ``prefix_prob`` of the training clips is encoded from only its first k frames (k uniform
in 1..T-1) while the whole clip is reconstructed (per-clip: the clip latent; per-frame: the static
code), so a prefix's code predicts the rest.

video-gan (Tulyakov et al. 2018, MoCoGAN): a content code z_C ~ N(0, I) per clip, a motion code
z_M(t) = GRUCell(eps_t, z_M(t-1)) per frame (eps_t ~ N(0, I)) from a random initial state z_M(0)
~ N(0, I) (``motion_init``); the frame generator (DCGAN's: batch norm, tanh) maps [z_C, z_M(t)] to
frame t. An image discriminator (DCGAN's, batch norm) judges a separate batch of ``image_batch``
single frames, as MoCoGAN's image batch: real frames drawn from the batch's clips and fake frames
each generated from a fresh clip's codes at a random t (only those frames are generated), and a
video discriminator (3-D convolutions) judges whole clips; both use a loss pair of
``models.adversarial.LOSS_PAIRS``. These defaults date from format 5; before it the image
discriminator judged one frame of each generated clip without normalization, the GRU started at 0,
the output was linear and the learning rate 2e-4, which drew grainy flickering blobs (the frame
generator ignored the content code; see docs/benchmarks.md, issue 18): runs saved before keep
their settings (``formats``). Options to probe the motion code and the video discriminator (session 9;
neutral by default): ``motion_step`` (a bounded-step motion code), ``motion_norm`` (a layer-normalized
one), ``video_noise`` (instance noise on the video discriminator's input) and ``video_lr`` (the video
discriminator in a phase of its own at its own learning rate).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import torch
import torch.nn.functional as F
from torch import nn

from genlab.config import OptimizerConfig, check_betas, check_range, check_sizes
from genlab.models.adversarial import LOSS_PAIRS
from genlab.models.base import Batch, GenerativeModel, Losses, Phase
from genlab.nn import ConvDecoder, ConvEncoder
from genlab.nn.gan_blocks import DCGANDiscriminator, DCGANGenerator, init_normal_
from genlab.nn.video import VideoDiscriminator, frames, unframes
from genlab.registry import register


def check_clip_shape(shape: tuple[int, ...]) -> None:
    """(T, C, H, W) with T >= 2, C in (1, 3), square frames of at least 8 px (ValueError otherwise)."""
    if len(shape) != 4:
        raise ValueError(f"data_shape must be (T, C, H, W) clips, got {tuple(shape)}")
    t, c, h, w = shape
    if t < 2 or c not in (1, 3) or h != w or h < 8:
        raise ValueError(f"clip models need T >= 2 frames of 1 or 3 channels, square and at least 8 px; "
                         f"got {t}x{c}x{h}x{w}")


class ClipModel(GenerativeModel):
    """Base of the models of clips: the data kind, and the frame-prediction declaration."""

    data_kinds = ("clips",)
    export_refusals = dict.fromkeys(
        ("sample", "encoder", "decoder", "denoiser", "score", "translate", "upscale"),
        "genlab's export parts take and give single images, not clips (B, T, C, H, W); clip models are not "
        "exported yet (use `genlab sample` / `genlab predict`)")

    def sample_grid(self, n: int, **options: Any) -> tuple[torch.Tensor, int | None]:
        """A few clips (at most 8, about n frames in all) as frames, one clip per grid row."""
        t = self.clip_shape[0]
        clips = self.sample(max(1, min(8, n // t)), **options)
        return clips.flatten(0, 1), t

    @property
    def clip_shape(self) -> tuple[int, int, int, int]:
        t, c, h, w = self.config.data_shape
        return int(t), int(c), int(h), int(w)


# ------------------------------------------------------------------------------ video-vae

def gaussian_kl_between(mu_q: torch.Tensor, logvar_q: torch.Tensor, mu_p: torch.Tensor,
                        logvar_p: torch.Tensor) -> torch.Tensor:
    """KL(N(mu_q, e^logvar_q) || N(mu_p, e^logvar_p)) of diagonal Gaussians, summed over the last dim:
    0.5 * sum(logvar_p - logvar_q + (e^logvar_q + (mu_q - mu_p)^2) / e^logvar_p - 1)."""
    return 0.5 * (logvar_p - logvar_q + (logvar_q.exp() + (mu_q - mu_p).pow(2)) / logvar_p.exp() - 1).sum(-1)


@dataclass
class VideoVAEConfig:
    """Configuration of :class:`VideoVAE` (``video-vae``).

    Attributes:
        data_shape: (T, C, H, W) of the clips; filled from the dataset at training time.
        latent: 'per-frame': a latent per frame with a learned prior over time (GRU); 'per-clip': one
            latent per clip (the first design; it decodes the mean clip at short budgets).
        latent_dim: size of the latent per frame (per-frame) or per clip (per-clip).
        static_dim: size of a per-clip static code beside the frame latents (0 = none); per-frame only (a
            per-clip latent is static already and has no separate code).
        frame_features: size of the per-frame code of the frame encoder.
        conv_widths: channels of the stride-2 levels of the frame encoder (mirrored by the decoder).
        hidden_size: units of the GRUs (per-frame: the prior's state h_t).
        beta: weight of the KL term.
        prefix_prob: share of training clips whose clip code (per-clip: the latent; per-frame: the
            static code) is encoded from a random prefix only (frame prediction).
        kl_warmup_steps: KL warm-up: the KL weight grows linearly from 0 to beta over this many
            steps (0 = off).
    """

    data_shape: tuple[int, ...] = (8, 1, 32, 32)
    latent: Literal["per-frame", "per-clip"] = "per-frame"
    latent_dim: int = 32
    static_dim: int = 16
    frame_features: int = 128
    conv_widths: tuple[int, ...] = (32, 64)
    hidden_size: int = 128
    beta: float = 1.0
    prefix_prob: float = 0.5
    kl_warmup_steps: int = 0

    def __post_init__(self) -> None:
        check_clip_shape(tuple(self.data_shape))
        check_range("kl_warmup_steps", self.kl_warmup_steps, 0)
        check_sizes("latent_dim", self.latent_dim)
        check_sizes("static_dim", self.static_dim, minimum=0)
        check_sizes("frame_features", self.frame_features)
        check_sizes("conv_widths", self.conv_widths)
        check_sizes("hidden_size", self.hidden_size)
        check_range("beta", self.beta, 0, 1e6)
        check_range("prefix_prob", self.prefix_prob, 0, 1)


@register("video-vae", VideoVAEConfig, "clip VAE: per-frame latents with a learned prior over time (or one per "
          "clip); predicts frames")
class VideoVAE(ClipModel):
    """See the module docstring."""

    config: VideoVAEConfig
    updates: torch.Tensor  # buffer: training steps so far, for the KL warm-up (checkpoints carry it)
    predicts_frames = True
    export_parts = ("sample",)  # noise -> a whole clip (B, T, C, H, W)
    export_refusals = {k: v for k, v in ClipModel.export_refusals.items() if k != "sample"}

    def __init__(self, config: VideoVAEConfig):
        super().__init__(config)
        _, c, h, w = self.clip_shape
        cfg = config
        self.frame_encoder = ConvEncoder((c, h, w), cfg.conv_widths, cfg.frame_features)
        if cfg.latent == "per-clip":
            self.encoder = nn.GRU(cfg.frame_features, cfg.hidden_size, batch_first=True)
            self.to_code = nn.Linear(cfg.hidden_size, 2 * cfg.latent_dim)
            self.from_code = nn.Linear(cfg.latent_dim, cfg.hidden_size)
            self.decoder = nn.GRU(cfg.latent_dim, cfg.hidden_size, batch_first=True)
            self.frame_decoder = ConvDecoder(cfg.hidden_size, (c, h, w), cfg.conv_widths)
        else:
            self.posterior_head = nn.Linear(cfg.frame_features + cfg.hidden_size, 2 * cfg.latent_dim)
            self.prior_head = nn.Linear(cfg.hidden_size, 2 * cfg.latent_dim)
            self.prior_cell = nn.GRUCell(cfg.latent_dim, cfg.hidden_size)
            if cfg.static_dim:
                self.static_head = nn.Linear(cfg.frame_features, 2 * cfg.static_dim)
                self.static_to_state = nn.Linear(cfg.static_dim, cfg.hidden_size)
            self.frame_decoder = ConvDecoder(cfg.latent_dim + cfg.static_dim, (c, h, w), cfg.conv_widths)
        self.register_counter("updates", persistent=False)

    @property
    def per_frame(self) -> bool:
        return self.config.latent == "per-frame"

    def after_step(self, phase: str) -> None:
        self.count("updates")

    def _features(self, clips: torch.Tensor) -> torch.Tensor:
        """Frame features (B, T, F)."""
        return unframes(self.frame_encoder(frames(clips.float())), clips.shape[1])

    # ---------------------------------------------------------------- per-clip

    def posterior(self, clips: torch.Tensor, prefix: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-clip: (mu, logvar) (B, D) of q(z | the first ``prefix[i]`` frames of clip i; all frames by default)."""
        b, t = clips.shape[:2]
        feats = self._features(clips)  # (B, T, F)
        with torch.autocast(device_type=clips.device.type, enabled=False):
            out, _ = self.encoder(feats.float())  # (B, T, H)
        last = torch.full((b,), t - 1, device=clips.device) if prefix is None else prefix.to(clips.device) - 1
        h = out[torch.arange(b, device=clips.device), last]
        mu, logvar = self.to_code(h).float().chunk(2, dim=1)
        return mu, logvar.clamp(-12, 8)

    def decoder_logits(self, z: torch.Tensor) -> torch.Tensor:
        """Per-clip: Bernoulli logits (B, T, C, H, W) of the clip decoded from z (B, D)."""
        t = self.clip_shape[0]
        with torch.autocast(device_type=z.device.type, enabled=False):
            state = torch.tanh(self.from_code(z.float()))[None]  # (1, B, H)
            out, _ = self.decoder(z.float()[:, None].expand(-1, t, -1).contiguous(), state)  # (B, T, H)
        return unframes(self.frame_decoder(out.flatten(0, 1)), t).float()  # (B*T, H): no traced batch size

    # ---------------------------------------------------------------- per-frame

    def _static(self, feats: torch.Tensor, prefix: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """(mu, logvar) (B, S) of q(s | the mean feature of the first ``prefix[i]`` frames; all by default)."""
        t = feats.shape[1]
        if prefix is None:
            pooled = feats.mean(1)
        else:
            mask = (torch.arange(t, device=feats.device)[None] < prefix.to(feats.device)[:, None]).float()  # (B, T)
            pooled = (feats * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)
        mu, logvar = self.static_head(pooled).float().chunk(2, dim=1)
        return mu, logvar.clamp(-12, 8)

    def _start_state(self, s: torch.Tensor | None, like: torch.Tensor) -> torch.Tensor:
        """h_0 (B, hidden): from the static code, or zeros."""
        if s is None:
            return like.new_zeros(like.shape[0], self.config.hidden_size)
        return torch.tanh(self.static_to_state(s))

    def _gaussian(self, head: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logvar = head(x).float().chunk(2, dim=-1)
        return mu, logvar.clamp(-12, 8)

    def _frame_logits(self, z: torch.Tensor, s: torch.Tensor | None) -> torch.Tensor:
        """Bernoulli logits (B, T, C, H, W) of frames decoded from z (B, T, D) and the static code s (B, S)."""
        t = z.shape[1]
        if s is not None:
            z = torch.cat([z, s[:, None].expand(-1, t, -1)], 2)
        return unframes(self.frame_decoder(z.flatten(0, 1)), t).float()

    def frame_terms(self, clips: torch.Tensor, prefix: torch.Tensor | None = None,
                    sample: bool = True) -> dict[str, torch.Tensor]:
        """Per-frame: run the posterior through a clip (B, T, C, H, W).

        Returns:
            ``z`` (B, T, D) the posterior draws (means when ``sample`` is False); ``mu_q``, ``logvar_q``,
            ``mu_p``, ``logvar_p`` (B, T, D) the posterior q(z_t | x_t, h_{t-1}) and prior p(z_t | h_{t-1});
            ``kl`` (B, T) the KL of each frame's posterior to its prior; ``s`` (B, S) the static code draw
            and ``kl_static`` (B,) its KL to N(0, I) (zeros without a static code); ``h`` (B, hidden) the
            prior's state after the last frame.
        """
        feats = self._features(clips)  # (B, T, F)
        b, t = feats.shape[:2]
        s = None
        kl_static = feats.new_zeros(b)
        if self.config.static_dim:
            mu_s, logvar_s = self._static(feats, prefix)
            s = mu_s + torch.randn_like(mu_s) * (0.5 * logvar_s).exp() if sample else mu_s
            kl_static = gaussian_kl_between(mu_s, logvar_s, torch.zeros_like(mu_s), torch.zeros_like(logvar_s))
        with torch.autocast(device_type=clips.device.type, enabled=False):
            h = self._start_state(s, feats).float()
            out: dict[str, list[torch.Tensor]] = {k: [] for k in ("z", "mu_q", "logvar_q", "mu_p", "logvar_p")}
            for i in range(t):
                mu_p, logvar_p = self._gaussian(self.prior_head, h)
                mu_q, logvar_q = self._gaussian(self.posterior_head, torch.cat([feats[:, i].float(), h], 1))
                z = mu_q + torch.randn_like(mu_q) * (0.5 * logvar_q).exp() if sample else mu_q
                h = self.prior_cell(z, h)
                for k, v in zip(out, (z, mu_q, logvar_q, mu_p, logvar_p), strict=True):
                    out[k].append(v)
        terms = {k: torch.stack(v, 1) for k, v in out.items()}
        terms["kl"] = gaussian_kl_between(terms["mu_q"], terms["logvar_q"], terms["mu_p"], terms["logvar_p"])
        terms["s"] = s if s is not None else feats.new_zeros(b, 0)
        terms["kl_static"] = kl_static
        terms["h"] = h  # (B, hidden): the prior's state after the last frame
        return terms

    def rollout(self, noise: torch.Tensor, length: int | None = None, s: torch.Tensor | None = None,
                h: torch.Tensor | None = None, z: list[torch.Tensor] | None = None) -> torch.Tensor:
        """Run the prior: z_t = mu_p(h_{t-1}) + sigma_p(h_{t-1}) * eps_t, h_t = GRUCell(z_t, h_{t-1}).

        Args:
            noise: (B, static_dim + steps * latent_dim): the static code's N(0, I) draw first (when there
                is one and ``s`` is None), then eps_1.. (zeros give the prior means).
            length: frames of the clip (the config's T by default).
            s, h, z: a static code, a state and the latents of frames already given (frame prediction).

        Returns:
            Bernoulli logits (B, length, C, H, W).
        """
        cfg = self.config
        length = self.clip_shape[0] if length is None else length
        z = [] if z is None else list(z)
        if cfg.static_dim and s is None:
            s, noise = noise[:, :cfg.static_dim], noise[:, cfg.static_dim:]
        eps = noise.reshape(noise.shape[0], -1, cfg.latent_dim)  # (B, steps, D)
        if h is None:
            h = self._start_state(s, noise)
        for i in range(length - len(z)):
            mu_p, logvar_p = self._gaussian(self.prior_head, h)
            z.append(mu_p + eps[:, i] * (0.5 * logvar_p).exp())
            h = self.prior_cell(z[-1], h)
        return self._frame_logits(torch.stack(z, 1), s)

    # ---------------------------------------------------------------- the contract

    def _kl_weight(self) -> float:
        weight = self.config.beta
        if self.config.kl_warmup_steps > 0:
            weight *= min(1.0, float(self.counted("updates")) / self.config.kl_warmup_steps)
        return weight

    def losses(self, batch: Batch, phase: str = "model") -> Losses:
        x = batch.x.float()
        b, t = x.shape[:2]
        prefix = None
        if self.training and self.config.prefix_prob > 0 and (not self.per_frame or self.config.static_dim):
            cut = torch.randint(1, t, (b,), device=x.device)
            prefix = torch.where(torch.rand(b, device=x.device) < self.config.prefix_prob, cut, t)
        if self.per_frame:
            terms = self.frame_terms(x, prefix)
            logits = self._frame_logits(terms["z"], terms["s"] if self.config.static_dim else None)
            kl = (terms["kl"].sum(1) + terms["kl_static"]).mean()
        else:
            mu, logvar = self.posterior(x, prefix)
            z = mu + torch.randn_like(mu) * (0.5 * logvar).exp()
            logits = self.decoder_logits(z)
            kl = 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).sum(1).mean()
        rec = F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1).mean()
        mse = (torch.sigmoid(logits) - x).pow(2).mean()
        return {"loss": rec + self._kl_weight() * kl, "rec": rec.detach(), "kl": kl.detach(), "mse": mse.detach()}

    def encode(self, clips: torch.Tensor) -> torch.Tensor:
        """Posterior means: (B, D) per clip; per frame (B, static_dim + T * D), the static code first."""
        if not self.per_frame:
            return self.posterior(clips)[0]
        terms = self.frame_terms(clips, sample=False)
        return torch.cat([terms["s"], terms["z"].flatten(1)], 1)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Clips (B, T, C, H, W) in [0, 1] from codes shaped as :meth:`encode` returns them."""
        if not self.per_frame:
            return torch.sigmoid(self.decoder_logits(z))
        s, codes = z.split([self.config.static_dim, z.shape[1] - self.config.static_dim], 1)
        return torch.sigmoid(self._frame_logits(codes.reshape(len(z), -1, self.config.latent_dim),
                                                s if self.config.static_dim else None))

    @torch.no_grad()
    def sample(self, n: int, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Clips (n, T, C, H, W) in [0, 1]: decoded prior draws (per frame: the prior run over time)."""
        return self.sample_from_noise(torch.randn(n, *self.noise_shape(), device=self.device))

    def noise_shape(self) -> tuple[int, ...]:
        """Per clip (latent_dim,); per frame (static_dim + T * latent_dim,): the static code, then eps_1..eps_T."""
        if not self.per_frame:
            return (self.config.latent_dim,)
        return (self.config.static_dim + self.clip_shape[0] * self.config.latent_dim,)

    def sample_from_noise(self, noise: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Clips (n, T, C, H, W) in [0, 1] from N(0, I) draws ``noise`` (n, *noise_shape())."""
        if not self.per_frame:
            return torch.sigmoid(self.decoder_logits(noise))
        return torch.sigmoid(self.rollout(noise))

    @torch.no_grad()
    def predict_frames(self, clips: torch.Tensor, k: int) -> torch.Tensor:
        """The first k frames of each clip (B, >= k, C, H, W) given, the rest predicted: (B, T, C, H, W).

        Per frame: the posterior means of frames t < k (and of the static code, from those frames),
        then the prior means (the prior run from the given frames' state). Per clip: the posterior
        mean of the prefix, decoded."""
        given = clips[:, :k].float().to(self.device)
        t = self.clip_shape[0]
        if self.per_frame:
            terms = self.frame_terms(given, sample=False)
            s = terms["s"] if self.config.static_dim else None
            zeros = given.new_zeros(len(given), (t - k) * self.config.latent_dim)
            out = torch.sigmoid(self.rollout(zeros, t, s, terms["h"], list(terms["z"].unbind(1))))
        else:
            padded = torch.cat([given, given[:, -1:].expand(-1, t - k, *given.shape[2:])], 1)  # only the prefix is read
            mu, _ = self.posterior(padded, torch.full((len(clips),), k))
            out = self.decode(mu)
        out[:, :k] = given
        return out


# ------------------------------------------------------------------------------ video-gan

@dataclass
class VideoGANConfig:
    """Configuration of :class:`VideoGAN` (``video-gan``).

    Attributes:
        data_shape: (T, C, H, W) of the clips; filled from the dataset at training time.
        content_dim: size of the content code z_C (one per clip).
        motion_dim: size of the motion code z_M(t) (one per frame, from a GRU cell).
        motion_noise: size of the noise eps_t fed to the motion GRU at every frame.
        g_widths: channels of the frame generator per resolution level, image side first.
        d_widths: channels of the image discriminator per stride-2 level.
        v_widths: channels of the video discriminator per 3-D level.
        loss: the GAN loss pair ('non_saturating', 'least_squares', 'hinge').
        gan_lr: Adam learning rate of both phases.
        gan_betas: Adam betas of both phases.
        image_weight: weight of the image discriminator's term in the generator loss.
        image_frames: frames per clip the image discriminator judges (distinct, drawn at random; 1 is
            MoCoGAN's one frame per clip; more give the frame generator more image feedback per step).
        image_batch: frames per step the image discriminator judges when > 0, drawn as MoCoGAN
            draws its image batch: real frames at random from the batch's clips, fake frames
            generated one per fresh code (a random frame index of a fresh clip; only those frames
            are generated, so the image term costs what a DCGAN step on ``image_batch`` images does).
            0: ``image_frames`` frames of each clip of the batch (real and generated clips).
        image_norm: normalization of the image discriminator's levels after the first ('none',
            'batch' as in dcgan, or 'layer').
        output: the frame generator's output: 'tanh' (DCGAN's) or 'linear' (clamped to [-1, 1] when
            sampling; the default of format 4, when the frames were judged without normalization and
            a tanh generator stayed on black frames).
        video_weight: weight of the video discriminator's term in the generator loss (0: the video
            discriminator is neither trained nor used).
        video_ramp: generator updates over which the video term's weight grows linearly from 0 to
            ``video_weight`` (0 = the full weight from the start): frames first, motion after.
        video_norm: normalization of the video discriminator's levels after the first ('none',
            'batch' as in MoCoGAN, or 'layer').
        video_input: what the video discriminator reads: 'frames', or 'differences' (the frames and
            their differences x_t - x_{t-1} as extra channels: motion in the first layer's input).
        motion_init: the motion GRU's initial state: 'zero', or 'noise' (MoCoGAN's: drawn N(0, I) per
            clip; the noise item then holds motion_dim more numbers after the content code).
        motion_step: 0 (MoCoGAN's): the GRU's state h_t is the motion code. > 0: the motion code moves by
            a bounded step per frame, z_M(t) = z_M(t-1) + motion_step * tanh(h_t) (at most motion_step
            per unit) from z_M(0) = the GRU's initial state, so a frame's code stays near the clip's
            start and cannot jump to the GRU's saturated states.
        motion_norm: 'none', or 'layer': each frame's motion code standardized over its units (mean 0,
            std 1, no parameters) before the frame generator, at the content code's scale, so its
            norm cannot drift over a clip.
        video_noise: std of Gaussian noise added to the clips the video discriminator reads while
            training (real and generated, in [-1, 1]; instance noise, which weakens it); 0 = none.
        video_lr: 0: the video discriminator is updated with the image one in the 'discriminator'
            phase at ``gan_lr``. > 0: in a phase of its own ('video_discriminator', on the same batch)
            with Adam at this learning rate (a slower video discriminator).
    """

    data_shape: tuple[int, ...] = (8, 1, 32, 32)
    content_dim: int = 32
    motion_dim: int = 16
    motion_noise: int = 8
    g_widths: tuple[int, ...] = (32, 64)
    d_widths: tuple[int, ...] = (32, 64)
    v_widths: tuple[int, ...] = (32, 64)
    loss: Literal["non_saturating", "least_squares", "hinge"] = "non_saturating"
    gan_lr: float = 4e-4
    gan_betas: tuple[float, float] = (0.5, 0.999)
    image_weight: float = 1.0
    image_frames: int = 1
    image_batch: int = 64
    image_norm: Literal["none", "batch", "layer"] = "batch"
    output: Literal["linear", "tanh"] = "tanh"
    video_weight: float = 1.0
    video_ramp: int = 0
    video_norm: Literal["none", "batch", "layer"] = "none"
    video_input: Literal["frames", "differences"] = "frames"
    motion_init: Literal["zero", "noise"] = "noise"
    motion_step: float = 0.0
    motion_norm: Literal["none", "layer"] = "none"
    video_noise: float = 0.0
    video_lr: float = 0.0

    def __post_init__(self) -> None:
        check_clip_shape(tuple(self.data_shape))
        for name in ("content_dim", "motion_dim", "motion_noise"):
            check_sizes(name, getattr(self, name))
        for name in ("g_widths", "d_widths", "v_widths"):
            check_sizes(name, getattr(self, name))
        check_range("gan_lr", self.gan_lr, 0, 10, low_open=True)
        check_betas("gan_betas", self.gan_betas)
        check_range("image_weight", self.image_weight, 0, 1e3)
        check_range("video_weight", self.video_weight, 0, 1e3)
        check_range("motion_step", self.motion_step, 0, 10)
        check_range("video_noise", self.video_noise, 0, 10)
        check_range("video_lr", self.video_lr, 0, 10)
        if self.image_batch < 0:
            raise ValueError(f"image_batch must be >= 0, got {self.image_batch}")
        if self.video_ramp < 0:
            raise ValueError(f"video_ramp must be >= 0, got {self.video_ramp}")
        if self.video_lr > 0 and (self.image_batch == 0 or self.video_weight == 0):
            raise ValueError("video_lr (a phase of the video discriminator's own) needs image_batch > 0 and "
                             f"video_weight > 0, got image_batch {self.image_batch}, video_weight {self.video_weight}")
        if not 1 <= self.image_frames <= self.data_shape[0]:
            raise ValueError(f"image_frames must be in 1..T ({self.data_shape[0]}), got {self.image_frames}")


@register("video-gan", VideoGANConfig, "MoCoGAN-style clip GAN: content code per clip, recurrent motion code per frame")
class VideoGAN(ClipModel):
    """See the module docstring."""

    config: VideoGANConfig
    watch_modes: ClassVar[bool] = False
    export_parts = ("sample",)  # [z_C, z_M(0), eps_1..eps_T] -> a whole clip (B, T, C, H, W); T fixed by the run
    export_refusals = {k: v for k, v in ClipModel.export_refusals.items() if k != "sample"}

    def __init__(self, config: VideoGANConfig):
        super().__init__(config)
        cfg = config
        _, c, h, w = self.clip_shape
        self.motion = nn.GRUCell(cfg.motion_noise, cfg.motion_dim)
        self.generator = DCGANGenerator(cfg.content_dim + cfg.motion_dim, (c, h, w), cfg.g_widths, norm="batch")
        if cfg.output == "linear":
            self.generator.layers[-1] = nn.Identity()  # DCGAN's last tanh (no parameters); see the module docstring
        self.image_features = DCGANDiscriminator((c, h, w), cfg.d_widths, norm=cfg.image_norm)
        self.video_features = VideoDiscriminator(self.clip_shape, cfg.v_widths, norm=cfg.video_norm,
                                                 differences=cfg.video_input == "differences")
        self.image_head = nn.Linear(self.image_features.out_features, 1)
        self.video_head = nn.Linear(self.video_features.out_features, 1)
        for m in (self.generator, self.image_features, self.video_features):
            init_normal_(m)
        # generator updates so far (the video term's ramp); in checkpoints (exact resume), not in the model
        self.register_counter("g_updates", persistent=False)

    def after_step(self, phase: str) -> None:
        if phase == "generator":
            self.count("g_updates")

    def video_weight_now(self) -> float:
        """The video term's weight in the generator loss at this point of training (``video_ramp``)."""
        cfg = self.config
        if cfg.video_ramp <= 0:
            return cfg.video_weight
        return cfg.video_weight * min(1.0, self.counted("g_updates") / cfg.video_ramp)

    def phases(self) -> list[Phase]:
        cfg = self.config
        opt = OptimizerConfig("adam", cfg.gan_lr, tuple(cfg.gan_betas))  # type: ignore[arg-type]
        generator = Phase("generator", ("motion", "generator"), 1, opt, fresh_batch=False)  # needs only the batch size
        if cfg.video_lr > 0:  # the video discriminator in a phase of its own, on the image phase's batch
            video_opt = OptimizerConfig("adam", cfg.video_lr, tuple(cfg.gan_betas))  # type: ignore[arg-type]
            return [Phase("discriminator", ("image_features", "image_head"), 1, opt),
                    Phase("video_discriminator", ("video_features", "video_head"), 1, video_opt, fresh_batch=False),
                    generator]
        return [Phase("discriminator", ("image_features", "image_head", "video_features", "video_head"), 1, opt),
                generator]

    def _init_dim(self) -> int:
        return self.config.motion_dim if self.config.motion_init == "noise" else 0

    def noise_shape(self) -> tuple[int, ...]:
        """One flat noise item: z_C (content_dim), the motion GRU's initial state (motion_dim, with
        ``motion_init='noise'``), then eps_1..eps_T (T x motion_noise), all N(0, I)."""
        return (self.config.content_dim + self._init_dim() + self.clip_shape[0] * self.config.motion_noise,)

    def codes_from_noise(self, noise: torch.Tensor) -> torch.Tensor:
        """Per-frame codes (n, T, content_dim + motion_dim) from noise (n, *noise_shape()): [z_C, z_M(t)],
        z_C the same at every t, z_M(t) = GRUCell(eps_t, z_M(t-1)) from z_M(0) = 0 (or the noise's
        initial state)."""
        cfg, t = self.config, self.clip_shape[0]
        content, h0, eps = noise.split([cfg.content_dim, self._init_dim(), t * cfg.motion_noise], 1)
        eps = eps.reshape(-1, t, cfg.motion_noise)
        # the cell's zero state when None, sized by the batch (a dynamic batch when traced)
        h: torch.Tensor | None = h0 if cfg.motion_init == "noise" else None
        z = h  # motion_step's z_M(0): the initial state (None: zero)
        motion = []
        for i in range(t):
            h = self.motion(eps[:, i], h)
            if cfg.motion_step > 0:
                step = cfg.motion_step * torch.tanh(h)
                z = step if z is None else z + step
                motion.append(z)
            else:
                motion.append(h)
        codes = torch.stack(motion, 1)
        if cfg.motion_norm == "layer":
            codes = F.layer_norm(codes, (cfg.motion_dim,))
        return torch.cat([content[:, None].expand(-1, t, -1), codes], 2)

    def codes(self, n: int) -> torch.Tensor:
        """Per-frame codes (n, T, content_dim + motion_dim) of n fresh noise draws."""
        return self.codes_from_noise(torch.randn(n, *self.noise_shape(), device=self.device))

    def generate(self, n: int) -> torch.Tensor:
        """Clips (n, T, C, H, W): in [-1, 1] with a tanh output, unbounded with a linear one."""
        return self._frames(self.codes(n))

    def _frames(self, codes: torch.Tensor) -> torch.Tensor:
        return unframes(self.generator(codes.flatten(0, 1)), self.clip_shape[0])

    def fake_frames(self, n: int) -> torch.Tensor:
        """n generated frames (n, C, H, W), each frame t_i (uniform in 0..T-1) of a fresh clip's codes:
        only these frames go through the frame generator."""
        codes = self.codes(n)  # (n, T, D): the GRU over all T steps is cheap next to the generator
        pick = torch.randint(0, codes.shape[1], (n,), device=codes.device)
        return self.generator(codes[torch.arange(n, device=codes.device), pick])

    def real_frames(self, clips: torch.Tensor, n: int) -> torch.Tensor:
        """n real frames (n, C, H, W) drawn at random from the clips' frames (distinct while n <= B * T)."""
        flat = frames(clips)
        pick = torch.randperm(len(flat), device=clips.device)[:n] if n <= len(flat) else \
            torch.randint(0, len(flat), (n,), device=clips.device)
        return flat[pick]

    def _image_scores(self, images: torch.Tensor) -> torch.Tensor:
        return self.image_head(self.image_features(images)).flatten().float()

    def _video_scores(self, clips: torch.Tensor) -> torch.Tensor:
        if self.config.video_noise > 0 and self.training:  # instance noise on what the video D reads
            clips = clips + self.config.video_noise * torch.randn_like(clips)
        return self.video_head(self.video_features(clips)).flatten().float()

    def _scores(self, clips: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(image scores of ``image_frames`` random frames per clip (B * image_frames,), video scores (B,))."""
        b, t = clips.shape[:2]
        k = self.config.image_frames
        if k == 1:  # one draw per clip (the stream of random numbers of runs before image_frames)
            pick = torch.randint(0, t, (b, 1), device=clips.device)
        else:
            pick = torch.rand(b, t, device=clips.device).argsort(1)[:, :k]  # k distinct frames per clip
        chosen = clips[torch.arange(b, device=clips.device)[:, None], pick]  # (B, k, C, H, W)
        image = self._image_scores(frames(chosen))
        if self.config.video_weight == 0:  # no video discriminator: a zero score that is not used
            return image, clips.new_zeros(b).float()
        return image, self._video_scores(clips)

    def losses(self, batch: Batch, phase: str = "model") -> Losses:
        cfg = self.config
        pair = LOSS_PAIRS[cfg.loss]
        n = batch.x.shape[0]
        if cfg.image_batch == 0:  # the image discriminator judges frames of the batch's clips
            if phase == "discriminator":
                real = batch.x.float() * 2 - 1
                with torch.no_grad():
                    fake = self.generate(n)
                ri, rv = self._scores(real)
                fi, fv = self._scores(fake)
                d_image, d_video = pair.discriminator(ri, fi, 1.0), pair.discriminator(rv, fv, 1.0)
                loss = d_video + cfg.image_weight * d_image  # a constant d_video without a video D
                return {"loss": loss, "d_image": d_image.detach(), "d_video": d_video.detach()}
            fi, fv = self._scores(self.generate(n))
            g_image, g_video = pair.generator(fi), pair.generator(fv)
            loss = self.video_weight_now() * g_video + cfg.image_weight * g_image
            return {"loss": loss, "g_image": g_image.detach(), "g_video": g_video.detach()}
        # MoCoGAN's separate image batch: image_batch frames, only those generated
        video = cfg.video_weight > 0
        if phase == "video_discriminator":  # video_lr > 0: the video discriminator's own phase
            with torch.no_grad():
                own_clips = self.generate(n)
            d_video = pair.discriminator(self._video_scores(batch.x.float() * 2 - 1), self._video_scores(own_clips),
                                         1.0)
            return {"loss": d_video, "d_video": d_video.detach()}
        if phase == "discriminator":
            real = batch.x.float() * 2 - 1
            with torch.no_grad():
                fake_images = self.fake_frames(cfg.image_batch)
                fake_clips = self.generate(n) if video and cfg.video_lr == 0 else None
            d_image = pair.discriminator(self._image_scores(self.real_frames(real, cfg.image_batch)),
                                         self._image_scores(fake_images), 1.0)
            loss, logs = cfg.image_weight * d_image, {"d_image": d_image.detach()}
            if fake_clips is not None:
                d_video = pair.discriminator(self._video_scores(real), self._video_scores(fake_clips), 1.0)
                loss, logs["d_video"] = loss + d_video, d_video.detach()
            return {"loss": loss, **logs}
        g_image = pair.generator(self._image_scores(self.fake_frames(cfg.image_batch)))
        loss, logs = cfg.image_weight * g_image, {"g_image": g_image.detach()}
        if video:
            g_video = pair.generator(self._video_scores(self.generate(n)))
            loss, logs["g_video"] = loss + self.video_weight_now() * g_video, g_video.detach()
        return {"loss": loss, **logs}

    @torch.no_grad()
    def sample(self, n: int, labels: torch.Tensor | None = None) -> torch.Tensor:
        """n clips (n, T, C, H, W) in [0, 1]."""
        return self.sample_from_noise(torch.randn(n, *self.noise_shape(), device=self.device))

    def sample_from_noise(self, noise: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Clips (n, T, C, H, W) in [0, 1] from noise (n, *noise_shape()) (the exported 'sample' part)."""
        return ((self._frames(self.codes_from_noise(noise)) + 1) / 2).clamp(0, 1)
