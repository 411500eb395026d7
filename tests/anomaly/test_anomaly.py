"""Anomaly detection: table encoding, the detector's fit / score / predict / save / load, scores, series, CLI."""
import csv
import json

import numpy as np
import pytest
import torch

from genlab.anomaly import AnomalyDetector, Table, TableEncoder, as_table, item_scores
from genlab.anomaly.scores import check_score
from genlab.cli import main
from genlab.config import DataConfig
from genlab.data import load_splits
from genlab.errors import CheckpointError, ConfigError, DataError
from genlab.formats import FORMAT

FAST = {"steps": 60, "batch_size": 32, "device": "cpu"}
SMALL_AE = {"architecture": "mlp", "mlp_hidden": [32], "latent_dim": 6}


@pytest.fixture(scope="module")
def digits():
    return load_splits(DataConfig("digits"))


@pytest.fixture(scope="module")
def zero_detector(digits):
    """An MLP autoencoder fitted on the digit 0 of sklearn's digits."""
    det = AnomalyDetector(model="ae", model_config=SMALL_AE, train={**FAST, "steps": 150})
    return det.fit(digits.train.images(slice(None)), labels=digits.train.y, normal_classes=[0], source="digits")


def _one_line_error(capsys, argv, needle):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("genlab: error:") and needle in err[0], err


# --- tables -------------------------------------------------------------------------------------
def test_table_encoder_scales_numbers_and_one_hot_encodes_categories():
    train = Table(["x", "colour"], np.array([["1", "red"], ["3", "blue"], ["2", "red"]], dtype=object))
    enc = TableEncoder().fit(train)
    assert enc.feature_names == ["x", "colour=blue", "colour=red"]
    test = Table(["x", "colour"], np.array([["2", "blue"], ["5", "green"]], dtype=object))
    np.testing.assert_allclose(enc.transform(test), [[0.5, 1, 0], [2.0, 0, 0]])  # out of range, unseen category
    again = TableEncoder.from_dict(json.loads(json.dumps(enc.to_dict())))
    np.testing.assert_array_equal(again.transform(test), enc.transform(test))


def test_table_encoder_refuses_other_columns_nans_and_text_in_numbers():
    enc = TableEncoder().fit(Table(["a", "b"], np.array([["1", "2"], ["3", "4"]], dtype=object), "train.csv"))
    with pytest.raises(DataError, match="missing b; unexpected c"):
        enc.transform(Table(["a", "c"], np.array([["1", "2"]], dtype=object), "new.csv"))
    with pytest.raises(DataError, match="row 2, column 'b' is missing or NaN"):
        enc.transform(Table(["a", "b"], np.array([["1", "2"], ["3", "nan"]], dtype=object), "new.csv"))
    with pytest.raises(DataError, match="column 'a' is 'x', but the column was numeric"):
        enc.transform(Table(["a", "b"], np.array([["x", "2"]], dtype=object), "new.csv"))
    with pytest.raises(DataError, match="missing or NaN"):
        TableEncoder().fit(Table(["a"], np.array([[""]], dtype=object)))


def test_as_table_reads_csv_arrays_and_sklearn(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("a,kind\n1.5,x\n2,y\n")
    t = as_table(f"csv:{path}")
    assert t.columns == ["a", "kind"] and len(t) == 2
    assert as_table(np.zeros((3, 2))).columns == ["0", "1"]
    bc = as_table("sklearn:breast_cancer")
    assert len(bc) == 569 and bc.columns[-1] == "target"


# --- the detector on images ---------------------------------------------------------------------
def test_detector_separates_the_normal_digit_and_calibrates_its_threshold(zero_detector, digits):
    from sklearn.metrics import roc_auc_score

    x, y = digits.test.images(slice(None)), digits.test.y.numpy()
    scores = zero_detector.score(x)
    assert scores.shape == (len(x),) and scores.dtype == np.float64
    assert roc_auc_score(y != 0, scores) > 0.9
    flags = zero_detector.predict(x)
    assert set(np.unique(flags)) <= {0, 1}
    np.testing.assert_array_equal(flags, scores > zero_detector.threshold)
    assert flags[y != 0].mean() > flags[y == 0].mean()
    st = zero_detector.state
    assert st.normal_classes == [0] and st.threshold_from == "held-out normal data" and st.score == "mse"


def test_save_and_load_give_the_same_scores(zero_detector, digits, tmp_path):
    x = digits.test.images(slice(0, 40))
    zero_detector.save(tmp_path / "det")
    again = AnomalyDetector.load(tmp_path / "det")
    np.testing.assert_allclose(again.score(x), zero_detector.score(x), rtol=1e-6)
    assert again.threshold == zero_detector.threshold
    with pytest.raises(ConfigError, match="already exists"):
        zero_detector.save(tmp_path / "det")
    zero_detector.save(tmp_path / "det", overwrite=True)
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "f").write_text("x")
    with pytest.raises(ConfigError, match="not a genlab detector"):
        zero_detector.save(tmp_path / "junk", overwrite=True)


