"""Sequence data: windows, time-ordered splits, train-only standardization, CSV, npz, named series."""
import numpy as np
import pytest
import torch

from genlab.cli import main
from genlab.config import DataConfig
from genlab.data import load_splits
from genlab.data.base import ArrayDataset
from genlab.data.sequences import windows
from genlab.errors import DataError


def _error(capsys, argv):
    code = main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("genlab: error: "), err
    return err[0]


def test_windows():
    s = np.arange(10.0)[:, None]
    w = windows(s, 4, 3)
    assert w.shape == (3, 4, 1) and w[:, 0, 0].tolist() == [0, 3, 6] and w[2, :, 0].tolist() == [6, 7, 8, 9]


def test_csv_is_split_in_time_order_and_standardized_with_train_stats(tmp_path):
    rows = ["date,value,label,other"] + [f"2020-{i},{i},x,{2 * i + 1}" for i in range(100)]
    (tmp_path / "s.csv").write_text("\n".join(rows) + "\n")
    cfg = DataConfig(dataset=f"csv:{tmp_path / 's.csv'}", window=5, stride=5, columns=("value",))
    s = load_splits(cfg)
    info = s.train.info
    assert info["columns"] == ["value"] and info["split_steps"] == [80, 10, 10]
    assert info["mean"] == [pytest.approx(39.5)] and info["std"] == [pytest.approx(np.arange(80).std())]
    assert s.train.x.shape == (16, 5, 1) and s.validation.x.shape == (2, 5, 1) and s.test.x.shape == (2, 5, 1)
    back = s.test.x[0, :, 0] * info["std"][0] + info["mean"][0]
    assert torch.allclose(back, torch.arange(90.0, 95.0), atol=1e-4)  # test = the last 10 steps
    both = load_splits(DataConfig(dataset=f"csv:{tmp_path / 's.csv'}", window=5))
    assert both.train.shape == (5, 2) and both.train.info["columns"] == ["value", "other"]


def test_csv_errors(tmp_path, capsys):
    (tmp_path / "gap.csv").write_text("a,b\n1,2\n3,\n")
    (tmp_path / "text.csv").write_text("a\nx\ny\n")
    (tmp_path / "ok.csv").write_text("a\n" + "\n".join(map(str, range(50))))
    assert "row 2, column 'b' is missing or NaN" in _error(capsys, ["train", "recurrent-ae", "--dataset", f"csv:{tmp_path / 'gap.csv'}"])
    assert "no numeric column" in _error(capsys, ["train", "recurrent-ae", "--dataset", f"csv:{tmp_path / 'text.csv'}"])
    assert "no column 'b'" in _error(capsys, ["train", "recurrent-ae", "--dataset", f"csv:{tmp_path / 'ok.csv'}",
                                              "--columns", "b"])
    assert "fewer than --window 32" in _error(capsys, ["train", "recurrent-ae", "--dataset", f"csv:{tmp_path / 'ok.csv'}"])
    assert "images only" in _error(capsys, ["train", "recurrent-ae", "--dataset", f"csv:{tmp_path / 'ok.csv'}",
                                            "--window", "4", "--image-size", "8"])
    assert "window" in _error(capsys, ["train", "recurrent-ae", "--dataset", "nile", "--window", "1"])


def test_npz_sequences_with_lengths(tmp_path, capsys):
    x = np.random.default_rng(0).normal(5, 2, size=(40, 7, 3))
    lengths = np.array([7, 3] * 20)
    np.savez(tmp_path / "v.npz", sequences=x, lengths=lengths, y=np.arange(40) % 2)
    s = load_splits(DataConfig(dataset=f"npz:{tmp_path / 'v.npz'}"))
    every = torch.cat([s.train.x, s.validation.x, s.test.x])
    assert every.shape == (40, 7, 3) and int(torch.isnan(every[..., 0]).sum()) == 20 * 4
    valid = s.train.x[~torch.isnan(s.train.x)].view(-1, 3)
    assert torch.allclose(valid.mean(0), torch.zeros(3), atol=1e-5)  # standardized with the train split
    assert s.train.y is not None
    np.savez(tmp_path / "bad.npz", sequences=x, lengths=np.full(40, 9))
    assert "'lengths' must be 40 integers in 1..7" in _error(capsys, ["train", "recurrent-ae", "--dataset",
                                                                      f"npz:{tmp_path / 'bad.npz'}"])
    np.savez(tmp_path / "img.npz", x=np.zeros((10, 8, 8), np.uint8))  # images still load as images
    assert load_splits(DataConfig(dataset=f"npz:{tmp_path / 'img.npz'}")).train.shape == (1, 8, 8)


def test_named_series():
    s = load_splits(DataConfig(dataset="nile", window=8, stride=2))
    assert s.train.shape == (8, 1) and s.train.info["split_steps"] == [80, 10, 10]
    assert s.train.info["mean"][0] == pytest.approx(938, abs=30)  # Nile flow, 10^8 m^3


def test_array_dataset_still_rejects_other_shapes():
    with pytest.raises(DataError, match="float sequences"):
        ArrayDataset(torch.zeros(4, 8, 8, dtype=torch.uint8))
