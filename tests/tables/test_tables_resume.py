"""`genlab synth fit` is a run of the run layer: an interrupted fit continues exactly with --resume."""
from __future__ import annotations

import json
import signal

import pytest

pd = pytest.importorskip("pandas")
torch = pytest.importorskip("torch")

from genlab.cli import main  # noqa: E402
from genlab.models.tvae import TVAE  # noqa: E402
from genlab.tables import Synthesizer  # noqa: E402

TINY = ["--model", "tvae", "--epochs", "3", "--batch-size", "40", "--embedding-dim", "8", "--compress-dims", "16",
        "--decompress-dims", "16", "--target", "colour"]


def _weights(directory):
    return Synthesizer.load(directory).model.state_dict()


def test_an_interrupted_synth_fit_resumes_exactly(tmp_path, mixed_csv, monkeypatch, capsys):
    data = ["--data", f"csv:{mixed_csv}"]
    assert main(["synth", "fit", *data, "--out", str(tmp_path / "straight"), *TINY]) == 0

    calls = {"n": 0}
    original = TVAE.after_step

    def interrupt_at_3(self, phase):  # 96 training rows, batch 40: 2 steps an epoch; stop inside epoch 2
        original(self, phase)
        calls["n"] += 1
        if calls["n"] == 3:
            signal.raise_signal(signal.SIGINT)

    monkeypatch.setattr(TVAE, "after_step", interrupt_at_3)
    out = tmp_path / "stopped"
    capsys.readouterr()
    assert main(["synth", "fit", *data, "--out", str(out), *TINY]) == 128 + signal.SIGINT
    err = capsys.readouterr().err
    assert f"continue it with: genlab synth fit --resume {out}" in err, err
    monkeypatch.setattr(TVAE, "after_step", original)
    assert main(["synth", "sample", str(out), "--n", "5", "--out", str(tmp_path / "rows.csv")]) == 2
    assert "did not finish" in capsys.readouterr().err  # an unfinished fit is not a synthesizer yet

    assert main(["synth", "fit", "--resume", str(out)]) == 0
    a, b = _weights(tmp_path / "straight"), _weights(out)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    epochs = [r["epoch"] for r in map(json.loads, (out / "run" / "metrics.jsonl").read_text().splitlines())
              if r["split"] == "train"]
    assert epochs == [1, 2, 3]  # every epoch's record once, the interrupted one written by the resume
    # a finished fit: nothing to resume; a resumed fit may not change how it was set up
    assert main(["synth", "fit", "--resume", str(out)]) == 2
    assert "finished synthesizer" in capsys.readouterr().err
    assert main(["synth", "fit", "--resume", str(tmp_path / "straight"), "--batch-size", "20"]) == 2
    assert "cannot change when resuming" in capsys.readouterr().err


@pytest.mark.slow
def test_synth_fit_under_torchrun_two_processes(tmp_path, mixed_csv, torchrun):
    """ctgan on two CPU processes (gloo): each trains on its half of every batch, rank 0 alone writes."""
    import os
    import sys

    from tables_helpers import TINY_CTGAN

    out = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m", "genlab",
           "synth", "fit", "--data", f"csv:{mixed_csv}", "--model", "ctgan", "--out", str(out), "--device", "cpu",
           *TINY_CTGAN]
    proc = torchrun(cmd, env, out)  # retries a gloo child's rare abort at exit (tests/conftest.py)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stderr.count("synthesizer written to") == 1  # one writer
    rows = Synthesizer.load(out).sample(20)
    assert list(rows.columns) == list(pd.read_csv(mixed_csv).columns) and len(rows) == 20
    records = [json.loads(line) for line in (out / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in records if r["split"] == "train"] == [1, 2]  # rank 1 wrote nothing
