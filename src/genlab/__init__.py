"""genlab: classic deep generative models on PyTorch, CPU-first and offline.

    import genlab
    model = genlab.train("vae", data="mnist", train={"epochs": 5}, out="runs/vae")
    model = genlab.load("runs/vae")
    images = model.sample(16)            # (16, 1, 28, 28) in [0, 1]
"""
from __future__ import annotations

__version__ = "0.1.0"

from genlab.config import DataConfig, TrainConfig
from genlab.errors import GenlabError
from genlab.training.run import load, resume, train


def models() -> list[str]:
    """Names of the registered models."""
    from genlab import registry

    return registry.names()


def datasets() -> list[tuple[str, str]]:
    """(name, description) of every dataset source."""
    from genlab.data import list_datasets

    return list_datasets()


__all__ = ["DataConfig", "GenlabError", "TrainConfig", "datasets", "load", "models", "resume", "train", "__version__"]
