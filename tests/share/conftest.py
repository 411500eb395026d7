"""Tiny runs shared by the report, export and explorer tests (built once per session)."""
from __future__ import annotations

import pytest

from genlab.cli import main

TINY = ["--dataset", "digits", "--batch-size", "32", "--steps", "2", "--device", "cpu", "--num-samples", "4",
        "--log-every", "1"]


@pytest.fixture(scope="session")
def vae_run(tmp_path_factory):
    """A conv VAE on digits (2 steps): a latent model that decodes."""
    out = tmp_path_factory.mktemp("share") / "vae"
    assert main(["train", "vae", "--out", str(out), "--latent-dim", "4", "--conv-widths", "8",
                 "--conv-hidden", "16", *TINY]) == 0
    return out


@pytest.fixture(scope="session")
def gan_run(tmp_path_factory):
    """An MLP GAN on digits (2 steps): two phases, no encoder."""
    out = tmp_path_factory.mktemp("share") / "gan"
    assert main(["train", "gan", "--out", str(out), "--noise-dim", "8", "--g-hidden", "16", "--d-hidden", "16",
                 *TINY]) == 0
    return out


@pytest.fixture(scope="session")
def stylegan_run(tmp_path_factory):
    """A tiny style GAN on digits (1 step): styles to mix, noise to slide through."""
    out = tmp_path_factory.mktemp("share") / "stylegan"
    assert main(["train", "stylegan", "--out", str(out), "--channel-base", "64", "--channel-max", "8",
                 "--mapping-layers", "1", "--w-dim", "8", "--latent-dim", "8", "--no-report", "--dataset",
                 "digits", "--batch-size", "16", "--steps", "1", "--device", "cpu", "--num-samples", "4"]) == 0
    return out