def test_contamination_sets_the_threshold_from_training_scores(digits):
    x = digits.train.images(slice(0, 300))
    det = AnomalyDetector(model="ae", model_config=SMALL_AE, train=FAST, contamination=0.1).fit(x)
    assert det.state.threshold_from == "contamination"
    assert abs(det.predict(x).mean() - 0.1) < 0.04


def test_wrong_image_shapes_and_ranges_are_refused(zero_detector):
    with pytest.raises(DataError, match=r"images of shape \(1, 10, 10\).*fitted on \(1, 8, 8\)"):
        zero_detector.score(torch.rand(2, 1, 10, 10))
    with pytest.raises(DataError, match=r"must be in \[0, 1\]"):
        zero_detector.score(torch.full((2, 1, 8, 8), 3.0))
    with pytest.raises(DataError, match="NaN"):
        zero_detector.score(torch.full((2, 1, 8, 8), float("nan")))
    with pytest.raises(ConfigError, match="not fitted"):
        AnomalyDetector().score(torch.rand(2, 1, 8, 8))


@pytest.mark.parametrize("model,score", [("vae", "elbo"), ("vae", "nll"), ("vae", "mse"), ("gan", "disc"), ("gan", "latent")])
def test_every_score_ranks_and_repeats(model, score, digits):
    cfg = {"vae": {"architecture": "mlp", "mlp_hidden": [32], "latent_dim": 4},
           "gan": {"g_hidden": [32], "d_hidden": [32], "noise_dim": 8}}[model]
    det = AnomalyDetector(model=model, model_config=cfg, score=score, train=FAST, nll_k=8, latent_steps=10)
    det.fit(digits.train.images(slice(0, 200)))
    x = digits.test.images(slice(0, 20))
    a, b = det.score(x), det.score(x)
    assert a.shape == (20,) and np.isfinite(a).all()
    np.testing.assert_allclose(a, b)  # stochastic scores are seeded
    assert det.state.score == score


@pytest.mark.parametrize("score", ["elbo", "nll", "bce"])
def test_vae_scores_rank_the_other_digits_higher(score, digits):
    from sklearn.metrics import roc_auc_score

    det = AnomalyDetector(model="vae", model_config={"architecture": "mlp", "mlp_hidden": [32], "latent_dim": 4},
                          score=score, train={**FAST, "steps": 200}, nll_k=8)
    det.fit(digits.train.images(slice(None)), labels=digits.train.y, normal_classes=[0])
    y = digits.test.y.numpy()
    assert roc_auc_score(y != 0, det.score(digits.test.images(slice(None)))) > 0.9


def test_scores_a_model_cannot_give_are_refused(digits):
    from genlab import registry

    cgan = registry.build("cgan", {"data_shape": (1, 8, 8), "num_classes": 10, "g_widths": [8], "d_widths": [8]})
    with pytest.raises(ConfigError, match="conditional"):
        check_score(cgan, "disc")
    with pytest.raises(ConfigError, match="conditional"):
        check_score(cgan, "latent")
    ae = registry.build("ae", {"data_shape": (1, 8, 8), **SMALL_AE})
    with pytest.raises(ConfigError, match="cannot give the 'elbo' score"):
        check_score(ae, "elbo")
    with pytest.raises(ConfigError, match="needs a GAN"):
        item_scores(ae, torch.rand(2, 1, 8, 8), "latent")


