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

The build is an ordinary resumable training run kept in the cache (``NAME-KEY.building/``) until
it finishes: a build stopped by Ctrl-C / SIGTERM (or a kill) continues from its last checkpoint the
next time the extractor is needed, and its deterministic recipe gives the same weights.

Default recipes: LeNet-5 for 28x28 grayscale images (MNIST-like), a small VGG-11 (batch norm,
width 16, hidden 128) for every other image size. Features are the classifier's penultimate
activations (LeNet-5: the 84 F6 units); its softmax gives class probabilities for the
classifier-based Inception Score and class metrics.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from genlab.config import DataConfig, from_dict, to_dict
from genlab.errors import ConfigError
from genlab.io import atomic_directory, atomic_write_json, read_json

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
        threads: CPU threads while training (1: the same float reductions on every machine, and
            on a busy 2-core machine several times faster than 2).
    """

    arch: str = "lenet5"
    steps: int = 2000
    batch_size: int = 128
    lr: float = 1e-3
    seed: int = 0
    vgg_width: int = 16
    vgg_hidden: int = 128
    threads: int = 1


def default_recipe(shape: tuple[int, int, int]) -> ExtractorRecipe:
    """LeNet-5 for (1, 28, 28) images, a small VGG-11 for every other shape."""
    return ExtractorRecipe() if tuple(shape) == (1, 28, 28) else ExtractorRecipe(arch="vgg11")


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
    def input_shape(self) -> tuple[int, int, int]:
        return tuple(self.classifier.config.data_shape)  # type: ignore[return-value]

    @property
    def num_classes(self) -> int:
        return self.classifier.config.num_classes

    def record(self) -> dict[str, Any]:
        """What a metrics result stores about the extractor."""
        return {"id": self.id, "name": self.name, "weights_sha256": self.weights_sha256,
                "input_shape": list(self.input_shape), "feature_dim": self.classifier.feature_dim,
                "recipe": self.info.get("recipe"), "test_accuracy": self.info.get("test_accuracy")}

    def check_images(self, images: torch.Tensor, what: str = "images") -> None:
        """Raise ConfigError unless ``images`` are (N, C, H, W) of the extractor's input shape."""
        if images.dim() != 4 or tuple(images.shape[1:]) != self.input_shape:
            got = "x".join(map(str, images.shape[1:])) if images.dim() == 4 else str(tuple(images.shape))
            raise ConfigError(f"{what} are {got} but the feature extractor {self.id} takes "
                              f"{'x'.join(map(str, self.input_shape))} images; evaluate against a dataset of that shape")

    @torch.no_grad()
    def __call__(self, images: torch.Tensor, batch_size: int = 500) -> tuple[torch.Tensor, torch.Tensor]:
        """Features and class probabilities of images in [0, 1].

        Args:
            images: (N, C, H, W) float in [0, 1] (any device; computed on CPU in fp32).

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


def _accuracy(classifier: Any, splits: Any) -> float | None:
    test = splits.test
    if test.y is None or len(test) == 0:
        return None
    pred = classifier.predict(test.images(slice(None)))
    return float((pred == test.y).float().mean())


def build_extractor(data: DataConfig | dict | str, recipe: ExtractorRecipe | None = None,
                    cache: bool = True, verbose: bool = True, build: bool = True) -> FeatureExtractor | None:
    """The feature extractor for a dataset: loaded from the cache, or trained once and cached.

    Args:
        data: the dataset (spec string, dict or DataConfig); binarization and --limit are ignored.
        recipe: how to train it (default: :func:`default_recipe` for the dataset's image shape).
        cache: read and write ``$GENLAB_CACHE/extractors``.
        verbose: say on stderr when an extractor is being trained.
        build: train it when it is not cached; False returns None instead.

    Returns:
        a :class:`FeatureExtractor` (None only when ``build`` is False and it is not cached).

    Raises:
        DataError: the dataset cannot be loaded or has no labels to train a classifier on.
    """
    from genlab.data import load_splits
    from genlab.errors import DataError

    data_cfg = extractor_data(data)
    splits = load_splits(data_cfg)
    if splits.train.y is None:
        raise DataError(f"dataset '{data_cfg.dataset}' has no labels, so genlab cannot train a feature extractor "
                        f"for it; evaluate against a labelled dataset of the same image shape")
    recipe = recipe or default_recipe(splits.train.shape)
    # the fields that decide which images and labels the extractor sees (other DataConfig fields do not)
    data_key = {k: v for k, v in to_dict(data_cfg).items() if k in DATA_KEY_FIELDS}
    key = {"format": EXTRACTOR_FORMAT, "recipe": dataclasses.asdict(recipe), "data": data_key,
           "shape": list(splits.train.shape)}
    key_hash = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:12]
    name = f"{recipe.arch}-{_slug(data_cfg.dataset.split(':')[-1] if ':' in data_cfg.dataset else data_cfg.dataset)}"
    directory = cache_root() / f"{name}-{key_hash}"
    if cache and (directory / INFO_FILE).is_file():
        cached = _load_cached(directory, name)
        if cached is not None:
            return cached
    if not build:
        return None
    return _build(directory, name, key, recipe, data_cfg, splits, cache, verbose)


def _load_cached(directory: Path, name: str) -> FeatureExtractor | None:
    """The cached extractor in ``directory``; None (after a warning, the entry removed) when its weights
    do not hash to the recorded SHA-256 or the entry cannot be read."""
    import shutil
    import sys

    from genlab.errors import GenlabError
    from genlab.models.base import GenerativeModel

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


def _build(directory: Path, name: str, key: dict[str, Any], recipe: ExtractorRecipe, data_cfg: DataConfig,
           splits: Any, cache: bool, verbose: bool) -> FeatureExtractor:
    from genlab.training.run import StopSignals

    with StopSignals():  # from here a signal ends the build at a checkpoint, with one line
        return _build_run(directory, name, key, recipe, data_cfg, splits, cache, verbose)


def _build_run(directory: Path, name: str, key: dict[str, Any], recipe: ExtractorRecipe, data_cfg: DataConfig,
               splits: Any, cache: bool, verbose: bool) -> FeatureExtractor:
    import sys

    from genlab.training.run import Interrupted, is_run, resume, train

    build_dir = directory.with_name(directory.name + ".building") if cache else None
    resuming = build_dir is not None and is_run(build_dir)
    if verbose:
        what = "continuing the build of" if resuming else "training"
        print(f"genlab: {what} feature extractor {name} ({recipe.arch}, {recipe.steps} steps, seed {recipe.seed}); "
              f"cached for later runs", file=sys.stderr, flush=True)
    model_cfg = {"arch": recipe.arch, "vgg_width": recipe.vgg_width, "vgg_hidden": recipe.vgg_hidden}
    train_cfg = {"steps": recipe.steps, "batch_size": min(recipe.batch_size, len(splits.train)), "lr": recipe.lr,
                 "seed": recipe.seed, "schedule": "cosine", "deterministic": True, "device": "cpu",
                 "precision": "fp32", "log_every": 0, "num_samples": 1}
    was_deterministic, threads = torch.are_deterministic_algorithms_enabled(), torch.get_num_threads()
    torch.set_num_threads(recipe.threads)
    with torch.random.fork_rng():
        try:
            if resuming:
                model = resume(build_dir, "classifier")
            else:
                model = train("classifier", out=build_dir, model_config=model_cfg, data=data_cfg, train=train_cfg,
                              overwrite=True)
        except Interrupted as e:
            saved = "from its last checkpoint" if e.saved else "from the start"
            raise Interrupted(e.signal_name, e.step, e.saved, None,
                              detail=f"stopped by {e.signal_name} while training feature extractor {name} (step {e.step}); "
                                     f"the build continues {saved} the next time it is needed") from None
        finally:
            torch.use_deterministic_algorithms(was_deterministic)
            torch.set_num_threads(threads)
    model = model.cpu().eval()
    accuracy = _accuracy(model, splits)

    def write(folder: Path) -> tuple[str, dict[str, Any]]:
        model.save(folder)
        sha = file_sha256(folder / "model.safetensors")
        info = {**key, "name": name, "weights_sha256": sha, "test_accuracy": accuracy, "recipe": dataclasses.asdict(recipe)}
        atomic_write_json(folder / INFO_FILE, info)
        return sha, info

    if cache:  # another process may have cached the same extractor first: then its copy stays
        with atomic_directory(directory, replace=False) as tmp:
            sha, info = write(tmp)
        if build_dir is not None:
            import shutil

            shutil.rmtree(build_dir, ignore_errors=True)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            sha, info = write(Path(tmp))
    return FeatureExtractor(model, name, sha, info)
