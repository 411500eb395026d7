"""Evaluating runs: load a run, get (or build) its dataset's feature extractor, and measure it with
:func:`genlab.metrics.evaluate.evaluate_model`; the result goes to ``RUN/metrics.json``. Also the
class shares of a run's samples (``genlab modes``)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from genlab.config import DataConfig, from_dict
from genlab.errors import ConfigError
from genlab.io import atomic_write_json
from genlab.metrics import evaluate as metrics_evaluate
from genlab.metrics.evaluate import FEATURE_METRICS, METRICS_FILE, parse_metrics
from genlab.metrics.features import FeatureExtractor
from genlab.models.translation import ImageTranslator
from genlab.runs import (
    extractors,  # `extractors.build_extractor`, looked up per call (tests replace it)
    translation,
)
from genlab.runs.monitor import sample_class_shares
from genlab.runs.run import load, read_run_config, refuse_table_run
from genlab.training.distributed import resolve_device

DEFAULT_METRICS = ("fid", "kid", "prdc", "is", "classes")


def evaluate_model(model: Any, data: DataConfig | dict | str,
                   metrics: str | list[str] | tuple[str, ...] = DEFAULT_METRICS, n: int = 10000,
                   extractor: FeatureExtractor | None = None, device: str = "cpu", **settings: Any) -> dict[str, Any]:
    """:func:`genlab.metrics.evaluate.evaluate_model`, building the dataset's feature extractor first
    when a metric needs it and none is given (trained once and cached; on ``device`` when it is not the CPU,
    see :func:`~genlab.runs.extractors.build_extractor`)."""
    if extractor is None and any(g in FEATURE_METRICS for g in parse_metrics(metrics)):
        extractor = (extractors.build_extractor(data) if device == "cpu"
                     else extractors.build_extractor(data, device=device))
    return metrics_evaluate.evaluate_model(model, data, metrics, n, extractor=extractor, **settings)


def evaluate_run(run_dir: str | Path, metrics: str | list[str] | tuple[str, ...] = DEFAULT_METRICS,
                 n: int = 10000, write: bool = True, device: str = "auto", **settings: Any) -> dict[str, Any]:
    """Evaluate the model of a run directory on its own dataset and write ``RUN/metrics.json``.

    Args:
        run_dir: a run directory (``genlab train ... --out RUN``).
        metrics, n, settings: as for :func:`genlab.metrics.evaluate.evaluate_model`.
        write: write the result to ``RUN/metrics.json``.
        device: where the model runs (sampling, NLL, reconstructions) and a missing extractor is trained:
            'auto' (cuda, then mps, then cpu), 'cpu', 'cuda', ... Features are computed on the CPU in fp32.
    """
    run_dir = Path(run_dir)
    refuse_table_run(run_dir, "`genlab evaluate`")
    cfg = read_run_config(run_dir)
    data_cfg = from_dict(DataConfig, cfg["data"], f"{run_dir} data config")
    where = resolve_device(device)
    model = load(run_dir, where)
    if isinstance(model, ImageTranslator):  # PSNR / SSIM / FD / label preservation on the run's pairs
        if parse_metrics(metrics) != list(DEFAULT_METRICS):
            raise ConfigError(f"model '{model.registry_name}' is measured with the translation metrics (PSNR, SSIM, "
                              f"FD, label preservation); leave out --metrics")
        # on the CPU: the translation metrics move no tensor to a device
        return translation.evaluate_translation_run(run_dir, model.cpu(), data_cfg, n, settings.get("split", "test"),
                                                    settings.get("seed", 0), write)
    result = {"run": str(run_dir), **evaluate_model(model, data_cfg, metrics, n, device=str(where), **settings)}
    if write:
        atomic_write_json(run_dir / METRICS_FILE, result)
    return result


def run_class_shares(run: str | Path, n: int = 2000, seed: int = 0) -> torch.Tensor:
    """(K,) share of ``n`` samples of the run's model that its dataset's evaluation classifier gives each class."""
    if n < 1:
        raise ConfigError(f"--n must be at least 1, got {n}")
    refuse_table_run(run, "`genlab modes`")
    data = from_dict(DataConfig, read_run_config(run)["data"], f"{run} data config")
    return sample_class_shares(load(run), extractors.build_extractor(data), n, seed)
