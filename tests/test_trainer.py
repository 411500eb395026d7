import json
import signal

import pytest
import torch

import genlab
from genlab.config import DataConfig, TrainConfig
from genlab.data import load_splits
from genlab.errors import CheckpointError, TrainingDiverged
from genlab.models.vae import VAE
from genlab.training.checkpoint import latest_checkpoint
from genlab.training.trainer import Interrupted, Trainer, lr_factor

SMALL_VAE = {"latent_dim": 4, "conv_widths": [8], "conv_hidden": 16}


def _weights(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def _same(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_exact_resume_after_interrupt(tmp_path, monkeypatch, digits_data):
    """N steps straight == N/2 steps, SIGINT, resume, N/2 more (deterministic CPU), across an epoch end."""
    train = {"steps": 60, "batch_size": 32, "deterministic": True, "schedule": "cosine", "warmup_steps": 5,
             "seed": 11, "sample_every": 0, "log_every": 10, "device": "cpu"}
    data = {**digits_data, "binarize": "dynamic"}
    straight = genlab.train("vae", out=tmp_path / "a", model_config=SMALL_VAE, data=data, train=train)

    calls = {"n": 0}
    original = VAE.after_step

    def interrupt_at_30(self, phase):
        original(self, phase)
        calls["n"] += 1
        if calls["n"] == 30:
            signal.raise_signal(signal.SIGINT)

    monkeypatch.setattr(VAE, "after_step", interrupt_at_30)
    with pytest.raises(Interrupted):
        genlab.train("vae", out=tmp_path / "b", model_config=SMALL_VAE, data=data, train=train)
    monkeypatch.setattr(VAE, "after_step", original)
    state = json.loads((latest_checkpoint(tmp_path / "b") / "state.json").read_text())
    assert state["step"] == 30 and not state["complete"]
    resumed = genlab.resume(tmp_path / "b")
    assert _same(_weights(straight), _weights(resumed))
    # the metrics log of the resumed run has no duplicated steps
    steps = [r["step"] for r in map(json.loads, (tmp_path / "b" / "metrics.jsonl").read_text().splitlines())
             if r["split"] == "train_step"]
    assert steps == sorted(set(steps)) and steps[-1] == 60


def test_resume_extends_a_finished_run(tmp_path, digits_data, quick_train):
    genlab.train("vae", out=tmp_path / "r", model_config=SMALL_VAE, data=digits_data, train=quick_train)
    model = genlab.resume(tmp_path / "r", steps=9)
    assert json.loads((latest_checkpoint(tmp_path / "r") / "state.json").read_text())["step"] == 9
    assert json.loads((tmp_path / "r" / "config.json").read_text())["train"]["steps"] == 9
    assert isinstance(model, VAE)


def test_run_directory_contents_and_load(tmp_path, digits_data, quick_train):
    model = genlab.train("vae", out=tmp_path / "r", model_config=SMALL_VAE, data=digits_data, train=quick_train)
    run = tmp_path / "r"
    for name in ("config.json", "model_config.json", "model.safetensors", "metrics.jsonl", "loss_curves.png", "samples.png"):
        assert (run / name).is_file(), name
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["model"]["name"] == "vae" and cfg["model"]["config"]["data_shape"] == [1, 8, 8]
    assert cfg["train"]["batch_size"] == 32 and cfg["data"]["dataset"] == "digits"
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert {"train_step", "train", "validation"} <= {r["split"] for r in records}
    loaded = genlab.load(run)
    model.eval()
    x = torch.rand(3, 1, 8, 8)
    torch.testing.assert_close(loaded.decode(loaded.encode(x)), model.decode(model.encode(x)))


def test_multi_phase_updates_touch_only_their_own_parameters(digits_data):
    splits = load_splits(DataConfig("digits"))
    torch.manual_seed(0)
    model = genlab.registry.build("test-twonet")
    trainer = Trainer(model, splits, TrainConfig(steps=1, batch_size=16, device="cpu"))
    critic, generator = trainer.phases
    before = _weights(model)
    batches = trainer.batches.epoch(0)
    trainer._update(critic, next(batches))
    after_critic = _weights(model)
    assert all(torch.equal(before[k], after_critic[k]) for k in before if k.startswith("generator."))
    assert not all(torch.equal(before[k], after_critic[k]) for k in before if k.startswith("critic."))
    trainer._update(generator, next(batches))
    after_gen = _weights(model)
    assert all(torch.equal(after_critic[k], after_gen[k]) for k in before if k.startswith("critic."))
    assert not all(torch.equal(after_critic[k], after_gen[k]) for k in before if k.startswith("generator."))


def test_phase_repeats_consume_fresh_batches(digits_data):
    splits = load_splits(DataConfig("digits"))
    model = genlab.registry.build("test-twonet", {"critic_steps": 3})
    trainer = Trainer(model, splits, TrainConfig(steps=2, batch_size=16, device="cpu", phase_lr={"critic": 0.5}))
    assert trainer.batches_per_round == 4
    assert trainer.rounds_per_epoch == len(trainer.batches) // 4
    assert trainer.optimizers["critic"].param_groups[0]["lr"] == 0.5
    assert trainer.optimizers["generator"].param_groups[0]["lr"] == 1e-3
    trainer.fit()
    assert trainer.step == 2


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path, monkeypatch, digits_data, quick_train):
    run = tmp_path / "r"
    genlab.train("vae", out=run, model_config=SMALL_VAE, data=digits_data, train=quick_train)
    good = latest_checkpoint(run)
    original = VAE.losses

    def nan_losses(self, batch, phase="model"):
        out = original(self, batch, phase)
        out["loss"] = out["loss"] * float("nan")
        return out

    monkeypatch.setattr(VAE, "losses", nan_losses)
    with pytest.raises(TrainingDiverged, match="became nan at step 7"):
        genlab.resume(run, steps=12)
    assert latest_checkpoint(run) == good
    assert json.loads((good / "state.json").read_text())["step"] == 6


def test_nan_in_a_new_run_leaves_a_run_that_resumes_from_step_0(tmp_path, monkeypatch, digits_data, quick_train):
    """The one rule for early stops: the run stays and --resume trains it from step 0."""
    original = VAE.losses
    monkeypatch.setattr(VAE, "losses", lambda self, batch, phase="model": {"loss": torch.tensor(float("inf"))})
    with pytest.raises(TrainingDiverged, match="no checkpoint was written yet"):
        genlab.train("vae", out=tmp_path / "r", model_config=SMALL_VAE, data=digits_data, train=quick_train)
    assert latest_checkpoint(tmp_path / "r") is None
    monkeypatch.setattr(VAE, "losses", original)
    resumed = genlab.resume(tmp_path / "r")
    straight = genlab.train("vae", out=tmp_path / "s", model_config=SMALL_VAE, data=digits_data, train=quick_train)
    assert _same(_weights(straight), _weights(resumed))


@pytest.mark.parametrize("clock", ["wall", "cpu"])
def test_time_budget_ends_the_run(tmp_path, digits_data, clock):
    train = {"epochs": 50, "batch_size": 32, "time_budget": 0.0, "budget_clock": clock, "device": "cpu"}
    genlab.train("vae", out=tmp_path / "r", model_config=SMALL_VAE, data=digits_data, train=train)
    state = json.loads((latest_checkpoint(tmp_path / "r") / "state.json").read_text())
    assert state["step"] == 1 and state["complete"]


def test_cpu_budget_counts_process_cpu_time(tmp_path, digits_data, monkeypatch):
    """The cpu clock adds process CPU time per step (here a fake clock: 1 CPU-s per call pair)."""
    import time

    ticks = iter(range(0, 10_000, 1))
    monkeypatch.setattr(time, "process_time", lambda: float(next(ticks)))
    train = {"epochs": 50, "batch_size": 32, "time_budget": 3.0, "budget_clock": "cpu", "device": "cpu"}
    genlab.train("vae", out=tmp_path / "r", model_config=SMALL_VAE, data=digits_data, train=train)
    state = json.loads((latest_checkpoint(tmp_path / "r") / "state.json").read_text())
    assert state["step"] == 3 and state["elapsed"] == 3.0


def test_checkpoints_are_atomic_and_pruned(tmp_path, digits_data, quick_train):
    run = tmp_path / "r"
    genlab.train("vae", out=run, model_config=SMALL_VAE, data=digits_data,
                 train={**quick_train, "steps": 8, "checkpoint_every": 3})
    names = sorted(p.name for p in (run / "checkpoints").iterdir())
    assert names == ["LATEST", "step-00000008"]  # no temporary folders left, older ones pruned


def test_corrupt_checkpoint_is_a_clear_error(tmp_path, digits_data, quick_train):
    run = tmp_path / "r"
    genlab.train("vae", out=run, model_config=SMALL_VAE, data=digits_data, train=quick_train)
    (latest_checkpoint(run) / "model.safetensors").write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match="corrupt"):
        genlab.resume(run, steps=10)


