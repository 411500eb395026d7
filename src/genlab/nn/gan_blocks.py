"""Generator and discriminator networks of the GAN family, and the layers only they use.

Generators map a vector (noise, possibly with a label embedding) to an image in [-1, 1] (tanh);
discriminators map an image to a feature vector (B, F), and the model puts its own head on top
(a plain linear output, or a class projection). Both come in two shapes:

* MLP (Goodfellow et al. 2014): fully connected layers;
* DCGAN (Radford et al. 2016): a projected and reshaped code followed by stride-2 transposed
  convolutions with batch norm and ReLU; a discriminator of stride-2 convolutions with LeakyReLU
  0.2 and no normalization on its first layer. The spatial sizes follow
  :func:`genlab.nn.conv.downsample_sizes` (28 -> 14 -> 7, 32 -> 16 -> 8 -> 4, 64 -> ... -> 4).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from genlab.nn.conv import downsample_sizes

NORMS_2D: dict[str, Callable[[int], nn.Module]] = {
    "batch": nn.BatchNorm2d,
    "layer": lambda c: nn.GroupNorm(1, c),  # normalizes each sample over (C, H, W): no batch coupling
    "none": lambda c: nn.Identity(),
}
NORMS_1D: dict[str, Callable[[int], nn.Module]] = {
    "batch": nn.BatchNorm1d,
    "layer": nn.LayerNorm,
    "none": lambda n: nn.Identity(),
}


def pack(x: torch.Tensor, pac: int) -> torch.Tensor:
    """PacGAN's packing (Lin et al. 2018): (B, F, ...) with B a multiple of ``pac`` -> (B / pac, pac * F, ...),
    each group of ``pac`` consecutive samples side by side on the feature (channel) axis, so one critic
    score judges ``pac`` samples at once. Rows (B, F) and images (B, C, H, W) alike; a channels-last
    image batch stays channels-last."""
    if pac == 1:
        return x
    if x.shape[0] % pac:
        raise ValueError(f"a batch of {x.shape[0]} does not split into packs of {pac}")
    out = x.reshape(x.shape[0] // pac, pac * x.shape[1], *x.shape[2:])
    if x.dim() == 4 and not x.is_contiguous() and x.is_contiguous(memory_format=torch.channels_last):
        out = out.contiguous(memory_format=torch.channels_last)
    return out


def whole_packs(x: torch.Tensor, pac: int) -> torch.Tensor:
    """The first B - B % pac samples of a batch, so that it packs; a batch smaller than one pack (a
    validation leftover) is repeated to fill one."""
    if x.shape[0] < pac:
        x = x.repeat(-(-pac // x.shape[0]), *([1] * (x.dim() - 1)))
    return x[:x.shape[0] - x.shape[0] % pac]


class MinibatchStd(nn.Module):
    """Append the mean standard deviation across a group of samples as one extra feature map.

    Karras et al. 2018 (ProGAN), sec. 3: for each group of ``group_size`` samples, the standard
    deviation of every feature over the group is averaged into one number, which is appended to
    each sample of the group (a channel for (B, C, H, W) input, a feature for (B, F) input). A
    discriminator can then see that a batch lacks variety, which counters mode collapse.

    Args:
        group_size: samples per group; a batch not divisible by it is treated as one group.
    """

    def __init__(self, group_size: int = 4):
        super().__init__()
        self.group_size = group_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b = x.shape[0]
        g = self.group_size if b % self.group_size == 0 else b
        grouped = x.float().reshape(g, b // g, *x.shape[1:])  # sample i is in subgroup i % (b // g)
        std = (grouped.var(dim=0, unbiased=False) + 1e-8).sqrt()  # (b // g, ...)
        stat = std.flatten(1).mean(dim=1).repeat(g).to(x.dtype)  # (B,)
        extra = stat.view(b, *([1] * (x.dim() - 1))).expand(b, 1, *x.shape[2:])  # (B, 1, ...)
        return torch.cat([x, extra], dim=1)


class MinibatchDiscrimination(nn.Module):
    """Append, per sample, how close it lies to the other samples of its batch (B, A) -> (B, A + kernels).

    Salimans et al. 2016, sec. 3.2: a learned tensor T in R^{A x B x C} projects each row
    f(x_i) in R^A to a matrix M_i = f(x_i) T in R^{B x C}; for each kernel b the closeness of
    samples i and j is c_b(x_i, x_j) = exp(-||M_{i,b} - M_{j,b}||_1) (L1 over the C entries), and
    o(x_i)_b = sum_j c_b(x_i, x_j) over the whole batch (j = i included, as in the paper, which
    adds the constant 1). The B features o(x_i) are concatenated to f(x_i). A generator that
    collapses makes its samples' rows close, so o is large on fake batches and the discriminator
    can tell; real and fake images go through in separate batches.

    Args:
        in_features: A, the size of the input rows.
        kernels: B, the number of closeness features appended.
        kernel_dim: C, the size of each kernel's projection.
    """

    def __init__(self, in_features: int, kernels: int, kernel_dim: int):
        super().__init__()
        self.kernels, self.kernel_dim = kernels, kernel_dim
        self.T = nn.Parameter(torch.randn(in_features, kernels * kernel_dim) * 0.1)  # (A, B*C)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = x.flatten(1)  # (N, A)
        m = (f.float() @ self.T.float()).view(-1, self.kernels, self.kernel_dim)  # (N, B, C)
        dist = (m.unsqueeze(0) - m.unsqueeze(1)).abs().sum(3)  # (N, N, B): L1 over C
        o = torch.exp(-dist).sum(1)  # (N, B): sum over j
        return torch.cat([f, o.to(f.dtype)], dim=1)  # (N, A + B)


def apply_spectral_norm(module: nn.Module) -> nn.Module:
    """Spectrally normalize every linear and convolution weight of ``module`` (Miyato et al. 2018).

    Each weight W is used as W / sigma(W), sigma estimated by one power iteration per forward pass,
    so every layer is 1-Lipschitz. Returns the same module.
    """
    for name, child in list(module.named_children()):
        if isinstance(child, (nn.Linear, nn.Conv2d)):
            setattr(module, name, spectral_norm(child))
        else:
            apply_spectral_norm(child)
    return module


def init_normal_(module: nn.Module, std: float = 0.02) -> None:
    """DCGAN initialization: conv/linear weights ~ N(0, std), norm scales ~ N(1, std), biases 0."""
    for m in module.modules():
        if isinstance(m, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d, nn.Embedding)):
            nn.init.normal_(m.weight, 0.0, std)
            bias = getattr(m, "bias", None)
            if bias is not None:
                nn.init.zeros_(bias)
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            nn.init.normal_(m.weight, 1.0, std)
            nn.init.zeros_(m.bias)


class MLPGenerator(nn.Module):
    """Vector (B, in_features) -> image (B, C, H, W) in [-1, 1] through fully connected layers.

    Args:
        in_features: size of the input vector.
        out_shape: (C, H, W) of the image.
        hidden: hidden layer sizes.
        norm: 'batch', 'layer' or 'none' after each hidden layer (before its ReLU).
    """

    def __init__(self, in_features: int, out_shape: Sequence[int], hidden: Sequence[int], norm: str = "none"):
        super().__init__()
        layers: list[nn.Module] = []
        for width in hidden:
            layers += [nn.Linear(in_features, width), NORMS_1D[norm](width), nn.ReLU()]
            in_features = width
        c, h, w = out_shape
        layers += [nn.Linear(in_features, c * h * w), nn.Tanh(), nn.Unflatten(1, (c, h, w))]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)  # (B, C, H, W)


class MLPDiscriminator(nn.Module):
    """Image (B, C, H, W) -> features (B, out_features) through fully connected LeakyReLU layers.

    Args:
        in_shape: (C, H, W) of the image.
        hidden: hidden layer sizes (at least one).
        norm: 'layer' or 'none' after each hidden layer but the first ('batch' too, where allowed).
        minibatch_std: append the :class:`MinibatchStd` feature to the last hidden layer.
        minibatch_discrimination: (kernels, kernel_dim) of a :class:`MinibatchDiscrimination`
            layer on the last features (None = off).
    """

    def __init__(self, in_shape: Sequence[int], hidden: Sequence[int], norm: str = "none", minibatch_std: bool = False,
                 minibatch_discrimination: tuple[int, int] | None = None):
        super().__init__()
        n = 1
        for d in in_shape:
            n *= d
        layers: list[nn.Module] = [nn.Flatten()]
        for i, width in enumerate(hidden):
            layers += [nn.Linear(n, width), NORMS_1D[norm if i else "none"](width), nn.LeakyReLU(0.2)]
            n = width
        if minibatch_std:
            layers.append(MinibatchStd())
            n += 1
        if minibatch_discrimination is not None:
            layers.append(MinibatchDiscrimination(n, *minibatch_discrimination))
            n += minibatch_discrimination[0]
        self.net = nn.Sequential(*layers)
        self.out_features = n

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)  # (B, out_features)


class DCGANGenerator(nn.Module):
    """Vector (B, in_features) -> image (B, C, H, W) in [-1, 1]: project, reshape, transposed convs.

    Args:
        in_features: size of the input vector.
        out_shape: (C, H, W), square.
        widths: channels per resolution level, image side first (the deepest level is widths[-1]);
            levels stop early when the size becomes odd or 4.
        norm: normalization after the projection and every hidden transposed conv.
    """

    def __init__(self, in_features: int, out_shape: Sequence[int], widths: Sequence[int], norm: str = "batch"):
        super().__init__()
        c_out, h, w = out_shape
        if h != w:
            raise ValueError(f"convolutional GANs here take square images, got {h}x{w}")
        sizes = downsample_sizes(h, len(widths))
        chans = list(widths[: len(sizes) - 1])[::-1]  # deepest first
        s = sizes[-1]
        self.start_shape = (chans[0], s, s)
        self.project = nn.Linear(in_features, chans[0] * s * s, bias=norm == "none")
        layers: list[nn.Module] = [NORMS_2D[norm](chans[0]), nn.ReLU()]
        for i, width in enumerate(chans):
            last = i + 1 == len(chans)
            nxt = c_out if last else chans[i + 1]
            layers.append(nn.ConvTranspose2d(width, nxt, 4, 2, 1, bias=last or norm == "none"))  # 2x size
            layers += [nn.Tanh()] if last else [NORMS_2D[norm](nxt), nn.ReLU()]
        self.layers = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.project(z).view(z.shape[0], *self.start_shape)  # (B, C0, s, s)
        return self.layers(h)  # (B, C, H, W)


class DCGANDiscriminator(nn.Module):
    """Image (B, C, H, W) -> features (B, out_features): stride-2 convs with LeakyReLU 0.2.

    Args:
        in_shape: (C, H, W), square.
        widths: channels per stride-2 level, image side first.
        norm: 'batch', 'layer' or 'none' on every level but the first (DCGAN leaves the first
            layer unnormalized).
        minibatch_std: append the :class:`MinibatchStd` channel after the last level.
        minibatch_discrimination: (kernels, kernel_dim) of a :class:`MinibatchDiscrimination`
            layer on the flattened last level (None = off).
    """

    def __init__(self, in_shape: Sequence[int], widths: Sequence[int], norm: str = "batch",
                 minibatch_std: bool = False, minibatch_discrimination: tuple[int, int] | None = None):
        super().__init__()
        c, h, w = in_shape
        if h != w:
            raise ValueError(f"convolutional GANs here take square images, got {h}x{w}")
        sizes = downsample_sizes(h, len(widths))
        layers: list[nn.Module] = []
        for i, width in enumerate(widths[: len(sizes) - 1]):
            layers += [nn.Conv2d(c, width, 4, 2, 1, bias=i == 0 or norm == "none"),
                       NORMS_2D[norm if i else "none"](width), nn.LeakyReLU(0.2)]
            c = width
        if minibatch_std:
            layers.append(MinibatchStd())
            c += 1
        layers.append(nn.Flatten())
        self.out_features = c * sizes[-1] ** 2
        if minibatch_discrimination is not None:
            layers.append(MinibatchDiscrimination(self.out_features, *minibatch_discrimination))
            self.out_features += minibatch_discrimination[0]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)  # (B, out_features)
