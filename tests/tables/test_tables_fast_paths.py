"""The vectorized per-step paths of ctgan (issue 17, speed): same math / same distributions as the
per-column loops they replace."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from genlab import registry
from genlab.models.base import Batch
from genlab.models.tabular import Layout, activate, gumbel_noise

pytest.importorskip("pandas")

SPANS = [[1, 0], [2, 1], [2, 1], [3, 1]]
LAYOUT = {"spans": SPANS, "discrete": [2, 3], "category_counts": [[900.0, 100.0], [50.0, 30.0, 20.0]]}
TINY = {"embedding_dim": 4, "generator_dims": [8], "discriminator_dims": [8], "pac": 5}


def _ctgan():
    torch.manual_seed(0)
    return registry.build("ctgan", {**LAYOUT, **TINY})


def test_conditional_loss_equals_the_per_column_cross_entropy():
    model = _ctgan()
    g = torch.Generator().manual_seed(1)
    raw = torch.randn(40, 8, generator=g)
    _, cols, cats = model.sample_conditions(40, generator=g)
    expected = torch.zeros(())
    for j, (s, e, _, _) in enumerate(model.cond_slices):
        rows = cols == j
        expected = expected + F.cross_entropy(raw[rows, s:e], cats[rows], reduction="sum")
    assert model._conditional_loss(raw, cols, cats).item() == pytest.approx(expected.item() / 40, rel=1e-6)


def test_sampling_conditions_follow_the_data_frequencies():
    model = _ctgan()
    cond, cols, cats = model.sample_conditions(30000, model._data_probs, generator=torch.Generator().manual_seed(0))
    assert torch.equal(cond.sum(1), torch.ones(30000))
    assert (cols == 1).float().mean().item() == pytest.approx(0.5, abs=0.015)
    shares = torch.bincount(cats[cols == 1], minlength=3).float() / (cols == 1).sum()
    assert shares.tolist() == pytest.approx([0.5, 0.3, 0.2], abs=0.015)
    assert torch.equal(cond[cols == 1, 2 + cats[cols == 1]], torch.ones(int((cols == 1).sum())))
    other = [torch.tensor([0.1, 0.9]), torch.tensor([0.0, 0.0, 1.0])]  # any probabilities (padded matrix)
    _, cols, cats = model.sample_conditions(2000, other, generator=torch.Generator().manual_seed(0))
    assert set(cats[cols == 1].tolist()) == {2}


def test_conditioned_real_rows_skip_absent_categories_and_pick_by_weight():
    model = _ctgan()
    x = torch.zeros(6, 8)
    x[:, 1] = 1
    x[:, 3] = 1  # column 0: every row category 0 (the frequent one)
    x[:3, 5], x[3:, 7] = 1, 1  # column 1: rows 0-2 category 0, rows 3-5 category 2
    torch.manual_seed(0)
    for _ in range(50):
        real, cond = model._conditioned_real(x)
        on_second = cond[:, 2:].sum(1) == 1  # each slot's condition is its own row's category
        assert torch.equal(cond[on_second, 2:], real[on_second, 5:8])
        assert torch.equal(cond[~on_second, :2], real[~on_second, 3:5])
        assert not cond[~on_second, 1].any()  # column 0's category 1 is in no row: never drawn
    # column 1's weight: p_log(k) / p_data(k); category 2 (20%) is up-weighted against category 0 (50%)
    torch.manual_seed(1)
    picks = torch.cat([model._conditioned_real(x)[1][:, 2:] for _ in range(400)])
    picks = picks[picks.sum(1) == 1]
    share2 = picks[:, 2].mean().item()
    w0, w2 = math.log(51) / 0.5, math.log(21) / 0.2
    assert share2 == pytest.approx(w2 / (w0 + w2), abs=0.03)


def test_generator_phase_gives_the_critic_no_gradients():
    model = _ctgan()
    x = torch.zeros(10, 1, 1, 8)
    x[:, 0, 0, [0, 1, 3, 5]] = 1
    model.zero_grad(set_to_none=True)
    model(Batch(x), "generator")["loss"].backward()
    assert all(p.grad is None for p in model.discriminator.parameters())
    assert all(p.requires_grad for p in model.discriminator.parameters())
    assert any(p.grad is not None for p in model.generator.parameters())


def test_dropout_zeroes_a_share_p_and_rescales():
    from genlab.models.ctgan import Dropout

    drop = Dropout(0.5)
    x = torch.ones(200, 100)
    y = drop(x)
    assert set(y.unique().tolist()) <= {0.0, 2.0} and (y == 0).float().mean().item() == pytest.approx(0.5, abs=0.01)
    drop.eval()
    assert torch.equal(drop(x), x)


def test_gumbel_softmax_rows_pick_categories_by_softmax():
    logits = torch.log(torch.tensor([[0.6, 0.3, 0.1]])).repeat(20000, 1)
    raw = torch.cat([torch.zeros(20000, 1), logits], 1)
    torch.manual_seed(0)
    out = activate(raw, Layout([[1, 0], [3, 1]]), tau=0.2)
    assert torch.allclose(out[:, 1:].sum(1), torch.ones(20000), atol=1e-5)
    shares = torch.bincount(out[:, 1:].argmax(1), minlength=3).float() / 20000  # the Gumbel-max trick
    assert shares.tolist() == pytest.approx([0.6, 0.3, 0.1], abs=0.015)


def test_trainer_uses_the_fused_adam_on_cpu():
    from genlab.config import OptimizerConfig
    from genlab.training.trainer import build_optimizer

    opt = build_optimizer(list(torch.nn.Linear(3, 2).parameters()), OptimizerConfig("adam", 1e-3))
    assert opt.defaults["fused"] is True


# one-hot blocks of several sizes, tanh values between them (as in a transformed row)
MIXED = [[1, 0], [3, 1], [1, 0], [5, 1], [2, 1], [1, 0], [3, 1], [1, 1]]


def _blocks(spans):
    pos, out = 0, []
    for size, kind in spans:
        out.append((pos, pos + size, kind))
        pos += size
    return out


def _one_hot_rows(spans, n, g):
    rows = torch.rand(n, sum(s for s, _ in spans), generator=g) * 2 - 1
    for s, e, kind in _blocks(spans):
        if kind == 1:
            rows[:, s:e] = F.one_hot(torch.randint(e - s, (n,), generator=g), e - s).float()
    return rows


def test_segment_softmax_and_logsumexp_equal_the_per_block_ops():
    from genlab.models.tabular import segment_logsumexp, segment_softmax

    layout = Layout(MIXED)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(7, layout.width, generator=g) * 5
    x[0, 1:4] += 1000.0  # far apart blocks: the per-block shift keeps every block finite
    x[1, 5:10] -= 1000.0
    soft, lse = segment_softmax(x, layout), segment_logsumexp(x, layout)
    j = 0
    for s, e, kind in _blocks(MIXED):
        if kind == 1:
            assert torch.allclose(soft[:, s:e], F.softmax(x[:, s:e], -1), atol=1e-6)
            assert torch.allclose(lse[:, j], torch.logsumexp(x[:, s:e], -1), atol=1e-4)
            j += 1
    assert lse.shape == (7, j) and torch.isfinite(lse).all()


def test_softmax_cross_entropy_equals_the_per_block_cross_entropy_with_its_gradient():
    from genlab.models.tabular import softmax_cross_entropy

    g = torch.Generator().manual_seed(1)
    target = _one_hot_rows(MIXED, 9, g)
    raw = (torch.randn(9, target.shape[1], generator=g) * 3).requires_grad_()
    raw_loop = raw.detach().clone().requires_grad_()
    expected = sum(F.cross_entropy(raw_loop[:, s:e], target[:, s:e].argmax(1), reduction="sum")
                   for s, e, kind in _blocks(MIXED) if kind == 1)
    got = softmax_cross_entropy(raw, target, Layout(MIXED))
    assert got.item() == pytest.approx(expected.item(), rel=1e-6)
    got.backward()
    expected.backward()
    assert torch.allclose(raw.grad, raw_loop.grad, atol=1e-6)


def test_gumbel_softmax_training_rows_equal_the_per_block_version():
    g = torch.Generator().manual_seed(2)
    raw = torch.randn(11, sum(s for s, _ in MIXED), generator=g) * 2
    torch.manual_seed(5)
    out = activate(raw, Layout(MIXED), tau=0.2)
    torch.manual_seed(5)
    noisy = (raw + gumbel_noise(raw)) / 0.2  # the same noise: one draw over the whole row
    for s, e, kind in _blocks(MIXED):
        expected = F.softmax(noisy[:, s:e], -1) if kind == 1 else torch.tanh(raw[:, s:e])
        assert torch.allclose(out[:, s:e], expected, atol=1e-6)


@pytest.mark.parametrize("case", ["row shift", "blocks far apart", "large offset logits", "offsets only",
                                  "one-hots only"])
def test_tvae_reconstruction_and_its_gradients_equal_the_per_column_terms(case):
    """The reconstruction term (one function, gradients written out) against per-column torch ops: with
    logits in a few units (each row's largest one-hot logit as the shift), one-hot blocks hundreds apart
    in a row (the per-block shift), offsets' logits far above every one-hot logit (exp()'s argument
    capped at 0 there), and layouts without one-hot blocks or without offsets."""
    import genlab.models.tvae as tvae_module

    spans = {"offsets only": [[1, 0], [2, 0]], "one-hots only": [[3, 1], [2, 1], [4, 1]]}.get(case, MIXED)
    model = registry.build("tvae", {"spans": spans, "embedding_dim": 4, "compress_dims": [8], "decompress_dims": [8]})
    with torch.no_grad():
        model.sigma.uniform_(0.05, 0.9)
    g = torch.Generator().manual_seed(3)
    x = _one_hot_rows(spans, 6, g)
    raw = torch.randn(6, x.shape[1], generator=g)
    kinds = torch.tensor([kind for s, e, kind in _blocks(spans) for _ in range(s, e)])
    if case == "blocks far apart":  # a block's logits 200 below another's in the same row
        raw[:, 5:10] -= 200.0
    if case == "large offset logits":
        raw[:, kinds == 0] += 150.0
    raw.requires_grad_()
    calls = []
    real_max = tvae_module.segment_max
    tvae_module.segment_max = lambda *a: calls.append(1) or real_max(*a)  # the per-block shift's maxima
    try:
        got = model.reconstruction(x, raw)
    finally:
        tvae_module.segment_max = real_max
    assert len(calls) == (case == "blocks far apart")
    raw_loop = raw.detach().clone().requires_grad_()
    sigma = model.sigma.detach().clone().requires_grad_()
    expected = torch.zeros(())
    for s, e, kind in _blocks(spans):
        if kind == 1:
            expected = expected + F.cross_entropy(raw_loop[:, s:e], x[:, s:e].argmax(1), reduction="sum")
        else:
            sd = sigma[s:e]
            expected = expected + ((x[:, s:e] - torch.tanh(raw_loop[:, s:e])) ** 2 / (2 * sd ** 2) + torch.log(sd)).sum()
    assert got.item() == pytest.approx(expected.item(), rel=1e-6)
    (2.5 * got).backward()  # an upstream gradient other than 1
    (2.5 * expected).backward()
    assert torch.allclose(raw.grad, raw_loop.grad, atol=1e-5)
    want_sigma = torch.zeros_like(sigma) if sigma.grad is None else sigma.grad  # no offsets: sigma unused
    assert torch.allclose(model.sigma.grad, want_sigma, rtol=1e-5, atol=1e-5)


def test_tvae_code_and_kl_with_their_gradients_equal_autograd():
    from genlab.models.tvae import _Code

    g = torch.Generator().manual_seed(4)
    mu, logvar, eps = (torch.randn(5, 3, generator=g) for _ in range(3))
    mu1, lv1 = mu.clone().requires_grad_(), logvar.clone().requires_grad_()
    mu2, lv2 = mu.clone().requires_grad_(), logvar.clone().requires_grad_()
    z, kl = _Code.apply(mu1, lv1, eps)
    z_ref = mu2 + eps * torch.exp(0.5 * lv2)
    kl_ref = -0.5 * torch.sum(1 + lv2 - mu2 ** 2 - lv2.exp())
    assert torch.allclose(z, z_ref) and kl.item() == pytest.approx(kl_ref.item(), rel=1e-6)
    w = torch.randn(5, 3, generator=g)
    ((z * w).sum() + 3 * kl).backward()
    ((z_ref * w).sum() + 3 * kl_ref).backward()
    assert torch.allclose(mu1.grad, mu2.grad, atol=1e-6) and torch.allclose(lv1.grad, lv2.grad, atol=1e-6)


@pytest.mark.parametrize("dims", [(8, 6), ()])
def test_ctgan_gradient_penalty_equals_the_autograd_double_backward(dims):
    from genlab.models.adversarial import gradient_penalty

    model = registry.build("ctgan", {**LAYOUT, **TINY, "discriminator_dims": list(dims)})
    model.train()
    g = torch.Generator().manual_seed(6)
    width = 5 * (8 + 5)  # pac 5, rows of 8 values and conditions of 5
    real, fake = torch.randn(4, width, generator=g), torch.randn(4, width, generator=g)
    critic = model.discriminator
    torch.manual_seed(3)  # the same draws on both sides: eps, then each layer's dropout mask
    gp, norm = model._gradient_penalty(real, fake)
    gp.backward()
    def grads():  # a parameter the penalty does not reach (the biases) has no gradient or zeros
        return [torch.zeros_like(p) if p.grad is None else p.grad.clone() for p in critic.parameters()]

    got = grads()
    critic.zero_grad()
    torch.manual_seed(3)
    gp_ref, norm_ref = gradient_penalty(critic, real, fake)
    gp_ref.backward()
    assert gp.item() == pytest.approx(gp_ref.item(), rel=1e-5) and norm.item() == pytest.approx(norm_ref.item(), rel=1e-5)
    for a, b in zip(got, grads(), strict=True):
        assert torch.allclose(a, b, atol=1e-6)
    assert gp.item() > 0 and any(a.abs().sum() > 0 for a in got)


@pytest.mark.parametrize("dims", [((8, 6), (7, 5)), ((), ()), ((8,), ())])
def test_tvae_fused_step_equals_autograd_through_the_modules(dims, monkeypatch):
    """tvae's fp32 CPU training loss (_Step: one function, gradients written out) against the modules'
    path (autograd through the layers, the reconstruction and the code) with the same noise."""
    import genlab.models.tvae as tvae_module

    spans = MIXED
    model = registry.build("tvae", {"spans": spans, "embedding_dim": 4, "compress_dims": list(dims[0]),
                                    "decompress_dims": list(dims[1]), "loss_factor": 1.5})
    with torch.no_grad():
        model.sigma.uniform_(0.05, 0.9)
    g = torch.Generator().manual_seed(7)
    x = _one_hot_rows(spans, 9, g)

    def run(fused: bool):
        monkeypatch.setattr(tvae_module, "_step_dtype", lambda *a: None if fused else False)
        model.zero_grad(set_to_none=True)
        torch.manual_seed(1)  # the same code noise eps on both paths
        out = model.losses(Batch(x.view(9, 1, 1, -1)))
        assert (out["loss"].grad_fn.name() == "_StepBackward") == fused
        (3.0 * out["loss"]).backward()  # an upstream gradient other than 1
        return {k: v.item() for k, v in out.items()}, [p.grad.clone() for p in model.parameters()]

    got, got_grads = run(True)
    want, want_grads = run(False)
    assert got == pytest.approx(want, rel=1e-5)
    for (name, _), a, b in zip(model.named_parameters(), got_grads, want_grads, strict=True):
        assert torch.allclose(a, b, rtol=1e-4, atol=1e-6), name
    monkeypatch.undo()
    params = tvae_module.TVAE._step_parameters(model)
    assert tvae_module._step_dtype(x, params) is None  # fp32 CPU training: fused, fp32 products
    with torch.autocast("cpu", dtype=torch.bfloat16):  # bf16 autocast: fused, bf16 products
        assert tvae_module._step_dtype(x, params) == torch.bfloat16
    with torch.autocast("cpu", dtype=torch.float16):  # any other autocast: the modules
        assert tvae_module._step_dtype(x, params) is False
    assert tvae_module._step_dtype(x.clone().requires_grad_(), params) is False  # the rows' gradient: modules
    with torch.no_grad():
        assert tvae_module._step_dtype(x, params) is False


@pytest.mark.parametrize("dims", [((8, 6), (7, 5)), ((), ()), ((8,), ())])
def test_tvae_fused_step_in_bf16_equals_autocast_through_the_modules(dims, monkeypatch):
    """Under CPU bf16 autocast, _Step's bf16 products (fp32 master weights, code, loss and weight
    gradients) give what autocast through the modules gives with the same noise (both round the same
    products to bf16: agreement to bf16's resolution), and stay near the fp32 step."""
    import genlab.models.tvae as tvae_module

    spans = MIXED
    torch.manual_seed(0)
    model = registry.build("tvae", {"spans": spans, "embedding_dim": 4, "compress_dims": list(dims[0]),
                                    "decompress_dims": list(dims[1]), "loss_factor": 1.5})
    with torch.no_grad():
        model.sigma.uniform_(0.05, 0.9)
    x = _one_hot_rows(spans, 64, torch.Generator().manual_seed(7))

    def run(path: str):
        if path == "modules":
            monkeypatch.setattr(tvae_module, "_step_dtype", lambda *a: False)
        model.zero_grad(set_to_none=True)
        torch.manual_seed(1)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=path != "fp32"):
            out = model.losses(Batch(x.view(64, 1, 1, -1)))
        assert (out["loss"].grad_fn.name() == "_StepBackward") == (path != "modules")
        assert out["loss"].dtype == torch.float32
        (3.0 * out["loss"]).backward()
        monkeypatch.undo()
        return {k: v.item() for k, v in out.items()}, [p.grad.clone() for p in model.parameters()]

    got, got_grads = run("bf16")
    want, want_grads = run("modules")
    ref, ref_grads = run("fp32")
    assert got == pytest.approx(want, rel=2e-3)
    assert got == pytest.approx(ref, rel=3e-2)
    for (name, p), a, b, c in zip(model.named_parameters(), got_grads, want_grads, ref_grads, strict=True):
        assert a.dtype == p.dtype == torch.float32
        assert (a - b).norm() <= 2e-2 * b.norm() + 1e-6, name  # bf16 rounding of the same products
        assert (a - c).norm() <= 0.2 * c.norm() + 1e-6, name  # against fp32: bf16 activations


