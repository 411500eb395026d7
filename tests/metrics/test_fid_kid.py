"""Fréchet distance against scipy, KID against a direct computation, and FD on real features."""
import numpy as np
import pytest
import scipy.linalg
import torch
import torch.nn.functional as F

from genlab.config import DataConfig
from genlab.data import load_splits
from genlab.errors import ConfigError
from genlab.metrics.fid import (
    feature_statistics,
    frechet_distance,
    frechet_distance_of_features,
    kernel_inception_distance,
)


def _random_gaussian(rng, d):
    a = rng.normal(size=(d, d))
    return rng.normal(size=d), a @ a.T / d + 0.1 * np.eye(d)


@pytest.mark.parametrize("d", [1, 4, 16])
def test_frechet_distance_matches_scipy_sqrtm(d):
    rng = np.random.default_rng(d)
    for _ in range(5):
        (mu1, s1), (mu2, s2) = _random_gaussian(rng, d), _random_gaussian(rng, d)
        covmean = scipy.linalg.sqrtm(s1 @ s2).real
        expected = np.sum((mu1 - mu2) ** 2) + np.trace(s1 + s2 - 2 * covmean)
        assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-8, abs=1e-9)


def test_frechet_distance_by_hand_and_from_samples():
    # 1-d: (mu1 - mu2)^2 + (sigma1 - sigma2)^2
    assert frechet_distance(np.array([1.0]), np.array([[4.0]]), np.array([3.0]), np.array([[1.0]])) == pytest.approx(5.0)
    mu, s = _random_gaussian(np.random.default_rng(0), 6)
    assert frechet_distance(mu, s, mu, s) == pytest.approx(0.0, abs=1e-9)
    x = torch.randn(4000, 3, generator=torch.Generator().manual_seed(0))
    m, c = feature_statistics(x)
    assert np.allclose(c, np.cov(x.numpy(), rowvar=False)) and m.shape == (3,)
    assert frechet_distance_of_features(x, x + 1.0) == pytest.approx(3.0, rel=1e-6)  # a shift of 1 in 3 dims


def test_kid_matches_a_direct_computation():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(6, 3)), rng.normal(loc=0.5, size=(6, 3))

    def k(a, b):
        return (a @ b / 3 + 1) ** 3

    m = 6
    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(m)) / m**2
    mean, std = kernel_inception_distance(torch.tensor(x), torch.tensor(y), subset_size=6, subsets=3)
    assert mean == pytest.approx(xx + yy - 2 * xy)
    assert std is None  # every subset would be the whole of both sets: no spread to report


def test_kid_std_is_the_spread_over_distinct_subsets():
    g = torch.Generator().manual_seed(2)
    a, b = torch.randn(40, 4, generator=g), torch.randn(40, 4, generator=g) + 0.3
    mean, std = kernel_inception_distance(a, b, subset_size=20, subsets=10, seed=3)
    rng = np.random.default_rng(3)
    x, y = a.double().numpy(), b.double().numpy()
    values = []
    for _ in range(10):
        i, j = rng.choice(40, 20, replace=False), rng.choice(40, 20, replace=False)
        values.append(kernel_inception_distance(torch.tensor(x[i]), torch.tensor(y[j]), subset_size=20)[0])
    assert mean == pytest.approx(np.mean(values)) and std == pytest.approx(np.std(values)) and std > 1e-4


def test_kid_near_zero_for_one_distribution_and_positive_for_another():
    g = torch.Generator().manual_seed(1)
    a, b = torch.randn(600, 8, generator=g), torch.randn(600, 8, generator=g)
    same, _ = kernel_inception_distance(a, b, subset_size=200, subsets=20)
    diff, _ = kernel_inception_distance(a, b + 0.5, subset_size=200, subsets=20)
    assert abs(same) < 0.01 < diff


def test_kid_subset_larger_than_the_sample_is_refused():
    with pytest.raises(ConfigError, match="larger than the sample"):
        kernel_inception_distance(torch.randn(50, 2), torch.randn(40, 2), subset_size=100)


def _blur(x, sigma):
    k = 5
    t = torch.arange(k) - k // 2
    g = torch.exp(-t.float() ** 2 / (2 * sigma**2))
    w = (g[:, None] * g[None, :]) / g.sum() ** 2
    return F.conv2d(x, w[None, None], padding=k // 2)


def test_fd_on_extractor_features_halves_near_zero_and_monotone_in_corruption(tiny_extractor):
    data = load_splits(DataConfig(dataset="digits"))
    x = torch.cat([data.train.images(slice(None)), data.test.images(slice(None))])  # (1617, 1, 8, 8)
    g = torch.Generator().manual_seed(0)
    x = x[torch.randperm(len(x), generator=g)]
    a, b = x[:800], x[800:1600]
    fa = tiny_extractor(a)[0]
    halves = frechet_distance_of_features(fa, tiny_extractor(b)[0])
    noise = [frechet_distance_of_features(fa, tiny_extractor((b + s * torch.randn(b.shape, generator=g)).clamp(0, 1))[0])
             for s in (0.1, 0.2, 0.4, 0.8)]
    blur = [frechet_distance_of_features(fa, tiny_extractor(_blur(b, s))[0]) for s in (0.5, 1.0, 2.0)]
    assert all(p < q for p, q in zip(noise, noise[1:], strict=False)), noise
    assert all(p < q for p, q in zip(blur, blur[1:], strict=False)), blur
    # two halves of one set differ only by sampling error (a small positive bias of FD at N = 800)
    assert halves < noise[0] and halves < 0.1 * noise[-1] and halves < 0.2 * blur[0], (halves, noise, blur)
