"""The run layer's part of image-to-image translation: which extractor judges a dataset's B images,
the perceptual loss's feature network of a new SRGAN run, and evaluating a translator's run.

A translation dataset names the dataset whose evaluation classifier judges its targets in its
pairing record (``extractor``: 'mnist' for the MNIST tasks); plain labelled images use their own.
The photo tasks and the user's own pairs have none: their FD is not computed, and an SRGAN with
the perceptual loss needs ``--feature-net DIR`` there (or ``--content-loss mse``).
"""
from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

from genlab import data as datasets  # `datasets.load_splits`, looked up per call
from genlab.config import DataConfig, from_dict
from genlab.data.base import Splits
from genlab.data.pairs import pairing_of
from genlab.errors import ConfigError
from genlab.io import atomic_write_json
from genlab.metrics.evaluate import METRICS_FILE
from genlab.metrics.features import extractor_entry
from genlab.metrics.translation import evaluate_translator
from genlab.models.translation import ImageTranslator
from genlab.runs import extractors  # a module reference: building an extractor trains a run


def extractor_dataset(data_cfg: DataConfig, splits: Splits) -> DataConfig | None:
    """The data whose evaluation extractor judges the model's outputs, or None when there is none."""
    pairing = pairing_of(splits.train)
    if pairing is not None:
        name = pairing.get("extractor")
        return DataConfig(dataset=str(name)) if name else None
    labelled = splits.train.y is not None and splits.train.num_classes >= 2
    return dataclasses.replace(data_cfg, binarize="none", limit=None) if labelled else None


def with_feature_net(model_cfg: Any, data_cfg: DataConfig, splits: Splits) -> Any:
    """A model config whose empty ``feature_net`` (perceptual loss) is set to the dataset's extractor.

    Configs without those fields, or that do not use them, come back unchanged.
    """
    names = {f.name for f in dataclasses.fields(model_cfg)}
    if not {"feature_net", "content_loss"} <= names:
        return model_cfg
    if model_cfg.content_loss != "perceptual" or model_cfg.feature_net:
        return model_cfg
    target = extractor_dataset(data_cfg, splits)
    if target is None:
        raise ConfigError(f"dataset '{data_cfg.dataset}' has no evaluation classifier for the perceptual loss: pass "
                          f"--feature-net DIR (a saved genlab classifier) or --content-loss mse")
    extractors.build_extractor(target)
    return dataclasses.replace(model_cfg, feature_net=str(extractor_entry(target).directory))


def evaluate_translation_run(run_dir: str | Path, model: ImageTranslator, data_cfg: DataConfig, n: int = 10000,
                             split: str = "test", seed: int = 0, write: bool = True) -> dict[str, Any]:
    """Evaluate a translator's run on its dataset's ``split`` (see :mod:`genlab.metrics.translation`)."""
    if split not in ("train", "validation", "test"):
        raise ConfigError(f"unknown split '{split}' (choose train, validation or test)")
    t0 = time.perf_counter()
    splits = datasets.load_splits(dataclasses.replace(data_cfg, limit=None))
    target = extractor_dataset(data_cfg, splits)
    extractor = extractors.build_extractor(target) if target is not None else None
    measured = evaluate_translator(model, splits[split], n, extractor, seed)
    result = {"run": str(run_dir), "model": model.registry_name, **measured, "split": split,
              "dataset": data_cfg.dataset, "binarize": data_cfg.binarize,
              "extractor": extractor.record() if extractor is not None else None,
              "seconds": time.perf_counter() - t0}
    if write:
        atomic_write_json(Path(run_dir) / METRICS_FILE, result)
    return result


def read_data_config(run_cfg: dict[str, Any], where: str) -> DataConfig:
    return from_dict(DataConfig, run_cfg["data"], where)
