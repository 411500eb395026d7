"""The recurrent autoencoder: masks for variable lengths, the masked loss by hand, the image
(rows) layout, and end-to-end training on a series from the CLI."""
import json

import numpy as np
import pytest
import torch

from genlab import registry
from genlab.cli import main
from genlab.models.base import Batch


def _model(**over):
    torch.manual_seed(0)
    return registry.build("recurrent-ae", {"data_shape": [6, 2], "latent_dim": 3, "hidden_size": 8, **over})


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_padding_does_not_change_codes_or_loss(cell):
    model = _model(cell=cell, num_layers=2)
    x = torch.randn(3, 6, 2)
    x[1, 4:] = float("nan")  # length 4
    x[2, 2:] = float("nan")  # length 2
    other = x.clone()
    codes = model.encode(x)
    # the code of a padded sequence is the code of the sequence alone (no padding at all)
    assert torch.allclose(codes[1], model.encode(x[1:2, :4])[0], atol=1e-6)
    assert torch.allclose(codes[2], model.encode(x[2:3, :2])[0], atol=1e-6)
    assert torch.equal(model.losses(Batch(x))["loss"], model.losses(Batch(other))["loss"])
    rec = model.reconstruct(x)
    assert torch.equal(torch.isnan(rec), torch.isnan(x))


def test_masked_mse_by_hand(monkeypatch):
    model = _model()
    x = torch.tensor([[[1.0, 2.0], [3.0, 4.0], [float("nan")] * 2, [float("nan")] * 2, [float("nan")] * 2,
                       [float("nan")] * 2]] * 1 + [[[1.0, 1.0]] * 6])
    monkeypatch.setattr(model, "decoder_output", lambda z: torch.zeros(z.shape[0], 6, 2))
    # valid values: 1, 2, 3, 4 and twelve ones -> mean of squares (1 + 4 + 9 + 16 + 12) / 16
    assert float(model.losses(Batch(x))["loss"]) == pytest.approx(42 / 16)


def test_images_are_read_as_rows():
    model = _model(data_shape=[3, 4, 5])
    x = torch.rand(2, 3, 4, 5)
    seq, valid = model.as_sequence(x)
    assert seq.shape == (2, 4, 15) and bool(valid.all())
    assert torch.equal(seq[0, 1, 5:10], x[0, 1, 1])  # row 1 of channel 1
    assert torch.equal(model.from_sequence(seq), x)
    assert model.decode(torch.randn(2, 3)).shape == (2, 3, 4, 5)


def test_bad_config_is_one_line(capsys):
    code = main(["train", "recurrent-ae", "--dataset", "digits", "--hidden-size", "0"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "hidden_size" in err[0]


def test_trains_on_a_series_end_to_end(tmp_path, capsys):
    t = np.arange(400)
    np.savez(tmp_path / "s.npz", series=np.stack([np.sin(t / 5), np.cos(t / 7) * 3 + 10], 1))
    out = tmp_path / "run"
    assert main(["train", "recurrent-ae", "--dataset", f"npz:{tmp_path / 's.npz'}", "--window", "12", "--stride", "4",
                 "--steps", "6", "--batch-size", "8", "--hidden-size", "8", "--latent-dim", "4", "--cell", "gru",
                 "--precision", "bf16", "--out", str(out)]) == 0
    info = json.loads((out / "data_info.json").read_text())
    assert len(info["mean"]) == 2 and info["mean"][1] == pytest.approx(10, abs=0.5)
    assert not (out / "samples.png").exists()  # sequences: no image grid
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["model"]["config"]["data_shape"] == [12, 2]
    assert main(["embed", str(out), "--out", str(tmp_path / "codes.npz")]) == 0
    assert np.load(tmp_path / "codes.npz")["codes"].shape[1] == 4
    capsys.readouterr()
    assert main(["encode", str(out)]) == 2
    assert "sequences" in capsys.readouterr().err
