import math

import pytest
import torch

from genlab.metrics.recon import mse, psnr, ssim, summarize


def _pair():
    i, j = torch.meshgrid(torch.arange(28.0), torch.arange(28.0), indexing="ij")
    x = ((i * 3 + j * 5) % 17) / 16.0
    y = (x + 0.2 * torch.sin(i * 0.7 + j * 1.3)).clamp(0, 1)
    return x[None, None], y[None, None]


def test_ssim_matches_the_reference_implementation():
    # golden value: skimage.metrics.structural_similarity(x, y, data_range=1, gaussian_weights=True,
    # sigma=1.5, use_sample_covariance=False) on this deterministic pair
    x, y = _pair()
    assert ssim(x, y).item() == pytest.approx(0.9096631640072271, abs=1e-5)
    assert ssim(x, x).item() == pytest.approx(1.0, abs=1e-6)


def test_psnr_and_mse_by_hand():
    x = torch.zeros(1, 1, 4, 4)
    y = torch.full((1, 1, 4, 4), 0.1)
    assert mse(x, y).item() == pytest.approx(0.01)
    assert psnr(x, y).item() == pytest.approx(20.0)  # 10 log10(1 / 0.01)
    assert math.isinf(psnr(x, x).item())
    s = summarize(torch.cat([x, x]), torch.cat([y, x]))
    assert s["psnr"] == pytest.approx(20.0) and s["mse"] == pytest.approx(0.005)


def test_ssim_works_per_channel_and_on_small_images():
    x = torch.rand(3, 3, 8, 8)
    assert torch.allclose(ssim(x, x), torch.ones(3))
    assert (ssim(x, torch.rand(3, 3, 8, 8)) < 0.5).all()
