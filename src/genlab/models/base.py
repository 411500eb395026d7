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
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import nn

from genlab import formats, registry
from genlab.config import OptimizerConfig, check_choices, from_dict, suggest, to_dict
from genlab.data.base import ArrayDataset, Batch
from genlab.errors import CheckpointError, ConfigError
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
            networks are updated in turn on one batch, such as VAE-GAN), and is also how a phase
            declares that it needs no new data: a GAN's generator phase looks only at the batch's
            size, device and labels, so it takes the discriminator's last batch and the trainer
            draws and converts nothing for it. Images are counted once per drawn batch, so a
            model's images/s and epochs count the real images it trained on.
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

    # What a model is and can do is declared here, on the class, never probed (no hasattr/getattr on
    # models or their configs): callers read these attributes or check the contract classes below.
    registry_name: ClassVar[str] = ""
    # False for models trained with the same contract that do not generate (classifiers):
    # `genlab bench` skips them and the contract tests do not ask them to sample
    generative: ClassVar[bool] = True
    # True for conditional models: their losses need class labels (training on an unlabelled dataset is
    # refused before it starts), their config has ``num_classes``, and :attr:`num_classes` reads it.
    # The one rule for "is this model conditional"
    requires_labels: ClassVar[bool] = False
    # True for models prone to mode collapse (the GAN family): with TrainConfig.mode_check 'auto' the
    # trainer classifies their samples at every sample grid and warns on collapse
    watch_modes: ClassVar[bool] = False
    # the kinds of data the model takes: 'images' (N, C, H, W), 'sequences' (N, T, F), 'clips' (N, T, C, H, W),
    # or the packed image pairs of genlab.data.pairs: 'pairs' (aligned A -> B) and/or 'unpaired' (two domains);
    # training
    # on another kind is refused before the model is built (check_data_kind)
    data_kinds: ClassVar[tuple[str, ...]] = ("images",)
    # True for single-phase models whose loss reaches only some parameters at some steps (e.g. the
    # stacked autoencoder's layer-wise pretraining): DDP must then look for unused parameters
    partial_updates: ClassVar[bool] = False
    # keyword options :meth:`sample` takes besides ``n`` and ``labels`` (a diffusion model's sampler,
    # steps, eta, guidance); `genlab sample` refuses the others
    sample_options: ClassVar[tuple[str, ...]] = ()
    # True for models with ``denoising_trajectory(frames, label, **sample_options)`` (diffusion)
    has_trajectory: ClassVar[bool] = False
    # True for style-based generators with ``mapping(z)``, ``synthesize(w)``, ``style_mix(rows, cols, ...)`` and
    # ``interpolate_w(steps, ...)`` (stylegan): `genlab style-mix` and w-space `genlab interpolate` take them
    has_styles: ClassVar[bool] = False
    # True for clip models with ``predict_frames(clips, k)``: the first k frames given, the rest generated
    # (`genlab predict`)
    predicts_frames: ClassVar[bool] = False
    # True for table models (ctgan, tvae): their config needs a table layout, so they are fitted
    # through genlab.tables (`genlab synth`), not `genlab train`; image tools (bench, grids) skip them
    tabular: ClassVar[bool] = False
    # True for models whose training grids are drawn from data, not noise (the image-to-image family:
    # input | output | target rows): the run layer passes ``data`` (a split) to :meth:`sample_grid`
    grid_from_data: ClassVar[bool] = False
    # the parts `genlab export` writes (genlab.runs.export.PARTS says what each takes and gives): 'sample'
    # (noise [+ labels] -> images: sample_from_noise), 'encoder' / 'decoder' (a LatentModel's encode / decode),
    # 'denoiser' (one evaluation of a diffusion network: denoiser_output). A part not declared is refused with
    # the model's reason from export_refusals (part -> why), or a generic one.
    export_parts: ClassVar[tuple[str, ...]] = ()
    export_refusals: ClassVar[dict[str, str]] = {}

    def __init__(self, config: Any):
        super().__init__()
        check_choices(config)  # a config built directly skipped from_dict's checks of its choices
        self.config = config
        self._counts_host: dict[str, int] = {}  # host copies of the counters of register_counter

    @property
    def num_classes(self) -> int:
        """Classes a conditional model takes (its config's ``num_classes``); 0 for unconditional models."""
        return int(self.config.num_classes) if self.requires_labels else 0

    @property
    def data_kind(self) -> str:
        """'tables' for a table model, else 'images' or 'sequences': the kind of data this model was
        built for (its config's ``data_shape``)."""
        return "tables" if self.tabular else data_kind(self.config.data_shape)

    # --- training contract -------------------------------------------------------------------
    def phases(self) -> list[Phase]:
        """The update phases of one training round (default: one phase over all parameters)."""
        return [Phase()]

    def phase_parameters(self, phase: Phase) -> list[nn.Parameter]:
        if not phase.modules:
            return [p for p in self.parameters() if p.requires_grad]
        return [p for name in phase.modules for p in self.get_submodule(name).parameters() if p.requires_grad]

    def losses(self, batch: Batch, phase: str = "model") -> Losses:
        """Named scalar losses for ``phase``; ``losses['loss']`` is the objective to minimize."""
        raise NotImplementedError

    def forward(self, batch: Batch, phase: str = "model") -> Losses:  # what DDP wraps
        return self.losses(batch, phase)

    def after_step(self, phase: str) -> None:
        """Called after each optimizer step of ``phase`` (weight clipping, EMA updates, ...)."""

    # --- update counters (models whose schedules depend on how far training is) ---------------------
    def register_counter(self, name: str = "updates", persistent: bool = True) -> None:
        """A counter buffer ``name`` (a long scalar on the model's device, saved in checkpoints; in the saved
        model too when ``persistent``) and its host copy, so :meth:`count` and :meth:`counted` never wait
        for the device: on a GPU, reading the buffer every step would synchronize every step. Loading a
        state dict forgets the host copies; the next read takes each from its buffer once."""
        self.register_buffer(name, torch.zeros((), dtype=torch.long), persistent=persistent)
        if not self._counts_host:  # the first counter
            self.register_load_state_dict_post_hook(_forget_counts)
        self._counts_host[name] = 0

    def count(self, name: str = "updates", n: int = 1) -> None:
        """Add ``n`` to counter ``name`` (the buffer on the device and its host copy)."""
        buffer = self.get_buffer(name)
        buffer += n
        if name in self._counts_host:
            self._counts_host[name] += n

    def counted(self, name: str = "updates") -> int:
        """Counter ``name`` so far, without a device sync (one after a state dict was loaded)."""
        if name not in self._counts_host:
            self._counts_host[name] = int(self.get_buffer(name))
        return self._counts_host[name]

    def training_records(self) -> list[dict[str, Any]]:
        """Records of the last training step the run writes to metrics.jsonl besides the losses (e.g.
        progan's ``stage`` changes: each a dict with a ``split`` naming its kind); default none."""
        return []

    @torch.no_grad()
    def evaluate(self, batch: Batch) -> dict[str, float]:
        """Validation metrics of one batch (default: the losses of the last phase)."""
        return {k: float(v) for k, v in self.losses(batch, self.phases()[-1].name).items()}

    # --- generation ----------------------------------------------------------------------------
    def sample(self, n: int, labels: torch.Tensor | None = None) -> torch.Tensor:
        """``n`` new images (N, C, H, W) in [0, 1]."""
        raise NotImplementedError(f"{self.registry_name} cannot sample")

    def noise_shape(self) -> tuple[int, ...]:
        """The shape of one noise item :meth:`sample_from_noise` takes (models that export 'sample')."""
        raise NotImplementedError(f"{self.registry_name} has no noise -> image path")

    def sample_from_noise(self, noise: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Images in [0, 1] from standard normal ``noise`` (N, *noise_shape()): :meth:`sample` without its
        random draw, a pure function (exported as the 'sample' part)."""
        raise NotImplementedError(f"{self.registry_name} has no noise -> image path")

    def denoiser_output(self, x_t: torch.Tensor, t: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """One evaluation of a diffusion model's sampling network (exported as the 'denoiser' part)."""
        raise NotImplementedError(f"{self.registry_name} has no denoiser")

    def sample_grid(self, n: int, **options: Any) -> tuple[torch.Tensor, int | None]:
        """About ``n`` samples laid out for a grid: (images, images per row or None for square).

        Conditional models (:attr:`num_classes` > 0) give one row per class, so a grid shows what each
        label produces. ``options`` go to :meth:`sample` (e.g. a diffusion model's sampler and step count).
        """
        classes = self.num_classes
        if not classes:
            return self.sample(n, **options), None
        per_row = max(1, n // classes)
        labels = default_labels(classes * per_row, classes, self.device, run=per_row)
        return self.sample(len(labels), labels=labels, **options), per_row

    def sampling_stage(self) -> tuple[str, dict[str, Any]] | None:
        """For models that grow while training (progan): (a name for the stage they now sample at,
        the :meth:`sample` options that draw that stage); the run layer saves a sample grid of each
        stage under that name. None (the default): the model has no stages."""
        return None

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    # --- persistence ---------------------------------------------------------------------------
    def save(self, directory: str | Path, weights: dict[str, torch.Tensor] | None = None) -> Path:
        """Write ``model_config.json`` and ``model.safetensors`` into ``directory``; ``weights``: a state dict
        of this model to write instead of its current one (e.g. an earlier state a run kept)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        save_state_dict(self.state_dict() if weights is None else weights, directory / MODEL_WEIGHTS)
        atomic_write_json(directory / MODEL_CONFIG,
                          formats.stamp({"model": self.registry_name, "config": to_dict(self.config)}))
        return directory

    @classmethod
    def load(cls, directory: str | Path, map_location: str | torch.device = "cpu") -> GenerativeModel:
        """Rebuild a saved model from its directory (no pickle, no outside knowledge)."""
        directory = Path(directory)
        cfg_path, weights = directory / MODEL_CONFIG, directory / MODEL_WEIGHTS
        if not cfg_path.is_file() or not weights.is_file():
            raise CheckpointError(f"{directory} holds no saved model ({MODEL_CONFIG} and {MODEL_WEIGHTS})")
        try:
            meta = read_json(cfg_path)
        except ValueError:
            raise CheckpointError(f"{cfg_path} is not a genlab model config") from None
        saved = formats.read_saved(formats.MODEL_CONFIG, meta, cfg_path)  # older formats migrated
        name, cfg = saved.body.get("model"), saved.body.get("config")
        if not isinstance(name, str) or not isinstance(cfg, dict):
            raise CheckpointError(f"{cfg_path} is not a genlab model config")
        if name not in registry.names():
            raise CheckpointError(f"{saved.origin} holds a '{name}' model, which this genlab does not have"
                                  f"{suggest(name, registry.names())}")
        entry = registry.get(name)
        if cls is not GenerativeModel and not issubclass(entry.model_class, cls):
            raise CheckpointError(f"{directory} holds a '{name}' model, not a {cls.__name__}")
        formats.refuse_unknown(saved, cfg, formats.config_fields(entry.config_class), f"the {name} config")
        model = entry.model_class(from_dict(entry.config_class, cfg, saved.origin))
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
        # conditional subclasses (cvae) extend encode/decode with labels; unconditional ones refuse them
        return self.encode(x) if labels is None else self.encode(x, labels)  # type: ignore[call-arg]

    def _images(self, z: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        return self.decode(z) if labels is None else self.decode(z, labels)  # type: ignore[call-arg]

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


class LikelihoodModel(LatentModel):
    """A latent model with a likelihood (the VAE family): the contract the 'nll' metric and the
    'elbo' / 'nll' anomaly scores check for (``isinstance`` / ``issubclass``).

    Both methods take optional ``labels`` (B,); unconditional models ignore them.
    """

    def elbo_terms(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-item reconstruction NLL and KL, each (B,), in nats."""
        raise NotImplementedError

    def log_likelihood(self, x: torch.Tensor, k: int = 1000, chunk: int = 250,
                       labels: torch.Tensor | None = None) -> torch.Tensor:
        """Importance-sampled estimate of log p(x) per item, (B,), in nats."""
        raise NotImplementedError


def _forget_counts(module: GenerativeModel, incompatible_keys: Any) -> None:
    # loading may replace the counter buffers (the trainer copies non-persistent buffers in after
    # load_state_dict); each host copy is read again from its buffer when next needed
    module._counts_host.clear()


def default_labels(n: int, num_classes: int, device: torch.device | str | None = None, run: int = 1) -> torch.Tensor:
    """The labels (n,) a conditional model gets when none are asked for: the one rule for them.

    Label i is ``(i // run) % num_classes``: with ``run`` 1 the classes in turn (0, 1, ..., K-1, 0, ...:
    metrics, a model's ``sample(n)``), with ``run`` the length of a grid row one class per row
    (0, 0, ..., 1, 1, ...: sample grids).
    """
    if num_classes < 1:
        raise ValueError(f"default labels need at least one class, got {num_classes}")
    return (torch.arange(n, device=device) // max(1, run)) % num_classes


def data_kind(shape: Sequence[int]) -> str:
    """'sequences' for a (T, F) item shape, 'images' for (C, H, W), 'clips' for (T, C, H, W)."""
    return {2: "sequences", 4: "clips"}.get(len(shape), "images")


def check_data_kind(model_class: type[GenerativeModel], dataset: ArrayDataset, model_name: str = "") -> None:
    """Refuse data a model cannot take (images for a sequence model, sequences for an image model).

    Raises:
        ConfigError: naming the kind the model takes and the models that take the dataset's kind.
    """
    from genlab import registry

    pairing = dataset.info.get("pairing") if isinstance(dataset.info, dict) else None
    kind = str(pairing["kind"]) if isinstance(pairing, dict) else data_kind(dataset.shape)  # 'pairs' / 'unpaired'
    if kind in model_class.data_kinds:
        return
    name = model_name or model_class.registry_name
    takers = [n for n in registry.names()
              if not n.startswith("test-") and kind in registry.get(n).model_class.data_kinds]
    shape = "x".join(map(str, dataset.shape))
    raise ConfigError(f"model '{name}' takes {' or '.join(model_class.data_kinds)}, but dataset '{dataset.name}' holds "
                      f"{kind} ({shape} per item); models that take {kind}: {', '.join(takers) or 'none'}")


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


__all__ = ["Batch", "GenerativeModel", "LatentModel", "LikelihoodModel", "Losses", "Phase", "check_data_kind",
           "data_kind", "default_labels", "interpolate_codes"]
