"""Clips: Moving MNIST's construction, video folders, the clip models' contract, sampling, frame prediction,
the clip FD's extractor, exact resume and torchrun."""
import dataclasses
import json
import os
import sys

import numpy as np
import pytest
import torch
from PIL import Image

import genlab
from genlab import registry
from genlab.cli import main
from genlab.config import DataConfig
from genlab.data import load_splits
from genlab.data.base import ArrayDataset, Splits
from genlab.data.video import (
    CANVAS,
    DIGIT,
    QUADRANTS,
    SPEED,
    direction_quadrant,
    moving_mnist_split,
    render,
    trajectories,
)
from genlab.errors import GenlabError
from genlab.metrics import features
from genlab.models.base import Batch, GenerativeModel

CLIP_MODELS = [n for n in registry.names() if registry.get(n).model_class.data_kinds == ("clips",)]
SHAPE = (4, 1, 16, 16)
SMALL = {"video-vae": {"conv_widths": [4], "frame_features": 8, "hidden_size": 8, "latent_dim": 4},
         "video-gan": {"g_widths": [4, 4], "d_widths": [4], "v_widths": [4], "content_dim": 3, "motion_dim": 2,
                       "motion_noise": 2},
         "video-ddpm": {"width": 4, "width_mults": [1, 2], "groups": 2, "heads": 1, "diffusion_steps": 6,
                        "sample_steps": 3}}


def _build(name):
    torch.manual_seed(0)
    return registry.build(name, {"data_shape": list(SHAPE), **SMALL[name]})


def _batch(n=4):
    return Batch(torch.rand(n, *SHAPE).round(), None)


def test_every_clip_model_is_covered():
    assert set(CLIP_MODELS) == {"video-vae", "video-gan", "video-ddpm"}


# ---------------------------------------------------------------------------- Moving MNIST

def test_digits_bounce_off_the_walls_and_stay_in_the_frame():
    corners = trajectories(np.random.default_rng(3), 200, digits=2)
    limit = CANVAS - DIGIT
    assert corners.min() >= 0 and corners.max() <= limit
    # the same draws as trajectories(): start and velocity; without walls the digit would move on a line
    rng = np.random.default_rng(3)
    start, angle = rng.uniform(0, limit, size=(2, 2)), rng.uniform(0, 2 * np.pi, size=2)
    velocity = SPEED * np.stack([np.sin(angle), np.cos(angle)], axis=1)
    free = start[:, None] + np.arange(200)[None, :, None] * velocity[:, None]  # (2, T, 2)
    folded = np.mod(free, 2 * limit)
    folded = np.where(folded <= limit, folded, 2 * limit - folded)  # a wall reflects the line back in
    assert np.allclose(corners, folded, atol=1e-6)
    assert (free < 0).any() or (free > limit).any(), "200 frames must hit a wall"


def test_render_pastes_whole_digits_inside_the_canvas():
    digit = np.full((1, DIGIT, DIGIT), 200, dtype=np.uint8)
    corners = trajectories(np.random.default_rng(0), 30, digits=1)
    clip = render(digit, corners)
    assert clip.shape == (30, CANVAS, CANVAS)
    assert ((clip > 0).reshape(30, -1).sum(1) == DIGIT * DIGIT).all()  # the whole digit in every frame


def test_moving_mnist_splits_use_disjoint_source_digits():
    digits = np.arange(50, dtype=np.uint8)[:, None, None].repeat(DIGIT, 1).repeat(DIGIT, 2)
    labels = np.arange(50) % 10
    clips, y, sources = moving_mnist_split(digits, labels, 5, 6, split_seed=0)
    assert clips.shape == (5, 6, CANVAS, CANVAS) and (y == labels[sources[:, 0]]).all()
    again, _, sources2 = moving_mnist_split(digits, labels, 3, 6, split_seed=0)
    assert np.array_equal(again, clips[:3]) and np.array_equal(sources2, sources[:3])  # a prefix is the same clips


def test_moving_mnist_loads_clips_built_from_mnist_s_own_splits(monkeypatch):
    from genlab.data import video

    seen = []
    original = video.moving_mnist_split
    monkeypatch.setattr(video, "_read_cache", lambda path: None)  # build, do not read a cached file
    monkeypatch.setattr(video, "_write_cache", lambda path, arrays: None)
    monkeypatch.setattr(video, "moving_mnist_split",
                        lambda digits, labels, *a, **k: seen.append(len(digits)) or original(digits, labels, *a, **k))
    splits = load_splits(DataConfig(dataset="moving-mnist", image_size=32, clip_length=5, limit=6))
    assert splits.train.x.shape == (6, 5, 1, 32, 32) and splits.train.x.dtype == torch.uint8
    assert splits.test.x.shape[1:] == (5, 1, 32, 32) and splits.train.y is not None
    assert seen == [50_000, 10_000, 10_000]  # train / validation / test clips from MNIST's own splits


# ---------------------------------------------------------------------------- the contract on clips

@pytest.mark.parametrize("name", CLIP_MODELS)
def test_clip_models_train_sample_and_round_trip(name, tmp_path):
    model = _build(name)
    for phase in model.phases():
        params = {id(p) for p in model.phase_parameters(phase)}
        assert params
        model.zero_grad(set_to_none=True)
        losses = model(_batch(), phase.name)
        assert losses["loss"].dim() == 0 and torch.isfinite(losses["loss"])
        losses["loss"].backward()
        assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.phase_parameters(phase))
    model.eval()
    clips = model.sample(3)
    assert clips.shape == (3, *SHAPE) and clips.min() >= 0 and clips.max() <= 1
    model.save(tmp_path)
    loaded = GenerativeModel.load(tmp_path).eval()
    torch.manual_seed(1)
    a = model.sample(2)
    torch.manual_seed(1)
    assert torch.equal(a, loaded.sample(2))


