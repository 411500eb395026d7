"""Layers and regularizers of the progressive and style-based GANs (ProGAN, StyleGAN2).

* :class:`EqualizedLinear` / :class:`EqualizedConv2d`: the equalized learning rate of Karras et
  al. 2018 (ProGAN, sec. 4.1). Weights are stored as N(0, 1) draws and multiplied at run time by
  the He constant ``gain / sqrt(fan_in)``, so Adam's per-parameter step size moves every layer at
  the same speed. ``lr_mul`` (StyleGAN's mapping network, 0.01) slows a layer further.
* :class:`PixelNorm`: x / sqrt(mean over channels of x^2 + eps) at every pixel (ProGAN, sec. 4.2).
* Minibatch standard deviation: :class:`genlab.nn.gan_blocks.MinibatchStd` (re-exported here).
* :class:`ModulatedConv2d`: StyleGAN2's weight modulation and demodulation (Karras et al. 2020,
  sec. 2.2, eq. 1-3): w'_ijk = s_i * w_ijk, w''_ijk = w'_ijk / sqrt(sum_ik w'_ijk^2 + eps), run
  as one grouped convolution over the batch.
* :class:`NoiseInjection`: per-pixel Gaussian noise times a learned per-layer strength.
* :func:`r1_penalty` (Mescheder et al. 2018), its lazy form :func:`lazy_r1` and :func:`path_length_penalty`
  (StyleGAN2, sec. 3.2).
"""
from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from genlab.nn.gan_blocks import MinibatchStd

Tensor = torch.Tensor
LRELU_GAIN = math.sqrt(2.0)  # He gain of LeakyReLU(0.2), rounded as in the papers

__all__ = ["EqualizedConv2d", "EqualizedLinear", "MinibatchStd", "ModulatedConv2d", "NoiseInjection", "PixelNorm",
           "lazy_r1", "lrelu", "path_length_penalty", "r1_penalty"]


def lrelu(x: Tensor) -> Tensor:
    return F.leaky_relu(x, 0.2)


