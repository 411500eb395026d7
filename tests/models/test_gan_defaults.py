"""The GAN family's measured per-CPU-second defaults (issue 21) are what the docs say, and a user's flags win."""
from pathlib import Path

import pytest
import torch

import genlab
from genlab import registry
from genlab.cli import main
from genlab.models.gan import CGANConfig, DCGANConfig, WGANConfig, WGANGPConfig

ROOT = Path(__file__).resolve().parents[2]
TINY = ["--dataset", "digits", "--steps", "2", "--batch-size", "16", "--device", "cpu", "--g-widths", "8",
        "--d-widths", "8", "--noise-dim", "8", "--num-samples", "4", "--log-every", "0", "--eval-batches", "0"]


def test_wgan_gp_defaults_are_the_documented_cpu_defaults():
    cfg = WGANGPConfig()
    assert (cfg.n_critic, cfg.gan_lr, tuple(cfg.gan_betas)) == (2, 2e-4, (0.0, 0.9))
    assert (cfg.gradient_penalty, cfg.d_norm, cfg.loss) == (10.0, "none", "wasserstein")  # the paper's critic
    summary = "n_critic 2, Adam (2e-4, 0, 0.9)"
    assert summary in registry.CATALOG["wgan-gp"].summary and summary in registry.get("wgan-gp").summary
    readme = " ".join((ROOT / "README.md").read_text().split())
    assert "wgan-gp, measured per CPU-second: Adam 2e-4 (0, 0.9) with `--n-critic 2`" in readme
    assert "`--n-critic 5 --gan-lr 1e-4 --gan-betas 0.5 0.9`" in readme


@pytest.mark.parametrize("flags, n_critic, lr, betas", [
    ([], 2, 2e-4, (0.0, 0.9)),  # the new defaults
    (["--n-critic", "5", "--gan-lr", "1e-4", "--gan-betas", "0.5", "0.9"], 5, 1e-4, (0.5, 0.9)),  # the paper's
])
def test_cli_wgan_gp_trains_with_the_defaults_and_explicit_flags_win(tmp_path, capsys, flags, n_critic, lr, betas):
    run = tmp_path / "w"
    assert main(["train", "wgan-gp", *TINY, "--out", str(run), *flags]) == 0, capsys.readouterr().err
    model = genlab.load(run)
    assert (model.config.n_critic, model.config.gan_lr, tuple(model.config.gan_betas)) == (n_critic, lr, betas)
    assert (int(model.g_updates), int(model.d_updates)) == (2, 2 * n_critic)  # n_critic critic updates per G update
    critic, generator = model.phases()
    for phase in (critic, generator):
        assert phase.optimizer is not None
        assert (phase.optimizer.lr, tuple(phase.optimizer.betas)) == (lr, betas)


def test_dcgan_is_narrow_with_lr_4e4_by_default_and_the_wider_nets_are_a_flag_away(tmp_path, capsys):
    assert (DCGANConfig().g_widths, DCGANConfig().d_widths, DCGANConfig().gan_lr) == ((32, 64), (32, 64), 4e-4)
    assert CGANConfig().gan_lr == 2e-4
    readme = " ".join((ROOT / "README.md").read_text().split())
    assert "but dcgan 4e-4, measured per CPU-second with its 32-64 channel networks" in readme
    assert (CGANConfig().g_widths, CGANConfig().d_widths) == ((32, 64), (32, 64))  # cgan inherits them
    for unchanged in (WGANConfig(), WGANGPConfig()):  # not studied at these widths: unchanged
        assert (unchanged.g_widths, unchanged.d_widths) == ((64, 128), (64, 128))
    base = ["--dataset", "digits", "--steps", "1", "--batch-size", "16", "--device", "cpu", "--num-samples", "4",
            "--log-every", "0", "--eval-batches", "0"]
    assert main(["train", "dcgan", *base, "--out", str(tmp_path / "narrow")]) == 0, capsys.readouterr().err
    assert main(["train", "dcgan", *base, "--out", str(tmp_path / "wide"), "--g-widths", "64", "128",
                 "--d-widths", "64", "128"]) == 0, capsys.readouterr().err
    narrow, wide = genlab.load(tmp_path / "narrow"), genlab.load(tmp_path / "wide")
    assert narrow.config.g_widths == (32, 64) and wide.config.d_widths == (64, 128)
    assert narrow.phases()[0].optimizer.lr == 4e-4
    for model, width in ((narrow, 32), (wide, 64)):  # the networks are built at the configured widths
        first = next(m for m in model.discriminator.modules() if isinstance(m, torch.nn.Conv2d))
        assert first.out_channels == width
    count = sum(p.numel() for p in narrow.parameters())
    assert 1.5 * count < sum(p.numel() for p in wide.parameters())  # about half the weights (28x28: 0.38M)