def test_a_score_the_model_cannot_give_is_refused_before_training(digits, monkeypatch):
    import genlab.training as training

    monkeypatch.setattr(training, "fit", lambda *a, **k: pytest.fail("trained before checking the score"))
    x = digits.train.images(slice(0, 50))
    with pytest.raises(ConfigError, match="cannot give the 'mse' score"):
        AnomalyDetector(model="ddpm", score="mse").fit(x)
    with pytest.raises(ConfigError, match="needs a GAN"):
        AnomalyDetector(model="vae", score="disc").fit(x)
    with pytest.raises(ConfigError, match="'bce' score needs inputs in \\[0, 1\\]"):
        AnomalyDetector(score="bce").fit(np.random.default_rng(0).normal(size=(50, 3)))


def test_numpy_class_numbers_save(digits, tmp_path):
    det = AnomalyDetector(model="ae", model_config=SMALL_AE, train={**FAST, "steps": 5})
    det.fit(digits.train.images(slice(None)), labels=digits.train.y.numpy(), normal_classes=list(np.array([0, 1])))
    det.save(tmp_path / "d")
    assert AnomalyDetector.load(tmp_path / "d").state.normal_classes == [0, 1]


# --- tables and series through the detector -----------------------------------------------------
def test_table_detector_with_a_label_column(tmp_path):
    rng = np.random.default_rng(0)
    rows = [[f"{v:.4f}", f"{v * 2 + rng.normal(0, 0.05):.4f}", "a" if v < 0.5 else "b", "normal"]
            for v in rng.uniform(0, 1, 300)]
    rows += [["0.5", "3.0", "a", "fraud"], ["0.1", "-2.0", "b", "fraud"]]
    path = tmp_path / "t.csv"
    with open(path, "w", newline="") as fh:
        csv.writer(fh).writerows([["x", "y", "group", "label"], *rows])
    det = AnomalyDetector(train={**FAST, "steps": 200})
    det.fit(f"csv:{path}", label_column="label", normal_values=["normal"])
    assert det.state.model == "ae" and det.encoder.feature_names == ["x", "y", "group=a", "group=b"]
    scores = det.score(f"csv:{path}")  # the label column is dropped when present
    assert scores[-2:].min() > np.quantile(scores[:-2], 0.95)
    det.save(tmp_path / "det")
    again = AnomalyDetector.load(tmp_path / "det")
    np.testing.assert_allclose(again.score(f"csv:{path}"), scores, rtol=1e-6)
    assert again.encoder.to_dict() == det.encoder.to_dict() and again.threshold == det.threshold


def test_sklearn_tables_have_integer_class_labels():
    assert set(as_table("sklearn:breast_cancer").column("target")) == {"0", "1"}


def test_series_detector_scores_steps_and_finds_a_spike(tmp_path):
    t = np.arange(600)
    series = np.sin(2 * np.pi * t / 25) + np.random.default_rng(0).normal(0, 0.05, len(t))
    det = AnomalyDetector(model="recurrent-ae", model_config={"hidden_size": 16, "latent_dim": 4}, window=16, stride=2,
                          train={**FAST, "steps": 150})
    det.fit(series)
    test = np.sin(2 * np.pi * t[:200] / 25)
    test[120] += 4.0
    steps = det.score_steps(test)
    assert steps.shape == (200,) and 115 <= int(np.argmax(steps)) <= 125
    assert det.predict_steps(test)[120] == 1
    assert det.score(test).shape == (200 - 16 + 1,)
    with pytest.raises(DataError, match="NaN"):
        det.score_steps(np.full(50, np.nan))
    with pytest.raises(DataError, match="2 columns, but the detector was fitted on 1"):
        det.score_steps(np.zeros((50, 2)))
    det.save(tmp_path / "det")
    again = AnomalyDetector.load(tmp_path / "det")
    np.testing.assert_allclose(again.score_steps(test), steps, rtol=1e-5)
    assert again.state.step_threshold == det.state.step_threshold and again.state.mean == det.state.mean