class EqualizedLinear(nn.Linear):
    """A linear layer with the equalized learning rate: y = x (scale * W)^T + lr_mul * b.

    An ``nn.Linear`` (so summaries count it) whose stored weights are N(0, 1) / lr_mul.

    Args:
        gain: He gain of the following nonlinearity (sqrt 2 for LeakyReLU, 1 for a linear output).
        lr_mul: learning-rate multiplier: weights are stored as N(0, 1) / lr_mul and scaled by
            lr_mul at run time, so their updates shrink by lr_mul.
        bias_init: the initial value of the effective bias.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, gain: float = LRELU_GAIN,
                 lr_mul: float = 1.0, bias_init: float = 0.0):
        super().__init__(in_features, out_features, bias=bias)
        with torch.no_grad():
            self.weight.normal_().div_(lr_mul)
            if self.bias is not None:
                self.bias.fill_(bias_init / lr_mul)
        self.scale = gain / math.sqrt(in_features) * lr_mul
        self.lr_mul = lr_mul

    def forward(self, x: Tensor) -> Tensor:
        bias = None if self.bias is None else self.bias * self.lr_mul
        return F.linear(x, self.weight * self.scale, bias)


class EqualizedConv2d(nn.Conv2d):
    """A stride-1 'same' convolution with the equalized learning rate (weights N(0, 1) times
    gain / sqrt(in_channels * k * k) at run time); an ``nn.Conv2d``, so summaries count it."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, bias: bool = True,
                 gain: float = LRELU_GAIN):
        super().__init__(in_channels, out_channels, kernel_size, padding=kernel_size // 2, bias=bias)
        with torch.no_grad():
            self.weight.normal_()
            if self.bias is not None:
                self.bias.zero_()
        self.scale = gain / math.sqrt(in_channels * kernel_size * kernel_size)

    def forward(self, x: Tensor) -> Tensor:
        return F.conv2d(x, self.weight * self.scale, self.bias, padding=self.padding)


class PixelNorm(nn.Module):
    """Normalize the feature vector of each pixel (dim 1) to unit root mean square."""

    def forward(self, x: Tensor) -> Tensor:
        return x * torch.rsqrt(x.pow(2).mean(dim=1, keepdim=True) + 1e-8)


class ModulatedConv2d(nn.Module):
    """A convolution whose weights are scaled per sample by a style, then (optionally) demodulated.

    Args:
        style_dim: size of the w vector; an equalized affine layer maps it to one scale per input
            channel (bias 1, so styles start near the identity).
        demodulate: divide each output channel's weights by their norm (False for toRGB layers).
        upsample: double the spatial size (bilinear) before the convolution.

    ``forward(x (B, I, H, W), w (B, style_dim)) -> (B, O, H', W')``, no bias (see the models).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, style_dim: int,
                 demodulate: bool = True, upsample: bool = False):
        super().__init__()
        self.affine = EqualizedLinear(style_dim, in_channels, gain=1.0, bias_init=1.0)
        self.conv = EqualizedConv2d(in_channels, out_channels, kernel_size, bias=False, gain=1.0)  # shared weights
        self.demodulate, self.upsample = demodulate, upsample

    def sample_weights(self, w: Tensor) -> Tensor:
        """The per-sample weights (B, O, I, k, k) for styles w (B, style_dim)."""
        s = self.affine(w)  # (B, I)
        weight = self.conv.weight[None] * self.conv.scale * s[:, None, :, None, None]  # (B, O, I, k, k)
        if self.demodulate:
            weight = weight * torch.rsqrt(weight.pow(2).sum(dim=(2, 3, 4), keepdim=True) + 1e-8)
        return weight

    def forward(self, x: Tensor, w: Tensor) -> Tensor:
        """The same result as convolving each sample with :meth:`sample_weights`, computed as StyleGAN2's
        non-fused path: scale the input channels by s, convolve with the shared weights, scale each
        output channel by its demodulation coefficient (one ordinary batched convolution, fast on CPUs)."""
        if self.upsample:
            x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
        s = self.affine(w)  # (B, I)
        out = self.conv(x * s.to(x.dtype)[:, :, None, None])
        if self.demodulate:
            # sum_{i,k} (s_i w_oik)^2 = s^2 @ (sum_k w_oik^2)^T: (B, O)
            weight = self.conv.weight.float() * self.conv.scale
            d = torch.rsqrt(s.float().pow(2) @ weight.pow(2).sum(dim=(2, 3)).t() + 1e-8)
            out = out * d.to(out.dtype)[:, :, None, None]
        return out


class NoiseInjection(nn.Module):
    """x + strength * noise, noise (B, 1, H, W) broadcast over channels; strength learned (init 0)."""

    def __init__(self) -> None:
        super().__init__()
        self.strength = nn.Parameter(torch.zeros(()))

    def forward(self, x: Tensor, noise: Tensor) -> Tensor:
        return x + self.strength * noise.to(x.dtype)


def r1_penalty(discriminator: Callable[[Tensor], Tensor], real: Tensor) -> Tensor:
    """E[||grad_x D(x)||^2] on real images (Mescheder et al. 2018, eq. 9, without gamma / 2).

    The gradient stays in the graph, so the penalty trains the discriminator. Returns a float32 scalar.
    """
    x = real.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(discriminator(x).float().sum(), x, create_graph=True)
    return grad.float().flatten(1).pow(2).sum(1).mean()


def lazy_r1(discriminator: Callable[[Tensor], Tensor], real: Tensor, gamma: float,
            every: int) -> tuple[Tensor, Tensor]:
    """StyleGAN2's lazy R1 on a step where it is due: the loss term gamma / 2 * every * E||grad D(x)||^2
    (scaled by the number of steps it stands for) and the penalty itself, detached, for the logs."""
    r1 = r1_penalty(discriminator, real)
    return gamma / 2 * every * r1, r1.detach()


def path_length_penalty(synthesize: Callable[[Tensor], Tensor], ws: Tensor, mean: Tensor,
                        decay: float = 0.01) -> tuple[Tensor, Tensor, Tensor]:
    """StyleGAN2's path-length penalty E[(||J_w^T y||_2 - a)^2], y ~ N(0, I) / sqrt(H W).

    Args:
        synthesize: ws (B, L, D) -> images (B, C, H, W).
        ws: the styles, a leaf the gradient is taken with respect to.
        mean: a, the running mean of the lengths (a scalar tensor; not modified here).
        decay: how fast the running mean follows the batch mean.

    Returns:
        (penalty, mean length of the batch, updated running mean), the last two detached.
    """
    ws = ws.detach().requires_grad_(True)
    images = synthesize(ws)
    y = torch.randn_like(images) / math.sqrt(images.shape[2] * images.shape[3])
    (grad,) = torch.autograd.grad((images * y).float().sum(), ws, create_graph=True)
    lengths = grad.float().pow(2).sum(2).mean(1).sqrt()  # (B,)
    new_mean = mean.float() + decay * (lengths.mean().detach() - mean.float())
    return (lengths - new_mean).pow(2).mean(), lengths.mean().detach(), new_mean.detach()
