"""The swappable parts of adversarial training against hand-computed values."""
import math

import pytest
import torch
from torch import nn

from genlab.errors import ConfigError
from genlab.models.adversarial import LOSS_PAIRS, check_stabilizers, clip_weights_, gradient_penalty, instance_noise_std
from genlab.models.gan import GANConfig, WGANConfig, WGANGPConfig, class_grid_labels
from genlab.nn.gan_blocks import MinibatchStd, apply_spectral_norm

REAL = torch.tensor([0.0, 2.0])
FAKE = torch.tensor([-1.0, 0.5])


def sig(v: float) -> float:
    return 1.0 / (1.0 + math.exp(-v))


def mean(values) -> float:
    values = list(values)
    return sum(values) / len(values)


# --- loss pairs --------------------------------------------------------------------------------------
def test_minimax_pair_matches_the_formula_in_probability_space():
    pair = LOSS_PAIRS["minimax"]
    d_loss = -mean(math.log(sig(r)) for r in REAL.tolist()) - mean(math.log(1 - sig(f)) for f in FAKE.tolist())
    g_loss = mean(math.log(1 - sig(f)) for f in FAKE.tolist())  # saturating: minimize log(1 - D(G(z)))
    assert float(pair.discriminator(REAL, FAKE, 1.0)) == pytest.approx(d_loss, rel=1e-6)
    assert float(pair.generator(FAKE)) == pytest.approx(g_loss, rel=1e-6)
    # one number worked out on paper: -[log s(0) + log s(2)]/2 - [log(1-s(-1)) + log(1-s(.5))]/2
    assert float(pair.discriminator(REAL, FAKE, 1.0)) == pytest.approx(1.0537, abs=1e-4)


def test_non_saturating_generator_and_shared_discriminator():
    pair = LOSS_PAIRS["non_saturating"]
    assert float(pair.generator(FAKE)) == pytest.approx(-mean(math.log(sig(f)) for f in FAKE.tolist()), rel=1e-6)
    assert torch.equal(pair.discriminator(REAL, FAKE, 1.0), LOSS_PAIRS["minimax"].discriminator(REAL, FAKE, 1.0))


def test_one_sided_label_smoothing_changes_only_the_real_target():
    pair = LOSS_PAIRS["non_saturating"]
    t = 0.9
    real_term = -mean(t * math.log(sig(r)) + (1 - t) * math.log(1 - sig(r)) for r in REAL.tolist())
    fake_term = -mean(math.log(1 - sig(f)) for f in FAKE.tolist())  # fake target stays 0
    assert float(pair.discriminator(REAL, FAKE, t)) == pytest.approx(real_term + fake_term, rel=1e-6)
    ls = LOSS_PAIRS["least_squares"]
    assert float(ls.discriminator(REAL, FAKE, t)) == pytest.approx(0.5 * mean([0.81, 1.21]) + 0.5 * mean([1, 0.25]))


@pytest.mark.parametrize("name, d_loss, g_loss", [
    # 1/2 mean((r - 1)^2) + 1/2 mean(f^2) = 1/2 * 1 + 1/2 * 0.625 ; 1/2 mean((f - 1)^2) = 1/2 * (4 + .25) / 2
    ("least_squares", 0.8125, 1.0625),
    # mean(f) - mean(r) = -0.25 - 1 ; -mean(f)
    ("wasserstein", -1.25, 0.25),
    # mean(relu(1 - r)) + mean(relu(1 + f)) = (1 + 0) / 2 + (0 + 1.5) / 2 ; -mean(f)
    ("hinge", 1.25, 0.25),
])
def test_score_based_pairs(name, d_loss, g_loss):
    pair = LOSS_PAIRS[name]
    assert float(pair.discriminator(REAL, FAKE, 1.0)) == pytest.approx(d_loss)
    assert float(pair.generator(FAKE)) == pytest.approx(g_loss)


# --- gradient penalty ----------------------------------------------------------------------------------
def test_gradient_penalty_norms_over_all_non_batch_dimensions():
    """A linear critic d(x) = <w, x> has gradient w everywhere: ||w|| over (C, H, W) = 5."""
    w = torch.tensor([[[1.0, 2.0]], [[2.0, 4.0]]])  # (C=2, H=1, W=2); per-channel norms would be 2.24 and 4.47
    critic = lambda x: (x * w).flatten(1).sum(1)  # noqa: E731
    real, fake = torch.rand(3, 2, 1, 2), torch.rand(3, 2, 1, 2)
    penalty, norm = gradient_penalty(critic, real, fake)
    assert float(norm) == pytest.approx(5.0, rel=1e-5)
    assert float(penalty) == pytest.approx(16.0, rel=1e-5)  # (5 - 1)^2


