"""genlab: classic deep generative models on PyTorch, CPU-first and offline.

    import genlab
    model = genlab.train("vae", data="mnist", train={"epochs": 5}, out="runs/vae")
    model = genlab.load("runs/vae")
    images = model.sample(16)            # (16, 1, 28, 28) in [0, 1]
"""
from __future__ import annotations

__version__ = "0.2.0.dev0"

from typing import TYPE_CHECKING, Any

from genlab import registry
from genlab.config import DataConfig, TrainConfig
from genlab.dataset_catalog import list_datasets
from genlab.errors import GenlabError

if TYPE_CHECKING:
    from genlab.runs.run import load, resume, train

_RUN_FUNCTIONS = ("load", "resume", "train")


def __getattr__(name: str) -> Any:
    """``genlab.train/resume/load`` import torch and the run layer on first use, so that
    ``import genlab`` (and ``genlab --help``) stays light."""
    if name in _RUN_FUNCTIONS:
        from genlab.runs import run  # deferred on purpose: the run layer imports torch

        return getattr(run, name)
    raise AttributeError(f"module 'genlab' has no attribute '{name}'")


def models() -> list[str]:
    """Names of the registered models."""
    return registry.names()


def datasets() -> list[tuple[str, str]]:
    """(name, description) of every dataset source."""
    return list_datasets()


__all__ = ["DataConfig", "GenlabError", "TrainConfig", "datasets", "load", "models", "resume", "train", "__version__"]
