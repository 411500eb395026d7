"""Typed configuration: dataclasses that round-trip through JSON and reject unknown keys.

A run is described by three configs: the model's own (one dataclass per model family, found in
the registry), :class:`DataConfig` and :class:`TrainConfig`. All three are written out in full
(every default resolved) to ``config.json`` in the run directory.
"""
from __future__ import annotations

import dataclasses
import difflib
import functools
import json
import math
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from genlab.errors import ConfigError

C = TypeVar("C")

# choices shared by configs and the settings built from them (genlab bench): one spelling each
Binarize = typing.Literal["none", "dynamic", "static"]
PrecisionChoice = typing.Literal["auto", "fp32", "bf16"]
BudgetClock = typing.Literal["wall", "cpu"]


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
            hint = suggest(str(value), map(str, args))
            raise ConfigError(f"{where}: {value!r} is not one of {', '.join(map(str, args))}{hint}")
        return value
    if origin in (tuple, list):
        if isinstance(value, str):
            value = [v for v in value.replace(",", " ").split() if v]
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        if origin is tuple and args and args[-1] is not Ellipsis:  # fixed length: tuple[float, float]
            if len(value) != len(args):
                raise ConfigError(f"{where}: expected {len(args)} values, got {len(value)} "
                                  f"({', '.join(map(str, value)) or 'none'})")
            return tuple(_coerce(v, a, where) for v, a in zip(value, args, strict=True))
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
        return _to_int(value, where)
    if annotation is float:
        return _to_float(value, where)
    if annotation is str:
        if not isinstance(value, (str, int, float)):
            raise ConfigError(f"{where}: expected a string, got {value!r}")
        return str(value)
    return value


# the largest integer a config field holds (anything larger cannot be a count, size or seed)
MAX_INT = 2**63 - 1


def _to_float(value: Any, where: str) -> float:
    """A finite float from a number or a numeric string; NaN and infinities are refused."""
    if isinstance(value, bool):
        raise ConfigError(f"{where}: expected a number, got {value!r}")
    try:
        f = float(value)
    except (TypeError, ValueError, OverflowError):
        raise ConfigError(f"{where}: expected a number, got {value!r}") from None
    if not math.isfinite(f):
        raise ConfigError(f"{where}: expected a finite number, got {value!r}")
    return f


def _to_int(value: Any, where: str) -> int:
    """An integer from an int, an integral float ('3', '3.0', '1e3') or a numeric string."""
    if isinstance(value, bool):
        raise ConfigError(f"{where}: expected an integer, got {value!r}")
    n: int | None
    if isinstance(value, int):
        n = value
    else:
        try:
            n = int(str(value).strip()) if isinstance(value, str) else None  # exact for long digit strings
        except ValueError:
            n = None
        if n is None:
            try:
                f = float(value)
            except (TypeError, ValueError, OverflowError):
                raise ConfigError(f"{where}: expected an integer, got {value!r}") from None
            if not math.isfinite(f):
                raise ConfigError(f"{where}: expected a finite integer, got {value!r}")
            if f != int(f):
                raise ConfigError(f"{where}: expected an integer, got {value!r}")
            n = int(f)
    assert n is not None
    if abs(n) > MAX_INT:
        raise ConfigError(f"{where}: {value!r} is too large (at most {MAX_INT})")
    return n


def check_range(name: str, value: float | None, low: float | None = None, high: float | None = None, *,
                low_open: bool = False, high_open: bool = False) -> None:
    """Raise ValueError (which :func:`from_dict` turns into a ConfigError) when ``value`` lies
    outside [low, high] (an open end excludes the bound); ``None`` values pass."""
    if value is None:
        return
    bad_low = low is not None and (value <= low if low_open else value < low)
    bad_high = high is not None and (value >= high if high_open else value > high)
    if bad_low or bad_high:
        if high is None:
            need = f"{'>' if low_open else '>='} {low}"
        elif low is None:
            need = f"{'<' if high_open else '<='} {high}"
        else:
            need = f"in {'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
        raise ValueError(f"{name} must be {need}, got {value}")


MAX_WIDTH = 65_536  # units or channels of one layer; more does not fit in memory


