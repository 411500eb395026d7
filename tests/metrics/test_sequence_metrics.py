"""Series and clip metrics: discriminative / predictive scores, autocorrelation, block bootstrap,
frame FD, temporal consistency and frame-prediction scores against copy-last-frame."""
import numpy as np
import torch

from genlab.metrics.series import (
    autocorrelation,
    block_bootstrap,
    discriminative_score,
    predictive_score,
    save_comparison_plot,
)
from genlab.metrics.video import frame_fd, prediction_scores, temporal_consistency


def _sines(n, t=16, seed=0, noise=0.05):
    rng = np.random.default_rng(seed)
    phase = rng.uniform(0, 2 * np.pi, (n, 1, 1))
    return np.sin(np.arange(t)[None, :, None] / 2 + phase) + noise * rng.standard_normal((n, t, 1))


def test_the_discriminative_score_is_near_half_for_the_same_process_and_high_for_noise():
    same = discriminative_score(_sines(100, seed=0), _sines(100, seed=1))
    noise = discriminative_score(_sines(100, seed=0), np.random.default_rng(2).standard_normal((100, 16, 1)))
    assert 0.3 < same < 0.7 and noise > 0.9


def test_the_predictive_score_prefers_generated_data_that_follows_the_dynamics():
    real = _sines(200, seed=0)
    good = predictive_score(real, _sines(200, seed=1))
    bad = predictive_score(real, np.random.default_rng(2).standard_normal((200, 16, 1)))
    assert good["train_generated"] < 0.2 < bad["train_generated"] and good["train_real"] < 0.2


def test_autocorrelation_and_the_block_bootstrap(tmp_path):
    ac = autocorrelation(_sines(50, t=64, noise=0), 8)
    assert abs(ac[0] - 1) < 1e-9 and ac[6] < -0.5  # period 4 pi ~ 12.6 steps: negative near half a period
    series = np.arange(100.0)
    boot = block_bootstrap(series, 5, 12, block=4, seed=0)
    assert boot.shape == (5, 12, 1)
    blocks = boot[..., 0].reshape(5, 3, 4)
    assert (np.diff(blocks, axis=2) == 1).all()  # every block is consecutive steps of the series
    path = save_comparison_plot({"real": _sines(20), "boot": boot}, tmp_path / "ac.png", 5)
    assert path.stat().st_size > 1000


def test_video_metrics():
    torch.manual_seed(0)
    real = torch.rand(6, 5, 1, 8, 8)
    static = real[:, :1].expand_as(real).clone()
    tc = temporal_consistency(real, static)
    assert tc["change_generated"] == 0 and tc["change_ratio"] == 0 and tc["change_real"] > 0
    scores = prediction_scores(static, static, 2)  # a still clip: copying the last frame is exact
    assert scores["mean_copy_last_mse"] == 0 and len(scores["mse"]) == 3 and scores["mean_ssim"] > 0.99
    flat = lambda x: x.flatten(1)  # noqa: E731 - a feature function on images
    assert frame_fd(flat, real, real) < 1e-6 < frame_fd(flat, real, static)
