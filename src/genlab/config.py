"""Typed configuration: dataclasses that round-trip through JSON and reject unknown keys.

A run is described by three configs: the model's own (one dataclass per model family, found in
the registry), :class:`DataConfig` and :class:`TrainConfig`. All three are written out in full
(every default resolved) to ``config.json`` in the run directory.
"""
from __future__ import annotations

import dataclasses
import difflib
import json
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from genlab.errors import ConfigError

C = TypeVar("C")


def suggest(word: str, choices: typing.Iterable[str]) -> str:
    """' (did you mean 'x'?)' for the closest choice, or '' when nothing is close."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def to_dict(cfg: Any) -> dict[str, Any]:
    """A config dataclass as a JSON-ready dict (tuples become lists)."""
    return json.loads(json.dumps(dataclasses.asdict(cfg)))


def _coerce(value: Any, annotation: Any, where: str) -> Any:
    """Convert a JSON/CLI value to the field's annotated type, or raise ConfigError."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, where)
            except ConfigError as e:
                errors.append(str(e))
        raise ConfigError(errors[0] if errors else f"{where}: invalid value {value!r}")
    if origin is typing.Literal:
        if value not in args:
            raise ConfigError(f"{where}: {value!r} is not one of {', '.join(map(str, args))}{suggest(str(value), map(str, args))}")
        return value
    if origin in (tuple, list):
        if isinstance(value, str):
            value = [v for v in value.replace(",", " ").split() if v]
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        item = args[0] if args else Any
        seq = [_coerce(v, item, where) for v in value]
        return tuple(seq) if origin is tuple else seq
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        key_type, value_type = args if len(args) == 2 else (Any, Any)  # e.g. phase_lr: str -> float
        return {_coerce(k, key_type, where): _coerce(v, value_type, where) for k, v in value.items()}
    if annotation is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "1", "yes", "on", "false", "0", "no", "off"):
            return value.lower() in ("true", "1", "yes", "on")
        raise ConfigError(f"{where}: expected true or false, got {value!r}")
    if annotation is int:
        if isinstance(value, bool):
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        try:
            f = float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{where}: expected an integer, got {value!r}") from None
        if f != int(f):
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        return int(f)
    if annotation is float:
        try:
            return float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{where}: expected a number, got {value!r}") from None
    if annotation is str:
        if not isinstance(value, (str, int, float)):
            raise ConfigError(f"{where}: expected a string, got {value!r}")
        return str(value)
    return value


def from_dict(cls: type[C], data: dict[str, Any], where: str = "config") -> C:
    """Build ``cls`` from a dict, rejecting unknown keys with a 'did you mean' suggestion."""
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping of keys to values")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls) if f.init]
    kwargs = {}
    for key, value in data.items():
        if key not in names:
            raise ConfigError(f"unknown key '{key}' in {where}{suggest(key, names)}")
        kwargs[key] = _coerce(value, hints[key], f"{where}.{key}")
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"{where}: {e}") from None


def replace(cfg: C, **changes: Any) -> C:
    """``dataclasses.replace`` with the same key and type checks as :func:`from_dict`."""
    return from_dict(type(cfg), {**dataclasses.asdict(cfg), **changes}, type(cfg).__name__)


def field_names(cls: type) -> list[str]:
    return [f.name for f in dataclasses.fields(cls) if f.init]


@dataclass
class DataConfig:
    """Which data to train on and how to present it.

    Attributes:
        dataset: a name ('mnist', 'digits') or 'kind:PATH' ('folder:DIR', 'idx:PATH',
            'cifar10:DIR', 'npz:FILE').
        binarize: 'none' (grayscale/RGB values), 'dynamic' (a fresh Bernoulli sample of every
            pixel each time an image is drawn) or 'static' (threshold at 0.5).
        image_size: resize (and center-crop) images to this square size; None keeps the size.
        channels: 1 (grayscale) or 3 (RGB); None keeps what the data has.
        skip_bad_files: skip unreadable files in an image folder (and report how many) instead
            of stopping at the first one.
        limit: use only the first N training items (quick experiments and tests).
        validation_fraction, test_fraction: split shares for sources without their own split.
        window: length of the windows cut from a time series (csv:FILE, named series).
        stride: steps between the starts of consecutive windows.
        columns: numeric columns of a table or series to use (empty = all numeric columns).
    """

    dataset: str = "mnist"
    binarize: typing.Literal["none", "dynamic", "static"] = "none"
    image_size: int | None = None
    channels: int | None = None
    skip_bad_files: bool = False
    limit: int | None = None
    validation_fraction: float = 0.1
    test_fraction: float = 0.1
    window: int = 32
    stride: int = 1
    columns: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.window < 2:
            raise ValueError(f"window must be at least 2, got {self.window}")
        if self.stride < 1:
            raise ValueError(f"stride must be at least 1, got {self.stride}")
        if self.channels not in (None, 1, 3):
            raise ValueError(f"channels must be 1 or 3, got {self.channels}")
        if self.image_size is not None and self.image_size < 4:
            raise ValueError(f"image_size must be at least 4, got {self.image_size}")
        if self.limit is not None and self.limit < 1:
            raise ValueError(f"limit must be positive, got {self.limit}")


