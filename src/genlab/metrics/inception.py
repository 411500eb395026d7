"""The FID Inception-v3 network (Szegedy et al. 2016, as in TensorFlow's 2015-12-05 graph).

Standard FID numbers come from the 2048-d pool features of one specific Inception-v3: the graph
released by TensorFlow on 2015-12-05, whose weights circulate as a PyTorch state dict
(``pt_inception-2015-12-05-6726825d.pth``, the file pytorch-fid uses). This module builds that
architecture so the file can be loaded, parameter for parameter. genlab never downloads it: pass
its path with ``--inception-weights FILE`` or set ``GENLAB_INCEPTION_WEIGHTS``.

The layout differs from the ImageNet Inception-v3 of torchvision in four places (the 2015 graph's
choices): average pools in the A, C and first E blocks exclude padding from the average, the last
E block uses max pooling in its pool branch, and the classifier has 1008 outputs. Inputs are
resized to 299x299 (bilinear), grayscale is repeated to RGB, and [0, 1] is mapped to [-1, 1].
"""
from __future__ import annotations

import os
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from genlab.errors import ConfigError

WEIGHTS_ENV = "GENLAB_INCEPTION_WEIGHTS"


class BasicConv2d(nn.Module):
    """Convolution without bias, batch norm (eps 0.001), ReLU."""

    def __init__(self, cin: int, cout: int, kernel: int | tuple[int, int], stride: int = 1,
                 padding: int | tuple[int, int] = 0):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, stride, padding, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=0.001)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)))


def _avg_pool(x: torch.Tensor) -> torch.Tensor:
    """3x3 / 1 average pool with padding 1 that averages only real pixels (the 2015 graph)."""
    return F.avg_pool2d(x, 3, 1, 1, count_include_pad=False)


