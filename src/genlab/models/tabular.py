"""What the table models (ctgan, tvae) share: the layout of a transformed row and its activations.

A transformed row (see :mod:`genlab.tables.transformer`) is a list of blocks, given to a model
through its config as ``spans``: ``[size, 0]`` is a scaled offset in [-1, 1] (tanh output),
``[size, 1]`` a one-hot (softmax output): a continuous column's mode, a missing indicator, or a
categorical column. ``discrete`` lists the indices of the blocks that are categorical columns:
those make up the conditional vector and can be conditioned on. Nothing here knows column
names; the models are rebuilt from their config alone.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from genlab.errors import ConfigError

TANH, SOFTMAX = 0, 1


def block_slices(spans: list[list[int]]) -> list[tuple[int, int, int]]:
    """(start, end, kind) of every block in the row vector."""
    out, pos = [], 0
    for size, kind in spans:
        out.append((pos, pos + int(size), int(kind)))
        pos += int(size)
    return out


def check_layout(spans: list[list[int]], discrete: list[int], counts: list[list[float]], name: str) -> None:
    """Refuse a config whose table layout is missing or inconsistent (one line)."""
    if not spans:
        raise ConfigError(f"{name} is a table model: train it with `genlab synth fit` or genlab.tables.Synthesizer "
                          f"(its config needs the table layout 'spans')")
    for size, kind in spans:
        if size < 1 or kind not in (TANH, SOFTMAX):
            raise ConfigError(f"{name}: bad span [{size}, {kind}] (size >= 1, kind 0 = tanh or 1 = softmax)")
    for i, block in enumerate(discrete):
        if not 0 <= block < len(spans) or spans[block][1] != SOFTMAX:
            raise ConfigError(f"{name}: discrete block {block} is not a softmax block")
        if counts and len(counts[i]) != spans[block][0]:
            raise ConfigError(f"{name}: category_counts[{i}] has {len(counts[i])} entries "
                              f"for a block of {spans[block][0]}")


class Layout:
    """The blocks of a row grouped for vectorized work: every tanh value, and the one-hot blocks of
    each size stacked as (B, blocks, size), so a row of many columns costs a few tensor ops.

    ``torch.cat([tanh values, group 1 flattened, group 2 flattened, ...], 1)[:, restore]`` puts the
    pieces back in row order. For training, every block at once: :func:`segment_softmax` and
    :func:`segment_logsumexp` (each block's values summed by a product with ``member``).
    """

    def __init__(self, spans: list[list[int]]):
        slices = block_slices(spans)
        self.width = slices[-1][1] if slices else 0
        self.tanh = torch.tensor([i for s, e, k in slices if k == TANH for i in range(s, e)], dtype=torch.long)
        sizes = sorted({e - s for s, e, k in slices if k == SOFTMAX})
        self.groups = [torch.tensor([list(range(s, e)) for s, e, k in slices if k == SOFTMAX and e - s == size],
                                    dtype=torch.long) for size in sizes]  # each (blocks, size)
        soft = [list(range(s, e)) for s, e, k in slices if k == SOFTMAX]
        order = torch.cat([self.tanh, *(g.reshape(-1) for g in self.groups)])
        self.restore = torch.empty_like(order)
        self.restore[order] = torch.arange(len(order))
        # segments for the one-op paths (segment_softmax, segment_logsumexp): the block of every
        # value (the tanh values form one extra block, ``n_blocks``, that callers ignore), and that
        # as a (D, n_blocks + 1) 0/1 matrix: a product with it sums each block's values
        self.n_blocks = len(soft)
        block_of = torch.full((self.width,), self.n_blocks, dtype=torch.long)
        for j, b in enumerate(soft):
            block_of[b] = j
        self.block_of = block_of
        self.member = F.one_hot(block_of, self.n_blocks + 1).float()
        self.soft_mask = block_of < self.n_blocks
        self._on: dict[torch.device, tuple[torch.Tensor, ...]] = {}
        self._extra: dict[tuple[str, torch.device], torch.Tensor] = {}

    def segments(self, device: torch.device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(block_of, member, soft_mask) on ``device`` (copied there once)."""
        if device not in self._on:
            self._on[device] = (self.block_of.to(device), self.member.to(device), self.soft_mask.to(device))
        return self._on[device]  # type: ignore[return-value]

    def tanh_on(self, device: torch.device) -> torch.Tensor:
        """The offsets' positions (``tanh``) on ``device`` (copied there once)."""
        key = ("tanh", device)
        if key not in self._extra:
            self._extra[key] = self.tanh.to(device)
        return self._extra[key]

    def soft_on(self, device: torch.device) -> torch.Tensor:
        """The one-hot values' positions (every index not in ``tanh``, in order) on ``device`` (copied there once)."""
        key = ("soft", device)
        if key not in self._extra:
            self._extra[key] = torch.nonzero(self.soft_mask).flatten().to(device)
        return self._extra[key]

    def member_t(self, device: torch.device) -> torch.Tensor:
        """The one-hot blocks' columns of ``member``, transposed and contiguous (n_blocks, D), on ``device``:
        ``F.linear(e, member_t)`` sums each one-hot block's values into a contiguous (B, n_blocks) (on CPU
        ~30 us against ~45 for ``e @ member`` at 500 x 56; the offsets' sum is left out: a slice of it
        made every later op on the sums ~3-9x slower)."""
        key = ("member_t", device)
        if key not in self._extra:
            self._extra[key] = self.member[:, :self.n_blocks].T.contiguous().to(device)
        return self._extra[key]

    def soft_block_of(self, device: torch.device) -> torch.Tensor:
        """``block_of`` with the offsets' positions sent to block 0 (when there is one): a gather of the
        (B, n_blocks) block sums by it gives each one-hot value its block's sum (the offsets' entries are
        a one-hot block's, for callers that overwrite them)."""
        key = ("soft_block_of", device)
        if key not in self._extra:
            self._extra[key] = self.block_of.masked_fill(~self.soft_mask, 0).to(device)
        return self._extra[key]

    def assemble(self, tanh: torch.Tensor, groups: list[torch.Tensor]) -> torch.Tensor:
        """(B, tanh values) and each group's (B, blocks, size) -> rows (B, D) in row order."""
        parts = [tanh, *(g.flatten(1) for g in groups)]
        return torch.cat(parts, 1)[:, self.restore.to(tanh.device)]


# exp() arguments below this are raised to it: exp(-60) ~ 9e-27 is below float32's resolution next
# to a block's largest term (exp(0) = 1), so a sum, a log-sum-exp and a softmax come out the same;
# further down exp() returns subnormal numbers, ~14x slower on CPU (and every op on them after it:
# a trained tvae's or ctgan's one-hot logits span far more than 60 within a block)
EXP_FLOOR = -60.0


def shifted_exp(x: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """exp(x - shift) with the argument kept above :data:`EXP_FLOOR` (no subnormal results)."""
    return (x - shift).clamp_min(EXP_FLOOR).exp()


def segment_max(x: torch.Tensor, layout: Layout) -> torch.Tensor:
    """Each block's largest value of each row, (B, n_blocks + 1), no gradient: the shift that keeps
    exp() in range (any shift gives the same softmax / log-sum-exp)."""
    block_of, _, _ = layout.segments(x.device)
    top = torch.full((x.shape[0], layout.n_blocks + 1), float("-inf"), device=x.device, dtype=x.dtype)
    return top.scatter_reduce_(1, block_of.expand(x.shape[0], -1), x.detach(), "amax")


def block_product(x: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    """x @ m in x's dtype, also under autocast (a sum over a block's values, never in bf16)."""
    if torch.is_autocast_enabled(x.device.type):
        with torch.autocast(x.device.type, enabled=False):
            return x @ m.to(x.dtype)
    return x @ m.to(x.dtype)


def segment_logsumexp(x: torch.Tensor, layout: Layout) -> torch.Tensor:
    """log sum exp of every one-hot block of rows ``x`` (B, D): (B, blocks), a few ops for all blocks
    (the block sums as one product with the layout's 0/1 block matrix)."""
    block_of, member, _ = layout.segments(x.device)
    top = segment_max(x, layout)
    sums = block_product(shifted_exp(x, top.index_select(1, block_of)), member)
    return (sums.log() + top)[:, :layout.n_blocks]


def segment_softmax(x: torch.Tensor, layout: Layout) -> torch.Tensor:
    """softmax within every one-hot block of rows ``x`` (B, D) -> (B, D); the tanh positions hold
    a softmax over the tanh values (callers overwrite them)."""
    block_of, member, _ = layout.segments(x.device)
    e = shifted_exp(x, segment_max(x, layout).index_select(1, block_of))
    return e / block_product(e, member).index_select(1, block_of)  # each value's block sum by a gather


def gumbel_noise(like: torch.Tensor) -> torch.Tensor:
    """Standard Gumbel noise shaped like ``like``: -log(-log U), U ~ U(0, 1) (kept off 0 and 1)."""
    return -torch.log(-torch.log(torch.rand_like(like).clamp(1e-10, 1 - 1e-7)))


def activate(raw: torch.Tensor, spans: list[list[int]] | Layout, tau: float = 0.2,
             hard: str | None = None) -> torch.Tensor:
    """Generator logits (B, D) -> a row: tanh offsets, Gumbel-softmax one-hots (Jang et al. 2017).

    ``hard`` gives exact one-hots for sampling: 'sample' draws each category from softmax(logits)
    (the Gumbel-max trick: what a Gumbel-softmax output's argmax is), 'argmax' takes the most
    likely one.
    """
    layout = spans if isinstance(spans, Layout) else Layout(spans)
    dev = raw.device
    if not hard:  # training: every block in one segmented softmax (F.gumbel_softmax's sample, its
        # Gumbel noise drawn as -log(-log U): 3x cheaper than exponential_), tanh where there is no block
        _, _, soft = layout.segments(dev)
        y = raw.float()
        one_hot = segment_softmax((y + gumbel_noise(y)) / tau, layout)
        return torch.where(soft, one_hot, torch.tanh(y)).to(raw.dtype)
    tanh = torch.tanh(raw[:, layout.tanh.to(dev)])
    groups = []
    for idx in layout.groups:
        block = raw[:, idx.to(dev)].float()  # (B, blocks, size)
        if hard == "sample":
            block = block + gumbel_noise(block)
        groups.append(F.one_hot(block.argmax(-1), idx.shape[1]).to(raw.dtype))
    return layout.assemble(tanh, groups)


def softmax_cross_entropy(raw: torch.Tensor, target: torch.Tensor, layout: Layout) -> torch.Tensor:
    """Summed cross-entropy of every one-hot block of ``target`` rows (B, D) under logits ``raw``.

    All blocks at once: each block's log-sum-exp by :func:`segment_logsumexp`, minus the logit of
    the target's category, read as the sum of logits times the (exactly one-hot) target values."""
    if not layout.n_blocks:
        return raw.new_zeros(()).float()
    raw = raw.float()
    _, _, soft = layout.segments(raw.device)
    return segment_logsumexp(raw, layout).sum() - (raw * (target.float() * soft)).sum()


def logsumexp(x: torch.Tensor) -> torch.Tensor:
    """log sum exp over the last dimension, written out: on CPU torch's (log_)softmax kernels over a
    short last dimension (a one-hot block: 2-10 values) cost ~3x these few elementwise ops."""
    top = x.detach().amax(-1, keepdim=True)
    return (shifted_exp(x, top).sum(-1, keepdim=True).log() + top).squeeze(-1)


def conditional_slices(spans: list[list[int]], discrete: list[int]) -> list[tuple[int, int, int, int]]:
    """For each discrete block: (start, end) in the row vector and (start, end) in the conditional vector."""
    slices = block_slices(spans)
    out, pos = [], 0
    for block in discrete:
        start, end, _ = slices[block]
        out.append((start, end, pos, pos + end - start))
        pos += end - start
    return out


def log_frequency(counts: list[float]) -> torch.Tensor:
    """Category probabilities proportional to log(1 + count) (CTGAN's training-by-sampling)."""
    w = torch.log1p(torch.tensor(counts, dtype=torch.float64))
    return (w / w.sum()).float()


def frequency(counts: list[float]) -> torch.Tensor:
    w = torch.tensor(counts, dtype=torch.float64)
    return (w / w.sum()).float()


__all__ = ["EXP_FLOOR", "Layout", "SOFTMAX", "TANH", "activate", "block_slices", "check_layout", "conditional_slices",
           "frequency", "gumbel_noise", "log_frequency", "logsumexp", "segment_logsumexp", "segment_max",
           "segment_softmax", "shifted_exp", "softmax_cross_entropy"]
