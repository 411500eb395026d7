"""Versions of genlab's saved JSON files, and the migrations that keep older files loading.

Every saved ``model_config.json`` (a model's name and config), every run's ``config.json``
(model, data and train configs) and every anomaly detector's ``detector.json`` carries two keys
besides its contents:

- ``format``: the layout version of the file, :data:`FORMAT` for files written now;
- ``genlab``: the version of genlab that wrote it (shown in error messages).

Reading a file (:func:`read_saved`) takes off those two keys, runs the file through
``MIGRATIONS[kind][n]`` for each format ``n`` from the file's format up to :data:`FORMAT`, and
refuses keys the current layout does not know, naming the file and the genlab version that wrote
it. A file without ``format`` is format 0: genlab 0.1.0, which wrote the same layout unstamped.

When a field is renamed or a layout changes: raise :data:`FORMAT` by one, append to each kind's
list a function that turns the previous format's dict into the new one, and keep a checked-in file
of the old format under ``tests/fixtures/`` that a test loads.

This module is neutral: models (``GenerativeModel.save/load``) and the run layer both use it; it
imports nothing above ``genlab.config`` and ``genlab.errors``.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from genlab.config import suggest
from genlab.errors import CheckpointError

FORMAT = 5
FORMAT_KEY = "format"
VERSION_KEY = "genlab"
FORMAT0_WRITER = "0.1.0"  # format 0 files carry no version; only genlab 0.1.0 wrote them

MODEL_CONFIG = "model_config"  # model_config.json: {"model": NAME, "config": {...}}
RUN_CONFIG = "run_config"  # a run's config.json: {"model": {"name", "config"}, "data": {...}, "train": {...}}
DETECTOR = "detector"  # an anomaly detector's detector.json: {"kind", "config", "state", "table_encoder"}

# the keys each kind of file holds in the current format
KEYS: dict[str, tuple[str, ...]] = {
    MODEL_CONFIG: ("model", "config"),
    RUN_CONFIG: ("model", "data", "train", "precision"),  # precision: what 'auto' resolved to, and why
    DETECTOR: ("kind", "config", "state", "table_encoder"),
}


def _format0_to_1(body: dict[str, Any]) -> dict[str, Any]:
    """Format 1 only added the ``format`` and ``genlab`` stamps; the contents are unchanged."""
    return body


def _unchanged(body: dict[str, Any]) -> dict[str, Any]:
    """A format step that changed another kind of file only."""
    return body


def _run_config_1_to_2(body: dict[str, Any]) -> dict[str, Any]:
    """Format 2: ``train.eval_batches`` 0 means no validation; the whole split, which 0 meant before, is None."""
    train = body.get("train")
    if isinstance(train, dict) and train.get("eval_batches") == 0:
        body = {**body, "train": {**train, "eval_batches": None}}
    return body


SR_MODELS = ("srresnet", "srgan")


def _sr_config_2_to_3(name: Any, config: Any) -> Any:
    """Format 3: srresnet / srgan configs have ``residual`` (True by default since); a config saved
    without it is the whole-image generator it was trained as (residual False)."""
    if name in SR_MODELS and isinstance(config, dict) and "residual" not in config:
        return {**config, "residual": False}
    return config


def _model_config_2_to_3(body: dict[str, Any]) -> dict[str, Any]:
    return {**body, "config": _sr_config_2_to_3(body.get("model"), body.get("config"))} if "config" in body else body


def _run_config_2_to_3(body: dict[str, Any]) -> dict[str, Any]:
    model = body.get("model")
    if isinstance(model, dict) and "config" in model:
        body = {**body, "model": {**model, "config": _sr_config_2_to_3(model.get("name"), model["config"])}}
    return body


def _video_3_to_4(name: Any, config: Any) -> Any:
    """Format 4: video-vae configs have ``latent`` ('per-frame' by default since) and video-gan configs
    ``output`` ('linear' by default since); a config saved without them is the model it was trained as:
    the one-latent-per-clip VAE ('per-clip', without the per-frame design's static code), the GAN whose
    frame generator ends in a tanh."""
    if name == "video-vae" and isinstance(config, dict) and "latent" not in config:
        return {**config, "latent": "per-clip", "static_dim": 0}
    if name == "video-gan" and isinstance(config, dict) and "output" not in config:
        return {**config, "output": "tanh"}
    return config


def _model_config_3_to_4(body: dict[str, Any]) -> dict[str, Any]:
    return {**body, "config": _video_3_to_4(body.get("model"), body.get("config"))} if "config" in body else body


def _run_config_3_to_4(body: dict[str, Any]) -> dict[str, Any]:
    model = body.get("model")
    if isinstance(model, dict) and "config" in model:
        body = {**body, "model": {**model, "config": _video_3_to_4(model.get("name"), model["config"])}}
    return body


# what a video-gan config saved before format 5 left out, and meant (the defaults of format 4)
VIDEO_GAN_FORMAT4 = {"image_frames": 1, "image_norm": "none", "image_batch": 0, "motion_init": "zero"}


def _video_4_to_5(name: Any, config: Any) -> Any:
    """Format 5: video-gan's defaults became MoCoGAN's image batch (``image_batch`` 64), a random initial
    motion state (``motion_init`` 'noise') and a batch-normalized image discriminator (``image_norm``);
    a config saved without them is the model it was trained as (:data:`VIDEO_GAN_FORMAT4`)."""
    if name == "video-gan" and isinstance(config, dict):
        return {**{k: v for k, v in VIDEO_GAN_FORMAT4.items() if k not in config}, **config}
    return config


def _model_config_4_to_5(body: dict[str, Any]) -> dict[str, Any]:
    return {**body, "config": _video_4_to_5(body.get("model"), body.get("config"))} if "config" in body else body


def _run_config_4_to_5(body: dict[str, Any]) -> dict[str, Any]:
    model = body.get("model")
    if isinstance(model, dict) and "config" in model:
        body = {**body, "model": {**model, "config": _video_4_to_5(model.get("name"), model["config"])}}
    return body


# MIGRATIONS[kind][n] turns the contents of a format-n file into format n + 1
MIGRATIONS: dict[str, list[Callable[[dict[str, Any]], dict[str, Any]]]] = {
    MODEL_CONFIG: [_format0_to_1, _unchanged, _model_config_2_to_3, _model_config_3_to_4, _model_config_4_to_5],
    RUN_CONFIG: [_format0_to_1, _run_config_1_to_2, _run_config_2_to_3, _run_config_3_to_4, _run_config_4_to_5],
    # detectors were written as format 1 from the start
    DETECTOR: [_format0_to_1, _unchanged, _unchanged, _unchanged, _unchanged],
}


def _current_version() -> str:
    from genlab import __version__  # the package's own version; `import genlab` is light

    return __version__


def stamp(body: dict[str, Any]) -> dict[str, Any]:
    """``body`` as written now: ``format`` and ``genlab`` first, then the contents."""
    return {FORMAT_KEY: FORMAT, VERSION_KEY: _current_version(), **body}


@dataclass(frozen=True)
class Saved:
    """A saved file read and migrated to the current format.

    Attributes:
        body: the contents in the current layout (without ``format`` / ``genlab``).
        format: the format the file was written in.
        writer: the genlab version that wrote it.
        path: where it was read from.
    """

    body: dict[str, Any]
    format: int
    writer: str
    path: Path

    @property
    def origin(self) -> str:
        """``PATH (written by genlab X)``, for messages about this file's contents."""
        return f"{self.path} (written by genlab {self.writer})"

    def stamped(self) -> dict[str, Any]:
        """The migrated contents with the stamps of the file they came from (``format`` is current,
        since the contents now are; ``genlab`` stays the version that wrote the file)."""
        return {FORMAT_KEY: FORMAT, VERSION_KEY: self.writer, **self.body}


def read_saved(kind: str, data: Any, path: str | Path) -> Saved:
    """Check and migrate the parsed JSON ``data`` of a saved file of ``kind`` read from ``path``.

    Raises:
        CheckpointError: not a JSON object, a format newer than this genlab reads, or an unknown key.
    """
    path = Path(path)
    if not isinstance(data, dict):
        raise CheckpointError(f"{path} is not a genlab {kind.replace('_', ' ')} file (not a JSON object)")
    version = data.get(FORMAT_KEY, 0)
    writer = data.get(VERSION_KEY, FORMAT0_WRITER if version == 0 else "of unknown version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 0:
        raise CheckpointError(f"{path} has an invalid format {version!r} (written by genlab {writer})")
    if version > FORMAT:
        raise CheckpointError(f"{path} is in format {version}, written by genlab {writer}; this genlab "
                              f"({_current_version()}) reads formats up to {FORMAT}: upgrade genlab to load it")
    body = {k: v for k, v in data.items() if k not in (FORMAT_KEY, VERSION_KEY)}
    for migrate in MIGRATIONS[kind][version:FORMAT]:
        body = migrate(body)
    saved = Saved(body, version, str(writer), path)
    refuse_unknown(saved, body, KEYS[kind])
    return saved


def config_fields(config_class: type) -> list[str]:
    """The field names of a config dataclass: the keys its saved form may hold."""
    return [f.name for f in dataclasses.fields(config_class)]


def refuse_unknown(saved: Saved, section: Any, known: Iterable[str], where: str = "") -> None:
    """Raise if the dict ``section`` of a saved file has a key outside ``known``.

    Args:
        saved: the file (for its path and writer).
        section: the dict to check.
        known: the keys the current genlab understands there.
        where: the section's name in the message ('data', 'model config', ...); '' = top level.
    """
    if not isinstance(section, dict):
        raise CheckpointError(f"{saved.origin}: {where or 'the file'} is not a JSON object")
    known = list(known)
    unknown = sorted(set(section) - set(known))
    if unknown:
        place = f" in {where}" if where else ""
        raise CheckpointError(f"{saved.origin}: unknown key '{unknown[0]}'{place}{suggest(unknown[0], known)}; "
                              f"this genlab ({_current_version()}) does not know it")