def test_video_gan_keeps_the_content_code_and_moves_the_motion_code():
    model = _build("video-gan").eval()
    codes = model.codes(3)  # (3, T, content + motion)
    content, motion = codes[..., :3], codes[..., 3:]
    assert torch.equal(content, content[:, :1].expand_as(content))
    assert (motion[:, 1:] - motion[:, :-1]).abs().amax(dim=-1).min() > 0
    assert not torch.equal(content[0], content[1])


def test_video_vae_kl_warmup_weighs_the_kl_from_zero_to_beta():
    torch.manual_seed(0)
    model = registry.build("video-vae", {"data_shape": list(SHAPE), **SMALL["video-vae"], "prefix_prob": 0.0,
                                         "kl_warmup_steps": 4, "beta": 2.0})
    batch = _batch()

    def losses():
        torch.manual_seed(1)
        return model(batch)

    first = losses()
    assert torch.allclose(first["loss"], first["rec"]) and first["kl"] > 0  # weight 0 at step 0
    for _ in range(2):
        model.after_step("model")
    half = losses()
    assert torch.allclose(half["loss"], half["rec"] + half["kl"])  # 2 / 4 of beta 2
    for _ in range(4):
        model.after_step("model")
    full = losses()
    assert torch.allclose(full["loss"], full["rec"] + 2 * full["kl"])  # beta after the warm-up


def _vae(**fields):
    torch.manual_seed(0)
    return registry.build("video-vae", {"data_shape": list(SHAPE), **SMALL["video-vae"], **fields})


def test_the_kl_of_two_diagonal_gaussians_matches_a_hand_computation():
    from genlab.models.video import gaussian_kl_between

    # q = N(1, 0.5), p = N(0, 2) in dim 0: 0.5 * (ln(2 / 0.5) + (0.5 + 1) / 2 - 1) = 0.568147...; q = p in dim 1
    mu_q, var_q = torch.tensor([1.0, 0.3]), torch.tensor([0.5, 1.5])
    mu_p, var_p = torch.tensor([0.0, 0.3]), torch.tensor([2.0, 1.5])
    kl = gaussian_kl_between(mu_q, var_q.log(), mu_p, var_p.log())
    assert kl.shape == () and abs(float(kl) - 0.5681472) < 1e-6


@pytest.mark.parametrize("static_dim", [0, 3])
def test_per_frame_video_vae_has_a_latent_per_frame_and_a_kl_per_frame(static_dim):
    model = _vae(static_dim=static_dim, prefix_prob=0.0)
    assert model.config.latent == "per-frame"  # the default
    x = _batch(3).x
    torch.manual_seed(5)
    terms = model.frame_terms(x)
    for key in ("z", "mu_q", "logvar_q", "mu_p", "logvar_p"):
        assert terms[key].shape == (3, SHAPE[0], 4), key  # (B, T, latent_dim)
    assert terms["s"].shape == (3, static_dim) and terms["kl"].shape == (3, SHAPE[0])
    # each frame's KL is KL(q(z_t | x_t, h_{t-1}) || p(z_t | h_{t-1})), computed independently here
    q = torch.distributions.Normal(terms["mu_q"], (0.5 * terms["logvar_q"]).exp())
    p = torch.distributions.Normal(terms["mu_p"], (0.5 * terms["logvar_p"]).exp())
    assert torch.allclose(terms["kl"], torch.distributions.kl_divergence(q, p).sum(-1), atol=1e-5)
    assert not torch.allclose(terms["mu_p"][:, 1], terms["mu_p"][:, 0])  # the prior moves with z_<t
    torch.manual_seed(5)
    losses = model(Batch(x, None))  # the loss's KL: the frames' KLs summed over time (+ the static code's)
    assert torch.allclose(losses["kl"], (terms["kl"].sum(1) + terms["kl_static"]).mean())
    assert (terms["kl_static"] > 0).all() if static_dim else (terms["kl_static"] == 0).all()
    assert model.noise_shape() == (static_dim + SHAPE[0] * 4,)
    assert model.encode(x).shape == (3, static_dim + SHAPE[0] * 4)
    assert model.decode(model.encode(x)).shape == x.shape


def test_per_frame_video_vae_runs_its_prior_for_any_number_of_frames():
    model = _vae(static_dim=2).eval()
    with torch.no_grad():
        long = model.rollout(torch.randn(2, 2 + 7 * 4), length=7)
        assert long.shape == (2, 7, *SHAPE[1:])
        torch.manual_seed(3)
        noise = torch.randn(2, *model.noise_shape())
        clips = model.sample_from_noise(noise)
        # the first T frames of a longer roll-out of the same noise are the clip
        assert torch.allclose(torch.sigmoid(model.rollout(torch.cat([noise, torch.randn(2, 4)], 1), 5))[:, :4], clips,
                              atol=1e-6)
    assert clips.shape == (2, *SHAPE) and clips.min() >= 0 and clips.max() <= 1


@pytest.mark.parametrize("fields", [{"latent": "per-frame", "static_dim": 2}, {"latent": "per-clip"}])
def test_frame_prediction_reads_only_the_given_frames(fields):
    model = _vae(**fields).eval()
    x = _batch(2).x
    other = x.clone()
    other[:, 2:] = 1 - other[:, 2:]  # a different future
    out = model.predict_frames(x, 2)
    assert torch.equal(out[:, :2], x[:, :2]) and torch.equal(out, model.predict_frames(other, 2))
    assert not torch.equal(out, model.predict_frames(other[:, [1, 0, 2, 3]], 2))  # the given frames matter


