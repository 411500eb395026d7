"""ctgan and tvae: training-by-sampling, PacGAN, the phase contract, conditions, save/load."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from genlab import registry
from genlab.models.base import Batch, GenerativeModel

pd = pytest.importorskip("pandas")

# a layout: continuous column (offset + 2 modes), categorical of 2, categorical of 3
SPANS = [[1, 0], [2, 1], [2, 1], [3, 1]]
LAYOUT = {"spans": SPANS, "discrete": [2, 3], "category_counts": [[900.0, 100.0], [50.0, 30.0, 20.0]]}
TINY = {"ctgan": {"embedding_dim": 4, "generator_dims": [8], "discriminator_dims": [8], "pac": 5},
        "tvae": {"embedding_dim": 4, "compress_dims": [8], "decompress_dims": [8]}}


def _build(name):
    torch.manual_seed(0)
    return registry.build(name, {**LAYOUT, **TINY[name]})


def _rows(n, seed=0, share_first=0.9):
    g = torch.Generator().manual_seed(seed)
    x = torch.zeros(n, 8)
    x[:, 0] = torch.rand(n, generator=g) * 2 - 1
    x[torch.arange(n), 1 + torch.randint(2, (n,), generator=g)] = 1
    first = torch.rand(n, generator=g) < share_first
    x[first, 3] = 1
    x[~first, 4] = 1
    x[torch.arange(n), 5 + torch.randint(3, (n,), generator=g)] = 1
    return x.view(n, 1, 1, 8)


def test_training_by_sampling_draws_categories_by_log_frequency():
    model = _build("ctgan")
    cond, cols, cats = model.sample_conditions(20000, generator=torch.Generator().manual_seed(0))
    assert cond.shape == (20000, 5) and torch.equal(cond.sum(1), torch.ones(20000))
    share = (cats[cols == 0] == 1).float().mean().item()  # the rare category (count 100 of 1000)
    expected = math.log(101) / (math.log(101) + math.log(901))
    assert share == pytest.approx(expected, abs=0.015) and expected > 3 * 0.1
    # the critic's real rows: redrawn so their categories follow the log-frequency, each with its own condition
    torch.manual_seed(0)
    x = _rows(5000).flatten(1)
    real, cond = model._conditioned_real(x)
    on_first = cond[:, :2].sum(1) == 1
    assert torch.equal(cond[on_first, :2], real[on_first, 3:5])  # the condition is the row's own category
    assert torch.equal(cond[~on_first, 2:], real[~on_first, 5:8])
    rare = real[on_first, 4].mean().item()
    assert rare == pytest.approx(expected, abs=0.03)  # 0.10 in the batch, as in the data


def test_pacgan_shapes():
    from genlab.nn.gan_blocks import pack

    model = _build("ctgan")
    rows = torch.arange(20 * 3, dtype=torch.float32).view(20, 3)
    packed = pack(rows, 5)
    assert packed.shape == (4, 15) and torch.equal(packed[1], rows[5:10].reshape(-1))  # consecutive rows side by side
    first = model.discriminator.body[0]
    assert first.in_features == 5 * (8 + 5)  # pac * (row + conditional vector)
    losses = model(Batch(_rows(20)), "discriminator")
    assert losses["loss"].dim() == 0 and torch.isfinite(losses["loss"])
    assert model.discriminator(torch.zeros(4, 65)).shape == (4,)


@pytest.mark.parametrize("name", ["ctgan", "tvae"])
def test_table_models_follow_the_contract(name, tmp_path):
    model = _build(name)
    batch = Batch(_rows(20))
    for phase in model.phases():
        assert model.phase_parameters(phase), f"phase {phase.name} trains nothing"
        model.zero_grad(set_to_none=True)
        losses = model(batch, phase.name)
        assert torch.isfinite(losses["loss"]) and all(v.dim() == 0 for v in losses.values())
        losses["loss"].backward()
        assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.phase_parameters(phase))
    model.eval()
    rows = model.sample(7)
    assert rows.shape == (7, 8)
    for s, e in ((1, 3), (3, 5), (5, 8)):
        assert torch.equal(rows[:, s:e].sum(1), torch.ones(7))  # exact one-hots
    assert rows[:, 0].abs().max() <= 1
    model.save(tmp_path)
    loaded = GenerativeModel.load(tmp_path).eval()
    assert loaded.config == model.config
    torch.manual_seed(3)
    a = model.sample(5)
    torch.manual_seed(3)
    assert torch.equal(a, loaded.sample(5))


def test_critic_phase_leaves_the_generator_alone():
    model = _build("ctgan")
    model.zero_grad(set_to_none=True)
    model(Batch(_rows(20)), "discriminator")["loss"].backward()
    assert all(p.grad is None for p in model.generator.parameters())


def test_ctgan_condition_fixes_the_block():
    model = _build("ctgan").eval()
    rows = model.sample(30, condition={0: 1, 1: 2})
    assert (rows[:, 4] == 1).all() and (rows[:, 7] == 1).all()


def test_table_models_refuse_image_training():
    from genlab.cli import main

    assert main(["train", "ctgan", "--dataset", "digits", "--steps", "1", "--limit", "20"]) == 2


def test_table_models_refuse_image_training_message(capsys):
    from genlab.cli import main

    assert main(["train", "tvae", "--dataset", "digits", "--steps", "1", "--limit", "20"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("genlab: error:") and "genlab synth fit" in err[0]


def test_conditions_hold_in_samples(ctgan_dir, tvae_synth):
    from genlab.tables import Synthesizer

    synth = Synthesizer.load(ctgan_dir)
    rows = synth.sample(40, conditions={"colour": "blue"})
    assert len(rows) == 40 and (rows["colour"] == "blue").all()
    rows = tvae_synth.sample(20, conditions={"flag": "true"})  # tvae: rejection sampling
    assert len(rows) == 20 and rows["flag"].all()


def test_save_load_gives_the_same_synthesizer(tvae_synth, tmp_path):
    from genlab.tables import Synthesizer

    tvae_synth.save(tmp_path / "s")
    loaded = Synthesizer.load(tmp_path / "s")
    assert loaded.transformer.to_dict() == tvae_synth.transformer.to_dict() and loaded.state == tvae_synth.state
    for k, v in tvae_synth.model.state_dict().items():
        assert torch.equal(v, loaded.model.state_dict()[k])
    a, b = tvae_synth.sample(25, seed=5), loaded.sample(25, seed=5)
    pd.testing.assert_frame_equal(a, b)
    assert list(a.columns) == ["x", "count", "colour", "flag", "day", "score", "grade"]
    assert a["count"].dtype == np.int64 and set(a["colour"]) <= {"red", "green", "blue"}


def test_layers_point_down():
    """Models and data know nothing of tables/, training/ or cli/; tables/ reaches training in one place."""
    import re
    from pathlib import Path

    import genlab

    root = Path(genlab.__file__).parent
    for rel in ("models/ctgan.py", "models/tvae.py", "models/tabular.py", "data/tables.py"):
        text = (root / rel).read_text()
        assert not re.search(r"^\s*(from|import) genlab\.(tables|training|cli|anomaly|apps)\b", text, re.M), rel
    uses = {p.name: len(re.findall(r"^\s*(?:from|import) genlab\.training", p.read_text(), re.M))
            for p in (root / "tables").glob("*.py")}
    assert {k: v for k, v in uses.items() if v} == {"synthesizer.py": 1}


def test_grouped_layout_matches_block_by_block():
    import torch.nn.functional as F

    from genlab.models.tabular import Layout, activate, block_slices, softmax_cross_entropy

    spans = [[1, 0], [3, 1], [2, 1], [1, 0], [3, 1], [2, 1]]
    layout = Layout(spans)
    raw = torch.randn(6, 12, generator=torch.Generator().manual_seed(0))
    rows = activate(raw, layout, hard="argmax")
    target = activate(torch.randn(6, 12), layout, hard="argmax")
    ce = 0.0
    for s, e, kind in block_slices(spans):
        if kind == 0:
            assert torch.allclose(rows[:, s:e], torch.tanh(raw[:, s:e]))
        else:
            assert torch.equal(rows[:, s:e].argmax(1), raw[:, s:e].argmax(1)) and torch.equal(rows[:, s:e].sum(1), torch.ones(6))
            ce = ce + F.cross_entropy(raw[:, s:e], target[:, s:e].argmax(1), reduction="sum")
    assert softmax_cross_entropy(raw, target, layout) == pytest.approx(float(ce), rel=1e-5)
    soft = activate(raw, layout, tau=0.2)
    assert torch.allclose(soft[:, 1:4].sum(1), torch.ones(6), atol=1e-5)


def test_values_stay_in_range_unless_told_otherwise(tvae_synth):
    from tables_helpers import mixed_frame

    real = mixed_frame()
    inside = tvae_synth.sample(400, seed=1)
    assert inside["x"].between(real["x"].min(), real["x"].max()).all()
    free = tvae_synth.sample(400, seed=1, clip=False)
    assert (free["x"] < real["x"].min()).any() or (free["x"] > real["x"].max()).any()
