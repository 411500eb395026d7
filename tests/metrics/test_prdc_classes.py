"""Precision/recall, density/coverage and class metrics on hand-made examples."""
import math

import pytest
import torch

from genlab.errors import ConfigError
from genlab.metrics.classes import class_coverage, class_kl, inception_score, label_accuracy, mode_collapse_warning
from genlab.metrics.prdc import density_coverage, knn_radii, precision_recall


def test_knn_radii_by_hand():
    x = torch.tensor([[0.0], [1.0], [3.0], [7.0]])
    assert knn_radii(x, 1).tolist() == [1.0, 1.0, 2.0, 4.0]
    assert knn_radii(x, 2).tolist() == [3.0, 2.0, 3.0, 6.0]
    with pytest.raises(ConfigError):
        knn_radii(x, 4)


def test_precision_recall_density_coverage_by_hand():
    real = torch.tensor([[0.0], [1.0], [2.0], [3.0]])  # k=1 radii: 1, 1, 1, 1 -> manifold [-1, 4]
    fake = torch.tensor([[0.5], [3.5], [10.0], [11.0]])  # k=1 radii: 3, 3, 1, 1
    p, r = precision_recall(real, fake, k=1)
    assert p == pytest.approx(0.5)  # 0.5 and 3.5 lie in real balls; 10 and 11 do not
    assert r == pytest.approx(1.0)  # every real point lies within 3 of 0.5 or 3.5
    d, c = density_coverage(real, fake, k=1)
    # 0.5 is in the balls of 0 and 1 (2 hits), 3.5 in the ball of 3 (1 hit): density = 3 / (1 * 4)
    assert d == pytest.approx(0.75)
    assert c == pytest.approx(0.75)  # balls of 0, 1 and 3 hold a fake point; the ball of 2 does not


def test_identical_sets_score_one():
    x = torch.randn(200, 5, generator=torch.Generator().manual_seed(0))
    assert precision_recall(x, x, 3) == (1.0, 1.0)
    assert density_coverage(x, x, 5)[1] == 1.0


def test_inception_score_extremes():
    k = 10
    confident_diverse = torch.eye(k).repeat(10, 1)  # 100 samples, each class equally, certain
    assert inception_score(confident_diverse, splits=1)[0] == pytest.approx(k, rel=1e-6)
    collapsed = torch.eye(k)[[3] * 100]
    assert inception_score(collapsed, splits=1)[0] == pytest.approx(1.0, rel=1e-6)
    uncertain = torch.full((100, k), 1.0 / k)
    mean, std = inception_score(uncertain, splits=5)
    assert mean == pytest.approx(1.0) and std == pytest.approx(0.0, abs=1e-9)
    # two classes, p(y|x) = (0.9, 0.1) and (0.1, 0.9) in equal numbers: exp(KL((.9,.1) || (.5,.5)))
    p = torch.tensor([[0.9, 0.1], [0.1, 0.9]]).repeat(5, 1)
    assert inception_score(p, splits=1)[0] == pytest.approx(math.exp(0.9 * math.log(1.8) + 0.1 * math.log(0.2)))


def test_class_coverage_kl_and_label_accuracy():
    real = torch.arange(100) % 10
    assert class_coverage(real, 10) == 1.0 and class_kl(real, real, 10) == pytest.approx(0.0, abs=1e-9)
    two = torch.tensor([0, 1] * 50)
    assert class_coverage(two, 10) == pytest.approx(0.2)
    assert class_kl(two, real, 10) == pytest.approx(math.log(5))  # 0.5 log(0.5 / 0.1) twice
    assert label_accuracy(torch.tensor([1, 2, 3, 0]), torch.tensor([1, 2, 0, 0])) == 0.75


def test_mode_collapse_warning_counts_covered_classes():
    assert mode_collapse_warning(torch.full((10,), 0.1)) is None
    shares = torch.tensor([0.5, 0.3, 0.19, 0.005] + [0.0] * 6)  # 0.005 < 1% of the samples: not covered
    message = mode_collapse_warning(shares)
    assert message.startswith("samples cover 3 of 10 classes (most frequent 0: 50%, 1: 30%, 2: 19%)")
    assert mode_collapse_warning(shares, min_share=0.05).startswith("samples cover 4 of 10")
