"""genlab report / compare: self-contained HTML of runs, written at the end of every run, and the bad inputs."""
from __future__ import annotations

import base64
import json
import re
import shutil

import pytest

from genlab.cli import main
from genlab.runs.report import loss_series, svg_chart, write_report

PNG = b"\x89PNG\r\n\x1a\n"


def _error(capsys, argv):
    code = main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("genlab: error: "), err
    return err[0]


def _self_contained(text: str) -> list[bytes]:
    """The page needs nothing outside itself: no script, no link or src to a file or the network;
    returns its inlined PNGs (each a real PNG)."""
    assert "<script" not in text.lower()
    assert not re.search(r"""(src|href)=["'](?!data:)""", text), "a reference outside the page"
    pngs = [base64.b64decode(m) for m in re.findall(r'src="data:image/png;base64,([^"]+)"', text)]
    assert pngs and all(p.startswith(PNG) for p in pngs)
    return pngs


def test_a_run_writes_its_report_at_the_end(vae_run):
    text = (vae_run / "report.html").read_text()
    _self_contained(text)
    for part in ("Config", "Machine and precision", "Loss curves", "Samples over training",
                 "Reconstructions, interpolation, traversal", "Timing", "fp32", "<svg"):
        assert part in text, part
    # what is missing is said: this run was never evaluated
    assert "metrics.json: the run was not evaluated" in text
    assert json.loads((vae_run / "machine.json").read_text())["torch"]


def test_no_report_switch(tmp_path):
    out = tmp_path / "ae"
    assert main(["train", "ae", "--dataset", "digits", "--steps", "1", "--batch-size", "16", "--latent-dim", "3",
                 "--mlp-hidden", "8", "--device", "cpu", "--num-samples", "4", "--out", str(out),
                 "--no-report"]) == 0
    assert (out / "config.json").is_file() and not (out / "report.html").exists()


