"""Image-to-image translation and super-resolution: networks, losses, the history pool, phases,
resume, the commands and the bad inputs (issue 15)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from genlab import registry
from genlab.cli import main
from genlab.cnn.arithmetic import receptive_field
from genlab.data.base import Batch
from genlab.io import load_state_dict
from genlab.models.base import GenerativeModel
from genlab.models.cyclegan import cycle_losses
from genlab.models.translation import HistoryPool
from genlab.nn.translation import PatchGAN, ResnetGenerator, SRResNet, UNetGenerator, patchgan_layers

TINY_P2P = ["--g-width", "4", "--d-width", "4"]
TINY_CG = ["--g-width", "4", "--d-width", "4", "--n-blocks", "1"]
TINY_SR = ["--width", "4", "--n-blocks", "1"]
BASE = ["--steps", "2", "--batch-size", "8", "--eval-batches", "1", "--num-samples", "4"]


def _error(capsys, argv) -> str:
    assert main(argv) == 2, argv
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("genlab: error: "), err
    return err[0]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("pairs")
    rng = np.random.default_rng(0)
    b = (rng.random((40, 1, 8, 8)) * 255).astype(np.uint8)
    np.savez(root / "pairs.npz", a=255 - b, b=b)
    np.savez(root / "sr.npz", a=b.reshape(40, 1, 4, 2, 4, 2).mean((3, 5)).astype(np.uint8), b=b)
    return root


@pytest.fixture(scope="module")
def runs(data, tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    out = {}
    for name, spec, flags in (("pix2pix", "pairs.npz", TINY_P2P), ("cyclegan", "pairs.npz", TINY_CG),
                              ("srresnet", "sr.npz", TINY_SR)):
        out[name] = root / name
        assert main(["train", name, "--dataset", f"pairs:npz:{data / spec}", *BASE, *flags, "--out",
                     str(out[name])]) == 0
    return out


# --- networks -------------------------------------------------------------------------------------
@pytest.mark.parametrize("size", [8, 16, 28, 30])
def test_generators_keep_the_image_size_and_srresnet_multiplies_it(size):
    x = torch.randn(2, 3, size, size)
    assert UNetGenerator(3, 1, size, 4, 8)(x).shape == (2, 1, size, size)
    assert ResnetGenerator(3, 2, size, 4, 1)(x).shape == (2, 2, size, size)
    for scale in (2, 4):
        assert SRResNet(3, 3, scale, 4, 1)(x).shape == (2, 3, size * scale, size * scale)


def test_patchgan_receptive_field_is_genlab_cnn_s_and_70_for_three_layers():
    assert receptive_field(patchgan_layers(3)).size == 70
    net = PatchGAN(6, 256, 4, n_layers=3)
    convs = [(m.kernel_size[0], m.stride[0]) for m in net.modules() if isinstance(m, nn.Conv2d)]
    assert convs == patchgan_layers(3)
    assert receptive_field(convs).size == 70
    assert net(torch.randn(1, 6, 256, 256)).shape == (1, 1, 30, 30)  # the paper's 30x30 patch map
    assert PatchGAN(2, 8, 4, n_layers=3).n_layers == 1  # capped: one patch still fits on 8x8


# --- losses against hand values -------------------------------------------------------------------
class Shift(nn.Module):
    def __init__(self, by: float):
        super().__init__()
        self.by = by
        self.w = nn.Parameter(torch.zeros(()))

    def forward(self, x):
        return x + self.by + 0 * self.w


def test_cycle_and_identity_terms_match_hand_values():
    a, b = torch.zeros(2, 1, 4, 4), torch.full((2, 1, 4, 4), 0.5)
    assert float(cycle_losses(a, b, a + 0.25, b - 0.5)) == pytest.approx(0.75)
    model = registry.build("cyclegan", {"data_shape": [2, 4, 4], "a_channels": 1, "g_width": 4, "d_width": 4,
                                        "n_blocks": 1})
    model.g_ab, model.g_ba = Shift(0.1), Shift(0.1)
    x = torch.cat([a, b], 1) / 2 + 0.5  # packed [A | B] in [0, 1]; the model sees 2x - 1 = [0 | 0.5]
    out = model(Batch(x), "generators")
    assert float(out["cycle"]) == pytest.approx(0.4)  # |F(G(a)) - a| = 0.2 both ways
    assert float(out["identity"]) == pytest.approx(0.2)  # |G(b) - b| = |F(a) - a| = 0.1
    assert float(out["loss"].detach()) == pytest.approx(float(out["adversarial"]) + 10 * 0.4 + 0.5 * 10 * 0.2)


def test_pix2pix_l1_term_is_lambda_times_mean_absolute_error():
    model = registry.build("pix2pix", {"data_shape": [2, 4, 4], "a_channels": 1, "gan_weight": 0.0, "g_width": 4})
    model.generator = Shift(0.3)
    a, b = torch.rand(3, 1, 4, 4), torch.rand(3, 1, 4, 4)
    out = model(Batch(torch.cat([a, b], 1)), "generator")
    expected = ((a * 2 - 1 + 0.3) - (b * 2 - 1)).abs().mean()
    assert float(out["l1"]) == pytest.approx(float(expected), rel=1e-5)
    assert float(out["loss"].detach()) == pytest.approx(100 * float(expected), rel=1e-5)
    assert [p.name for p in model.phases()] == ["generator"]  # no GAN term: no discriminator phase


class Up(nn.Module):
    def __init__(self, by: float):
        super().__init__()
        self.by = by
        self.w = nn.Parameter(torch.zeros(()))

    def forward(self, x):
        return x.repeat_interleave(2, 2).repeat_interleave(2, 3) + self.by + 0 * self.w


def test_srresnet_l1_and_mse_content_losses_match_hand_values():
    a, b = torch.rand(3, 1, 2, 2), torch.rand(3, 1, 4, 4)
    packed = torch.cat([a.repeat_interleave(2, 2).repeat_interleave(2, 3), b], 1)  # A is packed enlarged
    fake = (a * 2 - 1).repeat_interleave(2, 2).repeat_interleave(2, 3) + 0.3
    for loss, expected in (("l1", (fake - (b * 2 - 1)).abs().mean()), ("mse", ((fake - (b * 2 - 1)) ** 2).mean())):
        model = registry.build("srresnet", {"data_shape": [2, 4, 4], "a_channels": 1, "pair_scale": 2, "width": 4,
                                            "n_blocks": 1, "content_loss": loss})
        model.generator = Up(0.3)
        out = model(Batch(packed), "generator")
        assert float(out["loss"].detach()) == pytest.approx(float(expected), rel=1e-5), loss
        assert float(out["mse"]) == pytest.approx(float(((fake - (b * 2 - 1)) ** 2).mean()), rel=1e-5)


def test_srresnet_training_patches_and_augmentation_keep_a_and_b_aligned():
    import torch.nn.functional as F

    model = registry.build("srresnet", {"data_shape": [2, 12, 12], "a_channels": 1, "pair_scale": 2, "width": 4,
                                        "n_blocks": 1, "patch": 3, "augment": True})
    b = torch.rand(4, 1, 12, 12)
    a = F.avg_pool2d(b, 2)
    torch.manual_seed(0)
    seen = set()
    for _ in range(40):
        pa, pb = model.training_view(a, b)
        assert pa.shape == (4, 1, 3, 3) and pb.shape == (4, 1, 6, 6)
        assert torch.allclose(F.avg_pool2d(pb, 2), pa, atol=1e-6)  # the same place, flipped the same way
        seen.add(bytes(pa.numpy()))
    assert len(seen) > 20  # patches move and turn
    model.eval()  # evaluation sees whole images
    packed = torch.cat([a.repeat_interleave(2, 2).repeat_interleave(2, 3), b], 1)
    model.generator = Up(0.0)
    assert float(model(Batch(packed), "generator")["mse"]) == pytest.approx(
        float(((a.repeat_interleave(2, 2).repeat_interleave(2, 3) - b) * 2).pow(2).mean()), rel=1e-5)


def test_history_pool_fills_then_returns_a_stored_image_half_the_time():
    pool = HistoryPool(4, (1, 1, 1))
    torch.manual_seed(0)
    first = torch.arange(4.0).view(4, 1, 1, 1)
    assert torch.equal(pool.query(first), first) and int(pool.count) == 4
    new = 100 + torch.arange(2000.0).view(2000, 1, 1, 1)
    out = pool.query(new)
    swapped = out != new
    assert 0.45 < float(swapped.float().mean()) < 0.55  # a stored image half of the time ...
    earlier = torch.cat([first.flatten(), new.flatten()])
    assert all(v in earlier[: 4 + i] for i, v in enumerate(out.flatten().tolist()) if swapped.flatten()[i])
    assert set(pool.images.flatten().tolist()) <= set(earlier.tolist()) and int(pool.count) == 4


@pytest.mark.parametrize("name", ["pix2pix", "cyclegan", "srgan"])
def test_discriminator_phases_send_no_gradient_to_the_generators(name):
    fields = {"data_shape": [2, 8, 8], "a_channels": 1, "g_width": 4, "d_width": 4, "n_blocks": 1, "width": 4,
              "d_hidden": 8, "content_loss": "mse", "pair_scale": 2 if name == "srgan" else 1}
    fields = {k: v for k, v in fields.items() if k in registry.get(name).config_class.__dataclass_fields__}
    model = registry.build(name, fields)
    gen = {id(p) for g in model.generators.values() for p in model.get_submodule(g).parameters()}
    batch = Batch(torch.rand(4, 2, 8, 8))
    for phase in model.phases():
        model.zero_grad(set_to_none=True)
        model(batch, phase.name)["loss"].backward()
        mine = {id(p) for p in model.phase_parameters(phase)}
        assert any(p.grad is not None for p in model.parameters() if id(p) in mine)
        if phase.name.startswith("discriminator"):
            assert all(p.grad is None for p in model.parameters() if id(p) in gen), phase.name


# --- runs, resume, commands ---------------------------------------------------------------------
def test_cyclegan_resume_is_exact(data, tmp_path):
    argv = ["train", "cyclegan", "--dataset", f"pairs:npz:{data / 'pairs.npz'}", "--batch-size", "8",
            "--eval-batches", "1", "--pool-size", "3", *TINY_CG]
    assert main([*argv, "--steps", "2", "--out", str(tmp_path / "straight")]) == 0
    assert main([*argv, "--steps", "1", "--out", str(tmp_path / "split")]) == 0
    assert main(["train", "--resume", str(tmp_path / "split"), "--steps", "2"]) == 0
    a = load_state_dict(tmp_path / "straight" / "model.safetensors")
    b = load_state_dict(tmp_path / "split" / "model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_translate_and_upscale_write_pngs_and_a_strip(runs, data, tmp_path, capsys):
    assert main(["translate", str(runs["pix2pix"]), "--out", str(tmp_path / "t"), "--n", "3"]) == 0
    assert (tmp_path / "t" / "strip.png").is_file() and len(list((tmp_path / "t").glob("0*.png"))) == 3
    assert main(["translate", str(runs["cyclegan"]), "--direction", "BA", "--out", str(tmp_path / "c")]) == 0
    Image.fromarray((np.random.default_rng(1).random((40, 30)) * 255).astype(np.uint8)).save(tmp_path / "big.png")
    assert main(["upscale", str(runs["srresnet"]), "--input", str(tmp_path / "big.png"), "--out",
                 str(tmp_path / "u"), "--tile", "16", "--overlap", "6"]) == 0
    assert Image.open(tmp_path / "u" / "big.png").size == (60, 80)  # x2
    capsys.readouterr()
    assert "genlab upscale" in _error(capsys, ["sample", str(runs["srresnet"])])
    assert "genlab translate" in _error(capsys, ["sample", str(runs["pix2pix"])])


def test_python_api_translate_and_tiled_upscale_match_whole_image(runs):
    model = GenerativeModel.load(runs["srresnet"]).eval()
    x = torch.rand(1, 1, 40, 36)
    whole = model.translate(x)
    tiled = model.upscale(x, tile=30, overlap=12)  # overlap > the receptive radius: no seams
    assert tiled.shape == (1, 1, 80, 72)
    assert torch.allclose(whole, tiled, atol=1e-5)
    p2p = GenerativeModel.load(runs["pix2pix"]).eval()
    assert p2p.translate(torch.rand(2, 1, 8, 8)).shape == (2, 1, 8, 8)


def _tiles(grid: np.ndarray, size: int = 8, s: int = 4):
    """The (row, column) tile of a grid PNG of size x size images (2 px padding) enlarged s times, in [0, 1]."""
    def tile(row: int, col: int) -> torch.Tensor:
        top, left = s * (2 + (size + 2) * row), s * (2 + (size + 2) * col)
        return torch.from_numpy(grid[top:top + size * s:s, left:left + size * s:s].astype(np.float32)) / 255
    return tile


def test_training_grids_show_input_output_target_or_cycle_rows(runs):
    from genlab.runs.run import run_splits

    for name in ("pix2pix", "srresnet", "cyclegan"):
        grid = np.asarray(Image.open(runs[name] / "samples.png").convert("L"))
        assert len(list((runs[name] / "samples").glob("*.png"))) == 1, name  # the short run's one grid
        val = run_splits(str(runs[name])).validation.images(torch.arange(4))
        # 8 px tiles with 2 px padding, enlarged 4x; one validation item per row, three columns
        assert grid.shape == (4 * (4 * 10 + 2), 4 * (3 * 10 + 2)), name
        tile = _tiles(grid)
        model = GenerativeModel.load(runs[name]).eval()
        a, b = model.split_packed(val)
        for row in range(4):
            first = a[row, 0] if name != "srresnet" else a[row, 0].repeat_interleave(2, 0).repeat_interleave(2, 1)
            assert torch.allclose(tile(row, 0), first, atol=1 / 255), (name, row)  # input (SR: enlarged)
            assert torch.allclose(tile(row, 1), model.translate(a[row:row + 1])[0, 0], atol=1.5 / 255), name
            if name == "cyclegan":  # cycle reconstruction
                back = model.translate(model.translate(a[row:row + 1], "AB"), "BA")[0, 0]
                assert torch.allclose(tile(row, 2), back, atol=1.5 / 255), (name, row)
            else:  # target
                assert torch.allclose(tile(row, 2), b[row, 0], atol=1 / 255), (name, row)


def test_evaluate_reports_psnr_ssim_and_bicubic(runs, capsys):
    assert main(["evaluate", str(runs["srresnet"]), "--n", "8"]) == 0
    out = capsys.readouterr().out
    assert "bicubic_psnr" in out and "ssim" in out and "psnr_gain_over_bicubic" in out


# --- bad input through the CLI: one line, exit 2, no run directory left ---------------------------
def _folder(root: Path, side: str, names, size=8, mode="L"):
    (root / side).mkdir(parents=True, exist_ok=True)
    for n in names:
        Image.new(mode, (size, size), 128).save(root / side / n)


def test_bad_inputs_are_one_line_and_leave_no_run(runs, tmp_path, capsys):
    unpaired = tmp_path / "unpaired"
    _folder(unpaired, "A", [f"{i}.png" for i in range(12)])
    _folder(unpaired, "B", [f"b{i}.png" for i in range(15)])
    mismatch = tmp_path / "mismatch"
    _folder(mismatch, "A", [f"{i}.png" for i in range(12)])
    _folder(mismatch, "B", [f"{i}.png" for i in range(10)] + ["x.png"])
    sizes = tmp_path / "sizes"
    _folder(sizes, "A", [f"{i}.png" for i in range(12)], size=8)
    _folder(sizes, "B", [f"{i}.png" for i in range(12)], size=12)
    run = tmp_path / "run"
    cases = [
        (["train", "pix2pix", "--dataset", f"unpaired:{unpaired}"], "holds unpaired"),
        (["train", "pix2pix", "--dataset", f"pairs:{mismatch}"], "2 in A/ without a partner in B/ (e.g. A/10.png)"),
        (["train", "pix2pix", "--dataset", f"pairs:{sizes}"], "A and B have different sizes (A 8x8, B 12x12)"),
        (["train", "srresnet", "--dataset", "digits", "--scale", "3"], "upscale factor 3 does not divide"),
    ]
    for argv, message in cases:
        assert message in _error(capsys, [*argv, *BASE, "--out", str(run)])
        assert not run.exists()
    Image.new("RGB", (8, 8)).save(tmp_path / "rgb.png")
    assert "3 channels" in _error(capsys, ["translate", str(runs["pix2pix"]), "--input", str(tmp_path / "rgb.png"),
                                           "--out", str(tmp_path / "t")])


def test_pairs_folders_and_side_by_side_layout_load_as_packed_pairs(tmp_path):
    from genlab.config import DataConfig
    from genlab.data import load_splits

    pairs = tmp_path / "p"
    _folder(pairs, "A", [f"{i}.png" for i in range(12)], size=4)
    _folder(pairs, "B", [f"{i}.png" for i in range(12)], size=8, mode="RGB")
    s = load_splits(DataConfig(dataset=f"pairs:{pairs}"))
    assert s.train.x.shape[1:] == (4, 8, 8) and s.train.info["pairing"]["scale"] == 2
    side = tmp_path / "side"
    side.mkdir()
    for i in range(12):
        Image.new("L", (16, 8), i).save(side / f"{i}.png")
    s = load_splits(DataConfig(dataset=f"pairs:{side}", pair_layout="side-by-side"))
    assert s.train.x.shape[1:] == (2, 8, 8) and s.train.info["pairing"] == {"kind": "pairs", "a_channels": 1,
                                                                             "scale": 1}
    u = load_splits(DataConfig(dataset=f"unpaired:{pairs}", image_size=4))
    assert u.train.info["pairing"]["kind"] == "unpaired"


def test_decay_schedule_is_constant_then_linear_to_zero():
    from genlab.training.trainer import lr_factor

    assert [lr_factor(s, 100, "decay", 0) for s in (0, 50, 75, 100)] == [1.0, 1.0, 0.5, 0.0]


# --- the residual SR generator: starts at bicubic upsampling -----------------------------------
def test_untrained_residual_srresnet_is_bicubic_upsampling():
    import torch.nn.functional as F

    x = torch.rand(2, 3, 7, 9) * 2 - 1
    for scale in (2, 4):
        net = SRResNet(3, 3, scale, 4, 1, residual=True)
        assert not net.tail.weight.any()  # the last layer starts at zero
        bicubic = F.interpolate(x, scale_factor=scale, mode="bicubic", align_corners=False)
        assert torch.allclose(net(x), bicubic, atol=1e-6)
        # the plain (paper) generator is not bicubic
        assert not torch.allclose(SRResNet(3, 3, scale, 4, 1)(x), bicubic, atol=1e-2)
    grey = torch.rand(1, 1, 5, 5)
    up = F.interpolate(grey, scale_factor=2, mode="bicubic", align_corners=False)
    assert torch.allclose(SRResNet(1, 3, 2, 4, 1, residual=True)(grey), up.expand(1, 3, 10, 10), atol=1e-6)
    with pytest.raises(ValueError, match="residual"):
        SRResNet(2, 3, 2, 4, 1, residual=True)
    for scale in (2, 3, 4):  # the sub-pixel generator (all convs at low resolution, BN off) starts at bicubic too
        net = SRResNet(3, 3, scale, 4, 2, residual=True, norm=False, upsampling="subpixel")
        assert not any(m.__class__.__name__ == "BatchNorm2d" for m in net.modules())
        bicubic = F.interpolate(x, scale_factor=scale, mode="bicubic", align_corners=False)
        assert torch.allclose(net(x), bicubic, atol=1e-6)
        assert SRResNet(3, 3, scale, 4, 1, upsampling="subpixel")(x).shape == (2, 3, 7 * scale, 9 * scale)
    # the options leave the paper generator's weight names as they were (runs saved before them load)
    assert SRResNet(3, 3, 4, 4, 2).state_dict().keys() == SRResNet(3, 3, 4, 4, 2, norm=True).state_dict().keys()
    assert {k for k in SRResNet(3, 3, 4, 4, 2, norm=False).state_dict() if "blocks" in k} < \
        set(SRResNet(3, 3, 4, 4, 2).state_dict())


@pytest.mark.parametrize("flags", [{}, {"upsampling": "subpixel", "block_norm": False}])
def test_untrained_srresnet_psnr_and_ssim_equal_bicubic_s(data, flags):
    """(b) of the photos-sr4 check: the untrained residual model IS the evaluation's bicubic baseline
    (same operator, range and clamping), so any gain or loss is training's."""
    from genlab.data.pairs import pack
    from genlab.metrics.translation import evaluate_translator

    raw = np.load(data / "sr.npz")
    rgb = lambda v: torch.from_numpy(v).repeat(1, 3, 1, 1)  # noqa: E731
    ds = pack(rgb(raw["a"]), rgb(raw["b"]), None, "t", extra={"groups": [["first", 0, 20], ["rest", 20, 20]]})
    model = registry.build("srresnet", {"data_shape": [6, 8, 8], "a_channels": 3, "pair_scale": 2, "width": 4,
                                        "n_blocks": 1, **flags})
    result = evaluate_translator(model, ds, 40)
    m = result["metrics"]
    for k in ("psnr", "psnr_y", "ssim"):
        assert m[k] == pytest.approx(m[f"bicubic_{k}"], abs=1e-4), (k, m)
    for rec in result["per_image"].values():
        assert rec["psnr"] == pytest.approx(rec["bicubic_psnr"], abs=1e-4)
        assert rec["psnr_y"] == pytest.approx(rec["bicubic_psnr_y"], abs=1e-4)


