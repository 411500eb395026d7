"""What an anomaly detector takes and what it learns: the inputs of ``fit`` / ``score`` checked and
converted (:func:`images_input`, :func:`series_input`), the model inputs ``fit`` prepares per kind
(:class:`Prepared`), and what ``fit`` learns besides the model (:class:`FittedState`, saved as
``detector.json``'s ``state``)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import torch

from genlab.errors import DataError


def images_input(x: Any, where: str) -> torch.Tensor:
    """(N, C, H, W) float32 in [0, 1] from (N, H, W) / (N, C, H, W) arrays, uint8 or float."""
    t = torch.as_tensor(np.asarray(x)) if not isinstance(x, torch.Tensor) else x
    if t.dim() == 3:
        t = t.unsqueeze(1)
    if t.dim() != 4:
        raise DataError(f"{where}: expected images (N, C, H, W) or (N, H, W), got shape {tuple(t.shape)}")
    if t.dtype == torch.uint8:
        return t.float() / 255.0
    t = t.float()
    if not torch.isfinite(t).all():
        raise DataError(f"{where}: images hold NaN or infinite values")
    if t.numel() and (t.min() < 0 or t.max() > 1):
        raise DataError(f"{where}: float images must be in [0, 1] (got {float(t.min()):.3g}..{float(t.max()):.3g}); "
                        f"divide 8-bit images by 255")
    return t


def series_input(x: Any, where: str) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64)
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2:
        raise DataError(f"{where}: a series must be (L,) or (L, F), got shape {a.shape}")
    if not np.isfinite(a).all():
        step = int(np.argwhere(~np.isfinite(a))[0, 0])
        raise DataError(f"{where}: the series holds NaN or infinite values at step {step}")
    return a


@dataclass
class FittedState:
    """What ``fit`` learned besides the model (``detector.json``'s ``state``).

    Attributes:
        source: a name for the training data.
        model, score: the registered model name and the anomaly score.
        threshold: the flagging threshold on item scores; ``threshold_from`` says how it was set
            ('held-out normal data' or 'contamination'), ``threshold_quantile`` at which quantile of
            ``calibration_items`` scores; ``holdout_score_mean/std`` describe the held-out scores.
        input_shape, normal_classes: images: the (C, H, W) fitted on, and the classes kept as normal.
        label_column: tables and series: the column that is not a feature (labels when scoring).
        normal_values: tables: the label values of normal rows (None = every row was normal).
        select_columns: tables and series: the columns read by name (``--columns``), read again when scoring.
        mean, std, length, columns: series: the standardization, the fitted length and column names.
        step_threshold: series: the threshold on per-time-step scores.
    """

    source: str = "array"
    model: str = ""
    score: str = ""
    threshold: float = 0.0
    threshold_from: str = ""
    threshold_quantile: float = 0.0
    calibration_items: int = 0
    holdout_score_mean: float = 0.0
    holdout_score_std: float = 0.0
    input_shape: list[int] | None = None
    normal_classes: list[int] | None = None
    label_column: str | None = None
    normal_values: list[str] | None = None
    select_columns: list[str] | None = None
    mean: list[float] | None = None
    std: list[float] | None = None
    length: int | None = None
    columns: list[str] | None = None
    step_threshold: float | None = None


class Prepared(NamedTuple):
    """The model's training and held-out inputs, and for series the held-out standardized steps."""

    fit_x: torch.Tensor
    hold_x: torch.Tensor
    hold_series: np.ndarray | None = None
