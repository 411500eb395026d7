"""Config values through the CLI (issue 13): every invalid value is one line `genlab: error: ...` with
exit status 2, refused before any data is loaded or any training starts; the value 'none' where it is
a choice; help texts that say what runs; and a seeded property test over every config field."""
import argparse
import dataclasses
import json
import random
import re
import types
import typing
from pathlib import Path

import pytest

import genlab.data
from genlab import registry
from genlab.cli import build_parser, main
from genlab.cli.options import DERIVED_FIELDS, collect
from genlab.config import DataConfig, OptimizerConfig, TrainConfig

MODELS = [n for n in registry.names() if not n.startswith("test-")]  # conftest registers test-only models
# flags that keep an accidentally valid value fast (one step, no grids, no classifier)
QUICK = ["--dataset", "digits", "--steps", "1", "--num-samples", "4", "--log-every", "0", "--mode-check", "off"]


def _one_error(capsys, argv):
    """Run the CLI expecting a user error: exit 2 and exactly one stderr line; return it."""
    code = main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("genlab: error: "), (argv, code, err)
    return err[0]


@pytest.fixture
def no_data(monkeypatch):
    """Make loading any dataset an error: what a test runs under it must fail before loading data."""
    def refuse(*_a, **_k):
        raise AssertionError("data was loaded before the config was checked")
    monkeypatch.setattr(genlab.data, "load_splits", refuse)


# --- 1. values that used to end in a traceback -------------------------------------------------------

@pytest.mark.parametrize("flags,words", [
    (["--betas", "0.9"], "--betas: expected 2 values, got 1"),
    (["--betas", "1.5,0.9"], "betas[0] must be in [0, 1), got 1.5"),
    (["--betas", "0.9", "1.0"], "betas[1] must be in [0, 1), got 1.0"),
    (["--betas", "0.9,0.99,0.5"], "--betas: expected 2 values, got 3"),
    (["--betas", "0.9", "0.99", "0.5"], "--betas: expected 2 values, got 3"),
    (["--weight-decay", "-1"], "weight_decay must be >= 0, got -1.0"),
    (["--optimizer", "sgd", "--momentum", "-1"], "momentum must be in [0, 1), got -1.0"),
    (["--epochs", "inf"], "--epochs: expected a finite integer, got 'inf'"),
    (["--epochs", "nan"], "--epochs: expected a finite integer, got 'nan'"),
    (["--lr", "nan"], "--lr: expected a finite number, got 'nan'"),
    (["--lr=-inf"], "--lr: expected a finite number"),
    (["--epochs", "1e400"], "--epochs: expected a finite integer"),
    (["--seed", "9" * 30], "too large"),
])
def test_train_values_that_crashed_are_one_line(capsys, tmp_path, no_data, flags, words):
    out = tmp_path / "run"
    line = _one_error(capsys, ["train", "vae", *QUICK, "--out", str(out), *flags])
    assert words in line, line
    assert not out.exists()


def test_a_config_file_that_is_not_utf8_is_one_line(capsys, tmp_path, no_data):
    cfg = tmp_path / "c.json"
    cfg.write_bytes(b'{"model": {"name": "vae"}, "train": {"epochs": 1}, "data": {"dataset": "caf\xe9"}}')
    line = _one_error(capsys, ["train", "--config", str(cfg), "--out", str(tmp_path / "run")])
    assert "not UTF-8" in line and str(cfg) in line
    line = _one_error(capsys, ["train", "vae", "--config", str(cfg), "--out", str(tmp_path / "run")])
    assert "not UTF-8" in line


# --- 2. the value 'none' -------------------------------------------------------------------------------

def _collected(argv, cls, prefix):
    args = build_parser(argv).parse_args(argv)
    return collect(args, cls, prefix)


def test_none_is_a_choice_where_it_is_one_and_none_elsewhere():
    argv = ["train", "dcgan", "--d-norm", "none", "--g-norm", "none", "--binarize", "none", "--image-size", "none",
            "--betas", "none", "--optimizer", "none", "--steps", "None"]
    assert _collected(argv, registry.get("dcgan").config_class, "model") == {"d_norm": "none", "g_norm": "none"}
    assert _collected(argv, DataConfig, "data") == {"binarize": "none", "image_size": None}
    assert _collected(argv, TrainConfig, "train") == {"betas": None, "optimizer": None, "steps": None}
    argv = ["train", "ae", "--code-activation", "none"]
    assert _collected(argv, registry.get("ae").config_class, "model") == {"code_activation": "none"}


