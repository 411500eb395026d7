"""genlab export: every declared part of every registered model exports to ONNX (checked by onnxruntime)
and TorchScript; undeclared parts are refused with a reason; the CLI's bad inputs."""
from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch

from genlab import registry
from genlab.cli import main
from genlab.config import field_names
from genlab.runs.export import ATOL, PARTS, RTOL, ExportError, export_part, parts_to_export, refusal

onnxruntime = pytest.importorskip("onnxruntime", reason="the export extra (onnx, onnxruntime) is not installed")

MODELS = [n for n in registry.names() if not n.startswith("test-")]


def _build(name):
    entry = registry.get(name)
    names = field_names(entry.config_class)
    fields = {"data_shape": [1, 8, 8]} if "data_shape" in names else {}
    if entry.model_class.data_kinds == ("clips",):  # clip models: 3-frame 8x8 clips, small networks
        fields = {"data_shape": [3, 1, 8, 8]}
        fields.update({k: v for k, v in {"conv_widths": [4], "frame_features": 8, "hidden_size": 8,
                                         "latent_dim": 4, "content_dim": 4, "motion_dim": 3, "motion_noise": 2,
                                         "g_widths": [4], "d_widths": [4], "v_widths": [4], "width": 8,
                                         "width_mults": [1], "groups": 4, "heads": 2,
                                         "diffusion_steps": 10, "sample_steps": 2}.items() if k in names})
    if "num_classes" in names:
        fields["num_classes"] = 3
    if "timesteps" in names:  # a small U-Net: the export path is the same, the test 5x faster
        fields.update(timesteps=10, sample_steps=2)
    if "norm_groups" in names:  # diffusion and score U-Nets
        fields.update(base_width=8, width_mults=[1, 2], norm_groups=4, attention_size=4)
    small = {"g_width": 8, "d_width": 8, "n_blocks": 1, "width": 8, "d_hidden": 8, "channel_base": 64,
             "channel_max": 16, "mapping_layers": 2, "w_dim": 16, "latent_dim": 16}  # translators, style GANs
    if "channel_base" in names or "a_channels" in names:
        fields.update({k: v for k, v in small.items() if k in names})
    torch.manual_seed(0)
    return registry.build(name, fields).eval()


def _error(capsys, argv):
    code = main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("genlab: error: "), err
    return err[0]


@pytest.mark.parametrize("name", MODELS)
def test_every_declared_part_exports_and_every_other_is_refused(name, tmp_path):
    cls = registry.get(name).model_class
    for part in PARTS:
        why = refusal(cls, part)
        assert (why is None) == (part in cls.export_parts), (part, why)
        assert why is None or len(why) > 10
    assert (refusal(cls, "rows") is None) == cls.tabular  # table models export decoded rows (tests below)
    if not cls.export_parts or cls.tabular:
        return
    model = _build(name)
    with torch.no_grad():  # move every weight off its initialisation: a zero-initialised last layer (the U-Nets
        gen = torch.Generator().manual_seed(0)  # of diffusion and score models) would make the check blind
        for p in model.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=gen))
    for part in cls.export_parts:
        for fmt, suffix in (("onnx", ".onnx"), ("torchscript", ".pt")):
            result = export_part(model, part, fmt, tmp_path / f"{part}{suffix}")
            assert result.path.is_file() and result.max_abs_diff <= ATOL + RTOL, (part, fmt)
    if "sample" in cls.export_parts:  # the exported path is the model's own sampling path
        labels = torch.arange(3) % 3 if model.num_classes else None
        torch.manual_seed(5)  # a style GAN's exported path uses its fixed noise images (docs/export.md)
        drawn = model.sample(3, labels, noise="fixed") if cls.has_styles else model.sample(3, labels)
        torch.manual_seed(5)
        noise = torch.randn(3, *model.noise_shape())
        assert torch.allclose(model.sample_from_noise(noise, labels), drawn, atol=1e-6)


