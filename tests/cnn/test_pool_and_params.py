"""`genlab cnn pool` and `genlab cnn params`: the notes' worked examples, checked against real
PyTorch layers (pooling of random matrices, parameter counts of random stacks)."""
import random

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from genlab.cli import main
from genlab.cnn import parse_layer, parse_matrix, pool2d, stack_parameters
from genlab.errors import ConfigError


def _one_error(capsys, argv):
    code = main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("genlab: error: "), (code, err)
    return err[0]


def test_the_notes_pooling_example():
    m = parse_matrix("1 3; 2 4")
    assert m == [[1, 3], [2, 4]] and parse_matrix("[1, 3; 2, 4]") == m
    assert pool2d(m, 2, mode="max") == [[4.0]]
    assert pool2d(m, 2, mode="avg") == [[2.5]]


def test_pooling_matches_pytorch():
    rng = random.Random(0)
    for _ in range(60):
        h, w, k = rng.randint(1, 7), rng.randint(1, 7), rng.randint(1, 3)
        stride, padding = rng.randint(1, 3), rng.randint(0, k // 2)
        if min(h, w) + 2 * padding < k:
            continue
        x = torch.randn(h, w, generator=torch.Generator().manual_seed(rng.randint(0, 10**6)))
        m = x.tolist()
        want_max = F.max_pool2d(x[None, None], k, stride, padding)[0, 0]
        want_avg = F.avg_pool2d(x[None, None], k, stride, padding)[0, 0]  # count_include_pad=True
        assert torch.allclose(torch.tensor(pool2d(m, k, stride, padding, "max")), want_max)
        assert torch.allclose(torch.tensor(pool2d(m, k, stride, padding, "avg")), want_avg, atol=1e-6)


def test_cnn_pool_command(capsys):
    assert main(["cnn", "pool", "--input", "1 3; 2 4", "--kernel", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    i = next(n for n, line in enumerate(lines) if line.startswith("max pooling"))
    j = next(n for n, line in enumerate(lines) if line.startswith("average pooling"))
    assert "-> 1x1" in lines[i] and lines[i + 1].split() == ["4"]
    assert "-> 1x1" in lines[j] and lines[j + 1].split() == ["2.5"]
    assert main(["cnn", "pool", "--input", "1 2 3 4; 5 6 7 8; 9 10 11 12; 13 14 15 16", "--kernel", "2"]) == 0
    out = capsys.readouterr().out.splitlines()
    k = next(n for n, line in enumerate(out) if line.startswith("max pooling"))
    assert [line.split() for line in out[k + 1:k + 3]] == [["6", "8"], ["14", "16"]]


@pytest.mark.parametrize("argv,words", [
    (["--input", "1 3; 2", "--kernel", "2"], "different lengths"),
    (["--input", "1 x; 2 4", "--kernel", "2"], "not a row of numbers"),
    (["--input", "1 nan; 2 4", "--kernel", "2"], "not finite"),
    (["--input", "1 3; 2 4", "--kernel", "3"], "does not fit"),
    (["--input", "1 3; 2 4", "--kernel", "0"], "kernel must be at least 1"),
    (["--input", ";", "--kernel", "2"], "empty"),
])
def test_cnn_pool_bad_inputs(capsys, argv, words):
    assert words in _one_error(capsys, ["cnn", "pool", *argv])


def test_the_notes_parameter_example():
    layers = stack_parameters(["conv:3:16:3", "conv:16:32:3"])
    assert [(layer.weights, layer.biases, layer.parameters) for layer in layers] == [(432, 16, 448), (4608, 32, 4640)]
    assert sum(layer.parameters for layer in layers) == 5088


def test_parameter_counts_match_pytorch():
    rng = random.Random(1)
    for _ in range(40):
        c_in, c_out, groups = rng.randint(1, 4), rng.randint(1, 4), rng.choice([1, 1, 2])
        c_in, c_out = c_in * groups, c_out * groups
        kh, kw, bias = rng.randint(1, 5), rng.randint(1, 5), rng.random() < 0.7
        layer = parse_layer(f"conv:{c_in}:{c_out}:{kh}x{kw}:{groups}", bias)
        real = nn.Conv2d(c_in, c_out, (kh, kw), groups=groups, bias=bias)
        assert layer.parameters == sum(p.numel() for p in real.parameters())
        assert layer.weights == real.weight.numel()
        n_in, n_out = rng.randint(1, 50), rng.randint(1, 50)
        lin = parse_layer(f"linear:{n_in}:{n_out}", bias)
        assert lin.parameters == sum(p.numel() for p in nn.Linear(n_in, n_out, bias=bias).parameters())


def test_cnn_params_command(capsys):
    assert main(["cnn", "params", "--layer", "conv:3:16:3", "--layer", "conv:16:32:3"]) == 0
    out = capsys.readouterr().out
    rows = {line.split()[0] + line.split()[1]: line.split() for line in out.splitlines() if line.startswith("conv")}
    assert rows["conv3->16,"][-1] == "448" and "3x3x3x16 = 432" in out
    assert rows["conv16->32,"][-1] == "4640" and "3x3x16x32 = 4608" in out
    assert [line.split() for line in out.splitlines() if line.startswith("total")] == [["total", "5088"]]
    assert "448 + 4640 = 5088 parameters" in out
    stack = [nn.Conv2d(3, 16, 3), nn.Conv2d(16, 32, 3)]
    assert sum(p.numel() for layer in stack for p in layer.parameters()) == 5088
    assert main(["cnn", "params", "--layer", "conv:1:6:5", "--layer", "linear:400:120", "--no-bias"]) == 0
    assert "total" in capsys.readouterr().out


@pytest.mark.parametrize("layers,words", [
    (["conv:3:16:3", "conv:8:32:3"], "takes 8 channels but 'conv:3:16:3' gives 16"),
    (["pool:2"], "cannot read layer"),
    (["conv:3:16"], "cannot read layer"),
    (["conv:3:-16:3"], "positive integer"),
    (["conv:3:16:3:5"], "groups (5) must divide"),
    (["linear:10:5", "linear:6:2"], "takes 6 features"),
])
def test_cnn_params_bad_layers(capsys, layers, words):
    argv = ["cnn", "params"]
    for spec in layers:
        argv += ["--layer", spec]
    assert words in _one_error(capsys, argv)
    with pytest.raises(ConfigError):
        stack_parameters(layers)
