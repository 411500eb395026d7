"""Commands on every kind of run, through the CLI: sequence runs, conditional runs, output paths, data kinds."""
from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from genlab.cli import main

TINY = ["--steps", "2", "--batch-size", "16", "--num-samples", "4", "--device", "cpu"]
AE = ["--latent-dim", "2", "--mlp-hidden", "8", "--conv-widths", "4", "--conv-hidden", "8"]
GAN = ["--noise-dim", "4", "--g-hidden", "8", "--d-hidden", "8", "--g-widths", "4", "4", "--d-widths", "4", "4"]


def _error(capsys, argv) -> str:
    """Run the CLI expecting a user error; return its one stderr line."""
    code = main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2, err
    assert len(err) == 1 and err[0].startswith("genlab: error: "), err
    return err[0]


def _ok(capsys, argv) -> str:
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 0, err
    return err


def write_series(path, rows: int = 200) -> None:
    t = np.arange(rows)
    path.write_text("a,b\n" + "".join(f"{np.sin(i / 3):.4f},{10 + np.cos(i / 5):.4f}\n" for i in t))


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("commands")
    series = root / "series.csv"
    write_series(series)
    out = {}
    for name, argv in {
        "recurrent-ae": ["--dataset", f"csv:{series}", "--window", "8", "--stride", "2", "--hidden-size", "4",
                         "--latent-dim", "2"],
        "ae": ["--dataset", "digits", *AE],
        "cgan": ["--dataset", "digits", *GAN],
    }.items():
        out[name] = root / name
        assert main(["train", name, "--out", str(out[name]), *TINY, *argv]) == 0
    return out


# --- recurrent-ae on a series: every image command either plots series or says why not ---------
def test_sequence_sample_writes_plot_csv_and_npz_in_the_series_units(runs, tmp_path, capsys):
    run = runs["recurrent-ae"]
    _ok(capsys, ["sample", str(run), "--n", "3", "--out", str(tmp_path / "s.png")])
    assert Image.open(tmp_path / "s.png").size[0] > 100
    _ok(capsys, ["sample", str(run), "--n", "3", "--out", str(tmp_path / "s.npz")])
    with np.load(tmp_path / "s.npz") as z:
        assert z["sequences"].shape == (3, 8, 2) and list(z["columns"]) == ["a", "b"]
        assert abs(z["sequences"][..., 1].mean() - 10) < 2  # column b is around 10: the units, not standardized
    _ok(capsys, ["sample", str(run), "--n", "2", "--out", str(tmp_path / "s.csv")])
    lines = (tmp_path / "s.csv").read_text().splitlines()
    assert lines[0] == "sequence,step,a,b" and len(lines) == 1 + 2 * 8


def test_sequence_reconstruct_interpolate_traverse_plot(runs, tmp_path, capsys):
    run = str(runs["recurrent-ae"])
    err = _ok(capsys, ["reconstruct", run, "--n", "3", "--out", str(tmp_path / "r.png")])
    assert "mean squared error" in err and (tmp_path / "r.png").is_file()
    _ok(capsys, ["reconstruct", run, "--n", "3", "--out", str(tmp_path / "r.npz")])
    with np.load(tmp_path / "r.npz") as z:
        assert z["sequences"].shape == (3, 8, 2)
    _ok(capsys, ["interpolate", run, "--steps", "3", "--out", str(tmp_path / "i.png")])
    _ok(capsys, ["traverse", run, "--steps", "3", "--out", str(tmp_path / "t.png")])
    assert (tmp_path / "i.png").is_file() and (tmp_path / "t.png").is_file()


def test_sequence_run_refuses_image_only_commands(runs, tmp_path, capsys):
    run = str(runs["recurrent-ae"])
    assert "sequences" in _error(capsys, ["manifold", run, "--out", str(tmp_path / "m.png")])
    assert "sequences" in _error(capsys, ["encode", run])
    assert "unknown file type '.txt'" in _error(capsys, ["sample", run, "--out", str(tmp_path / "x.txt")])


