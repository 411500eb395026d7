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


def test_photo_training_set_v2_is_whole_photographs_none_of_them_held_out():
    """Version 2 trains on 14 bundled photographs; none of them is, pixel for pixel, a validation
    or test photograph (scikit-image's `cat` IS chelsea), and gray ones are repeated to RGB."""
    pytest.importorskip("skimage")
    from genlab.data.pair_tasks import (
        COLOUR_TRAIN_PHOTOS,
        GRAY_TRAIN_PHOTOS,
        PHOTOS_VERSION,
        load_colorize_photos,
        photograph,
    )

    assert PHOTOS_VERSION == 2 and len(TRAIN_PHOTOS) == 14 == len(set(TRAIN_PHOTOS))
    held_out = {n: photograph(n) for n in (*VALIDATION_PHOTOS, *TEST_PHOTOS)}
    assert np.array_equal(photograph("cat"), held_out["chelsea"])  # the alias the check below must catch
    for name in TRAIN_PHOTOS:
        img = photograph(name)
        assert img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3 and min(img.shape[:2]) >= 96, name
        assert not any(img.shape == h.shape and np.array_equal(img, h) for h in held_out.values()), name
        gray = bool((img[..., 0] == img[..., 1]).all() and (img[..., 1] == img[..., 2]).all())
        assert gray == (name in GRAY_TRAIN_PHOTOS), name
    left, right = photograph("stereo_motorcycle"), photograph("stereo_motorcycle_right")
    assert left.shape == right.shape and not np.array_equal(left, right)
    from genlab.config import DataConfig

    colour = load_colorize_photos(DataConfig(dataset="colorize-photos"))
    groups = colour.train.info["pairing"]["groups"]
    assert [g[0] for g in groups] == list(COLOUR_TRAIN_PHOTOS)  # colorization: no gray targets
    assert colour.test.info["pairing"]["photos_version"] == PHOTOS_VERSION


def test_whole_photo_pair_is_the_photograph_cut_to_the_scale_and_area_downsampled():
    pytest.importorskip("skimage")
    from genlab.data.pair_tasks import photograph, whole_photo

    a, b = whole_photo("chelsea", 4)
    img = photograph("chelsea")  # 300 x 451
    assert b.shape == (1, 3, 300, 448) and a.shape == (1, 3, 75, 112)
    assert torch.equal(b[0].permute(1, 2, 0), torch.from_numpy(img[:300, :448]))
    assert torch.equal(a, area_downsample(b, 4))