def check_sizes(name: str, value: int | typing.Sequence[int], minimum: int = 1, maximum: int = MAX_WIDTH,
                non_empty: bool = False) -> None:
    """Raise ValueError unless ``value`` (a layer size, or each of a tuple of sizes) lies in
    [minimum, maximum]; ``non_empty`` also refuses an empty tuple."""
    values = [value] if isinstance(value, int) else list(value)
    if non_empty and not values:
        raise ValueError(f"{name} needs at least one value")
    for v in values:
        if not minimum <= v <= maximum:
            raise ValueError(f"{name} must be {'' if isinstance(value, int) else 'values '}between {minimum} and "
                             f"{maximum}, got {v if isinstance(value, int) else tuple(values)}")


def check_betas(name: str, betas: Any) -> None:
    """Adam's (beta1, beta2): two values, each in [0, 1)."""
    if betas is None:
        return
    if len(betas) != 2:
        raise ValueError(f"{name} must be two values (beta1, beta2), got {len(betas)}")
    for i, b in enumerate(betas):
        check_range(f"{name}[{i}]", b, 0, 1, high_open=True)


def check_phase_names(phase_lr: dict[str, float], phase_names: typing.Iterable[str]) -> None:
    """Refuse ``phase_lr`` keys that name no phase of the model (ConfigError naming the phases)."""
    names = list(phase_names)
    for key in phase_lr:
        if key not in names:
            raise ConfigError(f"--phase-lr: the model has no phase '{key}'{suggest(key, names)}; "
                              f"its phases: {', '.join(names)}")


def from_dict(cls: type[C], data: dict[str, Any], where: str = "config") -> C:
    """Build ``cls`` from a dict, rejecting unknown keys with a 'did you mean' suggestion."""
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping of keys to values")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(typing.cast(Any, cls)) if f.init]  # C: any dataclass
    kwargs = {}
    for key, value in data.items():
        if key not in names:
            raise ConfigError(f"unknown key '{key}' in {where}{suggest(key, names)}")
        kwargs[key] = _coerce(value, hints[key], f"{where}.{key}")
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"{where}: {e}") from None


@functools.cache
def _choice_fields(cls: type) -> tuple[tuple[str, tuple[Any, ...]], ...]:
    """(name, allowed values) of a config dataclass's fields typed as a Literal (or an optional one)."""
    out = []
    for f in dataclasses.fields(cls):
        hint = typing.get_type_hints(cls)[f.name]
        args = typing.get_args(hint) if typing.get_origin(hint) in (typing.Union, types.UnionType) else (hint,)
        choices = tuple(v for a in args if typing.get_origin(a) is typing.Literal for v in typing.get_args(a))
        if choices and f.init:
            out.append((f.name, choices + ((None,) if type(None) in args else ())))
    return tuple(out)


def check_choices(cfg: Any) -> None:
    """Refuse a config dataclass whose Literal-typed fields hold a value outside their choices.

    :func:`from_dict` checks them as it converts (CLI, JSON, API dicts); this is the same rule for a
    config built directly (``VAEConfig(prior='x')``), called where a model or run takes its config."""
    if not dataclasses.is_dataclass(cfg) or isinstance(cfg, type):
        return
    for name, choices in _choice_fields(type(cfg)):
        value = vars(cfg)[name]
        if value not in choices:
            shown = [str(c) for c in choices if c is not None]
            raise ConfigError(f"{type(cfg).__name__}.{name}: {value!r} is not one of {', '.join(shown)}"
                              f"{suggest(str(value), shown)}")


def replace(cfg: C, **changes: Any) -> C:
    """``dataclasses.replace`` with the same key and type checks as :func:`from_dict`."""
    return from_dict(type(cfg), {**dataclasses.asdict(typing.cast(Any, cfg)), **changes}, type(cfg).__name__)


def field_names(cls: type) -> list[str]:
    return [f.name for f in dataclasses.fields(cls) if f.init]


MAX_IMAGE_SIZE = 4096  # pixels on a side; more is a typo, not a dataset
MAX_SAMPLES = 10_000  # images in one sample grid