@pytest.mark.parametrize("fields", [{"static_dim": 2}, {"latent": "per-clip"}])
def test_both_video_vae_designs_train_and_round_trip(fields, tmp_path):
    model = _vae(**fields)
    model(_batch())["loss"].backward()
    assert all(p.grad is not None for p in model.parameters())  # every part of the design is used
    model.save(tmp_path)
    loaded = GenerativeModel.load(tmp_path).eval()
    assert loaded.config == model.eval().config
    torch.manual_seed(1)
    a = model.sample(2)
    torch.manual_seed(1)
    assert torch.equal(a, loaded.sample(2))


def test_a_per_clip_video_vae_run_saved_before_format_4_loads_as_per_clip():
    from pathlib import Path

    from genlab import formats

    fixtures = Path(__file__).parent.parent / "fixtures" / "format3"
    run = fixtures / "video-vae-run"
    assert json.loads((run / "model_config.json").read_text())["format"] == 3 < formats.FORMAT
    model = genlab.load(run).eval()
    assert model.config.latent == "per-clip" and model.config.static_dim == 0
    ref = json.loads((fixtures / "video-vae-run-outputs.json").read_text())
    noise = torch.tensor(ref["noise"]).reshape(1, 3)
    with torch.no_grad():
        assert torch.allclose(model.sample_from_noise(noise).flatten(), torch.tensor(ref["sample_from_noise"]),
                              atol=1e-5)
    clip = torch.tensor(ref["clip"], dtype=torch.float).reshape(1, 4, 1, 16, 16)
    assert torch.allclose(model.predict_frames(clip, 2).flatten(), torch.tensor(ref["predict_frames_2"]), atol=1e-5)
    from genlab.runs.run import read_run_config

    assert read_run_config(run)["model"]["config"]["latent"] == "per-clip"  # the run's config.json too


def test_a_video_gan_run_saved_before_format_4_keeps_its_tanh_output():
    from pathlib import Path

    fixtures = Path(__file__).parent.parent / "fixtures" / "format3"
    model = genlab.load(fixtures / "video-gan-run").eval()
    assert model.config.output == "tanh"
    # and, through format 5, the rest of what it was trained as (the defaults of format 4)
    assert (model.config.image_norm, model.config.image_batch, model.config.motion_init, model.config.image_frames) \
        == ("none", 0, "zero", 1)
    ref = json.loads((fixtures / "video-gan-run-outputs.json").read_text())
    noise = torch.tensor(ref["noise"]).reshape(1, *model.noise_shape())
    with torch.no_grad():
        assert torch.allclose(model.sample_from_noise(noise).flatten(), torch.tensor(ref["sample_from_noise"]),
                              atol=1e-5)


def test_a_video_gan_run_saved_in_format_4_keeps_its_settings_and_samples_the_same():
    from pathlib import Path

    from genlab import formats
    from genlab.runs.run import read_run_config

    fixtures = Path(__file__).parent.parent / "fixtures" / "format4"
    run = fixtures / "video-gan-run"
    assert json.loads((run / "model_config.json").read_text())["format"] == 4 < formats.FORMAT
    model = genlab.load(run).eval()
    cfg = model.config
    assert (cfg.output, cfg.image_norm, cfg.image_batch, cfg.motion_init, cfg.gan_lr) == ("linear", "none", 0, "zero",
                                                                                          2e-4)
    assert read_run_config(run)["model"]["config"]["image_batch"] == 0  # the run's config.json too
    ref = json.loads((fixtures / "video-gan-run-outputs.json").read_text())
    noise = torch.tensor(ref["noise"]).reshape(1, *model.noise_shape())  # no initial motion state in the noise
    with torch.no_grad():
        assert torch.allclose(model.sample_from_noise(noise).flatten(), torch.tensor(ref["sample_from_noise"]),
                              atol=1e-6)
    # a format-4 config without image_norm (written before it existed) meant no normalization
    migrated = formats.read_saved(formats.MODEL_CONFIG, {"format": 4, "genlab": "0.2.0.dev0", "model": "video-gan",
                                                         "config": {"d_widths": [4, 4], "output": "linear"}}, run)
    assert migrated.body["config"]["image_norm"] == "none" and migrated.body["config"]["d_widths"] == [4, 4]
    other = formats.read_saved(formats.MODEL_CONFIG, {"format": 4, "genlab": "0.2.0.dev0", "model": "dcgan",
                                                      "config": {}}, run)
    assert other.body["config"] == {}  # other models' configs are left alone


def test_a_video_gan_run_saved_in_format_5_loads_with_the_neutral_session_9_options_and_samples_the_same():
    from pathlib import Path

    fixtures = Path(__file__).parent.parent / "fixtures" / "format5"
    run = fixtures / "video-gan-run"
    saved = json.loads((run / "model_config.json").read_text())
    assert saved["format"] == 5 and "motion_step" not in saved["config"]  # written before the options existed
    model = genlab.load(run).eval()
    cfg = model.config
    assert (cfg.motion_step, cfg.motion_norm, cfg.video_noise, cfg.video_lr) == (0.0, "none", 0.0, 0.0)
    assert (cfg.image_batch, cfg.motion_init, cfg.output) == (64, "noise", "tanh")
    assert [p.name for p in model.phases()] == ["discriminator", "generator"]
    ref = json.loads((fixtures / "video-gan-run-outputs.json").read_text())
    noise = torch.tensor(ref["noise"]).reshape(1, *model.noise_shape())
    with torch.no_grad():
        assert torch.allclose(model.sample_from_noise(noise).flatten(), torch.tensor(ref["sample_from_noise"]),
                              atol=1e-6)


