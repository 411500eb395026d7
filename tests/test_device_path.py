"""The GPU path built and tested on the CPU (issue 12, part 2): device-resident data with the same draws
as the copy-per-batch path, no host sync per step, the deferred finiteness check, and --device auto.

Tests force the CPU paths; the CUDA-only branches (the uint8 -> float look-up table, data kept on the
device) run here on the CPU device and are compared bit-exactly with the path they replace."""
from __future__ import annotations

import sys

import pytest
import torch

from genlab.config import DataConfig, TrainConfig
from genlab.data import base as data_base
from genlab.data import load_splits
from genlab.data.base import BatchIterator, _generator, unit_float
from genlab.errors import TrainingDiverged
from genlab.training import Callback, Trainer, build_model, model_config
from genlab.training.checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint
from genlab.training.trainer import StepLogs

SMALL_AE = {"mlp_hidden": [16], "latent_dim": 2}


@pytest.fixture(scope="module")
def splits():
    return load_splits(DataConfig("digits", limit=128))  # 128 train items: 4 batches of 32 per epoch


def _ae(splits, seed=0):
    return build_model("ae", model_config("ae", SMALL_AE, splits), seed)


def _old_batches(data, batch_size, seed, mode, epoch, rank=0, world=1):
    """The batch path before issue 12: index and convert on the CPU, torch.bernoulli with the batch's generator."""
    n = len(data)
    perm = torch.randperm(n, generator=_generator(seed, epoch))
    perm = perm[: (n // world) * world][rank::world]
    for b in range(len(perm) // batch_size):
        idx = perm[b * batch_size:(b + 1) * batch_size]
        x = data.images(idx)
        gen = _generator(seed, epoch, b, rank, 7)
        if mode == "dynamic":
            x = torch.bernoulli(x, generator=gen)
        elif mode == "static":
            x = (x > 0.5).float()
        yield x, None if data.y is None else data.y[idx]


@pytest.mark.parametrize("mode", ["none", "dynamic", "static"])
@pytest.mark.parametrize("resident", [True, False])
def test_device_resident_batches_equal_the_old_path_bit_exactly(splits, mode, resident, monkeypatch):
    monkeypatch.setattr(data_base, "fits_on", lambda data, device, share=0.25: resident)
    it = BatchIterator(splits.train, 32, seed=3, binarization=mode, rank=1, world_size=2)
    assert it.resident is resident and it.x.dtype == torch.uint8  # kept as stored: uint8
    for epoch in (0, 1):
        new = list(it.epoch(epoch))
        old = list(_old_batches(splits.train, 32, 3, mode, epoch, rank=1, world=2))
        assert len(new) == len(old) == 2
        for (x_new, y_new, _), (x_old, y_old) in zip(new, old, strict=True):  # (x, y, factors)
            assert x_new.dtype == torch.float32 and torch.equal(x_new, x_old) and torch.equal(y_new, y_old)
    resumed = list(it.epoch(1, start=1))  # a resume inside an epoch sees the same batch
    assert torch.equal(resumed[0].x, new[1].x)


def test_a_split_is_kept_on_a_gpu_when_it_takes_at_most_a_quarter_of_the_free_memory(splits, monkeypatch):
    size = splits.train.x.numel() + splits.train.y.numel() * 8  # uint8 images, int64 labels
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (4 * size, 8 * size))
    assert data_base.fits_on(splits.train, torch.device("cuda", 0))
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (4 * size - 1, 8 * size))
    assert not data_base.fits_on(splits.train, torch.device("cuda", 0))
    assert data_base.fits_on(splits.train, torch.device("cpu")) and not data_base.fits_on(splits.train,
                                                                                           torch.device("mps"))


def test_the_device_look_up_table_gives_the_cpu_division_bits():
    x = torch.arange(256, dtype=torch.uint8).repeat(3).reshape(3, 1, 16, 16)
    table = unit_float(x, table=True)  # the branch CUDA takes, run on the CPU
    assert table.dtype == torch.float32 and torch.equal(table, x.float().div_(255.0))
    assert torch.equal(unit_float(x), table)
    floats = torch.rand(2, 1, 4, 4)
    assert unit_float(floats) is floats


def test_binarization_noise_matches_torch_bernoulli_and_is_drawn_on_the_cpu():
    x = torch.rand(64, 1, 8, 8)
    gen_a, gen_b = torch.Generator().manual_seed(9), torch.Generator().manual_seed(9)
    assert torch.equal(data_base.binarize(x, "dynamic", gen_a), torch.bernoulli(x, generator=gen_b))
    assert torch.equal(gen_a.get_state(), gen_b.get_state())  # the same number of draws: later batches agree


def test_a_run_resumed_from_a_checkpoint_ends_with_the_weights_of_a_straight_run(splits, tmp_path):
    cfg = dict(batch_size=32, device="cpu", seed=4, log_every=0)
    straight = Trainer(_ae(splits), splits, TrainConfig(steps=6, **cfg), binarize="dynamic")
    straight.fit()
    first = Trainer(_ae(splits), splits, TrainConfig(steps=3, **cfg), binarize="dynamic")
    first.fit()
    save_checkpoint(tmp_path, first.state_dict())
    second = Trainer(_ae(splits, seed=1), splits, TrainConfig(steps=6, **cfg), binarize="dynamic")
    load_checkpoint(latest_checkpoint(tmp_path), second)
    second.fit()
    for a, b in zip(straight.model.state_dict().values(), second.model.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    assert second.epoch_sums == straight.epoch_sums  # the epoch's running sums too (6 steps: inside epoch 2)


# --- no host sync per step -------------------------------------------------------------------------------
class SyncCounter:
    """Counts host reads of tensors (item, tolist, float, bool) made from the trainer's own code."""

    METHODS = ("item", "tolist", "__float__", "__bool__", "__int__")

    def __init__(self, monkeypatch):
        self.count = 0
        for name in self.METHODS:
            original = getattr(torch.Tensor, name)
            monkeypatch.setattr(torch.Tensor, name, self._wrap(original))

    def _wrap(self, original):
        def counted(tensor, *args):
            if sys._getframe(1).f_code.co_filename.endswith("training/trainer.py"):
                self.count += 1
            return original(tensor, *args)
        return counted


class Watch(Callback):
    def __init__(self):
        self.unread, self.pending = [], []

    def on_step_end(self, trainer, logs):
        self.unread.append(isinstance(logs, StepLogs) and logs._values is None)
        self.pending.append(len(trainer._unchecked))


def test_the_hot_loop_reads_nothing_back_from_the_device(splits, monkeypatch):
    """log_every 0 and no checkpoints inside the epoch: the syncs of a 2-step and a 4-step run are the
    same few at the epoch end, none per step; losses reach the callbacks unread, on the device."""
    counts = {}
    for steps in (2, 4):
        counter = SyncCounter(monkeypatch)
        watch = Watch()
        Trainer(_ae(splits), splits, TrainConfig(steps=steps, batch_size=32, device="cpu", log_every=0),
                callbacks=[watch]).fit()
        counts[steps] = counter.count
        monkeypatch.undo()
        assert all(watch.unread) and watch.pending == list(range(1, steps + 1))  # checked only at the end
    assert counts[2] == counts[4] > 0


def test_a_long_unchecked_list_is_checked_without_a_log_point(splits, monkeypatch):
    from genlab.training import trainer as trainer_module

    monkeypatch.setattr(trainer_module, "UNCHECKED_LIMIT", 2)
    watch = Watch()
    Trainer(_ae(splits), splits, TrainConfig(steps=4, batch_size=32, device="cpu", log_every=0),
            callbacks=[watch]).fit()
    assert watch.pending == [1, 0, 1, 0]


def test_logs_are_read_once_at_a_log_point(splits):
    class Reader(Callback):
        values = []

        def on_step_end(self, trainer, logs):
            if trainer.step % 2 == 0:
                self.values.append(dict(logs))

    trainer = Trainer(_ae(splits), splits, TrainConfig(steps=3, batch_size=32, device="cpu", log_every=2),
                      callbacks=[Reader()])
    trainer.fit()  # 3 of the epoch's 4 steps: its running sums are kept
    assert len(Reader.values) == 1 and all(isinstance(v, float) for v in Reader.values[0].values())
    sums = trainer.epoch_sums
    assert set(sums) == set(Reader.values[0]) and all(isinstance(v, float) for v in sums.values())


# --- the deferred finiteness check ------------------------------------------------------------------------
def test_a_nan_at_step_k_stops_at_the_next_check_and_keeps_the_last_good_checkpoint(splits, tmp_path, monkeypatch):
    """Checkpoints at epoch ends (every 4 steps), NaN at step 6: the step-4 checkpoint is written, the one due
    at step 8 is not, and the message names step 6 (the check runs before the checkpoint, not at the step)."""
    from genlab.models.autoencoder import AutoEncoder as Autoencoder

    original = Autoencoder.losses
    calls = {"n": 0}

    def losses(self, batch, phase="model"):
        out = original(self, batch, phase)
        if self.training:
            calls["n"] += 1
            if calls["n"] == 6:
                out["loss"] = out["loss"] * float("nan")
        return out

    monkeypatch.setattr(Autoencoder, "losses", losses)

    class Saver(Callback):
        steps = []

        def on_step_end(self, trainer, logs):
            self.steps.append(trainer.step)

        def on_checkpoint(self, trainer):
            save_checkpoint(tmp_path, trainer.state_dict())

    trainer = Trainer(_ae(splits), splits, TrainConfig(steps=12, batch_size=32, device="cpu", log_every=0),
                      callbacks=[Saver()])
    with pytest.raises(TrainingDiverged, match=r"loss of phase 'model' became nan at step 6; the last good "
                                               r"checkpoint \(step 4\) is kept"):
        trainer.fit()
    assert latest_checkpoint(tmp_path).name == "step-00000004"  # epoch end at 4; the one due at 8 never written
    assert Saver.steps == [1, 2, 3, 4, 5, 6, 7, 8]  # the run went on until the check: no sync at step 6
    assert trainer.stop_reason == "diverged"


def test_a_failure_caused_by_nan_weights_is_reported_as_the_divergence(splits, monkeypatch):
    from genlab.models.autoencoder import AutoEncoder as Autoencoder

    original = Autoencoder.losses
    calls = {"n": 0}

    def losses(self, batch, phase="model"):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("probability tensor contains nan")  # what code fed NaN weights may raise
        out = original(self, batch, phase)
        if calls["n"] == 2:
            out["loss"] = out["loss"] * float("inf")
        return out

    monkeypatch.setattr(Autoencoder, "losses", losses)
    trainer = Trainer(_ae(splits), splits, TrainConfig(steps=4, batch_size=32, device="cpu", log_every=0))
    with pytest.raises(TrainingDiverged, match="became inf at step 2"):
        trainer.fit()


# --- --device auto on evaluate, sample and the extractor builds ------------------------------------------
@pytest.fixture(scope="module")
def vae_run(tmp_path_factory):
    from genlab.cli import main

    out = tmp_path_factory.mktemp("device") / "vae"
    assert main(["train", "vae", "--dataset", "digits", "--steps", "2", "--batch-size", "32", "--latent-dim", "2",
                 "--conv-widths", "4", "--conv-hidden", "8", "--num-samples", "4", "--device", "cpu",
                 "--out", str(out)]) == 0
    return out


@pytest.mark.parametrize("command", [["sample", "--n", "3"], ["reconstruct"], ["embed", "--n", "4"]])
def test_sample_commands_default_to_auto_and_it_picks_the_cpu_here(vae_run, tmp_path, command, monkeypatch, capsys):
    from genlab.cli import apps, generate, main

    seen = []
    for module in (generate, apps):
        original = module.load
        monkeypatch.setattr(module, "load", lambda run, device, original=original: seen.append(device)
                            or original(run, device))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    out = tmp_path / ("x.npz" if command[0] == "embed" else "x.png")
    assert main([command[0], str(vae_run), *command[1:], "--out", str(out)]) == 0, capsys.readouterr().err
    assert seen == [torch.device("cpu")] and out.is_file()
    assert main([command[0], str(vae_run), *command[1:], "--device", "cpu", "--out", str(out)]) == 0  # still works
    assert seen[-1] == torch.device("cpu")


def test_auto_would_pick_a_gpu_when_one_is_there(monkeypatch):
    from genlab.training.distributed import resolve_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert resolve_device("auto") == torch.device("cuda", 0)
    assert resolve_device("auto", local_rank=3) == torch.device("cuda", 1)


def test_evaluate_takes_device_auto_for_the_model_and_the_extractor_build(vae_run, monkeypatch, capsys):
    from genlab.cli import main
    from genlab.runs import evaluate, extractors

    loaded, built = [], []
    original_load = evaluate.load
    monkeypatch.setattr(evaluate, "load", lambda run, device: loaded.append(device) or original_load(run, device))

    def no_build(data, **options):
        built.append(options.get("device"))
        raise TrainingDiverged("stop here")  # any GenlabError: one line, exit 2, nothing trained

    monkeypatch.setattr(extractors, "build_extractor", no_build)
    assert main(["evaluate", str(vae_run), "--metrics", "fid", "--n", "8"]) == 2
    assert "stop here" in capsys.readouterr().err
    assert loaded == [torch.device("cpu")] and built == [None]  # the CPU: the build's plain call
    with pytest.raises(TrainingDiverged):  # a GPU: the build is asked to train there
        evaluate.evaluate_model(original_load(vae_run, "cpu"), "digits", "fid", 8, device="cuda:0")
    assert built[-1] == "cuda:0"
    # the model's NLL without an extractor, on the device auto picked
    assert main(["evaluate", str(vae_run), "--metrics", "nll", "--nll-n", "4", "--nll-k", "3", "--device", "cpu",
                 "--out", str(vae_run / "m.json")]) == 0
    assert "nll" in capsys.readouterr().out.lower()


def test_a_gpu_built_extractor_is_its_own_cache_entry(monkeypatch, tmp_path):
    from genlab.metrics.features import INFO_FILE, ExtractorRecipe, recipe_key
    from genlab.runs import extractors

    assert "device" not in recipe_key(ExtractorRecipe())  # CPU builds keep their cache keys
    assert recipe_key(ExtractorRecipe(device="cuda"))["device"] == "cuda"
    monkeypatch.setenv("GENLAB_CACHE", str(tmp_path))
    monkeypatch.setattr(extractors, "resolve_device", lambda name: torch.device("cuda" if name == "auto" else name))
    built = []
    monkeypatch.setattr(extractors, "_build", lambda entry, cache, verbose: built.append(entry) or entry.name)
    assert extractors.build_extractor("digits", ExtractorRecipe(steps=1), verbose=False) == "lenet5-digits"
    assert extractors.build_extractor("digits", ExtractorRecipe(steps=1), verbose=False, device="cpu")
    gpu, cpu = built
    assert gpu.recipe.device == "cuda" and cpu.recipe.device == "cpu" and gpu.directory != cpu.directory
    cpu.directory.mkdir(parents=True)
    (cpu.directory / INFO_FILE).write_text("{}")  # a cached CPU build is looked at first, even on a GPU
    seen = []
    monkeypatch.setattr(extractors, "load_cached", lambda directory, name: seen.append(directory) or "cached")
    assert extractors.build_extractor("digits", ExtractorRecipe(steps=1), verbose=False) == "cached"
    assert seen == [cpu.directory]


# --- --channels-last ------------------------------------------------------------------------------------------
def test_channels_last_trains_and_resumes_exactly(tmp_path):
    from genlab.cli import main
    from genlab.io import load_state_dict

    flags = ["--dataset", "digits", "--batch-size", "16", "--num-samples", "4", "--device", "cpu", "--seed", "2",
             "--mode-check", "off", "--g-widths", "8", "--d-widths", "8", "--noise-dim", "8", "--channels-last",
             "--log-every", "0"]
    straight, resumed = tmp_path / "s", tmp_path / "r"
    assert main(["train", "dcgan", *flags, "--steps", "4", "--out", str(straight)]) == 0
    assert main(["train", "dcgan", *flags, "--steps", "2", "--out", str(resumed)]) == 0
    assert main(["train", "--resume", str(resumed), "--steps", "4"]) == 0
    a, b = load_state_dict(straight / "model.safetensors"), load_state_dict(resumed / "model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_channels_last_puts_weights_and_batches_in_nhwc():
    from genlab.data.base import ArrayDataset, Splits

    colour = ArrayDataset(torch.randint(0, 256, (48, 3, 8, 8), dtype=torch.uint8), name="colour")
    splits = Splits(colour, colour.subset(torch.arange(8)), colour.subset(torch.arange(8)))
    model = build_model("dcgan", model_config("dcgan", {"g_widths": [8], "d_widths": [8], "noise_dim": 8}, splits), 0)
    seen = []
    original = type(model).losses

    def losses(self, batch, phase="discriminator"):
        seen.append(batch.x.stride(1) == 1 and not batch.x.is_contiguous())  # NHWC: channels adjacent
        return original(self, batch, phase)

    type(model).losses = losses
    try:
        trainer = Trainer(model, splits, TrainConfig(steps=1, batch_size=16, device="cpu", channels_last=True,
                                                     log_every=0, eval_batches=0))
        trainer.fit()
    finally:
        type(model).losses = original
    convs = [p for p in model.parameters() if p.dim() == 4]
    assert convs and all(p.is_contiguous(memory_format=torch.channels_last) for p in convs)
    assert seen and all(seen)
