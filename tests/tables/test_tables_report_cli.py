"""Report metrics against hand-computed values; the synth CLI end to end and its bad inputs."""
from __future__ import annotations

import json

import numpy as np
import pytest

pd = pytest.importorskip("pandas")

from tables_helpers import TINY_CTGAN, mixed_frame  # noqa: E402

from genlab.cli import main  # noqa: E402
from genlab.tables import report as R  # noqa: E402


def test_column_shape_scores_by_hand():
    assert R.ks_statistic([1, 2, 3], [2, 3, 4]) == pytest.approx(1 / 3)  # at x = 1: F_a = 1/3, F_b = 0
    assert R.ks_statistic([1, 2], [5, 6]) == 1.0 and R.ks_statistic([1, 2, 3], [3, 2, 1]) == 0.0
    assert R.tv_distance(["a", "a", "b"], ["a", "b", "b"]) == pytest.approx(1 / 3)  # 1/2 (1/3 + 1/3)
    assert R.tv_distance(["a"], ["b"]) == 1.0


def test_missing_values_count_in_the_column_shape_score():
    nan = np.nan
    # no missing values: the plain KS statistic
    assert R.ks_with_missing([1, 2, 3], [2, 3, 4]) == pytest.approx(R.ks_statistic([1, 2, 3], [2, 3, 4]))
    # same numbers, 1/4 missing on one side only: the CDFs differ by 1/4 at "missing" and stay apart until x = 2
    assert R.ks_with_missing([nan, 1, 2, 3], [1, 2, 3]) == pytest.approx(1 / 4)
    # every value missing on the synthetic side: at x = 1 the real CDF is 1/4 + 3/4 * 1/3 = 1/2, the other 1
    assert R.ks_with_missing([nan, 1, 2, 3], [nan, nan]) == pytest.approx(3 / 4)
    assert R.ks_with_missing([nan], [nan, nan]) == 0.0 and R.ks_with_missing([1.0], []) == 1.0
    real = pd.DataFrame({"x": [1.0, nan, 2.0, 3.0], "y": [4.0, 1.0, 2.0, 3.0]})
    syn = pd.DataFrame({"x": [nan, nan, nan, nan], "y": [4.0, 1.0, 2.0, 3.0]})
    fid = R.fidelity(R.Columns({"x": "continuous", "y": "continuous"}, real), real, syn)
    assert fid["column_shapes"]["x"]["score"] == pytest.approx(1 / 4)  # 1 - KS: largest gap 3/4 (at x = 1)
    # no synthetic row has both values: its r counts as 0 (the real r, over rows 0, 2 and 3, is -0.5)
    r_real = np.corrcoef([1.0, 2.0, 3.0], [4.0, 2.0, 3.0])[0, 1]
    assert fid["column_pairs"][0]["score"] == pytest.approx(1 - abs(r_real) / 2)
    assert np.isfinite(fid["overall"])


def test_pair_trend_scores_by_hand():
    # real pairs: ax, ay, bx, bx -> shares .25 .25 .5; synthetic: ax, ax, by, bx -> .5 .25 .25 (+ ay 0, by .25)
    sim = R.contingency_similarity(["a", "a", "b", "b"], ["x", "y", "x", "x"], ["a", "a", "b", "b"], ["x", "x", "y", "x"])
    assert sim == pytest.approx(1 - 0.5 * (0.25 + 0.25 + 0.25 + 0.25))
    x = np.arange(10.0)
    assert R.correlation_similarity(x, x, x, -x) == pytest.approx(0.0)  # r = 1 vs r = -1
    assert R.correlation_similarity(x, 2 * x, x, x + 1) == pytest.approx(1.0)


def test_distances_by_hand():
    d = R.dcr(np.array([[0.0, 0.0], [3.0, 4.0]]), np.array([[1.0, 0.0], [3.0, 3.0]]))
    np.testing.assert_allclose(d, [1.0, 1.0])  # L1 to the closest reference row
    ref = pd.DataFrame({"n": [0.0, 10.0], "c": ["a", "b"]})
    cols = R.Columns({"n": "continuous", "c": "categorical"}, ref)
    a = cols.gower(pd.DataFrame({"n": [5.0], "c": ["a"]}))
    b = cols.gower(pd.DataFrame({"n": [0.0], "c": ["b"]}))
    assert R.dcr(a, b)[0] == pytest.approx((0.5 + 1.0) / 2)  # Gower: (|5 - 0| / 10 + mismatch 1) / 2 columns