def test_image_to_image_parts_and_clip_refusals(tmp_path):
    """translate / upscale take A-domain images of any batch size; clip models are refused with a reason."""
    sr = _build("srresnet")  # 8x8 pairs at scale 4: 2x2 inputs
    path = export_part(sr, "upscale", "onnx", tmp_path / "up.onnx").path
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    x = torch.rand(5, 1, 2, 2)
    out = session.run(None, {"source": x.numpy()})[0]
    assert out.shape == (5, 1, 8, 8)
    np.testing.assert_allclose(out, sr.upscale(x).numpy(), atol=ATOL, rtol=RTOL)
    assert parts_to_export(_build("cyclegan"), None) == ["translate"]
    with pytest.raises(ExportError, match="'pix2pix' cannot export part 'sample': an image-to-image model"):
        parts_to_export(_build("pix2pix"), "sample")
    for name, parts in (("video-vae", ("sample",)), ("video-gan", ("sample",)), ("video-ddpm", ("denoiser",))):
        cls = registry.get(name).model_class  # clip models: their sampling path or denoiser, nothing else
        assert cls.export_parts == parts, name
        assert all("not clips" in refusal(cls, part) for part in PARTS if part not in parts + ("sample",)), name
    assert "run the DDIM loop around it" in refusal(registry.get("video-ddpm").model_class, "sample")
    for name in ("video-vae", "video-gan"):  # noise (B, D) -> clips (B, T, C, H, W) at any batch size
        clips = _build(name)
        path = export_part(clips, "sample", "onnx", tmp_path / f"{name}.onnx").path
        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        z = torch.randn(4, *clips.noise_shape())
        out = session.run(None, {session.get_inputs()[0].name: z.numpy()})[0]
        assert out.shape == (4, 3, 1, 8, 8), name
        np.testing.assert_allclose(out, clips.sample_from_noise(z).detach().numpy(), atol=ATOL, rtol=RTOL)


def test_the_documented_loop_reproduces_video_ddpm_sampling(tmp_path):
    """docs/export.md's DDIM loop (cosine abar) around video-ddpm's exported clip denoiser gives its own samples."""
    import re
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "export.md").read_text()
    namespace: dict = {}
    for code in re.findall(r"```python\n(.*?)```", doc, re.S):
        exec(code, namespace)  # noqa: S102 - our own documentation
    model = _build("video-ddpm")
    cfg = model.config
    path = export_part(model, "denoiser", "onnx", tmp_path / "v.onnx").path
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["x_t", "t"]
    torch.manual_seed(3)
    expected = model.sample(2, steps=2, eta=0.0)
    torch.manual_seed(3)
    x_T = torch.randn(2, *cfg.data_shape).numpy()
    abar = namespace["cosine_alpha_bars"](cfg.diffusion_steps)
    got = namespace["ddim_sample"](session, x_T, cfg.diffusion_steps, steps=2, alpha_bars=abar)
    assert got.shape == (2, 3, 1, 8, 8)
    np.testing.assert_allclose(got, expected.numpy(), atol=1e-4)


def test_onnx_file_runs_at_any_batch_size_and_matches(tmp_path):
    model = _build("cvae")
    path = export_part(model, "decoder", "onnx", tmp_path / "dec.onnx").path
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["codes", "labels"]
    codes = torch.randn(7, model.config.latent_dim)
    labels = torch.tensor([0, 1, 2, 0, 1, 2, 0])
    out = session.run(None, {"codes": codes.numpy(), "labels": labels.numpy()})[0]
    with torch.no_grad():
        np.testing.assert_allclose(out, model.decode(codes, labels).numpy(), atol=ATOL, rtol=RTOL)


def test_a_part_that_disagrees_is_not_written(tmp_path, monkeypatch):
    """The check can fail: a model whose traced graph differs from its eager output is refused, no file left."""
    model = _build("vae")
    calls = {"n": 0}
    real = type(model).decode

    def drifting(self, z, labels=None):  # differs between the reference run and the traced one
        calls["n"] += 1
        return real(self, z, labels) + (0.5 if calls["n"] == 1 else 0.0)

    monkeypatch.setattr(type(model), "decode", drifting)
    with pytest.raises(ExportError, match="disagrees with PyTorch"):
        export_part(model, "decoder", "onnx", tmp_path / "d.onnx")
    assert list(tmp_path.iterdir()) == []


