"""Minibatch discrimination (Salimans et al. 2016) against a hand computation, and as a GAN stabilizer."""
import json
import math

import pytest
import torch

from genlab.cli import main
from genlab.errors import ConfigError
from genlab.models.gan import GAN, GANConfig, WGANGPConfig
from genlab.nn.gan_blocks import MinibatchDiscrimination


def test_minibatch_discrimination_by_hand():
    # 3 rows of A = 2 features; B = 2 kernels of C = 2: kernel 0 projects by I, kernel 1 by 2I
    layer = MinibatchDiscrimination(2, kernels=2, kernel_dim=2)
    with torch.no_grad():
        layer.T.copy_(torch.tensor([[1.0, 0.0, 2.0, 0.0], [0.0, 1.0, 0.0, 2.0]]))
    x = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    out = layer(x)
    # kernel 0: L1 distances d(0,1) = 2, d(0,2) = 1, d(1,2) = 1; kernel 1: twice those
    e = math.exp
    o0 = [1 + e(-2) + e(-1), 1 + e(-2) + e(-1), 1 + e(-1) + e(-1)]
    o1 = [1 + e(-4) + e(-2), 1 + e(-4) + e(-2), 1 + e(-2) + e(-2)]
    expected = torch.tensor([[1.0, 0.0, o0[0], o1[0]], [0.0, 1.0, o0[1], o1[1]], [1.0, 1.0, o0[2], o1[2]]])
    assert out.shape == (3, 4)
    assert torch.allclose(out, expected, atol=1e-6)


def test_a_collapsed_batch_scores_the_batch_size_and_trains_T():
    torch.manual_seed(0)
    layer = MinibatchDiscrimination(5, kernels=3, kernel_dim=4)
    same = torch.randn(1, 5).expand(6, 5)
    assert torch.allclose(layer(same)[:, 5:], torch.full((6, 3), 6.0))  # every pair at distance 0
    varied = layer(torch.randn(6, 5) * 10)[:, 5:]
    assert float(varied.detach().max()) < 6.0
    varied.sum().backward()
    assert layer.T.grad is not None and float(layer.T.grad.abs().sum()) > 0


@pytest.mark.parametrize("architecture", ["mlp", "dcgan"])
def test_every_gan_discriminator_takes_it(architecture):
    cfg = GANConfig(data_shape=(1, 8, 8), architecture=architecture, g_hidden=(16,), d_hidden=(16,),
                    g_widths=(8,), d_widths=(8,), noise_dim=8, minibatch_discrimination=(5, 3))
    model = GAN(cfg)
    plain = GAN(GANConfig(**{**cfg.__dict__, "minibatch_discrimination": None}))
    assert model.discriminator.body.out_features == plain.discriminator.body.out_features + 5
    assert any(isinstance(m, MinibatchDiscrimination) for m in model.discriminator.modules())
    assert model.discriminator(torch.rand(4, 1, 8, 8)).shape == (4,)


def test_refused_with_the_gradient_penalty_and_out_of_range():
    with pytest.raises(ConfigError, match="minibatch discrimination scores each sample against the others"):
        WGANGPConfig(minibatch_discrimination=(8, 4))
    with pytest.raises(ValueError, match="minibatch_discrimination must be values between"):
        GANConfig(minibatch_discrimination=(0, 4))


def test_the_flag_trains_and_is_refused_in_one_line(tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["train", "gan", "--dataset", "digits", "--steps", "2", "--batch-size", "16", "--g-hidden", "16",
            "--d-hidden", "16", "--noise-dim", "4", "--minibatch-discrimination", "4,3", "--num-samples", "4",
            "--mode-check", "off", "--log-every", "0", "--out", str(out)]
    assert main(argv) == 0, capsys.readouterr().err
    assert json.loads((out / "config.json").read_text())["model"]["config"]["minibatch_discrimination"] == [4, 3]
    capsys.readouterr()
    assert main(["train", "wgan-gp", "--dataset", "digits", "--steps", "2", "--minibatch-discrimination", "4,3",
                 "--out", str(tmp_path / "bad")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("genlab: error:") and "minibatch discrimination" in err[0]