def test_video_gan_defaults_are_mocogan_s_image_batch_and_dcgan_s_frames():
    """Pinned (format 5; format 4's in brackets): a separate image batch of 64 frames (0: one frame of each
    generated clip), a random initial motion state ('zero'), batch norm in the image discriminator ('none'),
    a tanh output ('linear'), lr 4e-4 (2e-4)."""
    from genlab.models.video import VideoGANConfig

    cfg = VideoGANConfig()
    assert (cfg.image_batch, cfg.motion_init, cfg.image_norm, cfg.output, cfg.gan_lr) == (64, "noise", "batch", "tanh",
                                                                                          4e-4)
    assert (cfg.image_frames, cfg.video_weight, cfg.video_ramp, cfg.video_norm, cfg.video_input) == (1, 1.0, 0, "none",
                                                                                                   "frames")
    # session 9's options are neutral by default: the GRU state is the motion code, one discriminator phase
    assert (cfg.motion_step, cfg.motion_norm, cfg.video_noise, cfg.video_lr) == (0.0, "none", 0.0, 0.0)


def test_a_linear_output_video_gan_draws_clips_in_range_from_unbounded_frames():
    model = _gan(output="linear").eval()
    with torch.no_grad():
        model.generator.layers[-2].bias.fill_(5.0)  # push the raw output far above 1
        assert model.generate(2).max() > 1
        clips = model.sample(2)
    assert clips.min() >= 0 and clips.max() <= 1 and (clips == 1).any()


def test_the_video_gan_image_discriminator_judges_image_frames_distinct_frames_per_clip():
    model = registry.build("video-gan", {"data_shape": list(SHAPE), **SMALL["video-gan"], "image_frames": 3})
    seen = []
    model.image_features.register_forward_hook(lambda m, inp, out: seen.append(inp[0].detach()))
    clips = torch.arange(SHAPE[0], dtype=torch.float)[None, :, None, None, None].expand(5, *SHAPE)  # frame i = i
    image, video = model._scores(clips)
    assert image.shape == (15,) and video.shape == (5,)
    values = seen[-1].flatten(1)[:, 0].reshape(5, 3)  # which frame each judged image was
    assert all(len(set(row.tolist())) == 3 for row in values)  # three different frames of every clip
    one = _build("video-gan")
    assert one.config.image_frames == 1 and one._scores(clips)[0].shape == (5,)  # MoCoGAN's one frame per clip
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in one.image_features.modules())  # image_norm 'none'
    batch_norm = registry.build("video-gan", {"data_shape": list(SHAPE), **SMALL["video-gan"], "d_widths": [4, 4],
                                              "image_norm": "batch"})
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in batch_norm.image_features.modules())
    for bad in (0, SHAPE[0] + 1):
        with pytest.raises((ValueError, GenlabError), match="image_frames"):
            registry.build("video-gan", {"data_shape": list(SHAPE), **SMALL["video-gan"], "image_frames": bad})


def _gan(**options):
    torch.manual_seed(0)
    return registry.build("video-gan", {"data_shape": list(SHAPE), **SMALL["video-gan"], **options})


def _generated_batches(model, batch, phase):
    sizes = []
    hook = model.generator.register_forward_hook(lambda m, inp, out: sizes.append(len(inp[0])))
    judged = []
    hook2 = model.image_features.register_forward_hook(lambda m, inp, out: judged.append(len(inp[0])))
    model.losses(batch, phase)
    hook.remove()
    hook2.remove()
    return sizes, judged


def test_the_video_gan_image_batch_generates_only_the_frames_it_judges():
    batch = _batch(4)  # 4 clips of 4 frames
    model = _gan(image_batch=6)
    # 6 single frames for the image D, 4 whole clips for the video D; the image D judges 6 real and 6 fake frames
    assert _generated_batches(model, batch, "discriminator") == ([6, 4 * SHAPE[0]], [6, 6])
    assert _generated_batches(model, batch, "generator") == ([6, 4 * SHAPE[0]], [6])
    no_video = _gan(image_batch=6, video_weight=0.0)
    assert _generated_batches(no_video, batch, "generator") == ([6], [6])  # no clip generated without a video D
    losses = no_video.losses(batch, "discriminator")
    assert "d_video" not in losses and losses["loss"].requires_grad
    real = torch.arange(16, dtype=torch.float).reshape(4, 4, 1, 1, 1).expand(4, 4, *SHAPE[1:])
    picked = model.real_frames(real, 10)[:, 0, 0, 0]
    assert len(set(picked.tolist())) == 10  # distinct frames of the batch's clips
    assert model.real_frames(real, 40).shape == (40, *SHAPE[1:])  # more than B * T: drawn with replacement


def test_the_video_gan_motion_gru_can_start_from_noise():
    zero, noisy = _gan(motion_init="zero"), _gan()
    c, m, k = 3, 2, 2  # SMALL's content, motion and motion-noise sizes
    assert zero.noise_shape() == (c + SHAPE[0] * k,) and noisy.noise_shape() == (c + m + SHAPE[0] * k,)
    noise = torch.randn(2, *noisy.noise_shape())
    noise[1] = noise[0]
    noise[1, c:c + m] += 1.0  # only the initial state differs
    codes = noisy.codes_from_noise(noise)
    assert torch.equal(codes[0, :, :c], codes[1, :, :c])  # content kept
    assert (codes[0, 0, c:] - codes[1, 0, c:]).abs().min() > 0  # the first motion code follows the initial state
    assert torch.equal(codes[:, :, :c], codes[:, :1, :c].expand_as(codes[:, :, :c]))


