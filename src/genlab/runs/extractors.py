"""Building feature extractors: a classifier trained by a fixed recipe, as a resumable run in the cache.

:mod:`genlab.metrics.features` names, finds, verifies and loads extractors; building one trains a
model, which is the run layer's job. The build is an ordinary run in ``<entry>.building/`` kept
until it finishes, so a build stopped by Ctrl-C / SIGTERM (or a kill) continues from its last
checkpoint the next time the extractor is needed, and the deterministic recipe (seed, deterministic
algorithms, one thread, fp32) gives the same weights. The finished extractor is moved into its
cache entry atomically; another process that cached it first keeps its copy.
"""
from __future__ import annotations

import dataclasses
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import torch

from genlab.config import DataConfig
from genlab.errors import Interrupted
from genlab.io import atomic_directory, atomic_write_json
from genlab.metrics.features import (
    INFO_FILE,
    ExtractorEntry,
    ExtractorRecipe,
    FeatureExtractor,
    extractor_entry,
    file_sha256,
    load_cached,
)
from genlab.runs import run  # a module reference: a run may build an extractor (the mode monitor), which trains a run
from genlab.training.distributed import resolve_device
from genlab.training.trainer import StopSignals


def build_extractor(data: DataConfig | dict | str, recipe: ExtractorRecipe | None = None,
                    cache: bool = True, verbose: bool = True, build: bool = True,
                    device: str = "auto") -> FeatureExtractor | None:
    """The feature extractor for a dataset: loaded from the cache, or trained once and cached.

    Args:
        data: the dataset (spec string, dict or DataConfig); binarization and --limit are ignored.
        recipe: how to train it (default: :func:`~genlab.metrics.features.default_recipe` for the
            dataset's image shape).
        cache: read and write ``$GENLAB_CACHE/extractors``.
        verbose: say on stderr when an extractor is being trained.
        build: train it when it is not cached; False returns None instead.
        device: where to train it when it is not cached: 'auto' (cuda, then mps, then cpu), 'cpu', 'cuda', ...
            A build off the CPU is its own cache entry (the recipe's ``device``); a cached CPU build is
            used first wherever it is asked for.

    Returns:
        a :class:`FeatureExtractor` (None only when ``build`` is False and it is not cached).

    Raises:
        DataError: the dataset cannot be loaded or has no labels to train a classifier on.
        Interrupted: SIGINT / SIGTERM stopped the build (it continues the next time).
    """
    entry = extractor_entry(data, recipe)
    where = resolve_device(device).type
    if where != entry.recipe.device:  # the same recipe trained elsewhere: another cache entry
        entries = [entry, extractor_entry(data, dataclasses.replace(entry.recipe, device=where))]
    else:
        entries = [entry]
    for candidate in entries:
        if cache and (candidate.directory / INFO_FILE).is_file():
            cached = load_cached(candidate.directory, candidate.name)
            if cached is not None:
                return cached
    entry = entries[-1]
    if not build:
        return None
    with StopSignals():  # from here a signal ends the build at a checkpoint, with one line
        return _build(entry, cache, verbose)


def _accuracy(classifier: Any, splits: Any) -> float | None:
    test = splits.test
    if test.y is None or len(test) == 0:
        return None
    pred = classifier.predict(test.images(slice(None)))
    return float((pred == test.y).float().mean())


def _build(entry: ExtractorEntry, cache: bool, verbose: bool) -> FeatureExtractor:
    directory, name, key, recipe, data_cfg, splits = (entry.directory, entry.name, entry.key, entry.recipe,
                                                       entry.data, entry.splits)
    build_dir = directory.with_name(directory.name + ".building") if cache else None
    resuming = build_dir is not None and run.is_run(build_dir)
    if verbose:
        what = "continuing the build of" if resuming else "training"
        print(f"genlab: {what} feature extractor {name} ({recipe.arch}, {recipe.steps} steps, seed {recipe.seed}); "
              f"cached for later runs", file=sys.stderr, flush=True)
    model_cfg = {"arch": recipe.arch, "vgg_width": recipe.vgg_width, "vgg_hidden": recipe.vgg_hidden,
                 "dropout": recipe.dropout, "factors": recipe.factors}
    train_cfg = {"steps": recipe.steps, "batch_size": min(recipe.batch_size, len(splits.train)), "lr": recipe.lr,
                 "seed": recipe.seed, "schedule": "cosine", "deterministic": True, "device": recipe.device,
                 "precision": "fp32", "log_every": 0, "num_samples": 1}
    was_deterministic, threads = torch.are_deterministic_algorithms_enabled(), torch.get_num_threads()
    torch.set_num_threads(recipe.threads)
    with torch.random.fork_rng():
        try:
            if resuming and build_dir is not None:
                model = run.resume(build_dir, "classifier")
            else:
                model = run.train("classifier", out=build_dir, model_config=model_cfg, data=data_cfg, train=train_cfg,
                              overwrite=True)
        except Interrupted as e:
            saved = "from its last checkpoint" if e.saved else "from the start"
            raise Interrupted(e.signal_name, e.step, e.saved, None,
                              detail=f"stopped by {e.signal_name} while training feature extractor {name} "
                                     f"(step {e.step}); the build continues {saved} the next time it is needed",
                              ) from None
        finally:
            torch.use_deterministic_algorithms(was_deterministic)
            torch.set_num_threads(threads)
    model = model.cpu().eval()
    accuracy = _accuracy(model, splits)

    def write(folder: Path) -> tuple[str, dict[str, Any]]:
        model.save(folder)
        sha = file_sha256(folder / "model.safetensors")
        info = {**key, "name": name, "weights_sha256": sha, "test_accuracy": accuracy,
                "recipe": dataclasses.asdict(recipe)}
        atomic_write_json(folder / INFO_FILE, info)
        return sha, info

    if cache:  # another process may have cached the same extractor first: then its copy stays
        with atomic_directory(directory, replace=False) as tmp:
            sha, info = write(tmp)
        if build_dir is not None:
            shutil.rmtree(build_dir, ignore_errors=True)
    else:
        with tempfile.TemporaryDirectory() as scratch:
            sha, info = write(Path(scratch))
    return FeatureExtractor(model, name, sha, info)