def test_scores_of_a_perfect_copy_and_of_garbage():
    real = mixed_frame(200, seed=1)
    kinds = {"x": "continuous", "count": "integer", "colour": "categorical", "flag": "boolean", "day": "datetime",
             "score": "continuous", "grade": "categorical"}
    train, hold = real.iloc[:150].reset_index(drop=True), real.iloc[150:].reset_index(drop=True)
    cols = R.Columns(kinds, train)
    fid = R.fidelity(cols, train, train.copy())
    assert fid["overall"] == pytest.approx(1.0) and fid["column_shapes"]["colour"]["metric"] == "tv"
    priv = R.privacy(cols, train, train.copy(), hold)
    assert priv["exact_copies"] == 1.0 and priv["dcr_synthetic_median"] == 0.0
    assert priv["membership_inference_auc"] > 0.9  # training rows sit on synthetic rows: membership leaks
    garbage = train.copy()
    garbage["x"] = garbage["x"] + 100
    assert R.detection(cols, train, garbage)["auc"] > 0.95
    assert R.fidelity(cols, train, garbage)["column_shapes"]["x"]["score"] == pytest.approx(0.0)
    util = R.utility(cols, "colour", train, train.copy(), hold)
    assert util["ratio"] == pytest.approx(1.0) and util["metric"] == "macro_f1"


def test_fit_sample_report_through_the_cli(ctgan_dir, mixed_csv, tmp_path, capsys):
    saved = json.loads((ctgan_dir / "synthesizer.json").read_text())
    assert saved["transformer"]["columns"][0]["kind"] == "continuous" and saved["state"]["target"] == "colour"
    assert (ctgan_dir / "model" / "model.safetensors").is_file() and (ctgan_dir / "run" / "metrics.jsonl").is_file()
    rows = tmp_path / "rows.csv"
    assert main(["synth", "sample", str(ctgan_dir), "--n", "30", "--out", str(rows), "--condition", "grade=b"]) == 0
    got = pd.read_csv(rows)
    assert len(got) == 30 and (got["grade"] == "b").all() and list(got.columns) == list(mixed_frame().columns)
    out = tmp_path / "report"
    assert main(["synth", "report", str(ctgan_dir), "--real", f"csv:{mixed_csv}", "--out", str(out)]) == 0
    assert "fidelity" in capsys.readouterr().out
    def not_json(constant: str) -> None:
        raise AssertionError(f"report.json holds {constant}, which is not JSON")
    rep = json.loads((out / "report.json").read_text(), parse_constant=not_json)
    assert rep["rows"] == {"synthetic": 96, "real_train": 96, "real_holdout": 24}
    for key in ("fidelity", "detection", "utility", "privacy"):
        assert key in rep
    assert 0 <= rep["fidelity"]["overall"] <= 1 and 0 <= rep["detection"]["auc"] <= 1
    assert (out / "correlations.png").is_file() and len(list((out / "columns").glob("*.png"))) == 7
    page = (out / "report.html").read_text()
    assert page.count("data:image/png;base64,") == 8 and "Privacy" in page


def _fails(capsys, argv, message):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("genlab: error:") and message in err[0], err


def test_bad_tables_fail_with_one_line(tmp_path, capsys):
    frame = mixed_frame()
    bad = frame.copy()
    bad["empty"] = np.nan
    bad.to_csv(tmp_path / "empty.csv", index=False)
    _fails(capsys, ["synth", "fit", "--data", f"csv:{tmp_path / 'empty.csv'}", "--out", str(tmp_path / "a")],
           "column 'empty'")
    bad = frame.copy()
    bad["same"] = "only"
    bad.to_csv(tmp_path / "same.csv", index=False)
    _fails(capsys, ["synth", "fit", "--data", f"csv:{tmp_path / 'same.csv'}", "--out", str(tmp_path / "b")],
           "column 'same' of")
    frame.to_csv(tmp_path / "ok.csv", index=False)
    (tmp_path / "meta.json").write_text(json.dumps({"columns": {"colour": "categorical", "colur": "integer"}}))
    _fails(capsys, ["synth", "fit", "--data", f"csv:{tmp_path / 'ok.csv'}", "--out", str(tmp_path / "c"),
                    "--metadata", str(tmp_path / "meta.json")], "metadata names column 'colur'")
    (tmp_path / "meta2.json").write_text(json.dumps({"columns": {"colour": "text"}}))
    _fails(capsys, ["synth", "fit", "--data", f"csv:{tmp_path / 'ok.csv'}", "--out", str(tmp_path / "d"),
                    "--metadata", str(tmp_path / "meta2.json")], "kind 'text'")
    _fails(capsys, ["synth", "fit", "--data", "table:nope", "--out", str(tmp_path / "e")], "unknown table 'nope'")
    _fails(capsys, ["synth", "fit", "--data", "table:iris", "--out", str(tmp_path / "e"), "--spans", "1", "0"],
           "--spans is filled from the table")
    assert not any((tmp_path / d).exists() for d in "abcde")


