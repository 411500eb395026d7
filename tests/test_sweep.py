"""The CLI sweep: every subcommand against a tiny run of every registered model.

Each command either succeeds (exit 0) or refuses with exactly one stderr line `genlab: error: ...`
and exit 2; never a traceback. The list of commands comes from the parser itself, so a new command
(or a nested one such as `anomaly fit` or `cnn summary`) is swept without editing this file: it gets
the run as its positional arguments and whatever required flags the table below knows.
"""
from __future__ import annotations

import argparse
import shutil
import traceback

import numpy as np
import pytest

from genlab import registry
from genlab.cli import build_parser, main
from genlab.metrics import features
from genlab.runs import extractors
from genlab.smoke import BASE_FLAGS, TABLE_FLAGS, train_flags

PAIRED = {"pix2pix", "cyclegan"}  # trained on pairs; srresnet / srgan take the digits themselves
CLIPS = {"video-vae", "video-gan", "video-ddpm"}
SERIES = ["--window", "8", "--stride", "2"]
EXTRACTOR = features.ExtractorRecipe(arch="lenet5", steps=5, batch_size=16, lr=3e-3)

MODELS = [n for n in registry.names() if not n.startswith("test-")]
# `bench` trains the model at its default size: the two U-Nets alone would double the sweep's time
# (their bench runs are covered by the bench tests)
NO_BENCH = {"ddpm", "cddpm", "score-sde", "ncsn"}


