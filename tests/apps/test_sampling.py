"""The decisions of the commands over a trained model, as library functions (apps/sampling.py, io)."""
from __future__ import annotations

import pytest
import torch

from genlab.apps import sampling
from genlab.errors import ConfigError
from genlab.io import check_output


class Stub:
    """Just enough of a model: a name, a config, a device, a sample() and the declared capabilities."""

    registry_name = "stub"
    requires_labels = False
    generative = True
    sample_options = ("steps",)  # what sample() takes beyond n and labels, declared as models do
    has_trajectory = False
    data_kind = "images"
    device = torch.device("cpu")

    @property
    def num_classes(self) -> int:
        return self.config.num_classes if self.requires_labels else 0

    def __init__(self, num_classes: int = 0, conditional: bool = False):
        self.config = type("Config", (), {"num_classes": num_classes, "data_shape": (1, 4, 4)})()
        self.requires_labels = conditional

    def sample(self, n, labels=None, steps=None):
        return torch.zeros(n, 1, 4, 4) + (0 if labels is None else labels.float()[:, None, None, None])

    def sample_grid(self, n, steps=None):
        return torch.zeros(6, 1, 4, 4), 2


def test_class_index_by_name_or_index_and_refusals():
    assert sampling.class_index("cat", ["cat", "dog"], 2, "label") == 0
    assert sampling.class_index("1", [], 3, "label") == 1
    with pytest.raises(ConfigError, match=r"--label 'cow' is not a class: the classes are cat, dog"):
        sampling.class_index("cow", ["cat", "dog"], 2, "label")
    with pytest.raises(ConfigError, match="this run has no class names; give an index"):
        sampling.class_index("cow", [], 2, "toward")
    with pytest.raises(ConfigError, match=r"--label 5 is out of range: the model knows classes 0..2"):
        sampling.class_index("5", [], 3, "label")


def test_sampler_options_are_checked_against_sample():
    model = Stub()
    assert sampling.sampler_options(model, {"steps": 5, "eta": None}) == {"steps": 5}
    with pytest.raises(ConfigError, match=r"model 'stub' does not take --eta"):
        sampling.sampler_options(model, {"steps": 5, "eta": 0.5})


def test_draw_samples_unconditional_labelled_and_class_grid():
    images, labels, per_row = sampling.draw_samples(Stub(), 4)
    assert images.shape == (4, 1, 4, 4) and labels is None and per_row is None
    images, labels, per_row = sampling.draw_samples(Stub(3), 2, label=2)
    assert labels.tolist() == [2, 2] and float(images.max()) == 2.0 and per_row is None
    images, labels, per_row = sampling.draw_samples(Stub(3, conditional=True), 6)
    assert labels.tolist() == [0, 0, 1, 1, 2, 2] and per_row == 2
    with pytest.raises(ConfigError, match="is not conditional; --label needs a conditional model"):
        sampling.require_label_model(Stub())
    with pytest.raises(ConfigError, match="has no denoising trajectory"):
        sampling.require_trajectory(Stub())


def test_check_output(tmp_path):
    assert check_output(tmp_path / "a.png", (".png",), "sample") == tmp_path / "a.png"
    with pytest.raises(ConfigError, match=r"unknown file type '.jpg'; `genlab sample` writes .png or .npz"):
        check_output(tmp_path / "a.jpg", (".png", ".npz"), "sample")
    with pytest.raises(ConfigError, match="is a directory"):
        check_output(tmp_path, (".png",), "sample")
    (tmp_path / "f").write_text("")
    with pytest.raises(ConfigError, match="is a file, not a folder"):
        check_output(tmp_path / "f" / "a.png", (".png",), "sample")
