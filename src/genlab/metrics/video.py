"""Metrics of clips (N, T, C, H, W) in [0, 1].

* :func:`frame_fd`: the Frechet distance between the features of real and generated frames,
  computed per frame index and averaged over the T frames (any image feature function, e.g. the
  dataset's evaluation extractor);
* :func:`temporal_change`: the mean absolute frame-to-frame change of a set of clips; the
  temporal-consistency figure compares generated clips with real ones (ratio 1 = as much motion);
* :func:`centroid_speed`: the mean distance (px per frame) the intensity centroid of a frame moves, a
  speed that blur does not lower (a blurry digit moving at the real speed changes fewer pixels, so
  :func:`temporal_change` alone reads blur as slow motion);
* :func:`identity_consistency`: how often a frame classifier gives a clip's frames the clip's most common
  class (1 = every frame read as the same digit; a generator whose digit changes identity over time
  scores lower than real clips do);
* :func:`prediction_scores`: per-frame MSE and SSIM of predicted future frames against the true
  ones, beside the copy-last-frame baseline (every future frame = the last given frame).
"""
from __future__ import annotations

from collections.abc import Callable

import torch

from genlab.metrics.fid import frechet_distance_of_features
from genlab.metrics.recon import ssim

Features = Callable[[torch.Tensor], torch.Tensor]  # images (B, C, H, W) in [0, 1] -> (B, D)


@torch.no_grad()
def frame_fd(features: Features, real: torch.Tensor, fake: torch.Tensor) -> float:
    """Frechet distance of frame features, per frame index t, averaged over t."""
    t = real.shape[1]
    values = []
    for i in range(t):
        values.append(frechet_distance_of_features(features(real[:, i]).cpu(), features(fake[:, i]).cpu()))
    return float(sum(values) / t)


def temporal_change(clips: torch.Tensor) -> float:
    """Mean |x_{t+1} - x_t| over pixels, frames and clips."""
    return float((clips[:, 1:].float() - clips[:, :-1].float()).abs().mean())


def temporal_consistency(real: torch.Tensor, fake: torch.Tensor) -> dict[str, float]:
    """Frame-to-frame change of generated and real clips, and their ratio (1 = the same amount of motion)."""
    r, f = temporal_change(real), temporal_change(fake)
    return {"change_real": r, "change_generated": f, "change_ratio": f / r if r > 0 else float("nan")}


def centroid_speed(clips: torch.Tensor) -> float:
    """Mean |c_{t+1} - c_t| (px per frame) of the intensity centroid c_t of each frame (summed over
    channels), over frames and clips; frames without intensity count as not moving."""
    x = clips.float().sum(2)  # (N, T, H, W)
    mass = x.sum((2, 3))
    ys = torch.arange(x.shape[2], dtype=x.dtype)
    xs = torch.arange(x.shape[3], dtype=x.dtype)
    cy = (x.sum(3) * ys).sum(2) / mass.clamp_min(1e-8)
    cx = (x.sum(2) * xs).sum(2) / mass.clamp_min(1e-8)
    step = ((cy[:, 1:] - cy[:, :-1]).pow(2) + (cx[:, 1:] - cx[:, :-1]).pow(2)).sqrt()
    lit = (mass[:, 1:] > 0) & (mass[:, :-1] > 0)
    return float((step * lit).mean())


@torch.no_grad()
def identity_consistency(classify: Callable[[torch.Tensor], torch.Tensor], clips: torch.Tensor) -> float:
    """The share of frames whose predicted class is their clip's most common predicted class.

    Args:
        classify: frames (B, C, H, W) in [0, 1] -> class logits (B, K).
        clips: (N, T, C, H, W) in [0, 1].
    """
    n, t = clips.shape[:2]
    pred = classify(clips.reshape(n * t, *clips.shape[2:])).argmax(1).reshape(n, t).cpu()
    mode = pred.mode(1).values
    return float((pred == mode[:, None]).float().mean())


def _per_frame(pred: torch.Tensor, truth: torch.Tensor) -> tuple[list[float], list[float]]:
    mse, sim = [], []
    for i in range(pred.shape[1]):
        mse.append(float((pred[:, i].float() - truth[:, i].float()).pow(2).mean()))
        sim.append(float(ssim(pred[:, i], truth[:, i]).mean()))
    return mse, sim


def prediction_scores(pred: torch.Tensor, truth: torch.Tensor, k: int) -> dict[str, list[float] | float]:
    """Per-frame MSE / SSIM of the predicted frames k..T-1 against the true ones, and of copy-last-frame."""
    future, real = pred[:, k:], truth[:, k:]
    copy = truth[:, k - 1:k].expand_as(real)
    mse, sim = _per_frame(future, real)
    base_mse, base_sim = _per_frame(copy, real)
    return {"mse": mse, "ssim": sim, "copy_last_mse": base_mse, "copy_last_ssim": base_sim,
            "mean_mse": sum(mse) / len(mse), "mean_ssim": sum(sim) / len(sim),
            "mean_copy_last_mse": sum(base_mse) / len(mse), "mean_copy_last_ssim": sum(base_sim) / len(sim)}
