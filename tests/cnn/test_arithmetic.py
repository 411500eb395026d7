"""Conv arithmetic against real PyTorch layers over many random configurations."""
import random

import pytest
import torch
from torch import nn

from genlab.cnn import (
    conv_multiply_adds,
    conv_output_size,
    conv_parameters,
    conv_transpose_output_size,
    pool_output_size,
    receptive_field,
)
from genlab.errors import ConfigError


def _configs(n, seed):
    rng = random.Random(seed)
    for _ in range(n):
        yield dict(size=rng.randint(5, 24), kernel=rng.randint(1, 5), padding=rng.randint(0, 2),
                   stride=rng.randint(1, 3), dilation=rng.randint(1, 2), cin=rng.randint(1, 4),
                   groups=rng.choice([1, 1, 2]), cout=2 * rng.randint(1, 3), bias=rng.random() < 0.7)


def test_the_notes_example():
    assert conv_output_size(6, 3, padding=1, stride=1) == 6  # "same" convolution
    assert conv_output_size(6, 3) == 4  # floor((6 - 3)/1) + 1
    assert conv_output_size(7, 3, padding=0, stride=2) == 3
    assert conv_parameters(5, 5, 1, 6) == 156  # LeNet-5 C1: (5*5*1 + 1) * 6


def test_convolution_matches_pytorch():
    checked = 0
    for c in _configs(60, 0):
        cin = c["cin"] * c["groups"]
        layer = nn.Conv2d(cin, c["cout"], c["kernel"], c["stride"], c["padding"], c["dilation"], c["groups"], c["bias"])
        span = c["dilation"] * (c["kernel"] - 1) + 1
        if c["size"] + 2 * c["padding"] < span:
            with pytest.raises(ConfigError):
                conv_output_size(c["size"], c["kernel"], c["padding"], c["stride"], c["dilation"])
            continue
        out = layer(torch.zeros(1, cin, c["size"], c["size"]))
        o = conv_output_size(c["size"], c["kernel"], c["padding"], c["stride"], c["dilation"])
        assert out.shape[-2:] == (o, o), c
        assert conv_parameters(c["kernel"], c["kernel"], cin, c["cout"], c["bias"], c["groups"]) == \
            sum(p.numel() for p in layer.parameters())
        checked += 1
    assert checked > 40


def test_transposed_convolution_matches_pytorch():
    for c in _configs(60, 1):
        out_pad = random.Random(c["size"]).randint(0, max(c["stride"], c["dilation"]) - 1)
        layer = nn.ConvTranspose2d(c["cin"], c["cout"], c["kernel"], c["stride"], c["padding"], out_pad,
                                   dilation=c["dilation"])
        expected = (c["size"] - 1) * c["stride"] - 2 * c["padding"] + c["dilation"] * (c["kernel"] - 1) + out_pad + 1
        if expected < 1:
            continue
        out = layer(torch.zeros(1, c["cin"], c["size"], c["size"]))
        o = conv_transpose_output_size(c["size"], c["kernel"], c["padding"], c["stride"], out_pad, c["dilation"])
        assert out.shape[-1] == o, c


@pytest.mark.parametrize("ceil_mode", [False, True])
def test_pooling_matches_pytorch(ceil_mode):
    rng = random.Random(2)
    for _ in range(80):
        n, k, s = rng.randint(3, 20), rng.randint(1, 4), rng.randint(1, 4)
        p = rng.randint(0, k // 2)
        if n + 2 * p < k:
            continue
        x = torch.zeros(1, 1, n, n)
        o = pool_output_size(n, k, s, p, ceil_mode=ceil_mode)
        assert nn.MaxPool2d(k, s, p, ceil_mode=ceil_mode)(x).shape[-1] == o, (n, k, s, p)
        assert nn.AvgPool2d(k, s, p, ceil_mode=ceil_mode)(x).shape[-1] == o, (n, k, s, p)
    assert pool_output_size(28, 2) == 14  # stride defaults to the kernel


def test_multiply_adds_by_hand():
    # LeNet-5 C1 on 28x28 with padding 2: 28*28 outputs * 6 maps * 25 products
    assert conv_multiply_adds(28, 28, 5, 5, 1, 6) == 117_600


def test_receptive_field():
    assert receptive_field([(3, 1), (3, 1)]) .size == 5  # two 3x3 convs see 5x5
    rf = receptive_field([(5, 1), (2, 2), (5, 1), (2, 2)])  # LeNet-5 up to S4
    assert (rf.size, rf.jump) == (16, 4)  # 1 + 4 + 1*1... : 1+4=5, +1*1=6, +4*2=14, +1*2=16
    assert receptive_field([(3, 1, 2)]).size == 5  # dilation 2


def test_bad_settings_are_config_errors():
    with pytest.raises(ConfigError, match="does not fit"):
        conv_output_size(3, 5)
    with pytest.raises(ConfigError, match="stride"):
        conv_output_size(8, 3, stride=0)
    with pytest.raises(ConfigError, match="groups"):
        conv_parameters(3, 3, 3, 4, groups=2)
