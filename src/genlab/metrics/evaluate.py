"""Evaluate a trained model the same way every time: one entry point, every setting recorded.

    from genlab.metrics import evaluate_model
    result = evaluate_model(model, "mnist", metrics=["fid", "kid", "prdc"], n=10000, extractor=extractor)
    result["metrics"]["fd"], result["extractor"]["id"]

(``genlab.runs.evaluate_model`` builds the dataset's extractor first when none is cached; here it
defaults to the cached one.)

Sample metrics compare ``n`` generated images with the first ``n`` images of a split of the
dataset (the test split by default, as stored: grayscale even when the model trained on binarized
images, so every model is compared with the same reference), both passed through the dataset's
feature extractor (:mod:`genlab.metrics.features`). The NLL and reconstructions use the split
prepared as the model saw its data (binarized with one fixed draw when the run binarized). The
result records the sample counts, split, seed, metric settings and the extractor's id, so two
results are comparable exactly when those match.

Metric groups (``metrics=``): fid (Fréchet distance 'fd'), kid, prdc (precision, recall, density,
coverage), is (classifier-based Inception Score), classes (class coverage, class KL, and label
accuracy for conditional models), nll (importance-sampled, VAE family), recon (MSE, PSNR, SSIM of
reconstructions, autoencoder family; MSE and MAE in standardized units for sequence runs),
inception (FID on the standard Inception network; needs its weights file).
"""
from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from genlab import data as datasets  # `datasets.load_splits`, looked up per call
from genlab.config import DataConfig, from_dict, suggest
from genlab.data.base import binarize
from genlab.errors import ConfigError
from genlab.metrics import classes as cls_metrics
from genlab.metrics.features import FeatureExtractor, cached_extractor
from genlab.metrics.fid import frechet_distance_of_features, kernel_inception_distance
from genlab.metrics.inception import inception_features, load_fid_inception
from genlab.metrics.nll import negative_log_likelihood
from genlab.metrics.prdc import density_coverage, precision_recall
from genlab.metrics.recon import summarize
from genlab.models.base import GenerativeModel, LatentModel, default_labels

METRICS_FILE = "metrics.json"
SAMPLE_METRICS = ("fid", "kid", "prdc", "is", "classes", "inception")
FEATURE_METRICS = ("fid", "kid", "prdc", "is", "classes")  # the groups that need the dataset's feature extractor


@dataclass
class EvalSettings:
    """Settings of one evaluation (all recorded in the result).

    Attributes:
        n: generated images (and real images, when the split has that many).
        split: the real images' split ('test', 'validation' or 'train').
        seed: seed of sampling, subset draws and binarization of the real images.
        batch_size: images per sampling / feature batch.
        kid_subset_size: items per KID subset (at most n).
        kid_subsets: number of KID subsets.
        pr_k: neighbourhood size of improved precision/recall.
        dc_k: neighbourhood size of density/coverage.
        is_splits: parts of the Inception Score.
        nll_k: importance samples per image for the NLL.
        nll_n: images of the split used for the NLL.
        inception_weights: FID Inception weights file (else $GENLAB_INCEPTION_WEIGHTS).
    """

    n: int = 10000
    split: str = "test"
    seed: int = 0
    batch_size: int = 500
    kid_subset_size: int = 1000
    kid_subsets: int = 100
    pr_k: int = 3
    dc_k: int = 5
    is_splits: int = 10
    nll_k: int = 1000
    nll_n: int = 1000
    inception_weights: str | None = None