def test_tuple_flags_take_separate_or_comma_separated_values():
    for betas in (["0.5", "0.9"], ["0.5,0.9"], ["0.5,", "0.9"]):
        argv = ["train", "dcgan", "--betas", *betas, "--gan-betas", *betas]
        assert _collected(argv, TrainConfig, "train") == {"betas": (0.5, 0.9)}
        assert _collected(argv, registry.get("dcgan").config_class, "model") == {"gan_betas": (0.5, 0.9)}
    assert _collected(["train", "vae", "--conv-widths", "8,16", "32"], registry.get("vae").config_class,
                      "model") == {"conv_widths": (8, 16, 32)}


@pytest.mark.parametrize("model,flags", [
    ("dcgan", ["--d-norm", "none", "--g-norm", "none"]),
    ("ae", ["--code-activation", "none"]),
    ("vae", ["--binarize", "none"]),
])
def test_none_values_reach_the_trainer(capsys, tmp_path, model, flags):
    # the trainer refuses the unknown phase only after data, model config and model were built:
    # reaching that message shows that every 'none' above was accepted as a value
    line = _one_error(capsys, ["train", model, *QUICK, "--out", str(tmp_path / "run"), *flags,
                               "--phase-lr", "nosuch=1e-3"])
    assert "no phase 'nosuch'" in line


def test_the_readme_dcgan_line_trains(tmp_path, capsys):
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    line = "genlab train dcgan --loss hinge --spectral-norm --d-norm none --minibatch-std --ema-decay 0.999"
    assert line in readme
    out = tmp_path / "dcgan"
    argv = line.split()[1:] + ["--dataset", "digits", "--steps", "2", "--batch-size", "32", "--num-samples", "4",
                               "--mode-check", "off", "--log-every", "0", "--out", str(out)]
    assert main(argv) == 0, capsys.readouterr().err
    cfg = json.loads((out / "config.json").read_text())["model"]["config"]
    assert cfg["d_norm"] == "none" and cfg["loss"] == "hinge" and cfg["spectral_norm"] is True


# --- 3. values that were accepted silently -------------------------------------------------------------

@pytest.mark.parametrize("flags,words", [
    (["--validation-fraction", "-0.5"], "validation_fraction must be in [0, 1), got -0.5"),
    (["--validation-fraction", "1.5"], "validation_fraction must be in [0, 1), got 1.5"),
    (["--test-fraction", "1"], "test_fraction must be in [0, 1), got 1.0"),
    (["--validation-fraction", "0.6", "--test-fraction", "0.5"], "validation_fraction + test_fraction must be below 1"),
    (["--eval-batches", "-1"], "eval_batches must be >= 0, got -1"),
    (["--time-budget", "-5"], "time_budget must be >= 0, got -5.0"),
    (["--log-every", "-1"], "log_every must be >= 0, got -1"),
    (["--checkpoint-every", "-1"], "checkpoint_every must be >= 0, got -1"),
    (["--sample-every", "-1"], "sample_every must be >= 0, got -1"),
    (["--grad-clip", "-1"], "grad_clip must be >= 0, got -1.0"),
    (["--warmup-steps", "-1"], "warmup_steps must be >= 0, got -1"),
    (["--num-samples", "0"], "num_samples must be in [1, 10000], got 0"),
    (["--seed", "-1"], "seed must be in [0, 4294967296), got -1"),
])
def test_silently_accepted_values_are_refused(capsys, tmp_path, no_data, flags, words):
    line = _one_error(capsys, ["train", "vae", *QUICK, "--out", str(tmp_path / "run"), *flags])
    assert words in line, line
    assert "too few" not in line


@pytest.mark.parametrize("model,phase,phases", [
    ("vae", "foo", "its phases: model"),
    ("dcgan", "discriminatr", "(did you mean 'discriminator'?); its phases: discriminator, generator"),
])
def test_phase_lr_names_a_phase(capsys, tmp_path, model, phase, phases):
    out = tmp_path / "run"
    line = _one_error(capsys, ["train", model, *QUICK, "--out", str(out), "--phase-lr", f"{phase}=1e-3"])
    assert f"--phase-lr: the model has no phase '{phase}'" in line and line.endswith(phases)
    assert not out.exists()


# --- 4. bench precision --------------------------------------------------------------------------------

def test_bench_refuses_an_unknown_precision_up_front(capsys, tmp_path, no_data):
    out = tmp_path / "bench"
    line = _one_error(capsys, ["bench", "--quick", "--models", "vae", "--precision", "fp16", "--out-dir", str(out)])
    assert "--precision" in line and "fp16" in line
    assert not out.exists()
    precisions = typing.get_args(typing.get_type_hints(TrainConfig)["precision"])
    bench = build_parser(["bench"])._subparsers._group_actions[0].choices["bench"]
    flag = next(a for a in bench._actions if "--precision" in a.option_strings)
    assert tuple(flag.choices) == precisions  # the same values `genlab train --precision` takes
    line = _one_error(capsys, ["bench", "--quick", "--dataset", "nosuch", "--out-dir", str(out)])
    assert "unknown dataset 'nosuch'" in line and not out.exists()