def test_residual_srresnet_starts_at_bicubic_psnr_and_no_residual_trains(data, tmp_path, capsys):
    import json

    run = tmp_path / "res"
    assert main(["train", "srresnet", "--dataset", f"pairs:npz:{data / 'sr.npz'}", *BASE, *TINY_SR,
                 "--steps", "1", "--out", str(run)]) == 0
    assert main(["evaluate", str(run), "--n", "8", "--out", str(tmp_path / "e.json")]) == 0
    values = json.loads((tmp_path / "e.json").read_text())["metrics"]
    assert abs(values["psnr_gain_over_bicubic"]) < 0.5, values  # one step from bicubic
    plain = tmp_path / "plain"
    assert main(["train", "srresnet", "--dataset", f"pairs:npz:{data / 'sr.npz'}", *BASE, *TINY_SR,
                 "--no-residual", "--out", str(plain)]) == 0
    assert not GenerativeModel.load(plain).generator.residual
    capsys.readouterr()


def test_a_run_saved_before_residual_loads_as_the_whole_image_generator(tmp_path, capsys):
    """A format-2 srresnet run (genlab before `residual`) is migrated to residual off: the same
    function the old genlab computed, through the Python API and `genlab upscale`."""
    import json
    import shutil

    from genlab import formats
    from genlab.runs.run import read_run_config

    fixtures = Path(__file__).parent.parent / "fixtures" / "format2"
    run = tmp_path / "old"
    shutil.copytree(fixtures / "srresnet-run", run)
    assert json.loads((run / "model_config.json").read_text())["format"] == 2
    assert "residual" not in json.loads((run / "model_config.json").read_text())["config"]
    model = GenerativeModel.load(run).eval()
    assert model.config.residual is False and model.generator.residual is False
    assert read_run_config(run)["model"]["config"]["residual"] is False
    reference = json.loads((fixtures / "srresnet-run-upscale.json").read_text())
    torch.testing.assert_close(model.upscale(torch.tensor(reference["x"])), torch.tensor(reference["upscaled"]),
                               rtol=1e-5, atol=1e-6)
    Image.fromarray((np.random.default_rng(2).random((6, 5)) * 255).astype(np.uint8)).save(tmp_path / "x.png")
    assert main(["upscale", str(run), "--input", str(tmp_path / "x.png"), "--out", str(tmp_path / "u")]) == 0
    assert Image.open(tmp_path / "u" / "x.png").size == (10, 12)
    # only a format-2 sr config without the key is changed; a stated value is kept
    def migrated(fmt, name, config):
        return formats.read_saved(formats.MODEL_CONFIG, {"format": fmt, "model": name, "config": config},
                                  "m.json").body["config"]
    assert migrated(2, "srgan", {}) == {"residual": False}
    assert migrated(2, "srresnet", {"residual": True}) == {"residual": True}
    assert migrated(3, "srresnet", {}) == {}
    other = {"format": 2, "model": "pix2pix", "config": {}}
    assert "residual" not in formats.read_saved(formats.MODEL_CONFIG, other, "m.json").body["config"]
    capsys.readouterr()


