"""`genlab evaluate` and `genlab bench` on tiny runs, including the bad inputs."""
import json

import pytest

import genlab
from genlab.cli import main
from genlab.errors import ConfigError
from genlab.metrics import evaluate_model

TRAIN = {"steps": 4, "batch_size": 32, "device": "cpu", "log_every": 0, "num_samples": 4, "seed": 0}


@pytest.fixture
def vae_run(tmp_path):
    run = tmp_path / "vae"
    genlab.train("vae", out=run, data="digits", model_config={"latent_dim": 4, "conv_widths": [8]}, train=TRAIN)
    return run


def _one_line_error(capsys, code):
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("genlab: error:") and len(err.splitlines()) == 1, err
    return err


def test_evaluate_writes_metrics_json_and_a_table(vae_run, tiny_extractor, capsys):
    code = main(["evaluate", str(vae_run), "--metrics", "fid,kid,prdc,is,classes,nll,recon", "--n", "200",
                 "--kid-subset-size", "100", "--kid-subsets", "5", "--nll-k", "4", "--nll-n", "16"])
    assert code == 0
    out = capsys.readouterr().out
    assert "fd" in out and tiny_extractor.id in out
    result = json.loads((vae_run / "metrics.json").read_text())
    m = result["metrics"]
    assert set(m) >= {"fd", "kid", "precision", "recall", "density", "coverage", "inception_score", "class_coverage",
                      "class_kl", "nll_nats", "nll_bits_per_dim", "mse", "psnr", "ssim"}
    assert result["extractor"]["id"] == tiny_extractor.id and result["n_samples"] == 200
    assert result["n_real"] == 180 and result["split"] == "test"  # digits' test split has 180 images
    assert m["fd"] > 0 and 0 <= m["precision"] <= 1 and m["nll_nats"] > 0 and 1 <= m["inception_score"] <= 10


def test_evaluate_bad_inputs(vae_run, tiny_extractor, tmp_path, capsys):
    err = _one_line_error(capsys, main(["evaluate", str(vae_run), "--n", "50", "--metrics", "kid"]))
    assert "KID subset size 1000 is larger than the sample" in err
    err = _one_line_error(capsys, main(["evaluate", str(vae_run), "--metrics", "fdi"]))
    assert "unknown metric 'fdi'" in err and "did you mean 'fid'" in err
    err = _one_line_error(capsys, main(["evaluate", str(tmp_path / "nothing")]))
    assert "not found" in err
    clf = tmp_path / "clf"
    genlab.train("classifier", out=clf, data="digits", train=TRAIN)
    capsys.readouterr()
    err = _one_line_error(capsys, main(["evaluate", str(clf), "--metrics", "fid", "--n", "50"]))
    assert "cannot sample" in err
    gan = tmp_path / "twonet"
    genlab.train("test-twonet", out=gan, data="digits", train=TRAIN)
    capsys.readouterr()
    err = _one_line_error(capsys, main(["evaluate", str(gan), "--metrics", "nll", "--n", "50"]))
    assert "no log-likelihood" in err
    err = _one_line_error(capsys, main(["evaluate", str(gan), "--metrics", "recon", "--n", "50"]))
    assert "no encoder" in err


def test_samples_of_the_wrong_shape_are_refused(tiny_extractor):
    model = genlab.registry.build("vae", {"data_shape": [1, 16, 16], "latent_dim": 2, "conv_widths": [4]})
    with pytest.raises(ConfigError, match="samples of 'vae' are 1x16x16 but the feature extractor .* takes 1x8x8"):
        evaluate_model(model, "digits", metrics="fid", n=20, extractor=tiny_extractor)


def test_bench_quick_writes_only_its_block(tmp_path, tiny_extractor, capsys):
    doc = tmp_path / "benchmarks.md"
    doc.write_text("# Benchmarks\n\n## someone else's section\n\nkeep me\n")
    args = ["bench", "--quick", "--models", "vae", "--dataset", "digits", "--n", "100", "--kid-subset-size", "50",
            "--nll-k", "2", "--nll-n", "8", "--out-dir", str(tmp_path / "runs"), "--doc", str(doc), "--precision", "fp32"]
    assert main(args) == 0
    text = doc.read_text()
    assert text.startswith("# Benchmarks\n\n## someone else's section\n\nkeep me\n")
    block = text.split("<!-- genlab-bench:start -->")[1].split("<!-- genlab-bench:end -->")[0]
    row = [line for line in block.splitlines() if line.startswith("| vae |")]
    assert len(row) == 1 and "failed" not in row[0] and tiny_extractor.id in block
    assert "1 epochs or 60 CPU-s of training" in block and "genlab bench --quick" in block
    assert (tmp_path / "img" / "bench_vae.png").is_file()
    doc.write_text(text + "\n## a later section\n")
    assert main(args) == 0
    again = doc.read_text()
    assert again.count("<!-- genlab-bench:start -->") == 1 and again.endswith("\n## a later section\n")


def test_bench_lists_generative_models_only():
    from genlab.runs.bench import bench_models

    names = bench_models()
    assert "vae" in names and "classifier" not in names and not any(n.startswith("test-") for n in names)


def test_bench_refuses_a_classifier(capsys, tmp_path):
    err = _one_line_error(capsys, main(["bench", "--models", "classifier", "--doc", str(tmp_path / "b.md")]))
    assert "does not generate" in err
