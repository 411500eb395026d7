"""video-ddpm: the diffusion model for clips, on a factorized space-time U-Net.

Training is DDPM's L_simple (uniform t, eps-prediction by default; x0-prediction draws digit strokes
after a few hundred steps where eps-prediction still samples noise) on clips scaled to [-1, 1];
the network (:class:`genlab.nn.video.SpaceTimeUNet`) treats frames with the 2-D residual blocks of
the image U-Net, each followed by a 1-D convolution over time, with temporal attention in the
middle. Schedules and samplers are :mod:`genlab.diffusion`'s (shape-agnostic); samples use DDIM
with ``sample_steps`` steps of the EMA network.

Frame prediction (``predict_frames``) is inpainting in time by replacement: after every reverse
step the given frames are replaced by a fresh draw of q(x_t' | x_0) of the true frames at the new
noise level, so the generated frames are pulled toward agreement with them; the returned clip
keeps the given frames exactly.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from genlab.config import check_range, check_sizes
from genlab.diffusion import DDIMSampler, NoiseSchedule
from genlab.errors import ConfigError
from genlab.models.base import Batch, Losses, Phase
from genlab.models.video import ClipModel, check_clip_shape
from genlab.nn.ema import ema_decay_at, ema_update_
from genlab.nn.video import SpaceTimeUNet
from genlab.registry import register


@dataclass
class VideoDDPMConfig:
    """Configuration of :class:`VideoDDPM` (``video-ddpm``).

    Attributes:
        data_shape: (T, C, H, W) of the clips; filled from the dataset at training time.
        diffusion_steps: T of the diffusion (not the clip length).
        beta_schedule: 'linear' or 'cosine' beta schedule.
        prediction: what the network predicts: 'eps', 'x0' or 'v'. At a few hundred CPU-bound steps an
            eps-network's DDIM samples are still noise where an x0-network's draw digit strokes (issue 18).
        width: U-Net channels at full resolution.
        width_mults: channels per level as multiples of width (one level per entry).
        groups: GroupNorm groups.
        heads: heads of the temporal attention.
        attention: where the U-Net has temporal attention: 'mid' (its middle only) or 'every' (also after
            every space-time block).
        ema: decay of the moving average of weights used for sampling (0 = the trained weights).
        sample_steps: DDIM steps of a sample.
    """

    data_shape: tuple[int, ...] = (8, 1, 32, 32)
    diffusion_steps: int = 200
    beta_schedule: Literal["linear", "cosine"] = "cosine"
    prediction: Literal["eps", "x0", "v"] = "eps"
    width: int = 8
    width_mults: tuple[int, ...] = (1, 2)
    groups: int = 8
    heads: int = 4
    attention: Literal["mid", "every"] = "mid"
    ema: float = 0.995
    sample_steps: int = 25

    def __post_init__(self) -> None:
        check_clip_shape(tuple(self.data_shape))
        check_sizes("diffusion_steps", self.diffusion_steps, maximum=10_000)
        check_sizes("width", self.width)
        check_sizes("width_mults", self.width_mults, maximum=64)
        check_sizes("groups", self.groups, maximum=1024)
        check_sizes("heads", self.heads, maximum=64)
        check_range("ema", self.ema, 0, 1, high_open=True)
        if not 1 <= self.sample_steps <= self.diffusion_steps:
            raise ValueError(f"sample_steps must be in 1..diffusion_steps ({self.diffusion_steps}), "
                             f"got {self.sample_steps}")


@register("video-ddpm", VideoDDPMConfig, "clip diffusion: factorized space-time U-Net, DDIM sampling")
class VideoDDPM(ClipModel):
    """See the module docstring."""

    config: VideoDDPMConfig
    updates: Tensor
    predicts_frames = True
    sample_options = ("steps", "eta")
    export_parts = ("denoiser",)  # one network evaluation on a whole clip; the DDIM loop stays outside
    export_refusals = {**{k: v for k, v in ClipModel.export_refusals.items() if k != "denoiser"},
                       "sample": "sampling runs the denoiser once per step in a Python loop; export the 'denoiser' "
                                 "part and run the DDIM loop around it (docs/export.md)"}

    def __init__(self, config: VideoDDPMConfig):
        super().__init__(config)
        cfg = config
        c = self.clip_shape[1]
        self.net = SpaceTimeUNet(c, cfg.width, tuple(cfg.width_mults), cfg.groups, cfg.heads,
                                 attention=cfg.attention)
        self.ema_net = copy.deepcopy(self.net).requires_grad_(False)
        self.register_counter("updates")
        self.schedule = NoiseSchedule.named(cfg.beta_schedule, cfg.diffusion_steps)

    def phases(self) -> list[Phase]:
        return [Phase("model", ("net",))]

    def losses(self, batch: Batch, phase: str = "model") -> Losses:
        x0 = batch.x.float() * 2 - 1
        t = torch.randint(0, self.config.diffusion_steps, (len(x0),), device=x0.device)
        noise = torch.randn_like(x0)
        xt = self.schedule.add_noise(x0, noise, t)
        target = self.schedule.target(x0, noise, t, self.config.prediction)
        loss = F.mse_loss(self.net(xt, t).float(), target)
        return {"loss": loss}

    def after_step(self, phase: str) -> None:
        if self.config.ema > 0:
            ema_update_(self.ema_net, self.net, ema_decay_at(self.config.ema, self.counted("updates")))
        else:
            self.ema_net.load_state_dict(self.net.state_dict())
        self.count("updates")

    def denoiser_output(self, x_t: Tensor, t: Tensor, labels: Tensor | None = None) -> Tensor:
        """The sampling network's prediction (the config's ``prediction``) for clips x_t (B, T, C, H, W) in
        [-1, 1] at diffusion steps t (B,) (the exported 'denoiser' part)."""
        net = self.ema_net if self.config.ema > 0 else self.net
        return net(x_t, t).float()

    def _sampler(self, steps: int | None, eta: float | None) -> DDIMSampler:
        steps = self.config.sample_steps if steps is None else steps
        if not 1 <= steps <= self.config.diffusion_steps:
            raise ConfigError(f"--steps must be in 1..{self.config.diffusion_steps} (the model's diffusion "
                              f"steps), got {steps}")
        if eta is not None and not 0 <= eta <= 10:
            raise ConfigError(f"--eta must be in 0..10, got {eta}")
        return DDIMSampler(self.schedule, steps, 0.0 if eta is None else eta)

    def _loop(self, x: Tensor, sampler: DDIMSampler, known: Tensor | None = None) -> Tensor:
        net = self.ema_net if self.config.ema > 0 else self.net
        k = 0 if known is None else known.shape[1]
        for t_int, t_prev_int in sampler.timesteps():
            t = torch.full((len(x),), t_int, dtype=torch.long, device=x.device)
            t_prev = torch.full_like(t, t_prev_int)
            x0, eps = self.schedule.split_prediction(net(x, t).float(), x, t, self.config.prediction)
            x0 = x0.clamp(-1, 1)
            eps = self.schedule.eps_from_x0(x, x0, t)
            x = sampler.step(x, x0, eps, t, t_prev, torch.randn_like(x))
            if known is not None:  # replace the given frames by their own noisy version at t_prev
                x[:, :k] = known if t_prev_int < 0 else self.schedule.add_noise(known, torch.randn_like(known), t_prev)
        return x

    @torch.no_grad()
    def sample(self, n: int, labels: Tensor | None = None, steps: int | None = None,
               eta: float | None = None) -> Tensor:
        """n clips (n, T, C, H, W) in [0, 1] by DDIM (``steps``, ``eta``: the config's by default)."""
        sampler = self._sampler(steps, eta)
        x = torch.randn(n, *self.clip_shape, device=self.device)
        return ((self._loop(x, sampler) + 1) / 2).clamp(0, 1)

    @torch.no_grad()
    def predict_frames(self, clips: Tensor, k: int) -> Tensor:
        """The first k frames of each clip given, the rest sampled by replacement: (B, T, C, H, W) in [0, 1]."""
        given = clips[:, :k].float().to(self.device)
        x = torch.randn(len(clips), *self.clip_shape, device=self.device)
        out = ((self._loop(x, self._sampler(None, None), given * 2 - 1) + 1) / 2).clamp(0, 1)
        out[:, :k] = given
        return out
