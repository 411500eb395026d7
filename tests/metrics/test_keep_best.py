"""--keep-best fd: the model of the lowest validation FD kept in RUN/best, its records, exact resume."""
import json
import signal

import pytest
import torch

import genlab
from genlab.cli import main
from genlab.config import DataConfig
from genlab.data import load_splits
from genlab.data.base import Splits
from genlab.errors import ConfigError
from genlab.io import load_state_dict
from genlab.models.gan import GAN
from genlab.runs.selection import BEST_DIR, BEST_INFO, KeepBest

# digits at batch 64: 22 rounds an epoch, so 50 steps measure at steps 22, 44 and 50 (the run's end)
FLAGS = ["gan", "--dataset", "digits", "--batch-size", "64", "--num-samples", "4", "--device", "cpu", "--seed", "3",
         "--deterministic", "--log-every", "5", "--g-hidden", "32", "--d-hidden", "32", "--noise-dim", "8",
         "--mode-check", "off", "--no-report", "--keep-best", "fd", "--keep-best-samples", "100"]
WALL = {"images_per_s", "epoch_time", "data_time", "compute_time", "cpu_time"}


def _records(run, split=None):
    lines = (run / "metrics.jsonl").read_text().splitlines()
    return [r for r in map(json.loads, lines) if split is None or r["split"] == split]


def _comparable(run):
    return [{k: v for k, v in r.items() if k not in WALL} for r in _records(run) if r["split"] != "timing"]


def _same_weights(a, b):
    wa, wb = load_state_dict(a), load_state_dict(b)
    return wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)


