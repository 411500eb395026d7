"""folder:DIR — flat folders, class subfolders, bad files, mixed sizes and channels."""
import zlib

import numpy as np
import pytest
import torch
from PIL import Image

from genlab.config import DataConfig
from genlab.data import load_splits
from genlab.errors import DataError


def save(path, size=(8, 8), mode="L", value=None, fmt=None):
    """Write a small image with deterministic content."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(zlib.crc32(path.name.encode()))
    shape = (size[1], size[0]) + {"L": (), "RGB": (3,), "RGBA": (4,)}[mode]
    arr = np.full(shape, value, np.uint8) if value is not None else rng.integers(0, 256, shape, dtype=np.uint8)
    Image.fromarray(arr).save(path, format=fmt)
    return arr


def load(path, **kw):
    return load_splits(DataConfig(dataset=f"folder:{path}", **kw))


def test_flat_folder(tmp_path):
    for i in range(10):
        save(tmp_path / f"img{i}.png")
    save(tmp_path / "UPPER.PNG")
    (tmp_path / "notes.txt").write_text("ignored")
    (tmp_path / ".DS_Store").write_bytes(b"\0\1junk")
    (tmp_path / "meta.json").write_text("{}")
    s = load(tmp_path)
    assert (len(s.train), len(s.validation), len(s.test)) == (9, 1, 1)
    assert s.train.shape == (1, 8, 8) and s.train.x.dtype == torch.uint8 and s.train.y is None
    t = load(tmp_path)
    assert torch.equal(s.train.x, t.train.x) and torch.equal(s.test.x, t.test.x)


def test_class_subfolders_rgb_and_jpeg(tmp_path):
    for i in range(6):
        save(tmp_path / "dogs" / f"{i}.jpg", mode="RGB", fmt="JPEG")
        save(tmp_path / "cats" / f"{i}.png", mode="RGB")
    (tmp_path / "empty").mkdir()
    s = load(tmp_path, validation_fraction=0.25, test_fraction=0.25)
    assert s.train.classes == ["cats", "dogs"] and s.train.num_classes == 2
    assert (len(s.train), len(s.validation), len(s.test)) == (6, 3, 3)
    assert s.train.shape == (3, 8, 8)
    y = torch.cat([s.train.y, s.validation.y, s.test.y])
    assert y.dtype == torch.int64 and sorted(y.tolist()) == [0] * 6 + [1] * 6


def test_png_pixels_exact(tmp_path):
    arrays = [save(tmp_path / f"{i}.png") for i in range(3)]
    s = load(tmp_path, validation_fraction=0.0, test_fraction=0.0)
    every = torch.cat([s.train.x, s.validation.x])[:, 0].numpy()
    assert all(any(np.array_equal(a, b) for b in every) for a in arrays)


def test_corrupt_file_stops_by_default(tmp_path):
    for i in range(5):
        save(tmp_path / f"{i}.png")
    (tmp_path / "broken.png").write_bytes(b"this is not a png")
    with pytest.raises(DataError) as e:
        load(tmp_path)
    assert "broken.png" in str(e.value) and "--skip-bad-files" in str(e.value)


def test_truncated_file_named(tmp_path):
    for i in range(5):
        save(tmp_path / f"{i}.png", size=(64, 64))
    data = (tmp_path / "0.png").read_bytes()
    (tmp_path / "0.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match="0.png"):
        load(tmp_path)


def test_skip_bad_files_warns_once(tmp_path, capsys):
    for i in range(5):
        save(tmp_path / "a" / f"{i}.png")
        save(tmp_path / "b" / f"{i}.png")
    (tmp_path / "a" / "bad1.png").write_bytes(b"junk")
    (tmp_path / "b" / "bad2.jpg").write_bytes(b"")
    s = load(tmp_path, skip_bad_files=True)
    assert len(s.train) + len(s.validation) + len(s.test) == 10
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "skipped 2 unreadable files" in err[0] and "bad1.png" in err[0]


def test_all_bad(tmp_path):
    (tmp_path / "x.png").write_bytes(b"junk")
    with pytest.raises(DataError, match="could be read"):
        load(tmp_path, skip_bad_files=True)


def test_mixed_sizes(tmp_path):
    for i in range(4):
        save(tmp_path / f"a{i}.png", size=(8, 8))
    save(tmp_path / "big.png", size=(12, 10))
    with pytest.raises(DataError) as e:
        load(tmp_path)
    msg = str(e.value)
    assert "--image-size" in msg and "8x8" in msg and "12x10" in msg and "big.png" in msg
    s = load(tmp_path, image_size=6)
    assert s.train.shape == (1, 6, 6)


def test_center_crop(tmp_path):
    arr = np.zeros((4, 12), np.uint8)
    arr[:, 4:8] = 200  # the middle square is bright, the sides dark
    for i in range(3):
        Image.fromarray(arr).save(tmp_path / f"{i}.png")
    s = load(tmp_path, image_size=4)
    assert s.train.shape == (1, 4, 4) and bool((s.train.x == 200).all())


def test_mixed_channels(tmp_path):
    for i in range(3):
        save(tmp_path / f"g{i}.png", mode="L")
        save(tmp_path / f"c{i}.png", mode="RGB")
    save(tmp_path / "alpha.png", mode="RGBA")
    with pytest.raises(DataError) as e:
        load(tmp_path)
    assert "--channels" in str(e.value) and "g0.png" in str(e.value) and "alpha.png" in str(e.value)
    assert load(tmp_path, channels=1).train.shape == (1, 8, 8)
    assert load(tmp_path, channels=3).train.shape == (3, 8, 8)


def test_luminance_matches_pil(tmp_path):
    arr = save(tmp_path / "c.png", mode="RGB")
    for i in range(3):
        save(tmp_path / f"d{i}.png", mode="RGB")
    whole = load(tmp_path, validation_fraction=0.0, test_fraction=0.0, channels=1)
    expected = np.asarray(Image.fromarray(arr).convert("L"))
    every = torch.cat([whole.train.x, whole.validation.x])[:, 0].numpy()
    assert any(np.array_equal(expected, b) for b in every)


def test_images_and_subfolders(tmp_path):
    save(tmp_path / "loose.png")
    save(tmp_path / "cls" / "x.png")
    with pytest.raises(DataError, match="class subfolders"):
        load(tmp_path)


@pytest.mark.parametrize("make, words", [
    (lambda p: p / "missing", "does not exist"),
    (lambda p: (p / "f.txt").write_text("x") and p / "f.txt", "not a directory"),
    (lambda p: (p / "n.txt").write_text("x") and p, "no image files"),
])
def test_bad_paths(tmp_path, make, words):
    path = make(tmp_path)
    with pytest.raises(DataError) as e:
        load(path)
    assert words in str(e.value) and str(path) in str(e.value)
