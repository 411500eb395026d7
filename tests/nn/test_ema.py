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


def test_the_foreach_update_gives_the_bits_of_a_per_tensor_lerp():
    torch.manual_seed(0)
    live = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Linear(5, 2))
    avg, reference = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Linear(5, 2)), None
    with torch.no_grad():
        live[1].running_var.uniform_()
        live[1].num_batches_tracked.fill_(7)
    reference = [p.detach().clone() for p in avg.parameters()]
    ema_update_(avg, live, 0.97)
    for r, p in zip(reference, live.parameters(), strict=True):
        r.lerp_(p.detach(), 1.0 - 0.97)
    assert all(torch.equal(a, r) for a, r in zip(avg.parameters(), reference, strict=True))
    assert all(torch.equal(a, b) for a, b in zip(avg.buffers(), live.buffers(), strict=True))
