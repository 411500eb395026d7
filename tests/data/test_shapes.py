"""The shapes dataset: deterministic, cached in chunks, and its factors match what is drawn."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from genlab.config import DataConfig
from genlab.data import load_splits, shapes


@pytest.fixture
def small_shapes(monkeypatch, tmp_path):
    """Tiny split sizes and chunks (the real ones are 60k/10k/10k in chunks of 10k)."""
    monkeypatch.setattr(shapes, "SIZES", {"train": 300, "validation": 40, "test": 40})
    monkeypatch.setattr(shapes, "CHUNK", 128)
    monkeypatch.setenv("GENLAB_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _coverage(img: np.ndarray, obj: tuple[int, int, int], bg: tuple[int, int, int]) -> np.ndarray:
    """Per-pixel object coverage in [0, 1] of an anti-aliased image (H, W, 3) (a linear blend of bg and obj)."""
    diff = np.asarray(obj, dtype=np.float64) - np.asarray(bg, dtype=np.float64)
    return ((img.astype(np.float64) - bg) @ diff / (diff @ diff)).clip(0, 1)


@pytest.mark.parametrize("size", [32, 64])
def test_centroid_matches_position_factors(size):
    table = shapes.factors("train", 40)
    for i in range(40):
        f = {k: float(v[i]) for k, v in table.items()}
        img = shapes.draw(int(f["shape"]), f["obj_hue"], f["bg_hue"], f["scale"], f["rotation"], f["x"], f["y"],
                          size=size)
        cov = _coverage(img, shapes._rgb(f["obj_hue"], 0.85, 0.95), shapes._rgb(f["bg_hue"], 0.6, 0.35))
        rows, cols = np.mgrid[0:size, 0:size] + 0.5  # pixel centres
        cx, cy = (cov * cols).sum() / cov.sum(), (cov * rows).sum() / cov.sum()
        assert abs(cx - f["x"] * size) < 0.3, (i, cx, f["x"] * size)
        assert abs(cy - f["y"] * size) < 0.3, (i, cy, f["y"] * size)
        # the area follows scale: the object covers more than a sliver and stays inside the image
        assert cov.sum() > 0.01 * size * size
        assert cov[0].max() < 0.01 and cov[-1].max() < 0.01 and cov[:, 0].max() < 0.01 and cov[:, -1].max() < 0.01


def test_factors_are_independent_ranges_and_labels():
    table = shapes.factors("train")
    assert len(table["shape"]) == 60_000 and set(np.unique(table["shape"])) == {0, 1, 2, 3}
    assert table["x"].min() >= 0.25 and table["x"].max() <= 0.75 and table["scale"].min() >= 0.5
    assert abs(np.corrcoef(table["x"], table["y"])[0, 1]) < 0.02
    assert not np.array_equal(shapes.factors("validation", 100)["x"], shapes.factors("test", 100)["x"])


def test_loader_is_deterministic_cached_and_limited(small_shapes, capsys):
    cfg = DataConfig(dataset="shapes", image_size=16, limit=150)
    first = load_splits(cfg)
    assert "drawing the shapes dataset at 16x16" in capsys.readouterr().err
    assert first.train.x.shape == (150, 3, 16, 16) and first.train.x.dtype == torch.uint8
    assert first.validation.x.shape == (40, 3, 16, 16) and first.train.classes == shapes.CLASSES
    assert torch.equal(first.train.y, torch.from_numpy(shapes.factors("train", 150)["shape"]))
    chunks = sorted(p.name for p in (small_shapes / "shapes-v1-16").iterdir())
    assert chunks == ["test-00.npz", "train-00.npz", "train-01.npz", "validation-00.npz"]  # only what was needed
    again = load_splits(cfg)  # from the cache
    assert "drawing" not in capsys.readouterr().err
    assert torch.equal(first.train.x, again.train.x) and torch.equal(first.test.x, again.test.x)
    for p in (small_shapes / "shapes-v1-16").iterdir():
        p.unlink()
    redrawn = load_splits(DataConfig(dataset="shapes", image_size=16))  # drawn afresh, all of train
    assert len(redrawn.train) == 300 and torch.equal(redrawn.train.x[:150], first.train.x)
    # a damaged chunk is drawn again
    (small_shapes / "shapes-v1-16" / "test-00.npz").write_bytes(b"junk")
    assert torch.equal(load_splits(cfg).test.x, first.test.x)


def test_default_size_is_64(small_shapes):
    splits = load_splits(DataConfig(dataset="shapes", limit=5))
    assert splits.train.x.shape == (5, 3, 64, 64)


SYMMETRY = {0: 4, 1: 2, 2: 1, 3: 3}  # square, ellipse, heart, triangle: turns that leave the drawing unchanged


def test_factor_targets_encode_the_drawn_factors_and_respect_each_shape_s_symmetry():
    table = shapes.factors("train", 60)
    enc = shapes.encode_factors(table).numpy()
    assert enc.shape == (60, 9) and list(shapes.ENCODING)[:2] == ["cos obj_hue", "sin obj_hue"]
    np.testing.assert_allclose(enc[:, 0], np.cos(2 * np.pi * table["obj_hue"]), atol=1e-6)
    np.testing.assert_allclose(enc[:, 3], np.sin(2 * np.pi * table["bg_hue"]), atol=1e-6)
    np.testing.assert_allclose(enc[:, 7], (table["x"] - 0.5) / (0.5 / np.sqrt(12)), atol=1e-5)
    for k, order in SYMMETRY.items():  # a turn by 360/order degrees: the same image, the same targets
        i = int(np.flatnonzero(table["shape"] == k)[0])
        f = {name: v[i:i + 1].copy() for name, v in table.items()}
        turned = dict(f, rotation=f["rotation"] + 360.0 / order)
        args = [float(f[n][0]) for n in ("obj_hue", "bg_hue", "scale")]
        a = shapes.draw(k, *args, float(f["rotation"][0]), float(f["x"][0]), float(f["y"][0]), size=32)
        b = shapes.draw(k, *args, float(turned["rotation"][0]), float(f["x"][0]), float(f["y"][0]), size=32)
        assert np.abs(a.astype(int) - b).max() <= 2, k
        np.testing.assert_allclose(shapes.encode_factors(turned).numpy(), shapes.encode_factors(f).numpy(), atol=1e-5)
        if order < 4:  # a quarter turn is a different drawing for all but the square, and different targets
            quarter = dict(f, rotation=f["rotation"] + 90.0)
            c = shapes.draw(k, *args, float(quarter["rotation"][0]), float(f["x"][0]), float(f["y"][0]), size=32)
            assert np.abs(a.astype(int) - c).max() > 20, k
            assert np.abs(shapes.encode_factors(quarter).numpy() - shapes.encode_factors(f).numpy()).max() > 0.5


def test_factors_travel_with_limit_recolouring_and_batches(small_shapes):
    from genlab.data.base import BatchIterator, eval_batches

    splits = load_splits(DataConfig(dataset="shapes", image_size=16, channels=1, limit=70))
    train = splits.train
    assert train.x.shape == (70, 1, 16, 16)  # recoloured: a new ArrayDataset, the factors kept
    torch.testing.assert_close(train.factors, shapes.encode_factors(shapes.factors("train", 70)))
    torch.testing.assert_close(splits.test.factors, shapes.encode_factors(shapes.factors("test")))
    it = BatchIterator(train, batch_size=16, seed=3)
    for batch in it.epoch(0):  # each row's factors are its own image's: find the row by its pixels
        for x, y, f in zip(batch.x, batch.y, batch.factors, strict=True):
            i = int(((train.images(slice(None)) - x).abs().flatten(1).sum(1)).argmin())
            assert int(train.y[i]) == int(y) and torch.equal(train.factors[i], f)
    first = next(eval_batches(splits.test, 8))
    torch.testing.assert_close(first.factors, splits.test.factors[:8])