def test_parts_to_export_defaults_and_refusals():
    assert parts_to_export(_build("vae"), None) == ["sample"]
    assert parts_to_export(_build("vae"), "all") == ["sample", "encoder", "decoder"]
    with pytest.raises(ExportError, match="'ddpm' cannot export part 'sample': sampling runs the denoiser"):
        parts_to_export(_build("ddpm"), "sample")
    with pytest.raises(ExportError, match="'classifier' has no exportable part: it is not a generative model"):
        parts_to_export(_build("classifier"), None)


def test_cli_export_and_bad_inputs(vae_run, gan_run, tmp_path, capsys):
    assert main(["export", str(vae_run), "--part", "all", "--out", str(tmp_path / "m.onnx")]) == 0
    err = capsys.readouterr().err
    assert err.count("checked at batch 3") == 3
    assert {p.name for p in tmp_path.iterdir()} == {"m.sample.onnx", "m.encoder.onnx", "m.decoder.onnx"}
    assert main(["export", str(gan_run), "--format", "torchscript", "--out", str(tmp_path / "new" / "g.pt")]) == 0
    shutil.move(tmp_path / "new" / "g.pt", tmp_path / "g.pt")  # a missing --out folder is made
    with pytest.warns(DeprecationWarning):  # torch.jit is deprecated in favour of torch.export; it still loads
        module = torch.jit.load(str(tmp_path / "g.pt"))
    assert module(torch.randn(5, 8)).shape == (5, 1, 8, 8)
    capsys.readouterr()
    assert "is not a genlab run" in _error(capsys, ["export", str(tmp_path), "--out", str(tmp_path / "x.onnx")])
    assert "cannot export part 'encoder': a GAN has no encoder" in _error(
        capsys, ["export", str(gan_run), "--part", "encoder", "--out", str(tmp_path / "e.onnx")])
    assert "genlab exports the parts" in _error(
        capsys, ["export", str(vae_run), "--part", "wings", "--out", str(tmp_path / "e.onnx")])
    assert "unknown export format 'tflite'" in _error(
        capsys, ["export", str(vae_run), "--format", "tflite", "--out", str(tmp_path / "e.onnx")])
    assert "unknown file type '.pt'" in _error(capsys, ["export", str(vae_run), "--out", str(tmp_path / "e.pt")])
    assert "required" in _error(capsys, ["export", str(vae_run)])


def test_the_documented_diffusion_loop_reproduces_genlab_sampling(tmp_path):
    """docs/export.md's DDIM loop around the exported denoiser gives the model's own DDIM (eta 0) samples."""
    import re
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "export.md").read_text()
    code = re.search(r"```python\n(.*?)```", doc, re.S).group(1)
    namespace: dict = {}
    exec(code, namespace)  # noqa: S102 - our own documentation
    model = _build("ddpm")
    cfg = model.config
    path = export_part(model, "denoiser", "onnx", tmp_path / "d.onnx").path
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    torch.manual_seed(3)
    expected = model.sample(2, sampler="ddim", steps=2, eta=0.0)
    torch.manual_seed(3)
    x_T = torch.randn(2, *cfg.data_shape).numpy()
    got = namespace["ddim_sample"](session, x_T, cfg.timesteps, cfg.beta_start, cfg.beta_end, steps=2)
    np.testing.assert_allclose(got, expected.numpy(), atol=1e-4)


