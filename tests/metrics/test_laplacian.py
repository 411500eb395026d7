"""The variance of the Laplacian (sharpness) against a hand computation."""
import pytest
import torch

from genlab.metrics.recon import laplacian_variance


def test_laplacian_variance_by_hand():
    # a single bright pixel in the middle of a 3x4 image: valid positions are (1, 1) and (1, 2);
    # the Laplacian is -4 at the pixel and +1 at its right neighbour -> values -4, 1: mean -1.5, var 6.25
    x = torch.zeros(1, 1, 3, 4)
    x[0, 0, 1, 1] = 1.0
    assert float(laplacian_variance(x)[0]) == pytest.approx(6.25)
    flat = torch.full((2, 3, 5, 5), 0.3)
    assert torch.equal(laplacian_variance(flat), torch.zeros(2))
    torch.manual_seed(0)
    blurred = torch.nn.functional.avg_pool2d(torch.rand(4, 1, 12, 12).round(), 3, 1, 1)
    assert bool((laplacian_variance(blurred) < laplacian_variance(torch.rand(4, 1, 12, 12).round())).all())
