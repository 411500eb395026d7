"""Image accounting of the GAN family: the generator phase draws no real batch, images and epochs count
the real images the discriminator saw, and metrics.jsonl carries the cumulative images and CPU-seconds."""
import json

import torch

import genlab
from genlab.config import DataConfig, TrainConfig
from genlab.data import load_splits
from genlab.data.base import BatchIterator
from genlab.training.trainer import Trainer

TINY_CONV = {"g_widths": [8], "d_widths": [8], "noise_dim": 8}


def _records(run, split):
    return [r for r in map(json.loads, (run / "metrics.jsonl").read_text().splitlines()) if r["split"] == split]


def test_generator_phase_draws_and_converts_no_batch(digits_data, monkeypatch):
    """n_critic 3: each round draws 3 batches (the critic's), not 4; the generator gets the critic's last one."""
    made, seen = [], []
    original_make = BatchIterator._make

    def counting_make(self, idx, gen):
        batch = original_make(self, idx, gen)
        made.append(batch)
        return batch

    monkeypatch.setattr(BatchIterator, "_make", counting_make)
    splits = load_splits(DataConfig("digits"))
    model = genlab.registry.build("cgan", {**TINY_CONV, "n_critic": 3, "data_shape": list(splits.train.shape),
                                           "num_classes": splits.train.num_classes})
    original_losses = type(model).losses

    def spy(self, batch, phase="discriminator"):
        seen.append((phase, batch))
        return original_losses(self, batch, phase)

    monkeypatch.setattr(type(model), "losses", spy)
    trainer = Trainer(model, splits, TrainConfig(steps=2, batch_size=16, device="cpu", seed=2))
    assert trainer.batches_per_round == 3
    assert trainer.rounds_per_epoch == len(trainer.batches) // 3  # an epoch: every real image through D once
    trainer.fit()
    assert len(made) == 6  # the data iterator advanced only for the 6 discriminator updates
    assert [p for p, _ in seen] == ["discriminator"] * 3 + ["generator"] + ["discriminator"] * 3 + ["generator"]
    for i in (3, 7):  # the generator phase reuses the critic's last batch (its size and labels), no new draw
        assert seen[i][1] is seen[i - 1][1]
    assert trainer.images == 6 * 16


def test_metrics_record_real_images_and_cpu_seconds_and_resume_keeps_them(tmp_path, digits_data):
    cfg = {**TINY_CONV, "n_critic": 2}
    train = {"steps": 4, "batch_size": 16, "device": "cpu", "seed": 4, "num_samples": 4}
    genlab.train("dcgan", out=tmp_path / "a", model_config=cfg, data=digits_data, train=train)
    last = _records(tmp_path / "a", "train")[-1]
    assert last["images_seen"] == 4 * 2 * 16  # the critic's real images only
    assert last["cpu_time"] > 0 and last["step"] == 4
    genlab.train("dcgan", out=tmp_path / "b", model_config=cfg, data=digits_data, train={**train, "steps": 2})
    first_half = _records(tmp_path / "b", "train")[-1]
    resumed = genlab.resume(tmp_path / "b", steps=4)
    after = _records(tmp_path / "b", "train")[-1]
    assert first_half["images_seen"] == 2 * 2 * 16 and after["images_seen"] == last["images_seen"]
    assert after["cpu_time"] > first_half["cpu_time"]  # cumulative over the resume
    straight = genlab.load(tmp_path / "a")
    for k, v in straight.state_dict().items():  # exact resume is unchanged
        assert torch.equal(v, resumed.state_dict()[k]), k