@dataclass
class OptimizerConfig:
    """An optimizer: 'adam', 'adamw', 'sgd' or 'rmsprop' with its learning rate and settings."""

    name: typing.Literal["adam", "adamw", "sgd", "rmsprop"] = "adam"
    lr: float = 1e-3
    betas: tuple[float, float] = (0.9, 0.999)
    weight_decay: float = 0.0
    momentum: float = 0.0


@dataclass
class TrainConfig:
    """How to train: length, optimization, precision, devices, logging and checkpoints.

    Attributes:
        epochs: passes over the training split (ignored when ``steps`` is set).
        steps: total optimizer rounds (one round = every phase of the model once); overrides epochs.
        batch_size: global batch size (split evenly across processes under torchrun).
        optimizer, lr, betas: the optimizer of every phase. Left unset, a phase uses its model's
            own choice (e.g. RMSprop 5e-5 for the WGAN critic) or else adam, 1e-3, (0.9, 0.999);
            set, they override the model's choice for every phase.
        weight_decay, momentum: optimizer settings for phases without a model default.
        phase_lr: learning rates of named phases (e.g. discriminator=4e-4), over everything else.
        schedule: 'constant', 'cosine' (to zero over the run) or 'step' (x0.1 at 50% and 75%).
        warmup_steps: linear warm-up at the start of any schedule.
        grad_clip: clip each phase's gradient norm to this value (0 = off).
        seed, deterministic: reproducibility; deterministic mode also makes resume bit-exact.
        device: 'auto' (cuda, then mps, then cpu), 'cpu', 'cuda', 'cuda:N' or 'mps'.
        precision: 'auto' (bf16 autocast where the hardware computes bf16 natively and it pays, fp32
            elsewhere; see genlab.precision), 'fp32', or 'bf16' (autocast; losses stay in fp32).
        sample_every: save a sample grid every N epochs (0 = only at the end).
        checkpoint_every: also checkpoint every N steps inside an epoch (0 = at epoch ends only).
        log_every: write a train line to metrics.jsonl every N steps (0 = per epoch only).
        eval_batches: limit validation to this many batches (0 = the whole split).
        time_budget: stop (with a checkpoint) after this many seconds of training.
        budget_clock: what the time budget counts: 'wall' (seconds of training loop, data + compute) or
            'cpu' (CPU seconds the process spent in it, all threads: fair on a shared machine).
        mode_check: after each sample grid, classify samples with the dataset's evaluation classifier
            and warn when they cover few classes (mode collapse). 'auto': adversarial models, when the
            classifier is already cached; 'on': any generative model, building the classifier if needed.
        num_samples: images in each sample grid.
    """

    epochs: int = 10
    steps: int | None = None
    batch_size: int = 128
    optimizer: typing.Literal["adam", "adamw", "sgd", "rmsprop"] | None = None
    lr: float | None = None
    betas: tuple[float, float] | None = None
    weight_decay: float = 0.0
    momentum: float = 0.0
    phase_lr: dict[str, float] = field(default_factory=dict)
    schedule: typing.Literal["constant", "cosine", "step"] = "constant"
    warmup_steps: int = 0
    grad_clip: float = 0.0
    seed: int = 0
    deterministic: bool = False
    device: str = "auto"
    precision: typing.Literal["auto", "fp32", "bf16"] = "auto"
    sample_every: int = 1
    checkpoint_every: int = 0
    log_every: int = 50
    eval_batches: int = 0
    time_budget: float | None = None
    budget_clock: typing.Literal["wall", "cpu"] = "wall"
    mode_check: typing.Literal["auto", "on", "off"] = "auto"
    num_samples: int = 64

    def __post_init__(self) -> None:
        if self.epochs < 1:
            raise ValueError(f"epochs must be at least 1, got {self.epochs}")
        if self.steps is not None and self.steps < 1:
            raise ValueError(f"steps must be at least 1, got {self.steps}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {self.batch_size}")
        if self.lr is not None and self.lr <= 0:
            raise ValueError(f"lr must be positive, got {self.lr}")
        if any(v <= 0 for v in self.phase_lr.values()):
            raise ValueError(f"phase_lr values must be positive, got {self.phase_lr}")

    def optimizer_for(self, model_default: OptimizerConfig | None, phase: str) -> OptimizerConfig:
        """The optimizer of one phase: the model's default (or the library's), then the settings
        given here, then ``phase_lr``."""
        base = model_default or OptimizerConfig(weight_decay=self.weight_decay, momentum=self.momentum)
        given = {"name": self.optimizer, "lr": self.lr, "betas": None if self.betas is None else tuple(self.betas)}
        base = dataclasses.replace(base, **{k: v for k, v in given.items() if v is not None})
        if phase in self.phase_lr:
            base = dataclasses.replace(base, lr=self.phase_lr[phase])
        return base


def read_config_file(path: str | Path) -> dict[str, Any]:
    """Read a JSON or TOML config file with sections 'model', 'data', 'train' (all optional)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    text = path.read_text()
    try:
        if path.suffix == ".toml":
            import tomllib

            data = tomllib.loads(text)
        else:
            data = json.loads(text)
    except Exception as e:  # noqa: BLE001 - any parse error is the user's file
        raise ConfigError(f"cannot parse config file {path}: {e}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path}: expected a mapping at the top level")
    unknown = set(data) - {"model", "data", "train"}
    if unknown:
        key = sorted(unknown)[0]
        raise ConfigError(f"unknown section '{key}' in {path}{suggest(key, ['model', 'data', 'train'])}")
    return data