def test_whole_photograph_psnr_uses_the_tiled_path_a_border_shave_and_8_bits():
    """The whole-image columns of photos-sr4: an untrained residual srresnet upscales a whole held-out
    photograph (through `upscale`'s tiles) exactly as bicubic does, and bicubic's figure is the one
    computed here by hand (8-bit rounding, `scale` pixels cut on every side, Y of BT.601)."""
    pytest.importorskip("skimage")
    import torch.nn.functional as F

    from genlab.data.pair_tasks import PHOTOS_VERSION, TEST_PHOTOS, grid_crops, photograph, whole_photo
    from genlab.data.pairs import area_downsample, pack
    from genlab.metrics.translation import evaluate_translator

    b = torch.cat([grid_crops(photograph(n))[:1] for n in TEST_PHOTOS])
    groups = [[n, k, 1] for k, n in enumerate(TEST_PHOTOS)]
    ds = pack(area_downsample(b, 4), b, None, "photos-sr4", extra={"groups": groups, "photos_version": PHOTOS_VERSION})
    model = registry.build("srresnet", {"data_shape": [6, 96, 96], "a_channels": 3, "pair_scale": 4, "width": 4,
                                        "n_blocks": 1, "upsampling": "subpixel", "block_norm": False})
    result = evaluate_translator(model, ds, 2)
    m, per = result["metrics"], result["per_image"]
    assert m["whole_images"] == 2 and abs(m["whole_psnr_gain_over_bicubic"]) < 1e-3
    assert abs(m["whole_psnr_y_gain_over_bicubic"]) < 1e-3
    a_u8, b_u8 = whole_photo("china", 4)
    assert a_u8.shape[-1] > 128  # china is tiled by upscale (128-pixel tiles)
    up = F.interpolate(a_u8.float() / 255, scale_factor=4, mode="bicubic", align_corners=False).clamp(0, 1)
    up = (up * 255).round()[..., 4:-4, 4:-4].double()
    ref = b_u8[..., 4:-4, 4:-4].double()
    rgb = 10 * np.log10(255.0 ** 2 / float(((up - ref) ** 2).mean()))
    w = torch.tensor([65.481, 128.553, 24.966], dtype=torch.float64).view(1, 3, 1, 1) / 255
    y = 10 * np.log10(255.0 ** 2 / float((((up - ref) * w).sum(1) ** 2).mean()))
    rec = per["china"]
    assert rec["whole_size"] == [424, 640] and rec["whole_border"] == 4
    assert rec["whole_bicubic_psnr"] == pytest.approx(rgb, abs=1e-3)
    assert rec["whole_bicubic_psnr_y"] == pytest.approx(y, abs=1e-3)
    assert rec["whole_bicubic_psnr_y"] != pytest.approx(rec["whole_bicubic_psnr"], abs=0.05)
