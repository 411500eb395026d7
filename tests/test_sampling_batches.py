"""Sampling many images from a diffusion model: in bounded batches (the same images as one pass), with progress."""
import torch

from genlab import registry
from genlab.apps import sampling
from genlab.models import diffusion

TINY = {"base_width": 8, "width_mults": [1, 2], "norm_groups": 4, "timesteps": 50, "sample_steps": 4,
        "data_shape": [1, 8, 8]}


def test_sample_runs_the_reverse_process_in_chunks_with_the_same_result(monkeypatch):
    model = registry.build("ddpm", {**TINY, "eta": 0.0}).eval()
    torch.manual_seed(0)
    whole = model.sample(7)  # one pass (7 <= SAMPLE_CHUNK)
    sizes, original = [], diffusion.sample_loop

    def spy(predict, sampler, x, *args, **kwargs):
        sizes.append(x.shape[0])
        return original(predict, sampler, x, *args, **kwargs)

    monkeypatch.setattr(diffusion, "sample_loop", spy)
    monkeypatch.setattr(diffusion, "SAMPLE_CHUNK", 3)
    torch.manual_seed(0)
    chunked = model.sample(7)
    assert sizes == [3, 3, 1]  # never more than a chunk through the network at once
    torch.testing.assert_close(chunked, whole)  # deterministic DDIM: the same x_T gives the same images


def test_draw_samples_calls_a_diffusion_model_in_batches_and_a_gan_once(monkeypatch):
    monkeypatch.setattr(sampling, "SAMPLE_BATCH", 4)
    ddpm = registry.build("ddpm", TINY).eval()
    gan = registry.build("gan", {"data_shape": [1, 8, 8], "g_hidden": [8], "d_hidden": [8], "noise_dim": 4}).eval()
    for model, calls in ((ddpm, [4, 4, 2]), (gan, [10])):
        seen, original = [], model.sample

        def spy(n, labels=None, _seen=seen, _original=original, **options):
            _seen.append(n)
            return _original(n, labels=labels, **options)

        monkeypatch.setattr(model, "sample", spy)
        images, labels, per_row = sampling.draw_samples(model, 10)
        assert images.shape == (10, 1, 8, 8) and labels is None and per_row is None
        assert seen == calls
