"""KL warm-up and free bits of the VAE objective against hand computations."""
import pytest
import torch

import genlab
from genlab.models.base import Batch
from genlab.models.vae import VAE, IWAEConfig, VAEConfig, gaussian_kl_per_unit

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
