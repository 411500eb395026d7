"""The GAN family end to end: update order, phases, sampling, CLI, resume and bf16 on tiny data."""
import json

import numpy as np
import pytest
import torch

import genlab
from genlab import registry
from genlab.cli import main
from genlab.data.base import Batch
from genlab.errors import ConfigError
from genlab.models.gan import GAN
from genlab.training.checkpoint import latest_checkpoint

TINY_CONV = {"g_widths": [8], "d_widths": [8], "noise_dim": 8}
TINY_MLP = {"architecture": "mlp", "g_hidden": [16], "d_hidden": [16], "noise_dim": 8}


def _params(module):
    return [p.detach().clone() for p in module.parameters()]


def _same(a, b):
    return all(torch.equal(x, y) for x, y in zip(a, b, strict=True))


def _records(run, split):
    return [r for r in map(json.loads, (run / "metrics.jsonl").read_text().splitlines()) if r["split"] == split]


def test_update_order_and_each_phase_moves_only_its_network(digits_data, monkeypatch):
    """n_critic = 3: d d d g per round; a discriminator update leaves G's weights alone and vice versa."""
    events, before = [], {}
    original_losses, original_after = GAN.losses, GAN.after_step

    def snapshot(self, batch, phase):  # called at the start of every update, before its optimizer step
        before["g"], before["d"] = _params(self.generator), _params(self.discriminator)
        return original_losses(self, batch, phase)

    def record(self, phase):
        original_after(self, phase)
        g_after, d_after = _params(self.generator), _params(self.discriminator)
        events.append(phase)
        if phase == "discriminator":
            assert _same(before["g"], g_after) and not _same(before["d"], d_after)
        else:
            assert _same(before["d"], d_after) and not _same(before["g"], g_after)

    monkeypatch.setattr(GAN, "losses", snapshot)
    monkeypatch.setattr(GAN, "after_step", record)
    genlab.train("dcgan", model_config={**TINY_CONV, "n_critic": 3}, data=digits_data,
                 train={"steps": 2, "batch_size": 16, "device": "cpu", "seed": 1})
    assert [e[0] for e in events] == list("dddgdddg")


@pytest.mark.parametrize("name, logged", [
    ("gan", {"discriminator": ["D(x)", "D(G(z))", "grad_norm"], "generator": ["D(G(z))", "grad_norm"]}),
    ("wgan", {"discriminator": ["wasserstein", "critic_real", "critic_fake"], "generator": ["critic_fake"]}),
    ("wgan-gp", {"discriminator": ["gradient_penalty", "critic_input_grad_norm", "wasserstein"],
                 "generator": ["critic_fake"]}),
])
def test_each_phase_logs_its_monitors(name, logged):
    model = registry.build(name, {"data_shape": [1, 8, 8], **(TINY_MLP if name == "gan" else TINY_CONV)})
    batch = Batch(torch.rand(4, 1, 8, 8))
    for phase, keys in logged.items():
        losses = model(batch, phase)
        assert set(keys) <= set(losses), sorted(losses)


def test_training_run_logs_both_phases_and_counts_updates(digits_data, quick_train, tmp_path):
    model = genlab.train("wgan-gp", out=tmp_path / "r", model_config={**TINY_CONV, "n_critic": 2}, data=digits_data,
                         train=quick_train)
    step = _records(tmp_path / "r", "train_step")[-1]
    for key in ("discriminator/loss", "discriminator/wasserstein", "discriminator/gradient_penalty", "generator/loss"):
        assert key in step, sorted(step)
    assert step["generator/grad_norm"] > 0 and step["discriminator/grad_norm"] > 0  # previous update's norms
    assert "discriminator/D(x)" not in step and "discriminator/loss" in _records(tmp_path / "r", "validation")[-1]
    assert int(model.d_updates) == 2 * int(model.g_updates) == 2 * quick_train["steps"]
    assert model.sample(3).shape == (3, 1, 8, 8)


