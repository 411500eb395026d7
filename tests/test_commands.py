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


# --- data rules -------------------------------------------------------------------------------
def test_negative_labels_are_refused_naming_the_values(tmp_path, capsys):
    x = np.random.default_rng(0).random((60, 8, 8)).astype(np.float32)
    np.savez(tmp_path / "neg.npz", x=x, y=np.r_[np.arange(58) % 3, -1, -2])
    err = _error(capsys, ["train", "cgan", "--dataset", f"npz:{tmp_path / 'neg.npz'}", "--out", str(tmp_path / "r"),
                          *TINY, *GAN])
    assert "labels must be class indices 0..K-1" in err and "-2, -1" in err and "(2 of 60 items)" in err


def test_npz_with_nan_or_text_says_what_is_wrong(tmp_path, capsys):
    x = np.random.default_rng(0).random((40, 8, 8)).astype(np.float32)
    x[3, 1, 1] = np.nan
    np.savez(tmp_path / "nan.npz", x=x)
    err = _error(capsys, ["train", "ae", "--dataset", f"npz:{tmp_path / 'nan.npz'}", *TINY])
    assert "contains NaN" in err and "image 3" in err and "[0.0" not in err
    (tmp_path / "text.npz").write_text("hello\n")
    err = _error(capsys, ["train", "ae", "--dataset", f"npz:{tmp_path / 'text.npz'}", *TINY])
    assert "not a valid .npz" in err and "allow_pickle" not in err


def test_columns_on_images_is_refused(tmp_path, capsys):
    assert "holds images" in _error(capsys, ["train", "ae", "--dataset", "digits", "--columns", "a", *TINY,
                                             "--out", str(tmp_path / "r")])
    assert "--columns" in _error(capsys, ["anomaly", "fit", "--dataset", "digits", "--columns", "a",
                                          "--out", str(tmp_path / "d")])


def _dated(path, typo_row: int | None = None, missing_row: int | None = None) -> None:
    rows = [f"2020-01-{i % 28 + 1:02d},{np.sin(i / 4):.4f},{np.cos(i / 3):.4f}" for i in range(200)]
    if typo_row is not None:
        rows[typo_row - 1] = rows[typo_row - 1].rsplit(",", 1)[0] + ",oops"
    if missing_row is not None:
        rows[missing_row - 1] = rows[missing_row - 1].rsplit(",", 1)[0] + ",NA"
    path.write_text("date,a,b\n" + "\n".join(rows) + "\n")


def test_series_csv_skips_a_date_column_with_a_notice_and_columns_selects(tmp_path, capsys):
    _dated(tmp_path / "d.csv")
    series = ["--dataset", f"csv:{tmp_path / 'd.csv'}", "--kind", "series", "--window", "8", "--steps", "2",
              "--batch-size", "16", "--hidden-size", "4", "--model", "recurrent-ae"]
    err = _ok(capsys, ["anomaly", "fit", *series, "--out", str(tmp_path / "det")])
    assert "genlab: note:" in err and "skipped non-numeric column 'date'" in err
    assert json.loads((tmp_path / "det" / "detector.json").read_text())["state"]["columns"] == ["a", "b"]
    err = _ok(capsys, ["anomaly", "fit", *series, "--columns", "b", "--out", str(tmp_path / "det2")])
    assert "skipped" not in err
    assert json.loads((tmp_path / "det2" / "detector.json").read_text())["state"]["columns"] == ["b"]
    assert "'date' is not numeric" in _error(capsys, ["anomaly", "fit", *series, "--columns", "a,date",
                                                      "--out", str(tmp_path / "det3")])
    # the training side reads the same file the same way
    err = _ok(capsys, ["train", "recurrent-ae", "--dataset", f"csv:{tmp_path / 'd.csv'}", "--window", "8",
                       "--hidden-size", "4", "--out", str(tmp_path / "run"), *TINY])
    assert "skipped non-numeric column 'date'" in err


def test_one_cell_rule_for_series_and_tables(tmp_path, capsys):
    _dated(tmp_path / "typo.csv", typo_row=51)
    _dated(tmp_path / "gap.csv", missing_row=7)
    for path, words in ((tmp_path / "typo.csv", "row 51, column 'b' is 'oops', not a number"),
                        (tmp_path / "gap.csv", "row 7, column 'b' is missing or NaN")):
        train = _error(capsys, ["train", "recurrent-ae", "--dataset", f"csv:{path}", "--window", "8", *TINY,
                                "--out", str(tmp_path / "r")])
        series = _error(capsys, ["anomaly", "fit", "--dataset", f"csv:{path}", "--kind", "series",
                                 "--out", str(tmp_path / "d")])
        table = _error(capsys, ["anomaly", "fit", "--dataset", f"csv:{path}", "--kind", "table",
                                "--out", str(tmp_path / "d")])
        for err in (train, series, table):
            assert words in err, err


