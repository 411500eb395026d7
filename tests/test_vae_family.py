"""CVAE and IWAE: what differs from the VAE, checked by values and gradients."""
import math

import numpy as np
import pytest
import torch

import genlab
from genlab.cli import main
from genlab.models.base import Batch
from genlab.models.vae import CVAE, IWAE, VAE, CVAEConfig, IWAEConfig, VAEConfig

SMALL = dict(data_shape=(1, 8, 8), latent_dim=3, conv_widths=(8,), conv_hidden=16, mlp_hidden=(16,))


@pytest.mark.parametrize("arch", ["conv", "mlp"])
def test_cvae_labels_reach_encoder_and_decoder(arch):
    torch.manual_seed(0)
    model = CVAE(CVAEConfig(**SMALL, architecture=arch, num_classes=4))
    x = torch.rand(5, 1, 8, 8).round()
    y = torch.tensor([0, 1, 2, 3, 0])
    z = torch.randn(5, 3)
    # the decoder's output depends on the label, the encoder's code too
    assert not torch.allclose(model.decode(z, y), model.decode(z, (y + 1) % 4))
    assert not torch.allclose(model.encode(x, y), model.encode(x, (y + 1) % 4))
    model.losses(Batch(x, y))["loss"].backward()
    assert all(p.grad is not None for p in model.parameters())
    # default samples cycle through the classes; a grid has one row per class
    images, per_row = model.sample_grid(8)
    assert per_row == 2 and images.shape == (8, 1, 8, 8)


def test_iwae_bound_with_one_sample_is_the_elbo_and_tightens_with_k():
    torch.manual_seed(0)
    vae = VAE(VAEConfig(**SMALL, architecture="mlp"))
    x = torch.rand(32, 1, 8, 8).round()
    iwae_1 = IWAE(IWAEConfig(**SMALL, architecture="mlp", importance_samples=1))
    iwae_50 = IWAE(IWAEConfig(**SMALL, architecture="mlp", importance_samples=50))
    iwae_1.load_state_dict(vae.state_dict())
    iwae_50.load_state_dict(vae.state_dict())
    torch.manual_seed(1)
    nelbo = torch.stack([vae.losses(Batch(x))["nelbo"] for _ in range(300)]).mean()
    torch.manual_seed(1)
    bound_1 = torch.stack([iwae_1.losses(Batch(x))["loss"] for _ in range(300)]).mean()
    bound_50 = torch.stack([iwae_50.losses(Batch(x))["loss"] for _ in range(20)]).mean()
    assert bound_1.item() == pytest.approx(nelbo.item(), rel=0.01)
    assert bound_50 < bound_1 - 0.1  # -L_50 <= -L_1: a tighter bound on -log p(x)


def test_iwae_loss_reaches_encoder_and_decoder():
    torch.manual_seed(0)
    model = IWAE(IWAEConfig(**SMALL, importance_samples=4))
    model.losses(Batch(torch.rand(6, 1, 8, 8).round()))["loss"].backward()
    for part in (model.encoder, model.decoder):
        assert sum(p.grad.abs().sum() for p in part.parameters()) > 0


def test_iwae_log_weights_by_hand():
    """log w = log p(x|z) + log N(z; 0, I) - log N(z; mu, sigma^2), computed independently."""
    torch.manual_seed(0)
    model = VAE(VAEConfig(**SMALL, architecture="mlp"))
    x = torch.rand(2, 1, 8, 8).round()
    mu, logvar = model.encode_distribution(x)
    torch.manual_seed(5)
    log_w = model.log_weights(x, 3)
    torch.manual_seed(5)
    eps = torch.randn(3, *mu.shape)
    z = mu + (0.5 * logvar).exp() * eps
    for i in range(3):
        logits = model.decoder(z[i])
        log_px = torch.distributions.Bernoulli(logits=logits).log_prob(x).flatten(1).sum(1)
        log_pz = torch.distributions.Normal(0.0, 1.0).log_prob(z[i]).sum(1)
        log_q = torch.distributions.Normal(mu, (0.5 * logvar).exp()).log_prob(z[i]).sum(1)
        torch.testing.assert_close(log_w[i], log_px + log_pz - log_q, rtol=1e-4, atol=1e-4)


def test_cvae_cli_sample_label_and_grid(tmp_path, capsys):
    out = tmp_path / "cvae"
    assert main(["train", "cvae", "--dataset", "digits", "--out", str(out), "--steps", "3", "--batch-size", "32",
                 "--latent-dim", "3", "--conv-widths", "8", "--conv-hidden", "16", "--num-samples", "20"]) == 0
    assert main(["sample", str(out), "--n", "6", "--label", "7", "--out", str(tmp_path / "s.npz")]) == 0
    saved = np.load(tmp_path / "s.npz")
    assert saved["x"].shape == (6, 8, 8, 1) and (saved["y"] == 7).all()
    assert main(["sample", str(out), "--n", "20", "--out", str(tmp_path / "grid.png")]) == 0
    assert main(["interpolate", str(out), "--out", str(tmp_path / "i.png")]) == 0
    assert main(["traverse", str(out), "--dims", "0", "--out", str(tmp_path / "t.png")]) == 0
    assert main(["reconstruct", str(out), "--n", "4", "--out", str(tmp_path / "r.png")]) == 0
    capsys.readouterr()
    assert main(["sample", str(out), "--label", "10"]) == 2
    assert "out of range" in capsys.readouterr().err


def test_conditional_model_refuses_unlabelled_data(tmp_path):
    np.savez(tmp_path / "x.npz", x=np.random.randint(0, 255, (40, 8, 8), dtype=np.uint8))
    with pytest.raises(genlab.GenlabError, match="needs class labels"):
        genlab.train("cvae", data=f"npz:{tmp_path / 'x.npz'}", train={"steps": 1})


def test_cvae_log_likelihood_uses_labels():
    torch.manual_seed(0)
    model = CVAE(CVAEConfig(**SMALL, num_classes=3)).eval()
    x, y = torch.rand(4, 1, 8, 8).round(), torch.tensor([0, 1, 2, 0])
    ll = model.log_likelihood(x, k=20, chunk=7, labels=y)
    assert ll.shape == (4,) and torch.isfinite(ll).all() and (ll < 0).all()
    assert math.isfinite(float(ll.mean()))
