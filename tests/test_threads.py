"""CPU thread settings: GENLAB_THREADS, cores divided among torchrun's processes, PyTorch's default alone."""
from __future__ import annotations

import pytest
import torch

from genlab.cli import main
from genlab.training import distributed


def test_one_process_keeps_pytorchs_choice(monkeypatch):
    monkeypatch.delenv("GENLAB_THREADS", raising=False)
    assert distributed.cpu_threads(1) is None


def test_torchrun_divides_the_physical_cores_among_local_processes(monkeypatch):
    monkeypatch.delenv("GENLAB_THREADS", raising=False)
    monkeypatch.setattr(distributed, "physical_cores", lambda: 16)
    assert distributed.cpu_threads(2) == 8
    assert distributed.cpu_threads(4) == 4
    monkeypatch.setattr(distributed, "physical_cores", lambda: 2)
    assert distributed.cpu_threads(4) == 1  # never zero


def test_genlab_threads_wins(monkeypatch):
    monkeypatch.setenv("GENLAB_THREADS", "3")
    assert distributed.cpu_threads(1) == 3 and distributed.cpu_threads(4) == 3


def test_physical_cores_is_within_the_logical_count():
    import os

    assert 1 <= distributed.physical_cores() <= (os.cpu_count() or 1)


@pytest.mark.parametrize("value", ["0", "x"])
def test_a_bad_genlab_threads_is_one_line(monkeypatch, capsys, value, tmp_path):
    monkeypatch.setenv("GENLAB_THREADS", value)
    before = torch.get_num_threads()
    assert main(["train", "vae", "--dataset", "digits", "--steps", "1", "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("genlab: error: GENLAB_THREADS")
    assert torch.get_num_threads() == before


def test_genlab_threads_sets_the_training_threads(monkeypatch, tmp_path):
    monkeypatch.setenv("GENLAB_THREADS", "1")
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        assert main(["train", "vae", "--dataset", "digits", "--steps", "1", "--latent-dim", "2",
                     "--out", str(tmp_path / "r")]) == 0
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
