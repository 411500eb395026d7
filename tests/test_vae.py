import math

import pytest
import torch

from genlab.models.base import Batch
from genlab.models.vae import VAE, VAEConfig, gaussian_kl, gaussian_log_prob


def test_kl_matches_hand_computation():
    # KL(N(1, e^0.5) || N(0, 1)) per dim = 0.5 * (mu^2 + sigma^2 - 1 - log sigma^2)
    mu = torch.tensor([[1.0, 0.0]])
    logvar = torch.tensor([[0.5, 0.0]])
    expected = 0.5 * (1.0 + math.exp(0.5) - 1.0 - 0.5) + 0.0
    assert gaussian_kl(mu, logvar).item() == pytest.approx(expected, rel=1e-6)


def test_kl_matches_torch_distributions():
    mu, logvar = torch.randn(5, 3), torch.randn(5, 3)
    q = torch.distributions.Normal(mu, (0.5 * logvar).exp())
    p = torch.distributions.Normal(torch.zeros(3), torch.ones(3))
    ref = torch.distributions.kl_divergence(q, p).sum(-1)
    torch.testing.assert_close(gaussian_kl(mu, logvar), ref)
    z = torch.randn(5, 3)
    torch.testing.assert_close(gaussian_log_prob(z, mu, logvar), q.log_prob(z).sum(-1))


def test_gradients_flow_through_the_reparameterization():
    mu = torch.zeros(4, 2, requires_grad=True)
    logvar = torch.zeros(4, 2, requires_grad=True)
    z = VAE.reparameterize(mu, logvar)
    z.sum().backward()
    assert torch.all(mu.grad == 1)
    assert logvar.grad.abs().sum() > 0  # d z / d logvar = 0.5 * sigma * eps


@pytest.mark.parametrize("arch", ["conv", "mlp"])
@pytest.mark.parametrize("likelihood", ["bernoulli", "gaussian"])
def test_losses_shapes_and_parts(arch, likelihood):
    torch.manual_seed(0)
    model = VAE(VAEConfig(data_shape=(1, 28, 28), latent_dim=5, architecture=arch, likelihood=likelihood,
                          conv_widths=(8, 16), conv_hidden=32, mlp_hidden=(32,), beta=2.0))
    x = torch.rand(6, 1, 28, 28).round()
    out = model.losses(Batch(x))
    assert out["loss"].requires_grad and out["loss"].dim() == 0
    # loss = rec + beta * kl, nelbo = rec + kl (beta = 2)
    assert out["loss"].item() == pytest.approx(out["rec"].item() + 2 * out["kl"].item(), rel=1e-5)
    assert out["nelbo"].item() == pytest.approx(out["rec"].item() + out["kl"].item(), rel=1e-5)
    assert model.encode(x).shape == (6, 5)
    for images in (model.decode(torch.randn(3, 5)), model.sample(3), model.reconstruct(x[:3])):
        assert images.shape == (3, 1, 28, 28) and images.min() >= 0 and images.max() <= 1


def test_gaussian_likelihood_is_the_exact_normal_log_density():
    model = VAE(VAEConfig(data_shape=(1, 4, 4), architecture="mlp", mlp_hidden=(8,), likelihood="gaussian", gaussian_std=0.3))
    out, x = torch.randn(2, 1, 4, 4), torch.rand(2, 1, 4, 4)
    ref = -torch.distributions.Normal(torch.sigmoid(out), 0.3).log_prob(x).flatten(1).sum(-1)
    torch.testing.assert_close(model.reconstruction_nll(out, x), ref)


def test_bernoulli_likelihood_is_the_exact_log_density():
    model = VAE(VAEConfig(data_shape=(1, 4, 4), architecture="mlp", mlp_hidden=(8,)))
    logits, x = torch.randn(2, 1, 4, 4), torch.rand(2, 1, 4, 4).round()
    ref = -torch.distributions.Bernoulli(logits=logits).log_prob(x).flatten(1).sum(-1)
    torch.testing.assert_close(model.reconstruction_nll(logits, x), ref)


def test_importance_sampled_likelihood_is_tighter_than_the_elbo():
    torch.manual_seed(0)
    model = VAE(VAEConfig(data_shape=(1, 8, 8), latent_dim=4, architecture="mlp", mlp_hidden=(32,))).eval()
    x = torch.rand(16, 1, 8, 8).round()
    elbo = -torch.stack([model.losses(Batch(x))["nelbo"] for _ in range(200)]).mean()
    ll_1 = model.log_likelihood(x, k=1, chunk=1).mean()
    ll_500 = model.log_likelihood(x, k=500, chunk=100).mean()
    assert ll_1.item() == pytest.approx(elbo.item(), abs=1.0)  # k = 1 is the ELBO
    assert ll_500 > elbo  # the IWAE bound tightens with k


def test_interpolation_and_traversal():
    torch.manual_seed(0)
    model = VAE(VAEConfig(data_shape=(1, 8, 8), latent_dim=3, architecture="mlp", mlp_hidden=(16,))).eval()
    a, b = torch.rand(1, 8, 8), torch.rand(1, 8, 8)
    for method in ("linear", "spherical"):
        strip = model.interpolate(a, b, steps=5, method=method)
        assert strip.shape == (5, 1, 8, 8)
        torch.testing.assert_close(strip[0], model.reconstruct(a[None])[0])
        torch.testing.assert_close(strip[-1], model.reconstruct(b[None])[0])
    assert model.traverse(a, dims=[0, 2], steps=4).shape == (8, 1, 8, 8)
