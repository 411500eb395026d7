"""Noise schedules: golden values, q(x_t | x_0) against repeated steps, posterior, prediction targets."""
import math

import pytest
import torch

from genlab.diffusion import DDPMSampler, NoiseSchedule, cosine_betas, linear_betas


def test_linear_schedule_golden_values():
    s = NoiseSchedule(linear_betas(1000))
    assert s.betas[0] == pytest.approx(1e-4) and s.betas[-1] == pytest.approx(0.02)
    assert float(s.betas[499]) == pytest.approx(0.01004004004004004, rel=1e-12)
    # abar_1 = (1 - 1e-4)(1 - (1e-4 + 0.0199 / 999)) = 0.999780092072..., by hand
    assert float(s.alpha_bars[1]) == pytest.approx(0.9997800920720721, rel=1e-12)
    assert float(s.alpha_bars[499]) == pytest.approx(0.07858724288177821, rel=1e-10)
    assert float(s.alpha_bars[-1]) == pytest.approx(4.0358297653756754e-05, rel=1e-8)  # sqrt ~ 0.00635: pure noise


def test_cosine_schedule_golden_values():
    betas = cosine_betas(1000)
    assert float(betas[0]) == pytest.approx(4.128422482196914e-05, rel=1e-9)
    assert float(betas[499]) == pytest.approx(0.0031458862304780677, rel=1e-9)
    assert float(betas[-1]) == 0.999  # clipped
    # abar at t = T/2 is f(T/2) / f(0) = cos^2((0.5 + s) / (1 + s) * pi / 2) / cos^2(s / (1 + s) * pi / 2)
    s = 0.008
    expected = math.cos((0.5 + s) / (1 + s) * math.pi / 2) ** 2 / math.cos(s / (1 + s) * math.pi / 2) ** 2
    assert float(NoiseSchedule(betas).alpha_bars[499]) == pytest.approx(expected, rel=1e-9)
    assert NoiseSchedule.named("cosine", 10).timesteps == 10
    with pytest.raises(ValueError, match="unknown beta schedule"):
        NoiseSchedule.named("quadratic", 10)


def test_closed_form_matches_repeated_single_steps():
    s = NoiseSchedule.named("cosine", 20)
    x0 = torch.tensor([-1.0, -0.3, 0.5, 1.0]).repeat(20000, 1)  # (N, 4): many draws per value
    t_end = 12
    # 1. without noise the single steps compose exactly: prod sqrt(alpha_s) = sqrt(abar_t)
    x = x0.clone()
    for t in range(t_end + 1):
        x = s.forward_step(x, torch.zeros_like(x), torch.full((len(x),), t))
    tt = torch.full((len(x0),), t_end)
    assert torch.allclose(x, s.add_noise(x0, torch.zeros_like(x0), tt), atol=1e-6)
    # 2. with noise: mean sqrt(abar_t) x0 and variance 1 - abar_t (DDPM eq. 4)
    torch.manual_seed(0)
    x = x0.clone()
    for t in range(t_end + 1):
        x = s.forward_step(x, torch.randn_like(x), torch.full((len(x),), t))
    abar = float(s.alpha_bars[t_end])
    assert torch.allclose(x.mean(0), math.sqrt(abar) * x0[0], atol=0.02)
    assert torch.allclose(x.var(0), torch.full((4,), 1 - abar), atol=0.02)
    closed = s.add_noise(x0, torch.randn_like(x0), tt)
    assert torch.allclose(closed.mean(0), x.mean(0), atol=0.03) and torch.allclose(closed.var(0), x.var(0), atol=0.03)


def test_posterior_is_the_product_of_the_two_gaussians():
    """q(x_{t-1} | x_t, x_0) ~ q(x_t | x_{t-1}) q(x_{t-1} | x_0), multiplied out by hand."""
    s = NoiseSchedule(linear_betas(50, 1e-3, 0.2))
    torch.manual_seed(1)
    x0, xt = torch.randn(5, 1, 2, 2).double(), torch.randn(5, 1, 2, 2).double()
    t = torch.tensor([1, 7, 20, 33, 49])
    mean, var = s.posterior(x0, xt, t)
    for i, ti in enumerate(t.tolist()):
        beta, abar_prev = float(s.betas[ti]), float(s.alpha_bars[ti - 1])
        precision = (1 - beta) / beta + 1 / (1 - abar_prev)
        want_mean = (math.sqrt(1 - beta) / beta * xt[i] + math.sqrt(abar_prev) / (1 - abar_prev) * x0[i]) / precision
        assert float(var[i]) == pytest.approx(1 / precision, rel=1e-9)
        assert torch.allclose(mean[i], want_mean, atol=1e-9)


@pytest.mark.parametrize("prediction", ["eps", "x0", "v"])
def test_prediction_targets_convert_back_to_x0_and_eps(prediction):
    s = NoiseSchedule.named("linear", 100)
    torch.manual_seed(2)
    x0, eps = torch.randn(4, 3, 4, 4).double(), torch.randn(4, 3, 4, 4).double()
    t = torch.tensor([0, 10, 50, 99])
    xt = s.add_noise(x0, eps, t)
    x0_hat, eps_hat = s.split_prediction(s.target(x0, eps, t, prediction), xt, t, prediction)
    assert torch.allclose(x0_hat, x0, atol=1e-6) and torch.allclose(eps_hat, eps, atol=1e-8)


def test_v_target_by_hand():
    s = NoiseSchedule(torch.tensor([0.75]))  # abar_0 = 0.25: v = 0.5 eps - sqrt(0.75) x0
    x0, eps = torch.tensor([[2.0]]), torch.tensor([[1.0]])
    assert float(s.target(x0, eps, torch.tensor([0]), "v")) == pytest.approx(0.5 - 2 * math.sqrt(0.75))
    with pytest.raises(ValueError, match="unknown prediction"):
        s.target(x0, eps, torch.tensor([0]), "score")


def test_ddpm_mean_equals_eq_11():
    """The posterior mean at x0_hat(eps) (eq. 7 + 15) is 1/sqrt(alpha_t) (x_t - beta_t / sqrt(1 - abar_t) eps)."""
    s = NoiseSchedule.named("linear", 1000)
    torch.manual_seed(3)
    xt, eps = torch.randn(3, 1, 4, 4).double(), torch.randn(3, 1, 4, 4).double()
    t = torch.tensor([5, 400, 999])
    x0, _ = s.split_prediction(eps, xt, t, "eps")
    mean, std = DDPMSampler(s).step_distribution(xt, x0, eps, t, t - 1)
    for i, ti in enumerate(t.tolist()):
        beta, abar = float(s.betas[ti]), float(s.alpha_bars[ti])
        want = (xt[i] - beta / math.sqrt(1 - abar) * eps[i]) / math.sqrt(1 - beta)
        assert torch.allclose(mean[i], want, atol=1e-8)
        assert float(std[i]) ** 2 == pytest.approx(float(s.posterior_variance[ti]), rel=1e-9)
