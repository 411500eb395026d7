"""idx:PATH — MNIST-format IDX files, gzip or plain, directories and single files."""
import gzip
import struct

import numpy as np
import pytest
import torch

from genlab.config import DataConfig
from genlab.data import load_splits
from genlab.errors import DataError


def write_idx(path, arr, gz=False, type_code=0x08):
    data = bytes([0, 0, type_code, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape) + arr.tobytes()
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def make_dir(root, n_train=20, n_test=5, labels=True, gz=True):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (n_train, 6, 5), dtype=np.uint8)
    xt = rng.integers(0, 256, (n_test, 6, 5), dtype=np.uint8)
    y, yt = np.arange(n_train, dtype=np.uint8) % 10, np.arange(n_test, dtype=np.uint8) % 10
    ext = ".gz" if gz else ""
    write_idx(root / f"train-images-idx3-ubyte{ext}", x, gz)
    write_idx(root / "t10k-images-idx3-ubyte", xt)  # mixed: this one is never compressed
    if labels:
        write_idx(root / f"train-labels-idx1-ubyte{ext}", y, gz)
        write_idx(root / "t10k-labels-idx1-ubyte", yt)
    return x, y, xt, yt


def load(path, **kw):
    return load_splits(DataConfig(dataset=f"idx:{path}", **kw))


@pytest.mark.parametrize("gz", [True, False])
def test_directory(tmp_path, gz):
    x, y, xt, yt = make_dir(tmp_path, gz=gz)
    s = load(tmp_path)
    assert (len(s.train), len(s.validation), len(s.test)) == (18, 2, 5)
    assert s.train.shape == (1, 6, 5) and s.train.x.dtype == torch.uint8 and s.train.y.dtype == torch.int64
    assert np.array_equal(s.train.x[:, 0].numpy(), x[:18]) and np.array_equal(s.validation.x[:, 0].numpy(), x[18:])
    assert np.array_equal(s.test.y.numpy(), yt) and np.array_equal(s.validation.y.numpy(), y[18:])


def test_gzip_detected_by_magic_not_name(tmp_path):
    x, *_ = make_dir(tmp_path, gz=False, labels=False)
    write_idx(tmp_path / "train-images-idx3-ubyte", x, gz=True)  # compressed without .gz
    assert len(load(tmp_path).train) == 18


def test_without_labels(tmp_path):
    make_dir(tmp_path, labels=False)
    s = load(tmp_path)
    assert s.train.y is None and s.test.y is None


def test_missing_files_listed(tmp_path):
    make_dir(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte").unlink()
    (tmp_path / "t10k-images-idx3-ubyte").unlink()
    with pytest.raises(DataError) as e:
        load(tmp_path)
    assert "t10k-images-idx3-ubyte" in str(e.value) and "t10k-labels-idx1-ubyte" in str(e.value)


def test_single_file_with_and_without_labels(tmp_path):
    rng = np.random.default_rng(1)
    images = write_idx(tmp_path / "train-images-idx3-ubyte.gz", rng.integers(0, 256, (30, 4, 4), dtype=np.uint8), True)
    s = load(images)
    assert s.train.y is None and len(s.train) + len(s.validation) + len(s.test) == 30
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.arange(30, dtype=np.uint8) % 3)
    s = load(images)
    assert s.train.y is not None and set(s.train.y.tolist()) <= {0, 1, 2}


def test_truncated(tmp_path):
    make_dir(tmp_path, gz=False)
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-7])
    with pytest.raises(DataError) as e:
        load(tmp_path)
    assert "truncated" in str(e.value) and str(path) in str(e.value)


def test_truncated_gzip(tmp_path):
    make_dir(tmp_path, gz=True)
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:-30])
    with pytest.raises(DataError, match="train-images-idx3-ubyte.gz.*gzip"):
        load(tmp_path)


@pytest.mark.parametrize("content, words", [
    (b"\x08\x03\0\0garbage", "not an IDX file"),
    (bytes([0, 0, 0x0D, 3]) + struct.pack(">3I", 1, 1, 1) + b"\0" * 4, "float32 is not supported"),
    (bytes([0, 0, 0x08, 1]) + struct.pack(">I", 3) + b"\0\1\2", "3 dimensions, found 1"),
])
def test_bad_headers(tmp_path, content, words):
    path = tmp_path / "x-images-idx3-ubyte"
    path.write_bytes(content)
    with pytest.raises(DataError) as e:
        load(path)
    assert words in str(e.value) and str(path) in str(e.value)


def test_label_count_mismatch(tmp_path):
    make_dir(tmp_path, gz=False)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", np.zeros(4, np.uint8))
    with pytest.raises(DataError, match="5 images but .* 4 labels"):
        load(tmp_path)