class InceptionA(nn.Module):
    """35x35 block: 1x1 | 1x1 -> 5x5 | 1x1 -> 3x3 -> 3x3 | avg pool -> 1x1."""

    def __init__(self, cin: int, pool_features: int):
        super().__init__()
        self.branch1x1 = BasicConv2d(cin, 64, 1)
        self.branch5x5_1 = BasicConv2d(cin, 48, 1)
        self.branch5x5_2 = BasicConv2d(48, 64, 5, padding=2)
        self.branch3x3dbl_1 = BasicConv2d(cin, 64, 1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, 3, padding=1)
        self.branch_pool = BasicConv2d(cin, pool_features, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([
            self.branch1x1(x),
            self.branch5x5_2(self.branch5x5_1(x)),
            self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
            self.branch_pool(_avg_pool(x)),
        ], 1)


class InceptionB(nn.Module):
    """Grid reduction 35 -> 17: 3x3/2 | 1x1 -> 3x3 -> 3x3/2 | max pool 3x3/2."""

    def __init__(self, cin: int):
        super().__init__()
        self.branch3x3 = BasicConv2d(cin, 384, 3, stride=2)
        self.branch3x3dbl_1 = BasicConv2d(cin, 64, 1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, 3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([
            self.branch3x3(x),
            self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
            F.max_pool2d(x, 3, 2),
        ], 1)


class InceptionC(nn.Module):
    """17x17 block with factorized 7x7 convolutions (1x7 and 7x1)."""

    def __init__(self, cin: int, c7: int):
        super().__init__()
        self.branch1x1 = BasicConv2d(cin, 192, 1)
        self.branch7x7_1 = BasicConv2d(cin, c7, 1)
        self.branch7x7_2 = BasicConv2d(c7, c7, (1, 7), padding=(0, 3))
        self.branch7x7_3 = BasicConv2d(c7, 192, (7, 1), padding=(3, 0))
        self.branch7x7dbl_1 = BasicConv2d(cin, c7, 1)
        self.branch7x7dbl_2 = BasicConv2d(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_3 = BasicConv2d(c7, c7, (1, 7), padding=(0, 3))
        self.branch7x7dbl_4 = BasicConv2d(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_5 = BasicConv2d(c7, 192, (1, 7), padding=(0, 3))
        self.branch_pool = BasicConv2d(cin, 192, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        d = x
        for layer in (self.branch7x7dbl_1, self.branch7x7dbl_2, self.branch7x7dbl_3, self.branch7x7dbl_4,
                      self.branch7x7dbl_5):
            d = layer(d)
        return torch.cat([self.branch1x1(x), b7, d, self.branch_pool(_avg_pool(x))], 1)


class InceptionD(nn.Module):
    """Grid reduction 17 -> 8: 1x1 -> 3x3/2 | 1x1 -> 1x7 -> 7x1 -> 3x3/2 | max pool 3x3/2."""

    def __init__(self, cin: int):
        super().__init__()
        self.branch3x3_1 = BasicConv2d(cin, 192, 1)
        self.branch3x3_2 = BasicConv2d(192, 320, 3, stride=2)
        self.branch7x7x3_1 = BasicConv2d(cin, 192, 1)
        self.branch7x7x3_2 = BasicConv2d(192, 192, (1, 7), padding=(0, 3))
        self.branch7x7x3_3 = BasicConv2d(192, 192, (7, 1), padding=(3, 0))
        self.branch7x7x3_4 = BasicConv2d(192, 192, 3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b7 = self.branch7x7x3_4(self.branch7x7x3_3(self.branch7x7x3_2(self.branch7x7x3_1(x))))
        return torch.cat([self.branch3x3_2(self.branch3x3_1(x)), b7, F.max_pool2d(x, 3, 2)], 1)


class InceptionE(nn.Module):
    """8x8 block with expanded filter banks (1x3 and 3x1 side by side).

    Args:
        cin: input channels.
        pool: 'avg' (Mixed_7b: average excluding padding) or 'max' (Mixed_7c), as in the 2015 graph.
    """

    def __init__(self, cin: int, pool: str):
        super().__init__()
        self.pool = pool
        self.branch1x1 = BasicConv2d(cin, 320, 1)
        self.branch3x3_1 = BasicConv2d(cin, 384, 1)
        self.branch3x3_2a = BasicConv2d(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3_2b = BasicConv2d(384, 384, (3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = BasicConv2d(cin, 448, 1)
        self.branch3x3dbl_2 = BasicConv2d(448, 384, 3, padding=1)
        self.branch3x3dbl_3a = BasicConv2d(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = BasicConv2d(384, 384, (3, 1), padding=(1, 0))
        self.branch_pool = BasicConv2d(cin, 192, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b3 = self.branch3x3_1(x)
        d = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        pooled = _avg_pool(x) if self.pool == "avg" else F.max_pool2d(x, 3, 1, 1)
        return torch.cat([
            self.branch1x1(x),
            torch.cat([self.branch3x3_2a(b3), self.branch3x3_2b(b3)], 1),
            torch.cat([self.branch3x3dbl_3a(d), self.branch3x3dbl_3b(d)], 1),
            self.branch_pool(pooled),
        ], 1)


class FIDInceptionV3(nn.Module):
    """Inception-v3 in the layout of the FID weights file; :meth:`forward` gives 2048-d pool features.

    Args:
        resize_to: input resolution the images are resized to (299 for standard FID; smaller
            values only for tests, at least 75).
    """

    def __init__(self, resize_to: int = 299):
        super().__init__()
        if resize_to < 75:
            raise ConfigError(f"Inception-v3 needs inputs of at least 75x75, got {resize_to}")
        self.resize_to = resize_to
        self.Conv2d_1a_3x3 = BasicConv2d(3, 32, 3, stride=2)
        self.Conv2d_2a_3x3 = BasicConv2d(32, 32, 3)
        self.Conv2d_2b_3x3 = BasicConv2d(32, 64, 3, padding=1)
        self.Conv2d_3b_1x1 = BasicConv2d(64, 80, 1)
        self.Conv2d_4a_3x3 = BasicConv2d(80, 192, 3)
        self.Mixed_5b = InceptionA(192, 32)
        self.Mixed_5c = InceptionA(256, 64)
        self.Mixed_5d = InceptionA(288, 64)
        self.Mixed_6a = InceptionB(288)
        self.Mixed_6b = InceptionC(768, 128)
        self.Mixed_6c = InceptionC(768, 160)
        self.Mixed_6d = InceptionC(768, 160)
        self.Mixed_6e = InceptionC(768, 192)
        self.Mixed_7a = InceptionD(768)
        self.Mixed_7b = InceptionE(1280, "avg")
        self.Mixed_7c = InceptionE(2048, "max")
        self.fc = nn.Linear(2048, 1008)  # the 2015 graph's classes; unused for FID features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) in [0, 1], C = 1 or 3 -> (B, 2048) pool features."""
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        # 1. resize to the network's input size, 2. map [0, 1] to [-1, 1]
        x = F.interpolate(x.float(), size=(self.resize_to, self.resize_to), mode="bilinear", align_corners=False)
        x = 2 * x - 1
        # 3. stem: (B, 3, 299, 299) -> (B, 192, 35, 35)
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))
        x = F.max_pool2d(x, 3, 2)
        x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x))
        x = F.max_pool2d(x, 3, 2)
        # 4. Inception blocks: 35x35x288 -> 17x17x768 -> 8x8x2048
        for block in (self.Mixed_5b, self.Mixed_5c, self.Mixed_5d, self.Mixed_6a, self.Mixed_6b, self.Mixed_6c,
                      self.Mixed_6d, self.Mixed_6e, self.Mixed_7a, self.Mixed_7b, self.Mixed_7c):
            x = block(x)
        # 5. global average pool -> (B, 2048)
        return x.mean((2, 3))


def weights_path(path: str | Path | None = None) -> Path:
    """The weights file from the argument or ``$GENLAB_INCEPTION_WEIGHTS``; a clear error otherwise."""
    path = path or os.environ.get(WEIGHTS_ENV)
    if not path:
        raise ConfigError("Inception FID needs the FID Inception-v3 weights file "
                          "(pt_inception-2015-12-05-6726825d.pth); "
                          f"genlab does not download it: pass --inception-weights FILE or set {WEIGHTS_ENV}")
    path = Path(path).expanduser()
    if not path.is_file():
        raise ConfigError(f"Inception weights file not found: {path} (from --inception-weights or {WEIGHTS_ENV})")
    return path


def load_fid_inception(path: str | Path | None = None, resize_to: int = 299) -> FIDInceptionV3:
    """The FID Inception-v3 with weights from ``path`` (a PyTorch state dict or a safetensors file).

    Raises:
        ConfigError: no file given, file missing, unreadable, or of another network.
    """
    file = weights_path(path)
    try:
        if file.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(file))
        else:
            state = torch.load(file, map_location="cpu", weights_only=True)  # tensors only: no code runs
    except Exception as e:  # noqa: BLE001 - any failure means the file is not a weights file
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise ConfigError(f"cannot read Inception weights {file}: {reason}") from None
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise ConfigError(f"{file} does not hold a state dict")
    state = {k: v for k, v in state.items() if not k.startswith("AuxLogits.")}  # the auxiliary head is not used
    net = FIDInceptionV3(resize_to)
    own = net.state_dict()
    missing = sorted(set(own) - set(state))
    wrong = sorted(k for k in set(own) & set(state) if own[k].shape != state[k].shape)
    unexpected = sorted(set(state) - set(own))
    if missing or wrong or unexpected:
        example = (missing + wrong + unexpected)[0]
        raise ConfigError(f"{file} is not the FID Inception-v3 weights (missing {len(missing)}, "
                          f"wrong shape {len(wrong)}, unexpected {len(unexpected)}; e.g. '{example}')")
    net.load_state_dict(state)
    return net.eval()


@torch.no_grad()
def inception_features(net: FIDInceptionV3, images: torch.Tensor, batch_size: int = 50) -> torch.Tensor:
    """2048-d pool features of images in [0, 1], (N, C, H, W) -> (N, 2048), in batches."""
    return torch.cat([net(images[i:i + batch_size]) for i in range(0, len(images), batch_size)])