def test_image_folder_given_as_a_table_or_series(tmp_path, capsys):
    (tmp_path / "imgs" / "a").mkdir(parents=True)
    for kind in ("table", "series"):
        err = _error(capsys, ["anomaly", "fit", "--dataset", str(tmp_path / "imgs"), "--kind", kind,
                              "--out", str(tmp_path / "d")])
        assert "is a directory" in err and "not found" not in err


# --- class names ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    root = tmp_path_factory.mktemp("shapes")
    rng = np.random.default_rng(0)
    for c in ("circle", "square"):
        (root / c).mkdir()
        for i in range(30):
            Image.fromarray((rng.random((8, 8)) * 255).astype(np.uint8)).save(root / c / f"{i}.png")
    return root


def test_folder_class_names_are_stored_and_usable(shapes, tmp_path, capsys):
    run = tmp_path / "vae"
    _ok(capsys, ["train", "vae", "--dataset", f"folder:{shapes}", "--out", str(run), *TINY, *AE])
    assert json.loads((run / "data_info.json").read_text())["classes"] == ["circle", "square"]
    _ok(capsys, ["edit", str(run), "--toward", "square", "--n", "2", "--fit", "40", "--out", str(tmp_path / "e.png")])
    _ok(capsys, ["edit", str(run), "--toward", "1", "--n", "2", "--fit", "40", "--out", str(tmp_path / "e1.png")])
    err = _error(capsys, ["edit", str(run), "--toward", "triangle"])
    assert "the classes are circle, square" in err
    cgan = tmp_path / "cgan"
    _ok(capsys, ["train", "cgan", "--dataset", f"folder:{shapes}", "--out", str(cgan), *TINY, *GAN])
    _ok(capsys, ["sample", str(cgan), "--label", "circle", "--n", "2", "--out", str(tmp_path / "c.npz")])
    with np.load(tmp_path / "c.npz") as z:
        assert z["y"].tolist() == [0, 0]


def test_a_detector_fitted_on_columns_scores_the_same_columns(tmp_path, capsys):
    _dated(tmp_path / "d.csv")
    det = tmp_path / "det"
    _ok(capsys, ["anomaly", "fit", "--dataset", f"csv:{tmp_path / 'd.csv'}", "--kind", "series", "--columns", "a",
                 "--window", "8", "--steps", "2", "--batch-size", "16", "--model", "recurrent-ae", "--hidden-size", "4",
                 "--out", str(det)])
    assert main(["anomaly", "score", str(det), "--input", f"csv:{tmp_path / 'd.csv'}",
                 "--out", str(tmp_path / "s.csv")]) == 0
    assert len((tmp_path / "s.csv").read_text().splitlines()) == 201


def test_output_paths_under_a_file_say_so(runs, tmp_path, capsys):
    (tmp_path / "f").write_text("x")
    for argv in (["evaluate", str(runs["ae"]), "--metrics", "recon", "--out", str(tmp_path / "f" / "m.json")],
                 ["train", "ae", "--dataset", "digits", "--out", str(tmp_path / "f" / "r"), *TINY],
                 ["anomaly", "fit", "--dataset", "digits", "--out", str(tmp_path / "f" / "d")],
                 ["embed", str(runs["ae"]), "--out", str(tmp_path / "f" / "e.npz")],
                 ["reconstruct", str(runs["ae"]), "--out", str(tmp_path / "f" / "r.png")]):
        err = _error(capsys, argv)
        assert f"{tmp_path / 'f'} is a file, not a folder" in err and "File exists" not in err, err


def test_conditional_grid_rows_are_named_when_classes_are_known(shapes, tmp_path, capsys):
    cgan = tmp_path / "cgan"
    _ok(capsys, ["train", "cgan", "--dataset", f"folder:{shapes}", "--out", str(cgan), *TINY, *GAN])
    _ok(capsys, ["sample", str(cgan), "--n", "8", "--out", str(tmp_path / "named.png")])
    _ok(capsys, ["sample", str(cgan), "--n", "8", "--nrow", "4", "--out", str(tmp_path / "plain.png")])
    named, plain = Image.open(tmp_path / "named.png"), Image.open(tmp_path / "plain.png")
    assert named.height == plain.height and named.width > plain.width + 20  # a column of row names
    left = np.asarray(named.convert("L"))[:, : named.width - plain.width]
    assert (left < 128).any()  # text is drawn there
