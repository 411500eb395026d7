"""``genlab train MODEL ...`` and ``genlab train --resume RUN``."""
from __future__ import annotations

import argparse
import os
import signal
import sys
from typing import Any

from genlab import registry
from genlab.cli.options import add_config_flags, collect
from genlab.config import DataConfig, TrainConfig, read_config_file
from genlab.errors import ConfigError, Interrupted
from genlab.runs.run import RESUMABLE_OVERRIDES, resume, train
from genlab.training import distributed
from genlab.training.trainer import StopSignals


def register(sub: Any, argv: list[str]) -> None:
    p = sub.add_parser("train", help="train a model (or resume a run)",
                       description="Train MODEL on a dataset. Flags override --config FILE; the resolved "
                                   "config is written to OUT/config.json.")
    p.add_argument("model", nargs="?", help="model name (see `genlab models`); optional with --resume")
    p.add_argument("--config", metavar="FILE", help="JSON or TOML file with sections model, data, train")
    p.add_argument("--out", metavar="DIR", help="run directory to create (default: runs/MODEL)")
    p.add_argument("--resume", metavar="RUN", help="continue RUN from its newest checkpoint")
    p.add_argument("--overwrite", action="store_true", help="replace an existing run directory")
    add_config_flags(p, DataConfig, "data", "data")
    add_config_flags(p, TrainConfig, "train", "training")
    model = _model_in(argv)
    if model is not None:
        add_config_flags(p, registry.get(model).config_class, "model", f"model '{model}'")
    p.set_defaults(func=run_train)


def _model_in(argv: list[str]) -> str | None:
    """The model a `train` command line names: the word after 'train', or model.name in --config."""
    if not argv or argv[0] != "train":
        return None
    if len(argv) >= 2 and not argv[1].startswith("-"):
        registry.get(argv[1])  # an unknown name fails here with a suggestion
        return argv[1]
    for i, arg in enumerate(argv):
        if arg == "--config" and i + 1 < len(argv):
            path: str | None = argv[i + 1]
        else:
            path = arg.partition("=")[2] if arg.startswith("--config=") else None
        if path:
            name = read_config_file(path).get("model", {}).get("name")
            if name:
                registry.get(name)
                return name
    return None


def run_train(args: argparse.Namespace) -> int:
    file_cfg: dict[str, Any] = read_config_file(args.config) if args.config else {}
    data_over = collect(args, DataConfig, "data")
    train_over = collect(args, TrainConfig, "train")
    try:
        with StopSignals():  # from here on SIGINT/SIGTERM end the command with one line, not a bare exit
            if args.resume:
                if file_cfg or data_over or args.overwrite:
                    allowed = ", ".join("--" + k.replace("_", "-") for k in sorted(RESUMABLE_OVERRIDES))
                    raise ConfigError(f"--resume continues a run as configured; only {allowed} may be given")
                resume(args.resume, args.model, **train_over)
                out = args.resume
            else:
                file_model = file_cfg.get("model", {})
                name = args.model or file_model.get("name")
                if not name:
                    raise ConfigError("name a model to train (e.g. `genlab train vae`), or --resume a run")
                model_cfg = {k: v for k, v in file_model.items() if k != "name"}
                model_cfg.update(collect(args, registry.get(name).config_class, "model"))
                out = args.out or f"runs/{name}"
                train(name, out=out, model_config=model_cfg,
                      data={**file_cfg.get("data", {}), **data_over},
                      train={**file_cfg.get("train", {}), **train_over}, overwrite=args.overwrite)
    except Interrupted as e:
        code = 128 + getattr(signal, e.signal_name)
        if int(os.environ.get("RANK", "0")) != 0:
            return code
        if e.run_dir is None:  # stopped before the run directory was created, or in a feature extractor's build
            print(f"genlab: {e}", file=sys.stderr)
            return code
        where = e.run_dir
        start = "" if e.saved else " (it starts from step 0)"
        print(f"genlab: {e}; resume with: genlab train --resume {where}{start}", file=sys.stderr)
        return code
    finally:
        distributed.teardown()
    if int(os.environ.get("RANK", "0")) == 0:
        print(f"run written to {out}", file=sys.stderr)
    return 0