def test_the_video_gan_video_discriminator_can_read_frame_differences_and_be_normalized():
    from genlab.nn.video import VideoDiscriminator

    plain, diff = VideoDiscriminator(SHAPE, (4, 4)), VideoDiscriminator(SHAPE, (4, 4), differences=True)
    assert plain.net[0].in_channels == 1 and diff.net[0].in_channels == 2
    seen = []
    diff.net[0].register_forward_hook(lambda m, inp, out: seen.append(inp[0]))
    still = torch.rand(1, 1, *SHAPE[1:]).expand(2, *SHAPE)  # a static clip: its differences are 0
    diff(still)
    assert seen[0][:, 1].abs().max() == 0 and torch.equal(seen[0][:, 0], still.transpose(1, 2)[:, 0])
    moving = torch.rand(2, *SHAPE)
    diff(moving)
    assert torch.allclose(seen[1][:, 1, 1:], (moving[:, 1:] - moving[:, :-1]).transpose(1, 2)[:, 0])
    normed = VideoDiscriminator(SHAPE, (4, 4, 4), norm="batch")
    assert sum(isinstance(m, torch.nn.BatchNorm3d) for m in normed.modules()) == 1  # not on the first level
    assert _gan(video_input="differences", video_norm="layer").video_features.differences
    assert not any(isinstance(m, (torch.nn.BatchNorm3d, torch.nn.GroupNorm)) for m in _gan().video_features.modules())


def test_the_video_gan_motion_code_is_the_gru_state_or_moves_by_bounded_steps():
    c, m, k, t = 3, 4, 2, SHAPE[0]
    plain, stepped = _gan(motion_dim=m), _gan(motion_dim=m, motion_step=0.1)
    stepped.load_state_dict(plain.state_dict())  # the same GRU: motion_step adds no parameters
    noise = torch.randn(5, *plain.noise_shape())
    h0, eps = noise[:, c:c + m], noise[:, c + m:].reshape(5, t, k)
    with torch.no_grad():
        gru = plain.codes_from_noise(noise)[..., c:]
        walk = stepped.codes_from_noise(noise)[..., c:]
        h, states = h0, []
        for i in range(t):  # by hand: the GRU's states from the initial state
            h = plain.motion(eps[:, i], h)
            states.append(h)
    states_t = torch.stack(states, 1)
    assert torch.allclose(gru, states_t, atol=1e-6)  # motion_step 0: the GRU state itself (MoCoGAN's)
    expected = h0[:, None] + 0.1 * states_t.tanh().cumsum(1)  # z_M(t) = z_M(t-1) + 0.1 tanh(h_t), z_M(0) = h0
    assert torch.allclose(walk, expected, atol=1e-5)
    steps = torch.cat([walk[:, :1] - h0[:, None], walk[:, 1:] - walk[:, :-1]], 1)
    assert steps.abs().max() <= 0.1 + 1e-6 and steps.abs().max() > 0  # bounded, and moving
    from_zero = _gan(motion_dim=m, motion_step=0.1, motion_init="zero")
    from_zero.load_state_dict(plain.state_dict())
    noise0 = torch.cat([noise[:, :c], noise[:, c + m:]], 1)  # no initial state in the noise
    with torch.no_grad():
        zero_states = torch.stack(list(_gru_states(plain.motion, eps, None)), 1)
        assert torch.allclose(from_zero.codes_from_noise(noise0)[..., c:], 0.1 * zero_states.tanh().cumsum(1),
                              atol=1e-5)  # z_M(0) = 0
    with pytest.raises((ValueError, GenlabError), match="motion_step"):
        _gan(motion_step=-0.1)


def _gru_states(cell, eps, h):
    for i in range(eps.shape[1]):
        h = cell(eps[:, i], h)
        yield h


def test_the_video_gan_motion_code_can_be_layer_normalized_at_the_content_code_s_scale():
    c, m = 3, 4
    model = _gan(motion_dim=m, motion_norm="layer")
    plain = _gan(motion_dim=m)
    assert sum(p.numel() for p in model.parameters()) == sum(p.numel() for p in plain.parameters())
    noise = torch.randn(6, *model.noise_shape())
    noise[:, c:] *= 10  # a motion state far from unit scale
    with torch.no_grad():
        codes = model.codes_from_noise(noise)
        raw = plain.codes_from_noise(noise)
    motion = codes[..., c:]
    assert torch.allclose(motion.mean(-1), torch.zeros(6, SHAPE[0]), atol=1e-5)
    assert torch.allclose(motion.var(-1, unbiased=False), torch.ones(6, SHAPE[0]), atol=1e-3)
    assert torch.equal(codes[..., :c], raw[..., :c])  # the content code untouched
    ref = (raw[..., c:] - raw[..., c:].mean(-1, keepdim=True)) / raw[..., c:].std(-1, unbiased=False, keepdim=True)
    assert torch.allclose(motion, ref, atol=1e-3)


def test_the_video_gan_video_discriminator_reads_noisy_clips_only_while_training():
    model = _gan(video_noise=0.5)
    seen = []
    model.video_features.register_forward_hook(lambda mod, inp, out: seen.append(inp[0].detach()))
    clips = torch.zeros(64, *SHAPE)
    model.train()
    model._video_scores(clips)
    assert abs(float(seen[-1].std()) - 0.5) < 0.02  # instance noise of std 0.5
    model.eval()
    model._video_scores(clips)
    assert torch.equal(seen[-1], clips)  # not when evaluating
    default = _gan().train()
    default.video_features.register_forward_hook(lambda mod, inp, out: seen.append(inp[0].detach()))
    default._video_scores(clips)
    assert len(seen) == 3 and torch.equal(seen[-1], clips)  # and not by default


def test_the_video_gan_video_discriminator_can_train_in_a_phase_of_its_own_at_its_own_lr():
    model = _gan(image_batch=6, video_lr=1e-5)
    phases = model.phases()
    assert [p.name for p in phases] == ["discriminator", "video_discriminator", "generator"]
    assert phases[0].modules == ("image_features", "image_head")
    assert phases[1].modules == ("video_features", "video_head") and phases[1].optimizer.lr == 1e-5
    assert not phases[1].fresh_batch  # the real clips of the image phase's batch
    assert phases[0].optimizer.lr == phases[2].optimizer.lr == model.config.gan_lr
    batch = _batch(4)
    # the image phase generates only its frames; the video phase only whole clips
    assert _generated_batches(model, batch, "discriminator") == ([6], [6, 6])
    assert _generated_batches(model, batch, "video_discriminator") == ([4 * SHAPE[0]], [])
    out = model.losses(batch, "video_discriminator")
    assert set(out) == {"loss", "d_video"} and out["loss"].requires_grad
    assert "d_video" not in model.losses(batch, "discriminator")
    assert [p.name for p in _gan(image_batch=6).phases()] == ["discriminator", "generator"]  # by default
    for bad in ({"image_batch": 0}, {"image_batch": 6, "video_weight": 0.0}):
        with pytest.raises((ValueError, GenlabError), match="video_lr"):
            _gan(video_lr=1e-4, **bad)


