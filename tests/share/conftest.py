"""Tiny runs shared by the report, export and explorer tests (built once per session)."""
from __future__ import annotations

import pytest

from genlab.cli import main

TINY = ["--dataset", "digits", "--batch-size", "32", "--steps", "2", "--device", "cpu", "--num-samples", "4",
        "--log-every", "1"]


@pytest.fixture(scope="session")
def vae_run(tmp_path_factory):
    """A conv VAE on digits (2 steps): a latent model that decodes."""
    out = tmp_path_factory.mktemp("share") / "vae"
    assert main(["train", "vae", "--out", str(out), "--latent-dim", "4", "--conv-widths", "8",
                 "--conv-hidden", "16", *TINY]) == 0
    return out


@pytest.fixture(scope="session")
def gan_run(tmp_path_factory):
    """An MLP GAN on digits (2 steps): two phases, no encoder."""
    out = tmp_path_factory.mktemp("share") / "gan"
    assert main(["train", "gan", "--out", str(out), "--noise-dim", "8", "--g-hidden", "16", "--d-hidden", "16",
                 *TINY]) == 0
    return out


@pytest.fixture(scope="session")
def stylegan_run(tmp_path_factory):
    """A tiny style GAN on digits (1 step): styles to mix, noise to slide through."""
    out = tmp_path_factory.mktemp("share") / "stylegan"
    assert main(["train", "stylegan", "--out", str(out), "--channel-base", "64", "--channel-max", "8",
                 "--mapping-layers", "1", "--w-dim", "8", "--latent-dim", "8", "--no-report", "--dataset",
                 "digits", "--batch-size", "16", "--steps", "1", "--device", "cpu", "--num-samples", "4"]) == 0
    return out


@pytest.fixture(scope="session")
def clip_dir(tmp_path_factory):
    """24 random 4-frame 8x8 GIF clips (a `video:DIR` dataset)."""
    import numpy as np
    from PIL import Image

    root = tmp_path_factory.mktemp("clips")
    rng = np.random.default_rng(0)
    for i in range(24):
        frames = [Image.fromarray(rng.integers(0, 255, (8, 8), dtype=np.uint8)) for _ in range(4)]
        frames[0].save(root / f"c{i}.gif", save_all=True, append_images=frames[1:])
    return root


CLIP_FLAGS = {"video-vae": ["--conv-widths", "4", "--frame-features", "8", "--hidden-size", "8", "--latent-dim", "3"],
              "video-gan": ["--g-widths", "4", "--d-widths", "4", "--v-widths", "4", "--content-dim", "3",
                            "--motion-dim", "2", "--motion-noise", "2"],
              "video-ddpm": ["--width", "4", "--width-mults", "1", "--groups", "2", "--heads", "1",
                             "--diffusion-steps", "4", "--sample-steps", "2"]}


@pytest.fixture(scope="session")
def clip_runs(tmp_path_factory, clip_dir):
    """Tiny runs (1 step, no report) of the three clip models on 4-frame 8x8 clips: {name: run directory}."""
    runs = {}
    for name, flags in CLIP_FLAGS.items():
        out = tmp_path_factory.mktemp("share") / name
        assert main(["train", name, "--dataset", f"video:{clip_dir}", "--validation-fraction", "0.15",
                     "--test-fraction", "0.15", "--out", str(out), "--steps", "1", "--batch-size", "8",
                     "--device", "cpu", "--num-samples", "2", "--no-report", *flags]) == 0
        runs[name] = out
    return runs


@pytest.fixture(scope="session")
def score_run(tmp_path_factory):
    """A tiny ncsn on digits (1 step): a score model with a sampler trajectory."""
    out = tmp_path_factory.mktemp("share") / "ncsn"
    assert main(["train", "ncsn", "--out", str(out), "--base-width", "8", "--width-mults", "1", "--norm-groups", "4",
                 "--attention-size", "0", "--num-levels", "3", "--sample-steps", "2", "--no-report", "--dataset",
                 "digits", "--batch-size", "16", "--steps", "1", "--device", "cpu", "--num-samples", "4"]) == 0
    return out