def test_an_anomaly_detector_exports_its_score(tmp_path, capsys):
    from genlab.anomaly.detector import AnomalyDetector
    from genlab.anomaly.scores import item_scores

    det_dir = tmp_path / "det"
    assert main(["anomaly", "fit", "--dataset", "digits", "--normal-class", "0", "--model", "ae", "--score", "mse",
                 "--out", str(det_dir), "--steps", "2", "--batch-size", "16", "--limit", "200", "--latent-dim", "3",
                 "--mlp-hidden", "8", "--device", "cpu"]) == 0
    assert main(["export", str(det_dir), "--out", str(tmp_path / "score.onnx")]) == 0
    assert "score -> " in capsys.readouterr().err
    det = AnomalyDetector.load(det_dir)
    x = torch.rand(5, 1, 8, 8)
    session = onnxruntime.InferenceSession(str(tmp_path / "score.onnx"), providers=["CPUExecutionProvider"])
    got = session.run(None, {"images": x.numpy()})[0]
    np.testing.assert_allclose(got, item_scores(det.model, x, "mse").numpy(), rtol=RTOL, atol=ATOL)
    assert "exports its 'score' part, not 'decoder'" in _error(capsys, ["export", str(det_dir), "--part", "decoder",
                                                                        "--out", str(tmp_path / "d.onnx")])
    import json

    meta = json.loads((det_dir / "detector.json").read_text())
    meta["state"]["score"] = "latent"  # a score that searches per input cannot be a graph
    (det_dir / "detector.json").write_text(json.dumps(meta))
    assert "uses the 'latent' score, which samples or searches" in _error(
        capsys, ["export", str(det_dir), "--out", str(tmp_path / "s2.onnx")])


