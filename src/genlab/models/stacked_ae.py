"""Stacked autoencoder (Bengio et al. 2007): greedy layer-wise pretraining, then end-to-end fine-tuning.

An MLP :class:`genlab.models.autoencoder.AutoEncoder` whose layers are first trained one at a time,
driven by a step counter kept in the model's state (so resume is exact).
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import torch
from torch import nn

from genlab.models.autoencoder import AEConfig, AutoEncoder, code_activation
from genlab.models.base import Batch, Losses
from genlab.nn import activation
from genlab.registry import register


@dataclass
class StackedAEConfig(AEConfig):
    """Configuration of :class:`StackedAE` (``stacked-ae``; MLP layers mlp_hidden..., latent_dim).

    Attributes:
        pretrain_steps: training steps spent pretraining each layer as its own autoencoder before
            end-to-end fine-tuning (0 = no pretraining: a deep autoencoder trained end to end).
    """

    pretrain_steps: int = 500

    def __post_init__(self) -> None:
        if self.pretrain_steps < 0:
            raise ValueError(f"pretrain_steps must be non-negative, got {self.pretrain_steps}")
        if self.architecture != "mlp":
            raise ValueError("stacked-ae pretrains fully connected layers: use architecture 'mlp'")
        super().__post_init__()


@register("stacked-ae", StackedAEConfig,
          "stacked autoencoder: greedy layer-wise pretraining, then end-to-end fine-tuning")
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
    encoder: nn.Sequential  # Flatten, then one block per layer
    decoder: nn.Sequential  # one block per layer (last layer's first), then Unflatten
    steps_done: torch.Tensor  # () long buffer

    def __init__(self, config: StackedAEConfig):
        super().__init__(config)
        self.register_buffer("steps_done", torch.zeros((), dtype=torch.long))

    def build_networks(self, cfg: StackedAEConfig) -> tuple[nn.Module, nn.Module]:  # type: ignore[override]
        sizes = [math.prod(cfg.data_shape), *cfg.mlp_hidden, cfg.latent_dim]
        n = len(sizes) - 1
        last = code_activation(cfg.code_activation)
        enc = [nn.Sequential(nn.Linear(a, b), activation(cfg.activation) if k < n - 1 else last)
               for k, (a, b) in enumerate(itertools.pairwise(sizes))]
        dec = [nn.Sequential(nn.Linear(b, a), activation(cfg.activation) if k > 0 else nn.Identity())
               for k, (a, b) in enumerate(itertools.pairwise(sizes))]
        decoder = nn.Sequential(*reversed(dec), nn.Unflatten(1, tuple(cfg.data_shape)))
        return nn.Sequential(nn.Flatten(), *enc), decoder

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
