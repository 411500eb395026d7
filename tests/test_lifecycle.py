"""The run lifecycle through the CLI: early stops, rescue, the run lock, atomic logs, exact resume,
temporary files, pickle-free checkpoints, the extractor cache, file modes (issue 13, part 2)."""
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from genlab.cli import main
from genlab.io import load_state_dict, save_state_dict
from genlab.models.gan import GAN
from genlab.models.vae import VAE
from genlab.training.checkpoint import latest_checkpoint

SRC = str(Path(__file__).resolve().parents[1] / "src")
VAE_FLAGS = ["--dataset", "digits", "--batch-size", "32", "--latent-dim", "3", "--conv-widths", "8",
             "--conv-hidden", "16", "--num-samples", "4", "--device", "cpu", "--seed", "5"]
# wall-clock fields differ between any two runs; everything else must match exactly
WALL = {"images_per_s", "epoch_time", "data_time", "compute_time", "cpu_time"}


def _err_lines(capsys):
    """stderr lines, less the informational 'precision ...' line a run prints when it starts training."""
    return [line for line in capsys.readouterr().err.splitlines() if line.strip() and not line.startswith("precision ")]


def _records(run):
    return [json.loads(line) for line in (Path(run) / "metrics.jsonl").read_text().splitlines()]


def _comparable(run):
    return [{k: v for k, v in r.items() if k not in WALL} for r in _records(run) if r["split"] != "timing"]


def _state(run):
    return json.loads((latest_checkpoint(run) / "state.json").read_text())


