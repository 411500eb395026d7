"""Watching samples during training: the class histogram of generated images, with a collapse warning.

After each sample grid (the :class:`genlab.runs.callbacks.ModeCheck` callback) :class:`ModeMonitor`
classifies a fixed-noise batch of
samples with the dataset's evaluation classifier (the feature extractor of :mod:`genlab.metrics`).
The shares per class go to metrics.jsonl as a ``modes`` record, and when the samples cover few
classes a one-line warning goes to stderr while training continues.
"""
from __future__ import annotations

import os
import sys
from typing import Any

import torch

from genlab.config import DataConfig, TrainConfig
from genlab.metrics.classes import covered_classes, mode_collapse_warning
from genlab.metrics.evaluate import generate
from genlab.metrics.features import FeatureExtractor, cached_extractor
from genlab.runs import extractors  # a module reference: building an extractor trains a run (genlab.runs.run)

MODE_CHECK_SAMPLES = 500


def sample_class_shares(model: Any, extractor: Any, n: int = MODE_CHECK_SAMPLES, seed: int = 0) -> torch.Tensor:
    """(K,) share of ``n`` samples of ``model`` that ``extractor``'s classifier assigns to each class.

    Samples come from a fixed seed; the model's train / eval mode is restored afterwards.
    """
    was_training = model.training
    try:
        images, _ = generate(model, n, seed=seed)
    finally:
        model.train(was_training)
    probs = extractor(images)[1]  # (n, K)
    return torch.bincount(probs.argmax(1), minlength=extractor.num_classes).double() / n


class ModeMonitor:
    """Classifies samples of a model and reports the share of each class.

    Args:
        extractor: the dataset's :class:`genlab.metrics.features.FeatureExtractor`.
        n: samples per check.
        seed: sampling seed (the same noise every check).
    """

    def __init__(self, extractor: Any, n: int = MODE_CHECK_SAMPLES, seed: int = 0):
        self.extractor, self.n, self.seed = extractor, n, seed

    def __call__(self, model: Any) -> dict[str, Any]:
        """One check: ``{"classes_covered", "class_shares", "warning"}`` (warning None when all are covered)."""
        shares = sample_class_shares(model, self.extractor, self.n, self.seed)
        warning = mode_collapse_warning(shares)
        return {"classes_covered": int(covered_classes(shares).sum()),
                "class_shares": [round(v, 4) for v in shares.tolist()],
                "warning": warning}


def mode_monitor(cfg: TrainConfig, data: DataConfig, model: Any, splits: Any,
                 extractor: FeatureExtractor | None = None) -> ModeMonitor | None:
    """The monitor a run gets under ``cfg.mode_check``, or None (with a note on stderr when it was asked for);
    ``extractor``: the dataset's evaluation extractor when the run already has it (``--keep-best fd``).

    'auto' watches models that declare ``watch_modes`` (the GAN family) when the dataset's evaluation
    classifier is already cached; 'on' watches any generative model and trains the classifier if needed.
    """
    if cfg.mode_check == "off" or not model.generative:
        return None
    if int(os.environ.get("RANK", "0")) != 0:  # only rank 0 checks (and says so) under torchrun
        return None
    if cfg.mode_check == "auto" and not model.watch_modes:
        return None
    if splits.train.y is None or len(splits.train.shape) != 3:
        if cfg.mode_check == "on":
            print("genlab: note: --mode-check needs a labelled image dataset; not checking modes", file=sys.stderr)
        return None
    if extractor is None:
        extractor = cached_extractor(data)
    if extractor is None and cfg.mode_check == "on" and int(os.environ.get("WORLD_SIZE", "1")) > 1:
        # training the classifier here would start a second trainer inside torchrun's process group
        print(f"genlab: note: samples are not checked for mode collapse under torchrun until the evaluation "
              f"classifier for '{data.dataset}' is cached (build it with one process: `genlab evaluate` of a run "
              f"on this data)", file=sys.stderr)
        return None
    if extractor is None and cfg.mode_check == "on":
        extractor = extractors.build_extractor(data)
    if extractor is None:
        # said once, at the start of the run: training the classifier costs about a minute of CPU (45 CPU-s for
        # digits' small VGG, measured), too much to add silently to every first run on a dataset
        print(f"genlab: note: samples are not checked for mode collapse in this run: no evaluation classifier is "
              f"cached for '{data.dataset}' yet (--mode-check on trains it once first, about a CPU-minute; so does "
              f"`genlab evaluate` once; --mode-check off silences this)", file=sys.stderr)
        return None
    return ModeMonitor(extractor, seed=cfg.seed + 777)