@dataclass
class DataConfig:
    """Which data to train on and how to present it.

    Attributes:
        dataset: a name ('mnist', 'digits', or a named series such as 'co2') or 'kind:PATH'
            ('folder:DIR', 'idx:PATH', 'cifar10:DIR', 'npz:FILE', 'csv:FILE'); `genlab datasets`
            and `genlab train --help` list them all.
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
        pair_layout: how a 'pairs:DIR' dataset stores its pairs: 'folders' (DIR/A/ and DIR/B/
            with files of the same names) or 'side-by-side' (each image of DIR is A | B).
        clip_length: frames per clip of a generated clip dataset (moving-mnist).
    """

    dataset: str = "mnist"
    binarize: Binarize = "none"
    image_size: int | None = None
    channels: int | None = None
    skip_bad_files: bool = False
    limit: int | None = None
    validation_fraction: float = 0.1
    test_fraction: float = 0.1
    window: int = 32
    stride: int = 1
    columns: tuple[str, ...] = ()
    pair_layout: typing.Literal["folders", "side-by-side"] = "folders"
    clip_length: int = 16

    def __post_init__(self) -> None:
        check_choices(self)
        if not 2 <= self.clip_length <= 256:
            raise ValueError(f"clip_length must be in 2..256, got {self.clip_length}")
        if self.window < 2:
            raise ValueError(f"window must be at least 2, got {self.window}")
        if self.stride < 1:
            raise ValueError(f"stride must be at least 1, got {self.stride}")
        if self.channels not in (None, 1, 3):
            raise ValueError(f"channels must be 1 or 3, got {self.channels}")
        if self.image_size is not None and self.image_size < 4:
            raise ValueError(f"image_size must be at least 4, got {self.image_size}")
        if self.image_size is not None and self.image_size > MAX_IMAGE_SIZE:
            raise ValueError(f"image_size must be at most {MAX_IMAGE_SIZE}, got {self.image_size}")
        if self.limit is not None and self.limit < 1:
            raise ValueError(f"limit must be positive, got {self.limit}")
        check_range("validation_fraction", self.validation_fraction, 0, 1, high_open=True)
        check_range("test_fraction", self.test_fraction, 0, 1, high_open=True)
        if self.validation_fraction + self.test_fraction >= 1:
            raise ValueError(f"validation_fraction + test_fraction must be below 1 (something must be left to "
                             f"train on), got {self.validation_fraction} + {self.test_fraction}")


@dataclass
class OptimizerConfig:
    """An optimizer: 'adam', 'adamw', 'sgd' or 'rmsprop' with its learning rate and settings."""

    name: typing.Literal["adam", "adamw", "sgd", "rmsprop"] = "adam"
    lr: float = 1e-3
    betas: tuple[float, float] = (0.9, 0.999)
    weight_decay: float = 0.0
    momentum: float = 0.0

    def __post_init__(self) -> None:
        check_choices(self)
        check_range("lr", self.lr, 0, low_open=True)
        check_betas("betas", self.betas)
        check_range("weight_decay", self.weight_decay, 0)
        check_range("momentum", self.momentum, 0, 1, high_open=True)