def test_the_lowest_validation_fd_is_kept_and_reads_as_a_run(tiny_extractor, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", *FLAGS, "--steps", "50", "--out", str(run)]) == 0
    err = capsys.readouterr().err
    selection = _records(run, "selection")
    assert [r["step"] for r in selection] == [22, 44, 50]
    assert all(r["n"] == 100 and r["extractor"] == tiny_extractor.id for r in selection)
    fds = [r["fd"] for r in selection]
    assert len(set(fds)) == 3  # three different models, three different distances
    best = min(selection, key=lambda r: r["fd"])
    info = json.loads((run / BEST_DIR / BEST_INFO).read_text())
    assert info["step"] == best["step"] and info["fd"] == pytest.approx(best["fd"])
    assert selection[-1]["best_step"] == best["step"] and selection[-1]["best_fd"] == pytest.approx(min(fds))
    assert f"best by validation FD: {min(fds):.4g} at step {best['step']}" in err
    # the weights in best/ are the model at that step: a straight run of exactly that many steps
    short = tmp_path / "short"
    assert main(["train", *FLAGS, "--steps", str(best["step"]), "--out", str(short)]) == 0
    assert _same_weights(run / BEST_DIR / "model.safetensors", short / "model.safetensors")
    # the best model is measured again to the same FD, and every command that reads a run takes best/
    kept = genlab.load(run / BEST_DIR)
    assert isinstance(kept, GAN)
    assert main(["sample", str(run / BEST_DIR), "--out", str(tmp_path / "best.png")]) == 0
    assert (tmp_path / "best.png").is_file()
    assert main(["report", str(run), "--out", str(tmp_path / "report.html")]) == 0
    page = (tmp_path / "report.html").read_text()
    assert "Model selection (--keep-best)" in page and page.count("<td class=\"l\">best</td>") == 1
    capsys.readouterr()
    assert main(["train", "--resume", str(run / BEST_DIR)]) == 2
    assert "not a run to resume: resume " + str(run) in capsys.readouterr().err


def _stop_after_updates(monkeypatch, n):
    original, calls = GAN.after_step, {"n": 0}

    def after_step(self, phase):
        original(self, phase)
        calls["n"] += 1
        if calls["n"] == n:
            signal.raise_signal(signal.SIGINT)

    monkeypatch.setattr(GAN, "after_step", after_step)
    return original


def _fake_fd(monkeypatch, table):
    """Make every measurement return ``table[step]`` (what the selection does with it is under test)."""
    monkeypatch.setattr(KeepBest, "measure", lambda self, trainer: table[trainer.step])


@pytest.mark.parametrize("tamper,stop", [("none", 30), ("best ahead", 30), ("none", 22), ("none", 50)])
def test_a_stopped_and_resumed_run_selects_exactly_as_a_straight_one(tiny_extractor, tmp_path, monkeypatch, capsys,
                                                                     tamper, stop):
    _fake_fd(monkeypatch, {22: 5.0, 44: 9.0, 50: 7.0})  # the best comes first: a lost best-so-far would show at 44
    straight, stopped = tmp_path / "a", tmp_path / "b"
    assert main(["train", *FLAGS, "--steps", "50", "--out", str(straight)]) == 0
    assert [(r["step"], r["best_step"], r["best_fd"]) for r in _records(straight, "selection")] == [
        (22, 22, 5.0), (44, 22, 5.0), (50, 22, 5.0)]
    original = _stop_after_updates(monkeypatch, 2 * stop)  # two updates a round
    assert main(["train", *FLAGS, "--steps", "50", "--out", str(stopped)]) == 130
    monkeypatch.setattr(GAN, "after_step", original)
    # stopped inside epoch 2 (step 30): epoch 1 was measured; stopped at epoch 1's end (step 22): its
    # measurement is put off until the resume (the checkpoint holds that very model); stopped in the run's
    # last round (step 50): the run is complete and measured as a straight one
    assert [r["step"] for r in _records(stopped, "selection")] == {30: [22], 22: [], 50: [22, 44, 50]}[stop]
    if tamper == "best ahead":  # as if killed after best/ was written and before the checkpoint that follows
        info = json.loads((stopped / BEST_DIR / BEST_INFO).read_text())
        (stopped / BEST_DIR / BEST_INFO).write_text(json.dumps({**info, "step": 44}))
        (stopped / BEST_DIR / "model.safetensors").write_bytes(b"not weights")
    assert main(["train", "--resume", str(stopped)]) == 0
    assert _comparable(straight) == _comparable(stopped)
    assert (stopped / BEST_DIR / BEST_INFO).read_text() == (straight / BEST_DIR / BEST_INFO).read_text()
    assert _same_weights(straight / BEST_DIR / "model.safetensors", stopped / BEST_DIR / "model.safetensors")


def test_keep_best_every_measures_every_n_steps_and_at_the_end(tiny_extractor, tmp_path, monkeypatch, capsys):
    _fake_fd(monkeypatch, {s: 100.0 - s for s in range(1, 60)})
    run = tmp_path / "run"
    assert main(["train", *FLAGS, "--steps", "50", "--keep-best-every", "10", "--out", str(run)]) == 0
    records = _records(run, "selection")
    assert [(r["step"], r["epoch"]) for r in records] == [(10, 1), (20, 1), (30, 2), (40, 2), (50, 3)]
    assert json.loads((run / BEST_DIR / BEST_INFO).read_text())["step"] == 50
    # stopped at step 25 and resumed: the same records and the same choice as a straight run
    _fake_fd(monkeypatch, {10: 1.0, 20: 5.0, 30: 3.0, 40: 2.0, 50: 4.0})
    straight, stopped = tmp_path / "a", tmp_path / "b"
    every = ["--steps", "50", "--keep-best-every", "10"]
    assert main(["train", *FLAGS, *every, "--out", str(straight)]) == 0
    original = _stop_after_updates(monkeypatch, 2 * 25)
    assert main(["train", *FLAGS, *every, "--out", str(stopped)]) == 130
    monkeypatch.setattr(GAN, "after_step", original)
    assert main(["train", "--resume", str(stopped)]) == 0
    assert _comparable(straight) == _comparable(stopped)
    assert {r["best_step"] for r in _records(stopped, "selection")} == {10}
    _fake_fd(monkeypatch, {22: 2.0, 44: 1.0})
    run = tmp_path / "run2"  # a run whose end is a multiple: measured once there
    assert main(["train", *FLAGS, "--steps", "44", "--keep-best-every", "22", "--out", str(run)]) == 0
    assert [r["step"] for r in _records(run, "selection")] == [22, 44]


def test_a_nan_fd_is_logged_and_never_kept(tiny_extractor, tmp_path, monkeypatch, capsys):
    _fake_fd(monkeypatch, {22: float("nan"), 44: 9.0, 50: 7.0})
    run = tmp_path / "run"
    assert main(["train", *FLAGS, "--steps", "50", "--out", str(run)]) == 0
    records = _records(run, "selection")
    assert records[0]["best_step"] is None and records[0]["best_fd"] is None
    assert [(r["best_step"], r["best_fd"]) for r in records[1:]] == [(44, 9.0), (50, 7.0)]
    assert json.loads((run / BEST_DIR / BEST_INFO).read_text())["step"] == 50


def test_keep_best_is_refused_where_it_cannot_work(tiny_extractor, tmp_path, monkeypatch, capsys):
    assert main(["train", "classifier", "--dataset", "digits", "--steps", "2", "--keep-best", "fd",
                 "--out", str(tmp_path / "c")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("genlab: error: --keep-best fd needs a generative image model")
    assert "does not generate samples" in err[-1]
    assert not (tmp_path / "c").exists()
    with pytest.raises(ConfigError, match="needs a run directory"):
        genlab.train("gan", data="digits", train={"steps": 2, "keep_best": "fd"})
    with monkeypatch.context() as m:  # under torchrun an extractor is never trained by one rank alone
        m.setenv("WORLD_SIZE", "2")
        m.setenv("GENLAB_CACHE", str(tmp_path / "empty-cache"))
        with pytest.raises(ConfigError, match="under torchrun needs the evaluation classifier"):
            genlab.train("gan", out=tmp_path / "t", data="digits", train={"steps": 2, "keep_best": "fd"})
    splits = load_splits(DataConfig("digits"))
    no_validation = Splits(splits.train, splits.validation.subset(slice(0, 0)), splits.test)
    with pytest.raises(ConfigError, match="no validation split"):
        genlab.train("gan", out=tmp_path / "g", data="digits", splits=no_validation,
                     train={"steps": 2, "keep_best": "fd"})
    assert not (tmp_path / "g").exists()


def test_the_mode_check_shares_the_selection_extractor_and_a_finished_run_refuses_it(tiny_extractor, tmp_path,
                                                                                     monkeypatch, capsys):
    """With --keep-best fd and --mode-check on, the dataset's extractor is looked up once (each lookup loads the
    dataset); switching the selection on for a run with no steps left is one error line, not a silent no-op."""
    from genlab.runs import monitor, selection
    lookups = {"monitor": 0, "selection": 0}
    for name, module in (("monitor", monitor), ("selection", selection)):
        def counted(data, recipe=None, _name=name, _original=module.cached_extractor):
            lookups[_name] += 1
            return _original(data, recipe)
        monkeypatch.setattr(module, "cached_extractor", counted)
    run = tmp_path / "run"
    flags = [f for f in FLAGS if f not in ("--mode-check", "off")]
    assert main(["train", *flags, "--mode-check", "on", "--steps", "22", "--out", str(run)]) == 0
    assert lookups == {"monitor": 0, "selection": 1}
    assert _records(run, "modes") and _records(run, "selection")
    plain = tmp_path / "plain"
    no_selection = [f for f in FLAGS if f not in ("--keep-best", "fd", "--keep-best-samples", "100")]
    assert main(["train", *no_selection, "--steps", "22", "--out", str(plain)]) == 0
    capsys.readouterr()
    assert main(["train", "--resume", str(plain), "--keep-best", "fd"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"genlab: error: {plain} is already trained for 22 steps")
    assert "--keep-best would change nothing" in err[0] and "--steps N" in err[0]
    assert not _records(plain, "selection") and not (plain / BEST_DIR).exists()
    assert main(["train", "--resume", str(plain), "--keep-best", "fd", "--steps", "30"]) == 0  # extended: selects
    assert [r["step"] for r in _records(plain, "selection")] == [30]
