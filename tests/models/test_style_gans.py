"""progan and stylegan: the layers (equalized lr, modulated conv), fade-in, R1, lazy regularization,
truncation, style mixing, exact resume mid-fade and the commands' bad inputs."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from genlab import registry
from genlab.cli import main
from genlab.io import load_state_dict
from genlab.models.base import Batch
from genlab.models.progan import ProDiscriminator, ProGenerator, stage_at
from genlab.models.style_common import widths_for
from genlab.models.stylegan import mix_styles
from genlab.nn.gan_blocks import pack, whole_packs
from genlab.nn.style import EqualizedConv2d, EqualizedLinear, ModulatedConv2d, path_length_penalty, r1_penalty

TINY_STYLE = {"data_shape": [3, 16, 16], "latent_dim": 8, "w_dim": 8, "mapping_layers": 2, "channel_base": 64,
              "channel_max": 8}
PROGAN_FLAGS = ["--latent-dim", "8", "--channel-max", "8", "--fade-images", "48", "--stable-images", "32",
                "--batch-size", "16", "--device", "cpu", "--num-samples", "4", "--log-every", "1", "--seed", "5",
                "--mode-check", "off"]


def test_widths_halve_with_resolution_between_channel_min_and_channel_max():
    assert widths_for(64, 1024, 64) == [64, 64, 64, 32, 16]  # the default: min(channel_max, base / r)
    assert widths_for(64, 256, 64) == [64, 32, 16, 8, 4]
    assert widths_for(64, 256, 64, 16) == [64, 32, 16, 16, 16]  # wide at 4 px, never below 16 channels
    model = registry.build("progan", registry.get("progan").config_class(
        data_shape=(3, 16, 16), latent_dim=8, channel_base=32, channel_max=16, channel_min=6))
    assert [m.in_channels for m in model.generator.to_rgb] == [8, 6, 6]  # 32 / 4 = 8, then 4 and 2 raised to 6
    assert [m.out_channels for m in model.discriminator.from_rgb] == [8, 6, 6]
    style = registry.build("stylegan", registry.get("stylegan").config_class(
        **{**TINY_STYLE, "channel_base": 32, "channel_max": 16, "channel_min": 6}))
    assert style.generator.synthesis.const.shape[0] == 8 and style.discriminator.from_rgb.out_channels == 6


def test_equalized_layers_store_unit_weights_and_scale_at_run_time():
    torch.manual_seed(0)
    lin, conv = EqualizedLinear(400, 300), EqualizedConv2d(64, 32, 3)
    assert abs(float(lin.weight.detach().std()) - 1) < 0.02 and abs(float(conv.weight.detach().std()) - 1) < 0.02
    # the effective weights have He's std sqrt(2 / fan_in), applied at run time (not baked into the parameters)
    assert math.isclose(lin.scale, math.sqrt(2 / 400)) and math.isclose(conv.scale, math.sqrt(2 / (64 * 9)))
    x = torch.randn(5, 400)
    assert torch.allclose(lin(x), x @ (lin.weight * math.sqrt(2 / 400)).t() + lin.bias, atol=1e-5)
    img = torch.randn(2, 64, 6, 6)
    assert torch.allclose(conv(img), F.conv2d(img, conv.weight * math.sqrt(2 / 576), conv.bias, padding=1), atol=1e-5)
    slow = EqualizedLinear(10, 10, lr_mul=0.01)
    assert abs(float(slow.weight.detach().std()) * 0.01 - 1) < 0.3  # stored as N(0, 1) / lr_mul: same effective weights


@pytest.mark.parametrize("demodulate,upsample", [(True, False), (False, False), (True, True)])
def test_modulated_conv_matches_a_per_sample_convolution(demodulate, upsample):
    torch.manual_seed(1)
    layer = ModulatedConv2d(4, 5, 3, style_dim=6, demodulate=demodulate, upsample=upsample)
    x, w = torch.randn(3, 4, 5, 5), torch.randn(3, 6)
    out = layer(x, w)
    s = layer.affine(w)  # (B, I)
    for b in range(3):
        weight = layer.conv.weight * layer.conv.scale * s[b][None, :, None, None]  # direct: w'_oik = s_i w_oik
        if demodulate:
            weight = weight / (weight.pow(2).sum(dim=(1, 2, 3), keepdim=True) + 1e-8).sqrt()
        xb = F.interpolate(x[b:b + 1], scale_factor=2, mode="bilinear") if upsample else x[b:b + 1]
        assert torch.allclose(out[b:b + 1], F.conv2d(xb, weight, padding=1), atol=1e-5)
        assert torch.allclose(layer.sample_weights(w)[b], weight, atol=1e-6)
    if demodulate:  # each output channel's weights have unit norm per sample
        norms = layer.sample_weights(w).pow(2).sum(dim=(2, 3, 4))
        assert torch.allclose(norms, torch.ones_like(norms), atol=1e-4)


def test_progan_fade_in_at_alpha_0_and_1():
    torch.manual_seed(2)
    g, d = ProGenerator(8, 3, [8, 8, 4]), ProDiscriminator(3, [8, 8, 4], group=2)
    z = torch.randn(4, 8)
    for k in (1, 2):
        prev = F.interpolate(g(z, k - 1, 1.0), scale_factor=2, mode="nearest")
        assert torch.allclose(g(z, k, 0.0), prev, atol=1e-6)  # the previous stage, upsampled
        assert torch.allclose(g(z, k, 1.0), g.to_rgb[k](g.features(z, k)[k]), atol=1e-6)  # the new block alone
        mid = g(z, k, 0.25)
        assert torch.allclose(mid, 0.75 * prev + 0.25 * g(z, k, 1.0), atol=1e-5)
        x = torch.randn(4, 3, 4 << k, 4 << k)
        assert torch.allclose(d(x, k, 0.0), d(F.avg_pool2d(x, 2), k - 1, 1.0), atol=1e-5)
    # the schedule: stage 0 for 32 images, then fade 48 + stable 32 per stage, the last one forever
    assert stage_at(0, 3, 48, 32) == (0, 1.0) and stage_at(32, 3, 48, 32) == (1, 0.0)
    assert stage_at(56, 3, 48, 32) == (1, 0.5) and stage_at(80, 3, 48, 32) == (1, 1.0)
    assert stage_at(112, 3, 48, 32) == (2, 0.0) and stage_at(10 ** 6, 3, 48, 32) == (2, 1.0)
    # phase_scaling 1: each lower resolution's phases twice as long (stage 0: 128, stage 1: fade 96 + stable 64)
    assert stage_at(112, 3, 48, 32, 0.0) == stage_at(112, 3, 48, 32)
    assert stage_at(127, 3, 48, 32, 1.0) == (0, 1.0) and stage_at(128, 3, 48, 32, 1.0) == (1, 0.0)
    assert stage_at(176, 3, 48, 32, 1.0) == (1, 0.5) and stage_at(287, 3, 48, 32, 1.0) == (1, 1.0)
    assert stage_at(288, 3, 48, 32, 1.0) == (2, 0.0) and stage_at(312, 3, 48, 32, 1.0) == (2, 0.5)
    assert stage_at(10 ** 6, 3, 48, 32, 1.0) == (2, 1.0)


def test_progan_pac_scores_packs_of_images_stacked_on_channels(tmp_path):
    """pac > 1 (PacGAN): consecutive images side by side on the channel axis, one score per pack that no
    other pack moves; channels-last stays; batches are cut (or a leftover repeated) to whole packs; the
    fade-in rule holds for packs; progan trains with --pac from the CLI."""
    x = torch.randn(6, 3, 4, 4)
    packed = pack(x, 2)
    assert packed.shape == (3, 6, 4, 4)
    assert torch.equal(packed[1], torch.cat([x[2], x[3]]))
    cl = pack(x.contiguous(memory_format=torch.channels_last), 3)
    assert cl.is_contiguous(memory_format=torch.channels_last) and torch.equal(cl, pack(x, 3))
    assert pack(x, 1) is x
    with pytest.raises(ValueError, match="packs of 4"):
        pack(x, 4)
    assert whole_packs(x, 4).shape[0] == 4 and torch.equal(whole_packs(x, 4), x[:4])
    assert torch.equal(whole_packs(x[:1], 3), x[:1].repeat(3, 1, 1, 1))
    torch.manual_seed(4)
    d = ProDiscriminator(3, [8, 8, 4], group=1, pac=2)  # group 1: no minibatch-std coupling between packs
    images = torch.randn(4, 3, 16, 16)
    scores = d(images, 2)
    assert scores.shape == (2,)
    moved = images.clone()
    moved[3] += 1.0
    after = d(moved, 2)
    assert torch.equal(after[0], scores[0]) and not torch.allclose(after[1], scores[1])
    assert torch.allclose(d(images, 2, 0.0), d(F.avg_pool2d(images, 2), 1, 1.0), atol=1e-5)
    run = tmp_path / "pac"
    assert main(["train", "progan", "--dataset", "digits", "--steps", "3", "--out", str(run),
                 *PROGAN_FLAGS, "--pac", "4"]) == 0
    cfg = json.loads((run / "model_config.json").read_text())
    assert cfg["config"]["pac"] == 4
    model = registry.get("progan").model_class(registry.get("progan").config_class(
        data_shape=(3, 16, 16), latent_dim=8, channel_max=8, pac=4))
    out = model(Batch(torch.rand(6, 3, 16, 16)), "discriminator")  # 6 -> one pack of 4
    assert torch.isfinite(out["loss"]) and model.counted("images_seen") == 0
    model.after_step("discriminator")
    assert model.counted("images_seen") == 4


def test_r1_penalty_matches_autograd_on_a_tiny_net():
    torch.manual_seed(3)
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 5), torch.nn.Tanh(), torch.nn.Linear(5, 1))
    x = torch.randn(4, 3, 2, 2)
    got = r1_penalty(lambda v: net(v).squeeze(1), x)
    norms = []
    for i in range(4):
        jac = torch.autograd.functional.jacobian(lambda v: net(v.unsqueeze(0)).sum(), x[i])
        norms.append(jac.pow(2).sum())
    assert torch.allclose(got, torch.stack(norms).mean(), rtol=1e-5)
    got.backward()  # the penalty trains the network: it is in the graph
    assert net[1].weight.grad is not None and net[1].weight.grad.abs().sum() > 0


def test_path_length_penalty_tracks_its_mean():
    torch.manual_seed(4)
    a = torch.randn(3, 2 * 2 * 2)

    def synth(ws):  # linear in ws: the lengths are fixed by a
        return (ws.sum(1) @ a).view(-1, 2, 2, 2)

    penalty, length, new_mean = path_length_penalty(synth, torch.randn(5, 4, 3), torch.tensor(0.0), decay=0.5)
    assert float(new_mean) == pytest.approx(0.5 * float(length)) and float(penalty) > 0


def _stylegan(**extra):
    torch.manual_seed(0)
    return registry.build("stylegan", {**TINY_STYLE, **extra})


def test_lazy_r1_runs_every_k_steps_scaled_by_k():
    model = _stylegan(r1_every=3, r1_gamma=2.0)
    batch = Batch(torch.rand(4, 3, 16, 16))
    seen = []
    for step in range(7):
        model.load_state_dict({**model.state_dict(), "d_updates": torch.tensor(step)})  # as a checkpoint sets it
        torch.manual_seed(10)
        with_reg = model(batch, "discriminator")
        seen.append("r1" in with_reg)
        if "r1" in with_reg:
            torch.manual_seed(10)
            plain = model.discriminator_losses(batch.x * 2 - 1, regularize=False)["loss"]
            # gamma / 2 * k * R1, with k = 3
            assert torch.allclose(with_reg["loss"] - plain, 2.0 / 2 * 3 * with_reg["r1"], rtol=1e-4)
    assert seen == [True, False, False, True, False, False, True]
    # the optimizer is corrected for the lazy schedule (StyleGAN2, appendix B): lr * k / (k + 1), betas ** (k / (k + 1))
    opt = model.phases()[0].optimizer
    assert opt is not None and opt.lr == pytest.approx(2e-3 * 3 / 4) and opt.betas[1] == pytest.approx(0.99 ** 0.75)
    pl = _stylegan(pl_weight=2.0, pl_every=2)
    logs = [("path_length" in pl(batch, "generator"), pl.after_step("generator"))[0] for _ in range(4)]
    assert logs == [True, False, True, False] and float(pl.pl_mean) > 0


def test_progan_non_saturating_loss_has_lazy_r1_and_no_drift(tmp_path, capsys):
    """loss='non_saturating': the logistic pair, R1 on the stage's reals every r1_every rounds scaled by
    gamma / 2 * r1_every, no gradient penalty or drift; trains from the CLI; a bad name is one line."""
    cfg = registry.get("progan").config_class(data_shape=(3, 16, 16), latent_dim=8, channel_max=8,
                                              loss="non_saturating", r1_gamma=2.0, r1_every=3)
    model = registry.get("progan").model_class(cfg)
    x = torch.rand(4, 3, 16, 16)
    seen = []
    for rounds in range(7):
        model.load_state_dict({**model.state_dict(), "g_updates": torch.tensor(rounds)})  # as a checkpoint sets it
        torch.manual_seed(3)
        out = model(Batch(x), "discriminator")
        seen.append("r1" in out)
        assert "drift" not in out and "gradient_penalty" not in out
        torch.manual_seed(3)
        plain = model.discriminator_losses(x * 2 - 1, torch.randn(4, 8), penalty=False)
        torch.manual_seed(3)
        z = torch.randn(4, 8)
        k, alpha = model.current_stage()
        with torch.no_grad():
            fake = model.generator(z, k, alpha)
        d_real = model.discriminator(F.adaptive_avg_pool2d(x * 2 - 1, 4), k, alpha)
        ns = F.softplus(-d_real).mean() + F.softplus(model.discriminator(fake, k, alpha)).mean()
        assert torch.allclose(plain["loss"], ns, atol=1e-5)
        if "r1" in out:  # gamma / 2 * k * R1, with k = 3
            assert torch.allclose(out["loss"] - ns, 2.0 / 2 * 3 * out["r1"], rtol=1e-4)
        else:
            assert torch.allclose(out["loss"], ns, atol=1e-5)
    assert seen == [True, False, False, True, False, False, True]
    run = tmp_path / "ns"
    assert main(["train", "progan", "--dataset", "digits", "--steps", "3", "--out", str(run), *PROGAN_FLAGS,
                 "--loss", "non_saturating", "--r1-every", "2"]) == 0
    logged = [r for r in _records(run) if r["split"] == "train"]
    assert logged and all("drift" not in k for r in logged for k in r)
    capsys.readouterr()
    assert main(["train", "progan", "--dataset", "digits", "--steps", "1", "--out", str(tmp_path / "bad"),
                 "--loss", "hinge"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("genlab: error:") and "non_saturating" in err[0]


def test_truncation_0_gives_the_w_average_image_and_bad_values_are_refused():
    model = _stylegan().eval()
    with torch.no_grad():
        model.sampling_generator.mapping.w_avg.copy_(torch.randn(8))
    images = model.sample(5, truncation=0.0, noise="fixed")
    assert torch.allclose(images, model.synthesize(model.sampling_generator.mapping.w_avg[None], "fixed").expand(5, -1, -1, -1),
                          atol=1e-6)
    assert not torch.allclose(model.sample(2, truncation=1.0, noise="fixed")[0], images[0])
    w = model.mapping(torch.randn(3, 8), truncation=0.5)
    assert w.shape == (3, 8)
    for bad in (-0.1, 1.5, float("nan")):
        with pytest.raises(Exception, match="truncation must be in"):
            model.sample(2, truncation=bad)
    with pytest.raises(Exception, match="--noise must be one of"):
        model.sample(2, noise="loud")
    # fixed noise: the same image for the same w; random noise: not
    torch.manual_seed(1)
    a = model.sample(2, noise="fixed")
    torch.manual_seed(1)
    assert torch.equal(a, model.sample(2, noise="fixed"))


def test_style_mixing_swaps_w_at_the_crossover_layer():
    w1, w2 = torch.randn(2, 8), torch.randn(2, 8)
    ws = mix_styles(w1, w2, 3, 6)
    assert torch.equal(ws[:, :3], w1[:, None].expand(-1, 3, -1)) and torch.equal(ws[:, 3:], w2[:, None].expand(-1, 3, -1))
    assert torch.equal(mix_styles(w1, w2, 6, 6), w1[:, None].expand(-1, 6, -1))  # no crossover
    model = _stylegan(style_mixing=1.0)
    torch.manual_seed(5)
    ws = model._styles(3, torch.device("cpu"))  # always mixed: two distinct w's split at one layer in 1..L-1
    changes = [i for i in range(1, model.num_ws) if not torch.equal(ws[:, i], ws[:, i - 1])]
    assert len(changes) == 1 and 1 <= changes[0] < model.num_ws
    assert _stylegan(style_mixing=0.0)._styles(2, torch.device("cpu")).unique(dim=1).shape[1] == 1
    grid, titles = model.eval().style_mix(rows=2, cols=3)
    # 16 px: 6 layers, coarse 0-3 (4-8 px) and middle 4-5 (16 px); rows of (source + 3 columns)
    assert grid.shape == (4 * (1 + 2 * 2), 3, 16, 16) and titles == ["sources", "coarse", "coarse", "middle", "middle"]


def _records(run):
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def test_progan_resume_mid_fade_equals_a_straight_run(tmp_path, capsys):
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    assert main(["train", "progan", "--dataset", "digits", "--steps", "4", "--out", str(straight), *PROGAN_FLAGS]) == 0
    assert main(["train", "progan", "--dataset", "digits", "--steps", "3", "--out", str(resumed), *PROGAN_FLAGS]) == 0
    state = load_state_dict(resumed / "model.safetensors")
    assert int(state["stage"]) == 1 and 0 < float(state["alpha"]) < 1  # stopped mid-fade: 48 images, alpha 1/3
    assert main(["train", "--resume", str(resumed), "--steps", "4"]) == 0
    a, b = load_state_dict(straight / "model.safetensors"), load_state_dict(resumed / "model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    stages = [r for r in _records(straight) if r["split"] == "stage"]
    assert [(r["step"], r["resolution"], r["phase"]) for r in stages] == [(1, 4, "stable"), (2, 8, "fade")]
    assert [r for r in _records(resumed) if r["split"] == "stage"] == stages
    capsys.readouterr()
    # sampling an intermediate stage; a stage the run has not reached is refused
    assert main(["sample", str(straight), "--stage", "0", "--n", "4", "--out", str(tmp_path / "s0.png")]) == 0
    capsys.readouterr()
    assert main(["sample", str(straight), "--stage", "3", "--out", str(tmp_path / "s3.png")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--stage 3 is not available: this progan has reached stage 1" in err[0]
    # a checkpoint whose stage the config's schedule does not give: one line
    cfg_path = resumed / "config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["model"]["config"]["stable_images"] = 1000
    cfg_path.write_text(json.dumps(cfg))
    assert main(["train", "--resume", str(resumed), "--steps", "5"]) == 2
    err = [line for line in capsys.readouterr().err.strip().splitlines() if "note:" not in line]
    assert len(err) == 1 and "progan stage 1" in err[0] and "schedule" in err[0]


@pytest.mark.parametrize("argv,words", [
    (["train", "progan", "--dataset", "digits", "--image-size", "12"], "power-of-two side"),
    (["train", "stylegan", "--dataset", "digits", "--image-size", "12"], "power-of-two side"),
    (["train", "stylegan", "--dataset", "digits", "--style-mixing", "1.5"], "style_mixing"),
    (["train", "progan", "--dataset", "digits", "--image-size", "16", "--channel-min", "32", "--channel-max", "16"],
     "channel_min (32) must not exceed channel_max (16)"),
    (["train", "progan", "--dataset", "digits", "--image-size", "16", "--pac", "0"], "pac must be in [1, 64], got 0"),
])
def test_bad_inputs_are_one_line(argv, words, tmp_path, capsys):
    assert main([*argv, "--steps", "1", "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("genlab: error:") and words in err[0]


def test_stylegan_commands(tmp_path, capsys):
    run = tmp_path / "sg"
    flags = ["--latent-dim", "8", "--w-dim", "8", "--mapping-layers", "2", "--channel-max", "8"]
    assert main(["train", "stylegan", "--dataset", "digits", "--image-size", "16", "--steps", "2", "--batch-size", "8",
                 "--num-samples", "4", "--out", str(run), *flags]) == 0
    assert main(["sample", str(run), "--truncation", "0.7", "--n", "4", "--out", str(tmp_path / "t.png")]) == 0
    assert main(["style-mix", str(run), "--rows", "1", "--cols", "2", "--out", str(tmp_path / "m.png")]) == 0
    assert main(["interpolate", str(run), "--steps", "3", "--out", str(tmp_path / "i.png")]) == 0
    assert all((tmp_path / f).is_file() for f in ("t.png", "m.png", "i.png"))
    capsys.readouterr()
    for argv, words in [(["sample", str(run), "--truncation", "1.2"], "--truncation must be in [0, 1]"),
                        (["sample", str(run), "--stage", "1"], "does not take --stage")]:
        assert main([*argv, "--out", str(tmp_path / "x.png")]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and words in err[0], err


def test_progan_saves_a_sample_grid_per_stage(tmp_path):
    """The run layer's grid callback draws each stage when it ends (at its own resolution) and the
    current one with the final grid; models without stages write no stage grids."""
    from PIL import Image

    from genlab import load
    from genlab.io import save_image_grid

    run = tmp_path / "pg"  # 32 images at stage 0 = 2 steps of 16, then stage 1 (8 px) fades in
    assert main(["train", "progan", "--dataset", "digits", "--steps", "3", "--out", str(run), *PROGAN_FLAGS]) == 0
    stages = run / "samples" / "stages"
    assert sorted(p.name for p in stages.iterdir()) == ["stage0_4px.png", "stage1_8px.png"]
    for name, side in [("stage0_4px.png", 4), ("stage1_8px.png", 8)]:  # 4 images at the stage's own size
        save_image_grid(torch.zeros(4, 1, side, side), tmp_path / f"ref{side}.png")
        assert Image.open(stages / name).size == Image.open(tmp_path / f"ref{side}.png").size
    # the current stage's grid is the run's final model at that stage, from the grid seed (--seed 5 + 4242)
    model = load(run).eval()
    torch.manual_seed(5 + 4242)
    images, nrow = model.sample_grid(4, stage=1)
    save_image_grid(images, tmp_path / "expected.png", nrow=nrow)
    expected = torch.from_numpy(np.asarray(Image.open(tmp_path / "expected.png")).copy())
    assert torch.equal(torch.from_numpy(np.asarray(Image.open(stages / "stage1_8px.png")).copy()), expected)
    assert registry.build("stylegan", TINY_STYLE).sampling_stage() is None