def test_the_video_gan_video_term_ramps_up_over_generator_updates():
    model = _gan(video_ramp=4, video_weight=0.5)
    batch = _batch(2)
    weights = []
    for _ in range(6):
        weights.append(model.video_weight_now())
        model.after_step("discriminator")  # only generator updates count
        model.after_step("generator")
    assert weights == [0.0, 0.125, 0.25, 0.375, 0.5, 0.5]
    torch.manual_seed(3)
    out = model.losses(batch, "generator")
    assert torch.allclose(out["loss"], out["g_image"] + 0.5 * out["g_video"])
    assert _gan().video_weight_now() == 1.0  # no ramp by default
    with pytest.raises((ValueError, GenlabError), match="video_ramp"):
        _gan(video_ramp=-1)


def test_temporal_attention_in_every_block_starts_as_the_identity_and_then_reaches_every_frame():
    from genlab.nn.video import SpaceTimeBlock, TemporalAttention

    mid = _build("video-ddpm")
    torch.manual_seed(0)
    every = registry.build("video-ddpm", {"data_shape": list(SHAPE), **SMALL["video-ddpm"], "attention": "every"})
    assert sum(isinstance(m, TemporalAttention) for m in every.net.modules()) == 1 + 2 * len(every.net.down)
    missing, unexpected = every.net.load_state_dict(mid.net.state_dict(), strict=False)
    assert not unexpected and missing and all(".attention." in k for k in missing)
    x, steps = torch.randn(2, *SHAPE), torch.tensor([3, 1])
    with torch.no_grad():
        assert torch.allclose(every.net(x, steps), mid.net(x, steps), atol=1e-6)  # zero-initialized output
    torch.manual_seed(0)
    block = SpaceTimeBlock(4, 4, 8, 2, 0.0, heads=1)
    with torch.no_grad():
        block.attention.out.weight.normal_()
        h = torch.randn(1 * 8, 4, 3, 3)
        moved = h.clone()
        moved[0] += torch.randn(4, 3, 3)  # frame 0 only
        temb = torch.zeros(8, 8)
        change = (block(moved, temb, 8) - block(h, temb, 8)).abs().flatten(1).amax(1)
    assert change[7] > 1e-4  # the last frame sees frame 0 (a kernel-3 temporal conv alone reaches frame 1)
    block.attention = None
    with torch.no_grad():
        assert (block(moved, temb, 8) - block(h, temb, 8)).abs().flatten(1).amax(1)[7] == 0


def test_centroid_speed_reads_motion_and_ignores_blur():
    from genlab.metrics.video import centroid_speed, temporal_change

    clip = torch.zeros(1, 5, 1, 16, 16)
    for t in range(5):
        clip[0, t, 0, 4:7, 2 + 2 * t:5 + 2 * t] = 1  # a 3x3 square moving 2 px right per frame
    blurred = torch.nn.functional.avg_pool2d(clip[0], 3, 1, 1)[None]  # the same motion, blurred
    assert centroid_speed(clip) == pytest.approx(2.0)
    assert centroid_speed(blurred) == pytest.approx(2.0, abs=1e-4)
    assert temporal_change(blurred) < temporal_change(clip)  # what the change alone would call slower
    still = clip[:, :1].expand(1, 5, 1, 16, 16)
    assert centroid_speed(still) == 0 and centroid_speed(torch.zeros(2, 3, 1, 8, 8)) == 0


def test_identity_consistency_counts_frames_read_as_their_clip_s_most_common_class():
    from genlab.metrics.video import identity_consistency

    clips = torch.zeros(2, 4, 1, 2, 2)
    clips[0, 1] = 1  # clip 0: classes 0 1 0 0 -> 3 of 4 agree; clip 1: 0 0 0 0
    clips[1] = 0

    def classify(x):
        return torch.nn.functional.one_hot((x.flatten(1).sum(1) > 0).long(), 2).float()

    assert identity_consistency(classify, clips) == pytest.approx(7 / 8)


@pytest.mark.parametrize("name", [n for n in CLIP_MODELS if registry.get(n).model_class.predicts_frames])
def test_frame_prediction_keeps_the_given_frames(name):
    model = _build(name).eval()
    x = _batch(2).x
    out = model.predict_frames(x, 2)
    assert out.shape == x.shape and torch.equal(out[:, :2], x[:, :2])
    assert out.min() >= 0 and out.max() <= 1


# ---------------------------------------------------------------------------- CLI and bad inputs

def _gif(path, frames=4, size=8, seed=0):
    rng = np.random.default_rng(seed)
    images = [Image.fromarray(rng.integers(0, 255, (size, size), dtype=np.uint8)) for _ in range(frames)]
    images[0].save(path, save_all=True, append_images=images[1:])


def _frames(folder, numbers, size=8):
    folder.mkdir(parents=True)
    for n in numbers:
        Image.fromarray(np.full((size, size), 9 * n, dtype=np.uint8)).save(folder / f"{n:03d}.png")