def test_weight_clipping_keeps_the_critic_in_the_box(digits_data, quick_train):
    model = genlab.train("wgan", model_config={**TINY_CONV, "weight_clip": 0.02}, data=digits_data, train=quick_train)
    assert max(float(p.detach().abs().max()) for p in model.discriminator.parameters()) <= 0.02 + 1e-7


def test_ema_generator_is_averaged_and_used_for_sampling(digits_data, quick_train):
    model = genlab.train("dcgan", model_config={**TINY_CONV, "ema_decay": 0.9, "instance_noise": 0.1,
                                                "minibatch_std": True, "spectral_norm": True, "label_smoothing": 0.1},
                         data=digits_data, train=quick_train).eval()
    assert not _same(_params(model.ema_generator), _params(model.generator))
    torch.manual_seed(0)
    got = model.sample(4)
    torch.manual_seed(0)
    z = torch.randn(4, 8)
    assert torch.allclose(got, (model.ema_generator(z) + 1) / 2)


def test_conditional_samples_follow_labels(digits_data, quick_train):
    model = genlab.train("cgan", model_config=TINY_CONV, data=digits_data, train=quick_train).eval()
    assert model.config.num_classes == 10
    torch.manual_seed(0)
    a = model.sample(2, labels=torch.tensor([3, 3]))
    torch.manual_seed(0)
    b = model.sample(2, labels=torch.tensor([5, 5]))
    assert not torch.equal(a, b)  # same noise, other label: other images
    with pytest.raises(ConfigError, match="classes in 0..9"):
        model.sample(2, labels=torch.tensor([3, 10]))


def test_exact_resume_of_a_gan_with_stabilizers(tmp_path, digits_data):
    """6 steps straight == 3 steps, then resume to 6: EMA, update counters and noise schedule included."""
    cfg = {**TINY_CONV, "ema_decay": 0.9, "instance_noise": 0.2, "instance_noise_steps": 10, "n_critic": 2}
    train = {"steps": 6, "batch_size": 16, "deterministic": True, "device": "cpu", "seed": 5, "sample_every": 0}
    straight = genlab.train("wgan-gp", out=tmp_path / "a", model_config=cfg, data=digits_data, train=train)
    genlab.train("wgan-gp", out=tmp_path / "b", model_config=cfg, data=digits_data, train={**train, "steps": 3})
    resumed = genlab.resume(tmp_path / "b", steps=6)
    assert json.loads((latest_checkpoint(tmp_path / "b") / "state.json").read_text())["step"] == 6
    for k, v in straight.state_dict().items():
        assert torch.equal(v, resumed.state_dict()[k]), k


def test_bf16_training_step(digits_data, quick_train):
    model = genlab.train("cgan", model_config={**TINY_CONV, "loss": "hinge", "spectral_norm": True},
                         data=digits_data, train={**quick_train, "precision": "bf16"})
    assert all(torch.isfinite(p).all() for p in model.parameters())


