"""The restricted unpickler: numpy arrays and plain data load, anything executable is refused."""
import io
import os
import pickle

import numpy as np
import pytest

from genlab.data import safe_pickle
from genlab.errors import DataError


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_numpy_and_builtins_round_trip(protocol):
    obj = {b"data": np.arange(12, dtype=np.uint8).reshape(3, 4), "f": np.float32(1.5),
           "l": [1, 2.0, "x", b"y", None, True], "s": {1, 2}, "t": (np.zeros(2, np.float64),)}
    back = safe_pickle.load(io.BytesIO(pickle.dumps(obj, protocol=protocol)), "mem")
    assert np.array_equal(back[b"data"], obj[b"data"]) and back[b"data"].dtype == np.uint8
    assert back["l"] == obj["l"] and back["s"] == {1, 2} and back["f"] == 1.5


def test_refuses_os_system(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps({"data": _Evil(marker)}))
    with pytest.raises(DataError) as e:
        safe_pickle.load_file(path)
    assert "refusing to unpickle" in str(e.value) and "system" in str(e.value) and str(path) in str(e.value)
    assert not marker.exists()


@pytest.mark.parametrize("payload", [b"", b"not a pickle at all", pickle.dumps(list(range(100)))[:-20]])
def test_corrupt_pickle(tmp_path, payload):
    path = tmp_path / "bad.pkl"
    path.write_bytes(payload)
    with pytest.raises(DataError, match="cannot unpickle .*bad.pkl"):
        safe_pickle.load_file(path)


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="cannot read .*nope.pkl"):
        safe_pickle.load_file(tmp_path / "nope.pkl")