def test_a_series_too_short_for_a_calibrated_threshold_is_refused():
    with pytest.raises(DataError, match="too few for a window of 16"):
        AnomalyDetector(model="recurrent-ae", window=16, train=FAST).fit(np.sin(np.arange(60.0)))


def test_cli_series_checks_column_names(tmp_path, capsys):
    t = np.arange(300)
    rows = "".join(f"{np.sin(i / 4):.4f},{np.cos(i / 4):.4f},0\n" for i in t)
    (tmp_path / "a.csv").write_text("x,y,bad\n" + rows)
    (tmp_path / "b.csv").write_text("y,x,bad\n" + rows)
    (tmp_path / "c.csv").write_text("x,y,bad\n" + rows.replace(",0\n", ",no\n"))
    det = tmp_path / "det"
    assert main(["anomaly", "fit", "--dataset", f"csv:{tmp_path / 'a.csv'}", "--kind", "series", "--label-column", "bad",
                 "--window", "12", "--steps", "20", "--batch-size", "16",
                 "--out", str(det)]) == 0
    capsys.readouterr()
    assert main(["anomaly", "score", str(det), "--input", str(tmp_path / "a.csv"), "--out", str(tmp_path / "s.csv")]) == 0
    _one_line_error(capsys, ["anomaly", "score", str(det), "--input", str(tmp_path / "b.csv")], "same names, same order")
    _one_line_error(capsys, ["anomaly", "score", str(det), "--input", str(tmp_path / "c.csv")], "must hold 0 (normal) or 1")


# --- the command line ---------------------------------------------------------------------------
def test_cli_fit_and_score_images_with_plots(tmp_path, capsys):
    det = tmp_path / "det"
    assert main(["anomaly", "fit", "--dataset", "digits", "--normal-class", "0", "--model", "ae", "--mlp-hidden", "32",
                 "--latent-dim", "6", "--steps", "100", "--batch-size", "32", "--out", str(det)]) == 0
    out = tmp_path / "s" / "scores.csv"
    assert main(["anomaly", "score", str(det), "--input", "digits", "--out", str(out)]) == 0
    assert "ROC AUC" in capsys.readouterr().out
    rows = list(csv.DictReader(open(out)))
    assert len(rows) == len(load_splits(DataConfig("digits")).test) and set(rows[0]) == {"item", "score", "flag", "anomaly"}
    assert (tmp_path / "s" / "scores_hist.png").stat().st_size > 0 and (tmp_path / "s" / "scores_roc.png").is_file()
    summary = json.loads((tmp_path / "s" / "scores_summary.json").read_text())
    assert summary["roc_auc"] > 0.8
    np.savez(tmp_path / "wrong.npz", x=np.zeros((3, 10, 10), np.uint8))
    _one_line_error(capsys, ["anomaly", "score", str(det), "--input", str(tmp_path / "wrong.npz")], "(1, 10, 10)")
    _one_line_error(capsys, ["anomaly", "score", str(tmp_path / "nothing"), "--input", "digits"], "not a genlab anomaly detector")
    _one_line_error(capsys, ["anomaly", "fit", "--dataset", "digits", "--out", str(det)], "already exists")