# --- command line ---------------------------------------------------------------------------------
def test_cli_trains_cgan_and_samples_a_label(tmp_path, capsys):
    run = tmp_path / "cgan"
    code = main(["train", "cgan", "--dataset", "digits", "--out", str(run), "--steps", "3", "--batch-size", "16",
                 "--device", "cpu", "--g-widths", "8", "--d-widths", "8", "--noise-dim", "8", "--num-samples", "100",
                 "--phase-lr", "discriminator=4e-4"])
    assert code == 0
    assert main(["sample", str(run), "--label", "7", "--n", "4", "--out", str(tmp_path / "seven.png")]) == 0
    assert (tmp_path / "seven.png").is_file() and (run / "samples.png").is_file()
    capsys.readouterr()
    assert main(["sample", str(run), "--label", "10"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("genlab: error:") and "out of range" in err[0]


def _one_line_error(capsys, argv, needle):
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("genlab: error:") and needle in err[0], err


@pytest.mark.parametrize("flags, needle", [
    (["gan", "--loss", "hinge", "--weight-clip", "0.01"], "weight clipping bounds a Wasserstein critic"),
    (["wgan-gp", "--d-norm", "batch"], "batch norm mixes samples"),
    (["dcgan", "--loss", "wasserstein"], "needs a Lipschitz critic"),
    (["wgan", "--label-smoothing", "0.1"], "label smoothing"),
    (["dcgan", "--n-critic", "0"], "n_critic must be at least 1"),
    (["gan", "--loss", "hinj"], "invalid choice: 'hinj'"),
])
def test_cli_refuses_senseless_settings(flags, needle, tmp_path, capsys):
    _one_line_error(capsys, ["train", *flags, "--dataset", "digits", "--out", str(tmp_path / "r"), "--steps", "1"], needle)
    assert not (tmp_path / "r").exists()


def test_cli_refuses_labels_for_unconditional_and_cgan_without_labels(tmp_path, capsys, digits_data, quick_train):
    genlab.train("gan", out=tmp_path / "g", model_config=TINY_MLP, data=digits_data, train=quick_train)
    _one_line_error(capsys, ["sample", str(tmp_path / "g"), "--label", "3"], "not conditional")
    np.savez(tmp_path / "nolabels.npz", x=np.random.default_rng(0).integers(0, 255, (64, 1, 8, 8), dtype=np.uint8))
    _one_line_error(capsys, ["train", "cgan", "--dataset", f"npz:{tmp_path / 'nolabels.npz'}", "--out",
                             str(tmp_path / "c"), "--steps", "1"], "needs class labels")


def test_phase_lr_values_from_the_command_line_become_numbers():
    from genlab.config import TrainConfig, from_dict

    assert from_dict(TrainConfig, {"phase_lr": {"discriminator": "4e-4"}}).phase_lr == {"discriminator": 4e-4}
    with pytest.raises(ConfigError, match="expected a number"):
        from_dict(TrainConfig, {"phase_lr": {"discriminator": "fast"}})


def test_modes_command_warns_on_collapse(tmp_path, capsys, digits_data, quick_train, monkeypatch):
    """`genlab modes RUN` classifies samples with the evaluation classifier (here a stand-in) and warns."""
    import genlab.runs.extractors

    class AllThrees:  # a classifier that sees every sample as a 3: total collapse
        num_classes = 10

        def __call__(self, images):
            return torch.zeros(len(images), 4), torch.nn.functional.one_hot(torch.full((len(images),), 3), 10).float()

    monkeypatch.setattr(genlab.runs.extractors, "build_extractor", lambda data: AllThrees())
    genlab.train("dcgan", out=tmp_path / "d", model_config=TINY_CONV, data=digits_data, train=quick_train)
    capsys.readouterr()
    assert main(["modes", str(tmp_path / "d"), "--n", "20"]) == 0
    out, err = capsys.readouterr()
    assert "class   3  100.0%" in out
    assert err.strip() == ("genlab: warning: samples cover 1 of 10 classes (most frequent 3: 100%): "
                           "the generator is collapsing onto few modes")


@pytest.mark.parametrize("size, widths", [(32, [16, 32, 64]), (64, [8, 16, 32, 64])])
def test_dcgan_shapes_for_rgb_image_sets(size, widths):
    """32 px: 4 -> 8 -> 16 -> 32; 64 px: 4 -> ... -> 64 (one level per width, as in DCGAN)."""
    model = registry.build("dcgan", {"data_shape": [3, size, size], "g_widths": widths, "d_widths": widths})
    assert model.generator.net.start_shape == (widths[-1], 4, 4)
    assert model.discriminator.body.out_features == widths[-1] * 16
    for phase in ("discriminator", "generator"):
        assert torch.isfinite(model(Batch(torch.rand(4, 3, size, size)), phase)["loss"])
    assert model.eval().sample(2).shape == (2, 3, size, size)
