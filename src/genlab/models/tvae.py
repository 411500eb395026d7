"""TVAE: the table VAE of Xu et al. 2019 (sec. 4.3 and appendix), on the same row layout as ctgan.

Encoder: row (B, D) -> 128 -> 128 (ReLU) -> mu, log sigma^2 of a 128-dim code. Decoder: code ->
128 -> 128 (ReLU) -> logits (B, D), plus one learned std per value (kept in [0.01, 1]).
The reconstruction term per block: a Gaussian N(tanh(logit), sigma^2) on each scaled offset
(-log p up to a constant: (x - tanh(r))^2 / (2 sigma^2) + log sigma) and a softmax cross-entropy
on each one-hot block. loss = (loss_factor * reconstruction + KL(q(z|x) || N(0, I))) / B, with
loss_factor 2, Adam 2e-3 (the paper's 1e-3 converges too slowly on small tables:
see docs/benchmarks.md, issue 17), weight decay 1e-5, batch 500 (fewer on small tables, see
:class:`genlab.tables.SynthConfig`). Sampling decodes z ~ N(0, I), adds the
learned noise to the offsets and draws every one-hot block from its softmax (the reference code
takes the argmax, which collapses each column onto its most likely categories and modes; set
``discrete_sampling='argmax'`` for that).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Literal, cast

import torch
import torch.nn.functional as F
from torch import nn

from genlab.config import OptimizerConfig
from genlab.errors import DataError
from genlab.models.base import Batch, GenerativeModel, Losses, Phase
from genlab.models.tabular import EXP_FLOOR, Layout, activate, check_layout, segment_max
from genlab.registry import register


@dataclass
class TVAEConfig:
    """Configuration of tvae (paper defaults).

    Attributes:
        spans: the table layout, [size, kind] per block (0 = tanh offset, 1 = softmax one-hot);
            filled from the table transformer by `genlab synth fit`.
        discrete: indices of the blocks that are categorical columns (for conditions).
        category_counts: training counts of each category of each discrete block.
        embedding_dim: size of the code z.
        compress_dims: hidden sizes of the encoder.
        decompress_dims: hidden sizes of the decoder.
        loss_factor: weight of the reconstruction term against the KL term.
        vae_lr, vae_weight_decay: Adam settings.
        discrete_sampling: how a sample's one-hot blocks are read from the decoder's logits:
            'sample' (drawn from the softmax) or 'argmax' (the most likely category, as the
            reference code does; it over-produces frequent categories and modes).
    """

    spans: list[list[int]] = field(default_factory=list)
    discrete: list[int] = field(default_factory=list)
    category_counts: list[list[float]] = field(default_factory=list)
    embedding_dim: int = 128
    compress_dims: tuple[int, ...] = (128, 128)
    decompress_dims: tuple[int, ...] = (128, 128)
    loss_factor: float = 2.0
    vae_lr: float = 2e-3
    vae_weight_decay: float = 1e-5
    discrete_sampling: Literal["argmax", "sample"] = "sample"

    def __post_init__(self) -> None:
        if self.embedding_dim < 1 or self.loss_factor <= 0:
            raise ValueError("embedding_dim must be at least 1 and loss_factor positive")

    @property
    def data_dim(self) -> int:
        return sum(int(s) for s, _ in self.spans)


# the row shift is kept when every one-hot block of every row sums to at least this after it (see
# _block_exp); below it a block lies more than ~27 below its row's largest logit and the per-block shift is taken
ROW_SHIFT_MIN_SUM = 1e-12


def _block_exp(raw: torch.Tensor, raw_soft: torch.Tensor,
               layout: Layout) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """exp(raw - shift), its sum over each one-hot block (B, n_blocks) and the summed log-sum-exp of the one-hot
    blocks (a 0-dim tensor), the shift any value at or above each block's largest logit (the result is
    the same for any such shift, up to rounding).

    On a CPU the shift is each row's largest one-hot logit (one ``amax``); a block whose sum after it is below
    :data:`ROW_SHIFT_MIN_SUM` (its logits far below another block's in that row: its terms would meet
    :data:`~genlab.models.tabular.EXP_FLOOR`) takes each block's own largest logit instead (a
    ``scatter_reduce``, as :func:`~genlab.models.tabular.segment_max`); on other devices every block
    takes its own (no host read in a step). exp()'s argument is kept in
    [EXP_FLOOR, 0]: no subnormal numbers, and no overflow in the offsets' positions (their sums are
    not used). ``raw_soft``: the one-hot columns of ``raw`` (``index_select`` by ``layout.soft_on``)."""
    block_of, _, _ = layout.segments(raw.device)
    member_t = layout.member_t(raw.device)
    if raw.device.type == "cpu":  # the check reads the host: free on a CPU, a sync every step on an accelerator
        top = raw_soft.amax(1, keepdim=True)  # (B, 1)
        e = torch.sub(raw, top).clamp_(EXP_FLOOR, 0.0).exp_()
        sums = F.linear(e, member_t)  # (B, blocks): each one-hot block's sum
        if sums.amin().item() >= ROW_SHIFT_MIN_SUM:
            return e, sums, sums.log().sum().add_(top.sum(), alpha=layout.n_blocks)
    tops = segment_max(raw, layout)  # (B, blocks + 1)
    e = torch.sub(raw, tops.index_select(1, block_of)).clamp_(EXP_FLOOR, 0.0).exp_()
    sums = F.linear(e, member_t)
    return e, sums, (sums.log() + tops[:, :layout.n_blocks]).sum()


def _reconstruction_forward(raw: torch.Tensor, x: torch.Tensor, sigma: torch.Tensor,
                            layout: Layout) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
    """-log p(x | z) summed over the batch (up to constants) and what its gradient needs.

    The Gaussian terms of the offsets, (x - tanh(raw))^2 / (2 sigma^2) + log sigma (summed as each
    offset's sum of squares over the batch times 1 / (2 sigma^2)), and each one-hot block's
    cross-entropy, logsumexp(raw) - raw[target]: every block at once (:func:`_block_exp`; the
    targets' logits as one dot product of the rows' one-hot values with their logits).
    Columns are picked with ``index_select`` (advanced indexing ``a[:, idx]`` costs ~6x on CPU)."""
    tanh = layout.tanh_on(raw.device)  # the offsets' positions (tanh is costly: only there)
    sd = sigma.index_select(0, tanh)
    t = torch.tanh(raw.index_select(1, tanh))
    d = x.index_select(1, tanh).sub_(t)
    dd = d.square().sum(0)  # each offset's sum of squares over the batch
    inv = sd.pow(-2).mul_(0.5)  # 1 / (2 sigma^2)
    value = torch.dot(dd, inv).add_(sd.log().sum(), alpha=raw.shape[0])
    if layout.n_blocks:  # the targets' logits: the one-hot values of x times their logits
        soft = layout.soft_on(raw.device)
        r_s = raw.index_select(1, soft)
        e, sums, lse = _block_exp(raw, r_s, layout)
        value = value.add_(lse).sub_(torch.dot(r_s.view(-1), x.index_select(1, soft).view(-1)))
    else:
        e = sums = raw.new_zeros(())
    return value, (t, d, dd, inv, sd, e, sums, x)


def _reconstruction_backward(saved: tuple[torch.Tensor, ...], layout: Layout, shape: torch.Size,
                             grad: torch.Tensor | float) -> tuple[torch.Tensor, torch.Tensor]:
    """The gradients of :func:`_reconstruction_forward`'s value times ``grad`` w.r.t. raw and sigma:
    -(x - tanh(raw)) (1 - tanh(raw)^2) / sigma^2 on the offsets, softmax(raw) - x on the one-hot
    blocks; d/dsigma = -(x - tanh(raw))^2 / sigma^3 + 1 / sigma on the offsets."""
    t, d, dd, inv, sd, e, sums, x = saved
    tanh = layout.tanh_on(t.device)
    if layout.n_blocks:  # grad (e / its block's sum - x), the sums' reciprocals gathered (the offsets' come next)
        gather = layout.soft_block_of(t.device)
        if isinstance(grad, torch.Tensor):  # the modules' path (any device): no host read of grad
            g_raw = torch.mul(e, sums.reciprocal().index_select(1, gather)).sub_(x).mul_(grad)
        else:
            g_raw = torch.mul(e, torch.div(grad, sums).index_select(1, gather)).sub_(x, alpha=grad)
    else:
        g_raw = t.new_empty(shape)
    # the offsets: grad * -2 d inv (1 - t^2) = (t^2 - 1) d (2 grad inv)
    g_raw.index_copy_(1, tanh, torch.mul(t, t).sub_(1).mul_(d).mul_(inv * (2 * grad)))
    g_sigma = t.new_zeros(shape[1])  # grad * (B / sigma - dd / sigma^3) = grad * (B - 2 dd inv) / sigma
    g_sigma.index_copy_(0, tanh, torch.mul(dd, inv).mul_(-2).add_(t.shape[0]).div_(sd).mul_(grad))
    return g_raw, g_sigma


class _Reconstruction(torch.autograd.Function):
    """-log p(x | z) summed over the batch (up to constants) with its gradient written out
    (:func:`_reconstruction_forward`, :func:`_reconstruction_backward`). The same values as
    autograd's, in a third of the tensor ops (a step of tvae on a small table is mostly per-op
    overhead)."""

    @staticmethod
    def forward(ctx, raw: torch.Tensor, x: torch.Tensor, sigma: torch.Tensor,
                layout: Layout) -> torch.Tensor:
        value, saved = _reconstruction_forward(raw, x, sigma, layout)
        ctx.layout = layout
        ctx.shape = raw.shape
        ctx.save_for_backward(*saved)
        return value

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        g_raw, g_sigma = _reconstruction_backward(ctx.saved_tensors, ctx.layout, ctx.shape, grad)
        return g_raw, None, g_sigma, None


class _Code(torch.autograd.Function):
    """The reparameterized code z = mu + eps * exp(logvar / 2) and KL(N(mu, sigma^2) || N(0, I)) =
    -1/2 sum(1 + logvar - mu^2 - exp(logvar)), both with their gradients written out
    (d kl / d mu = mu, d kl / d logvar = (exp(logvar) - 1) / 2, dz / dlogvar = eps * std / 2)."""

    @staticmethod
    def forward(ctx, mu: torch.Tensor, logvar: torch.Tensor,
                eps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        std = torch.exp(0.5 * logvar)
        var = std * std
        kl = -0.5 * (1 + logvar - mu * mu - var).sum()
        ctx.save_for_backward(mu, std, var, eps)
        return mu + eps * std, kl

    @staticmethod
    def backward(ctx, g_z: torch.Tensor, g_kl: torch.Tensor):
        mu, std, var, eps = ctx.saved_tensors
        return g_z + g_kl * mu, 0.5 * (g_z * eps * std + g_kl * (var - 1)), None


class _Step(torch.autograd.Function):
    """tvae's whole training loss, (loss_factor * reconstruction + KL) / B, with every gradient written
    out: the encoder, the two heads as one product (their weights side by side), the code, the
    decoder and the reconstruction, forward and backward as plain matrix products and ReLU masks.

    The same loss and gradients as autograd through the modules (the same products, one autograd node
    instead of ~30, fewer temporaries; tests/tables/test_tables_fast_paths.py compares them): a tvae
    step on a table is small matrices, where per-op costs are a large part of the step.
    With ``lp=torch.bfloat16`` (CPU bf16 autocast) the layers' products run in bf16 as autocast runs them
    (bf16 copies of the fp32 weights, bf16 activations, fp32 accumulation inside each product); the code,
    the KL term, the reconstruction, the biases' gradients and the loss stay fp32, and the weights'
    gradients come back in fp32 (on a CPU with native bf16 such products take ~0.55x fp32's time).
    Inputs: x (B, D), eps (B, E), the layout, loss_factor, the number of encoder layers, the products'
    dtype (None: fp32), then sigma and
    every weight and bias (encoder layers, the mu head, the logvar head, decoder layers). Returns the
    loss and, without gradient, the reconstruction and KL terms per row."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, eps: torch.Tensor, layout: Layout, loss_factor: float, n_enc: int,
                lp: torch.dtype | None, sigma: torch.Tensor,
                *params: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        with torch.autocast("cpu", enabled=False):  # lp says the products' dtype (autocast would make it all bf16)
            return _Step._forward(ctx, x, eps, layout, loss_factor, n_enc, lp, sigma, params)

    @staticmethod
    def _forward(ctx, x: torch.Tensor, eps: torch.Tensor, layout: Layout, loss_factor: float, n_enc: int,
                 lp: torch.dtype | None, sigma: torch.Tensor,
                 params: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        b = x.shape[0]
        k = 2 * n_enc
        weights = list(params)
        # the two heads as one layer: (2E, width), mu's rows then logvar's, and their biases the same way
        weights[k:k + 4] = [torch.cat([params[k], params[k + 2]]), torch.cat([params[k + 1], params[k + 3]])]
        if lp is not None:  # bf16 products (what autocast does to the layers): the weights cast once a step
            weights = [w.to(lp) for w in weights]
            x_in = x.to(lp)
        else:
            x_in = x
        enc = [(weights[2 * i], weights[2 * i + 1]) for i in range(n_enc)]
        w_head, b_head = weights[k], weights[k + 1]
        dec = [(weights[i], weights[i + 1]) for i in range(k + 2, len(weights), 2)]
        ins = [x_in]  # the input of every layer (ReLU outputs after the first), in the products' dtype
        h = x_in
        for w, bias in enc:
            h = torch.addmm(bias, h, w.t()).relu_()
            ins.append(h)
        out = torch.addmm(b_head, h, w_head.t()).float()  # (B, 2E): mu | logvar (the code in fp32)
        e_dim = out.shape[1] // 2
        mu, logvar = out[:, :e_dim], out[:, e_dim:]
        logvar_sum = logvar.sum()
        std = logvar.mul_(0.5).exp_()  # in place: out holds mu | std from here
        h = torch.addcmul(mu, eps, std)  # z
        # KL = -1/2 sum(1 + logvar - mu^2 - std^2) = (sum of out^2 (mu^2 and std^2) - sum logvar - B E) / 2
        flat = out.view(-1)
        kl = torch.dot(flat, flat).sub_(logvar_sum).sub_(b * e_dim).mul_(0.5)
        if lp is not None:
            h = h.to(lp)
        ins.append(h)
        for i, (w, bias) in enumerate(dec):
            h = torch.addmm(bias, h, w.t())
            if i < len(dec) - 1:
                h = h.relu_()
                ins.append(h)
        rec, saved = _reconstruction_forward(h.float(), x, sigma, layout)
        ctx.layout, ctx.factor, ctx.n_enc, ctx.e_dim, ctx.shape = layout, loss_factor, n_enc, e_dim, h.shape
        ctx.n_saved, ctx.n_params, ctx.lp = len(saved), len(params), lp
        # the weights as the products used them (bf16 copies when lp); the heads' as one matrix
        used = [weights[i] for i in range(0, len(weights), 2)]
        ctx.save_for_backward(*saved, *ins, mu, std, eps, *used)
        rec_row, kl_row = rec / b, kl / b
        ctx.mark_non_differentiable(rec_row, kl_row)
        return torch.add(kl_row, rec_row, alpha=loss_factor), rec_row, kl_row

    @staticmethod
    def backward(ctx, grad: torch.Tensor, *_: torch.Tensor):
        with torch.autocast("cpu", enabled=False):
            return _Step._backward(ctx, grad)

    @staticmethod
    def _backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        tensors = ctx.saved_tensors
        n_saved, n_enc, e_dim, n_params, lp = ctx.n_saved, ctx.n_enc, ctx.e_dim, ctx.n_params, ctx.lp
        n_used = n_params // 2 - 1  # encoder layers, the heads (one matrix), decoder layers
        saved, used = tensors[:n_saved], tensors[len(tensors) - n_used:]
        rest = tensors[n_saved:len(tensors) - n_used]
        mu, std, eps = rest[-3:]
        ins = rest[:-3]  # x, the encoder's outputs, z, the decoder's hidden outputs (the products' dtype)
        enc_w, w_head, dec_w = used[:n_enc], used[n_enc], used[n_enc + 1:]
        b = ctx.shape[0]
        s = float(grad) / b  # the loss's gradient per row (one host read: the CPU's)
        g, g_sigma = _reconstruction_backward(saved, ctx.layout, ctx.shape, s * ctx.factor)
        k = 2 * n_enc
        grads: list[torch.Tensor | None] = [None] * n_params
        # decoder, last layer first: g is the gradient at the layer's output (fp32 at the last layer; in
        # the products' dtype after it); weight gradients come back in fp32 for the fp32 master weights
        for j in range(len(dec_w) - 1, -1, -1):
            inp = ins[n_enc + 1 + j]
            g_lp = g if lp is None else g.to(lp)
            grads[k + 4 + 2 * j] = g_lp.t().mm(inp).float()
            grads[k + 5 + 2 * j] = g.sum(0, dtype=torch.float32)
            g = g_lp.mm(dec_w[j])
            if j > 0:
                g = torch.ops.aten.threshold_backward(g, inp, 0)
        # the code: z = mu + eps * std, kl = -1/2 sum(1 + logvar - mu^2 - std^2), scaled by grad / B
        g = g.float()
        g_out = torch.empty(b, 2 * e_dim, dtype=g.dtype, device=g.device)
        torch.add(g, mu, alpha=s, out=g_out[:, :e_dim])  # d/dmu: g_z + s mu
        # d/dlogvar: (g_z eps std + s (std^2 - 1)) / 2 = std (g_z eps + s std) / 2 - s / 2
        torch.mul(g, eps, out=g_out[:, e_dim:]).add_(std, alpha=s).mul_(std).sub_(s).mul_(0.5)
        g_lp = g_out if lp is None else g_out.to(lp)
        g_w_head = g_lp.t().mm(ins[n_enc]).float()
        g_b_head = g_out.sum(0)
        grads[k], grads[k + 2] = g_w_head[:e_dim], g_w_head[e_dim:]
        grads[k + 1], grads[k + 3] = g_b_head[:e_dim], g_b_head[e_dim:]
        g = g_lp.mm(w_head)
        for j in range(n_enc - 1, -1, -1):
            g = torch.ops.aten.threshold_backward(g, ins[j + 1], 0)
            grads[2 * j] = g.t().mm(ins[j]).float()
            grads[2 * j + 1] = g.sum(0, dtype=torch.float32)
            if j > 0:
                g = g.mm(enc_w[j])
        return (None, None, None, None, None, None, g_sigma, *grads)


def _step_dtype(x: torch.Tensor, params: list[torch.Tensor]) -> torch.dtype | None | Literal[False]:
    """Whether a training loss goes through :class:`_Step`, and with which products: ``None`` for fp32
    products (fp32 on CPU), ``torch.bfloat16`` under CPU bf16 autocast (bf16 products with fp32 master
    weights, code, loss and reconstruction: what autocast does to the modules' path), ``False`` for the
    modules' path (other devices or autocast dtypes, gradient-free evaluation, fp32 weights with
    gradients missing, a caller that wants the rows' gradient)."""
    if not (x.device.type == "cpu" and torch.is_grad_enabled() and x.dtype == torch.float32
            and not x.requires_grad and all(p.dtype == torch.float32 and p.requires_grad for p in params)):
        return False
    if not torch.is_autocast_enabled("cpu"):
        return None
    return torch.bfloat16 if torch.get_autocast_dtype("cpu") == torch.bfloat16 else False


def _mlp(n_in: int, dims: tuple[int, ...]) -> tuple[nn.Sequential, int]:
    layers, width = [], n_in
    for d in dims:
        layers += [nn.Linear(width, d), nn.ReLU()]
        width = d
    return nn.Sequential(*layers), width


@register("tvae", TVAEConfig, "TVAE: table VAE on mode-specific normalized rows (Gaussian / softmax outputs)")
class TVAE(GenerativeModel):
    """Table VAE; see the module docstring."""

    config: TVAEConfig
    tabular = True
    sample_options = ("condition",)  # sample(n, condition=...): rows with a fixed discrete value
    # noise + the offsets' output noise -> rows (one-hots by argmax), decoded by the synth transformer (runs/export.py)
    export_parts: ClassVar[tuple[str, ...]] = ("rows",)

    def __init__(self, config: TVAEConfig):
        super().__init__(config)
        check_layout(config.spans, config.discrete, config.category_counts, "tvae")
        d = config.data_dim
        self.encoder, width = _mlp(d, tuple(config.compress_dims))
        self.mu = nn.Linear(width, config.embedding_dim)
        self.logvar = nn.Linear(width, config.embedding_dim)
        body, width = _mlp(config.embedding_dim, tuple(config.decompress_dims))
        self.decoder = nn.Sequential(*body, nn.Linear(width, d))
        self.sigma = nn.Parameter(torch.full((d,), 0.1))
        self.layout = Layout(config.spans)

    def phases(self) -> list[Phase]:
        cfg = self.config
        return [Phase("model", (), 1, OptimizerConfig("adam", cfg.vae_lr, (0.9, 0.999), cfg.vae_weight_decay))]

    def after_step(self, phase: str) -> None:
        with torch.no_grad():
            self.sigma.clamp_(0.01, 1.0)

    @staticmethod
    def _linears(seq: nn.Sequential) -> list[nn.Linear]:
        return [m for m in seq if isinstance(m, nn.Linear)]

    def _step_parameters(self) -> list[torch.Tensor]:
        """The weights and biases in :class:`_Step`'s order: encoder, mu, logvar, decoder."""
        out: list[torch.Tensor] = []
        for lin in (*self._linears(self.encoder), self.mu, self.logvar, *self._linears(self.decoder)):
            out += [lin.weight, lin.bias]
        return out

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.encoder(x)
        return self.mu(h), self.logvar(h)

    def reconstruction(self, x: torch.Tensor, raw: torch.Tensor) -> torch.Tensor:
        """Summed -log p(x | z) over the batch, up to constants."""
        return cast(torch.Tensor, _Reconstruction.apply(raw.float(), x.float(), self.sigma.float(), self.layout))

    def losses(self, batch: Batch, phase: str = "model") -> Losses:
        x = batch.x.flatten(1)
        if x.shape[1] != self.config.data_dim:
            raise DataError(f"tvae expects rows of {self.config.data_dim} values, got {x.shape[1]}")
        params = self._step_parameters()
        lp = _step_dtype(x, params)
        if lp is not False:  # training on CPU (fp32, or bf16 autocast): the whole loss as one function
            eps = torch.randn(x.shape[0], self.config.embedding_dim, device=x.device)
            loss, rec_row, kl_row = _Step.apply(x, eps, self.layout, float(self.config.loss_factor),
                                                len(self._linears(self.encoder)), lp, self.sigma, *params)
            return {"loss": loss, "reconstruction": rec_row, "kl": kl_row}
        mu, logvar = self.encode(x)
        mu, logvar = mu.float(), logvar.float()
        z, kl = _Code.apply(mu, logvar, torch.randn_like(mu))
        raw = self.decoder(z)
        rec = self.reconstruction(x, raw)
        b = x.shape[0]
        return {"loss": (self.config.loss_factor * rec + kl) / b, "reconstruction": (rec / b).detach(),
                "kl": (kl / b).detach()}

    @torch.no_grad()
    def sample(self, n: int, labels: torch.Tensor | None = None,
               condition: dict[int, int] | None = None) -> torch.Tensor:
        """``n`` rows (n, D) in the transformed layout. ``condition`` is not used by the network (tvae
        is unconditional): the synthesizer keeps only rows that meet it (rejection sampling)."""
        z = torch.randn(n, self.config.embedding_dim, device=self.device)
        raw = self.decoder(z)
        rows = activate(raw, self.layout, hard=self.config.discrete_sampling)
        t = self.layout.tanh.to(rows.device)
        rows[:, t] = (rows[:, t] + torch.randn_like(rows[:, t]) * self.sigma[t]).clamp(-1, 1)
        return rows.float()

    def row_inputs(self) -> dict[str, int]:
        """The inputs of :meth:`rows_from_noise` and their widths (the 'rows' export part)."""
        return {"noise": self.config.embedding_dim, "offset_noise": len(self.layout.tanh)}

    def rows_from_noise(self, noise: torch.Tensor, offset_noise: torch.Tensor) -> torch.Tensor:
        """Rows (B, D) in the transformed layout from z (B, embedding_dim) and the offsets' N(0, 1) output
        noise (B, tanh values): :meth:`sample`'s path (the same draws in the same order) with the one-hots
        taken by argmax (``discrete_sampling='argmax'``)."""
        rows = activate(self.decoder(noise), self.layout, hard="argmax")
        t = self.layout.tanh.to(rows.device)
        rows[:, t] = (rows[:, t] + offset_noise * self.sigma[t]).clamp(-1, 1)
        return rows.float()


__all__ = ["TVAE", "TVAEConfig"]
