"""The FID Inception-v3: layout (shapes, the weights file's parameter names) and the missing-file message."""
import pytest
import torch

from genlab.cli import main
from genlab.errors import ConfigError
from genlab.metrics.inception import FIDInceptionV3, inception_features, load_fid_inception


@pytest.fixture(scope="module")
def net():
    torch.manual_seed(0)
    return FIDInceptionV3(resize_to=75).eval()


def test_feature_shape_and_parameter_layout(net):
    assert inception_features(net, torch.rand(2, 1, 28, 28)).shape == (2, 2048)
    state = net.state_dict()
    # names and shapes as in the FID weights file (torchvision-style module names, 1008 classes)
    assert state["Conv2d_1a_3x3.conv.weight"].shape == (32, 3, 3, 3)
    assert state["Mixed_5b.branch_pool.conv.weight"].shape == (32, 192, 1, 1)
    assert state["Mixed_6e.branch7x7dbl_5.conv.weight"].shape == (192, 192, 1, 7)
    assert state["Mixed_7c.branch3x3dbl_3b.conv.weight"].shape == (384, 384, 3, 1)
    assert state["fc.weight"].shape == (1008, 2048)
    # torchvision's inception_v3 has 27,161,264 parameters; minus its auxiliary head (3,326,696) and
    # plus 8 classes (8 * 2049) gives the FID network's count
    assert sum(p.numel() for p in net.parameters()) == 27_161_264 - 3_326_696 + 8 * 2049


def test_weights_round_trip(net, tmp_path):
    path = tmp_path / "inception.pth"
    torch.save({**net.state_dict(), "AuxLogits.fc.weight": torch.zeros(1)}, path)  # an aux head is ignored
    loaded = load_fid_inception(path, resize_to=75)
    x = torch.rand(1, 3, 32, 32)
    assert torch.allclose(loaded(x), net(x))


def test_missing_weights_say_how_to_supply_them(monkeypatch, tmp_path, capsys):
    monkeypatch.delenv("GENLAB_INCEPTION_WEIGHTS", raising=False)
    with pytest.raises(ConfigError, match="--inception-weights FILE or set GENLAB_INCEPTION_WEIGHTS"):
        load_fid_inception()
    with pytest.raises(ConfigError, match="not found"):
        load_fid_inception(tmp_path / "nope.pth")
    bad = tmp_path / "bad.pth"
    torch.save({"x": torch.zeros(1)}, bad)
    with pytest.raises(ConfigError, match="is not the FID Inception-v3 weights"):
        load_fid_inception(bad)
    run = tmp_path / "run"
    import genlab

    genlab.train("vae", out=run, data="digits", model_config={"latent_dim": 2, "conv_widths": [4]},
                 train={"steps": 1, "batch_size": 16, "device": "cpu", "log_every": 0, "num_samples": 1})
    capsys.readouterr()
    assert main(["evaluate", str(run), "--metrics", "inception", "--n", "4"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("genlab: error: Inception FID needs") and len(err.splitlines()) == 1
