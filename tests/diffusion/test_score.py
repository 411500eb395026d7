"""Score-based models: SDE marginals against the closed form, samplers and the ODE likelihood with the
exact score of Gaussian data, and the registered score-sde / ncsn models through the CLI."""
import math

import pytest
import torch

import genlab
from genlab.cli import main
from genlab.diffusion.score_samplers import (
    annealed_langevin,
    euler_maruyama,
    ode_log_likelihood,
    predictor_corrector,
    probability_flow,
)
from genlab.diffusion.sde import VESDE, VPSDE, geometric_sigmas

MU, S = torch.tensor([0.5, -0.3, 0.2], dtype=torch.float64), 0.4  # Gaussian data N(MU, S^2 I)


def gaussian_score(sde):
    """The exact score of p_t for N(MU, S^2 I) data: p_t = N(m MU, (m^2 S^2 + v) I)."""
    def score(x, t):
        m, sd = sde.marginal(t.to(torch.float64))
        var = (m**2 * S**2 + sd**2)[:, None]
        return (-(x.double() - m[:, None] * MU) / var).to(x.dtype)
    return score


@pytest.mark.parametrize("sde", [VPSDE(0.1, 20.0), VESDE(0.01, 50.0)], ids=["vp", "ve"])
def test_marginals_solve_the_moment_equations(sde):
    # for dx = a(t) x dt + g(t) dw: dm/dt = a m, dv/dt = 2 a v + g^2, m(0) = 1, v(0) = 0 (RK4, fine steps)
    def rates(t, m, v):
        tt = torch.tensor([t], dtype=torch.float64)
        a = float(sde.drift_diffusion(torch.ones(1, 1, dtype=torch.float64), tt)[0])
        g = float(sde.drift_diffusion(torch.ones(1, 1, dtype=torch.float64), tt)[1])
        return a * m, 2 * a * v + g * g

    m, v, n = 1.0, 0.0, 1000
    h = 1.0 / n
    for i in range(n):
        t = i * h
        k1 = rates(t, m, v)
        k2 = rates(t + h / 2, m + h / 2 * k1[0], v + h / 2 * k1[1])
        k3 = rates(t + h / 2, m + h / 2 * k2[0], v + h / 2 * k2[1])
        k4 = rates(t + h, m + h * k3[0], v + h * k3[1])
        m += h / 6 * (k1[0] + 2 * k2[0] + 2 * k3[0] + k4[0])
        v += h / 6 * (k1[1] + 2 * k2[1] + 2 * k3[1] + k4[1])
        if (i + 1) % 250 == 0:
            cm, cs = sde.marginal(torch.tensor([t + h], dtype=torch.float64))
            assert float(cm) == pytest.approx(m, rel=1e-6)
            assert float(cs) ** 2 == pytest.approx(v, rel=1e-6)


def test_vp_marginal_by_hand_and_perturb():
    sde = VPSDE(0.1, 20.0)
    t = torch.tensor([0.5], dtype=torch.float64)
    m, s = sde.marginal(t)
    expected = math.exp(-0.25 * 0.25 * 19.9 - 0.5 * 0.5 * 0.1)
    assert float(m) == pytest.approx(expected) and float(s) == pytest.approx(math.sqrt(1 - expected**2))
    x0, z = torch.ones(1, 2, dtype=torch.float64), torch.full((1, 2), 2.0, dtype=torch.float64)
    assert torch.allclose(sde.perturb(x0, z, t), m * x0 + s * z)
    ve = VESDE(0.01, 50.0)
    assert float(ve.marginal(torch.tensor([1.0]))[1]) == pytest.approx(math.sqrt(50.0**2 - 0.01**2))


@pytest.mark.parametrize("sde, tol", [(VPSDE(0.1, 40.0), 1e-4), (VESDE(0.01, 1000.0), 2e-3)], ids=["vp", "ve"])
def test_ode_likelihood_of_gaussian_data_is_exact(sde, tol):
    # with the exact score the probability-flow ODE maps the data density onto p_1; Rademacher probes make
    # Hutchinson's estimator exact for this diagonal Jacobian; the residual is the prior's mismatch with p_1
    torch.manual_seed(0)
    x = MU + S * torch.randn(5, 3, dtype=torch.float64)
    logp, nfe = ode_log_likelihood(gaussian_score(sde), sde, x, eps=1e-5)
    exact = -0.5 * ((x - MU) ** 2).sum(1) / S**2 - 3 * (math.log(S) + 0.5 * math.log(2 * math.pi))
    assert torch.allclose(logp, exact, atol=tol) and nfe > 10


@pytest.mark.parametrize("sampler", ["em", "pc", "ode-heun", "ode-rk45"])
def test_samplers_with_the_exact_score_recover_the_data(sampler):
    torch.manual_seed(0)
    sde = VPSDE(0.1, 20.0)
    x = sde.prior_sample((2000, 3)).double()
    score = gaussian_score(sde)
    if sampler == "em":
        out = euler_maruyama(score, sde, x, steps=200)
    elif sampler == "pc":
        out = predictor_corrector(score, sde, x, steps=100, snr=0.1)
    else:
        out, nfe = probability_flow(score, sde, x, steps=50, method=sampler[4:])
        assert nfe == 100 or sampler == "ode-rk45"
    assert torch.allclose(out.mean(0), MU, atol=0.05)
    assert torch.allclose(out.std(0), torch.full((3,), S, dtype=torch.float64), atol=0.05)