def _genlab(args, **env):
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", ""), **env}
    return subprocess.Popen([sys.executable, "-m", "genlab", *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _wait_for(predicate, timeout=60.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.01)
    return False


def _has_train_step(run):
    path = Path(run) / "metrics.jsonl"
    return path.is_file() and '"train_step"' in path.read_text()


def _signal_after_updates(monkeypatch, cls, n, sig=signal.SIGINT):
    """Make the n-th optimizer update of ``cls`` raise ``sig`` (as a user pressing Ctrl-C then)."""
    original = cls.after_step
    calls = {"n": 0}

    def after_step(self, phase):
        original(self, phase)
        calls["n"] += 1
        if calls["n"] == n:
            signal.raise_signal(sig)

    monkeypatch.setattr(cls, "after_step", after_step)
    return original


# --- 1. early stops leave a run that --resume starts from step 0 ------------------------------------
def test_signal_while_loading_data_exits_143_with_one_line_and_writes_nothing(tmp_path, monkeypatch, capsys):
    import genlab.data

    original = genlab.data.load_splits

    def load_and_terminate(cfg):
        signal.raise_signal(signal.SIGTERM)
        return original(cfg)

    monkeypatch.setattr(genlab.data, "load_splits", load_and_terminate)
    assert main(["train", "vae", *VAE_FLAGS, "--steps", "4", "--out", str(tmp_path / "r")]) == 143
    err = _err_lines(capsys)
    assert len(err) == 1 and "stopped by SIGTERM before training started; nothing was written" in err[0]
    assert not (tmp_path / "r").exists()


def test_signal_before_the_first_step_leaves_a_run_that_resumes_from_step_0(tmp_path, monkeypatch, capsys):
    from genlab.models.base import GenerativeModel

    original = GenerativeModel.save

    def save_then_terminate(self, directory):
        original(self, directory)
        signal.raise_signal(signal.SIGTERM)

    run = tmp_path / "r"
    monkeypatch.setattr(GenerativeModel, "save", save_then_terminate)
    assert main(["train", "vae", *VAE_FLAGS, "--steps", "6", "--log-every", "1", "--out", str(run)]) == 143
    err = _err_lines(capsys)
    assert len(err) == 1 and "no checkpoint was written yet" in err[0]
    assert f"resume with: genlab train --resume {run} (it starts from step 0)" in err[0]
    assert latest_checkpoint(run) is None
    monkeypatch.setattr(GenerativeModel, "save", original)
    # a plain restart points to --resume, and --resume trains it from step 0: the same run as a straight one
    assert main(["train", "vae", *VAE_FLAGS, "--steps", "6", "--out", str(run)]) == 2
    assert "pass --resume" in capsys.readouterr().err
    assert main(["train", "--resume", str(run)]) == 0
    assert "training it from step 0" in capsys.readouterr().err
    assert main(["train", "vae", *VAE_FLAGS, "--steps", "6", "--log-every", "1", "--out", str(tmp_path / "s")]) == 0
    assert _comparable(run) == _comparable(tmp_path / "s")
    a, b = load_state_dict(run / "model.safetensors"), load_state_dict(tmp_path / "s" / "model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_sigterm_early_in_a_real_process_exits_143_and_the_run_resumes(tmp_path, capsys):
    run = tmp_path / "r"
    proc = _genlab(["train", "vae", *VAE_FLAGS, "--batch-size", "8", "--steps", "400", "--log-every", "1",
                    "--out", str(run)])
    assert _wait_for(lambda: (run / "config.json").is_file() or proc.poll() is not None)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    lines = [line for line in err.splitlines()  # less the informational lines (the chosen precision, notes)
             if line.strip() and not line.startswith(("genlab: note", "precision "))]
    assert len(lines) == 1 and f"resume with: genlab train --resume {run}" in lines[0] and "Traceback" not in err
    assert main(["train", "--resume", str(run), "--steps", "3"]) == 0
    assert _state(run)["step"] == 3


def test_kill_9_before_the_first_checkpoint_then_resume_works_and_cleans_temporaries(tmp_path, capsys):
    run = tmp_path / "r"
    proc = _genlab(["train", "vae", *VAE_FLAGS, "--batch-size", "8", "--steps", "400", "--log-every", "1",
                    "--out", str(run)])
    assert _wait_for(lambda: _has_train_step(run) or proc.poll() is not None)
    proc.kill()
    proc.communicate(timeout=60)
    assert latest_checkpoint(run) is None  # killed inside the first epoch (about 180 rounds)
    # what kill -9 during the atomic writes leaves behind
    (run / "checkpoints" / ".step-00000003.abc123.tmp").mkdir(parents=True)
    (run / "checkpoints" / ".step-00000003.abc123.tmp" / "model.safetensors").write_bytes(b"half")
    (run / "checkpoints" / ".LATEST.x1.tmp").write_text("step-00000003")
    (run / ".model_config.json.y2.tmp").write_text("{")
    (run / ".model.safetensors.12345.link").write_bytes(b"")
    (run / "notes.txt").write_text("mine")  # not genlab's: kept
    assert main(["train", "--resume", str(run), "--steps", "4"]) == 0
    assert _state(run)["step"] == 4
    leftovers = [p.name for p in run.rglob(".*") if p.name != ".lock"]
    assert leftovers == [] and (run / "notes.txt").read_text() == "mine"


# --- 2. NaN rescue ----------------------------------------------------------------------------------
def _nan_at(monkeypatch, step):
    original = VAE.losses
    calls = {"n": 0}

    def losses(self, batch, phase="model"):
        out = original(self, batch, phase)
        if self.training:
            calls["n"] += 1
            if calls["n"] == step:
                out["loss"] = out["loss"] * float("nan")
        return out

    monkeypatch.setattr(VAE, "losses", losses)
    return original


def test_a_nan_before_the_first_checkpoint_is_rescued_with_the_suggested_command(tmp_path, monkeypatch, capsys):
    run = tmp_path / "r"
    original = _nan_at(monkeypatch, 4)
    assert main(["train", "vae", *VAE_FLAGS, "--steps", "8", "--out", str(run)]) == 2
    err = _err_lines(capsys)
    assert len(err) == 1 and "became nan at step 4" in err[0] and "no checkpoint was written yet" in err[0]
    command = err[0].split("to rescue it: ")[1]
    assert command.startswith(f"genlab train --resume {run} --lr ") and "--grad-clip 1" in command
    monkeypatch.setattr(VAE, "losses", original)
    assert main(command.split()[1:]) == 0
    change = [r for r in _records(run) if r["split"] == "config_change"]
    assert len(change) == 1 and change[0]["step"] == 0
    assert set(change[0]["changes"]) == {"lr", "grad_clip"} and change[0]["changes"]["grad_clip"] == {"from": 0.0, "to": 1.0}
    cfg = json.loads((run / "config.json").read_text())["train"]
    assert cfg["grad_clip"] == 1.0 and cfg["lr"] == change[0]["changes"]["lr"]["to"]
    assert _state(run)["step"] == 8


def test_a_nan_after_a_checkpoint_names_it_and_resume_accepts_rescue_settings(tmp_path, monkeypatch, capsys):
    run = tmp_path / "r"
    assert main(["train", "vae", *VAE_FLAGS, "--steps", "4", "--out", str(run)]) == 0
    _nan_at(monkeypatch, 2)
    capsys.readouterr()
    assert main(["train", "--resume", str(run), "--steps", "8"]) == 2
    err = _err_lines(capsys)
    assert len(err) == 1 and "the last good checkpoint (step 4) is kept" in err[0] and "became nan at step 6" in err[0]
    monkeypatch.undo()
    assert main(["train", "--resume", str(run), "--steps", "8", "--lr", "1e-4", "--grad-clip", "0.5",
                 "--precision", "bf16", "--phase-lr", "model=2e-4"]) == 0
    first, second = [r for r in _records(run) if r["split"] == "config_change"]  # one per resume that changed settings
    assert first["step"] == second["step"] == 4 and set(first["changes"]) == {"steps"}
    assert set(second["changes"]) == {"lr", "grad_clip", "precision", "phase_lr"}


def test_a_gan_nan_suggests_the_phase_learning_rate(tmp_path, monkeypatch, capsys):
    original = GAN.losses

    def nan_generator(self, batch, phase="discriminator"):
        out = original(self, batch, phase)
        if phase == "generator":
            out["loss"] = out["loss"] * float("nan")
        return out

    monkeypatch.setattr(GAN, "losses", nan_generator)
    run = tmp_path / "g"
    assert main(["train", "gan", "--dataset", "digits", "--batch-size", "32", "--steps", "3", "--num-samples", "4",
                 "--device", "cpu", "--mode-check", "off", "--out", str(run)]) == 2
    err = _err_lines(capsys)
    assert len(err) == 1 and f"genlab train --resume {run} --phase-lr generator=" in err[0]


# --- 3. the run lock ----------------------------------------------------------------------------------
def test_two_processes_on_one_run_the_second_is_refused_naming_the_first_and_a_dead_holder_is_taken_over(
        tmp_path, capsys):
    run = tmp_path / "r"
    assert main(["train", "vae", *VAE_FLAGS, "--batch-size", "8", "--steps", "2", "--log-every", "1",
                 "--out", str(run)]) == 0
    capsys.readouterr()
    proc = _genlab(["train", "--resume", str(run), "--steps", "100000"])
    try:
        assert _wait_for(lambda: '"step": 3,' in (run / "metrics.jsonl").read_text() or proc.poll() is not None)
        assert proc.poll() is None
        assert main(["train", "--resume", str(run), "--steps", "4"]) == 2
        err = _err_lines(capsys)
        assert len(err) == 1 and "in use by another genlab process" in err[0] and f"pid {proc.pid}" in err[0]
        # --overwrite does not delete a run under a live process either
        assert main(["train", "vae", *VAE_FLAGS, "--steps", "2", "--out", str(run), "--overwrite"]) == 2
        assert f"pid {proc.pid}" in capsys.readouterr().err and (run / "config.json").is_file()
    finally:
        proc.kill()
        proc.communicate(timeout=60)
    assert (run / ".lock").read_text().strip() == str(proc.pid)  # the dead holder's pid is still in the file
    done = _state(run)["step"]  # 2, or an epoch end the killed process reached
    assert main(["train", "--resume", str(run), "--steps", str(done + 2)]) == 0  # a stale lock is taken over
    assert _state(run)["step"] == done + 2
    steps = [r["step"] for r in _records(run) if r["split"] == "train_step"]
    assert steps == list(range(1, done + 3))  # the dead process's records after its checkpoint are gone, none doubled


# --- 4. metrics.jsonl is rewritten atomically -----------------------------------------------------------
def _run_with_an_older_checkpoint(tmp_path, capsys):
    """A run trained to step 8 whose LATEST names its step-4 checkpoint (records after 4 to drop)."""
    run = tmp_path / "r"
    assert main(["train", "vae", *VAE_FLAGS, "--steps", "4", "--log-every", "1", "--out", str(run)]) == 0
    shutil.copytree(latest_checkpoint(run), tmp_path / "step-4")
    assert main(["train", "--resume", str(run), "--steps", "8"]) == 0
    shutil.copytree(tmp_path / "step-4", run / "checkpoints" / "step-00000004")
    (run / "checkpoints" / "LATEST").write_text("step-00000004\n")
    capsys.readouterr()
    return run


def test_a_failure_during_the_metrics_rewrite_leaves_the_log_whole(tmp_path, monkeypatch, capsys):
    import genlab.io

    run = _run_with_an_older_checkpoint(tmp_path, capsys)
    before = (run / "metrics.jsonl").read_bytes()
    assert max(r["step"] for r in _records(run)) == 8

    real_fsync = os.fsync

    def fsync_fails_for_the_log(fd):  # the process dies after writing part of the new log
        if ".metrics.jsonl." in os.readlink(f"/proc/self/fd/{fd}"):
            raise OSError(28, "No space left on device")
        real_fsync(fd)

    monkeypatch.setattr(genlab.io.os, "fsync", fsync_fails_for_the_log)
    assert main(["train", "--resume", str(run), "--steps", "8"]) == 2
    err = _err_lines(capsys)
    assert len(err) == 1 and err[0].startswith("genlab: error: No space left on device")
    assert (run / "metrics.jsonl").read_bytes() == before
    assert not [p for p in run.iterdir() if p.name.startswith(".metrics")]
    monkeypatch.undo()
    assert main(["train", "--resume", str(run), "--steps", "8"]) == 0
    steps = [r["step"] for r in _records(run) if r["split"] == "train_step"]
    assert steps == list(range(1, 9))


# --- 7. LATEST naming a missing checkpoint ----------------------------------------------------------------
def test_latest_naming_a_missing_checkpoint_falls_back_to_the_newest_complete_one(tmp_path, capsys):
    run = _run_with_an_older_checkpoint(tmp_path, capsys)
    (run / "checkpoints" / "LATEST").write_text("step-00000008\n")
    shutil.rmtree(run / "checkpoints" / "step-00000008")
    assert main(["train", "--resume", str(run), "--steps", "10"]) == 0
    warnings = [line for line in _err_lines(capsys) if "warning" in line]
    assert len(warnings) == 1 and "step-00000008" in warnings[0] and "step-00000004" in warnings[0]
    assert _state(run)["step"] == 10
    steps = [r["step"] for r in _records(run) if r["split"] == "train_step"]
    assert steps == list(range(1, 11))


# --- 5. exact metrics on resume; labels of partial epochs; the console line ------------------------------
GAN_FLAGS = ["--dataset", "digits", "--batch-size", "64", "--num-samples", "4", "--device", "cpu", "--seed", "3",
             "--deterministic", "--log-every", "1", "--g-hidden", "32", "--d-hidden", "32", "--noise-dim", "8", "--mode-check", "off"]


def test_a_resumed_gan_logs_exactly_what_a_straight_run_logs(tmp_path, monkeypatch, capsys):
    """SIGINT mid-epoch, resume: metrics.jsonl equals a straight run's (grad norms, epoch means, labels)."""
    straight, stopped = tmp_path / "a", tmp_path / "b"
    assert main(["train", "gan", *GAN_FLAGS, "--steps", "30", "--out", str(straight)]) == 0
    err = capsys.readouterr().err
    assert "generator/loss" in err and "discriminator/loss" in err  # the console line shows both phases
    original = _signal_after_updates(monkeypatch, GAN, 2 * 7)  # 2 updates a round: stops after step 7
    assert main(["train", "gan", *GAN_FLAGS, "--steps", "30", "--out", str(stopped)]) == 130
    monkeypatch.setattr(GAN, "after_step", original)
    assert _state(stopped)["step"] == 7
    assert [r for r in _records(stopped) if r["split"] == "train"] == []  # no partial record at a signal stop
    assert not list(stopped.glob("samples/*.png"))  # nor a mid-epoch grid
    assert main(["train", "--resume", str(stopped)]) == 0
    a, b = _comparable(straight), _comparable(stopped)
    assert a == b
    after_resume = next(r for r in b if r["split"] == "train_step" and r["step"] == 8)
    assert after_resume["generator/grad_norm"] > 0 and after_resume["discriminator/grad_norm"] > 0
    # digits: 22 rounds an epoch at batch 64 (one real batch a round: the generator phase reuses the
    # discriminator's); step 30 ends inside epoch 2
    trains = [r for r in a if r["split"] == "train"]
    assert trains[0]["epoch"] == 1 and "partial_epoch" not in trains[0]
    assert trains[-1]["epoch"] == 2 and trains[-1]["partial_epoch"] and trains[-1]["step"] == 30
    assert trains[-1]["rounds"] == 30 - trains[0]["step"]
    grids = sorted(p.name for p in (straight / "samples").iterdir())
    assert grids == ["epoch_001.png", "step_00000030.png"]


def test_a_run_stopped_at_an_epoch_end_resumes_with_the_next_epochs_mean_its_own(tmp_path, monkeypatch, capsys):
    """A checkpoint at an epoch end carries no running sums into the next epoch (genlab <= 0.2.0.dev0 saved the
    finished epoch's, and the resumed run's next epoch mean included them)."""
    straight, stopped = tmp_path / "a", tmp_path / "b"
    assert main(["train", "gan", *GAN_FLAGS, "--steps", "50", "--out", str(straight)]) == 0
    original = _signal_after_updates(monkeypatch, GAN, 2 * 22)  # the last round of epoch 1 (22 rounds an epoch)
    assert main(["train", "gan", *GAN_FLAGS, "--steps", "50", "--out", str(stopped)]) == 130
    monkeypatch.setattr(GAN, "after_step", original)
    assert _state(stopped)["step"] == 22 and _state(stopped)["epoch_rounds"] == 0
    # what an older genlab wrote there: the finished epoch's sums, which the resume must not add in
    state_file = latest_checkpoint(stopped) / "state.json"
    state_file.write_text(json.dumps({**_state(stopped), "epoch_sums": {"generator/loss": 99.0}, "epoch_rounds": 22}))
    assert main(["train", "--resume", str(stopped)]) == 0
    assert _comparable(straight) == _comparable(stopped)


def test_a_resumed_vae_epoch_mean_covers_the_whole_epoch(tmp_path, monkeypatch, capsys):
    straight, stopped = tmp_path / "a", tmp_path / "b"
    flags = [*VAE_FLAGS, "--deterministic", "--steps", "50", "--log-every", "5", "--binarize", "dynamic"]
    assert main(["train", "vae", *flags, "--out", str(straight)]) == 0
    original = _signal_after_updates(monkeypatch, VAE, 20, signal.SIGTERM)
    assert main(["train", "vae", *flags, "--out", str(stopped)]) == 143
    monkeypatch.setattr(VAE, "after_step", original)
    assert main(["train", "--resume", str(stopped)]) == 0
    assert _comparable(straight) == _comparable(stopped)


def test_loss_curves_draw_short_series_with_markers_and_lines(tmp_path, monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.axes import Axes

    from genlab.runs.metrics_log import plot_loss_curves

    calls = []
    original = Axes.plot
    monkeypatch.setattr(Axes, "plot", lambda self, *a, **k: calls.append((a, k)) or original(self, *a, **k))
    path = tmp_path / "metrics.jsonl"
    path.write_text(json.dumps({"step": 2, "epoch": 1, "split": "train", "loss": 1.0}) + "\n"
                    + json.dumps({"step": 1, "epoch": 0, "split": "train_step", "loss": 1.5}) + "\n"
                    + json.dumps({"step": 2, "epoch": 0, "split": "train_step", "loss": 1.2}) + "\n")
    assert plot_loss_curves(path, tmp_path / "c.png") is not None
    assert len(calls) == 2
    for args, kwargs in calls:
        assert kwargs.get("marker") and "-" in args  # a one-point series is a visible marker, a longer one a line
    per_step = next(k for _, k in calls if k["label"] == "train_step")
    assert per_step.get("alpha", 1.0) >= 0.8  # one epoch point: the per-step series is drawn as the main curve


# --- 6. temporary image files; 10. one file mode --------------------------------------------------------
def test_sample_into_an_existing_folder_leaves_no_temporary_file(tmp_path, capsys):
    run = tmp_path / "r"
    assert main(["train", "vae", *VAE_FLAGS, "--steps", "2", "--out", str(run)]) == 0
    (tmp_path / "out").mkdir()
    capsys.readouterr()
    assert main(["sample", str(run), "--out", str(tmp_path / "out"), "--n", "4"]) == 2
    err = _err_lines(capsys)
    assert len(err) == 1 and err[0].startswith("genlab: error:")
    assert not [p for p in tmp_path.rglob("*.tmp.png")]


def test_every_file_in_a_run_has_the_same_mode(tmp_path, capsys):
    run = tmp_path / "r"
    assert main(["train", "vae", *VAE_FLAGS, "--steps", "3", "--checkpoint-every", "2", "--out", str(run)]) == 0
    assert main(["train", "--resume", str(run), "--steps", "5"]) == 0
    assert main(["sample", str(run), "--out", str(run / "s.png"), "--n", "4"]) == 0
    files = {stat.S_IMODE(p.stat().st_mode) for p in run.rglob("*") if p.is_file()}
    dirs = {stat.S_IMODE(p.stat().st_mode) for p in run.rglob("*") if p.is_dir()}
    assert len(files) == 1 and len(dirs) == 1, (files, dirs)
    mask = os.umask(0)
    os.umask(mask)
    assert files == {0o666 & ~mask} and dirs == {0o777 & ~mask}


# --- 8. no pickle in a run; older pickled optimizer states still resume --------------------------------
def test_checkpoints_hold_no_pickle_and_an_old_optimizers_pt_still_resumes(tmp_path, capsys):
    from genlab.training.checkpoint import optimizer_states

    run, straight = tmp_path / "r", tmp_path / "s"
    flags = [*VAE_FLAGS, "--deterministic", "--log-every", "1"]
    assert main(["train", "vae", *flags, "--steps", "3", "--out", str(run)]) == 0
    ckpt = latest_checkpoint(run)
    assert not [p for p in run.rglob("*") if p.suffix in (".pt", ".pth", ".pkl", ".pickle")]
    # turn it into a checkpoint of an older genlab
    states = optimizer_states(load_state_dict(ckpt / "optimizers.safetensors"),
                              json.loads((ckpt / "optimizers.json").read_text()))
    torch.save(states, ckpt / "optimizers.pt")
    (ckpt / "optimizers.safetensors").unlink()
    (ckpt / "optimizers.json").unlink()
    assert main(["train", "--resume", str(run), "--steps", "6"]) == 0
    assert main(["train", "vae", *flags, "--steps", "6", "--out", str(straight)]) == 0
    a, b = load_state_dict(run / "model.safetensors"), load_state_dict(straight / "model.safetensors")
    assert all(torch.equal(a[k], b[k]) for k in a)


class _NotAllowed:
    pass


def test_a_rejected_optimizer_pickle_is_one_line(tmp_path, capsys):
    run = tmp_path / "r"
    assert main(["train", "vae", *VAE_FLAGS, "--steps", "2", "--out", str(run)]) == 0
    ckpt = latest_checkpoint(run)
    (ckpt / "optimizers.safetensors").unlink()
    (ckpt / "optimizers.json").unlink()
    torch.save({"model": _NotAllowed()}, ckpt / "optimizers.pt")
    capsys.readouterr()
    assert main(["train", "--resume", str(run), "--steps", "4"]) == 2
    err = _err_lines(capsys)
    assert len(err) == 1 and "corrupt or incomplete" in err[0] and "weights_only=False" not in err[0]


# --- 11. the resume command names the real run directory --------------------------------------------------
def test_ctrl_c_on_a_run_configured_by_file_names_its_directory(tmp_path, monkeypatch, capsys):
    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps({"model": {"name": "vae", "latent_dim": 3, "conv_widths": [8], "conv_hidden": 16},
                               "data": {"dataset": "digits"},
                               "train": {"steps": 20, "batch_size": 32, "num_samples": 4, "device": "cpu"}}))
    monkeypatch.chdir(tmp_path)
    _signal_after_updates(monkeypatch, VAE, 3)
    assert main(["train", "--config", str(cfg)]) == 130
    err = _err_lines(capsys)
    assert len(err) == 1 and "genlab train --resume runs/vae" in err[0] and "None" not in err[0]
    assert _state(tmp_path / "runs" / "vae")["step"] == 3


# --- 9. the feature-extractor cache ----------------------------------------------------------------------
TINY_VGG = dict(arch="lenet5", steps=24, batch_size=64, lr=3e-3)


def test_a_tampered_extractor_is_rebuilt_and_an_interrupted_build_resumes_exactly(tmp_path, monkeypatch, capsys):
    from genlab.errors import Interrupted
    from genlab.metrics import features
    from genlab.models.classifier import Classifier
    from genlab.runs.extractors import build_extractor

    recipe = features.ExtractorRecipe(**TINY_VGG)
    monkeypatch.setenv("GENLAB_CACHE", str(tmp_path / "one"))
    straight = build_extractor("digits", recipe, verbose=False)
    entry = next((tmp_path / "one" / "extractors").iterdir())
    weights = load_state_dict(entry / "model.safetensors")
    save_state_dict({k: torch.zeros_like(v) for k, v in weights.items()}, entry / "model.safetensors")
    capsys.readouterr()
    rebuilt = build_extractor("digits", recipe, verbose=False)
    warnings = [line for line in _err_lines(capsys) if "warning" in line]
    assert len(warnings) == 1 and "rebuilding" in warnings[0]
    assert rebuilt.id == straight.id and features.file_sha256(entry / "model.safetensors") == straight.weights_sha256

    monkeypatch.setenv("GENLAB_CACHE", str(tmp_path / "two"))
    original = _signal_after_updates(monkeypatch, Classifier, 10, signal.SIGTERM)
    with pytest.raises(Interrupted, match="the build continues from its last checkpoint"):
        build_extractor("digits", recipe, verbose=False)
    monkeypatch.setattr(Classifier, "after_step", original)
    building = [p for p in (tmp_path / "two" / "extractors").iterdir() if p.name.endswith(".building")]
    assert len(building) == 1 and _state(building[0])["step"] == 10
    resumed = build_extractor("digits", recipe, verbose=False)
    assert resumed.id == straight.id and not building[0].exists()


def test_sigterm_during_evaluates_extractor_build_is_one_line_and_keeps_the_build(tmp_path, capsys):
    run = tmp_path / "r"
    assert main(["train", "vae", *VAE_FLAGS, "--steps", "2", "--out", str(run)]) == 0
    proc = _genlab(["evaluate", str(run), "--metrics", "fid", "--n", "50"], GENLAB_CACHE=str(tmp_path / "cache"))
    extractors = tmp_path / "cache" / "extractors"

    def build_started():
        return proc.poll() is not None or any(p.name.endswith(".building") and (p / "config.json").is_file()
                                              for p in (extractors.iterdir() if extractors.is_dir() else []))

    assert _wait_for(build_started)
    time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith("genlab: stopped by SIGTERM while training feature extractor") and "next time" in last
    assert [p for p in extractors.iterdir() if p.name.endswith(".building")]


def test_epochs_on_resume_of_a_steps_run_is_explained(tmp_path, capsys):
    run = tmp_path / "r"
    assert main(["train", "vae", *VAE_FLAGS, "--steps", "2", "--out", str(run)]) == 0
    capsys.readouterr()
    assert main(["train", "--resume", str(run), "--epochs", "5"]) == 2
    err = _err_lines(capsys)
    assert len(err) == 1 and err[0].startswith("genlab: error:") and "--steps 2" in err[0] and "--steps N" in err[0]
    assert main(["train", "--resume", str(run), "--steps", "3"]) == 0  # the way it names works
    assert (run / "checkpoints" / "LATEST").read_text().strip() == "step-00000003"
