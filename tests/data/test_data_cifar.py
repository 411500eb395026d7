"""cifar10:DIR — fake python-version batches, loaded with the safe unpickler."""
import os
import pickle

import numpy as np
import pytest
import torch

from genlab.config import DataConfig
from genlab.data import load_splits
from genlab.errors import DataError

NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def make_cifar(root, per_batch=4, n_test=3, protocol=2, str_keys=False, meta=True):
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    key = (lambda k: k) if str_keys else (lambda k: k.encode())
    batches = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        n = n_test if name == "test_batch" else per_batch
        batch = {key("batch_label"): key(name), key("data"): rng.integers(0, 256, (n, 3072), dtype=np.uint8),
                 key("labels"): rng.integers(0, 10, n).tolist(), key("filenames"): [key(f"{i}.png") for i in range(n)]}
        (root / name).write_bytes(pickle.dumps(batch, protocol=protocol))
        batches[name] = batch
    if meta:
        (root / "batches.meta").write_bytes(pickle.dumps({key("label_names"): [key(n) for n in NAMES]}, protocol))
    return batches


def load(path, **kw):
    return load_splits(DataConfig(dataset=f"cifar10:{path}", **kw))


@pytest.mark.parametrize("protocol, str_keys", [(2, False), (4, True), (5, False)])
def test_cifar(tmp_path, protocol, str_keys):
    batches = make_cifar(tmp_path, protocol=protocol, str_keys=str_keys)
    k = "data" if str_keys else b"data"
    s = load(tmp_path)
    assert (len(s.train), len(s.validation), len(s.test)) == (18, 2, 3)
    assert s.train.shape == (3, 32, 32) and s.train.x.dtype == torch.uint8 and s.train.y.dtype == torch.int64
    assert s.train.classes == NAMES
    assert np.array_equal(s.train.x[0].numpy().reshape(-1), batches["data_batch_1"][k][0])
    assert np.array_equal(s.validation.x[-1].numpy().reshape(-1), batches["data_batch_5"][k][-1])
    assert np.array_equal(s.test.x.numpy().reshape(3, -1), batches["test_batch"][k])


def test_parent_dir_and_no_meta(tmp_path):
    make_cifar(tmp_path / "cifar-10-batches-py", meta=False)
    s = load(tmp_path, channels=1, image_size=16)
    assert s.train.classes == [] and s.train.shape == (1, 16, 16)


def test_missing_files(tmp_path):
    make_cifar(tmp_path)
    (tmp_path / "data_batch_3").unlink()
    (tmp_path / "test_batch").unlink()
    with pytest.raises(DataError) as e:
        load(tmp_path)
    assert "data_batch_3" in str(e.value) and "test_batch" in str(e.value) and "data_batch_2" not in str(e.value)


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_malicious_batch_refused(tmp_path):
    make_cifar(tmp_path)
    marker = tmp_path / "pwned"
    (tmp_path / "test_batch").write_bytes(pickle.dumps({b"data": _Evil(marker)}))
    with pytest.raises(DataError) as e:
        load(tmp_path)
    assert "refusing to unpickle" in str(e.value) and "test_batch" in str(e.value)
    assert not marker.exists()


@pytest.mark.parametrize("content", [
    pickle.dumps([1, 2, 3]),
    pickle.dumps({b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]}),
    pickle.dumps({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0]}),
    b"\x80\x02garbage",
])
def test_bad_batch(tmp_path, content):
    make_cifar(tmp_path)
    (tmp_path / "data_batch_2").write_bytes(content)
    with pytest.raises(DataError, match="data_batch_2"):
        load(tmp_path)


def test_not_a_directory(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        load(tmp_path / "nope")
