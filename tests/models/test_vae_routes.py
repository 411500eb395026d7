"""KL warm-up and free bits of the VAE objective against hand computations."""
import math

import pytest
import torch

import genlab
from genlab.models.base import Batch
from genlab.models.vae import (
    VAE,
    CVAEConfig,
    IWAEConfig,
    VAEConfig,
    gaussian_kl_per_unit,
    gaussian_log_prob,
    mixture_log_prob,
)
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
    far = 10 + 3 * z  # the expanded square cancels: under bf16 autocast it still runs in float32
    far_mixture = torch.logsumexp(torch.stack([gaussian_log_prob(far, 10 + mu[k], logvar[k]) for k in range(4)]), 0)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert torch.allclose(mixture_log_prob(far, 10 + mu, logvar), far_mixture - math.log(4), atol=1e-3)
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


def test_two_stochastic_layers_log_ratio_sampling_and_refusals():
    """The two-layer model's log p(z1, z2) - log q(z1, z2|x) against a hand computation with the same z2 draw."""
    torch.manual_seed(0)
    model = VAE(VAEConfig(**SMALL, top_latent_dim=2, top_hidden=5))
    mu, logvar = torch.randn(4, 3), torch.randn(4, 3)
    z = torch.randn(4, 3)
    torch.manual_seed(7)
    ratio = model.latent_log_ratio(z, mu, logvar)
    torch.manual_seed(7)
    mu2, logvar2 = model.top_encoder(z).chunk(2, -1)
    z2 = mu2 + (0.5 * logvar2).exp() * torch.randn(4, 2)
    mu1, logvar1 = model.top_decoder(z2).chunk(2, -1)

    def log_n(v, m, lv):  # by hand, per coordinate
        return (-0.5 * (math.log(2 * math.pi) + lv + (v - m) ** 2 / lv.exp())).sum(-1)

    hand = log_n(z2, 0 * z2, 0 * z2) + log_n(z, mu1, logvar1) - log_n(z, mu, logvar) - log_n(z2, mu2, logvar2)
    assert torch.allclose(ratio, hand, atol=1e-5)
    torch.manual_seed(7)
    assert torch.allclose(model.kl(mu, logvar, z), -hand, atol=1e-5)  # the KL estimate is its negative
    out = model.losses(Batch(torch.rand(5, 1, 8, 8).round()))
    assert float(out["loss"]) == pytest.approx(float(out["rec"]) + float(out["kl"]), rel=1e-5)
    # the noise is (z2, eps of z1): z1 = mu(z2) + sigma(z2) eps
    assert model.noise_shape() == (5,)
    noise = torch.randn(3, 5)
    m1, lv1 = model.top_decoder(noise[:, :2]).chunk(2, -1)
    assert torch.allclose(model.prior_draw(noise), m1 + (0.5 * lv1).exp() * noise[:, 2:], atol=1e-6)
    torch.manual_seed(1)
    samples = model.sample(3)
    torch.manual_seed(1)
    assert torch.allclose(samples, model.sample_from_noise(torch.randn(3, 5)))
    # every importance bound is finite and log_weights has one weight per draw and image
    x = torch.rand(2, 1, 8, 8).round()
    assert model.log_weights(x, 6).shape == (6, 2) and torch.isfinite(model.log_likelihood(x, k=9)).all()
    with pytest.raises(ValueError, match="top_latent_dim"):
        VAEConfig(**SMALL, top_latent_dim=2, prior="vamp")
    with pytest.raises(ValueError, match="one stochastic layer"):
        CVAEConfig(**SMALL, top_latent_dim=2)


def test_two_stochastic_layers_train_through_the_cli(tmp_path, capsys):
    from genlab.cli import main

    out = tmp_path / "two"
    rc = main(["train", "vae", "--dataset", "digits", "--steps", "3", "--batch-size", "16", "--latent-dim", "3",
               "--conv-widths", "4", "--conv-hidden", "8", "--top-latent-dim", "2", "--top-hidden", "6",
               "--kl-warmup-steps", "10", "--out", str(out), "--log-every", "0"])
    assert rc == 0, capsys.readouterr().err
    model = genlab.load(out)
    assert model.top_decoder[0].in_features == 2 and model.sample(4).shape == (4, 1, 8, 8)
    capsys.readouterr()
    rc = main(["train", "vae", "--dataset", "digits", "--steps", "1", "--top-latent-dim", "-1",
               "--out", str(tmp_path / "bad")])
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith("genlab: error:") and "top_latent_dim" in err and len(err.splitlines()) == 1