# TrainConfig fields only the run layer reads (a run directory's grids, checkpoints, mode monitor,
# report, TensorBoard): commands that train in memory without a run (``anomaly fit``) do not offer them.
RUN_ONLY_FIELDS = ("sample_every", "checkpoint_every", "mode_check", "keep_best", "keep_best_samples",
                   "keep_best_every", "num_samples", "report", "tensorboard")


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
        schedule: 'constant', 'cosine' (to zero over the run), 'step' (x0.1 at 50% and 75%) or
            'decay' (constant for the first half, then linearly to zero: CycleGAN's). "The run" is its
            steps, or its ``time_budget`` when one is set (whichever is further along): a run that its
            budget ends anneals over the budget.
        warmup_steps: linear warm-up at the start of any schedule.
        grad_clip: clip each phase's gradient norm to this value (0 = off).
        seed, deterministic: reproducibility; deterministic mode also makes resume bit-exact.
        compile: run the model's forward pass (its losses) through torch.compile (inductor). It trains,
            checkpoints and resumes like eager mode; it costs a compile at the start of every process
            and was measured slower than eager on a CPU for genlab's default models (docs/benchmarks.md).
        channels_last: keep the model's 4-D weights and every image batch in the channels-last memory
            layout (NHWC), which conv kernels often run faster in (DCGAN on a CPU: ~1.1x; docs/benchmarks.md).
            The same values, other float rounding: a run resumes exactly with the same setting.
        device: 'auto' (cuda, then mps, then cpu), 'cpu', 'cuda', 'cuda:N' or 'mps'.
        precision: 'auto' (bf16 autocast where the hardware computes bf16 natively and it pays, fp32
            elsewhere; see genlab.precision), 'fp32', or 'bf16' (autocast; losses stay in fp32).
        sample_every: save a sample grid every N epochs (0 = only at the end).
        checkpoint_every: also checkpoint every N steps inside an epoch (0 = at epoch ends only).
        log_every: write a train line to metrics.jsonl every N steps (0 = per epoch only).
        eval_batches: limit validation to this many batches (None = the whole split; 0 = no validation).
            Validation and sample grids run outside the time budget (it counts training rounds only).
        time_budget: stop (with a checkpoint) after this many seconds of training (None = no limit).
        budget_clock: what the time budget counts: 'wall' (seconds of training loop, data + compute) or
            'cpu' (CPU seconds the process spent in it, all threads: fair on a shared machine).
        mode_check: after each sample grid, classify samples with the dataset's evaluation classifier
            and warn when they cover few classes (mode collapse). 'auto': adversarial models, when the
            classifier is already cached; 'on': any generative model, building the classifier if needed.
        keep_best: 'fd': at every epoch end (and the run's end) measure the FD of samples against the
            validation images (the dataset's evaluation extractor, built once if needed) and keep the model
            of the lowest so far in RUN/best (early stopping for GANs; genlab.runs.selection); 'off': not.
        keep_best_samples: samples (and validation images) per --keep-best measurement.
        keep_best_every: measure every this many steps (and at the run's end) instead of at epoch ends
            (0): for long epochs, e.g. a GAN on 60k images at batch 16 (3,750 steps an epoch).
        num_samples: images in each sample grid.
        report: write RUN/report.html (genlab report) when the run ends (--no-report: not).
        tensorboard: also log scalars, sample grids and the config for TensorBoard into RUN/tensorboard
            (needs the tensorboard package: pip install genlab[tensorboard]); metrics.jsonl stays the record.
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
    schedule: typing.Literal["constant", "cosine", "step", "decay"] = "constant"
    warmup_steps: int = 0
    grad_clip: float = 0.0
    seed: int = 0
    deterministic: bool = False
    compile: bool = False
    channels_last: bool = False
    device: str = "auto"
    precision: PrecisionChoice = "auto"
    sample_every: int = 1
    checkpoint_every: int = 0
    log_every: int = 50
    eval_batches: int | None = None
    time_budget: float | None = None
    budget_clock: BudgetClock = "wall"
    mode_check: typing.Literal["auto", "on", "off"] = "auto"
    keep_best: typing.Literal["off", "fd"] = "off"
    keep_best_samples: int = 1000
    keep_best_every: int = 0
    num_samples: int = 64
    report: bool = True
    tensorboard: bool = False

    def __post_init__(self) -> None:
        check_choices(self)
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
        check_betas("betas", self.betas)
        check_range("weight_decay", self.weight_decay, 0)
        check_range("momentum", self.momentum, 0, 1, high_open=True)
        check_range("warmup_steps", self.warmup_steps, 0)
        check_range("grad_clip", self.grad_clip, 0)
        check_range("seed", self.seed, 0, 2**32, high_open=True)
        check_range("sample_every", self.sample_every, 0)
        check_range("checkpoint_every", self.checkpoint_every, 0)
        check_range("log_every", self.log_every, 0)
        check_range("eval_batches", self.eval_batches, 0)
        check_range("time_budget", self.time_budget, 0)
        check_range("num_samples", self.num_samples, 1, MAX_SAMPLES)
        check_range("keep_best_samples", self.keep_best_samples, 2, 100_000)
        check_range("keep_best_every", self.keep_best_every, 0)

    def optimizer_for(self, model_default: OptimizerConfig | None, phase: str) -> OptimizerConfig:
        """The optimizer of one phase: the model's default (or the library's), then the settings
        given here, then ``phase_lr``."""
        base = model_default or OptimizerConfig(weight_decay=self.weight_decay, momentum=self.momentum)
        given: dict[str, Any] = {"name": self.optimizer, "lr": self.lr,
                                 "betas": None if self.betas is None else tuple(self.betas)}
        base = dataclasses.replace(base, **{k: v for k, v in given.items() if v is not None})
        if phase in self.phase_lr:
            base = dataclasses.replace(base, lr=self.phase_lr[phase])
        return base


def read_config_file(path: str | Path) -> dict[str, Any]:
    """Read a JSON or TOML config file with sections 'model', 'data', 'train' (all optional)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as e:
        raise ConfigError(f"cannot read config file {path}: not UTF-8 text (byte {e.start}); "
                          f"save it as UTF-8 JSON or TOML") from None
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
