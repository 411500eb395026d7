"""npz:FILE — layouts, dtypes, optional splits and bad files."""
import numpy as np
import pytest
import torch

from genlab.config import DataConfig
from genlab.data import load_splits
from genlab.errors import DataError


def load(path, **kw):
    return load_splits(DataConfig(dataset=f"npz:{path}", **kw))


def test_nhw_uint8_with_labels(tmp_path):
    x = np.random.default_rng(0).integers(0, 256, (50, 7, 7), dtype=np.uint8)
    np.savez(tmp_path / "d.npz", x=x, y=np.arange(50) % 4)
    s = load(tmp_path / "d.npz")
    assert (len(s.train), len(s.validation), len(s.test)) == (40, 5, 5)
    assert s.train.shape == (1, 7, 7) and s.train.x.dtype == torch.uint8 and s.train.y.dtype == torch.int64
    t = load(tmp_path / "d.npz")
    assert torch.equal(s.validation.x, t.validation.x)


def test_nhwc_float(tmp_path):
    x = np.random.default_rng(0).random((10, 5, 6, 3)).astype(np.float32)
    np.savez(tmp_path / "d.npz", x=x)
    s = load(tmp_path / "d.npz", validation_fraction=0, test_fraction=0)
    assert s.train.shape == (3, 5, 6) and s.train.y is None
    every = torch.cat([s.train.x, s.validation.x]).permute(0, 2, 3, 1).numpy()
    expected = np.rint(x * 255).astype(np.uint8)
    assert all(any(np.array_equal(e, a) for a in every) for e in expected[:3])


def test_nchw_and_own_splits(tmp_path):
    rng = np.random.default_rng(0)
    imgs = lambda n: rng.integers(0, 256, (n, 3, 4, 4), dtype=np.uint8)  # noqa: E731
    np.savez(tmp_path / "d.npz", x=imgs(12), y=np.zeros(12, np.int32), x_val=imgs(3), y_val=np.ones(3, np.int64),
             x_test=imgs(2), y_test=np.ones(2, np.uint8))
    s = load(tmp_path / "d.npz")
    assert (len(s.train), len(s.validation), len(s.test)) == (12, 3, 2)
    assert s.train.shape == (3, 4, 4) and s.test.y.tolist() == [1, 1]


def test_only_test_given(tmp_path):
    x = np.arange(20 * 16, dtype=np.uint8).reshape(20, 4, 4)
    np.savez(tmp_path / "d.npz", x=x, x_test=x[:3])
    s = load(tmp_path / "d.npz")
    assert (len(s.train), len(s.validation), len(s.test)) == (18, 2, 3)
    assert np.array_equal(s.validation.x[:, 0].numpy(), x[18:])


@pytest.mark.parametrize("arrays, words", [
    ({"images": np.zeros((4, 4, 4), np.uint8), "labels": np.zeros(4)}, ["no array 'x'", "images, labels"]),
    ({"x": np.full((4, 4, 4), 1.5, np.float32)}, ["[0, 1]", "1.5"]),
    ({"x": np.zeros((4, 4, 4, 4), np.uint8)}, ["1 or 3 channels"]),
    ({"x": np.zeros((4, 4), np.uint8)}, ["shape"]),
    ({"x": np.full((4, 3, 3), 300, np.int32)}, ["0..255"]),
    ({"x": np.zeros((4, 3, 3), np.uint8), "y": np.zeros(3, np.int64)}, ["'y'", "4 integer labels"]),
    ({"x": np.zeros((4, 3, 3), np.uint8), "x_test": np.zeros((2, 5, 5), np.uint8)}, ["must match"]),
    ({"x": np.array([None, 1] * 8, dtype=object).reshape(4, 2, 2)}, ["cannot read"]),
])
def test_bad_contents(tmp_path, arrays, words):
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(DataError) as e:
        load(path)
    for w in words:
        assert w in str(e.value)
    assert str(path) in str(e.value)


@pytest.mark.parametrize("content", [b"", b"PK\x03\x04 definitely not a zip", b"random bytes"])
def test_corrupt_file(tmp_path, content):
    path = tmp_path / "c.npz"
    path.write_bytes(content)
    with pytest.raises(DataError, match="cannot read .*c.npz"):
        load(path)


def test_truncated_zip(tmp_path):
    path = tmp_path / "t.npz"
    np.savez_compressed(path, x=np.random.default_rng(0).integers(0, 256, (20, 8, 8), dtype=np.uint8))
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(DataError, match="t.npz"):
        load(path)


def test_missing_and_directory(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        load(tmp_path / "none.npz")
    with pytest.raises(DataError, match="not a file"):
        load(tmp_path)
