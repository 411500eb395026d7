"""The U-Net and the ddpm / cddpm models: shapes, a training step, EMA, sampling, the CLI."""
import math

import pytest
import torch

from genlab import registry
from genlab.cli import main
from genlab.models.base import Batch, GenerativeModel
from genlab.models.diffusion import DDPMConfig
from genlab.nn.unet import UNet, timestep_embedding

TINY = {"base_width": 8, "width_mults": [1, 2], "norm_groups": 4, "timesteps": 50, "sample_steps": 5}


def test_timestep_embedding_by_hand():
    emb = timestep_embedding(torch.tensor([0, 1]), 4)  # half = 2, frequencies 1 and 10000^(-1/2)
    assert torch.allclose(emb[0], torch.tensor([0.0, 0.0, 1.0, 1.0]))
    want = torch.tensor([math.sin(1), math.sin(0.01), math.cos(1), math.cos(0.01)])
    assert torch.allclose(emb[1], want, atol=1e-6)
    assert timestep_embedding(torch.tensor([3]), 5).shape == (1, 5)


@pytest.mark.parametrize("size", [28, 32, 7])
def test_unet_shapes_attention_and_labels(size):
    net = UNet(1, (size, size), base_width=8, width_mults=(1, 2, 2), blocks_per_level=2, attention_size=8,
               attention_heads=2, norm_groups=4, num_classes=3)
    x = torch.randn(2, 1, size, size)
    out = net(x, torch.tensor([0, 999]), torch.tensor([1, 3]))  # label 3 = "no label"
    assert out.shape == x.shape
    n_attn = sum(type(m).__name__ == "SelfAttention" for m in net.modules())
    levels = [size, (size + 1) // 2, ((size + 1) // 2 + 1) // 2]
    # per level: 2 down + 3 up blocks where the map is <= 8 pixels, plus the middle one
    assert n_attn == 5 * sum(s <= 8 for s in levels) + 1
    assert out.abs().max() == 0  # the zero-initialized head: the untrained net predicts 0


def test_training_updates_weights_and_ema(digits_data, quick_train):
    import genlab

    model = genlab.train("ddpm", data=digits_data, model_config={**TINY, "ema_decay": 0.9},
                         train={**quick_train, "steps": 3})
    assert int(model.updates) == 3
    trained = dict(model.net.named_parameters())
    # the EMA moved (decay min(0.9, (1 + t) / (10 + t))) but is not the trained weights
    head = "head.2.weight"
    assert trained[head].abs().sum() > 0 and dict(model.ema.named_parameters())[head].abs().sum() > 0
    assert not torch.equal(trained[head], dict(model.ema.named_parameters())[head])


def test_ema_update_formula():
    model = registry.build("ddpm", {**TINY, "data_shape": [1, 8, 8], "ema_decay": 0.5})
    with torch.no_grad():
        for p in model.net.parameters():
            p.fill_(1.0)
        for p in model.ema.parameters():
            p.fill_(0.0)
    # past the warm-up: decay = min(0.5, 101 / 110) = 0.5 (set as a checkpoint would: through the state dict)
    model.load_state_dict({**model.state_dict(), "updates": torch.tensor(100)})
    model.after_step("model")
    assert all(torch.allclose(p, torch.full_like(p, 0.5)) for p in model.ema.parameters())
    assert int(model.updates) == 101


def test_loss_is_the_simple_loss_on_the_target():
    """With a network that outputs 0, L_simple is the mean square of the target (eps: E = 1)."""
    model = registry.build("ddpm", {**TINY, "data_shape": [1, 8, 8]})
    x = torch.rand(512, 1, 8, 8)
    torch.manual_seed(0)
    loss = model.losses(Batch(x, None))["loss"].detach()
    torch.manual_seed(0)
    torch.randint(0, 50, (512,))
    assert float(loss) == pytest.approx(float(torch.randn_like(x).pow(2).mean()), rel=1e-6)


@pytest.mark.parametrize("options", [{}, {"sampler": "ddpm"}, {"sampler": "ddim", "steps": 3, "eta": 1.0}])
def test_sampling_shapes_range_and_save_load(options, tmp_path):
    model = registry.build("ddpm", {**TINY, "data_shape": [3, 12, 12], "prediction": "v"}).eval()
    with torch.no_grad():  # an untrained net predicts 0; give it something to say
        model.ema.head[-1].bias.fill_(0.3)
    torch.manual_seed(0)
    images = model.sample(3, **options)
    assert images.shape == (3, 3, 12, 12) and images.min() >= 0 and images.max() <= 1
    model.save(tmp_path)
    loaded = GenerativeModel.load(tmp_path).eval()
    torch.manual_seed(0)
    assert torch.equal(loaded.sample(3, **options), images)


def test_conditional_model_guidance_and_trajectory():
    model = registry.build("cddpm", {**TINY, "data_shape": [1, 8, 8], "num_classes": 3}).eval()
    assert model.requires_labels
    losses = model.losses(Batch(torch.rand(4, 1, 8, 8), torch.tensor([0, 1, 2, 0])))
    assert torch.isfinite(losses["loss"])
    assert model.sample(4, labels=torch.tensor([0, 1, 2, 2]), guidance=2.0).shape == (4, 1, 8, 8)
    strip = model.denoising_trajectory(frames=4, label=1)
    assert strip.shape == (8, 1, 8, 8) and strip.min() >= 0 and strip.max() <= 1


def test_config_is_checked():
    with pytest.raises(ValueError, match="sample_steps"):
        DDPMConfig(timesteps=10, sample_steps=20)
    with pytest.raises(ValueError, match="beta_start"):
        DDPMConfig(beta_start=0.1, beta_end=0.01)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("ddpm") / "run"
    code = main(["train", "ddpm", "--dataset", "digits", "--steps", "2", "--batch-size", "16", "--device", "cpu",
                 "--num-samples", "4", "--base-width", "8", "--width-mults", "1", "2", "--norm-groups", "4",
                 "--timesteps", "20", "--sample-steps", "4", "--out", str(out)])
    assert code == 0
    return out


def test_cli_sample_with_samplers_and_trajectory(run_dir, tmp_path):
    assert main(["sample", str(run_dir), "--n", "4", "--sampler", "ddim", "--steps", "5", "--eta", "0",
                 "--out", str(tmp_path / "a.png"), "--trajectory", str(tmp_path / "t.png"), "--frames", "3"]) == 0
    assert (tmp_path / "a.png").is_file() and (tmp_path / "t.png").is_file()
    assert main(["sample", str(run_dir), "--n", "2", "--sampler", "ddpm", "--out", str(tmp_path / "b.npz")]) == 0


@pytest.mark.parametrize("flags, message", [
    (["--steps", "0"], "between 1 and T = 20"),
    (["--sampler", "ddpm", "--steps", "5"], "runs all 20 steps"),
    (["--sampler", "ddpm", "--eta", "1"], "eta applies to the ddim sampler only"),
    (["--sampler", "plms"], "unknown sampler 'plms'"),
    (["--guidance", "1"], "guidance needs a class-conditional model"),
    (["--eta", "-1"], "eta must be non-negative"),
])
def test_cli_bad_sampler_options_are_one_line(run_dir, tmp_path, capsys, flags, message):
    assert main(["sample", str(run_dir), "--n", "2", "--out", str(tmp_path / "x.png"), *flags]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("genlab: error:") and message in err[0]


def test_cli_sampler_options_on_a_model_without_them(tmp_path, capsys):
    registry.build("vae", {"data_shape": [1, 8, 8], "latent_dim": 2}).save(tmp_path)
    assert main(["sample", str(tmp_path), "--n", "2", "--steps", "5", "--out", str(tmp_path / "x.png")]) == 2
    assert "does not take --steps" in capsys.readouterr().err
    assert main(["sample", str(tmp_path), "--n", "2", "--trajectory", str(tmp_path / "t.png"),
                 "--out", str(tmp_path / "y.png")]) == 2
    assert "has no denoising trajectory" in capsys.readouterr().err
