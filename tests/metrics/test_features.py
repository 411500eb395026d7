"""Feature extractors: deterministic, cached under name + hash, and strict about image shapes."""
import numpy as np
import pytest
import torch

from genlab.errors import ConfigError, DataError
from genlab.metrics import features
from genlab.runs import extractors


def test_extractor_is_cached_and_deterministic(tiny_extractor):
    ex = tiny_extractor
    assert ex.id == f"lenet5-digits@{ex.weights_sha256[:12]}" and len(ex.weights_sha256) == 64
    assert ex.input_shape == (1, 8, 8) and ex.num_classes == 10
    assert ex.info["test_accuracy"] > 0.8
    tiny = features.default_recipe((1, 8, 8))  # the fixture made the tiny recipe the default
    again = extractors.build_extractor("digits", tiny, verbose=False)  # from the cache
    assert again.id == ex.id
    fresh = extractors.build_extractor("digits", tiny, cache=False, verbose=False)  # retrained from scratch
    assert fresh.weights_sha256 == ex.weights_sha256
    f, p = ex(torch.rand(5, 1, 8, 8))
    assert f.shape == (5, 84) and torch.allclose(p.sum(1), torch.ones(5))
    record = ex.record()
    assert record["id"] == ex.id and record["recipe"]["arch"] == "lenet5"


def test_binarization_and_limit_do_not_change_the_extractor(tiny_extractor):
    other = extractors.build_extractor({"dataset": "digits", "binarize": "dynamic", "limit": 100}, verbose=False)
    assert other.id == tiny_extractor.id


def test_images_of_another_shape_are_refused(tiny_extractor):
    with pytest.raises(ConfigError, match="takes 1x8x8 images"):
        tiny_extractor(torch.rand(2, 1, 28, 28))


def test_default_recipes():
    assert features.default_recipe((1, 28, 28)).arch == "lenet5"
    assert features.default_recipe((3, 32, 32)).arch == "vgg11"


def test_unlabelled_data_cannot_train_an_extractor(tmp_path, monkeypatch):
    monkeypatch.setenv("GENLAB_CACHE", str(tmp_path / "cache"))
    np.savez(tmp_path / "x.npz", x=np.zeros((40, 8, 8, 1), np.uint8))
    with pytest.raises(DataError, match="no labels"):
        extractors.build_extractor(f"npz:{tmp_path / 'x.npz'}", features.ExtractorRecipe(steps=1), verbose=False)


def test_shapes_has_its_own_recipe(tmp_path, monkeypatch):
    """`shapes` gets its VGG recipe (not the shape default) wherever the extractor is chosen, e.g.
    `genlab evaluate`; the data is faked with a few tiny images, nothing is trained."""
    from genlab.data.base import ArrayDataset, Splits

    monkeypatch.setenv("GENLAB_CACHE", str(tmp_path / "cache"))
    split = ArrayDataset(torch.zeros(8, 3, 8, 8, dtype=torch.uint8), torch.arange(8) % 4)
    seen = []
    monkeypatch.setattr(features.datasets, "load_splits",
                        lambda cfg: seen.append(cfg.dataset) or Splits(split, split, split))
    shapes = features.DATASET_RECIPES["shapes"]
    assert shapes.arch.startswith("vgg") and shapes != features.default_recipe((3, 8, 8))
    assert shapes.steps * shapes.batch_size >= 60_000 and shapes.dropout == 0.0  # over an epoch, no dropout
    # dropout enters the cache key only when it is not the default, so older recipes keep their entries
    assert "dropout" not in features.recipe_key(features.ExtractorRecipe()) and "dropout" in features.recipe_key(shapes)
    # it learns the drawing's factors too; 'factors' is in the key only when True (other entries keep theirs)
    assert shapes.factors and features.recipe_key(shapes)["factors"] is True
    assert "factors" not in features.recipe_key(features.ExtractorRecipe())
    entry = features.extractor_entry({"dataset": "shapes", "image_size": 8, "limit": 16})
    assert entry.recipe == shapes and entry.name == "vgg11-shapes" and entry.data.limit is None
    assert features.extractor_entry("digits").recipe == features.default_recipe((3, 8, 8))  # others: by shape
    assert extractors.build_extractor({"dataset": "shapes", "image_size": 8}, build=False) is None  # not cached
    # an explicit --image-size loads the data as stored once more, to tell whether it asks for them as stored
    assert seen == ["shapes", "shapes", "digits", "shapes", "shapes"]


def test_asking_for_the_stored_size_and_channels_shares_the_cache_entry(tmp_path, monkeypatch):
    """`--image-size 8 --channels 1` on digits (8x8 gray as stored) is the same data as no request: the same
    extractor, not a second training of it; another size is another entry."""
    monkeypatch.setenv("GENLAB_CACHE", str(tmp_path))
    plain = features.extractor_entry("digits").directory
    assert features.extractor_entry({"dataset": "digits", "image_size": 8, "channels": 1}).directory == plain
    assert features.extractor_entry({"dataset": "digits", "image_size": 16}).directory != plain
    assert features.extractor_entry({"dataset": "digits", "channels": 3}).directory != plain
