"""benchmarks/gpu_check.py, the prepared GPU benchmark of issue 12: its arguments, its table, and a refusal
without a GPU (the --smoke run itself takes several CPU-seconds and stays out of the suite)."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu_check.py"


@pytest.fixture(scope="module")
def gpu_check():
    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_defaults_are_the_gpu_rows_and_smoke_is_the_cpu(gpu_check):
    args = gpu_check.parse_args([])
    assert (args.device, args.dataset, args.sample_n, args.rows, args.models) == (
        "cuda", "mnist", 1000, ["train", "sample"], ["vae", "ddpm"])
    assert gpu_check.steps_for("vae", args) == (50, 450) and gpu_check.steps_for("ddpm", args) == (20, 120)
    smoke = gpu_check.parse_args(["--smoke"])
    assert (smoke.device, smoke.dataset, smoke.sample_n) == ("cpu", "digits", 2)
    assert gpu_check.steps_for("vae", smoke) == (1, 3) and gpu_check.model_config("vae", smoke)
    given = gpu_check.parse_args(["--steps", "3", "9", "--device", "cuda:1", "--rows", "sample"])
    assert gpu_check.steps_for("ddpm", given) == (3, 9) and given.device == "cuda:1" and given.rows == ["sample"]


@pytest.mark.parametrize("argv", [["--steps", "5", "5"], ["--sample-n", "0"], ["--models", "gan"]])
def test_bad_arguments_are_refused(gpu_check, argv, capsys):
    with pytest.raises(SystemExit) as e:
        gpu_check.parse_args(argv)
    assert e.value.code == 2 and "error" in capsys.readouterr().err


def test_the_table_has_every_row_with_its_precision(gpu_check):
    rows = [{"row": "train", "model": "vae", "batch": 512, "precision": "bf16", "genlab_img_per_s": 45000.0,
             "bare_img_per_s": 50000.0, "share_of_limit": 0.9},
            {"row": "sample", "sampler": "DDIM-50", "n": 1000, "s_per_1000": 1.234}]
    text = gpu_check.table(rows, gpu_check.parse_args(["--smoke"]))
    assert "| vae | 512 | bf16 | 45000 | 50000 | 90% |" in text and "| DDIM-50 | 1000 samples | 1.23 |" in text
    assert "SMOKE" in text.splitlines()[0]


def test_without_a_gpu_it_says_so(gpu_check, monkeypatch, capsys):
    monkeypatch.setattr(gpu_check.torch.cuda, "is_available", lambda: False)
    assert gpu_check.main([]) == 2
    assert "no CUDA GPU" in capsys.readouterr().err