def test_bad_requests_to_a_fitted_synthesizer(ctgan_dir, tmp_path, capsys):
    _fails(capsys, ["synth", "sample", str(ctgan_dir), "--n", "0"], "positive integer")
    _fails(capsys, ["synth", "sample", str(ctgan_dir), "--n", "5", "--condition", "colour=purple"],
           "never had the value 'purple'")
    _fails(capsys, ["synth", "sample", str(ctgan_dir), "--n", "5", "--condition", "x=1"], "'x' is continuous")
    _fails(capsys, ["synth", "sample", str(ctgan_dir), "--n", "5", "--condition", "hue=1"], "no column 'hue'")
    other = mixed_frame().drop(columns=["grade"])
    other.to_csv(tmp_path / "other.csv", index=False)
    _fails(capsys, ["synth", "report", str(ctgan_dir), "--real", f"csv:{tmp_path / 'other.csv'}", "--out",
                    str(tmp_path / "r")], "lacks grade")
    _fails(capsys, ["synth", "sample", str(tmp_path), "--n", "5"], "not a genlab synthesizer")
    _fails(capsys, ["synth", "fit", "--data", "table:iris", "--out", str(ctgan_dir), *TINY_CTGAN], "--overwrite")


def test_augment_measures_both_arms(tmp_path, capsys):
    frame = mixed_frame(200, seed=3)
    frame.to_csv(tmp_path / "m.csv", index=False)
    out = tmp_path / "aug.json"
    assert main(["augment", "--data", f"csv:{tmp_path / 'm.csv'}", "--label", "colour", "--n-real", "40",
                 "--n-synth", "30", "--seeds", "0", "--epochs", "2", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "| 40 | 30 |" in printed
    (r,) = json.loads(out.read_text())
    run = r["runs"][0]
    for key in ("real", "augmented", "synthetic_only"):
        assert 0 <= run[key] <= 1
    assert run["gain"] == pytest.approx(run["augmented"] - run["real"]) and r["test_rows"] == 60
    _fails(capsys, ["augment", "--data", f"csv:{tmp_path / 'm.csv'}", "--label", "x", "--epochs", "1"],
           "must be categorical or boolean")


def test_augment_images_with_a_conditional_model(capsys):
    for model in ("cvae", "cgan"):  # cgan: two phases, so a round needs two batches of the 20 images
        assert main(["augment", "--data", "digits", "--model", model, "--n-real", "20", "--n-synth", "20", "--seeds",
                     "0", "--gen-steps", "2", "--clf-steps", "2", "--test-limit", "50"]) == 0
        line = capsys.readouterr().out.strip().splitlines()[-1]
        assert line.startswith("| 20 | 20 | ") and line.count("|") == 6
    _fails(capsys, ["augment", "--data", "digits", "--model", "vae"], "invalid choice")
    _fails(capsys, ["augment", "--data", "digits", "--model", "ctgan"], "does not fit images")
    _fails(capsys, ["augment", "--data", "table:iris"], "need --label")


@pytest.mark.parametrize("command", [["sample", "RUN", "--n", "4"], ["evaluate", "RUN"], ["modes", "RUN"],
                                     ["sample", "DIR", "--n", "4"], ["evaluate", "DIR"]])
def test_image_commands_given_a_synthesizer_point_to_genlab_synth(ctgan_dir, command, capsys):
    """A synthesizer directory or its training run given to `genlab sample` / `evaluate` / `modes`: one line
    that names `genlab synth sample`, not a traceback or an unknown-dataset message."""
    argv = [str(ctgan_dir / "run") if a == "RUN" else str(ctgan_dir) if a == "DIR" else a for a in command]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("genlab: error: ") and "\n" not in err
    assert f"genlab synth sample {ctgan_dir}" in err