# --- 5. help texts ---------------------------------------------------------------------------------------

def _subparser(argv, *names):
    parser = build_parser(argv)
    for name in names:
        parser = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices[name]
    return parser


def _flag_help(parser, flag):
    return " ".join(next(a for a in parser._actions if flag in a.option_strings).help.split())


def test_anomaly_fit_help_says_what_runs():
    from genlab.anomaly.detector import DEFAULT_TRAIN

    fit = _subparser(["anomaly", "fit"], "anomaly", "fit")
    assert DEFAULT_TRAIN["epochs"] == 20
    assert _flag_help(fit, "--epochs").endswith("(default: 20)")
    assert _flag_help(fit, "--batch-size").endswith("(default: 128)")
    title = next(g.title for g in fit._action_groups if g.title.startswith("training"))
    assert "epochs 20" in title and "epochs 10" not in title
    train = _subparser(["train", "vae"], "train")
    assert _flag_help(train, "--epochs").endswith("(default: 10)")  # plain training keeps its own default


@pytest.mark.parametrize("name", MODELS)
def test_every_model_flag_has_a_description(name):
    train = _subparser(["train", name], "train")
    group = next(g for g in train._action_groups if g.title == f"model '{name}'")
    missing = [a.option_strings[0] for a in group._group_actions
               if not re.sub(r"\(default: .*\)$", "", a.help or "").strip()]
    assert not missing, f"{name}: flags without a description: {missing}"
    fields = {f.name for f in dataclasses.fields(registry.get(name).config_class)} - DERIVED_FIELDS
    assert len(group._group_actions) == len(fields)


def test_train_and_data_flags_have_descriptions():
    train = _subparser(["train", "vae"], "train")
    for group in train._action_groups:
        if group.title in ("data", "training"):
            for a in group._group_actions:
                assert re.sub(r"\(default: .*\)$", "", a.help).strip(), a.option_strings


@pytest.mark.parametrize("name,offered", [("contractive-ae", ["mlp"]), ("stacked-ae", ["mlp"]), ("conv-ae", ["conv"]),
                                          ("ae", ["mlp", "conv"]), ("vae", ["conv", "mlp"])])
def test_architecture_choices_are_the_accepted_ones(capsys, tmp_path, name, offered):
    train = _subparser(["train", name], "train")
    assert next(a for a in train._actions if "--architecture" in a.option_strings).choices == offered
    refused = {"mlp", "conv"} - set(offered)
    for arch in refused:
        line = _one_error(capsys, ["train", name, *QUICK, "--out", str(tmp_path / "run"), "--architecture", arch])
        assert "invalid choice" in line and f"'{arch}'" in line


def test_every_offered_choice_of_every_model_is_accepted():
    """A choice --help offers must build with the defaults, unless another field's default rules it
    out (then the refusal names that other field)."""
    from genlab.config import from_dict
    from genlab.errors import ConfigError

    for name in MODELS:
        cls = registry.get(name).config_class
        for f in dataclasses.fields(cls):
            hint = typing.get_type_hints(cls)[f.name]
            if typing.get_origin(hint) is not typing.Literal:
                continue
            for choice in typing.get_args(hint):
                try:
                    from_dict(cls, {f.name: choice})
                except ConfigError as e:  # e.g. sparse-ae: code_activation 'none' with sparsity 'kl'
                    others = [g.name for g in dataclasses.fields(cls) if g.name != f.name
                              and any(w in str(e) for w in (g.name, g.name.replace("_", " "),
                                                            "--" + g.name.replace("_", "-")))]
                    assert others, f"{name} offers {f.name}={choice!r} but refuses it: {e}"


def test_train_help_lists_every_dataset_source():
    from genlab.data import list_datasets

    train = _subparser(["train"], "train")
    text = _flag_help(train, "--dataset")
    for usage, _ in list_datasets():
        assert f"'{usage}'" in text, usage
    for usage in ("csv:FILE", "npz:FILE", "elnino", "co2", "folder:DIR"):
        assert usage in text


# --- 7. property test: random invalid values for every config field -------------------------------------

MODEL_FOR_SHARED = "vae"  # the model whose command line carries the data and train flags
FAST = object()  # values refused while the flags are converted (before any data is loaded)


