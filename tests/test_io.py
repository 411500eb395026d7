"""Atomic folders: a reader sees the old folder or the complete new one, never a half-written one."""
import pytest

from genlab.io import atomic_directory


def test_a_new_folder_appears_only_when_complete(tmp_path):
    target = tmp_path / "det"
    with atomic_directory(target) as tmp:
        (tmp / "a.txt").write_text("new")
        assert not target.exists()
    assert (target / "a.txt").read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["det"]  # no temporary folders left


def test_replacing_swaps_and_an_error_keeps_the_old_folder(tmp_path):
    target = tmp_path / "det"
    target.mkdir()
    (target / "a.txt").write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_directory(target) as tmp:
            (tmp / "a.txt").write_text("half")
            raise RuntimeError("crash while writing")
    assert (target / "a.txt").read_text() == "old"
    with atomic_directory(target) as tmp:
        (tmp / "b.txt").write_text("new")
    assert sorted(p.name for p in target.iterdir()) == ["b.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["det"]


def test_replace_false_keeps_what_is_there(tmp_path):
    target = tmp_path / "cache"
    target.mkdir()
    (target / "a.txt").write_text("first")
    with atomic_directory(target, replace=False) as tmp:
        (tmp / "a.txt").write_text("second")
    assert (target / "a.txt").read_text() == "first"
    assert [p.name for p in tmp_path.iterdir()] == ["cache"]
