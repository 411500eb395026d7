"""Network summaries (shapes from a real forward pass), LeNet-5 and VGG layouts, the `cnn` commands."""
import pytest
import torch

from genlab.cli import main
from genlab.cnn import format_summary, summarize
from genlab.nn import VGG, LeNet5


@pytest.mark.parametrize("size", [28, 32, 8])
def test_lenet5_layout(size):
    net = LeNet5(1, size, 10)
    rows = summarize(net, lambda: net(torch.zeros(2, 1, size, size)))
    shapes = [r.output_shape for r in rows if r.kind.startswith(("Conv2d", "MaxPool2d"))]
    assert shapes == [(6, 28, 28), (6, 14, 14), (16, 10, 10), (16, 5, 5), (120, 1, 1)]
    assert sum(r.parameters for r in rows) == sum(p.numel() for p in net.parameters()) == 61_706
    assert net.features(torch.zeros(3, 1, size, size)).shape == (3, 84)


@pytest.mark.parametrize("depth,convs", [("vgg11", 8), ("vgg13", 10), ("vgg16", 13), ("vgg19", 16)])
def test_vgg_depths(depth, convs):
    net = VGG(depth, 3, 32, 10, width=4, hidden=16)
    rows = summarize(net, lambda: net(torch.zeros(1, 3, 32, 32)))
    assert sum(r.kind.startswith("Conv2d") for r in rows) == convs
    assert sum(r.kind.startswith("MaxPool2d") for r in rows) == 5
    assert rows[-1].output_shape == (10,)
    assert sum(r.parameters for r in rows) == sum(p.numel() for p in net.parameters())
    # multiply-adds of every conv: H*W*Cout*9*Cin, with the output shape the forward pass produced
    modules = dict(net.named_modules())
    for r in rows:
        if r.kind.startswith("Conv2d"):
            c_out, h, w = r.output_shape
            assert r.multiply_adds == h * w * c_out * 9 * modules[r.name].in_channels


def test_vgg_on_tiny_images_stops_pooling_at_one_pixel():
    net = VGG("vgg11", 1, 8, 10, width=4, hidden=8, batch_norm=False)
    assert net(torch.zeros(2, 1, 8, 8)).shape == (2, 10)
    assert sum(isinstance(m, torch.nn.MaxPool2d) for m in net.modules()) == 3


def test_summary_table_has_totals_and_shared_modules_count_once():
    lin = torch.nn.Linear(4, 4)
    net = torch.nn.Sequential(lin, torch.nn.ReLU(), lin)
    rows = summarize(net, lambda: net(torch.zeros(1, 4)))
    assert [r.parameters for r in rows] == [20, 0, 0] and [r.multiply_adds for r in rows] == [16, 0, 16]
    text = format_summary(rows)
    assert text.splitlines()[-1].split() == ["total", "20", "32"]


def test_cnn_calc_and_summary_commands(capsys):
    assert main(["cnn", "calc", "--input", "6", "--kernel", "3", "--padding", "1", "--stride", "1"]) == 0
    assert "output size: 6" in capsys.readouterr().out
    assert main(["cnn", "calc", "--kernel", "5", "--in-channels", "1", "--out-channels", "6"]) == 0
    assert "parameters: 156" in capsys.readouterr().out
    assert main(["cnn", "summary", "lenet5"]) == 0
    out = capsys.readouterr().out
    assert "61,706" in out and "MaxPool2d" in out
    assert main(["cnn", "summary", "classifier", "--arch", "vgg11", "--input-shape", "3", "32", "32"]) == 0
    assert "vgg11" in capsys.readouterr().out
    assert main(["cnn", "summary", "vae"]) == 0
    assert "ConvTranspose2d" in capsys.readouterr().out


def test_cnn_bad_inputs(capsys):
    assert main(["cnn", "calc", "--input", "3", "--kernel", "5"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("genlab: error:") and len(err.splitlines()) == 1
    assert main(["cnn", "summary", "no-such-thing"]) == 2
    assert "genlab: error:" in capsys.readouterr().err
