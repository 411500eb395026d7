"""A tiny feature extractor for digits, trained once per test process into a temporary cache."""
import os

import pytest

from genlab.metrics import features
from genlab.runs import extractors

TINY = features.ExtractorRecipe(arch="lenet5", steps=150, batch_size=64, lr=3e-3)


@pytest.fixture(scope="session")
def extractor_cache(tmp_path_factory):
    """A cache directory holding the tiny digits extractor."""
    path = tmp_path_factory.mktemp("genlab-cache")
    old = os.environ.get("GENLAB_CACHE")
    os.environ["GENLAB_CACHE"] = str(path)
    try:
        extractors.build_extractor("digits", TINY, verbose=False)
    finally:
        if old is None:
            os.environ.pop("GENLAB_CACHE")
        else:
            os.environ["GENLAB_CACHE"] = old
    return path


@pytest.fixture
def tiny_extractor(monkeypatch, extractor_cache):
    """Make the tiny recipe the default for this test and return the (cached) digits extractor."""
    monkeypatch.setenv("GENLAB_CACHE", str(extractor_cache))
    monkeypatch.setattr(features, "default_recipe", lambda shape: TINY)
    return extractors.build_extractor("digits", verbose=False)