def test_block_ops_with_logits_far_apart_equal_the_per_block_ops():
    """Logits more than EXP_FLOOR apart inside a block (what a trained model gives): the floor on exp()'s
    argument leaves every log-sum-exp, softmax and cross-entropy (and its gradient) as torch computes
    them, and no subnormal number comes out."""
    from genlab.models.tabular import EXP_FLOOR, segment_logsumexp, segment_softmax, softmax_cross_entropy

    layout = Layout(MIXED)
    g = torch.Generator().manual_seed(8)
    raw = torch.randn(7, layout.width, generator=g) * 60  # spans of hundreds inside a block
    assert (raw.max() - raw.min()).item() > -3 * EXP_FLOOR
    lse, soft = segment_logsumexp(raw, layout), segment_softmax(raw, layout)
    x = _one_hot_rows(MIXED, 7, g)
    r1, r2 = raw.clone().requires_grad_(), raw.clone().requires_grad_()
    ce = softmax_cross_entropy(r1, x, layout)
    expected = torch.zeros(())
    for j, (s, e, _) in enumerate(b for b in _blocks(MIXED) if b[2] == 1):
        assert torch.allclose(lse[:, j], torch.logsumexp(raw[:, s:e], -1), rtol=1e-6)
        assert torch.allclose(soft[:, s:e], F.softmax(raw[:, s:e], -1), atol=1e-7)
        expected = expected + F.cross_entropy(r2[:, s:e], x[:, s:e].argmax(1), reduction="sum")
    assert ce.item() == pytest.approx(expected.item(), rel=1e-6)
    ce.backward()
    expected.backward()
    assert torch.allclose(r1.grad, r2.grad, atol=1e-6)
    tiny = torch.finfo(torch.float32).tiny
    assert not ((soft != 0) & (soft.abs() < tiny)).any()


