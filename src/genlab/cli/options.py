"""Command-line flags generated from config dataclasses, so every config field is a flag.

A field ``batch_size`` becomes ``--batch-size``; booleans get ``--x`` / ``--no-x``; tuples take
several values; dicts take KEY=VALUE pairs. Flags default to "not given", so only the flags a user
types override the config file and the defaults. Values are converted and checked by
:func:`genlab.config.from_dict`, the same path a JSON config takes.
"""
from __future__ import annotations

import argparse
import dataclasses
import re
import types
import typing
from typing import Any

from genlab.config import DataConfig, _coerce
from genlab.dataset_catalog import list_datasets
from genlab.errors import ConfigError

# filled from the data, never typed by users
DERIVED_FIELDS = {"data_shape", "num_classes", "factor_dim", "a_channels", "pair_scale"}


def _field_help(cls: type) -> dict[str, str]:
    """Field descriptions from the 'Attributes:' sections of a dataclass's docstring and of its base
    classes' (a subclass's own description of a field wins)."""
    helps: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if dataclasses.is_dataclass(klass):
            helps.update(_own_field_help(klass))
    helps.update(_dynamic_help(cls))
    return helps


def _dynamic_help(cls: type) -> dict[str, str]:
    """Help texts derived from the code, so they cannot drift: the dataset sources of DataConfig."""
    if not issubclass(cls, DataConfig):
        return {}
    names = ", ".join(f"'{usage}'" for usage, _ in list_datasets())
    return {"dataset": f"what to train on: {names}.".replace("%", "%%")}


def _own_field_help(cls: type) -> dict[str, str]:
    """Field descriptions from the 'Attributes:' section of one class's docstring."""
    doc = cls.__doc__ or ""
    if "Attributes:" not in doc:
        return {}
    helps: dict[str, str] = {}
    current: list[str] = []
    for line in doc.split("Attributes:", 1)[-1].splitlines():
        m = re.match(r"^\s{4,8}([a-z_][a-z0-9_, ]*):\s*(.*)$", line)
        if m:
            current = [n.strip() for n in m.group(1).split(",")]
            for n in current:
                helps[n] = m.group(2)
        elif line.strip() and current:
            for n in current:
                helps[n] += " " + line.strip()
    return {k: v.replace("%", "%%") for k, v in helps.items()}


def add_config_flags(parser: argparse.ArgumentParser | Any, cls: type, dest_prefix: str, title: str,
                     defaults: dict[str, Any] | None = None, skip: tuple[str, ...] = ()) -> None:
    """Add one flag per field of dataclass ``cls``; values land in ``args.<dest_prefix>__<field>``.

    ``defaults`` replaces the field defaults shown in the help, for a command that applies its own
    (e.g. ``anomaly fit`` trains 20 epochs); ``skip`` names fields the command does not use."""
    defaults = defaults or {}
    group = parser.add_argument_group(title)
    helps = _field_help(cls)
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if f.name in DERIVED_FIELDS or f.name in skip or not f.init:
            continue
        flag = "--" + f.name.replace("_", "-")
        dest = f"{dest_prefix}__{f.name}"
        hint = hints[f.name]
        optional = _none_allowed(hint)
        if typing.get_origin(hint) in (typing.Union, types.UnionType):  # X | None: the flag takes what X takes
            inner = [a for a in typing.get_args(hint) if a is not type(None)]
            hint = inner[0] if len(inner) == 1 else hint
        origin = typing.get_origin(hint)
        default = f.default if f.default is not dataclasses.MISSING else (
            f.default_factory() if f.default_factory is not dataclasses.MISSING else None)
        default = defaults.get(f.name, default)
        text = f"{helps.get(f.name, '')} (default: {default})".strip()
        kwargs: dict[str, Any] = dict(dest=dest, default=argparse.SUPPRESS, help=text)
        if hint is bool:
            group.add_argument(flag, action=argparse.BooleanOptionalAction, **kwargs)
        elif origin in (tuple, list):
            group.add_argument(flag, nargs="+", metavar="V", **kwargs)
        elif origin is dict:
            group.add_argument(flag, nargs="+", metavar="KEY=VALUE", **kwargs)
        elif origin is typing.Literal:
            choices = [str(a) for a in typing.get_args(hint)]
            group.add_argument(flag, choices=choices + (["none"] if optional else []), **kwargs)
        else:
            group.add_argument(flag, metavar=f.name.upper(), **kwargs)


def collect(args: argparse.Namespace, cls: type, dest_prefix: str) -> dict[str, Any]:
    """The flags of config ``cls`` that the user gave, as a dict of field -> value.

    Each value is converted to its field's type here (a non-number, NaN, infinity, a tuple of the
    wrong length fails now, before any data is loaded); ranges are checked when the config is built.
    The word 'none' means None only for an optional field that has no value 'none' of its own
    (``--image-size none``, but ``--d-norm none`` is the choice 'none')."""
    hints = typing.get_type_hints(cls)
    out: dict[str, Any] = {}
    for key, value in vars(args).items():
        if not key.startswith(dest_prefix + "__"):
            continue
        name = key[len(dest_prefix) + 2:]
        hint = hints.get(name)
        flag = "--" + name.replace("_", "-")
        if typing.get_origin(hint) is dict:
            value = dict(key_value(v) for v in value)
        elif _means_none(value) and _none_allowed(hint):
            value = None
        elif isinstance(value, list) and _numbers_only(hint):  # '--betas 0.5,0.9' = '--betas 0.5 0.9'
            value = [part for v in value for part in str(v).replace(",", " ").split()]
        out[name] = value if hint is None else _coerce(value, hint, flag)
    return out


def _numbers_only(hint: Any) -> bool:
    """Whether a (possibly optional) tuple/list field holds numbers only (so commas separate values)."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return any(_numbers_only(a) for a in typing.get_args(hint) if a is not type(None))
    args = [a for a in typing.get_args(hint) if a is not Ellipsis]
    return typing.get_origin(hint) in (tuple, list) and bool(args) and all(a in (int, float) for a in args)


def _means_none(value: Any) -> bool:
    if isinstance(value, (list, tuple)) and len(value) == 1:
        value = value[0]
    return isinstance(value, str) and value.lower() == "none"


def _none_allowed(hint: Any) -> bool:
    """Whether the word 'none' stands for None in this field: it is Optional and 'none' is not
    one of its own values."""
    args = typing.get_args(hint)
    if typing.get_origin(hint) not in (typing.Union, types.UnionType) or type(None) not in args:
        return False
    return not any(typing.get_origin(a) is typing.Literal and "none" in typing.get_args(a) for a in args)


def key_value(text: str) -> tuple[str, str]:
    """KEY=VALUE (a dict flag, `cnn summary --set`) as (key, value)."""
    key, _, value = text.partition("=")
    if not key or not value:
        raise ConfigError(f"expected KEY=VALUE, got '{text}'")
    return key, value
