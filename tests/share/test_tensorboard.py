"""genlab train --tensorboard: the records of metrics.jsonl mirrored as TensorBoard scalars, grids and config."""
from __future__ import annotations

import json
import sys

import pytest

from genlab.cli import main

ARGS = ["train", "vae", "--dataset", "digits", "--steps", "2", "--batch-size", "32", "--latent-dim", "3",
        "--conv-widths", "4", "--conv-hidden", "8", "--device", "cpu", "--num-samples", "4", "--log-every", "1",
        "--tensorboard", "--no-report"]


def test_tensorboard_mirrors_metrics_jsonl(tmp_path):
    pytest.importorskip("tensorboard", reason="the tensorboard extra is not installed")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out = tmp_path / "vae"
    assert main([*ARGS, "--out", str(out)]) == 0
    events = EventAccumulator(str(out / "tensorboard"))
    events.Reload()
    tags = events.Tags()
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    train = next(r for r in records if r["split"] == "train")
    validation = next(r for r in records if r["split"] == "validation")
    for split, record in (("train", train), ("validation", validation)):
        got = events.Scalars(f"{split}/loss")
        assert [(e.step, round(e.value, 3)) for e in got] == [(record["step"], round(record["loss"], 3))]
    steps = [r["step"] for r in records if r["split"] == "train_step"]
    assert [e.step for e in events.Scalars("train_step/loss")] == steps == [1, 2]
    assert tags["images"] == ["samples"] and "config/text_summary" in tags["tensors"]


def test_tensorboard_missing_is_one_line_before_training(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # as if the package were absent
    assert main([*ARGS, "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["genlab: error: --tensorboard needs the tensorboard package: pip install 'genlab[tensorboard]'"]
    assert not (tmp_path / "x").exists()