def test_tvae_default_precision_is_bf16_only_on_native_bf16_cpus_at_large_batches(monkeypatch):
    """The tables' default precision (pinned): tvae trains in bf16 on a CPU with native bf16 (the probe
    says so, never assumed) at batches of TVAE_BF16_MIN_BATCH (160) rows or more; fp32 otherwise,
    for ctgan and when a precision is given; the resolved precision goes into the run's config."""
    from tables_helpers import mixed_frame

    from genlab.tables import Synthesizer
    from genlab.tables.synthesizer import TVAE_BF16_MIN_BATCH, default_precision

    assert TVAE_BF16_MIN_BATCH == 160
    monkeypatch.setenv("GENLAB_NATIVE_BF16", "1")
    assert default_precision("tvae", 500, {}) == "bf16"
    assert default_precision("tvae", 160, {"device": "cpu", "precision": "auto"}) == "bf16"
    assert default_precision("tvae", 159, {}) == "fp32"
    assert default_precision("tvae", 500, {"precision": "fp32"}) == "fp32"
    assert default_precision("ctgan", 500, {}) == "fp32"
    assert default_precision("ctgan", 500, {"precision": "auto"}) == "auto"  # the trainer's rule
    synth = Synthesizer("tvae", epochs=1)
    plan = synth.prepare(mixed_frame(800))  # 640 training rows: batch 160
    assert plan.train["batch_size"] == 160 and plan.train["precision"] == "bf16"
    assert synth.state["precision"] == "bf16"  # saved with the synthesizer
    plan = Synthesizer("tvae", epochs=1).prepare(mixed_frame(600))  # batch 120
    assert plan.train["precision"] == "fp32"
    monkeypatch.setenv("GENLAB_NATIVE_BF16", "0")  # no native bf16: fp32 whatever the batch
    assert default_precision("tvae", 500, {}) == "fp32"
    assert default_precision("tvae", 500, {"precision": "auto"}) == "fp32"
    assert Synthesizer("tvae", epochs=1).prepare(mixed_frame(800)).train["precision"] == "fp32"
