"""Feature extractors for sample-quality metrics: classifiers genlab trains itself, offline.

FID-style numbers are only comparable when they come from the same feature network, the same
number of samples and the same preprocessing. genlab therefore never downloads a network: for a
dataset it trains a classifier on that dataset's train split with a fixed recipe (seed,
deterministic algorithms, fixed number of steps, fp32), caches it in
``$GENLAB_CACHE/extractors/`` (default ``~/.cache/genlab``) under its name and the hash of its
recipe, and identifies it by name + the SHA-256 of its weights. Every metrics result records that
identity; results from different extractors are never mixed. A cached extractor whose weights no
longer match the hash it was recorded with is rebuilt (with a warning), never reported under the
recorded identity.

This module names, finds, verifies and loads extractors (:func:`extractor_entry`,
:func:`cached_extractor`). Building one is training, so it is the run layer's
(:func:`genlab.runs.extractors.build_extractor`): an ordinary resumable training run kept in the
cache (``NAME-KEY.building/``) until it finishes.

Default recipes: LeNet-5 for 28x28 grayscale images (MNIST-like), a small VGG-11 (batch norm,
width 16, hidden 128) for every other image size; datasets named in ``DATASET_RECIPES`` (``shapes``)
have their own. Features are the classifier's penultimate
activations (LeNet-5: the 84 F6 units); its softmax gives class probabilities for the
classifier-based Inception Score and class metrics.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from genlab import data as datasets  # `datasets.load_splits`, looked up per call
from genlab.config import DataConfig, from_dict, to_dict
from genlab.data.base import Splits
from genlab.errors import ConfigError, DataError, GenlabError
from genlab.io import read_json
from genlab.models.base import GenerativeModel

CLIP_STEPS = 1000  # optimizer steps of the clip classifier (CLIP_RECIPE)
EXTRACTOR_FORMAT = 1  # bump when the recipe's meaning changes: old cache entries are then not reused
INFO_FILE = "extractor.json"
DATA_KEY_FIELDS = ("dataset", "image_size", "channels", "validation_fraction", "test_fraction")


def cache_root() -> Path:
    """``$GENLAB_CACHE/extractors`` (default ``~/.cache/genlab/extractors``)."""
    return Path(os.environ.get("GENLAB_CACHE") or Path.home() / ".cache" / "genlab").expanduser() / "extractors"


@dataclass(frozen=True)
class ExtractorRecipe:
    """How an extractor is trained (part of its cache key and its record).

    Attributes:
        arch: classifier architecture ('lenet5', 'vgg11', ...).
        steps: optimizer steps (LeNet-5 on MNIST: 2000 steps of 128 = about 5 epochs).
        batch_size, lr, seed: Adam with a cosine schedule, fp32, deterministic algorithms.
        vgg_width, vgg_hidden: VGG size (ignored by LeNet-5).
        dropout: VGG's dropout before its hidden layers (0.5, the classifier's default, is left out
            of the cache key, so the recipes from before this field keep their cache entries).
        threads: CPU threads while training (1: the same float reductions on every machine, and
            on a busy 2-core machine several times faster than 2).
        device: the device type it is trained on ('cpu'; 'cuda' for a build on a GPU, whose weights
            differ in the last bits: part of the cache key only when it is not 'cpu', so GPU-built
            extractors never pass for CPU-built ones and the CPU entries keep their keys).
        factors: also regress the dataset's known generative factors (``classifier --factors``), so
            the features see what the class label ignores; in the cache key only when True.
    """

    arch: str = "lenet5"
    steps: int = 2000
    batch_size: int = 128
    lr: float = 1e-3
    seed: int = 0
    vgg_width: int = 16
    vgg_hidden: int = 128
    threads: int = 1
    dropout: float = 0.5
    device: str = "cpu"
    factors: bool = False


def default_recipe(shape: tuple[int, ...]) -> ExtractorRecipe:
    """LeNet-5 for (1, 28, 28) images, a small VGG-11 for every other shape."""
    return ExtractorRecipe() if tuple(shape) == (1, 28, 28) else ExtractorRecipe(arch="vgg11")


# Recipes for named built-in datasets, chosen before the shape-based default. `shapes` (4 shape
# classes, any hue / scale / rotation / position): the small VGG-11 without dropout (with 0.5 on its
# 128 hidden units it learns several times slower) for 1.6 epochs at batch 64, a few CPU-minutes on
# first use (accuracy and cost: docs/benchmarks.md, issue 16 section); it learns the shape class AND
# regresses the drawing's factors (hues, scale, rotation, position: ``factors=True``), so its features
# and the FD on them see a wrong object colour or a collapsed background, which a shape-only
# classifier's features ignore (session 8's FD ranked progan's brownish one-background samples above
# dcgan's, against what a reader sees).
DATASET_RECIPES: dict[str, ExtractorRecipe] = {
    "shapes": ExtractorRecipe(arch="vgg11", steps=1500, batch_size=64, lr=2e-3, dropout=0.0, factors=True),
}
# Clips (N, T, C, H, W): the clip-level FD's classifier, a small 3-D CNN (``classifier --arch clip3d``,
# width 16, 128 features) trained on the clips' labels; on `moving-mnist-1` (digit class x direction
# quadrant, 40 classes) it is the extractor of the issue-18 benchmark (accuracy: docs/benchmarks.md).
CLIP_RECIPE = ExtractorRecipe(arch="clip3d", steps=CLIP_STEPS, batch_size=32, lr=2e-3, vgg_width=16, vgg_hidden=128,
                              dropout=0.0)
DATASET_RECIPES.update({"moving-mnist": CLIP_RECIPE, "moving-mnist-1": CLIP_RECIPE})


def recipe_key(recipe: ExtractorRecipe) -> dict[str, Any]:
    """The recipe's part of the cache key (its fields; dropout only when it is not the default 0.5, device
    only when it is not 'cpu')."""
    fields = dataclasses.asdict(recipe)
    if fields["dropout"] == ExtractorRecipe.dropout:
        del fields["dropout"]
    if fields["device"] == ExtractorRecipe.device:
        del fields["device"]
    if not fields["factors"]:
        del fields["factors"]
    return fields


def recipe_for(dataset: str, shape: tuple[int, ...]) -> ExtractorRecipe:
    """The default recipe of a dataset: its entry in :data:`DATASET_RECIPES`, else :data:`CLIP_RECIPE`
    for clips (T, C, H, W), else :func:`default_recipe`."""
    named = DATASET_RECIPES.get(dataset.strip().lower())
    if named is None and len(shape) == 4:
        return CLIP_RECIPE
    return named if named is not None else default_recipe(shape)


def extractor_data(data: DataConfig | dict | str) -> DataConfig:
    """The data an extractor is trained on: the dataset as stored (no binarization, no --limit)."""
    cfg = data if isinstance(data, DataConfig) else (
        DataConfig(dataset=data) if isinstance(data, str) else from_dict(DataConfig, data, "data config"))
    return dataclasses.replace(cfg, binarize="none", limit=None, skip_bad_files=cfg.skip_bad_files)


def _slug(text: str) -> str:
    return re.sub(r"[^a-zA-Z0-9]+", "-", text).strip("-").lower()[:40] or "data"


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class FeatureExtractor:
    """A trained classifier used as a fixed feature network.

    Attributes:
        classifier: the :class:`~genlab.models.classifier.Classifier` (eval mode, CPU).
        name: '<arch>-<dataset>' (e.g. 'lenet5-mnist').
        weights_sha256: hash of its weights file.
        info: the cache record (recipe, data, test accuracy, ...).
    """

    def __init__(self, classifier: Any, name: str, weights_sha256: str, info: dict[str, Any]):
        self.classifier = classifier.eval()
        self.name, self.weights_sha256, self.info = name, weights_sha256, info

    @property
    def id(self) -> str:
        """Name and weights hash, e.g. 'lenet5-mnist@3f2a9c01b7d4': what every result records."""
        return f"{self.name}@{self.weights_sha256[:12]}"

    @property
    def input_shape(self) -> tuple[int, ...]:
        """(C, H, W) of images, or (T, C, H, W) of clips for a clip classifier."""
        return tuple(self.classifier.config.data_shape)

    @property
    def num_classes(self) -> int:
        return self.classifier.config.num_classes

    def record(self) -> dict[str, Any]:
        """What a metrics result stores about the extractor."""
        return {"id": self.id, "name": self.name, "weights_sha256": self.weights_sha256,
                "input_shape": list(self.input_shape), "feature_dim": self.classifier.feature_dim,
                "recipe": self.info.get("recipe"), "test_accuracy": self.info.get("test_accuracy")}

    def check_images(self, images: torch.Tensor, what: str = "images") -> None:
        """Raise ConfigError unless ``images`` are (N, *input_shape) (images, or clips for a clip extractor)."""
        dims = len(self.input_shape) + 1
        if images.dim() != dims or tuple(images.shape[1:]) != self.input_shape:
            got = "x".join(map(str, images.shape[1:])) if images.dim() == dims else str(tuple(images.shape))
            kind = "clips" if dims == 5 else "images"
            raise ConfigError(f"{what} are {got} but the feature extractor {self.id} takes "
                              f"{'x'.join(map(str, self.input_shape))} {kind}; "
                              f"evaluate against a dataset of that shape")

    @torch.no_grad()
    def __call__(self, images: torch.Tensor, batch_size: int = 500) -> tuple[torch.Tensor, torch.Tensor]:
        """Features and class probabilities of images in [0, 1].

        Args:
            images: (N, C, H, W) float in [0, 1], or clips (N, T, C, H, W) for a clip extractor (any
                device; computed on CPU in fp32).

        Returns:
            features (N, D) float32 and softmax probabilities (N, K) float32.
        """
        self.check_images(images)
        feats, probs = [], []
        for i in range(0, len(images), batch_size):
            x = images[i:i + batch_size].float().cpu()
            f = self.classifier.features(x)  # (b, D)
            feats.append(f)
            probs.append(torch.softmax(self.classifier.net.head(f).float(), -1))  # (b, K)
        return torch.cat(feats), torch.cat(probs)


@dataclass
class ExtractorEntry:
    """Where the extractor of a dataset and recipe is cached, and what it is trained on.

    Attributes:
        directory: the cache entry, ``cache_root() / f"{name}-{key hash}"``.
        name: '<arch>-<dataset>'.
        key: the cache key (format, recipe, the data fields that decide the images, the image shape).
        recipe: the training recipe.
        data: the data config it is trained on (:func:`extractor_data`).
        splits: that data, loaded.
    """

    directory: Path
    name: str
    key: dict[str, Any]
    recipe: ExtractorRecipe
    data: DataConfig
    splits: Splits


def extractor_entry(data: DataConfig | dict | str, recipe: ExtractorRecipe | None = None) -> ExtractorEntry:
    """The cache entry of the extractor for ``data`` (default recipe: :func:`recipe_for` the dataset).

    Raises:
        DataError: the dataset cannot be loaded or has no labels to train a classifier on.
    """
    data_cfg = extractor_data(data)
    splits = datasets.load_splits(data_cfg)
    if splits.train.x.dim() == 5 and splits.train.y is None:
        raise DataError(f"dataset '{data_cfg.dataset}' holds clips without labels, so genlab cannot train its clip "
                        f"classifier (the clip FD's extractor) on it; evaluate against a labelled clip dataset of "
                        f"the same shape (moving-mnist-1)")
    if splits.train.y is None:
        raise DataError(f"dataset '{data_cfg.dataset}' has no labels, so genlab cannot train a feature extractor "
                        f"for it; evaluate against a labelled dataset of the same image shape")
    recipe = recipe or recipe_for(data_cfg.dataset, splits.train.shape)
    # the fields that decide which images and labels the extractor sees (other DataConfig fields do not)
    data_key = {k: v for k, v in to_dict(data_cfg).items() if k in DATA_KEY_FIELDS}
    if data_key["image_size"] is not None or data_key["channels"] is not None:
        # --image-size / --channels that ask for the images as stored (shapes at 64 px, digits at 8 px and
        # gray) are the same data as no request: one cache entry, not a second, identical training
        try:
            native = datasets.load_splits(dataclasses.replace(data_cfg, image_size=None, channels=None)).train.shape
        except DataError:  # e.g. a folder of mixed sizes, which needs its --image-size
            native = None
        if native is not None and tuple(native) == tuple(splits.train.shape):
            data_key = {**data_key, "image_size": None, "channels": None}
    key = {"format": EXTRACTOR_FORMAT, "recipe": recipe_key(recipe), "data": data_key,
           "shape": list(splits.train.shape)}
    key_hash = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:12]
    name = f"{recipe.arch}-{_slug(data_cfg.dataset.split(':')[-1] if ':' in data_cfg.dataset else data_cfg.dataset)}"
    return ExtractorEntry(cache_root() / f"{name}-{key_hash}", name, key, recipe, data_cfg, splits)


def cached_extractor(data: DataConfig | dict | str | ExtractorEntry,
                     recipe: ExtractorRecipe | None = None) -> FeatureExtractor | None:
    """The cached extractor for ``data``, verified against its recorded hash; None when there is none
    (or it was damaged: then it is removed, with a warning, for the run layer to rebuild)."""
    entry = data if isinstance(data, ExtractorEntry) else extractor_entry(data, recipe)
    if not (entry.directory / INFO_FILE).is_file():
        return None
    return load_cached(entry.directory, entry.name)


def load_cached(directory: Path, name: str) -> FeatureExtractor | None:
    """The cached extractor in ``directory``; None (after a warning, the entry removed) when its weights
    do not hash to the recorded SHA-256 or the entry cannot be read."""
    try:
        info = read_json(directory / INFO_FILE)
        recorded = info["weights_sha256"]
        actual = file_sha256(directory / "model.safetensors")
        if actual != recorded:
            problem = f"its weights hash to {actual[:12]}, not the recorded {str(recorded)[:12]}"
        else:
            return FeatureExtractor(GenerativeModel.load(directory), name, recorded, info)
    except (OSError, ValueError, KeyError, TypeError, GenlabError) as e:
        problem = f"it cannot be read ({type(e).__name__})"
    print(f"genlab: warning: cached feature extractor {directory} is damaged ({problem}); rebuilding it",
          file=sys.stderr, flush=True)
    shutil.rmtree(directory, ignore_errors=True)
    return None