@pytest.fixture(scope="module")
def clip_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("clips")
    data = root / "data"
    data.mkdir()
    for i in range(18):
        _gif(data / f"c{i:02d}.gif", seed=i)
    _frames(data / "clip_a", range(4))
    out = root / "run"
    argv = ["train", "video-vae", "--dataset", f"video:{data}", "--image-size", "16", "--steps", "2",
            "--batch-size", "8", "--out", str(out), "--conv-widths", "4", "--frame-features", "8", "--hidden-size",
            "8", "--latent-dim", "2"]
    assert main(argv) == 0
    return root, out


def test_image_frames_beyond_the_clip_length_is_refused_through_the_cli(clip_run, tmp_path, capsys):
    root, _ = clip_run
    argv = ["train", "video-gan", "--dataset", f"video:{root / 'data'}", "--image-size", "16", "--steps", "1",
            "--out", str(tmp_path / "run"), "--image-frames", "5"]  # the clips have 4 frames
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["genlab: error: model config of 'video-gan': image_frames must be in 1..T (4), got 5"]
    argv[-2:] = ["--video-lr", "1e-4", "--image-batch", "0"]  # a phase of the video D's own needs the image batch
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("genlab: error: model config of 'video-gan': video_lr") \
        and "image_batch 0" in err[0]


def test_sample_writes_gifs_a_frame_grid_and_uint8_clips(clip_run, tmp_path):
    _, run = clip_run
    with Image.open(run / "samples.png") as grid:  # the run's sample grid: 8 clips, a row of 4 frames each
        assert grid.size[1] == 2 * grid.size[0] - 8  # 8 rows of 4 tiles: (8 * 18 + 2) x (4 * 18 + 2), scaled

    assert main(["sample", str(run), "--n", "3", "--out", str(tmp_path / "clips.gif")]) == 0
    assert {p.name for p in tmp_path.iterdir()} == {"clips.gif", "clips.png", "clips_000.gif", "clips_001.gif",
                                                     "clips_002.gif"}
    with Image.open(tmp_path / "clips_000.gif") as gif:
        assert gif.n_frames == 4
    assert main(["sample", str(run), "--n", "3", "--out", str(tmp_path / "clips.npz")]) == 0
    with np.load(tmp_path / "clips.npz") as z:
        assert z["clips"].shape == (3, 4, 1, 16, 16) and z["clips"].dtype == np.uint8


