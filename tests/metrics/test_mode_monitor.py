"""The trainer's mode-collapse monitor: class histograms of samples during training, and the warning."""
import json

import pytest
import torch

import genlab
from genlab.config import DataConfig
from genlab.data import load_splits
from genlab.models.base import GenerativeModel
from genlab.runs.monitor import ModeMonitor


class _OneDigit(GenerativeModel):
    """A 'generator' that always returns the same real image: total collapse."""

    device = torch.device("cpu")

    def __init__(self, image):
        super().__init__(None)  # an unconditional model: no config is read
        self.image = image

    def sample(self, n, labels=None):
        return self.image.expand(n, *self.image.shape)


def _records(run, split):
    lines = (run / "metrics.jsonl").read_text().splitlines()
    return [r for r in map(json.loads, lines) if r["split"] == split]


def test_monitor_flags_a_collapsed_generator_and_passes_real_data(tiny_extractor):
    test = load_splits(DataConfig("digits")).test
    collapsed = ModeMonitor(tiny_extractor, n=200)(_OneDigit(test.images(slice(0, 1))[0]))
    assert collapsed["classes_covered"] == 1
    assert max(collapsed["class_shares"]) == 1.0
    assert "collapsing onto few modes" in collapsed["warning"]

    class _Real(_OneDigit):  # draws real test images: every class is there
        def sample(self, n, labels=None):
            return test.images(torch.randint(len(test), (n,)))

    healthy = ModeMonitor(tiny_extractor, n=300)(_Real(test.images(slice(0, 1))[0]))
    assert healthy["warning"] is None and healthy["classes_covered"] == 10
    assert sum(healthy["class_shares"]) == pytest.approx(1.0, abs=1e-3)


def test_gan_training_logs_modes_records_when_the_classifier_is_cached(tiny_extractor, tmp_path, quick_train):
    run = tmp_path / "gan"
    genlab.train("gan", out=run, model_config={"g_hidden": [32], "d_hidden": [32], "noise_dim": 8},
                 data="digits", train={**quick_train, "steps": 4})
    records = _records(run, "modes")
    assert len(records) == 1 and records[0]["step"] == 4
    shares = records[0]["class_shares"]
    assert len(shares) == 10 and sum(shares) == pytest.approx(1.0, abs=1e-3)
    assert records[0]["classes_covered"] == sum(v >= 0.01 for v in shares)


def test_mode_check_auto_without_a_cached_classifier_only_notes_it(monkeypatch, tmp_path, quick_train, capsys):
    monkeypatch.setenv("GENLAB_CACHE", str(tmp_path / "empty-cache"))
    run = tmp_path / "gan"
    genlab.train("gan", out=run, model_config={"g_hidden": [32], "d_hidden": [32], "noise_dim": 8},
                 data="digits", train={**quick_train, "steps": 2})
    assert "not checked for mode collapse" in capsys.readouterr().err
    assert _records(run, "modes") == []
    assert not (tmp_path / "empty-cache" / "extractors").exists()  # nothing was trained


def test_mode_check_off_and_non_adversarial_models_are_not_watched(tiny_extractor, tmp_path, quick_train):
    genlab.train("gan", out=tmp_path / "g", model_config={"g_hidden": [32], "d_hidden": [32], "noise_dim": 8},
                 data="digits", train={**quick_train, "steps": 2, "mode_check": "off"})
    genlab.train("ae", out=tmp_path / "a", model_config={"mlp_hidden": [32], "latent_dim": 8}, data="digits",
                 train={**quick_train, "steps": 2})
    assert _records(tmp_path / "g", "modes") == [] and _records(tmp_path / "a", "modes") == []
    genlab.train("ae", out=tmp_path / "b", model_config={"mlp_hidden": [32], "latent_dim": 8}, data="digits",
                 train={**quick_train, "steps": 2, "mode_check": "on"})
    assert len(_records(tmp_path / "b", "modes")) == 1


def test_a_partial_first_epoch_is_labelled_epoch_1(tiny_extractor, tmp_path, quick_train, capsys):
    """A run that ends inside its first epoch labels its mode check as the train record does: epoch 1, not 0."""
    run = tmp_path / "gan"
    genlab.train("gan", out=run, model_config={"g_hidden": [32], "d_hidden": [32], "noise_dim": 8},
                 data="digits", train={**quick_train, "steps": 2, "mode_check": "on"})
    train = _records(run, "train")[-1]
    assert train["epoch"] == 1 and train.get("partial_epoch")
    assert [r["epoch"] for r in _records(run, "modes")] == [1]
    assert "epoch 0," not in capsys.readouterr().err


def test_mode_check_on_under_torchrun_never_trains_the_classifier(monkeypatch, tmp_path, capsys):
    """Under torchrun rank 0 must not start a second trainer (the classifier's) inside the process group."""
    from genlab.config import TrainConfig
    from genlab.models.gan import GAN, GANConfig
    from genlab.runs.monitor import mode_monitor

    monkeypatch.setenv("GENLAB_CACHE", str(tmp_path / "empty-cache"))
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "0")
    splits = load_splits(DataConfig("digits"))
    model = GAN(GANConfig(data_shape=(1, 8, 8), g_hidden=[8], d_hidden=[8], noise_dim=4))
    assert mode_monitor(TrainConfig(mode_check="on"), DataConfig("digits"), model, splits) is None
    assert "not checked for mode collapse under torchrun" in capsys.readouterr().err
    assert not (tmp_path / "empty-cache" / "extractors").exists()
