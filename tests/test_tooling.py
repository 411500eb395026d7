"""Project tooling: one version source, a light `genlab --help` / `genlab models`, the command table
and the model catalog agree with what the modules register."""
from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import genlab
from genlab import registry
from genlab.cli import COMMAND_MODULES, COMMANDS, build_parser, main

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"


def test_version_has_one_source(capsys):
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "version" not in project["project"] and "version" in project["project"]["dynamic"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "genlab.__version__"}
    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0
    assert capsys.readouterr().out.strip() == f"genlab {genlab.__version__}"


def test_python_floor_matches_tomllib_and_scipy_is_declared_where_used():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["requires-python"] == ">=3.11"  # config files use the standard library's tomllib
    core = [d.split(">")[0].split("=")[0].strip() for d in project["dependencies"]]
    assert any(d.startswith("scipy") for d in project["optional-dependencies"]["test"])
    # the library may import scipy (the score models' adaptive ODE solver) only as a declared dependency
    # (scikit-learn needs it anyway), never by accident of the test extra
    imports = re.compile(r"^\s*(?:from|import)\s+scipy\b", re.M)
    users = [p for p in SRC.rglob("*.py") if imports.search(p.read_text())]
    assert not users or "scipy" in core, users


def test_license_and_changelog_exist():
    assert "MIT License" in (ROOT / "LICENSE").read_text()
    changelog = (ROOT / "CHANGELOG.md").read_text()
    released = genlab.__version__.split(".dev")[0]  # a .dev version is the Unreleased section
    assert "## [Unreleased]" in changelog
    assert f"## [{genlab.__version__}]" in changelog or (".dev" in genlab.__version__ and "## [0.1.0]" in changelog
                                                        and released != "0.1.0")


@pytest.mark.parametrize("argv", [["--help"], ["models"], ["datasets"], ["--version"]])
def test_listing_commands_do_not_import_torch(argv):
    code = ("import sys, contextlib, io\n"
            "from genlab.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()) as out:\n"
            "    try:\n"
            f"        rc = main({argv!r})\n"
            "    except SystemExit as e:\n"
            "        rc = e.code\n"
            "assert rc == 0, rc\n"
            "assert out.getvalue().strip(), 'no output'\n"
            "heavy = sorted(m for m in ('torch', 'numpy', 'genlab.models', 'genlab.training') if m in sys.modules)\n"
            "print(heavy)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          env={"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_import_genlab_is_light_until_train_is_used():
    code = ("import sys, genlab\n"
            "assert 'torch' not in sys.modules\n"
            "from genlab import train, load\n"
            "assert 'torch' in sys.modules and train.__module__ == 'genlab.runs.run'\n"
            "print(genlab.resume.__name__)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env={"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "resume"
    with pytest.raises(AttributeError):
        genlab.no_such_function  # noqa: B018


def _func_modules(parser) -> set[str]:
    """Modules of the functions a (sub-)parser and its own sub-commands run."""
    func = parser.get_default("func")
    found = {func.__module__} if func is not None else set()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                found |= _func_modules(child)
    return found


def test_command_table_matches_what_the_modules_register():
    parser = build_parser(all_commands=True)
    sub = next(a for a in parser._actions if a.dest == "command")
    registered = {a.dest: a.help for a in sub._choices_actions}
    assert registered == {name: help_line for name, (_, help_line) in COMMANDS.items()}
    for name, (module, _) in COMMANDS.items():  # each command comes from the module the table names
        assert _func_modules(sub.choices[name]) == {module}, name
    assert set(COMMAND_MODULES) == {module for module, _ in COMMANDS.values()}


def test_a_named_command_imports_only_its_module():
    parser = build_parser(["models"])
    sub = next(a for a in parser._actions if a.dest == "command")
    assert sub.choices["models"].get_default("func").__module__ == "genlab.cli.info"
    assert sub.choices["train"].get_default("func") is None  # a stand-in: genlab.cli.train not needed


def test_catalog_lists_every_builtin_model_with_its_summary():
    registry._ensure_loaded()
    builtin = {name: e for name, e in registry.MODELS.items() if e.model_class.__module__.startswith("genlab.")}
    assert set(builtin) == set(registry.CATALOG)
    for name, entry in builtin.items():
        line = registry.CATALOG[name]
        assert (line.module, line.summary) == (entry.model_class.__module__, entry.summary)
        assert registry.summary(name) == entry.summary
    assert set(registry.names()) == set(registry.MODELS)


def test_models_command_prints_catalog_lines(capsys):
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert f"  {registry.CATALOG['vae'].summary}" in out and out.count("\n") == len(registry.names())


def test_unknown_model_still_suggests(capsys):
    assert main(["train", "vea", "--dataset", "digits"]) == 2
    assert "unknown model 'vea' (did you mean 'vae'?)" in capsys.readouterr().err


def test_dataset_catalog_lists_exactly_the_data_layer_sources(capsys):
    """`genlab datasets` reads a catalog (no torch); it must say what `genlab.data` loads."""
    from genlab import data
    from genlab.dataset_catalog import DATASET_CATALOG

    assert list(DATASET_CATALOG.items()) == data.list_datasets()
    assert [usage.partition(":")[0] for usage in DATASET_CATALOG] == list(data.DATASETS)
    assert genlab.datasets() == data.list_datasets()
    assert main(["datasets"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(data.DATASETS)
    for line, (usage, text) in zip(lines, data.list_datasets(), strict=True):
        assert line.startswith(usage + " ") and line.endswith("  " + text)
