"""Reconstruction quality: MSE, PSNR and SSIM per image, for images in [0, 1].

SSIM follows Wang et al. 2004: an 11x11 Gaussian window (sigma 1.5), C1 = (0.01 L)^2,
C2 = (0.03 L)^2 with L = 1, the mean of the SSIM map over valid positions and channels. Images
smaller than the window use a window of the image's size.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def mse(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean squared error per image: (N, C, H, W) x2 -> (N,)."""
    return (x.float() - y.float()).pow(2).flatten(1).mean(1)


def psnr(x: torch.Tensor, y: torch.Tensor, data_range: float = 1.0) -> torch.Tensor:
    """Peak signal-to-noise ratio in dB per image, 10 log10(L^2 / MSE); inf for identical images."""
    err = mse(x, y)
    return 10.0 * torch.log10(data_range**2 / err)


def _gaussian_window(size: int, sigma: float, channels: int) -> torch.Tensor:
    coords = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-coords.pow(2) / (2 * sigma**2))
    g = (g / g.sum()).float()
    return (g[:, None] * g[None, :]).expand(channels, 1, size, size).contiguous()  # (C, 1, k, k)


def ssim(x: torch.Tensor, y: torch.Tensor, data_range: float = 1.0, window: int = 11,
         sigma: float = 1.5) -> torch.Tensor:
    """Structural similarity per image, (N, C, H, W) x2 -> (N,), 1 for identical images."""
    x, y = x.float(), y.float()
    c = x.shape[1]
    k = min(window, x.shape[-1], x.shape[-2])
    w = _gaussian_window(k, sigma * k / window if k < window else sigma, c).to(x.device)

    def blur(t: torch.Tensor) -> torch.Tensor:
        return F.conv2d(t, w, groups=c)  # valid positions only

    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    mu_x, mu_y = blur(x), blur(y)
    var_x = blur(x * x) - mu_x.pow(2)
    var_y = blur(y * y) - mu_y.pow(2)
    cov = blur(x * y) - mu_x * mu_y
    num = (2 * mu_x * mu_y + c1) * (2 * cov + c2)
    den = (mu_x.pow(2) + mu_y.pow(2) + c1) * (var_x + var_y + c2)
    return (num / den).flatten(1).mean(1)


def laplacian_variance(x: torch.Tensor) -> torch.Tensor:
    """Sharpness per image: the variance of its Laplacian (Pech-Pacheco et al. 2000), (N, C, H, W) -> (N,).

    The image is filtered with the 3x3 kernel [[0, 1, 0], [1, -4, 1], [0, 1, 0]] (valid positions,
    each channel on its own) and the variance of the response is taken over pixels and channels:
    blurry images have weak second derivatives and a small value, sharp strokes a large one.
    """
    x = x.float()
    c = x.shape[1]
    k = torch.tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]], device=x.device)
    lap = F.conv2d(x, k.expand(c, 1, 3, 3).contiguous(), groups=c)  # (N, C, H-2, W-2)
    return lap.flatten(1).var(1, unbiased=False)


def summarize(x: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
    """Mean MSE, PSNR (dB, over images with non-zero error) and SSIM of two image batches."""
    p = psnr(x, y)
    finite = p[torch.isfinite(p)]
    return {"mse": float(mse(x, y).mean()), "psnr": float(finite.mean()) if len(finite) else math.inf,
            "ssim": float(ssim(x, y).mean())}