def test_sequence_run_evaluates_reconstruction(runs, tmp_path, capsys):
    out = tmp_path / "m.json"
    assert main(["evaluate", str(runs["recurrent-ae"]), "--metrics", "recon", "--out", str(out)]) == 0
    metrics = json.loads(out.read_text())["metrics"]
    assert metrics["mse"] >= 0 and metrics["mae"] >= 0


# --- data kinds -------------------------------------------------------------------------------
@pytest.mark.parametrize("model", ["vae", "ae", "gan", "ddpm"])
def test_image_models_refuse_series(model, tmp_path, capsys):
    series = tmp_path / "s.csv"
    write_series(series)
    err = _error(capsys, ["train", model, "--dataset", f"csv:{series}", "--window", "8", "--out", str(tmp_path / "r"),
                          *TINY])
    assert f"model '{model}' takes images" in err and "sequences" in err and "recurrent-ae" in err
    assert not (tmp_path / "r").exists()


def test_recurrent_ae_takes_images_as_rows(tmp_path, capsys):
    _ok(capsys, ["train", "recurrent-ae", "--dataset", "digits", "--hidden-size", "4", "--latent-dim", "2",
                 "--out", str(tmp_path / "r"), *TINY])


# --- sample / decode outputs ------------------------------------------------------------------
def test_conditional_sample_npz_has_the_labels_of_its_rows(runs, tmp_path, capsys):
    _ok(capsys, ["sample", str(runs["cgan"]), "--n", "20", "--out", str(tmp_path / "s.npz")])
    with np.load(tmp_path / "s.npz") as z:
        assert len(z["y"]) == len(z["x"]) == 20
        assert z["y"].tolist() == [c for c in range(10) for _ in range(2)]


def test_sample_output_paths_are_checked_first(runs, tmp_path, capsys):
    run = str(runs["ae"])
    assert "unknown file type '.txt'" in _error(capsys, ["sample", run, "--out", str(tmp_path / "x.txt")])
    assert not (tmp_path / "x.txt").exists()
    err = _error(capsys, ["sample", run, "--out", str(tmp_path)])
    assert "is a directory" in err and not list(tmp_path.glob(".*tmp*"))
    (tmp_path / "file").write_text("x")
    assert "is a file, not a folder" in _error(capsys, ["sample", run, "--out", str(tmp_path / "file" / "s.png")])
    assert "--n must be at least 1" in _error(capsys, ["sample", run, "--n", "0"])


def test_decode_grid_is_capped_and_npz_holds_all(runs, tmp_path, capsys):
    run = str(runs["ae"])
    codes = tmp_path / "codes.npz"
    _ok(capsys, ["encode", run, "--split", "train", "--n", "100", "--out", str(codes)])
    err = _ok(capsys, ["decode", run, "--codes", str(codes), "--n", "16", "--out", str(tmp_path / "d.png")])
    assert "first 16 of 100" in err
    w, h = Image.open(tmp_path / "d.png").size
    assert w < 300 and h < 300  # 4x4 tiles of 8 px (enlarged), not 10x10
    _ok(capsys, ["decode", run, "--codes", str(codes), "--out", str(tmp_path / "d.npz")])
    with np.load(tmp_path / "d.npz") as z:
        assert len(z["x"]) == 100
    assert "unknown file type" in _error(capsys, ["decode", run, "--codes", str(codes), "--out", str(tmp_path / "d.txt")])
    assert "--n must be at least 1" in _error(capsys, ["decode", run, "--codes", str(codes), "--n", "0"])


def test_non_generative_model_refuses_to_sample(tmp_path, capsys):
    run = tmp_path / "clf"
    _ok(capsys, ["train", "classifier", "--dataset", "digits", "--out", str(run), *TINY])
    assert "not generative" in _error(capsys, ["sample", str(run)])
