"""The CPU budget clock stays honest with more than one thread: the genlab command sets a passive OpenMP wait
policy before torch loads (idle threads sleep instead of spinning on a busy machine), and validation can be off."""
import json
import os
import subprocess
import sys
from pathlib import Path

from genlab import cpu
from genlab.cli import main

SRC = str(Path(__file__).resolve().parents[1] / "src")

SPY = """
import importlib.abc, os, sys
seen = {}
class Spy(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name == "torch" and "policy" not in seen:
            seen["policy"] = os.environ.get("OMP_WAIT_POLICY", "unset")
        return None
sys.meta_path.insert(0, Spy())
from genlab.cli import main
rc = main(["train", "gan", "--dataset", "digits", "--steps", "1", "--batch-size", "32", "--g-hidden", "8",
           "--d-hidden", "8", "--noise-dim", "4", "--num-samples", "4", "--mode-check", "off", "--device", "cpu",
           "--eval-batches", "0", "--out", sys.argv[1]])
print(rc, seen.get("policy"))
"""


def test_the_command_sets_a_passive_openmp_policy_before_torch_loads(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GENLAB_OMP_PASSIVE")}
    env["PYTHONPATH"] = SRC + os.pathsep + env.get("PYTHONPATH", "")
    out = subprocess.run([sys.executable, "-c", SPY, str(tmp_path / "r")], env=env, capture_output=True, text=True,
                         timeout=300)
    assert out.stdout.split()[-2:] == ["0", "PASSIVE"], out.stderr[-2000:]


def test_a_users_policy_wins_and_the_setting_can_be_switched_off(monkeypatch):
    monkeypatch.delitem(sys.modules, "torch")  # as before the runtime loads (restored after the test)
    monkeypatch.setenv("OMP_WAIT_POLICY", "active")
    assert cpu.passive_openmp() is False and os.environ["OMP_WAIT_POLICY"] == "active"
    monkeypatch.delenv("OMP_WAIT_POLICY")
    monkeypatch.setenv("GENLAB_OMP_PASSIVE", "0")
    assert cpu.passive_openmp() is False and "OMP_WAIT_POLICY" not in os.environ
    monkeypatch.setenv("GENLAB_OMP_PASSIVE", "1")
    assert cpu.passive_openmp() is True and os.environ["OMP_WAIT_POLICY"] == "PASSIVE"


def test_passive_policy_is_not_set_once_torch_is_loaded(monkeypatch):
    import torch  # noqa: F401 - loaded: the runtime has read its settings, a late variable would only mislead

    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    monkeypatch.delenv("GENLAB_OMP_PASSIVE", raising=False)
    assert cpu.passive_openmp() is False and "OMP_WAIT_POLICY" not in os.environ


def _records(run):
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def test_eval_batches_0_turns_validation_off_and_none_validates_the_whole_split(tmp_path, capsys):
    flags = ["--dataset", "digits", "--steps", "2", "--batch-size", "32", "--g-hidden", "8", "--d-hidden", "8",
             "--noise-dim", "4", "--num-samples", "4", "--mode-check", "off", "--device", "cpu"]
    assert main(["train", "gan", *flags, "--eval-batches", "0", "--out", str(tmp_path / "off")]) == 0
    assert main(["train", "gan", *flags, "--eval-batches", "none", "--out", str(tmp_path / "all")]) == 0
    assert not [r for r in _records(tmp_path / "off") if r["split"] == "validation"]
    assert [r for r in _records(tmp_path / "all") if r["split"] == "validation"]
    assert json.loads((tmp_path / "off" / "config.json").read_text())["train"]["eval_batches"] == 0


def test_a_format1_run_config_keeps_validating_the_whole_split():
    """Before format 2, eval_batches 0 meant the whole split: an old run resumed keeps its validation."""
    from genlab import formats

    path = Path(__file__).parent / "fixtures" / "format1" / "run-config.json"
    data = json.loads(path.read_text())
    assert data["format"] == 1 and data["train"]["eval_batches"] == 0
    saved = formats.read_saved(formats.RUN_CONFIG, data, path)
    assert saved.body["train"]["eval_batches"] is None
    data["train"]["eval_batches"] = 3
    assert formats.read_saved(formats.RUN_CONFIG, data, path).body["train"]["eval_batches"] == 3


def test_a_gan_on_a_fresh_install_says_once_that_modes_are_not_checked(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GENLAB_CACHE", str(tmp_path / "fresh"))  # no evaluation classifier cached
    assert main(["train", "gan", "--dataset", "digits", "--steps", "2", "--batch-size", "32", "--g-hidden", "8",
                 "--d-hidden", "8", "--noise-dim", "4", "--num-samples", "4", "--device", "cpu", "--eval-batches", "0",
                 "--out", str(tmp_path / "r")]) == 0
    notes = [line for line in capsys.readouterr().err.splitlines() if "not checked for mode collapse" in line]
    assert len(notes) == 1 and "'digits'" in notes[0] and "--mode-check on" in notes[0]