def test_cli_table_bad_inputs(tmp_path, capsys):
    good, other, nan = tmp_path / "good.csv", tmp_path / "other.csv", tmp_path / "nan.csv"
    good.write_text("a,b,c\n" + "".join(f"{i % 7},{i % 5},{'xy'[i % 2]}\n" for i in range(60)))
    other.write_text("a,z,c\n1,2,x\n")
    nan.write_text("a,b,c\n1,,x\n")
    det = tmp_path / "det"
    assert main(["anomaly", "fit", "--dataset", f"csv:{good}", "--steps", "20", "--batch-size", "16", "--out", str(det)]) == 0
    capsys.readouterr()
    assert main(["anomaly", "score", str(det), "--input", str(good), "--out", str(tmp_path / "s.csv")]) == 0
    _one_line_error(capsys, ["anomaly", "score", str(det), "--input", str(other)], "other columns than the detector")
    _one_line_error(capsys, ["anomaly", "score", str(det), "--input", str(nan)], "row 1, column 'b' is missing or NaN")
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("a,b,c\n1,2,x\n3,4\n")
    _one_line_error(capsys, ["anomaly", "score", str(det), "--input", str(ragged)], "row 3 has 2 cells, the first row has 3")
    _one_line_error(capsys, ["anomaly", "fit", "--dataset", f"csv:{nan}", "--out", str(tmp_path / "d2")], "missing or NaN")
    _one_line_error(capsys, ["anomaly", "fit", "--dataset", f"csv:{good}", "--normal-value", "x", "--out",
                             str(tmp_path / "d3")], "--normal-value needs --label-column")
    # a label column the detector was not fitted with: dropped from the features, used as truth
    labelled = tmp_path / "labelled.csv"
    labelled.write_text("a,b,c,kind\n" + "".join(f"{i % 7},{i % 5},{'xy'[i % 2]},{'ok' if i % 9 else 'bad'}\n"
                                                for i in range(40)))
    assert main(["anomaly", "score", str(det), "--input", str(labelled), "--label-column", "kind", "--normal-value", "ok",
                 "--out", str(tmp_path / "l.csv")]) == 0
    assert (tmp_path / "l_roc.png").is_file()
    assert not (tmp_path / "d2").exists() and not (tmp_path / "d3").exists()


# --- detector.json: versioned like the other saved files ----------------------------------------
def test_detector_file_is_stamped_and_older_files_load(zero_detector, digits, tmp_path):
    zero_detector.save(tmp_path / "det")
    path = tmp_path / "det" / "detector.json"
    saved = json.loads(path.read_text())
    assert saved["format"] == FORMAT and "genlab" in saved and saved["state"]["normal_classes"] == [0]
    # the layout genlab wrote before the stamp: format 1, no genlab key, only the keys fit had set
    old = {"format": 1, "kind": saved["kind"], "config": saved["config"], "table_encoder": None,
           "state": {k: v for k, v in saved["state"].items() if v is not None}}
    path.write_text(json.dumps(old))
    again = AnomalyDetector.load(tmp_path / "det")
    assert again.state == zero_detector.state and again.threshold == zero_detector.threshold
    x = digits.test.images(slice(0, 8))
    np.testing.assert_allclose(again.score(x), zero_detector.score(x), rtol=1e-6)
    path.write_text(json.dumps({**old, "state": {**old["state"], "treshold": 1.0}}))
    with pytest.raises(CheckpointError, match=r"unknown key 'treshold' in state.*did you mean 'threshold'"):
        AnomalyDetector.load(tmp_path / "det")
    path.write_text(json.dumps({**old, "format": 99, "genlab": "9.0"}))
    with pytest.raises(CheckpointError, match="format 99, written by genlab 9.0"):
        AnomalyDetector.load(tmp_path / "det")


def test_gan_scores_are_refused_for_a_conditional_gan_class_before_training():
    from genlab import registry

    with pytest.raises(ConfigError, match="'cgan' is conditional"):
        check_score(registry.get("cgan").model_class, "disc")
    with pytest.raises(ConfigError, match="has no log_likelihood"):
        check_score(registry.get("ae").model_class, "nll")
    check_score(registry.get("vae").model_class, "nll")


@pytest.mark.parametrize("flag", ["--report", "--no-report", "--tensorboard", "--sample-every=2",
                                  "--checkpoint-every=5", "--mode-check=on", "--num-samples=16"])
def test_cli_fit_does_not_offer_what_only_a_run_directory_uses(flag, tmp_path, capsys):
    # A detector trains in memory: there is no run whose report, grids or checkpoints these would set.
    code = main(["anomaly", "fit", "--dataset", "digits", "--normal-class", "0", "--out", str(tmp_path / "d"), flag])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.splitlines() == [err] and "unrecognized arguments" in err and flag.split("=")[0] in err
    assert not (tmp_path / "d").exists()
