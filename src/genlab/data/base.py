"""In-memory datasets and the batch iterator the trainer uses.

Every image dataset in genlab becomes an :class:`ArrayDataset`: images held as one uint8 tensor of
shape (N, C, H, W) (or float32 in [0, 1]), labels as int64 (N,) or None. Batches are made by
indexing that tensor with a slice of a permutation, so there is no per-item Python work in the
hot path and no worker processes to start.

Data order and random binarization are pure functions of (seed, epoch, batch index, rank): a run
that stops mid-epoch and resumes sees exactly the batches it would have seen, with no loader state
to save.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import NamedTuple

import torch

from genlab.errors import DataError

BINARIZE_MODES = ("none", "dynamic", "static")


class Batch(NamedTuple):
    """One batch: images (B, C, H, W) float32 in [0, 1], labels (B,) int64 or None, and the items' known
    generative factors (B, F) float32 or None (:attr:`ArrayDataset.factors`)."""

    x: torch.Tensor
    y: torch.Tensor | None = None
    factors: torch.Tensor | None = None


@dataclass
class ArrayDataset:
    """A split of a dataset, held in memory.

    Args:
        x: (N, C, H, W) uint8 in [0, 255] or float32 in [0, 1]; clips (N, T, C, H, W) likewise; or
            float32 sequences (N, T, F)
            (standardized values; NaN marks padding after the end of a shorter sequence).
        y: (N,) int64 labels, or None.
        name: dataset name for messages and run configs.
        classes: class names when labels exist (index -> name).
        info: facts about the source a user needs to map results back (e.g. the standardization
            of a series); written to ``data_info.json`` in a run directory.
        factors: (N, F) float32 numeric encodings of the items' known generative factors (e.g. the
            hues, scale, rotation and position `shapes` draws each image from), or None: targets a
            classifier may learn beside the label (``classifier --factors``: the `shapes` extractor).
    """

    x: torch.Tensor
    y: torch.Tensor | None = None
    name: str = ""
    classes: list[str] = field(default_factory=list)
    info: dict = field(default_factory=dict)
    factors: torch.Tensor | None = None

    def __post_init__(self) -> None:
        sequences = self.x.dim() == 3 and self.x.is_floating_point()
        if self.x.dim() not in (4, 5) and not sequences:
            raise DataError(f"{self.name or 'dataset'}: expected images of shape (N, C, H, W), clips (N, T, C, H, W) "
                            f"or float sequences (N, T, F), got {tuple(self.x.shape)}")
        if self.x.dtype not in (torch.uint8, torch.float32):
            self.x = self.x.float()
        if self.y is not None:
            self.y = self.y.long()
            if self.y.shape[0] != self.x.shape[0]:
                raise DataError(f"{self.name or 'dataset'}: {self.x.shape[0]} images but {self.y.shape[0]} labels")
            check_labels(self.y, self.name, len(self.classes) or None)
        if self.factors is not None:
            self.factors = self.factors.float()
            if self.factors.dim() != 2 or self.factors.shape[0] != self.x.shape[0]:
                raise DataError(f"{self.name or 'dataset'}: factors must be (N, F) for {self.x.shape[0]} items, got "
                                f"{tuple(self.factors.shape)}")

    def with_x(self, x: torch.Tensor) -> ArrayDataset:
        """The same items (labels, names, info, factors) with new inputs ``x`` (resized, recoloured)."""
        return dataclasses.replace(self, x=x)

    def __len__(self) -> int:
        return self.x.shape[0]

    @property
    def shape(self) -> tuple[int, ...]:
        """(C, H, W) of one image, (T, C, H, W) of one clip, or (T, F) of one sequence."""
        return tuple(self.x.shape[1:])

    @property
    def num_classes(self) -> int:
        if self.classes:
            return len(self.classes)
        return int(self.y.max()) + 1 if self.y is not None and len(self.y) else 0

    def images(self, index: torch.Tensor | slice) -> torch.Tensor:
        """Images (or clips) at ``index`` as float32 in [0, 1], (B, C, H, W) (or (B, T, C, H, W))."""
        x = self.x[index]
        return x.float().div_(255.0) if x.dtype == torch.uint8 else x.float()

    def subset(self, index: torch.Tensor | slice) -> ArrayDataset:
        return ArrayDataset(self.x[index], None if self.y is None else self.y[index], self.name, self.classes,
                            self.info, None if self.factors is None else self.factors[index])


def check_labels(y: torch.Tensor, name: str = "", classes: int | None = None) -> None:
    """Labels must be class indices 0..K-1 (K = the number of class names, when known).

    Raises:
        DataError: naming the values outside that range and how many items carry them.
    """
    if not len(y):
        return
    bad = (y < 0) if classes is None else (y < 0) | (y >= classes)
    if bool(bad.any()):
        values = sorted(set(y[bad].tolist()))
        shown = ", ".join(map(str, values[:5])) + (", ..." if len(values) > 5 else "")
        k = "K-1" if classes is None else str(classes - 1)
        raise DataError(f"{name or 'dataset'}: labels must be class indices 0..{k}; found {shown} "
                        f"({int(bad.sum())} of {len(y)} items)")


@dataclass
class Splits:
    """The train / validation / test splits of one dataset."""

    train: ArrayDataset
    validation: ArrayDataset
    test: ArrayDataset

    def __getitem__(self, split: str) -> ArrayDataset:
        if split not in ("train", "validation", "test"):
            raise DataError(f"unknown split '{split}' (choose train, validation or test)")
        return {"train": self.train, "validation": self.validation, "test": self.test}[split]


def split_off(ds: ArrayDataset, fractions: tuple[float, float] = (0.1, 0.1), seed: int = 0) -> Splits:
    """Split one array into train / validation / test with a fixed permutation.

    Used for sources that carry no split of their own (image folders, npz files). The
    permutation depends only on ``seed`` and the number of items, so the split is stable.
    """
    n = len(ds)
    n_val, n_test = (int(round(n * f)) for f in fractions)
    if n - n_val - n_test < 1:
        raise DataError(f"{ds.name}: {n} items are too few to split into train/validation/test")
    if n_val == 0 or n_test == 0:  # tiny sets: share the evaluation items rather than leave a split empty
        n_val = n_test = max(1, n // 10)
        perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
        held = perm[:n_val]
        return Splits(ds.subset(perm[n_val:]), ds.subset(held), ds.subset(held))
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    return Splits(
        train=ds.subset(perm[n_val + n_test:]),
        validation=ds.subset(perm[:n_val]),
        test=ds.subset(perm[n_val:n_val + n_test]),
    )


def tail_split(ds: ArrayDataset, fraction: float) -> tuple[ArrayDataset, ArrayDataset]:
    """Split off the last ``fraction`` of ``ds`` (at least one item) as a held-out set.

    Returns:
        (head, tail), in the original order.
    """
    n_tail = max(1, round(len(ds) * fraction))
    if len(ds) - n_tail < 1:
        raise DataError(f"{ds.name}: {len(ds)} items are too few to hold out a validation split")
    cut = len(ds) - n_tail
    return ds.subset(torch.arange(cut)), ds.subset(torch.arange(cut, len(ds)))


def _generator(*keys: int) -> torch.Generator:
    """A CPU generator seeded from a tuple of integers (stable across runs and processes)."""
    seed = 0
    for k in keys:
        seed = (seed * 1_000_003 + int(k) + 1) % (2**63 - 1)
    return torch.Generator().manual_seed(seed)


_UNIT_TABLES: dict[torch.device, torch.Tensor] = {}


def unit_float(x: torch.Tensor, table: bool | None = None) -> torch.Tensor:
    """Images as float32 in [0, 1] on their device: uint8 divided by 255, float32 as it is.

    On the CPU a division; elsewhere (``table`` None) a look-up in a 256-entry table built by that very
    CPU division, so every device gives the CPU's bits (CUDA divides a tensor by a scalar through its
    reciprocal, which can differ in the last bit). ``table=True`` forces the look-up (tests run it on
    the CPU).
    """
    if x.dtype != torch.uint8:
        return x.float()
    if table is None:
        table = x.device.type != "cpu"
    if not table:
        return x.float().div_(255.0)
    lut = _UNIT_TABLES.get(x.device)
    if lut is None:
        lut = _UNIT_TABLES[x.device] = torch.arange(256, dtype=torch.float32).div_(255.0).to(x.device)
    return lut.index_select(0, x.reshape(-1).long()).view(x.shape)


def binarize(x: torch.Tensor, mode: str, generator: torch.Generator | None = None) -> torch.Tensor:
    """Binarize images in [0, 1]: 'dynamic' draws Bernoulli(x), 'static' thresholds at 0.5.

    'dynamic' compares uniform noise drawn on the CPU (from ``generator``) with ``x`` on its own device:
    the same bits as ``torch.bernoulli(x, generator=generator)`` on the CPU (which draws the same uniforms
    in the same order; a test checks it), about 3x faster there, and the same draws on every device.
    """
    if mode == "none":
        return x
    if mode == "dynamic":
        noise = torch.rand(x.shape, generator=generator, dtype=torch.float64 if x.dtype == torch.float64 else None)
        return torch.lt(noise.to(x.device, non_blocking=True), x).to(x.dtype)
    if mode == "static":
        return (x > 0.5).float()
    raise DataError(f"unknown binarization '{mode}' (choose one of {', '.join(BINARIZE_MODES)})")


class BatchIterator:
    """Shuffled mini-batches of an :class:`ArrayDataset` for one rank.

    Args:
        data: the split to iterate.
        batch_size: batch size on this rank.
        seed: run seed; the permutation of epoch e is drawn from (seed, e).
        binarization: 'none', 'dynamic' (fresh Bernoulli sample for every batch) or 'static'.
        rank, world_size: this process's share of every permutation (rank::world_size).
        drop_last: drop the final incomplete batch (keeps every step the same size).
        device: where batches go. The split is kept there as stored (uint8 or float32, labels int64) when
            it fits (:func:`fits_on`; always on the CPU), and batches are indexed, converted and binarized
            there; otherwise indexed on the CPU and copied as stored (uint8: a quarter of float32's bytes).
            The random draws (permutations, binarization noise) come from CPU generators either way, so a
            run sees the same batches on every device and resumes exactly.
    """

    def __init__(self, data: ArrayDataset, batch_size: int, seed: int = 0, binarization: str = "none",
                 rank: int = 0, world_size: int = 1, drop_last: bool = True, device: torch.device | str = "cpu"):
        if binarization not in BINARIZE_MODES:
            raise DataError(f"unknown binarization '{binarization}' (choose one of {', '.join(BINARIZE_MODES)})")
        self.data, self.batch_size, self.seed = data, batch_size, seed
        self.binarization, self.rank, self.world_size = binarization, rank, world_size
        self.drop_last, self.device = drop_last, torch.device(device)
        per_rank = len(data) // world_size
        self.batches_per_epoch = per_rank // batch_size if drop_last else -(-per_rank // batch_size)
        if self.batches_per_epoch == 0:
            raise DataError(f"{data.name}: {len(data)} training items are fewer than one batch of "
                            f"{batch_size} per process; lower --batch-size")
        self.resident = fits_on(data, self.device)
        home = self.device if self.resident else torch.device("cpu")
        self.x = data.x.to(home)  # the same tensor when it is there already (the CPU)
        self.y = None if data.y is None else data.y.to(home)
        self.factors = None if data.factors is None else data.factors.to(home)

    def __len__(self) -> int:
        return self.batches_per_epoch

    def epoch(self, epoch: int, start: int = 0) -> Iterator[Batch]:
        """Yield the batches of ``epoch``, beginning at batch index ``start`` (for resume)."""
        n = len(self.data)
        perm = torch.randperm(n, generator=_generator(self.seed, epoch))
        perm = perm[: (n // self.world_size) * self.world_size][self.rank::self.world_size]
        perm = perm.to(self.x.device)  # one copy an epoch: batches are indexed where the data is
        for b in range(start, self.batches_per_epoch):
            idx = perm[b * self.batch_size:(b + 1) * self.batch_size]
            yield self._make(idx, _generator(self.seed, epoch, b, self.rank, 7))

    def _make(self, idx: torch.Tensor, gen: torch.Generator) -> Batch:
        # index_select, not x[idx]: the same rows, ~5x faster on CPU (a table model's batch of 500 rows took
        # ~0.1 ms a step by advanced indexing inside a fit: 2-4% of a tvae step on fair, docs/benchmarks.md)
        x = self.x.index_select(0, idx).to(self.device, non_blocking=True)  # as stored; no copy when resident
        y = None if self.y is None else self.y.index_select(0, idx).to(self.device, non_blocking=True)
        f = None if self.factors is None else self.factors.index_select(0, idx).to(self.device, non_blocking=True)
        return Batch(binarize(unit_float(x), self.binarization, gen), y, f)


def fits_on(data: ArrayDataset, device: torch.device, share: float = 0.25) -> bool:
    """Whether ``data`` (as stored) is kept on ``device`` for training: always on the CPU; on CUDA when it
    takes at most ``share`` of the free memory; never on other devices (indexed on the CPU, then copied)."""
    if device.type == "cpu":
        return True
    if device.type != "cuda":
        return False
    size = data.x.numel() * data.x.element_size() + (0 if data.y is None else data.y.numel() * 8)
    size += 0 if data.factors is None else data.factors.numel() * 4
    free, _ = torch.cuda.mem_get_info(device)
    return size <= share * free


def eval_batches(data: ArrayDataset, batch_size: int, binarization: str = "none", seed: int = 1234,
                 device: torch.device | str = "cpu", limit: int | None = None) -> Iterator[Batch]:
    """Batches in order for evaluation. Dynamic binarization uses one fixed sample (by ``seed``)."""
    device = torch.device(device)
    n = len(data) if limit is None else min(limit, len(data))
    for b, start in enumerate(range(0, n, batch_size)):
        idx = torch.arange(start, min(start + batch_size, n))
        x = binarize(unit_float(data.x[idx].to(device)), binarization, _generator(seed, b))  # copied as stored
        y = None if data.y is None else data.y[idx]
        f = None if data.factors is None else data.factors[idx].to(device)
        yield Batch(x, None if y is None else y.to(device), f)
