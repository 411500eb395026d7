"""The model registry: ONE dict from model name to (config class, model class).

Model files register themselves with :func:`register`; ``genlab.models`` imports every model file
so that importing it fills the registry. Nothing else dispatches on model names.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from genlab.config import from_dict, suggest
from genlab.errors import ConfigError


@dataclass(frozen=True)
class Entry:
    name: str
    config_class: type
    model_class: type
    summary: str


MODELS: dict[str, Entry] = {}


def register(name: str, config_class: type, summary: str) -> Callable[[type], type]:
    """Class decorator: ``@register("vae", VAEConfig, "one-line summary")``."""

    def wrap(model_class: type) -> type:
        if name in MODELS:
            raise RuntimeError(f"model name '{name}' registered twice")
        MODELS[name] = Entry(name, config_class, model_class, summary)
        model_class.registry_name = name
        return model_class

    return wrap


def get(name: str) -> Entry:
    _ensure_loaded()
    if name not in MODELS:
        raise ConfigError(f"unknown model '{name}'{suggest(name, MODELS)}; `genlab models` lists them")
    return MODELS[name]


def names() -> list[str]:
    _ensure_loaded()
    return sorted(MODELS)


def build(name: str, config: Any = None) -> Any:
    """Build model ``name`` from a config object, a dict of its fields, or the defaults."""
    entry = get(name)
    if config is None:
        config = entry.config_class()
    elif isinstance(config, dict):
        config = from_dict(entry.config_class, config, f"model config of '{name}'")
    elif not isinstance(config, entry.config_class):
        raise ConfigError(f"model '{name}' takes a {entry.config_class.__name__}, got {type(config).__name__}")
    return entry.model_class(config)


def _ensure_loaded() -> None:
    import genlab.models  # noqa: F401  (importing it registers every model)
