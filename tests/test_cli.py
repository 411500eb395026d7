"""CLI smoke runs on tiny data, and every bad input: one line on stderr, exit 2, nothing half-written."""
import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from genlab.cli import main

TINY = ["--batch-size", "32", "--steps", "4", "--latent-dim", "3", "--conv-widths", "8", "--conv-hidden", "16",
        "--device", "cpu", "--num-samples", "4"]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "vae"
    assert main(["train", "vae", "--dataset", "digits", "--out", str(out), *TINY]) == 0
    return out


def _error(capsys, argv):
    """Run the CLI expecting a user error; return its one stderr line."""
    code = main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2, err
    assert len(err) == 1 and err[0].startswith("genlab: error: "), err
    return err[0]


def test_train_writes_a_run(run_dir):
    cfg = json.loads((run_dir / "config.json").read_text())
    assert cfg["model"]["config"]["latent_dim"] == 3 and cfg["train"]["steps"] == 4
    assert (run_dir / "samples.png").is_file() and (run_dir / "model.safetensors").is_file()


def test_config_file_with_flag_override(tmp_path):
    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps({"model": {"name": "vae", "latent_dim": 2, "architecture": "mlp", "mlp_hidden": [16]},
                               "data": {"dataset": "digits"}, "train": {"steps": 3, "batch_size": 16, "lr": 0.01}}))
    assert main(["train", "--config", str(cfg), "--out", str(tmp_path / "r"), "--lr", "0.002", "--num-samples", "4"]) == 0
    written = json.loads((tmp_path / "r" / "config.json").read_text())
    assert written["train"]["lr"] == 0.002 and written["model"]["config"]["latent_dim"] == 2


@pytest.mark.parametrize("argv,out,size", [
    (["sample", "--n", "6"], "s.png", None),
    (["reconstruct", "--n", "4"], "r.png", None),
    (["interpolate", "--a", "2", "--b", "5", "--steps", "6"], "i.png", None),
    (["traverse", "--dims", "0", "2", "--steps", "5"], "t.png", None),
])
def test_generation_commands_write_pngs(run_dir, tmp_path, argv, out, size):
    path = tmp_path / out
    assert main([argv[0], str(run_dir), *argv[1:], "--out", str(path)]) == 0
    assert Image.open(path).size[0] > 8


def test_sample_npz_holds_uint8_images(run_dir, tmp_path):
    assert main(["sample", str(run_dir), "--n", "5", "--out", str(tmp_path / "s.npz")]) == 0
    x = np.load(tmp_path / "s.npz")["x"]
    assert x.shape == (5, 8, 8, 1) and x.dtype == np.uint8


def test_resume_continues_and_extends(run_dir, tmp_path, capsys):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy)
    assert main(["train", "--resume", str(copy), "--steps", "6"]) == 0
    state = json.loads((copy / "checkpoints" / "step-00000006" / "state.json").read_text())
    assert state["step"] == 6


def test_listing_commands(capsys):
    assert main(["models"]) == 0
    assert any(line.startswith("vae ") for line in capsys.readouterr().out.splitlines())
    assert main(["datasets"]) == 0
    out = capsys.readouterr().out
    assert "mnist" in out and "folder:DIR" in out


def _folder(tmp_path, name, sizes, modes=("L",)):
    d = tmp_path / name
    d.mkdir()
    for i, size in enumerate(sizes):
        mode = modes[i % len(modes)]
        Image.fromarray(np.random.randint(0, 255, (size, size) + ((3,) if mode == "RGB" else ()), dtype=np.uint8),
                        mode).save(d / f"{i}.png")
    return d


def test_folder_dataset_trains(tmp_path):
    d = _folder(tmp_path, "imgs", [12] * 40)
    assert main(["train", "vae", "--dataset", f"folder:{d}", "--image-size", "8", "--out", str(tmp_path / "r"),
                 "--batch-size", "8", "--steps", "2", "--latent-dim", "2", "--num-samples", "4"]) == 0