def _base(hint):
    """(type, optional) of a field annotation."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        inner = [a for a in typing.get_args(hint) if a is not type(None)]
        return (inner[0] if len(inner) == 1 else hint), True
    return hint, False


def invalid_values(hint):
    """(fast values, values refused by a range check) that no field of this annotation accepts."""
    base, _ = _base(hint)
    origin, args = typing.get_origin(base), typing.get_args(base)
    if base is int:
        return ["nan", "inf", "-inf", "1e400", "abc", "2.5", "9" * 25, "0x10"], ["-1", "-1000000"]
    if base is float:
        return ["nan", "inf", "-inf", "1e400", "abc", "1e5x", ""], ["-1", "-1e300"]
    if origin is typing.Literal:
        return ["bogus", str(args[0]).upper() + "x"], []
    if origin is tuple and args and args[-1] is not Ellipsis:  # fixed length
        n = len(args)
        return [["0.5"] * (n - 1) or ["x"], ["0.5"] * (n + 1), ["nan"] * n, ["abc"] * n], [["-1"] * n, ["1.5"] * n]
    if origin is tuple and args[0] is int:
        return [["abc"], ["inf"], ["2.5"], ["1", "nan"]], [["-1"], ["0"], ["9999999"]]
    if origin is dict:
        return [["model"], ["model=abc"], ["model=nan"], ["=1"]], [["model=-1"], ["model=0"]]
    return [], []


def _cases():
    """(model, field, flag values, fast?) for every field of the data, train and model configs; seeded."""
    rng = random.Random(13)
    configs = [(DataConfig, MODEL_FOR_SHARED), (TrainConfig, MODEL_FOR_SHARED)]
    configs += [(registry.get(n).config_class, n) for n in MODELS]
    ranged_done = set()
    for cls, model in configs:
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            if f.name in DERIVED_FIELDS or not f.init:
                continue
            fast, ranged = invalid_values(hints[f.name])
            shared = cls in (DataConfig, TrainConfig)
            for v in (fast if shared else rng.sample(fast, min(2, len(fast)))):
                yield model, f.name, v, True
            # range checks of a model field run once the data is known: test each field name once
            if ranged and (shared or f.name not in ranged_done):
                ranged_done.add(f.name)
                for v in (ranged if shared else [rng.choice(ranged)]):
                    yield model, f.name, v, shared  # train/data ranges are checked before loading too
    for flag in ["--optimizer", "--precision", "--schedule", "--budget-clock", "--binarize", "--mode-check"]:
        yield MODEL_FOR_SHARED, flag[2:].replace("-", "_"), "bogus", True
    yield MODEL_FOR_SHARED, "dataset", "bogus:x", False  # the spec is read where the data is
    yield MODEL_FOR_SHARED, "device", "tpu", False  # resolved when the trainer starts
    yield "dcgan", "spectral_norm=maybe", None, True


CASES = list(_cases())


def test_the_property_cases_cover_every_field():
    covered = {(m, name) for m, name, _, _ in CASES}
    for cls in (DataConfig, TrainConfig):
        for f in dataclasses.fields(cls):
            hint = typing.get_type_hints(cls)[f.name]
            if any(invalid_values(hint)):
                assert (MODEL_FOR_SHARED, f.name) in covered, f.name
    names = {name for _, name, _, _ in CASES}
    for n in MODELS:
        cls = registry.get(n).config_class
        for f in dataclasses.fields(cls):
            if f.name not in DERIVED_FIELDS and any(invalid_values(typing.get_type_hints(cls)[f.name])):
                assert f.name in names, (n, f.name)
    # OptimizerConfig's fields reach the command line as train flags; their checks are the same
    assert {f.name for f in dataclasses.fields(OptimizerConfig)} - {"name"} <= {
        f.name for f in dataclasses.fields(TrainConfig)}
    assert len(CASES) > 300


def test_random_invalid_values_are_one_line_errors(capsys, tmp_path, monkeypatch):
    """Every case exits 2 with exactly one `genlab: error:` line and no traceback; the fast ones
    (type errors, and every data/train value) before any data is loaded."""
    real_load = genlab.data.load_splits
    loading_allowed = {"yes": True}

    def guarded(*a, **k):
        assert loading_allowed["yes"], "data was loaded before the config was checked"
        return real_load(*a, **k)

    monkeypatch.setattr(genlab.data, "load_splits", guarded)
    out = tmp_path / "run"
    failures = []
    for model, name, value, fast in CASES:
        if value is None:  # a flag with its own value syntax
            flag_args = ["--" + name.replace("_", "-")]
        else:
            flag = "--" + name.replace("_", "-")
            flag_args = [flag, *value] if isinstance(value, list) else [f"{flag}={value}"]
        loading_allowed["yes"] = not fast
        argv = ["train", model, *QUICK, "--out", str(out), *flag_args]
        try:
            code = main(argv)
        except BaseException as e:  # noqa: BLE001 - a traceback is exactly what this test looks for
            code = f"{type(e).__name__}: {e}"
        err = capsys.readouterr().err.strip().splitlines()
        if code != 2 or len(err) != 1 or not err[0].startswith("genlab: error: ") or out.exists():
            failures.append((argv[1], flag_args, code, err[-2:]))
    assert not failures, f"{len(failures)} of {len(CASES)} cases: {failures[:10]}"