def test_bf16_autocast_trains(tmp_path, digits_data, quick_train):
    model = genlab.train("vae", model_config=SMALL_VAE, data=digits_data, train={**quick_train, "precision": "bf16"})
    assert all(p.dtype == torch.float32 and torch.isfinite(p).all() for p in model.parameters())


@pytest.mark.parametrize("schedule,step,expected", [
    ("constant", 50, 1.0), ("cosine", 0, 1.0), ("cosine", 50, 0.5), ("cosine", 100, 0.0),
    ("step", 49, 1.0), ("step", 50, 0.1), ("step", 75, pytest.approx(0.01)),
])
def test_lr_schedules(schedule, step, expected):
    assert lr_factor(step, 100, schedule, 0) == expected


def test_warmup_is_linear():
    assert [lr_factor(s, 100, "constant", 4) for s in range(5)] == [0.25, 0.5, 0.75, 1.0, 1.0]


def test_optimizer_settings_override_model_defaults_in_order():
    """Unset train settings keep a phase's model default; set ones override it; phase_lr wins."""
    from genlab.config import OptimizerConfig

    model_default = OptimizerConfig("rmsprop", 5e-5, (0.5, 0.9))
    assert TrainConfig().optimizer_for(model_default, "critic") == model_default
    assert TrainConfig().optimizer_for(None, "model") == OptimizerConfig("adam", 1e-3, (0.9, 0.999))
    assert TrainConfig(lr=2e-4).optimizer_for(model_default, "critic").lr == 2e-4
    assert TrainConfig(lr=2e-4).optimizer_for(model_default, "critic").name == "rmsprop"
    both = TrainConfig(lr=2e-4, optimizer="adam", phase_lr={"critic": 1e-5})
    assert both.optimizer_for(model_default, "critic") == OptimizerConfig("adam", 1e-5, (0.5, 0.9))
    assert TrainConfig(weight_decay=0.1).optimizer_for(None, "model").weight_decay == 0.1


