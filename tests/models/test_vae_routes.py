"""KL warm-up and free bits of the VAE objective against hand computations."""
import pytest
import torch

import genlab
from genlab.models.base import Batch
from genlab.models.vae import (VAE, CVAEConfig, IWAEConfig, VAEConfig, gaussian_kl_per_unit, gaussian_log_prob,
                               mixture_log_prob)
from genlab.models.vaegan import VAEGANConfig

SMALL = dict(data_shape=(1, 8, 8), latent_dim=3, conv_widths=(8,), conv_hidden=16)


def test_free_bits_floor_each_units_batch_mean_kl():
    model = VAE(VAEConfig(**SMALL, free_bits=0.5))
    mu = torch.tensor([[0.0, 1.0, 2.0], [0.0, 1.0, 0.0]])
    logvar = torch.zeros(2, 3)
    per_unit = gaussian_kl_per_unit(mu, logvar)  # mu^2 / 2: [[0, .5, 2], [0, .5, 0]]
    assert torch.allclose(per_unit, 0.5 * mu.pow(2))
    # batch means per unit: 0, 0.5, 1.0 -> floored at 0.5: 0.5 + 0.5 + 1.0
    assert float(model.kl_objective(mu, logvar)) == pytest.approx(2.0)
    plain = VAE(VAEConfig(**SMALL))
    assert float(plain.kl_objective(mu, logvar)) == pytest.approx((2.5 + 0.5) / 2)


def test_kl_warmup_ramps_the_weight_with_the_updates():
    model = VAE(VAEConfig(**SMALL, beta=2.0, kl_warmup_steps=4))
    mu, logvar = torch.ones(2, 3), torch.zeros(2, 3)  # KL = 1.5 per image
    assert float(model.kl_objective(mu, logvar)) == 0.0
    for _ in range(2):
        model.after_step("model")
    assert float(model.kl_objective(mu, logvar)) == pytest.approx(2.0 * 0.5 * 1.5)
    for _ in range(5):
        model.after_step("model")
    assert float(model.kl_objective(mu, logvar)) == pytest.approx(2.0 * 1.5)
    torch.manual_seed(0)
    out = model.losses(Batch(torch.rand(4, 1, 8, 8).round()))
    assert float(out["loss"]) == pytest.approx(float(out["rec"]) + 2.0 * float(out["kl"]), rel=1e-5)


def test_iwae_refuses_them_and_training_counts_updates(digits_data, quick_train):
    with pytest.raises(ValueError, match="IWAE bound"):
        IWAEConfig(**SMALL, free_bits=0.1)
    model = genlab.train("vae", model_config={"latent_dim": 2, "conv_widths": [4], "conv_hidden": 8,
                                              "kl_warmup_steps": 100, "free_bits": 0.1},
                         data=digits_data, train=quick_train)
    assert int(model.updates) == quick_train["steps"]


def test_vamp_prior_is_the_mixture_of_posteriors_at_the_pseudo_inputs():
    """log p(z) against a hand mixture, the KL estimate, sampling through the noise and the refusals."""
    torch.manual_seed(0)
    model = VAE(VAEConfig(**SMALL, prior="vamp", vamp_components=4))
    mu, logvar = model.encode_distribution(torch.sigmoid(model.pseudo_inputs))  # (4, 3) each
    z = torch.randn(6, 3)
    comps = torch.stack([gaussian_log_prob(z, mu[k], logvar[k]) for k in range(4)])  # (4, 6)
    mixture = (comps.exp().mean(0)).log()
    assert torch.allclose(model.log_prior(z), mixture, atol=1e-5)
    assert torch.allclose(mixture_log_prob(z[None], mu, logvar)[0], mixture, atol=1e-5)  # any leading shape
    # the KL is the one-draw estimate log q(z|x) - log p(z), and the loss is rec + KL
    q_mu, q_logvar = torch.zeros(6, 3), torch.zeros(6, 3)
    assert torch.allclose(model.kl(q_mu, q_logvar, z), gaussian_log_prob(z, q_mu, q_logvar) - mixture, atol=1e-5)
    out = model.losses(Batch(torch.rand(5, 1, 8, 8).round()))
    assert float(out["loss"]) == pytest.approx(float(out["rec"]) + float(out["kl"]), rel=1e-5)
    out["loss"].backward()  # the pseudo-inputs learn through the prior's density
    assert model.pseudo_inputs.grad is not None and float(model.pseudo_inputs.grad.abs().sum()) > 0
    # one noise coordinate more picks the component: u = -inf -> the first, u = +inf -> the last
    assert model.noise_shape() == (4,)
    noise = torch.tensor([[0.0, 0.0, 0.0, -50.0], [0.0, 0.0, 0.0, 50.0], [1.0, -1.0, 0.5, 50.0]])
    drawn = model.prior_draw(noise)
    assert torch.allclose(drawn[0], mu[0]) and torch.allclose(drawn[1], mu[3])
    assert torch.allclose(drawn[2], mu[3] + (0.5 * logvar[3]).exp() * torch.tensor([1.0, -1.0, 0.5]))
    torch.manual_seed(1)
    samples = model.sample(3)
    torch.manual_seed(1)
    assert torch.allclose(samples, model.sample_from_noise(torch.randn(3, 4)))
    # the likelihood bound uses the same prior: with k = 1 it is the ELBO's log-weight
    x = torch.rand(2, 1, 8, 8).round()
    assert torch.isfinite(model.log_likelihood(x, k=7)).all()
    for bad, match in ((dict(free_bits=0.1), "free_bits"), (dict(vamp_components=0), "vamp_components")):
        with pytest.raises(ValueError, match=match):
            VAEConfig(**SMALL, prior="vamp", **bad)
    with pytest.raises(ValueError, match="cvae takes prior='normal'"):
        CVAEConfig(**SMALL, prior="vamp")
    with pytest.raises(ValueError, match="vaegan takes prior='normal'"):
        VAEGANConfig(**SMALL, prior="vamp")


def test_vamp_prior_trains_through_the_cli(tmp_path, capsys):
    from genlab.cli import main

    out = tmp_path / "vamp"
    rc = main(["train", "iwae", "--dataset", "digits", "--steps", "3", "--batch-size", "16", "--latent-dim", "2",
               "--conv-widths", "4", "--conv-hidden", "8", "--prior", "vamp", "--vamp-components", "5",
               "--importance-samples", "2", "--out", str(out), "--log-every", "0"])
    assert rc == 0, capsys.readouterr().err
    model = genlab.load(out)
    assert model.pseudo_inputs.shape == (5, 1, 8, 8)
    assert model.sample(4).shape == (4, 1, 8, 8)
    capsys.readouterr()
    rc = main(["train", "vae", "--dataset", "digits", "--steps", "1", "--prior", "vamp", "--free-bits", "0.1",
               "--out", str(tmp_path / "bad")])
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith("genlab: error:") and "free_bits" in err and len(err.splitlines()) == 1
