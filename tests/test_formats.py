"""Saved files carry a format and the genlab version; older formats load; unknown keys are refused."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

import genlab
from genlab import formats
from genlab.cli import main
from genlab.errors import CheckpointError
from genlab.runs.run import read_run_config

FORMAT0 = Path(__file__).parent / "fixtures" / "format0"


@pytest.fixture
def old_run(tmp_path):
    """A writable copy of the checked-in format-0 run (a tiny MLP vae on digits)."""
    run = tmp_path / "old-run"
    shutil.copytree(FORMAT0 / "vae-run", run)
    return run


def _edit(path: Path, change) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def test_fixture_is_format_0():
    for name in ("config.json", "model_config.json"):
        data = json.loads((FORMAT0 / "vae-run" / name).read_text())
        assert "format" not in data and "genlab" not in data


def test_format0_model_loads_with_the_same_weights():
    model = genlab.load(FORMAT0 / "vae-run")
    reference = json.loads((FORMAT0 / "vae-run-decode.json").read_text())
    assert type(model).__name__ == "VAE" and model.config.latent_dim == 2
    with torch.no_grad():
        decoded = model.decode(torch.tensor(reference["z"])).flatten(1)
    torch.testing.assert_close(decoded, torch.tensor(reference["decoded"]), rtol=1e-5, atol=1e-6)


def test_format0_run_config_is_migrated():
    cfg = read_run_config(FORMAT0 / "vae-run")
    assert cfg["format"] == formats.FORMAT and cfg["genlab"] == formats.FORMAT0_WRITER == "0.1.0"
    assert cfg["model"]["name"] == "vae" and cfg["data"]["dataset"] == "digits" and cfg["train"]["steps"] == 2


def test_format0_run_through_the_cli(old_run, tmp_path, capsys):
    assert main(["sample", str(old_run), "--n", "4", "--out", str(tmp_path / "grid.png")]) == 0
    assert (tmp_path / "grid.png").is_file()
    assert main(["reconstruct", str(old_run), "--n", "4", "--out", str(tmp_path / "rec.png")]) == 0
    assert (tmp_path / "rec.png").is_file()


def test_saved_files_carry_format_and_version(tmp_path, digits_data):
    model = genlab.train("vae", out=tmp_path / "run", data={**digits_data, "limit": 64},
                         model_config={"architecture": "mlp", "mlp_hidden": [8], "latent_dim": 2},
                         train={"steps": 1, "batch_size": 16, "device": "cpu", "num_samples": 4})
    for name in ("config.json", "model_config.json"):
        data = json.loads((tmp_path / "run" / name).read_text())
        assert (data["format"], data["genlab"]) == (formats.FORMAT, genlab.__version__)
        assert list(data)[:2] == ["format", "genlab"]
    again = genlab.load(tmp_path / "run")
    assert again.config == model.config
    assert read_run_config(tmp_path / "run")["genlab"] == genlab.__version__


def test_every_format_has_a_migration():
    for kind in formats.KEYS:
        assert len(formats.MIGRATIONS[kind]) == formats.FORMAT


@pytest.mark.parametrize("file, change, key", [
    ("model_config.json", lambda d: d.update(extra=1), "extra"),
    ("model_config.json", lambda d: d["config"].update(latent_size=4), "latent_size"),
])
def test_unknown_key_in_model_file_is_refused(old_run, tmp_path, capsys, file, change, key):
    _edit(old_run / file, change)
    assert main(["sample", str(old_run), "--n", "4", "--out", str(tmp_path / "grid.png")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("genlab: error: ")
    assert f"{old_run / file} (written by genlab 0.1.0)" in err and f"unknown key '{key}'" in err
    assert not (tmp_path / "grid.png").exists()


@pytest.mark.parametrize("change, key, where", [
    (lambda d: d.update(notes="x"), "notes", ""),
    (lambda d: d["data"].update(dataset_name="digits"), "dataset_name", " in data"),
    (lambda d: d["train"].update(epoch=3), "epoch", " in train"),
    (lambda d: d["model"]["config"].update(latent=3), "latent", " in model config"),
    (lambda d: d["model"].update(kind="vae"), "kind", " in model"),
])
def test_unknown_key_in_run_config_is_refused(old_run, capsys, change, key, where):
    _edit(old_run / "config.json", change)
    assert main(["train", "--resume", str(old_run), "--steps", "3"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert f"{old_run / 'config.json'} (written by genlab 0.1.0): unknown key '{key}'{where}" in err


def test_unknown_key_names_the_version_that_wrote_the_file(old_run):
    _edit(old_run / "model_config.json", lambda d: d.update(format=1, genlab="9.9", extra=1))
    with pytest.raises(CheckpointError, match=r"\(written by genlab 9\.9\): unknown key 'extra'"):
        genlab.load(old_run)


def test_newer_format_asks_for_a_newer_genlab(old_run, capsys):
    _edit(old_run / "model_config.json", lambda d: d.update(format=formats.FORMAT + 1, genlab="9.0"))
    with pytest.raises(CheckpointError, match=rf"format {formats.FORMAT + 1}, written by genlab 9\.0.*upgrade genlab"):
        genlab.load(old_run)
    _edit(old_run / "config.json", lambda d: d.update(format="one"))
    assert main(["train", "--resume", str(old_run)]) == 2
    assert "has an invalid format 'one'" in capsys.readouterr().err


def test_unknown_model_name_in_a_saved_file(old_run, capsys):
    _edit(old_run / "model_config.json", lambda d: d.update(model="vea"))
    with pytest.raises(CheckpointError, match=r"holds a 'vea' model, which this genlab does not have \(did you mean 'vae'"):
        genlab.load(old_run)