def test_annealed_langevin_with_the_exact_score():
    torch.manual_seed(0)
    sigmas = geometric_sigmas(3.0, 0.1, 8).double()

    def score(x, level):  # the score of N(MU, S^2 I) convolved with N(0, sigma^2 I)
        sig = sigmas[level][:, None]
        return -(x - MU) / (S**2 + sig**2)

    x = torch.randn(2000, 3, dtype=torch.float64) * 3.0
    out = annealed_langevin(score, sigmas, x, steps=100, lr=5e-3, denoise=False)
    assert torch.allclose(out.mean(0), MU, atol=0.05)  # the last level's density: N(MU, (S^2 + 0.1^2) I)
    assert torch.allclose(out.std(0), torch.full((3,), math.sqrt(S**2 + 0.01), dtype=torch.float64), atol=0.03)
    # the denoising step (Tweedie) gives E[x0 | x], whose spread is S^2 / sqrt(S^2 + sigma_L^2)
    denoised = annealed_langevin(score, sigmas[-1:], out, steps=1, lr=1e-6, denoise=True)
    assert float(denoised.std(0).mean()) == pytest.approx(S**2 / math.sqrt(S**2 + 0.01), abs=0.03)
    assert sigmas[0] == pytest.approx(3.0) and sigmas[-1] == pytest.approx(0.1)


TINY = {"base_width": 8, "width_mults": [1], "norm_groups": 4, "attention_size": 0, "sample_steps": 2}


@pytest.fixture(scope="module")
def score_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("score") / "run"
    argv = ["train", "score-sde", "--dataset", "digits", "--steps", "3", "--batch-size", "16", "--sde", "ve",
            "--base-width", "8", "--width-mults", "1", "--norm-groups", "4", "--attention-size", "0",
            "--sample-steps", "2", "--num-samples", "4", "--log-every", "0", "--out", str(out)]
    assert main(argv) == 0
    return out


@pytest.mark.parametrize("sampler", ["em", "pc", "ode"])
def test_genlab_sample_with_each_sampler(score_run, tmp_path, capsys, sampler):
    png = tmp_path / f"{sampler}.png"
    assert main(["sample", str(score_run), "--sampler", sampler, "--steps", "2", "--n", "4", "--out", str(png)]) == 0
    assert png.is_file()


def test_unknown_sampler_is_one_line(score_run, tmp_path, capsys):
    assert main(["sample", str(score_run), "--sampler", "ald", "--n", "4", "--out", str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "choose em, pc or ode" in err[0]


def test_ncsn_trains_and_samples_by_annealed_langevin(tmp_path, capsys):
    model = genlab.train("ncsn", model_config={**TINY, "num_levels": 3}, data="digits",
                         train={"steps": 2, "batch_size": 16, "num_samples": 4, "log_every": 0})
    out = model.sample(3, sampler="ald", steps=2)
    assert out.shape == (3, 1, 8, 8) and float(out.min()) >= 0 and float(out.max()) <= 1
    with pytest.raises(genlab.errors.ConfigError, match="choose ald"):
        model.sample(2, sampler="ode")


def test_bits_per_dim_of_a_trained_model_is_finite(score_run):
    model = genlab.load(score_run)
    x = torch.rand(2, 1, 8, 8)
    bpd, nfe = model.bits_per_dim(x, rtol=1e-3, atol=1e-3, generator=torch.Generator().manual_seed(0))
    assert bpd.shape == (2,) and bool(torch.isfinite(bpd).all()) and nfe > 0


def test_dopri5_agrees_with_scipy_and_the_closed_form():
    from scipy.integrate import solve_ivp

    from genlab.diffusion.score_samplers import dopri5

    # y' = -2 y: y(1) = y0 e^-2, both directions
    y, nfe = dopri5(lambda t, v: -2 * v, torch.tensor([1.0, 3.0], dtype=torch.float64), 0.0, 1.0, 1e-8, 1e-8)
    assert torch.allclose(y, torch.tensor([1.0, 3.0], dtype=torch.float64) * math.exp(-2), rtol=1e-7) and nfe > 7
    back, _ = dopri5(lambda t, v: -2 * v, y, 1.0, 0.0, 1e-8, 1e-8)
    assert torch.allclose(back, torch.tensor([1.0, 3.0], dtype=torch.float64), rtol=1e-6)
    # a nonlinear, time-dependent ODE against SciPy's RK45 at tight tolerances
    ours, _ = dopri5(lambda t, v: -v**3 + math.sin(3 * t), torch.tensor([0.5], dtype=torch.float64), 0.0, 4.0,
                     1e-9, 1e-9)
    ref = solve_ivp(lambda t, v: -v**3 + math.sin(3 * t), (0.0, 4.0), [0.5], rtol=1e-10, atol=1e-10).y[0, -1]
    assert float(ours[0]) == pytest.approx(ref, abs=1e-7)
