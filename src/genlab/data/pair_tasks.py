"""Built-in image-to-image tasks, made offline and deterministically from data genlab already has.

=================  ==============================================================================
name               how it is made (A = input, B = target; packed by :mod:`genlab.data.pairs`)
=================  ==============================================================================
mnist-sr4          B = an MNIST digit (28x28); A = B area-downsampled 4x (7x7: the mean of 4x4 blocks)
mnist-sr2          the same with 2x (14x14)
edges2mnist        A = the digit's edge map: pixels >= 128 that have a pixel < 128 among their 8
                   neighbours (binary inner boundary: b AND NOT erode3x3(b)), B = the digit
photos-sr4         B = 96x96 RGB crops of photographs shipped in scikit-image and scikit-learn;
                   A = B area-downsampled 4x (24x24)
colorize-photos    A = the luminance of the same crops (1 channel, PIL's L = 0.299 R + 0.587 G +
                   0.114 B), B = the RGB crop; trained on the colour photographs only
digits2mnist       unpaired: A = scikit-learn's 8x8 digits resized to 28x28 (PIL bilinear,
                   antialiased), B = MNIST; A's labels are kept on the validation and test splits for
                   the label-preservation metric, never on the training split
=================  ==============================================================================

MNIST tasks keep MNIST's 50k/10k/10k split (and the labels, which no model here reads). The
photograph tasks hold out WHOLE images, so no crop of a test image is ever trained on:

* train (version 2): 14 photographs, 256 random 96x96 crops of each (the k-th photograph's
  positions drawn with seed k), in this order: the colour photographs astronaut, rocket,
  hubble_deep_field, stereo_motorcycle (left view), retina (scikit-image), flower (scikit-learn),
  immunohistochemistry and stereo_motorcycle's right view (scikit-image), then the grayscale
  photographs camera, coins, moon, brick, grass and gravel (scikit-image; R = G = B). Version 1
  (sessions 1-5) had the first six only; every one of them ships inside the wheels, so the task is
  made offline and is the same on every machine (nothing is cached: it is rebuilt on each load);
* validation: coffee (scikit-image), non-overlapping 96x96 crops on a grid from the top left;
* test: chelsea (scikit-image) and china (scikit-learn), non-overlapping grid crops; the test
  split's ``info['groups']`` says which crops come from which photograph (per-image metrics).

The photographs need scikit-image (the ``photos`` extra: ``pip install genlab[photos]``).
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F

from genlab.config import DataConfig
from genlab.data.base import ArrayDataset, Splits
from genlab.data.digits import load_digits
from genlab.data.images import resize_square, to_channels
from genlab.data.mnist import load_mnist
from genlab.data.pairs import area_downsample, check_fixed, pack, pack_unpaired
from genlab.errors import DataError

CROP = 96
CROPS_PER_IMAGE = 256
COLOUR_TRAIN_PHOTOS = ("astronaut", "rocket", "hubble_deep_field", "stereo_motorcycle", "retina", "flower",
                       "immunohistochemistry", "stereo_motorcycle_right")
GRAY_TRAIN_PHOTOS = ("camera", "coins", "moon", "brick", "grass", "gravel")
TRAIN_PHOTOS = COLOUR_TRAIN_PHOTOS + GRAY_TRAIN_PHOTOS
PHOTOS_VERSION = 2  # 1: the first six training photographs; 2: fourteen (recorded in each split's pairing record)
VALIDATION_PHOTOS = ("coffee",)
TEST_PHOTOS = ("chelsea", "china")
# the dataset whose evaluation extractor judges the B images (FD, label accuracy, the perceptual loss)
MNIST_EXTRACTOR = {"extractor": "mnist"}
SKLEARN_PHOTOS = {"china": 0, "flower": 1}  # index in sklearn.datasets.load_sample_images().images


# --------------------------------------------------------------------------- MNIST tasks
def edge_map(x: torch.Tensor) -> torch.Tensor:
    """The binary inner boundary of uint8 images (N, 1, H, W): 255 where a pixel >= 128 touches a pixel < 128."""
    b = (x >= 128).float()
    eroded = -F.max_pool2d(-F.pad(b, (1, 1, 1, 1), value=1.0), 3, stride=1)  # 3x3 erosion, outside counts as set
    return ((b - eroded) * 255).to(torch.uint8)


def _mnist_task(make_a: Callable[[torch.Tensor], torch.Tensor]) -> Callable[[DataConfig, str | None], Splits]:
    def load(cfg: DataConfig, path: str | None = None) -> Splits:
        check_fixed(cfg)
        mnist = load_mnist(cfg)
        return Splits(*(pack(make_a(s.x), s.x, s.y, cfg.dataset, classes=s.classes, extra=MNIST_EXTRACTOR) for s in
                        (mnist.train, mnist.validation, mnist.test)))
    return load


load_mnist_sr4 = _mnist_task(lambda b: area_downsample(b, 4))
load_mnist_sr2 = _mnist_task(lambda b: area_downsample(b, 2))
load_edges2mnist = _mnist_task(edge_map)


def load_digits2mnist(cfg: DataConfig, path: str | None = None) -> Splits:
    """Unpaired: A = scikit-learn digits resized to 28x28, B = MNIST (module docstring)."""
    check_fixed(cfg)
    digits, mnist = load_digits(cfg), load_mnist(cfg)
    out = []
    for k, split in enumerate(("train", "validation", "test")):
        d = digits[split]
        a = ArrayDataset(resize_square(d.x, 28), None if split == "train" else d.y, "digits", d.classes)
        b = ArrayDataset(mnist[split].x, None, "mnist")
        out.append(pack_unpaired(a, b, cfg.dataset, seed=k, extra=MNIST_EXTRACTOR))
    return Splits(*out)


# --------------------------------------------------------------------------- photographs
def photograph(name: str) -> np.ndarray:
    """One bundled photograph as uint8 (H, W, 3) (scikit-image's data module or scikit-learn's samples).

    ``NAME_right`` is the right view of a stereo pair; grayscale photographs are repeated to RGB.
    (scikit-image's ``cat`` is ``chelsea`` under another name, a test photograph: never train on it.)
    """
    if name in SKLEARN_PHOTOS:
        from sklearn.datasets import load_sample_images  # lazily: sklearn is slow to import

        return np.asarray(load_sample_images().images[SKLEARN_PHOTOS[name]], dtype=np.uint8)
    try:
        import skimage.data  # optional: the 'photos' extra
    except ImportError:
        raise DataError("the photograph tasks need scikit-image: pip install 'genlab[photos]'") from None
    view = 1 if name.endswith("_right") else 0
    img = getattr(skimage.data, name.removesuffix("_right"))()
    if isinstance(img, tuple):  # stereo_motorcycle: (left, right, disparity)
        img = img[view]
    img = np.asarray(img, dtype=np.uint8)
    return np.repeat(img[..., None], 3, axis=2) if img.ndim == 2 else img  # grayscale photographs: R = G = B


def _chw(img: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.array(img, dtype=np.uint8)).permute(2, 0, 1)  # (3, H, W)


def random_crops(img: np.ndarray, n: int, seed: int, size: int = CROP) -> torch.Tensor:
    """n random size x size crops of (H, W, 3) -> uint8 (n, 3, size, size), positions drawn from ``seed``."""
    h, w = img.shape[:2]
    rng = np.random.default_rng(seed)
    tops, lefts = rng.integers(0, h - size + 1, n), rng.integers(0, w - size + 1, n)
    x = _chw(img)
    return torch.stack([x[:, t:t + size, s:s + size] for t, s in zip(tops, lefts, strict=True)])


def grid_crops(img: np.ndarray, size: int = CROP) -> torch.Tensor:
    """Non-overlapping size x size crops on a grid from the top left -> uint8 (n, 3, size, size)."""
    h, w = img.shape[:2]
    x = _chw(img)
    return torch.stack([x[:, t:t + size, s:s + size] for t in range(0, h - size + 1, size)
                        for s in range(0, w - size + 1, size)])


def photo_crops(train_photos: tuple[str, ...] = TRAIN_PHOTOS) -> dict[str, tuple[torch.Tensor, list[list]]]:
    """The crops of each split and, per split, [photograph, first crop, crop count] groups."""
    out = {}
    train = [random_crops(photograph(n), CROPS_PER_IMAGE, seed=k) for k, n in enumerate(train_photos)]
    out["train"] = (torch.cat(train), [[n, k * CROPS_PER_IMAGE, CROPS_PER_IMAGE] for k, n in enumerate(train_photos)])
    for split, names in (("validation", VALIDATION_PHOTOS), ("test", TEST_PHOTOS)):
        crops, groups, start = [], [], 0
        for n in names:
            c = grid_crops(photograph(n))
            crops.append(c)
            groups.append([n, start, len(c)])
            start += len(c)
        out[split] = (torch.cat(crops), groups)
    return out


def whole_photo(name: str, scale: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A whole bundled photograph as an SR pair: uint8 (1, 3, h, w) input and (1, 3, s h, s w) target.

    The target is the photograph cut to a multiple of ``scale`` (rows and columns dropped at the
    bottom and right), the input its area downsampling: the same operator as the crops' pairs.
    """
    img = photograph(name)
    h, w = (d - d % scale for d in img.shape[:2])
    b = _chw(img[:h, :w])[None]
    return area_downsample(b, scale), b


def _photo_task(make_a: Callable[[torch.Tensor], torch.Tensor],
                train_photos: tuple[str, ...]) -> Callable[[DataConfig, str | None], Splits]:
    def load(cfg: DataConfig, path: str | None = None) -> Splits:
        check_fixed(cfg)
        crops = photo_crops(train_photos)
        return Splits(*(pack(make_a(crops[s][0]), crops[s][0], None, cfg.dataset,
                             extra={"groups": crops[s][1], "photos_version": PHOTOS_VERSION})
                        for s in ("train", "validation", "test")))
    return load


load_photos_sr4 = _photo_task(lambda b: area_downsample(b, 4), TRAIN_PHOTOS)
# colorization learns nothing from gray targets: its training set is the colour photographs only
load_colorize_photos = _photo_task(lambda b: to_channels(b, 1), COLOUR_TRAIN_PHOTOS)

# name -> (loader, one-line description); data/__init__.py adds these to DATASETS
PAIR_TASKS: dict[str, tuple[Callable[[DataConfig, str | None], Splits], str]] = {
    "mnist-sr4": (load_mnist_sr4, "paired super-resolution: MNIST digits area-downsampled 4x (7x7) -> the 28x28 digit"),
    "mnist-sr2": (load_mnist_sr2,
                  "paired super-resolution: MNIST digits area-downsampled 2x (14x14) -> the 28x28 digit"),
    "edges2mnist": (load_edges2mnist, "paired translation: the binary edge map of an MNIST digit -> the digit"),
    "photos-sr4": (load_photos_sr4, "paired super-resolution x4 on 96x96 crops of 17 bundled photographs (needs "
                                    "scikit-image); whole photos held out for test"),
    "colorize-photos": (load_colorize_photos, "paired colorization: grayscale -> RGB 96x96 crops of the 11 colour "
                                              "photographs of photos-sr4 (needs scikit-image)"),
    "digits2mnist": (load_digits2mnist, "unpaired domains: scikit-learn digits upsampled to 28x28 (A) and MNIST (B); "
                                        "labels for evaluation only"),
}