def test_bad_inputs(tmp_path, capsys, run_dir):
    out = str(tmp_path / "new")
    base = ["--out", out, *TINY]
    # missing or empty data path
    assert "not found" in _error(capsys, ["train", "vae", "--dataset", f"folder:{tmp_path / 'nope'}", *base]) \
        or "does not exist" in _error(capsys, ["train", "vae", "--dataset", f"folder:{tmp_path / 'nope'}", *base])
    (tmp_path / "empty").mkdir()
    assert "no image" in _error(capsys, ["train", "vae", "--dataset", f"folder:{tmp_path / 'empty'}", *base]).lower()
    # corrupt image file: named
    bad = _folder(tmp_path, "bad", [8] * 20)
    (bad / "broken.png").write_bytes(b"not a png")
    assert "broken.png" in _error(capsys, ["train", "vae", "--dataset", f"folder:{bad}", *base])
    # mixed sizes and mixed channels
    assert "--image-size" in _error(capsys, ["train", "vae", "--dataset", f"folder:{_folder(tmp_path, 'mixed', [8, 9] * 10)}", *base])
    assert "--channels" in _error(capsys, ["train", "vae", "--dataset",
                                           f"folder:{_folder(tmp_path, 'chan', [8] * 20, ('L', 'RGB'))}", *base])
    # unknown model, dataset, config key (flag and file), bad value
    assert "did you mean 'vae'" in _error(capsys, ["train", "vea", "--dataset", "digits", *base])
    assert "did you mean 'mnist'" in _error(capsys, ["train", "vae", "--dataset", "mnits", *base])
    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps({"model": {"name": "vae", "latnt_dim": 3}}))
    assert "did you mean 'latent_dim'" in _error(capsys, ["train", "--config", str(cfg), "--dataset", "digits", *base])
    assert "expected an integer" in _error(capsys, ["train", "vae", "--dataset", "digits", *base, "--epochs", "x"])
    # resume: not a run, a run of another model
    (tmp_path / "plain").mkdir()
    assert "not a genlab run" in _error(capsys, ["train", "--resume", str(tmp_path / "plain")])
    assert "not found" in _error(capsys, ["train", "--resume", str(tmp_path / "absent")])
    assert "run of 'vae', not 'test-twonet'" in _error(capsys, ["train", "test-twonet", "--resume", str(run_dir)])
    # existing run directory without --resume/--overwrite
    assert "already exists" in _error(capsys, ["train", "vae", "--dataset", "digits", "--out", str(run_dir), *TINY])
    # commands over runs
    assert "not found" in _error(capsys, ["sample", str(tmp_path / "absent")])
    assert "out of range" in _error(capsys, ["interpolate", str(run_dir), "--a", "100000"])
    assert "not conditional" in _error(capsys, ["sample", str(run_dir), "--label", "3"])
    assert "at least 1" in _error(capsys, ["sample", str(run_dir), "--n", "0"])
    assert "unrecognized arguments: --bogus" in _error(capsys, ["sample", str(run_dir), "--bogus"])
    # none of the failed trainings left a run directory behind
    assert not (tmp_path / "new").exists()


def test_overwrite_replaces_a_run(run_dir, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy)
    assert main(["train", "vae", "--dataset", "digits", "--out", str(copy), "--overwrite", *TINY, "--steps", "2"]) == 0
    assert json.loads((copy / "config.json").read_text())["train"]["steps"] == 2


def test_console_entry_points(tmp_path):
    """The real processes: `python -m genlab` and the error path (exit code, no traceback)."""
    ok = subprocess.run([sys.executable, "-m", "genlab", "models"], capture_output=True, text=True)
    assert ok.returncode == 0 and "vae" in ok.stdout
    bad = subprocess.run([sys.executable, "-m", "genlab", "train", "vae", "--dataset", f"npz:{tmp_path / 'x.npz'}",
                          "--out", str(tmp_path / "r")], capture_output=True, text=True)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert bad.stderr.strip().count("\n") == 0 and "x.npz" in bad.stderr


def test_sigterm_checkpoints_and_resume_continues(tmp_path):
    """A real process: SIGTERM mid-run writes a checkpoint, exits 143 with the resume command."""
    import signal
    import time

    out = tmp_path / "r"
    proc = subprocess.Popen([sys.executable, "-m", "genlab", "train", "vae", "--dataset", "digits", "--out", str(out),
                             *TINY, "--steps", "100000", "--log-every", "1"],
                            stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline and not (out / "metrics.jsonl").exists():
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert "stopped by SIGTERM" in err and f"genlab train --resume {out}" in err and "Traceback" not in err
    state = json.loads((out / "checkpoints" / (out / "checkpoints" / "LATEST").read_text().strip() / "state.json").read_text())
    assert 1 <= state["step"] < 100000 and not state["complete"]
    assert main(["train", "--resume", str(out), "--steps", str(state["step"] + 2)]) == 0


def test_an_output_path_that_cannot_be_written_is_one_line(run_dir, tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    line = _error(capsys, ["sample", str(run_dir), "--n", "4", "--out", str(blocker / "grid.png")])
    assert "a-file" in line
