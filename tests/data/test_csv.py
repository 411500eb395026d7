"""The one CSV cell rule (genlab.data.csv) and label checks of the data layer."""
import numpy as np
import pytest
import torch

from genlab.data.base import ArrayDataset
from genlab.data.csv import is_missing, numeric_columns, numeric_kind
from genlab.errors import DataError


@pytest.mark.parametrize("cell", ["", " ", "NA", "nan", "NaN", "n/a", "null", "None", "?"])
def test_missing_cells(cell):
    assert is_missing(cell)


def test_numeric_kind_is_a_majority_of_present_cells():
    assert numeric_kind(["1", "2", "x", ""])
    assert not numeric_kind(["2020-01-01", "2020-01-02", "3"])
    assert not numeric_kind(["", "NA"])


def test_numeric_columns_skip_text_with_a_notice(tmp_path, capsys):
    path = tmp_path / "t.csv"
    path.write_text("when,a,kind,b\nmon,1,x,2\ntue,3,y,4\n")
    values, names = numeric_columns(path)
    assert names == ["a", "b"] and values.tolist() == [[1, 2], [3, 4]]
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "'when', 'kind'" in err and err.startswith("genlab: note:")
    values, names = numeric_columns(path, ("b",))
    assert names == ["b"] and capsys.readouterr().err == ""
    with pytest.raises(DataError, match="no column 'c'"):
        numeric_columns(path, ("c",))


def test_headerless_inf_and_text_cells(tmp_path):
    (tmp_path / "h.csv").write_text("1,2\n3,4\n")
    assert numeric_columns(tmp_path / "h.csv")[1] == ["0", "1"]
    (tmp_path / "i.csv").write_text("a\n1\ninf\n2\n")
    with pytest.raises(DataError, match="row 2, column 'a' is 'inf', not a finite number"):
        numeric_columns(tmp_path / "i.csv")
    (tmp_path / "d").mkdir()
    with pytest.raises(DataError, match="is a directory"):
        numeric_columns(tmp_path / "d")


def test_labels_must_be_class_indices():
    x = torch.zeros(4, 1, 2, 2, dtype=torch.uint8)
    with pytest.raises(DataError, match=r"0..K-1; found -1 \(1 of 4 items\)"):
        ArrayDataset(x, torch.tensor([0, 1, 2, -1]), "d")
    with pytest.raises(DataError, match=r"0..1; found 2, 3 \(2 of 4 items\)"):
        ArrayDataset(x, torch.tensor([0, 1, 2, 3]), "d", ["a", "b"])
    assert ArrayDataset(x, torch.tensor([0, 1, 1, 0]), "d", ["a", "b"]).num_classes == 2
    assert np.array_equal(ArrayDataset(x, torch.tensor([0, 0, 0, 5]), "d").y.numpy(), [0, 0, 0, 5])
