"""The contract every registered model passes; a new model gets these tests by registering."""
import dataclasses

import pytest
import torch

from genlab import registry
from genlab.cli.options import DERIVED_FIELDS
from genlab.config import DataConfig, TrainConfig, field_names, from_dict, to_dict
from genlab.models.base import Batch, GenerativeModel, LatentModel

SHAPES = [(1, 8, 8), (3, 16, 16)]
# models of images; table models (data_kind 'tables') pass the same contract in tests/tables/test_models.py
IMAGE_MODELS = [n for n in registry.names() if not registry.get(n).model_class.tabular
                and registry.get(n).model_class.data_kinds != ("clips",)]
# clip models (data_kinds ('clips',)) pass the same contract on clips in tests/models/test_video.py
assert len(IMAGE_MODELS) >= 19  # the contract runs over every image model (an empty list would skip it all)


def _build(name, shape):
    entry = registry.get(name)
    names = field_names(entry.config_class)
    fields = {"data_shape": list(shape)} if "data_shape" in names else {}
    if "num_classes" in names:
        fields["num_classes"] = 3
    torch.manual_seed(0)
    return registry.build(name, fields)


def _batch(shape, n=6):
    return Batch(torch.rand(n, *shape).round(), torch.arange(n) % 3)


@pytest.mark.parametrize("name", IMAGE_MODELS)
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_losses_and_samples(name, shape):
    model = _build(name, shape)
    for phase in model.phases():
        losses = model(_batch(shape), phase.name)
        assert losses["loss"].dim() == 0 and torch.isfinite(losses["loss"])
        assert all(v.dim() == 0 for v in losses.values())
    if not model.generative:  # classifiers share the training contract but do not sample
        return
    images = model.eval().sample(5)
    assert images.shape == (5, *shape) and images.min() >= 0 and images.max() <= 1
    if isinstance(model, LatentModel):
        batch = _batch(shape, 4)
        labels = batch.y if model.requires_labels else None
        assert model.reconstruct(batch.x, labels).shape == batch.x.shape
        assert model.interpolate(batch.x[0], batch.x[1], steps=3, label=None if labels is None else 1).shape == (3, *shape)


@pytest.mark.parametrize("name", IMAGE_MODELS)
def test_each_phase_updates_only_its_parameters(name):
    model = _build(name, SHAPES[0])
    for phase in model.phases():
        params = {id(p) for p in model.phase_parameters(phase)}
        assert params, f"phase {phase.name} trains nothing"
        model.zero_grad(set_to_none=True)
        model(_batch(SHAPES[0]), phase.name)["loss"].backward()
        got = [p.grad is not None and p.grad.abs().sum() > 0 for p in model.phase_parameters(phase)]
        assert any(got), f"phase {phase.name}: its loss reaches none of its parameters"


@pytest.mark.parametrize("name", IMAGE_MODELS)
def test_save_load_round_trip(name, tmp_path):
    model = _build(name, SHAPES[0]).eval()
    model.save(tmp_path)
    loaded = GenerativeModel.load(tmp_path).eval()
    assert type(loaded) is type(model) and loaded.config == model.config
    for k, v in model.state_dict().items():
        assert torch.equal(v, loaded.state_dict()[k]), k
    if not model.generative:
        return
    torch.manual_seed(1)
    a = model.sample(3)
    torch.manual_seed(1)
    assert torch.equal(a, loaded.sample(3))


@pytest.mark.parametrize("name", registry.names())
def test_config_round_trips_and_flags_do_not_collide(name):
    entry = registry.get(name)
    cfg = entry.config_class()
    assert from_dict(entry.config_class, to_dict(cfg)) == cfg
    model_flags = set(field_names(entry.config_class)) - DERIVED_FIELDS
    assert not model_flags & (set(field_names(DataConfig)) | set(field_names(TrainConfig)))
    assert dataclasses.is_dataclass(cfg) and entry.summary


def test_weights_of_another_model_are_refused(tmp_path):
    from genlab.errors import CheckpointError

    _build("vae", SHAPES[0]).save(tmp_path)
    other = registry.build("vae", {"latent_dim": 7, "data_shape": [1, 8, 8]})
    with pytest.raises(CheckpointError, match="do not fit"):
        other.load_weights(tmp_path / "model.safetensors")