def test_a_file_onnxruntime_cannot_run_is_one_line_and_not_kept(tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("Reshape node: the input tensor cannot be reshaped\nmore detail")

    monkeypatch.setattr(onnxruntime, "InferenceSession", broken)
    with pytest.raises(ExportError, match=r"part 'decoder' of model 'vae': the onnx file fails at batch 3 "
                                          r"\(RuntimeError: Reshape node: the input tensor cannot be reshaped\)"):
        export_part(_build("vae"), "decoder", "onnx", tmp_path / "d.onnx")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name,cell", [("recurrent-ae", "lstm"), ("recurrent-vae", "gru")])
def test_sequence_models_export_their_decoder_and_sampling_path(name, cell, tmp_path):
    """Series (B, T, F): the decoder unrolls the run's T steps (LSTM and GRU); the packing encoder is refused."""
    torch.manual_seed(0)
    model = registry.build(name, {"data_shape": [8, 2], "cell": cell, "hidden_size": 4, "latent_dim": 3}).eval()
    assert "packs sequences of different lengths" in refusal(type(model), "encoder")
    for part, make in (("decoder", lambda z: model.decode(z)), ("sample", model.sample_from_noise)):
        path = export_part(model, part, "onnx", tmp_path / f"{part}.onnx").path
        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        z = torch.randn(5, 3)
        out = session.run(None, {session.get_inputs()[0].name: z.numpy()})[0]
        assert out.shape == (5, 8, 2)
        with torch.no_grad():
            np.testing.assert_allclose(out, make(z).numpy(), atol=ATOL, rtol=RTOL)


# ------------------------------------------------------------------------------- table models

def _table_outputs_as_frame(side, numeric, categories):
    """The exported matrices read back into a DataFrame through the sidecar (as a user outside genlab would)."""
    import pandas as pd

    out = {}
    for col in side["columns"]:
        spec = side["outputs"][col["output"]]["columns"][col["index"]]
        if col["output"] == "numeric":
            out[col["name"]] = numeric[:, col["index"]]
        else:
            out[col["name"]] = [spec["categories"][i] for i in categories[:, col["index"]]]
    return pd.DataFrame(out)


@pytest.mark.parametrize("name", ["ctgan", "tvae"])
def test_a_table_model_exports_decoded_rows_with_a_sidecar(table_fits, name, tmp_path, capsys):
    """`genlab export DIR` of a synth fit writes the 'rows' part and a JSON sidecar; onnxruntime on fresh inputs
    gives, read through the sidecar, the rows genlab's own transformer decodes from the model's rows."""
    import json

    import pandas as pd

    from genlab.tables.synthesizer import Synthesizer

    out = tmp_path / f"{name}.onnx"
    assert main(["export", str(table_fits[name]), "--out", str(out)]) == 0
    line = capsys.readouterr().err
    assert line.startswith(f"rows -> {out} (onnx;") and "categories equal" in line
    side = json.loads((tmp_path / f"{name}.onnx.json").read_text())
    assert [c["name"] for c in side["columns"]] == ["height", "age", "rating", "when", "member", "colour", "score"]
    colour = side["outputs"]["categories"]["columns"][1]
    assert colour["name"] == "colour" and colour["categories"] == ["blue", "green", "red", None]
    assert side["outputs"]["categories"]["columns"][0]["categories"] == [False, True]
    assert "half to even" in side["outputs"]["numeric"]["columns"][1]["rule"]  # age: an integer column
    synth = Synthesizer.load(table_fits[name])
    model, transformer = synth.model.float().eval(), synth.transformer
    session = onnxruntime.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == list(side["inputs"])
    assert [o.name for o in session.get_outputs()] == ["numeric", "categories"]
    gen = torch.Generator().manual_seed(7)
    n = 40
    feed = {}
    for key, spec in side["inputs"].items():
        width = spec["shape"][1]
        if key == "condition":  # one category of one discrete column per row, from the sidecar's blocks
            feed[key] = torch.zeros(n, width)
            for i in range(n):
                block = spec["blocks"][i % len(spec["blocks"])]
                feed[key][i, block["start"] + i % block["size"]] = 1.0
        else:
            feed[key] = torch.randn(n, width, generator=gen)
    numeric, categories = session.run(None, {k: v.numpy() for k, v in feed.items()})
    assert numeric.dtype == np.float64 and categories.dtype == np.int64 and len(numeric) == n
    got = _table_outputs_as_frame(side, numeric, categories)
    with torch.no_grad():
        want = transformer.inverse(model.rows_from_noise(*feed.values()).numpy(), clip=True)
    for col in ("colour", "member"):
        assert [None if pd.isna(v) else v for v in want[col]] == [None if pd.isna(v) else v for v in got[col]], col
    for col in ("height", "age", "rating", "score"):
        expect = pd.array(want[col], dtype="Float64").to_numpy(dtype=np.float64, na_value=np.nan)
        np.testing.assert_allclose(got[col], expect, rtol=1e-4, atol=1e-3, err_msg=col)
    assert got["age"].isna().sum() == 0 and (got["age"] % 1 == 0).all()  # rounded in the graph
    assert got["score"].isna().any() == want["score"].isna().any()
    seconds = want["when"].astype("datetime64[ns]").astype("int64").to_numpy() / 1e9
    assert np.abs(got["when"].to_numpy() - seconds).max() <= 2.0  # float32 offsets x 4 std of days: ~1 s
    if name == "tvae":  # the exported path is tvae's own sampling path (z, then its offsets' noise)
        model.config.discrete_sampling = "argmax"
        torch.manual_seed(3)
        drawn = model.sample(5)
        torch.manual_seed(3)
        z = torch.randn(5, model.config.embedding_dim)
        eps = torch.randn(5, len(model.layout.tanh))
        assert torch.equal(model.rows_from_noise(z, eps), drawn)


def test_table_export_refusals(table_fits, vae_run, tmp_path, capsys):
    assert "a table model exports its 'rows' part" in _error(
        capsys, ["export", str(table_fits["ctgan"]), "--part", "sample", "--out", str(tmp_path / "s.onnx")])
    assert "only table models (ctgan, tvae) export decoded rows" in _error(
        capsys, ["export", str(vae_run), "--part", "rows", "--out", str(tmp_path / "r.onnx")])
    alone = tmp_path / "alone"  # a table model's training run without its synth directory: no transformer
    shutil.copytree(table_fits["tvae"] / "run", alone)
    assert "needs the table transformer of its `genlab synth fit` directory" in _error(
        capsys, ["export", str(alone), "--out", str(tmp_path / "a.onnx")])
    assert not (tmp_path / "a.onnx").exists()
    # the training run inside the synth directory exports too (its parent holds the transformer)
    assert main(["export", str(table_fits["tvae"] / "run"), "--format", "torchscript",
                 "--out", str(tmp_path / "t.pt")]) == 0
    assert (tmp_path / "t.pt").is_file() and (tmp_path / "t.pt.json").is_file()
