"""Attribute vectors, edits and the 2-D manifold grid (issue 6's latent tools)."""
import pytest
import torch

from genlab.apps.latent import attribute_vector, edit, manifold_grid
from genlab.cli import main
from genlab.models.vae import VAE, VAEConfig


class LinearCodes(VAE):
    """A VAE whose code is the mean of the first two pixels and the last pixel: easy to check."""

    def encode(self, x, labels=None):
        flat = x.flatten(1)
        return torch.stack([flat[:, :2].mean(1), flat[:, -1]], 1)


def test_attribute_vector_is_a_difference_of_mean_codes():
    model = LinearCodes(VAEConfig(data_shape=(1, 2, 2), latent_dim=2, architecture="mlp", mlp_hidden=(4,)))
    x = torch.tensor([[1.0, 1, 0, 0], [1.0, 0, 0, 1], [0.0, 0, 0, 0], [0.0, 0, 0, 1]]).view(4, 1, 2, 2)
    has = torch.tensor([True, True, False, False])
    # codes: (1, 0), (0.5, 1), (0, 0), (0, 1) -> means (0.75, 0.5) and (0, 0.5)
    torch.testing.assert_close(attribute_vector(model, x, has), torch.tensor([0.75, 0.0]))
    with pytest.raises(ValueError):
        attribute_vector(model, x, torch.ones(4, dtype=torch.bool))


def test_edit_and_manifold_shapes():
    torch.manual_seed(0)
    model = VAE(VAEConfig(data_shape=(1, 8, 8), latent_dim=2, architecture="mlp", mlp_hidden=(16,))).eval()
    x = torch.rand(3, 1, 8, 8)
    out = edit(model, x, torch.tensor([1.0, 0.0]), [0.0, 1.0, 2.0])
    assert out.shape == (9, 1, 8, 8)
    torch.testing.assert_close(out[0], model.reconstruct(x[:1])[0])  # strength 0 is the reconstruction
    assert manifold_grid(model, steps=4).shape == (16, 1, 8, 8)


def test_edit_and_manifold_commands(tmp_path, capsys):
    run = tmp_path / "vae2d"
    assert main(["train", "vae", "--dataset", "digits", "--out", str(run), "--steps", "3", "--batch-size", "32",
                 "--latent-dim", "2", "--architecture", "mlp", "--mlp-hidden", "16", "--num-samples", "4"]) == 0
    assert main(["edit", str(run), "--toward", "7", "--n", "3", "--strength", "0", "1", "--fit", "500",
                 "--out", str(tmp_path / "e.png")]) == 0
    assert main(["manifold", str(run), "--steps", "5", "--out", str(tmp_path / "m.png")]) == 0
    assert (tmp_path / "e.png").is_file() and (tmp_path / "m.png").is_file()
    capsys.readouterr()
    assert main(["edit", str(run), "--toward", "12"]) == 2
    assert "out of range" in capsys.readouterr().err
    run3 = tmp_path / "vae3d"
    assert main(["train", "vae", "--dataset", "digits", "--out", str(run3), "--steps", "2", "--batch-size", "32",
                 "--latent-dim", "3", "--architecture", "mlp", "--mlp-hidden", "16", "--num-samples", "4"]) == 0
    capsys.readouterr()
    assert main(["manifold", str(run3)]) == 2
    assert "needs a 2-D latent space" in capsys.readouterr().err
