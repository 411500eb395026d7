"""Atomic folders: a reader sees the old folder or the complete new one, never a half-written one."""
import pytest
import torch

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


def test_a_failed_image_save_leaves_no_temporary_file(tmp_path, monkeypatch):
    import genlab.io

    def replace_fails(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(genlab.io.os, "replace", replace_fails)
    with pytest.raises(OSError, match="No space"):
        genlab.io.save_image_grid(torch.rand(4, 1, 8, 8), tmp_path / "g.png")
    assert list(tmp_path.iterdir()) == []
    monkeypatch.undo()
    (tmp_path / "d").mkdir()
    with pytest.raises(IsADirectoryError):
        genlab.io.save_image_grid(torch.rand(4, 1, 8, 8), tmp_path / "d")
    assert [p.name for p in tmp_path.iterdir()] == ["d"] and list((tmp_path / "d").iterdir()) == []


def test_atomic_writes_get_the_mode_of_a_plain_open(tmp_path):
    import stat

    from genlab.io import atomic_directory, atomic_write_bytes

    (tmp_path / "plain").write_bytes(b"x")
    (tmp_path / "plain_dir").mkdir()
    atomic_write_bytes(tmp_path / "a", b"x")
    with atomic_directory(tmp_path / "d") as tmp:
        (tmp / "f").write_bytes(b"x")
    mode = lambda p: stat.S_IMODE(p.stat().st_mode)  # noqa: E731
    assert mode(tmp_path / "a") == mode(tmp_path / "plain")
    assert mode(tmp_path / "d") == mode(tmp_path / "plain_dir")


def test_remove_temporaries_touches_only_genlabs_own_temporary_names(tmp_path):
    from genlab.io import remove_temporaries

    ours = [".config.json.ab12.tmp", ".model.safetensors.77.link", ".samples.png.tmp.png", ".step-00000004.x.old"]
    for name in ours:
        (tmp_path / name).write_text("")
    (tmp_path / ".step-00000008.y.tmp").mkdir()
    theirs = ["notes.tmp", ".lock", "config.json", ".hidden"]
    for name in theirs:
        (tmp_path / name).write_text("")
    removed = remove_temporaries(tmp_path)
    assert len(removed) == 5 and sorted(p.name for p in tmp_path.iterdir()) == sorted(theirs)