@pytest.fixture(scope="session")
def series_run(tmp_path_factory):
    """A tiny recurrent-vae on a two-feature CSV series (windows of 8): a latent model of sequences."""
    import numpy as np

    root = tmp_path_factory.mktemp("series")
    t = np.arange(200)
    (root / "s.csv").write_text("a,b\n" + "".join(f"{np.sin(i / 3):.4f},{np.cos(i / 5):.4f}\n" for i in t))
    out = root / "rvae"
    assert main(["train", "recurrent-vae", "--dataset", f"csv:{root / 's.csv'}", "--window", "8", "--stride", "2",
                 "--hidden-size", "4", "--latent-dim", "3", "--out", str(out), "--steps", "2", "--batch-size", "16",
                 "--device", "cpu", "--num-samples", "4", "--no-report"]) == 0
    return out


@pytest.fixture(scope="session")
def translator_runs(tmp_path_factory):
    """Tiny runs (1 step, no report) of the image-to-image family: pix2pix on random 8x8 pairs, cyclegan on
    unpaired 8x8 folders (A: 20 images, B: 24) and srresnet on digits (its own 4x pairs): {name: run}."""
    import numpy as np
    from PIL import Image

    root = tmp_path_factory.mktemp("translators")
    rng = np.random.default_rng(0)
    b = (rng.random((40, 1, 8, 8)) * 255).astype(np.uint8)
    np.savez(root / "pairs.npz", a=255 - b, b=b)
    for side, count in (("A", 20), ("B", 24)):
        (root / "unpaired" / side).mkdir(parents=True)
        for i in range(count):
            Image.fromarray(rng.integers(0, 255, (8, 8), dtype=np.uint8)).save(root / "unpaired" / side / f"{i}.png")
    common = ["--steps", "1", "--batch-size", "8", "--device", "cpu", "--num-samples", "2", "--no-report"]
    data = {"pix2pix": ["--dataset", f"pairs:npz:{root / 'pairs.npz'}", "--g-width", "4", "--d-width", "4"],
            "cyclegan": ["--dataset", f"unpaired:{root / 'unpaired'}", "--g-width", "4", "--d-width", "4",
                         "--n-blocks", "1"],
            "srresnet": ["--dataset", "digits", "--width", "4", "--n-blocks", "1", "--limit", "200"]}
    runs = {}
    for name, flags in data.items():
        out = root / name
        assert main(["train", name, "--out", str(out), *flags, *common]) == 0
        runs[name] = out
    return runs


TABLE_FLAGS = {"ctgan": ["--embedding-dim", "4", "--generator-dims", "8", "--discriminator-dims", "8", "--pac", "2"],
               "tvae": ["--embedding-dim", "4", "--compress-dims", "8", "--decompress-dims", "8"]}


@pytest.fixture(scope="session")
def table_fits(tmp_path_factory):
    """`genlab synth fit` directories (1 epoch) of ctgan and tvae on an 80-row CSV with every column kind:
    continuous, integer (many values; three exact values), datetime, boolean, categorical with missing cells
    and a continuous column with missing cells: {name: directory}."""
    import numpy as np

    root = tmp_path_factory.mktemp("tables")
    rng = np.random.default_rng(0)
    n = 80
    lines = ["height,age,rating,when,member,colour,score"]
    for i in range(n):
        colour = "" if i % 9 == 0 else ("red", "green", "blue")[int(rng.integers(3))]
        score = "" if i % 7 == 0 else f"{rng.normal(50, 10):.2f}"
        lines.append(f"{rng.normal(170, 8):.3f},{int(rng.integers(18, 80))},{int(rng.integers(1, 4))},"
                     f"2020-01-{1 + i % 28:02d},{bool(rng.integers(2))},{colour},{score}")
    (root / "t.csv").write_text("\n".join(lines) + "\n")
    fits = {}
    for name, flags in TABLE_FLAGS.items():
        out = root / name
        assert main(["synth", "fit", "--data", str(root / "t.csv"), "--model", name, "--out", str(out), "--epochs",
                     "1", "--batch-size", "20", *flags]) == 0
        fits[name] = out
    return fits
