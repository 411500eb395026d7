"""The built-in translation tasks are deterministic and never train on a test photograph (issue 15)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from genlab.data.pair_tasks import (
    TEST_PHOTOS,
    TRAIN_PHOTOS,
    VALIDATION_PHOTOS,
    edge_map,
    grid_crops,
    photo_crops,
    random_crops,
)
from genlab.data.pairs import area_downsample, pack, unpack


def test_edge_map_is_the_inner_boundary_of_the_thresholded_digit():
    x = torch.zeros(1, 1, 6, 6, dtype=torch.uint8)
    x[0, 0, 1:5, 1:5] = 200  # a 4x4 square
    edges = edge_map(x)[0, 0] // 255
    expected = torch.zeros(6, 6, dtype=torch.uint8)
    expected[1:5, 1:5] = 1
    expected[2:4, 2:4] = 0  # the square's interior is not an edge
    assert torch.equal(edges, expected)


def test_packing_round_trips_and_area_downsampling_is_the_block_mean():
    b = torch.arange(2 * 16, dtype=torch.uint8).view(2, 1, 4, 4) * 7
    a = area_downsample(b, 2)
    assert a[0, 0, 0, 0] == round(float(b[0, 0, :2, :2].float().mean()))
    ds = pack(a, b, None, "t")
    ra, rb = unpack(ds.images(slice(None)), 1, 2)
    assert torch.allclose(ra * 255, a.float(), atol=1e-3) and torch.equal((rb * 255).round().byte(), b)


def test_photo_crops_are_deterministic_and_hold_out_whole_photographs():
    pytest.importorskip("skimage")
    assert not set(TEST_PHOTOS) & set(TRAIN_PHOTOS) and not set(VALIDATION_PHOTOS) & set(TRAIN_PHOTOS)
    img = np.random.default_rng(0).integers(0, 255, (120, 200, 3), dtype=np.uint8)
    assert torch.equal(random_crops(img, 5, seed=3), random_crops(img, 5, seed=3))
    assert grid_crops(img).shape == (2, 3, 96, 96)
    crops = photo_crops()
    train = {bytes(c.numpy()) for c in crops["train"][0]}
    assert not any(bytes(c.numpy()) in train for c in crops["test"][0])  # no test crop is ever trained on
    assert [g[0] for g in crops["test"][1]] == list(TEST_PHOTOS)
