"""The importance-sampled log-likelihood converges to the exact one on probabilistic PCA.

PPCA (Tipping & Bishop 1999): z ~ N(0, I_q), x = W z + mu + eps, eps ~ N(0, s^2 I_d), so
p(x) = N(mu, W W^T + s^2 I) and the posterior is N(M^-1 W^T (x - mu), s^2 M^-1), M = W^T W + s^2 I.
"""
import math

import pytest
import torch
from torch.distributions import MultivariateNormal

from genlab.metrics.nll import importance_sampled_log_likelihood, negative_log_likelihood
from genlab.models.base import LikelihoodModel


class PPCA:
    def __init__(self, d=5, q=2, s=0.5, seed=0):
        g = torch.Generator().manual_seed(seed)
        self.w = torch.randn(d, q, generator=g, dtype=torch.float64)
        self.mu = torch.randn(d, generator=g, dtype=torch.float64)
        self.s, self.q, self.d = s, q, d

    def exact_log_likelihood(self, x):
        cov = self.w @ self.w.T + self.s**2 * torch.eye(self.d, dtype=torch.float64)
        return MultivariateNormal(self.mu, cov).log_prob(x)

    def posterior(self, x):
        m = self.w.T @ self.w + self.s**2 * torch.eye(self.q, dtype=torch.float64)
        m_inv = torch.linalg.inv(m)
        mean = (x - self.mu) @ self.w @ m_inv.T  # (B, q)
        return mean, self.s**2 * m_inv

    def log_joint(self, x):
        prior = MultivariateNormal(torch.zeros(self.q, dtype=torch.float64), torch.eye(self.q, dtype=torch.float64))

        def f(z):  # (m, B, q) -> (m, B)
            x_mean = z @ self.w.T + self.mu
            lik = -0.5 * (((x - x_mean) / self.s) ** 2).sum(-1) - self.d * (math.log(self.s) + 0.5 * math.log(2 * math.pi))
            return lik + prior.log_prob(z)

        return f

    def estimate(self, x, k, scale=1.0, shift=0.0, seed=0):
        mean, cov = self.posterior(x)
        proposal = MultivariateNormal(mean + shift, cov * scale)  # batch of B proposals
        g = torch.manual_seed(seed)
        del g
        return importance_sampled_log_likelihood(lambda m: proposal.sample((m,)), proposal.log_prob, self.log_joint(x), k)


def test_exact_posterior_gives_the_exact_likelihood_with_one_sample():
    model = PPCA()
    x = torch.randn(7, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(1)) * 2
    assert torch.allclose(model.estimate(x, k=1), model.exact_log_likelihood(x), atol=1e-9)


def test_approximate_proposal_converges_to_the_exact_likelihood():
    model = PPCA()
    x = torch.randn(20, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(2)) * 2
    exact = model.exact_log_likelihood(x)
    errors = {}
    for k in (1, 10, 100, 3000):
        est = model.estimate(x, k, scale=3.0, shift=0.3, seed=k)
        errors[k] = float((exact - est).mean())
    assert errors[1] > 0.1  # the bound is loose with one sample (and below the truth on average)
    assert abs(errors[3000]) < 0.02, errors
    assert errors[1] > errors[10] > errors[100] > abs(errors[3000]) - 1e-3, errors


def test_negative_log_likelihood_units_and_missing_likelihood(capsys, tmp_path):
    class Fixed(LikelihoodModel):
        device = torch.device("cpu")
        registry_name = "fixed"

        def __init__(self):
            super().__init__(None)

        def log_likelihood(self, x, k, chunk=250, labels=None):
            return torch.full((len(x),), -math.log(2) * x[0].numel())  # one bit per dimension

    out = negative_log_likelihood(Fixed(), torch.zeros(10, 1, 2, 2), k=1, batch_size=3)
    assert out["nll_nats"] == pytest.approx(4 * math.log(2)) and out["nll_bits_per_dim"] == pytest.approx(1.0)
    from genlab.errors import ConfigError

    with pytest.raises(ConfigError, match="no log-likelihood"):
        negative_log_likelihood(object(), torch.zeros(1, 1, 2, 2))


def test_conditional_models_get_the_labels():
    seen = []

    class Conditional(LikelihoodModel):
        device = torch.device("cpu")

        def __init__(self):
            super().__init__(None)

        def log_likelihood(self, x, k, chunk=250, labels=None):
            seen.append(labels.tolist())
            return torch.zeros(len(x))

    negative_log_likelihood(Conditional(), torch.zeros(3, 1, 2, 2), k=1, batch_size=2, labels=torch.tensor([4, 5, 6]))
    assert seen == [[4, 5], [6]]
