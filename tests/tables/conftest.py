"""Tiny tables and tiny synthesizers, built once per session for the table tests."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

pd = pytest.importorskip("pandas")

sys.path.insert(0, str(Path(__file__).parent))  # so tables_helpers (beside this file) imports below: E402
from tables_helpers import TINY_CTGAN, TINY_TVAE, mixed_frame  # noqa: E402


@pytest.fixture(scope="session")
def mixed_csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("tables") / "mixed.csv"
    mixed_frame().to_csv(path, index=False)
    return path


@pytest.fixture(scope="session")
def ctgan_dir(tmp_path_factory, mixed_csv):
    """A ctgan synthesizer fitted through the CLI on the mixed table (2 epochs, tiny networks)."""
    from genlab.cli import main

    out = tmp_path_factory.mktemp("synth") / "ctgan"
    assert main(["synth", "fit", "--data", f"csv:{mixed_csv}", "--model", "ctgan", "--out", str(out),
                 "--target", "colour", *TINY_CTGAN]) == 0
    return out


@pytest.fixture(scope="session")
def tvae_synth():
    from genlab.tables import Synthesizer

    return Synthesizer("tvae", epochs=3, batch_size=40, model_config=TINY_TVAE).fit(mixed_frame(), target="colour")
