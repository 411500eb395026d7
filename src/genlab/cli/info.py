"""``genlab models`` and ``genlab datasets``: what exists, one line each (from catalogs: no torch)."""
from __future__ import annotations

import argparse
from typing import Any

from genlab import registry
from genlab.dataset_catalog import list_datasets


def register(sub: Any, argv: list[str]) -> None:
    sub.add_parser("models", help="list the registered models").set_defaults(func=cmd_models)
    sub.add_parser("datasets", help="list the dataset sources").set_defaults(func=cmd_datasets)


def cmd_models(args: argparse.Namespace) -> int:
    names = registry.names()
    width = max(map(len, names))
    for name in names:
        print(f"{name:<{width}}  {registry.summary(name)}")
    return 0


def cmd_datasets(args: argparse.Namespace) -> int:
    rows = list_datasets()
    width = max(len(n) for n, _ in rows)
    for name, text in rows:
        print(f"{name:<{width}}  {text}")
    return 0
