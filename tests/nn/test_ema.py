"""The exponential moving average of weights (genlab.nn.ema), shared by the GAN family and diffusion."""
import pytest
import torch
from torch import nn

from genlab.nn.ema import ema_decay_at, ema_update_


def test_ema():
    avg, live = nn.BatchNorm1d(2), nn.BatchNorm1d(2)
    with torch.no_grad():
        avg.weight.zero_()
        live.weight.fill_(1.0)
        live.running_mean.fill_(3.0)
    ema_update_(avg, live, 0.9)
    assert torch.allclose(avg.weight, torch.full((2,), 0.1))  # 0.9 * 0 + 0.1 * 1
    assert torch.equal(avg.running_mean, live.running_mean)  # buffers copied
    assert ema_decay_at(0.999, 0) == pytest.approx(0.1) and ema_decay_at(0.999, 10**6) == 0.999