def test_report_command_metrics_modes_and_missing_parts(gan_run, tmp_path, capsys):
    run = tmp_path / "gan"
    shutil.copytree(gan_run, run)
    out = tmp_path / "r.html"
    assert main(["report", str(run), "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "genlab: note: missing: metrics.json" in err and str(out) in err
    text = out.read_text()
    assert "phase discriminator" in text and "phase generator" in text  # loss curves per phase
    assert "Reconstructions" not in text  # a GAN has no encoder: not listed as missing either
    # an evaluation and mode-monitor records appear; a line cut short by a kill is skipped
    (run / "metrics.json").write_text(json.dumps({
        "metrics": {"fd": 12.5, "kid": 0.01}, "extractor": {"id": "lenet5-digits-abc@sha256:0123"},
        "n_samples": 500, "n_real": 360, "split": "test"}))
    with (run / "metrics.jsonl").open("a") as f:
        f.write(json.dumps({"step": 2, "epoch": 1, "split": "modes", "classes_covered": 2,
                            "class_shares": [0.5, 0.5, 0, 0, 0, 0, 0, 0, 0, 0]}) + "\n{\"step\": 3, \"los")
    (run / "machine.json").unlink()
    assert main(["report", str(run)]) == 0
    text = (run / "report.html").read_text()
    _self_contained(text)
    assert "lenet5-digits-abc@sha256:0123" in text and ">500<" in text and ">360<" in text and "12.5" in text
    assert "Mode monitor" in text and "0.50" in text
    assert "machine.json: not written" in text and "metrics.json: the run" not in text


def test_compare_side_by_side(vae_run, gan_run, tmp_path, capsys):
    out = tmp_path / "c.html"
    assert main(["compare", str(vae_run), str(gan_run), "--out", str(out)]) == 0
    text = out.read_text()
    pngs = _self_contained(text)
    assert str(vae_run) in text and str(gan_run) in text and len(pngs) >= 4  # two grids, recon, interpolation
    assert "discriminator: loss" in text and "reconstructions" in text


def test_bad_inputs(vae_run, tmp_path, capsys):
    assert "is not a genlab run" in _error(capsys, ["report", str(tmp_path)])
    assert "run directory not found" in _error(capsys, ["report", str(tmp_path / "nope")])
    assert "unknown file type '.png'" in _error(capsys, ["report", str(vae_run), "--out", str(tmp_path / "r.png")])
    assert "at least two runs" in _error(capsys, ["compare", str(vae_run), "--out", str(tmp_path / "c.html")])
    assert "is not a genlab run" in _error(capsys, ["compare", str(vae_run), str(tmp_path),
                                                   "--out", str(tmp_path / "c.html")])
    assert "required" in _error(capsys, ["compare", str(vae_run), str(vae_run)])


def test_a_run_without_records_still_renders(vae_run, tmp_path):
    run = tmp_path / "bare"
    shutil.copytree(vae_run, run, ignore=shutil.ignore_patterns("samples", "metrics.jsonl"))
    path, missing = write_report(run)
    assert any(m.startswith("metrics.jsonl") for m in missing) and any(m.startswith("samples/") for m in missing)
    text = path.read_text()
    assert "Config" in text and "Reconstructions" in text


def test_loss_series_splits_phases_and_the_chart_draws_them():
    records = [{"step": 1, "split": "train", "discriminator/loss": 1.0, "generator/loss": 2.0, "lr": 0.1},
               {"step": 2, "split": "train", "discriminator/loss": 0.5, "generator/loss": float("nan")},
               {"step": 2, "split": "timing", "wall_time": 3.0}]
    series = loss_series(records)
    assert set(series) == {"discriminator", "generator"}
    assert series["discriminator"]["loss"]["train"] == [(1.0, 1.0), (2.0, 0.5)]
    svg = svg_chart(series["discriminator"]["loss"], "d")
    assert svg.count("<circle") == 2 and "<polyline" in svg
    assert svg_chart({"x": [(1.0, float("nan"))]}, "empty") == ""


@pytest.mark.parametrize("bad", ["{", "[1, 2]"])
def test_a_broken_metrics_json_is_listed(vae_run, tmp_path, bad):
    run = tmp_path / "r"
    shutil.copytree(vae_run, run)
    (run / "metrics.json").write_text(bad)
    path, missing = write_report(run)
    assert any("metrics.json" in m for m in missing), missing
    assert "Loss curves" in path.read_text()


def test_report_and_compare_on_table_clip_score_and_series_runs(clip_runs, score_run, series_run, tmp_path, capsys):
    """A `genlab synth fit` directory reports through its training run; compare takes runs of every family."""
    table = tmp_path / "tvae"
    assert main(["synth", "fit", "--data", "table:iris", "--model", "tvae", "--out", str(table), "--epochs", "1",
                 "--batch-size", "20", "--embedding-dim", "4", "--compress-dims", "8", "--decompress-dims", "8"]) == 0
    capsys.readouterr()
    assert main(["report", str(table), "--out", str(tmp_path / "t.html")]) == 0
    text = (tmp_path / "t.html").read_text()
    assert "<h2>Loss curves" in text and "could not be drawn" not in text
    assert f"its rows come from `genlab synth sample {table}`" in text
    assert f"quality report: `genlab synth report {table}`" in text
    assert main(["report", str(series_run), "--out", str(tmp_path / "s.html")]) == 0
    text = (tmp_path / "s.html").read_text()  # a sequence model: its samples and test sequences as charts
    assert "<h2>Sampled sequences" in text and text.count('class="chart"') >= 4 + 2 + 1  # + the loss chart
    assert "samples/:" not in text and "could not be drawn" not in text
    runs = [table, *clip_runs.values(), score_run, series_run]
    assert main(["compare", *map(str, runs), "--out", str(tmp_path / "c.html")]) == 0
    text = (tmp_path / "c.html").read_text()
    assert "genlab compare: 6 runs" in text
    for name in ("tvae", "video-vae", "video-gan", "video-ddpm", "ncsn", "recurrent-vae"):
        assert f"<th class=\"l\">{name}<br>" in text, name
    assert text.count("data:image/png") >= 4  # the clip and score runs' latest sample grids