def leaf_commands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    """(command path, its parser) for every runnable command, nested ones included."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from leaf_commands(sub, path + (name,))
            return
    yield path, parser


COMMANDS = list(leaf_commands(build_parser(["train"], all_commands=True)))


class Env:
    """Tiny runs made on first use (once per test process), the data they need and a scratch folder."""

    def __init__(self, root):
        self.root = root
        self.runs: dict[str, str] = {}
        self.series = root / "series.csv"
        t = np.arange(200)
        rows = "".join(f"{np.sin(i / 3):.4f},{np.cos(i / 5):.4f}\n" for i in t)
        self.series.write_text("a,b\n" + rows)
        self.images = root / "noisy.npz"
        np.savez(self.images, x=np.random.default_rng(0).random((4, 1, 8, 8)).astype(np.float32))
        self.cache = root / "cache"
        self.pairs = root / "pairs.npz"  # paired images for the translation models
        rng = np.random.default_rng(0)
        b = (rng.random((40, 1, 8, 8)) * 255).astype(np.uint8)
        np.savez(self.pairs, a=255 - b, b=b)
        self.clips = root / "clips"  # 24 4-frame 8x8 GIF clips
        self.clips.mkdir()
        from PIL import Image

        rng = np.random.default_rng(0)
        for i in range(24):
            frames = [Image.fromarray(rng.integers(0, 255, (8, 8), dtype=np.uint8)) for _ in range(4)]
            frames[0].save(self.clips / f"c{i}.gif", save_all=True, append_images=frames[1:])

    def data(self, name: str) -> list[str]:
        if name in ("recurrent-ae", "recurrent-vae"):
            return ["--dataset", f"csv:{self.series}", *SERIES]
        if name in PAIRED:
            return ["--dataset", f"pairs:npz:{self.pairs}"]
        if name in CLIPS:
            return ["--dataset", f"video:{self.clips}", "--validation-fraction", "0.15", "--test-fraction", "0.15"]
        return ["--dataset", "digits"]

    def run(self, name: str) -> str:
        if name not in self.runs:
            out = self.root / "runs" / name
            if registry.get(name).model_class.tabular:  # table models are fitted by `genlab synth`
                argv = ["synth", "fit", "--data", "table:iris", "--model", name, "--out", str(out),
                        *TABLE_FLAGS[name]]
            else:
                argv = ["train", name, *self.data(name), "--out", str(out), *BASE_FLAGS, *train_flags(name)]
            assert main(argv) == 0, argv
            self.runs[name] = str(out)
        return self.runs[name]


@pytest.fixture(scope="session")
def sweep_env(tmp_path_factory):
    env = Env(tmp_path_factory.mktemp("sweep"))
    with pytest.MonkeyPatch.context() as mp:  # a tiny evaluation classifier for evaluate and modes
        mp.setenv("GENLAB_CACHE", str(env.cache))
        mp.setattr(features, "default_recipe", lambda shape: EXTRACTOR)
        extractors.build_extractor("digits", verbose=False)
    return env


def _argvs(path: tuple[str, ...], parser: argparse.ArgumentParser, name: str, run: str, env: Env, out) -> list[list[str]]:
    """Command lines for one command on one run (several where a flag changes the code path)."""
    model_data = env.data(name)
    known = {
        ("train",): [["train", "--resume", run],  # and the other kind of data (series for image models)
                     ["train", name, *(["--dataset", "digits"] if name in ("recurrent-ae", "recurrent-vae", *CLIPS) else
                                       ["--dataset", f"csv:{env.series}", *SERIES]),
                      "--out", f"{out}/cross", *BASE_FLAGS, *train_flags(name)]],
        ("sample",): [["sample", run, "--n", "4", "--out", f"{out}/s.png"], ["sample", run, "--n", "4", "--out", f"{out}/s.npz"],
                      ["sample", run, "--n", "3", "--label", "1", "--out", f"{out}/l.png"],
                      ["sample", run, "--n", "2", "--truncation", "0.5", "--out", f"{out}/tr.png"],
                      ["sample", run, "--n", "2", "--stage", "0", "--out", f"{out}/st.png"],
                      ["sample", run, "--n", "2", "--out", f"{out}/s.gif"],
                      ["sample", run, "--n", "2", "--length", "5", "--out", f"{out}/len.csv"]],
        ("style-mix",): [["style-mix", run, "--rows", "1", "--cols", "2", "--out", f"{out}/sm.png"]],
        ("reconstruct",): [["reconstruct", run, "--n", "4", "--out", f"{out}/r.png"]],
        ("predict",): [["predict", run, "--frames", "2", "--n", "2", "--out", f"{out}/p.gif"],
                       ["predict", run, "--frames", "4", "--n", "2", "--out", f"{out}/p.gif"]],
        ("interpolate",): [["interpolate", run, "--steps", "3", "--out", f"{out}/i.png"]],
        ("traverse",): [["traverse", run, "--steps", "3", "--out", f"{out}/t.png"]],
        ("edit",): [["edit", run, "--toward", "1", "--n", "2", "--fit", "50", "--out", f"{out}/e.png"]],
        ("manifold",): [["manifold", run, "--steps", "3", "--out", f"{out}/m.png"]],
        ("denoise",): [["denoise", run, "--input", str(env.images), "--out", f"{out}/den"]],
        ("encode",): [["encode", run, "--n", "4", "--out", f"{out}/codes.npz"]],
        ("decode",): [["decode", run, "--codes", f"{out}/codes.npz", "--out", f"{out}/dec.png"]],
        ("embed",): [["embed", run, "--n", "8", "--out", f"{out}/emb.npz"]],
        ("evaluate",): [["evaluate", run, "--n", "20", "--kid-subset-size", "10", "--kid-subsets", "2", "--is-splits", "2",
                         "--out", f"{out}/m.json"],
                        ["evaluate", run, "--metrics", "recon,nll", "--n", "8", "--nll-k", "2", "--nll-n", "4",
                         "--out", f"{out}/m2.json"]],
        ("bench",): [["bench", "--models", name, "--dataset", "digits", "--epochs", "1", "--time-budget", "0.3",
                      "--n", "20", "--kid-subset-size", "10", "--nll-k", "2", "--nll-n", "4", "--batch-size", "16",
                      "--out-dir", f"{out}/bench", "--doc", f"{out}/bench.md"]],
        ("cnn", "calc"): [["cnn", "calc", "--kernel", "3", "--input", "8"]],
        ("translate",): [["translate", run, "--n", "2", "--out", f"{out}/tr"]],
        ("upscale",): [["upscale", run, "--n", "2", "--out", f"{out}/up"]],
        ("cnn", "summary"): [["cnn", "summary", run], ["cnn", "summary", name]],
        ("modes",): [["modes", run, "--n", "20"]],
        ("report",): [["report", run, "--out", f"{out}/report.html"]],
        ("compare",): [["compare", run, run, "--out", f"{out}/compare.html"]],
        ("export",): [["export", run, "--part", "all", "--out", f"{out}/m.onnx"]],
        ("explore",): [["explore", run, "--check"]],  # without --check it serves until stopped
        ("anomaly", "fit"): [["anomaly", "fit", *model_data[:2], "--model", name, "--out", f"{out}/det", "--steps", "2",
                              "--batch-size", "16", "--limit", "200", *train_flags(name)]
                             + (["--kind", "series"] if name == "recurrent-ae" else [])],
        ("anomaly", "score"): [["anomaly", "score", f"{out}/det", "--input", model_data[1], "--out", f"{out}/scores.csv"]],
    }
    if path == ("bench",) and name in NO_BENCH:
        return []
    if path in known:
        return known[path]
    # a command this table does not know yet: the run for each positional argument
    positionals = [a for a in parser._actions if not a.option_strings and not isinstance(a, argparse._SubParsersAction)]
    return [[*path, *[run for _ in positionals]]]


def _bare(path: tuple[str, ...], parser: argparse.ArgumentParser) -> list[list[str]]:
    """The command with nothing after it, when it needs something (a usage error, one line)."""
    needs = any(a.required or not a.option_strings and a.nargs is None for a in parser._actions)
    return [list(path)] if needs else []


@pytest.mark.parametrize("name", MODELS)
def test_every_command_on_every_model(name, sweep_env, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("GENLAB_CACHE", str(sweep_env.cache))
    monkeypatch.setattr(features, "default_recipe", lambda shape: EXTRACTOR)
    monkeypatch.chdir(tmp_path)  # commands with default output paths write here, not into the checkout
    run = sweep_env.run(name)
    copy = tmp_path / "run"  # commands may write into the run: give them a copy
    shutil.copytree(run, copy)
    capsys.readouterr()
    failures = []
    for path, parser in COMMANDS:
        for argv in _argvs(path, parser, name, str(copy), sweep_env, tmp_path) + _bare(path, parser):
            try:
                code = main(argv)
            except BaseException:  # noqa: BLE001 - a traceback is exactly what the sweep looks for
                code, tb = "raised", traceback.format_exc()
            else:
                tb = ""
            captured = capsys.readouterr()
            err = captured.err.strip().splitlines()
            if tb or "Traceback" in captured.err:
                failures.append(f"{' '.join(argv)}: traceback\n{tb or captured.err}")
            elif code == 2:
                if len(err) != 1 or not err[0].startswith("genlab: error: "):
                    failures.append(f"{' '.join(argv)}: exit 2 without exactly one error line: {err}")
            elif code != 0:
                failures.append(f"{' '.join(argv)}: exit {code}: {err[-3:]}")
    assert not failures, "\n\n".join(failures)
    if not registry.get(name).model_class.tabular:  # table models have no run directory to report on
        _check_report(name, (tmp_path / "report.html").read_text())


# what the report of each family shows besides config, machine, losses and timing (the sweep's report)
REPORT_PARTS = {"pix2pix": ["<h2>Translations", "translated (A -&gt; B)", "translates images instead of sampling them"],
                "cyclegan": ["<h2>Translations", "translated (A -&gt; B)"],
                "srresnet": ["<h2>Translations", "upscaled (middle)", "upscales images instead of sampling them"],
                "srgan": ["<h2>Translations", "upscaled (middle)"],
                "progan": ["Samples over training", "<h2>Stages (growing resolution)", "<td class=\"l\">stable</td>"],
                "stylegan": ["Samples over training", "<h2>Style mixing"],
                "vae": ["Samples over training", "<h2>Reconstructions, interpolation, traversal"],
                "recurrent-ae": ["<h2>Sampled sequences"], "recurrent-vae": ["<h2>Sampled sequences"]}  # series


def _check_report(name: str, text: str) -> None:
    cls = registry.get(name).model_class
    for part in ("<h2>Config", "<h2>Machine and precision", "<h2>Loss curves", "<h2>Timing"):
        assert part in text, (name, part)
    expected = REPORT_PARTS.get(name, ["Samples over training"] if cls.generative else [])
    for part in expected:
        assert part in text, (name, part)
    assert "could not be drawn" not in text, name


def test_the_sweep_sees_every_real_command():
    paths = {p for p, _ in COMMANDS}
    assert {("sample",), ("anomaly", "fit"), ("anomaly", "score"), ("cnn", "summary"), ("cnn", "calc")} <= paths
    stand_ins = [p for p, parser in COMMANDS if parser.get_default("func") is None]
    assert not stand_ins, f"commands the sweep would only see as stand-ins: {stand_ins}"
