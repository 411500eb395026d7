"""Training without a run directory: build a registered model for some splits, and fit it in memory.

Applications below the run layer (the anomaly detector, table models, metrics) train through
these; the run layer (:mod:`genlab.runs`) uses them too and adds directories, logs and checkpoints
as callbacks.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import torch

from genlab import registry
from genlab.config import TrainConfig, from_dict, to_dict
from genlab.data.base import Splits
from genlab.data.pairs import pairing_of
from genlab.errors import ConfigError
from genlab.models.base import GenerativeModel, check_data_kind
from genlab.training.callbacks import Callback
from genlab.training.trainer import Trainer


def data_fields(model_config_class: type, splits: Any) -> dict[str, Any]:
    """Values of the data-derived model config fields (``data_shape``, ``num_classes``, ``factor_dim``; for the packed
    image pairs of :mod:`genlab.data.pairs`, ``a_channels`` and ``pair_scale``: 0 and 1 for plain images)."""
    names = {f.name for f in dataclasses.fields(model_config_class)}
    derived: dict[str, Any] = {}
    if "data_shape" in names:
        derived["data_shape"] = list(splits.train.shape)
    if "num_classes" in names:
        derived["num_classes"] = splits.train.num_classes
    if "factor_dim" in names:
        factors = splits.train.factors
        derived["factor_dim"] = 0 if factors is None else int(factors.shape[1])
    if "a_channels" in names:
        pairing = pairing_of(splits.train) or {}
        derived.update(a_channels=int(pairing.get("a_channels", 0)), pair_scale=int(pairing.get("scale", 1)))
    return derived


def model_config(name: str, fields: Any, splits: Splits, dataset: str = "the data") -> Any:
    """The config of registered model ``name``: ``fields`` (its config dataclass or a dict, or None) plus
    the fields derived from ``splits``. Data of a kind the model cannot take (sequences for an image
    model) and a conditional model on unlabelled data are refused."""
    entry = registry.get(name)
    check_data_kind(entry.model_class, splits.train, name)
    if entry.model_class.requires_labels and splits.train.y is None:
        raise ConfigError(f"model '{name}' is conditional and needs class labels, but dataset "
                          f"'{dataset}' has none (use a folder with class subfolders, or npz with 'y')")
    if fields is None:
        given: dict[str, Any] = {}
    elif isinstance(fields, entry.config_class):
        given = to_dict(fields)
    else:
        given = dict(fields)
    return from_dict(entry.config_class, {**given, **data_fields(entry.config_class, splits)},
                     f"model config of '{name}'")


def build_model(name: str, config: Any, seed: int) -> GenerativeModel:
    """A fresh model of registered model ``name`` from its full ``config``, initialized from ``seed``
    (the same weights every time: a run resumed without a checkpoint starts where it started)."""
    torch.manual_seed(seed)
    return registry.get(name).model_class(config)


def fit(model: GenerativeModel, splits: Splits, train: TrainConfig | dict[str, Any], binarize: str = "none",
        callbacks: Sequence[Callback] = ()) -> GenerativeModel:
    """Train ``model`` on in-memory ``splits`` and return it; nothing is written anywhere.

    Args:
        model: a model (e.g. from :func:`build_model`).
        splits: train / validation / test data (validation is what the epoch records validate on).
        train: a :class:`TrainConfig` or a dict of its fields.
        binarize: binarization of the images per batch ('none', 'dynamic', 'static').
        callbacks: what the loop reports to (e.g. :func:`genlab.training.callbacks.console_callbacks`).

    Raises:
        Interrupted: SIGINT / SIGTERM stopped the training (after the current step).
        TrainingDiverged: a loss became NaN or infinite.
    """
    cfg = train if isinstance(train, TrainConfig) else from_dict(TrainConfig, train, "train config")
    return Trainer(model, splits, cfg, binarize, callbacks).fit()
