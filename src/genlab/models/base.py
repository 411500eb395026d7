"""The model contract every genlab model follows.

A model is an ``nn.Module`` built from one config dataclass. It computes its own losses and
returns them by name; the trainer owns optimizers, devices, precision, distribution, logging and
checkpoints and knows nothing model-specific.

Multi-network models (GANs, VAE-GAN) declare **phases**: each phase names the sub-modules whose
parameters it updates, how many times it runs per training round, and optionally its own default
optimizer. A round runs the phases in order (e.g. critic x5, then generator x1). For each phase
the trainer clears all gradients, calls ``model(batch, phase)``, back-propagates ``losses["loss"]``
and steps only that phase's optimizer, so a phase never changes another phase's weights.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import torch
from torch import nn

from genlab.config import OptimizerConfig, from_dict, to_dict
from genlab.data.base import Batch
from genlab.errors import CheckpointError
from genlab.io import atomic_write_json, load_state_dict, read_json, save_state_dict

Losses = dict[str, torch.Tensor]

MODEL_CONFIG = "model_config.json"
MODEL_WEIGHTS = "model.safetensors"


@dataclass(frozen=True)
class Phase:
    """One kind of update in a training round.

    Attributes:
        name: passed to ``model(batch, phase)``; also the key of ``TrainConfig.phase_lr``.
        modules: attribute names of the sub-modules this phase trains; () = every parameter.
        repeats: how many times the phase runs per round, each on a fresh batch (n_critic).
        optimizer: the model's default optimizer for this phase (None = the train config's).
        fresh_batch: draw a new batch; False reuses the previous phase's batch (models whose
            networks are updated in turn on one batch, such as VAE-GAN).
    """

    name: str = "model"
    modules: tuple[str, ...] = ()
    repeats: int = 1
    optimizer: OptimizerConfig | None = None
    fresh_batch: bool = True


class GenerativeModel(nn.Module):
    """Base class: config handling, the phase contract, save/load.

    Subclasses set ``config`` in ``__init__`` (via ``super().__init__(config)``), implement
    :meth:`losses` and :meth:`sample`, and may override :meth:`phases`.
    """

    registry_name: str = ""
    # False for models trained with the same contract that do not generate (classifiers):
    # `genlab bench` skips them and the contract tests do not ask them to sample
    generative: bool = True
    # True for models whose losses need class labels (conditional models): training on an
    # unlabelled dataset is refused before it starts
    requires_labels: bool = False
    # True for models prone to mode collapse (the GAN family): with TrainConfig.mode_check 'auto' the
    # trainer classifies their samples at every sample grid and warns on collapse
    watch_modes: bool = False
    # True for single-phase models whose loss reaches only some parameters at some steps (e.g. the
    # stacked autoencoder's layer-wise pretraining): DDP must then look for unused parameters
    partial_updates: bool = False
    # what the model reads and samples: 'images' (N, C, H, W), or 'tables' (transformed table rows (N, D),
    # trained through genlab.tables): image-only tools (`genlab bench`, sample grids) skip table models
    data_kind: str = "images"

    def __init__(self, config: Any):
        super().__init__()
        self.config = config

    # --- training contract -------------------------------------------------------------------
    def phases(self) -> list[Phase]:
        """The update phases of one training round (default: one phase over all parameters)."""
        return [Phase()]

    def phase_parameters(self, phase: Phase) -> list[nn.Parameter]:
        if not phase.modules:
            return [p for p in self.parameters() if p.requires_grad]
        return [p for name in phase.modules for p in getattr(self, name).parameters() if p.requires_grad]

    def losses(self, batch: Batch, phase: str = "model") -> Losses:
        """Named scalar losses for ``phase``; ``losses['loss']`` is the objective to minimize."""
        raise NotImplementedError

    def forward(self, batch: Batch, phase: str = "model") -> Losses:  # what DDP wraps
        return self.losses(batch, phase)

    def after_step(self, phase: str) -> None:
        """Called after each optimizer step of ``phase`` (weight clipping, EMA updates, ...)."""

    @torch.no_grad()
    def evaluate(self, batch: Batch) -> dict[str, float]:
        """Validation metrics of one batch (default: the losses of the last phase)."""
        return {k: float(v) for k, v in self.losses(batch, self.phases()[-1].name).items()}

    # --- generation ----------------------------------------------------------------------------
    def sample(self, n: int, labels: torch.Tensor | None = None) -> torch.Tensor:
        """``n`` new images (N, C, H, W) in [0, 1]."""
        raise NotImplementedError(f"{self.registry_name} cannot sample")

    def sample_grid(self, n: int, **options: Any) -> tuple[torch.Tensor, int | None]:
        """About ``n`` samples laid out for a grid: (images, images per row or None for square).

        Conditional models (``config.num_classes`` > 0 and :attr:`requires_labels`) give one row
        per class, so a grid shows what each label produces. ``options`` go to :meth:`sample`
        (e.g. a diffusion model's sampler and step count).
        """
        classes = getattr(self.config, "num_classes", 0) if self.requires_labels else 0
        if not classes:
            return self.sample(n, **options), None
        per_row = max(1, n // classes)
        labels = torch.arange(classes, device=self.device).repeat_interleave(per_row)
        return self.sample(len(labels), labels=labels, **options), per_row

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    # --- persistence ---------------------------------------------------------------------------
    def save(self, directory: str | Path) -> Path:
        """Write ``model_config.json`` and ``model.safetensors`` into ``directory``."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        save_state_dict(self.state_dict(), directory / MODEL_WEIGHTS)
        atomic_write_json(directory / MODEL_CONFIG, {"model": self.registry_name, "config": to_dict(self.config)})
        return directory

    @classmethod
    def load(cls, directory: str | Path, map_location: str | torch.device = "cpu") -> "GenerativeModel":
        """Rebuild a saved model from its directory (no pickle, no outside knowledge)."""
        from genlab import registry

        directory = Path(directory)
        cfg_path, weights = directory / MODEL_CONFIG, directory / MODEL_WEIGHTS
        if not cfg_path.is_file() or not weights.is_file():
            raise CheckpointError(f"{directory} holds no saved model ({MODEL_CONFIG} and {MODEL_WEIGHTS})")
        try:
            meta = read_json(cfg_path)
            name, cfg = meta["model"], meta["config"]
        except (ValueError, KeyError, TypeError):
            raise CheckpointError(f"{cfg_path} is not a genlab model config") from None
        entry = registry.get(name)
        if cls is not GenerativeModel and not issubclass(entry.model_class, cls):
            raise CheckpointError(f"{directory} holds a '{name}' model, not a {cls.__name__}")
        model = entry.model_class(from_dict(entry.config_class, cfg, f"{cfg_path}"))
        model.load_weights(weights)
        return model.to(map_location)

    def load_weights(self, path: str | Path) -> None:
        try:
            state = load_state_dict(path)
        except Exception as e:  # noqa: BLE001 - safetensors raises several types for bad files
            raise CheckpointError(f"cannot read weights {path}: {e}") from None
        own = self.state_dict()
        missing = sorted(set(own) - set(state))
        unexpected = sorted(set(state) - set(own))
        wrong = sorted(k for k in set(own) & set(state) if own[k].shape != state[k].shape)
        if missing or unexpected or wrong:
            example = (missing + unexpected + wrong)[0]
            raise CheckpointError(f"weights {path} do not fit this {self.registry_name} model (missing {len(missing)}, "
                                  f"unexpected {len(unexpected)}, wrong shape {len(wrong)}; e.g. '{example}')")
        self.load_state_dict(state)


class LatentModel(GenerativeModel):
    """A model with an encoder and a decoder: adds reconstruction and latent-space tools.

    Subclasses implement :meth:`encode` (images -> codes (B, D)) and :meth:`decode`
    (codes -> images in [0, 1]).
    """

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def _codes(self, x: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        return self.encode(x) if labels is None else self.encode(x, labels)

    def _images(self, z: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        return self.decode(z) if labels is None else self.decode(z, labels)

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Decode(encode(x)), images in [0, 1]; conditional models also take the labels (B,)."""
        return self._images(self._codes(x, labels), labels)

    @torch.no_grad()
    def interpolate(self, x_a: torch.Tensor, x_b: torch.Tensor, steps: int = 10, method: str = "linear",
                    label: int | None = None) -> torch.Tensor:
        """Decode codes on the path from x_a's code to x_b's: (steps, C, H, W).

        Args:
            x_a, x_b: one image each, (C, H, W) or (1, C, H, W).
            method: 'linear' or 'spherical' (slerp, which keeps the norm of Gaussian codes).
            label: for conditional models, the class both ends are encoded and decoded with.
        """
        pair = torch.stack([x_a.reshape(x_a.shape[-3:]), x_b.reshape(x_b.shape[-3:])])
        labels = None if label is None else torch.full((2,), label, dtype=torch.long, device=pair.device)
        z = self._codes(pair, labels)
        t = torch.linspace(0, 1, steps, device=z.device)[:, None]
        path_labels = None if label is None else torch.full((steps,), label, dtype=torch.long, device=z.device)
        return self._images(interpolate_codes(z[0], z[1], t, method), path_labels)

    @torch.no_grad()
    def traverse(self, x: torch.Tensor, dims: Sequence[int] | None = None, span: float = 3.0, steps: int = 9,
                 label: int | None = None) -> torch.Tensor:
        """Vary one code dimension at a time around x's code: (len(dims) * steps, C, H, W), row per dim."""
        one = x.reshape(1, *x.shape[-3:])
        labels = None if label is None else torch.full((1,), label, dtype=torch.long, device=one.device)
        z = self._codes(one, labels)[0]  # (D,)
        dims = list(range(z.shape[0])) if dims is None else list(dims)
        values = torch.linspace(-span, span, steps, device=z.device)
        codes = z.repeat(len(dims) * steps, 1)
        for row, d in enumerate(dims):
            codes[row * steps:(row + 1) * steps, d] = values
        row_labels = None if label is None else torch.full((len(codes),), label, dtype=torch.long, device=z.device)
        return self._images(codes, row_labels)


def interpolate_codes(z_a: torch.Tensor, z_b: torch.Tensor, t: torch.Tensor, method: str = "linear") -> torch.Tensor:
    """Points between two codes at fractions t (T, 1): linear or spherical interpolation."""
    if method == "linear":
        return (1 - t) * z_a + t * z_b
    if method == "spherical":
        cos = torch.dot(z_a, z_b) / (z_a.norm() * z_b.norm()).clamp_min(1e-12)
        omega = torch.arccos(cos.clamp(-1 + 1e-7, 1 - 1e-7))
        if float(omega) < 1e-4:
            return (1 - t) * z_a + t * z_b
        return (torch.sin((1 - t) * omega) * z_a + torch.sin(t * omega) * z_b) / math.sin(float(omega))
    raise ValueError(f"unknown interpolation '{method}' (choose linear or spherical)")


__all__ = ["Batch", "GenerativeModel", "LatentModel", "Losses", "Phase", "interpolate_codes"]
