"""Metrics on the class probabilities a classifier gives generated images.

- Inception Score (Salimans et al. 2016, sec. 4): IS = exp(E_x KL(p(y|x) || p(y))), with p(y) the
  mean of p(y|x) over the samples; computed on ``splits`` equal parts and reported as mean and
  standard deviation. genlab's version uses its own dataset classifier, not Inception: it is
  comparable only between results with the same extractor id.
- Class coverage: the share of classes the generated samples hit, a class counting as covered
  when at least ``min_share`` of its share under a uniform distribution (default 10%: 1% of the
  samples for 10 classes) is predicted as that class.
- Class KL: KL(generated class histogram || real class histogram), the real histogram being the
  classifier's predictions on real images; large values signal mode collapse or dropping.
- Mode-collapse warning: the one line ``genlab modes`` and the trainer's mode monitor print when
  samples cover fewer classes than there are (the coverage rule above).
- Label accuracy (conditional models): the share of samples classified as the label they were
  generated for.
"""
from __future__ import annotations

import math

import torch

from genlab.errors import ConfigError

EPS = 1e-12
# a class is covered when it gets at least this fraction of a uniform share of the samples
COVERAGE_MIN_SHARE = 0.1


def inception_score(probs: torch.Tensor, splits: int = 10) -> tuple[float, float]:
    """Classifier-based Inception Score, mean and standard deviation over ``splits`` parts.

    Args:
        probs: class probabilities p(y|x), (N, K), rows summing to 1.
        splits: number of equal parts (the last items are dropped when N is not divisible).
    """
    if len(probs) < splits:
        raise ConfigError(f"the Inception Score over {splits} splits needs at least {splits} samples, got {len(probs)}")
    p = probs.double().clamp_min(EPS)
    size = len(p) // splits
    scores = []
    for i in range(splits):
        part = p[i * size:(i + 1) * size]  # (n, K)
        marginal = part.mean(0, keepdim=True)  # p(y), (1, K)
        kl = (part * (part.log() - marginal.log())).sum(1)  # KL(p(y|x) || p(y)) per sample
        scores.append(math.exp(float(kl.mean())))
    t = torch.tensor(scores)
    return float(t.mean()), float(t.std(unbiased=False))


def class_histogram(predictions: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Share of each class among predicted labels, (N,) -> (K,) summing to 1."""
    return torch.bincount(predictions.long(), minlength=num_classes).double() / max(len(predictions), 1)


def covered_classes(class_shares: torch.Tensor, min_share: float = COVERAGE_MIN_SHARE) -> torch.Tensor:
    """(K,) bool: the classes with at least ``min_share / K`` of the samples (the coverage rule)."""
    return class_shares >= min_share / class_shares.numel()


def class_coverage(predictions: torch.Tensor, num_classes: int, min_share: float = COVERAGE_MIN_SHARE) -> float:
    """Share of classes with at least ``min_share / num_classes`` of the predictions."""
    return float(covered_classes(class_histogram(predictions, num_classes), min_share).double().mean())


def mode_collapse_warning(class_shares: torch.Tensor, min_share: float = COVERAGE_MIN_SHARE) -> str | None:
    """A one-line warning when generated samples cover too few classes, else None.

    A class counts as covered when at least ``min_share / K`` of the samples are classified as it
    (with the default 0.1 and K = 10 classes: 1% of the samples, a tenth of a uniform share); the
    same rule as :func:`class_coverage`.

    Args:
        class_shares: (K,) share of the samples an evaluation classifier assigns to each class.
        min_share: the fraction of a uniform share a class needs to count as covered.
    """
    k = class_shares.numel()
    covered = int(covered_classes(class_shares, min_share).sum())
    if covered == k:
        return None
    top = [c for c in torch.argsort(class_shares, descending=True)[:3].tolist() if class_shares[c] > 0]
    shown = ", ".join(f"{c}: {float(class_shares[c]):.0%}" for c in top)
    return f"samples cover {covered} of {k} classes (most frequent {shown}): the generator is collapsing onto few modes"


def class_kl(fake_predictions: torch.Tensor, real_predictions: torch.Tensor, num_classes: int) -> float:
    """KL(generated class histogram || real class histogram) in nats (empty bins smoothed by 1e-12)."""
    p = class_histogram(fake_predictions, num_classes).clamp_min(EPS)
    q = class_histogram(real_predictions, num_classes).clamp_min(EPS)
    p, q = p / p.sum(), q / q.sum()
    return float((p * (p.log() - q.log())).sum())


def label_accuracy(predictions: torch.Tensor, labels: torch.Tensor) -> float:
    """Share of samples classified as the label they were generated for."""
    return float((predictions.cpu() == labels.cpu()).double().mean())
