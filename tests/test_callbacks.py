"""The trainer is the loop and nothing else: it reports to callbacks, writes no file, and its state
round-trips; in-memory training (`genlab.training.fit`) needs no run layer."""
from __future__ import annotations

import os

import pytest
import torch

from genlab.config import DataConfig, TrainConfig
from genlab.data import load_splits
from genlab.errors import CheckpointError
from genlab.training import Callback, EpochRecord, Trainer, build_model, fit, model_config
from genlab.training.checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint

SMALL_AE = {"mlp_hidden": [16], "latent_dim": 2}


@pytest.fixture(scope="module")
def splits():
    return load_splits(DataConfig("digits", limit=128))  # 128 train items: 4 batches of 32 per epoch


class Recorder(Callback):
    def __init__(self):
        self.calls: list[tuple] = []

    def on_train_start(self, trainer):
        self.calls.append(("start", trainer.step))

    def on_step_end(self, trainer, logs):
        assert "loss" in logs
        self.calls.append(("step", trainer.step))

    def on_epoch_end(self, trainer, record):
        assert isinstance(record, EpochRecord)
        self.calls.append(("epoch", trainer.step, record.epoch_done, record.last, record.train["split"],
                           sorted(record.validation)))

    def on_checkpoint(self, trainer):
        self.calls.append(("checkpoint", trainer.step))

    def on_epoch_timing(self, trainer, timing):
        assert timing["split"] == "timing" and timing["wall_time"] >= timing["compute_time"]
        self.calls.append(("timing", trainer.step))

    def on_end(self, trainer):
        self.calls.append(("end", trainer.step))


def _ae(splits, seed=0):
    return build_model("ae", model_config("ae", SMALL_AE, splits), seed)


def test_hooks_run_in_loop_order_and_the_trainer_writes_nothing(splits, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rec = Recorder()
    cfg = TrainConfig(steps=6, batch_size=32, device="cpu", checkpoint_every=3, log_every=1)
    fit(_ae(splits), splits, cfg, callbacks=[rec])
    epoch_1 = [("step", 1), ("step", 2), ("step", 3), ("checkpoint", 3), ("step", 4),
               ("epoch", 4, True, False, "train", ["loss", "mse", "penalty", "rec"]), ("checkpoint", 4), ("timing", 4)]
    epoch_2 = [("step", 5), ("step", 6), ("checkpoint", 6),  # the cadence (every 3 steps), then the run's end
               ("epoch", 6, False, True, "train", ["loss", "mse", "penalty", "rec"]), ("checkpoint", 6), ("timing", 6)]
    assert rec.calls == [("start", 0), *epoch_1, *epoch_2, ("end", 6)]
    assert os.listdir(tmp_path) == []  # no run directory, log, grid or plot: those are the run layer's callbacks


def test_state_dict_round_trips_through_a_checkpoint_and_a_misfit_is_one_line(splits, tmp_path):
    cfg = TrainConfig(steps=3, batch_size=32, device="cpu", seed=5)
    first = Trainer(_ae(splits), splits, cfg)
    first.fit()
    save_checkpoint(tmp_path, first.state_dict())
    second = Trainer(_ae(splits, seed=1), splits, TrainConfig(steps=5, batch_size=32, device="cpu", seed=5))
    load_checkpoint(latest_checkpoint(tmp_path), second)
    assert (second.step, second.epoch, second.round_in_epoch) == (3, 0, 3)
    assert second.epoch_rounds == 3 and second.epoch_sums.keys() == first.epoch_sums.keys()
    assert all(torch.equal(a, b) for a, b in zip(first.model.state_dict().values(), second.model.state_dict().values(), strict=True))
    assert second.checkpointed_step == 3
    other = Trainer(build_model("ae", model_config("ae", {"mlp_hidden": [8], "latent_dim": 2}, splits), 0), splits, cfg)
    with pytest.raises(CheckpointError, match="does not fit this model's architecture"):
        load_checkpoint(latest_checkpoint(tmp_path), other)
    with pytest.raises(ValueError, match="has optimizers"):
        second.load_state_dict({**first.state_dict(), "optimizers": {"critic": {}}})


def test_fit_trains_in_memory_from_a_dict_config(splits):
    model = _ae(splits)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    trained = fit(model, splits, {"steps": 2, "batch_size": 32, "device": "cpu"})
    assert trained is model and any(not torch.equal(before[k], v) for k, v in model.state_dict().items())