def test_predict_through_the_cli(clip_run, tmp_path, capsys):
    root, run = clip_run
    assert main(["predict", str(run), "--frames", "2", "--n", "2", "--out", str(tmp_path / "p.npz")]) == 0
    assert "copy-last-frame" in capsys.readouterr().err
    assert main(["predict", str(run), "--input", str(root / "data" / "c00.gif"), "--frames", "3",
                 "--out", str(tmp_path / "q.gif")]) == 0
    capsys.readouterr()
    assert main(["predict", str(run), "--frames", "4", "--out", str(tmp_path / "r.gif")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "below the clip length 4" in err[0]


def _refused(argv, capsys, *words):
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("genlab: error: "), err
    for w in words:
        assert w in err[0], err[0]


@pytest.mark.parametrize("case", ["lengths", "sizes", "gif", "gap"])
def test_bad_clip_folders_are_refused_with_one_line(case, tmp_path, capsys):
    data = tmp_path / "data"
    data.mkdir()
    for i in range(3):
        _gif(data / f"c{i}.gif", seed=i)
    words = {"lengths": ("different lengths", "c9.gif"), "sizes": ("different sizes", "--image-size"),
             "gif": ("cannot read GIF", "c9.gif"), "gap": ("gap", "frame 2 is missing")}[case]
    if case == "lengths":
        _gif(data / "c9.gif", frames=6)
    elif case == "sizes":
        _gif(data / "c9.gif", size=12)
    elif case == "gif":
        (data / "c9.gif").write_bytes(b"GIF89a not really")
    else:
        _frames(data / "clip_x", [0, 1, 3, 4])
    _refused(["train", "video-vae", "--dataset", f"video:{data}", "--steps", "1", "--out", str(tmp_path / "run")],
             capsys, *words)


def test_image_models_refuse_clips_and_clip_models_refuse_images(clip_run, tmp_path, capsys):
    root, _ = clip_run
    _refused(["train", "vae", "--dataset", f"video:{root / 'data'}", "--steps", "1", "--out", str(tmp_path / "a")],
             capsys, "takes images", "holds clips")
    _refused(["train", "video-gan", "--dataset", "digits", "--steps", "1", "--out", str(tmp_path / "b")],
             capsys, "takes clips", "holds images")


def test_evaluate_and_modes_refuse_runs_on_unlabelled_clips_with_one_line(clip_run, capsys):
    _, run = clip_run  # video:DIR has no labels, so no clip classifier can be trained on it
    for command in ("evaluate", "modes"):
        _refused([command, str(run)], capsys, "holds clips without labels", "moving-mnist-1")


def test_a_classifier_arch_that_does_not_fit_the_data_is_refused_with_one_line(clip_run, tmp_path, capsys):
    root, _ = clip_run
    _refused(["train", "classifier", "--arch", "lenet5", "--dataset", f"video:{root / 'data'}", "--steps", "1",
              "--out", str(tmp_path / "a")], capsys, "arch 'lenet5' classifies images", "clip3d takes clips")
    _refused(["train", "classifier", "--arch", "clip3d", "--dataset", "digits", "--steps", "1",
              "--out", str(tmp_path / "b")], capsys, "arch 'clip3d' classifies clips")


# ---------------------------------------------------------------------------- moving-mnist-1 and the clip FD

def test_direction_quadrants_follow_the_image_axes():
    moves = {(1, 1): "right-down", (1, -1): "left-down", (-1, -1): "left-up", (-1, 1): "right-up"}  # (dy, dx)
    for (dy, dx), name in moves.items():
        assert QUADRANTS[direction_quadrant(np.array([[10.0, 10.0], [10.0 + dy, 10.0 + dx]]))] == name


def test_one_digit_clips_are_labelled_with_the_class_and_the_direction_seen_in_the_frames():
    digits = np.full((50, DIGIT, DIGIT), 200, dtype=np.uint8)
    labels = np.arange(50) % 10
    clips, y, sources = moving_mnist_split(digits, labels, 60, 3, split_seed=0, num_digits=1, motion_labels=True)
    assert sources.shape == (60, 1) and (y // 4 == labels[sources[:, 0]]).all()
    checked = set()
    for clip, label in zip(clips, y, strict=True):
        corner = [np.argwhere(frame > 0).min(0) for frame in clip[:2]]  # the digit's top-left pixel
        dy, dx = corner[1] - corner[0]
        if dy != 0 and dx != 0:  # a move of at least a pixel on both axes shows the quadrant
            assert QUADRANTS[label % 4] == ("right" if dx > 0 else "left") + "-" + ("down" if dy > 0 else "up")
            checked.add(int(label % 4))
    assert checked == {0, 1, 2, 3}


@pytest.fixture
def small_moving_mnist(monkeypatch, tmp_path):
    """moving-mnist-1 from 90 random 'digits', 40 / 24 / 24 clips, cached under tmp_path."""
    from genlab.data import video

    rng = np.random.default_rng(0)

    def part(n):
        x = torch.from_numpy(rng.integers(0, 255, (n, 1, DIGIT, DIGIT), dtype=np.uint8))
        return ArrayDataset(x, torch.arange(n) % 10, "mnist", [str(i) for i in range(10)])

    parts = Splits(part(50), part(20), part(20))
    monkeypatch.setattr(video, "load_mnist", lambda cfg: parts)
    monkeypatch.setattr(video, "TRAIN_CLIPS", 40)
    monkeypatch.setattr(video, "EVAL_CLIPS", 24)
    monkeypatch.setenv("GENLAB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setitem(features.DATASET_RECIPES, "moving-mnist-1",
                        dataclasses.replace(features.CLIP_RECIPE, steps=3, batch_size=8))


def test_evaluate_reports_the_clip_fd_of_a_moving_mnist_run_out_of_the_box(small_moving_mnist, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "video-vae", "--dataset", "moving-mnist-1", "--image-size", "16", "--clip-length", "4",
                 "--steps", "1", "--batch-size", "8", "--out", str(run), "--conv-widths", "4", "--frame-features", "8",
                 "--hidden-size", "8", "--latent-dim", "2", "--num-samples", "4"]) == 0
    assert main(["evaluate", str(run), "--n", "12", "--metrics", "fid,classes"]) == 0
    assert "clip3d-moving-mnist-1@" in capsys.readouterr().out
    result = json.loads((run / "metrics.json").read_text())
    ext = result["extractor"]
    assert ext["name"] == "clip3d-moving-mnist-1" and ext["input_shape"] == [4, 1, 16, 16]
    assert ext["recipe"]["arch"] == "clip3d" and 0 <= ext["test_accuracy"] <= 1
    assert result["metrics"]["fd"] > 0 and result["n_real"] == 12 and 0 < result["metrics"]["class_coverage"] <= 1


# ---------------------------------------------------------------------------- resume and torchrun

@pytest.mark.parametrize("name", ["video-gan", "video-ddpm", "video-vae", "video-gan-options"])
def test_clip_model_resume_is_exact(name, clip_run, tmp_path):
    """4 steps straight == 2 steps, then resume to 4 (two phases; EMA and the update counters; the per-frame
    video-vae with a KL warm-up, whose weight reads the non-persistent counter the checkpoint carries;
    video-gan with the video discriminator in a third phase, instance noise and a stepped, normalized motion
    code)."""
    root, _ = clip_run
    data = {"dataset": f"video:{root / 'data'}", "image_size": 16}
    train = {"steps": 4, "batch_size": 4, "deterministic": True, "device": "cpu", "seed": 3, "sample_every": 0,
             "num_samples": 4}
    config = {**SMALL[name], "kl_warmup_steps": 3} if name == "video-vae" else SMALL.get(name, {})
    if name == "video-gan-options":
        name, config = "video-gan", {**SMALL["video-gan"], "image_batch": 8, "video_lr": 1e-4, "video_noise": 0.1,
                                     "motion_step": 0.2, "motion_norm": "layer"}
    straight = genlab.train(name, out=tmp_path / "a", model_config=config, data=data, train=train)
    genlab.train(name, out=tmp_path / "b", model_config=config, data=data, train={**train, "steps": 2})
    resumed = genlab.resume(tmp_path / "b", steps=4)
    assert (tmp_path / "b" / "checkpoints" / "LATEST").read_text().strip() == "step-00000004"
    for k, v in straight.state_dict().items():
        assert torch.equal(v, resumed.state_dict()[k]), k


def test_torchrun_trains_a_clip_gan_on_two_processes(clip_run, tmp_path, torchrun):
    root, _ = clip_run
    out = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "genlab", "train", "video-gan", "--dataset", f"video:{root / 'data'}", "--image-size", "16",
           "--out", str(out), "--batch-size", "4", "--steps", "3", "--g-widths", "4", "4", "--d-widths", "4",
           "--v-widths", "4", "--content-dim", "3", "--motion-dim", "2", "--motion-noise", "2", "--num-samples", "4",
           "--device", "cpu", "--deterministic"]
    proc = torchrun(cmd, {**os.environ, "OMP_NUM_THREADS": "1"}, out)  # retries a gloo child's rare abort
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stderr.count("run written to") == 1  # one writer
    assert json.loads((out / "checkpoints" / "step-00000003" / "state.json").read_text())["complete"]
    model = genlab.load(out).eval()
    assert model.sample(2).shape == (2, 4, 1, 16, 16)
