"""Does augmenting a few labelled images with generated ones help a classifier? Measured.

For each seed: draw ``n_real`` labelled training images (the same number per class); train a
conditional generative model (cvae, cgan, cddpm) on them only; generate ``n_synth`` images with
balanced labels; train the same classifier (LeNet-5, the same steps) on (a) the real images and
(b) the real plus the generated ones; report the test accuracy of both on the dataset's test split,
and (b) - (a), over the seeds.
"""
from __future__ import annotations

import dataclasses
import statistics
from typing import Any

import torch

from genlab import registry
from genlab.config import DataConfig
from genlab.data import load_splits
from genlab.data.base import ArrayDataset, Splits
from genlab.errors import ConfigError, DataError
from genlab.training import build_model, fit
from genlab.training import model_config as training_model_config

TRAIN_DEFAULTS = {"log_every": 0, "mode_check": "off", "precision": "fp32", "sample_every": 0}


def _train(model: str, data: ArrayDataset, steps: int, batch_size: int, seed: int, model_config: dict | None) -> Any:
    """The one call into the training layer (no validation: with few items an epoch is one step,
    and the test split is scored once at the end)."""
    none = data.subset(torch.arange(0))
    splits = Splits(data, none, none)
    net = build_model(model, training_model_config(model, model_config or {}, splits, data.name), seed)
    return fit(net, splits, {**TRAIN_DEFAULTS, "steps": steps, "batch_size": batch_size, "seed": seed}).eval()


def _balanced(ds: ArrayDataset, n: int, seed: int) -> ArrayDataset:
    assert ds.y is not None
    classes = int(ds.y.max()) + 1
    g = torch.Generator().manual_seed(seed)
    per = [n // classes + (1 if c < n % classes else 0) for c in range(classes)]
    idx = []
    for c, k in enumerate(per):
        rows = (ds.y == c).nonzero().squeeze(1)
        if len(rows) < k:
            raise DataError(f"{ds.name}: class {c} has {len(rows)} training images, fewer than {k}")
        idx.append(rows[torch.randperm(len(rows), generator=g)[:k]])
    return ds.subset(torch.cat(idx))


@torch.no_grad()
def _accuracy(clf: Any, test: ArrayDataset) -> float:
    pred = clf.predict(test.images(slice(None)).to(clf.device))
    return float((pred.cpu() == test.y).float().mean())


def augment_images(dataset: str = "mnist", model: str = "cvae", n_real: int = 100, n_synth: int = 1000,
                   seeds: tuple[int, ...] = (0, 1, 2), gen_steps: int = 2000, clf_steps: int = 1000,
                   batch_size: int = 64, model_config: dict | None = None,
                   test_limit: int | None = None) -> dict[str, Any]:
    """Accuracy with and without generated images; see the module docstring."""
    entry = registry.get(model)
    if not entry.model_class.requires_labels:
        raise ConfigError(f"augmentation needs a conditional model (cvae, cgan, cddpm); '{model}' ignores labels")
    splits = load_splits(DataConfig(dataset=dataset))
    if splits.train.y is None:
        raise DataError(f"{dataset} has no labels to augment a classifier with")
    test = splits.test if test_limit is None else splits.test.subset(torch.arange(min(test_limit, len(splits.test))))
    classes = splits.train.num_classes
    derived = {"data_shape": list(splits.train.shape), "num_classes": classes}
    names = {f.name for f in dataclasses.fields(entry.config_class)}
    probe = registry.build(model, {**(model_config or {}), **{k: v for k, v in derived.items() if k in names}})
    per_round = sum(p.repeats for p in probe.phases() if p.fresh_batch)
    del probe
    runs = []
    for seed in seeds:
        real = _balanced(splits.train, n_real, seed)
        bs = min(batch_size, n_real // per_round)  # an epoch must hold one round's fresh batches
        gen = _train(model, real, gen_steps, bs, seed, model_config)
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            labels = torch.arange(n_synth) % classes
            fake = torch.cat([gen.sample(len(chunk), labels=chunk.to(gen.device)).cpu().clamp(0, 1)
                              for chunk in labels.split(500)])
        real_x = real.images(slice(None))
        assert real.y is not None  # _balanced keeps the labels of splits.train, checked above
        both = ArrayDataset(torch.cat([real_x, fake]), torch.cat([real.y, labels]), real.name, real.classes)
        accs = {}
        for arm, data in (("real", ArrayDataset(real_x, real.y, real.name, real.classes)), ("augmented", both)):
            clf = _train("classifier", data, clf_steps, min(batch_size, len(data)), seed, {"arch": "lenet5"})
            accs[arm] = _accuracy(clf, test)
        runs.append({"seed": seed, **accs, "gain": accs["augmented"] - accs["real"]})

    def stats(key: str) -> dict[str, float]:
        values = [r[key] for r in runs]
        return {"mean": statistics.fmean(values), "std": statistics.stdev(values) if len(values) > 1 else 0.0}

    return {"data": dataset, "model": model, "n_real": n_real, "n_synth": n_synth, "gen_steps": gen_steps,
            "clf_steps": clf_steps, "test_items": len(test), "classifier": "lenet5", "runs": runs,
            **{k: stats(k) for k in ("real", "augmented", "gain")}}


__all__ = ["augment_images"]
