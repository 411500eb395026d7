"""The smallest settings of every registered model, for smoke runs.

A smoke run trains a model for 2 steps with tiny networks (`genlab train NAME ... *BASE_FLAGS,
*train_flags(NAME)`; a table model: `genlab synth fit ... *TABLE_FLAGS[NAME]`), which exercises its
whole path (data, phases, checkpoint, samples, report) in seconds. The CLI sweep
(tests/test_sweep.py) and the share matrix (benchmarks/share_matrix.py) both train from these; the
figures of such a run mean nothing. Nothing in the library imports this module.
"""
from __future__ import annotations

from genlab import registry

BASE_FLAGS = ["--steps", "2", "--batch-size", "16", "--num-samples", "4", "--device", "cpu"]
_AE = ["--latent-dim", "2", "--mlp-hidden", "8", "--conv-widths", "4", "--conv-hidden", "8"]
_GAN = ["--noise-dim", "4", "--g-hidden", "8", "--d-hidden", "8", "--g-widths", "4", "4", "--d-widths", "4", "4"]
_DIFFUSION = ["--timesteps", "10", "--base-width", "8", "--width-mults", "1", "--norm-groups", "4",
              "--sample-steps", "2", "--attention-size", "0"]
# a translator gets the flags of the fields its config has
_TRANSLATION = {"g_width": ["--g-width", "4"], "d_width": ["--d-width", "4"], "n_blocks": ["--n-blocks", "1"],
                "width": ["--width", "4"], "d_hidden": ["--d-hidden", "8"]}
_RECURRENT = ["--hidden-size", "4", "--latent-dim", "2"]
_EXTRA = {"stacked-ae": ["--pretrain-steps", "1"], "vaegan": ["--disc-widths", "4", "4"],
          "classifier": ["--arch", "lenet5"], "recurrent-ae": _RECURRENT,
          "score-sde": _DIFFUSION[2:], "ncsn": _DIFFUSION[2:] + ["--num-levels", "3"],
          "recurrent-vae": _RECURRENT, "recurrent-cvae": _RECURRENT,
          "video-vae": ["--conv-widths", "4", "--frame-features", "8", "--hidden-size", "8", "--latent-dim", "2"],
          "video-gan": ["--g-widths", "4", "--d-widths", "4", "--v-widths", "4", "--content-dim", "2",
                        "--motion-dim", "2", "--motion-noise", "2"],
          "video-ddpm": ["--width", "4", "--width-mults", "1", "--groups", "2", "--heads", "1",
                         "--diffusion-steps", "4", "--sample-steps", "2"],
          "progan": ["--channel-base", "64", "--channel-max", "8", "--latent-dim", "8"],
          "stylegan": ["--channel-base", "64", "--channel-max", "8", "--mapping-layers", "1", "--w-dim", "8",
                       "--latent-dim", "8"]}
TABLE_FLAGS = {"ctgan": ["--epochs", "1", "--batch-size", "20", "--embedding-dim", "4", "--generator-dims", "8",
                         "--discriminator-dims", "8", "--pac", "2"],
               "tvae": ["--epochs", "1", "--batch-size", "20", "--embedding-dim", "4", "--compress-dims", "8",
                        "--decompress-dims", "8"]}


def train_flags(name: str) -> list[str]:
    """`genlab train` flags that make registered model ``name`` tiny (its family's, then its own)."""
    fields = registry.get(name).config_class.__dataclass_fields__
    if "noise_dim" in fields:
        family = _GAN
    elif "timesteps" in fields:
        family = _DIFFUSION
    elif "mlp_hidden" in fields:
        family = _AE
    elif "a_channels" in fields:
        family = [f for key, flags in _TRANSLATION.items() if key in fields for f in flags]
    else:
        family = []
    return [*family, *_EXTRA.get(name, [])]
