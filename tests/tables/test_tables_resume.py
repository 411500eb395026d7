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
