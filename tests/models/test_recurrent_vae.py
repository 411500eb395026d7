"""The sequence VAE: new series of a given length, conditional sampling, the CLI's --length."""
import numpy as np
import torch

from genlab import registry
from genlab.cli import main
from genlab.models.base import Batch
from genlab.models.recurrent import RecurrentAE


def test_the_sequence_vae_reuses_the_recurrent_ae_and_samples_any_length():
    model = registry.build("recurrent-vae", {"data_shape": [12, 2], "hidden_size": 8, "latent_dim": 3})
    assert isinstance(model, RecurrentAE)  # the recurrent AE's encoder and decoder, not a copy
    losses = model(Batch(torch.randn(5, 12, 2)))
    assert {"loss", "rec", "kl"} <= set(losses) and float(losses["kl"]) >= 0
    model.eval()
    assert model.sample(4).shape == (4, 12, 2)
    assert model.sample(4, length=30).shape == (4, 30, 2)


def test_the_conditional_sequence_vae_decodes_with_the_label():
    model = registry.build("recurrent-cvae", {"data_shape": [6, 1], "hidden_size": 8, "latent_dim": 2,
                                              "num_classes": 3}).eval()
    torch.manual_seed(0)
    a = model.sample(2, labels=torch.tensor([0, 0]))
    torch.manual_seed(0)
    b = model.sample(2, labels=torch.tensor([2, 2]))
    assert a.shape == (2, 6, 1) and not torch.allclose(a, b)


def test_series_of_a_given_length_through_the_cli(tmp_path, capsys):
    data = tmp_path / "s.csv"
    data.write_text("v\n" + "".join(f"{np.sin(i / 4):.4f}\n" for i in range(120)))
    run = tmp_path / "run"
    assert main(["train", "recurrent-vae", "--dataset", f"csv:{data}", "--window", "8", "--steps", "2",
                 "--batch-size", "8", "--hidden-size", "4", "--latent-dim", "2", "--out", str(run)]) == 0
    assert main(["sample", str(run), "--n", "3", "--length", "20", "--out", str(tmp_path / "s.csv")]) == 0
    rows = (tmp_path / "s.csv").read_text().strip().splitlines()
    assert rows[0] == "sequence,step,v" and len(rows) == 1 + 3 * 20
    assert (tmp_path / "s.png").stat().st_size > 1000  # and a plot beside the CSV
    assert main(["sample", str(run), "--n", "3", "--length", "20", "--out", str(tmp_path / "p.png")]) == 0
    capsys.readouterr()
    assert main(["sample", str(run), "--length", "0", "--out", str(tmp_path / "t.csv")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--length must be in 1.." in err[0]