@dataclass
class _Context:
    """What the metric functions share; features are computed once, when first needed."""

    model: GenerativeModel
    data: DataConfig
    settings: EvalSettings
    extractor: FeatureExtractor
    _cache: dict[str, Any] = field(default_factory=dict)

    def once(self, key: str, make: Callable[[], Any]) -> Any:
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]

    def split_images(self, n: int | None = None, binarized: bool = False) -> torch.Tensor:
        """The first n images of the split, as stored, or binarized as in training (a fixed draw)."""
        ds = self.once("split", lambda: datasets.load_splits(self.data)[self.settings.split])
        x = ds.images(slice(0, n))
        if binarized:
            x = binarize(x, self.data.binarize, torch.Generator().manual_seed(self.settings.seed + 1))
        return x

    def real(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Features and class probabilities of the real images."""
        return self.once("real", lambda: self.extractor(self.split_images(self.settings.n),
                                                        self.settings.batch_size))

    def fake_images(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        return self.once("fake_images", lambda: generate(self.model, self.settings.n, self.settings.seed,
                                                         self.settings.batch_size))

    def fake(self) -> tuple[torch.Tensor, torch.Tensor]:
        def make() -> tuple[torch.Tensor, torch.Tensor]:
            images, _ = self.fake_images()
            self.extractor.check_images(images, f"samples of '{self.model.registry_name}'")
            return self.extractor(images, self.settings.batch_size)

        return self.once("fake", make)


def generate(model: GenerativeModel, n: int, seed: int = 0,
             batch_size: int = 500) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``n`` samples (N, C, H, W) in [0, 1] on CPU, and the requested labels for conditional models.

    Conditional models get :func:`genlab.models.base.default_labels`: 0, 1, ..., K-1, 0, ...

    Raises:
        ConfigError: the model cannot sample.
    """
    name = model.registry_name or type(model).__name__
    if not model.generative:
        raise ConfigError(f"model '{name}' is not generative and cannot sample; sample metrics need a generative model")
    classes = model.num_classes
    labels = default_labels(n, classes) if classes else None
    out = []
    model.eval()
    with torch.random.fork_rng(devices=[]), torch.no_grad():
        torch.manual_seed(seed)
        for i in range(0, n, batch_size):
            m = min(batch_size, n - i)
            y = None if labels is None else labels[i:i + m].to(model.device)
            try:
                out.append(model.sample(m, labels=y).float().cpu())
            except NotImplementedError:
                raise ConfigError(f"model '{name}' cannot sample; sample metrics need a generative model") from None
    return torch.cat(out).clamp(0, 1), labels


# --- the metric groups: context -> named values ------------------------------------------------
def _fid(ctx: _Context) -> dict[str, float]:
    return {"fd": frechet_distance_of_features(ctx.real()[0], ctx.fake()[0])}


def _kid(ctx: _Context) -> dict[str, float]:
    s = ctx.settings
    mean, std = kernel_inception_distance(ctx.real()[0], ctx.fake()[0], s.kid_subset_size, s.kid_subsets, s.seed)
    return {"kid": mean} if std is None else {"kid": mean, "kid_std": std}  # no spread when a subset is all of n


def _prdc(ctx: _Context) -> dict[str, float]:
    real, fake = ctx.real()[0], ctx.fake()[0]
    for name, k in (("pr_k", ctx.settings.pr_k), ("dc_k", ctx.settings.dc_k)):
        if k >= min(len(real), len(fake)):
            raise ConfigError(f"{name} = {k} nearest neighbours need more than {k} samples; raise --n")
    precision, recall = precision_recall(real, fake, ctx.settings.pr_k)
    density, coverage = density_coverage(real, fake, ctx.settings.dc_k)
    return {"precision": precision, "recall": recall, "density": density, "coverage": coverage}


def _is(ctx: _Context) -> dict[str, float]:
    mean, std = cls_metrics.inception_score(ctx.fake()[1], ctx.settings.is_splits)
    return {"inception_score": mean, "inception_score_std": std}


def _classes(ctx: _Context) -> dict[str, float]:
    k = ctx.extractor.num_classes
    fake_pred, real_pred = ctx.fake()[1].argmax(1), ctx.real()[1].argmax(1)
    out = {"class_coverage": cls_metrics.class_coverage(fake_pred, k),
           "class_kl": cls_metrics.class_kl(fake_pred, real_pred, k)}
    labels = ctx.fake_images()[1]
    if labels is not None:
        out["label_accuracy"] = cls_metrics.label_accuracy(fake_pred, labels)
    return out


def _nll(ctx: _Context) -> dict[str, float]:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(ctx.settings.seed)
        x = ctx.split_images(ctx.settings.nll_n, binarized=True)  # the likelihood of the data as trained on
        y = ctx.once("split", lambda: None).y  # conditional models get log p(x | y) with the true labels
        return negative_log_likelihood(ctx.model, x, k=ctx.settings.nll_k,
                                       labels=None if y is None else y[:ctx.settings.nll_n])


def _recon(ctx: _Context) -> dict[str, float]:
    if not isinstance(ctx.model, LatentModel):
        raise ConfigError(f"model '{ctx.model.registry_name}' has no encoder, so 'recon' does not apply; "
                          "drop it from --metrics")
    x = ctx.split_images(ctx.settings.n, binarized=True)  # inputs as the model saw them in training
    y = ctx.once("split", lambda: None).y if ctx.model.requires_labels else None  # conditional: the true labels
    if ctx.model.requires_labels and y is None:
        raise ConfigError(f"model '{ctx.model.registry_name}' reconstructs with class labels; the split has none")
    y = None if y is None else y[:len(x)]
    b = ctx.settings.batch_size
    with torch.no_grad():
        rec = torch.cat([ctx.model.reconstruct(x[i:i + b].to(ctx.model.device),
                                               None if y is None else y[i:i + b].to(ctx.model.device)).float().cpu()
                         for i in range(0, len(x), b)])
    if x.dim() == 3:  # sequences (N, T, F) of standardized values, NaN after a sequence's end
        valid = ~torch.isnan(x)
        err = (rec - x)[valid]
        return {"mse": float(err.pow(2).mean()), "mae": float(err.abs().mean())}
    return summarize(rec, x)


def _inception(ctx: _Context) -> dict[str, float]:
    net = load_fid_inception(ctx.settings.inception_weights)
    real = inception_features(net, ctx.split_images(ctx.settings.n), ctx.settings.batch_size // 10 or 1)
    fake = inception_features(net, ctx.fake_images()[0], ctx.settings.batch_size // 10 or 1)
    return {"fid_inception": frechet_distance_of_features(real, fake)}


METRIC_GROUPS: dict[str, Callable[[_Context], dict[str, float]]] = {
    "fid": _fid, "kid": _kid, "prdc": _prdc, "is": _is, "classes": _classes, "nll": _nll, "recon": _recon,
    "inception": _inception,
}


def parse_metrics(metrics: str | list[str] | tuple[str, ...]) -> list[str]:
    """Metric group names from 'fid,kid' or a list; unknown names are a ConfigError with a suggestion."""
    names = [m.strip() for m in (metrics.split(",") if isinstance(metrics, str) else metrics) if m.strip()]
    if not names:
        raise ConfigError(f"no metrics given (choose from {', '.join(METRIC_GROUPS)})")
    for m in names:
        if m not in METRIC_GROUPS:
            raise ConfigError(f"unknown metric '{m}'{suggest(m, METRIC_GROUPS)} "
                              f"(choose from {', '.join(METRIC_GROUPS)})")
    return list(dict.fromkeys(names))


def evaluate_model(model: GenerativeModel, data: DataConfig | dict | str,
                   metrics: str | list[str] | tuple[str, ...] = ("fid", "kid", "prdc", "is", "classes"),
                   n: int = 10000, extractor: FeatureExtractor | None = None, **settings: Any) -> dict[str, Any]:
    """Evaluate a model against a dataset; the public entry point of genlab's metrics.

    Args:
        model: a trained genlab model (eval mode is set here).
        data: the dataset the model was trained on (spec, dict or DataConfig; its binarization is
            applied to the real images with a fixed draw).
        metrics: metric groups (see the module docstring), a list or 'fid,kid,...'.
        n: number of generated images, and of real images when the split has that many.
        extractor: the feature extractor (default: the one cached for ``data``; building one is training,
            which :func:`genlab.runs.evaluate.evaluate_model` does when none is cached).
        **settings: fields of :class:`EvalSettings` (split, seed, kid_subset_size, nll_k, ...).

    Returns:
        {'metrics': {name: value}, 'n_samples', 'n_real', 'split', 'dataset', 'binarize',
        'extractor': {id, name, weights_sha256, ...}, 'settings': {...}, 'model', 'seconds'}.

    Raises:
        ConfigError: unknown metric, a model that cannot do what a metric needs, too few samples,
            or images whose shape does not fit the extractor.
    """
    groups = parse_metrics(metrics)
    s = from_dict(EvalSettings, {"n": n, **settings}, "evaluation settings")
    if s.n < 2:
        raise ConfigError(f"--n must be at least 2, got {s.n}")
    if s.split not in ("train", "validation", "test"):
        raise ConfigError(f"unknown split '{s.split}' (choose train, validation or test)")
    data_cfg = data if isinstance(data, DataConfig) else (
        DataConfig(dataset=data) if isinstance(data, str) else from_dict(DataConfig, data, "data config"))
    data_cfg = dataclasses.replace(data_cfg, limit=None)
    name = model.registry_name or type(model).__name__
    if any(g in SAMPLE_METRICS for g in groups) and not model.generative:  # fail before any work
        raise ConfigError(f"model '{name}' is not generative and cannot sample; sample metrics need a generative model")
    if "kid" in groups and s.kid_subset_size > s.n:
        raise ConfigError(f"KID subset size {s.kid_subset_size} is larger than the sample (--n {s.n}); "
                          f"lower --kid-subset-size or raise --n")
    needs_features = any(g in FEATURE_METRICS for g in groups)
    if extractor is None and needs_features:
        extractor = cached_extractor(data_cfg)
        if extractor is None:
            raise ConfigError(f"no feature extractor is cached for '{data_cfg.dataset}'; pass one "
                              f"(genlab.runs.build_extractor trains it) or use genlab.runs.evaluate_model")
    model.eval()
    ctx = _Context(model, data_cfg, s, extractor)  # type: ignore[arg-type]
    t0 = time.perf_counter()
    values: dict[str, float] = {}
    for g in groups:
        values.update(METRIC_GROUPS[g](ctx))
    n_real = len(ctx.real()[0]) if "real" in ctx._cache else None
    return {
        "model": name,
        "metrics": values,
        "groups": groups,
        "n_samples": s.n if any(g in SAMPLE_METRICS for g in groups) else None,
        "n_real": n_real,
        "split": s.split,
        "dataset": data_cfg.dataset,
        "binarize": data_cfg.binarize,
        "extractor": extractor.record() if extractor is not None and needs_features else None,
        "settings": dataclasses.asdict(s),
        "seconds": time.perf_counter() - t0,
    }


def format_result(result: dict[str, Any]) -> str:
    """A two-column table of a result's metrics, with what was measured underneath."""
    rows = [(k, f"{v:.6g}") for k, v in result["metrics"].items()]
    width = max([len(k) for k, _ in rows] + [6])
    lines = [f"{'metric'.ljust(width)}  value", f"{'-' * width}  {'-' * 12}"]
    lines += [f"{k.ljust(width)}  {v}" for k, v in rows]
    where = [f"model {result['model']}", f"dataset {result['dataset']} ({result['split']} split; trained with binarize "
             f"{result['binarize']})"]
    if result.get("n_samples"):
        where.append(f"{result['n_samples']} samples vs {result['n_real']} real images")
    if result.get("extractor"):
        where.append(f"extractor {result['extractor']['id']}")
    return "\n".join(lines + ["", "; ".join(where)])