def test_epoch_averages_after_a_resume_cover_the_whole_epoch(tmp_path, digits_data):
    """A resumed epoch logs the mean over all its rounds, before and after the resume (sums are checkpointed)."""
    train = {"steps": 30, "batch_size": 32, "log_every": 1, "device": "cpu", "seed": 2}
    genlab.train("vae", out=tmp_path / "r", model_config=SMALL_VAE, data=digits_data, train={**train, "steps": 10})
    genlab.resume(tmp_path / "r", steps=30)
    records = [json.loads(line) for line in (tmp_path / "r" / "metrics.jsonl").read_text().splitlines()]
    epoch = next(r for r in records if r["split"] == "train" and r["step"] > 10)  # the resumed epoch's record
    steps = [r["loss"] for r in records if r["split"] == "train_step" and r["step"] <= epoch["step"]]
    assert epoch["loss"] == pytest.approx(sum(steps) / len(steps), rel=1e-4)


def test_train_calls_extra_callbacks_after_the_run_s_own(tmp_path, digits_data, quick_train):
    """genlab.train(callbacks=[...]): a caller's callback sees every step and the end, after the run's
    own callbacks (the run's metrics file already holds an epoch when the caller's epoch hook runs)."""
    from genlab.training.callbacks import Callback

    run = tmp_path / "r"

    class Count(Callback):
        def __init__(self):
            self.steps, self.ended, self.metrics_seen = 0, False, False

        def on_step_end(self, trainer, logs):
            self.steps += 1

        def on_epoch_end(self, trainer, record):
            self.metrics_seen = (run / "metrics.jsonl").is_file() and bool((run / "metrics.jsonl").read_text())

        def on_end(self, trainer):
            self.ended = True

    count = Count()
    genlab.train("vae", out=run, model_config=SMALL_VAE, data=digits_data, train=quick_train, callbacks=[count])
    assert count.steps == quick_train["steps"] and count.ended and count.metrics_seen


def test_a_run_its_budget_ends_anneals_over_the_budget(digits_data):
    """schedule 'cosine' with a time budget and no reachable step count: the lr follows the budget spent
    (1 at the start, near 0 at the end), not the 10^7 steps the run never reaches."""
    from genlab.training import Callback

    assert lr_factor(10, 10 ** 7, "cosine", 0, budget_progress=0.5) == pytest.approx(0.5)
    assert lr_factor(10, 10 ** 7, "cosine", 0) == pytest.approx(1.0)
    assert lr_factor(60, 100, "cosine", 0, budget_progress=0.1) == lr_factor(60, 100, "cosine", 0)  # the further

    class Lr(Callback):
        def __init__(self):
            self.seen = []

        def on_step_end(self, trainer, logs):
            group = next(iter(trainer.optimizers.values())).param_groups[0]
            self.seen.append((trainer.budget_progress, group["lr"]))

    lr = Lr()
    genlab.train("vae", model_config=SMALL_VAE, data=digits_data, callbacks=[lr],
                 train={"steps": 10 ** 7, "batch_size": 32, "log_every": 0, "device": "cpu", "lr": 1e-3,
                        "schedule": "cosine", "time_budget": 1.0, "budget_clock": "wall"})
    assert len(lr.seen) > 20
    assert lr.seen[0][1] > 0.99e-3 and lr.seen[-1][1] < 0.05e-3  # annealed to near zero by the budget's end
    for (spent, value), (later_spent, later) in zip(lr.seen, lr.seen[1:], strict=False):
        assert later <= value + 1e-12 and later_spent >= spent
