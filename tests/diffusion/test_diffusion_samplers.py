"""Samplers: DDIM (S = T, eta = 1) is DDPM's step; DDIM steps; deterministic DDIM with an oracle."""
import pytest
import torch

from genlab.diffusion import DDIMSampler, DDPMSampler, NoiseSchedule, sample_loop


@pytest.mark.parametrize("name", ["linear", "cosine"])
def test_ddim_with_all_steps_and_eta_one_is_the_ddpm_step(name):
    s = NoiseSchedule.named(name, 200)
    ddpm, ddim = DDPMSampler(s), DDIMSampler(s, steps=200, eta=1.0)
    assert ddpm.timesteps() == ddim.timesteps()
    torch.manual_seed(0)
    t = torch.arange(200)  # every step at once
    x0, eps = torch.randn(200, 1, 3, 3).double(), torch.randn(200, 1, 3, 3).double()
    xt = s.add_noise(x0, eps, t)
    m1, s1 = ddpm.step_distribution(xt, x0, eps, t, t - 1)
    m2, s2 = ddim.step_distribution(xt, x0, eps, t, t - 1)
    assert torch.allclose(m1, m2, atol=1e-7) and torch.allclose(s1, s2, atol=1e-7)
    assert float(s1[0]) == 0.0 and float(s1[1:].min()) > 0  # no noise on the step to x0
    noise = torch.randn_like(xt)
    assert torch.allclose(ddpm.step(xt, x0, eps, t, t - 1, noise), ddim.step(xt, x0, eps, t, t - 1, noise), atol=1e-7)


def test_ddim_timesteps():
    s = NoiseSchedule.named("linear", 1000)
    pairs = DDIMSampler(s, steps=50).timesteps()
    assert len(pairs) == 50 and pairs[0] == (980, 960) and pairs[-1] == (0, -1)
    assert [t for t, _ in DDIMSampler(s, steps=3).timesteps()] == [666, 333, 0]
    with pytest.raises(ValueError, match="between 1 and T"):
        DDIMSampler(s, steps=1001)
    with pytest.raises(ValueError, match="runs all 1000 steps"):
        DDPMSampler(s, steps=50)


def test_deterministic_ddim_with_an_oracle_recovers_x0():
    """With eta = 0 and the true eps, every DDIM step stays on x_t = sqrt(abar) x0 + sqrt(1 - abar) eps."""
    s = NoiseSchedule.named("linear", 1000)
    torch.manual_seed(1)
    x0 = torch.rand(4, 1, 5, 5) * 2 - 1
    noise = torch.randn_like(x0)
    xT = s.add_noise(x0, noise, torch.full((4,), 900))  # the first step DDIM visits
    seen = []

    def oracle(xt, t):
        return s.split_prediction(noise, xt, t, "eps")

    out = sample_loop(oracle, DDIMSampler(s, steps=10, eta=0.0), xT, clip=False,
                      on_step=lambda i, t, xt, x0_hat: seen.append(t))
    assert seen == [900, 800, 700, 600, 500, 400, 300, 200, 100, 0]
    assert torch.allclose(out, x0, atol=1e-4)
    sigma = DDIMSampler(s, steps=10, eta=0.0).step_distribution(xT, x0, noise, torch.full((4,), 900), torch.full((4,), 800))[1]
    assert float(sigma.abs().max()) == 0.0


def test_ddim_eta_sigma_by_hand():
    """sigma = eta sqrt((1 - abar_prev) / (1 - abar)) sqrt(1 - abar / abar_prev) (DDIM eq. 16)."""
    s = NoiseSchedule(torch.tensor([0.5, 0.5]))  # abar = 0.5, 0.25
    x = torch.zeros(1, 1, 1, 1)
    _, sigma = DDIMSampler(s, steps=2, eta=0.5).step_distribution(x, x, x, torch.tensor([1]), torch.tensor([0]))
    assert float(sigma) == pytest.approx(0.5 * ((0.5 / 0.75) * 0.5) ** 0.5)