def test_gradient_penalty_on_interpolates_trains_the_critic():
    """d(x) = s/2 ||x||^2: grad = s * x_hat, x_hat = eps * real (fake = 0), so ||g|| = s * eps * ||real||."""
    s = nn.Parameter(torch.tensor(2.0))
    real = torch.tensor([[3.0, 4.0], [0.0, 1.0]])  # norms 5 and 1
    fake = torch.zeros(2, 2)
    eps = torch.tensor([0.5, 0.25])
    penalty, norm = gradient_penalty(lambda x: 0.5 * s * x.pow(2).sum(1), real, fake, eps=eps)
    norms = [2.0 * 0.5 * 5.0, 2.0 * 0.25 * 1.0]  # 5, 0.5
    assert float(norm) == pytest.approx(mean(norms))
    assert float(penalty.detach()) == pytest.approx(mean((n - 1) ** 2 for n in norms))  # (16 + 0.25) / 2
    penalty.backward()  # d/ds mean((s*a - 1)^2) = mean(2 (s*a - 1) a), a = eps * ||real||
    assert float(s.grad) == pytest.approx(mean(2 * (n - 1) * n / 2.0 for n in norms))


# --- other stabilizers ----------------------------------------------------------------------------------
def test_weight_clipping():
    net = nn.Linear(3, 2)
    with torch.no_grad():
        net.weight.fill_(0.5)
        net.bias.fill_(-0.5)
    clip_weights_(net, 0.01)
    assert all(float(p.detach().abs().max()) == pytest.approx(0.01) for p in net.parameters())


def test_instance_noise_anneals_linearly_to_zero():
    assert instance_noise_std(0.2, 0, 1000) == 0.2
    assert instance_noise_std(0.2, 500, 1000) == pytest.approx(0.1)
    assert instance_noise_std(0.2, 5000, 1000) == 0.0


def test_minibatch_std_by_hand():
    # 4 samples, 2 channels, 1x1: channel 0 = 1, 3, 5, 7; channel 1 = 2, 2, 2, 2
    x = torch.stack([torch.tensor([1.0, 2.0]), torch.tensor([3.0, 2.0]), torch.tensor([5.0, 2.0]),
                     torch.tensor([7.0, 2.0])]).view(4, 2, 1, 1)
    out = MinibatchStd(group_size=4)(x)
    std0 = math.sqrt(mean((v - 4.0) ** 2 for v in [1, 3, 5, 7]))  # population std = sqrt(5)
    expected = (std0 + math.sqrt(1e-8)) / 2  # mean over the two features
    assert out.shape == (4, 3, 1, 1)
    assert torch.allclose(out[:, 2].flatten(), torch.full((4,), expected), atol=1e-5)
    assert torch.equal(out[:, :2], x)
    # groups of 2 of a batch of 4: samples 0 and 2 form one group, 1 and 3 the other
    out2 = MinibatchStd(group_size=2)(x)
    assert out2[0, 2].item() == pytest.approx(out2[2, 2].item()) and out2[0, 2].item() == pytest.approx((2.0 + 1e-4) / 2, abs=1e-4)


def test_spectral_norm_makes_layers_one_lipschitz():
    torch.manual_seed(0)
    net = apply_spectral_norm(nn.Sequential(nn.Linear(6, 5), nn.LeakyReLU(0.2), nn.Sequential(nn.Linear(5, 1))))
    for _ in range(30):  # power iterations run in training-mode forward passes
        net(torch.randn(4, 6))
    for layer in (net[0], net[2][0]):
        assert float(torch.linalg.matrix_norm(layer.weight.detach(), 2)) == pytest.approx(1.0, abs=1e-3)


# --- combinations ------------------------------------------------------------------------------------
@pytest.mark.parametrize("changes, message", [
    ({"loss": "hinge", "weight_clip": 0.01}, "weight clipping bounds a Wasserstein critic"),
    ({"loss": "wasserstein", "weight_clip": 0.01, "gradient_penalty": 10.0}, "not both"),
    ({"loss": "wasserstein", "weight_clip": 0.01, "spectral_norm": True}, "not both"),
    ({"loss": "wasserstein", "spectral_norm": True, "label_smoothing": 0.1}, "has none"),
    ({"loss": "hinge", "label_smoothing": 0.1}, "has none"),
    ({"gradient_penalty": 10.0, "d_norm": "batch"}, "batch norm mixes samples"),
    ({"loss": "wasserstein"}, "needs a Lipschitz critic"),
])
def test_senseless_combinations_are_refused(changes, message):
    with pytest.raises(ConfigError, match=message):
        GANConfig(**changes)


def test_sensible_combinations_are_accepted():
    GANConfig(loss="hinge", spectral_norm=True, minibatch_std=True, ema_decay=0.999, instance_noise=0.1)
    GANConfig(loss="least_squares", label_smoothing=0.1, gradient_penalty=1.0)
    WGANGPConfig(spectral_norm=True, minibatch_std=True)
    check_stabilizers(WGANConfig())


def test_class_grid_has_one_class_per_row():
    labels = class_grid_labels(100, 10).view(10, 10)
    assert torch.equal(labels, torch.arange(10)[:, None].expand(10, 10))
    assert class_grid_labels(9, 10).tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2]
