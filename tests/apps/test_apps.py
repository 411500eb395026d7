"""Applications: denoise, encode/decode (compression), embed — formulas by hand and the CLI."""
import json

import numpy as np
import pytest
import torch
from PIL import Image

import genlab
from genlab.apps.compress import dequantize, encode_images, png_bytes, quantize
from genlab.apps.denoise import denoise
from genlab.apps.embed import project_2d
from genlab.cli import main
from genlab.metrics.recon import summarize


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("apps") / "dae"
    genlab.train("denoising-ae", data="digits", out=out, model_config={"latent_dim": 6, "mlp_hidden": [32]},
                 train={"steps": 5, "batch_size": 32, "device": "cpu", "log_every": 0, "num_samples": 4})
    return out


@pytest.fixture(scope="module")
def digits_npz(tmp_path_factory):
    from sklearn.datasets import load_digits

    d = load_digits()
    path = tmp_path_factory.mktemp("in") / "digits.npz"
    np.savez(path, x=np.rint(d.images[:24] * 255 / 16).astype(np.uint8), y=d.target[:24])
    return path


def _error(capsys, argv):
    code = main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("genlab: error: "), err
    return err[0]


def test_quantization_round_trip():
    codes = torch.tensor([[0.0, -1.0, 5.0], [1.0, 1.0, 5.0], [0.25, 0.2, 5.0]])
    q = quantize(codes, "uint8")
    assert q["codes"].dtype == np.uint8 and q["codes"][:, 0].tolist() == [0, 255, 64]
    step = (np.array([1.0, 2.0, 1.0]) / 255)[:2]
    assert np.all(np.abs(dequantize(q).numpy() - codes.numpy())[:, :2] <= step / 2 + 1e-6)
    assert torch.equal(dequantize(q)[:, 2], codes[:, 2])  # a constant dimension is kept exactly
    half = quantize(codes, "float16")
    assert half["codes"].dtype == np.float16 and torch.equal(dequantize(half), codes.half().float())


def test_encode_report_sizes(run, digits_npz):
    model = genlab.load(run)
    x = torch.from_numpy(np.load(digits_npz)["x"]).float()[:, None] / 255
    arrays, report = encode_images(model, x, "uint8")
    assert report["code_bytes_per_image"] == 6 and report["raw_bytes_per_image"] == 64
    assert report["ratio_vs_raw"] == pytest.approx(64 / 6)
    assert report["png_bytes_per_image"] == pytest.approx(np.mean(png_bytes(x)))
    assert report["ratio_vs_png"] == pytest.approx(report["png_bytes_per_image"] / 6)
    with torch.no_grad():
        restored = model.decode(dequantize(arrays))
    mse = ((torch.round(restored * 255) - torch.round(x * 255)) ** 2).flatten(1).mean(1)
    assert report["psnr"] == pytest.approx(float((10 * torch.log10(255**2 / mse)).mean()), rel=1e-4)
    assert all(s > 0 for s in png_bytes(x[:2]))


def test_denoise_metrics(run):
    model = genlab.load(run)
    clean = torch.rand(5, 1, 8, 8)
    noisy = (clean + 0.3 * torch.randn_like(clean)).clamp(0, 1)
    result = denoise(model, noisy, clean, batch_size=2)
    assert result.before == summarize(noisy, clean)
    assert result.after == summarize(result.denoised, clean)
    assert torch.allclose(result.denoised, model.reconstruct(noisy))
    assert denoise(model, noisy).before is None


def test_project_2d():
    codes = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    assert torch.equal(project_2d(codes)[0], codes)
    t = torch.linspace(-1, 1, 50)[:, None]
    line = torch.cat([t, 2 * t, -t, torch.zeros_like(t)], 1)  # all variance along one direction
    points, how = project_2d(line)
    assert points.shape == (50, 2) and torch.allclose(points[:, 1], torch.zeros(50), atol=1e-5)
    assert torch.allclose(points[:, 0].abs(), (t[:, 0] * 6**0.5).abs(), atol=1e-5) and "100%" in how


def test_cli_denoise_encode_decode_embed(run, digits_npz, tmp_path, capsys):
    out = tmp_path / "den"
    assert main(["denoise", str(run), "--input", str(digits_npz), "--add-noise", "gaussian:0.5", "--out", str(out)]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["images"] == 24 and report["before"]["psnr"] < 15 and "ssim" in report["after"]
    assert (out / "comparison.png").is_file() and (out / "00023.png").is_file()
    folder = tmp_path / "pngs"  # a folder of images works too (no references: no metrics)
    folder.mkdir()
    for i in range(3):
        Image.fromarray(np.full((8, 8), 40 * i, np.uint8)).save(folder / f"im{i}.png")
    assert main(["denoise", str(run), "--input", str(folder), "--out", str(tmp_path / "den2")]) == 0
    assert (tmp_path / "den2" / "im2.png").is_file()
    capsys.readouterr()
    assert main(["encode", str(run), "--codec", "uint8", "--out", str(tmp_path / "c.npz")]) == 0
    rep = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert rep["code_bytes_per_image"] == 6 and rep["codec"] == "uint8"
    assert main(["decode", str(run), "--codes", str(tmp_path / "c.npz"), "--out", str(tmp_path / "d.npz")]) == 0
    assert np.load(tmp_path / "d.npz")["x"].shape == (rep["images"], 8, 8, 1)
    assert main(["embed", str(run), "--out", str(tmp_path / "e.npz"), "--n", "50"]) == 0
    e = np.load(tmp_path / "e.npz")
    assert e["codes"].shape == (50, 6) and e["y"].shape == (50,) and (tmp_path / "e.png").is_file()


def test_cli_bad_inputs(run, digits_npz, tmp_path, capsys):
    assert "input not found" in _error(capsys, ["denoise", str(run), "--input", str(tmp_path / "no"), "--out", str(tmp_path)])
    np.savez(tmp_path / "big.npz", x=np.zeros((2, 16, 16), np.uint8))
    assert "model takes (1, 8, 8)" in _error(capsys, ["denoise", str(run), "--input", str(tmp_path / "big.npz"),
                                                      "--out", str(tmp_path / "o")])
    assert "KIND:LEVEL" in _error(capsys, ["denoise", str(run), "--input", str(digits_npz), "--add-noise", "blur:1",
                                           "--out", str(tmp_path / "o")])
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    assert "code file" in _error(capsys, ["decode", str(run), "--codes", str(tmp_path / "junk.npz")])
    other = tmp_path / "ae"
    genlab.train("ae", data="digits", out=other, model_config={"latent_dim": 3, "mlp_hidden": [8]},
                 train={"steps": 1, "batch_size": 32, "device": "cpu", "log_every": 0, "num_samples": 4})
    assert main(["encode", str(other), "--out", str(tmp_path / "c3.npz"), "--n", "4"]) == 0
    capsys.readouterr()
    assert "3-dimensional codes" in _error(capsys, ["decode", str(run), "--codes", str(tmp_path / "c3.npz")])
    assert "--n must be at least 1" in _error(capsys, ["embed", str(run), "--n", "0"])
    assert "holds no saved model" in _error(capsys, ["embed", str(tmp_path)])
