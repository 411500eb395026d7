"""The ``genlab`` command line: parse flags, build configs, call one library function.

Each command group lives in its own module with a ``register(subparsers, argv)`` function that adds
its sub-commands and sets ``func`` on them. ``COMMANDS`` names every command with its module and
its one-line help, so ``genlab --help`` lists them all while only the module of the command being
run is imported (most import torch; ``genlab --help`` and ``genlab models`` do not). A test checks
the table against the help each module registers.
"""
from __future__ import annotations

import argparse
import errno
import importlib
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from genlab import __version__
from genlab.cpu import passive_openmp, tune_allocator
from genlab.errors import GenlabError, Interrupted

_TRAIN, _GENERATE, _INFO, _APPS, _EVALUATE, _BENCH, _CNN, _MODES, _ANOMALY, _SYNTH = (
    f"genlab.cli.{m}" for m in ("train", "generate", "info", "apps", "evaluate", "bench", "cnn", "modes", "anomaly",
                                "synth"))
_TRANSLATE = "genlab.cli.translate"
# command -> (module that registers it, its help line), in the order `genlab --help` lists them
COMMANDS: dict[str, tuple[str, str]] = {
    "train": (_TRAIN, "train a model (or resume a run)"),
    "sample": (_GENERATE, "draw new images from a trained model"),
    "predict": (_GENERATE, "frame prediction: the first k frames of clips given, the rest generated"),
    "reconstruct": (_GENERATE, "test images (odd rows) above their reconstructions (even rows)"),
    "interpolate": (_GENERATE, "a strip of decoded codes between two test images"),
    "style-mix": (_GENERATE, "style-mixing grid: coarse / middle / fine styles of row sources applied to column "
                             "sources (stylegan)"),
    "traverse": (_GENERATE, "vary one latent dimension at a time (a row per dimension)"),
    "edit": (_GENERATE, "move test images toward a label with an attribute vector"),
    "manifold": (_GENERATE, "decode a grid over a 2-D latent space"),
    "models": (_INFO, "list the registered models"),
    "datasets": (_INFO, "list the dataset sources"),
    "denoise": (_APPS, "clean noisy images with an autoencoder; PSNR/SSIM before and after"),
    "encode": (_APPS, "compress images to latent codes (float16 or 8-bit) and report the sizes"),
    "decode": (_APPS, "images from a code file made by `genlab encode`"),
    "embed": (_APPS, "codes of a dataset split (.npz) and a 2-D plot coloured by label"),
    "evaluate": (_EVALUATE, "sample-quality, likelihood and reconstruction metrics of a run"),
    "bench": (_BENCH, "train and evaluate every generative model under one budget; writes a table into "
                      "docs/benchmarks.md"),
    "cnn": (_CNN, "convolution arithmetic and layer-by-layer network summaries"),
    "modes": (_MODES, "class histogram of generated samples (via the evaluation classifier); warns on mode collapse"),
    "anomaly": (_ANOMALY, "anomaly detection: fit a detector on normal data, score new inputs"),
    "synth": (_SYNTH, "synthetic tables: fit ctgan / tvae on a table, sample rows, report quality"),
    "augment": (_SYNTH, "measure whether generated data helps a classifier: N real vs N real + M generated"),
    "report": ("genlab.cli.report", "a self-contained HTML report of a run (config, curves, samples, metrics)"),
    "compare": ("genlab.cli.report", "several runs side by side in one HTML page"),
    "export": ("genlab.cli.export", "write a model part as ONNX (checked by onnxruntime) or TorchScript"),
    "explore": ("genlab.cli.explore", "a local web page to explore a run's model: samples, latent sliders, "
                                      "interpolation, attribute vectors, denoising"),
    "translate": (_TRANSLATE, "translate images with a pix2pix / cyclegan run (A -> B, or B -> A)"),
    "upscale": (_TRANSLATE, "super-resolve images of any size with a srresnet / srgan run (tiled)"),
}
COMMAND_MODULES = list(dict.fromkeys(module for module, _ in COMMANDS.values()))


class _Parser(argparse.ArgumentParser):
    """argparse with usage errors as one line (``genlab: error: ...``) instead of usage + exit."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise GenlabError(f"{message} (see `{self.prog} --help`)")


def _command_in(argv: Sequence[str]) -> str | None:
    """The command an argv names: its first word that is not an option (the top level has no
    option that takes a value)."""
    return next((a for a in argv if not a.startswith("-")), None)


def build_parser(argv: Sequence[str] = (), all_commands: bool = False) -> argparse.ArgumentParser:
    """The parser for ``argv``: the module of the command argv names is imported and registers its
    commands; every other command gets a stand-in sub-parser with its help line (enough for
    ``genlab --help`` and for an unknown command's error). ``all_commands`` imports every module."""
    parser = _Parser(
        prog="genlab", description="Classic deep generative models: train, sample, reconstruct, evaluate.")
    parser.add_argument("--version", action="version", version=f"genlab {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    named = _command_in(argv)
    wanted = set(COMMAND_MODULES) if all_commands else {COMMANDS[named][0]} if named in COMMANDS else set()
    registered: set[str] = set()
    for command, (module, help_line) in COMMANDS.items():
        if module in wanted:
            if module not in registered:
                importlib.import_module(module).register(sub, list(argv))
                registered.add(module)
        else:
            sub.add_parser(command, help=help_line)
    return parser


class _Terminated(BaseException):
    """SIGTERM outside training (the trainer's own handler takes over there): end like Ctrl-C."""


def _on_sigterm(signum: int, frame: object) -> None:
    raise _Terminated


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    passive_openmp()  # before any command imports torch: idle OpenMP threads sleep instead of spinning (genlab/cpu.py)
    tune_allocator()  # sampling and evaluation allocate like training does (genlab/cpu.py)
    ours = threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGTERM) == signal.SIG_DFL
    if ours:
        signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        return _main(argv)
    except _Terminated:
        print("genlab: stopped by SIGTERM", file=sys.stderr)
        return 128 + signal.SIGTERM
    finally:
        if ours:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _main(argv: list[str]) -> int:
    try:
        args = build_parser(argv).parse_args(argv)
        return int(args.func(args) or 0)
    except GenlabError as e:
        print(f"genlab: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("genlab: interrupted", file=sys.stderr)
        return 128 + signal.SIGINT
    except BrokenPipeError:
        return 1
    except OSError as e:  # a file the user named cannot be read or written (permissions, full disk, ...)
        print(f"genlab: error: {_os_error(e)}", file=sys.stderr)
        return 2
    except Interrupted as e:  # a training stopped by a signal
        print(f"genlab: {e}", file=sys.stderr)  # e.g. a feature extractor's build: it continues next time
        return 128 + getattr(signal, e.signal_name)


def _os_error(e: OSError) -> str:
    """One line for an OSError; a path that runs through a file says so (not 'File exists')."""
    name = getattr(e, "filename", None)
    if name and e.errno in (errno.EEXIST, errno.ENOTDIR):
        path = Path(name)
        for part in [path, *path.parents]:
            if part.exists():
                if not part.is_dir() and (part != path or e.errno == errno.EEXIST):
                    return f"{part} is a file, not a folder" + (f" (needed for {name})" if part != path else "")
                break
    return f"{e.strerror or e}" + (f": {name}" if name else "")
