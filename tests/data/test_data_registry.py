"""Dataset specs, the DATASETS registry and the transforms load_splits applies (on `digits`)."""
import pytest
import torch

from genlab.config import DataConfig
from genlab.data import DATASETS, list_datasets, load_splits, parse_dataset
from genlab.errors import DataError


def test_registry_kinds_and_listing():
    series = {"co2", "sunspots", "nile", "elnino", "macrodata"}  # sequences (genlab.data.sequences)
    tasks = {"mnist-sr4", "mnist-sr2", "edges2mnist", "photos-sr4", "colorize-photos", "digits2mnist"}  # pair_tasks
    assert set(DATASETS) == {"mnist", "digits", "shapes", "folder", "idx", "cifar10", "npz", "csv", "pairs",
                             "unpaired", "moving-mnist", "moving-mnist-1", "video"} | series | tasks
    usages = dict(list_datasets())
    assert {"mnist", "digits", "shapes", "folder:DIR", "idx:PATH", "cifar10:DIR", "npz:FILE", "csv:FILE", "pairs:DIR",
            "unpaired:DIR", "moving-mnist", "moving-mnist-1", "video:DIR"} | series | tasks == set(usages)
    assert all(desc and "\n" not in desc for desc in usages.values())


def test_parse_dataset():
    assert parse_dataset("mnist") == ("mnist", None)
    assert parse_dataset("folder:/some/dir") == ("folder", "/some/dir")
    assert parse_dataset("npz:C:/x.npz") == ("npz", "C:/x.npz")  # only the first ':' separates


@pytest.mark.parametrize("spec, words", [
    ("mnsit", ["unknown dataset", "did you mean 'mnist'"]),
    ("folders:/x", ["did you mean 'folder'"]),
    ("zzz", ["unknown dataset 'zzz'", "folder:DIR"]),
    ("folder", ["needs a path", "folder:DIR"]),
    ("npz:", ["needs a path"]),
    ("mnist:/tmp", ["takes no path"]),
])
def test_bad_specs(spec, words):
    with pytest.raises(DataError) as e:
        load_splits(DataConfig(dataset=spec))
    for w in words:
        assert w in str(e.value)


def test_bare_existing_path_hints_at_kind(tmp_path):
    with pytest.raises(DataError, match="folder:"):
        parse_dataset(str(tmp_path))


def test_digits_splits():
    s = load_splits(DataConfig(dataset="digits"))
    sizes = [len(s.train), len(s.validation), len(s.test)]
    assert sum(sizes) == 1797 and all(n > 100 for n in sizes)
    assert s.train.shape == (1, 8, 8) and s.train.x.dtype == torch.uint8
    assert int(s.train.x.max()) == 255 and int(s.train.x.min()) == 0
    assert s.train.y.dtype == torch.int64 and s.train.num_classes == 10
    again = load_splits(DataConfig(dataset="digits"))
    assert torch.equal(s.test.x, again.test.x) and torch.equal(s.train.y, again.train.y)


def test_digits_transforms_and_limit():
    base = load_splits(DataConfig(dataset="digits"))
    s = load_splits(DataConfig(dataset="digits", image_size=16, channels=3, limit=100))
    assert len(s.train) == 100 and len(s.validation) == len(base.validation)
    assert s.train.shape == (3, 16, 16) and s.test.shape == (3, 16, 16)
    assert torch.equal(s.train.y, base.train.y[:100])
    assert torch.equal(s.train.x[:, 0], s.train.x[:, 2])  # gray repeated
    gray = load_splits(DataConfig(dataset="digits", channels=1))
    assert torch.equal(gray.train.x, base.train.x)
