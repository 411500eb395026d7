"""--precision auto: bf16 only where the hardware computes it natively, fp32 elsewhere, said and recorded."""
from __future__ import annotations

import json

import pytest
import torch

import genlab
from genlab import precision
from genlab.cli import main
from genlab.precision import resolve_precision


def test_auto_is_fp32_on_a_cpu_without_native_bf16(monkeypatch):
    monkeypatch.delenv("GENLAB_NATIVE_BF16", raising=False)
    monkeypatch.setattr(precision, "_probe_cpu_bf16", lambda: (False, "AVX2, no native bf16"))
    chosen = resolve_precision("auto", "cpu")
    assert chosen.name == "fp32" and "no native bf16" in chosen.reason


def test_auto_is_bf16_on_a_cpu_with_native_bf16(monkeypatch):
    monkeypatch.delenv("GENLAB_NATIVE_BF16", raising=False)
    monkeypatch.setattr(precision, "_probe_cpu_bf16", lambda: (True, "AVX512-BF16"))
    chosen = resolve_precision("auto", "cpu")
    assert chosen.name == "bf16" and "AVX512-BF16" in chosen.reason


def test_the_environment_overrides_the_probe(monkeypatch):
    monkeypatch.setattr(precision, "_probe_cpu_bf16", lambda: (True, "AVX512-BF16"))
    monkeypatch.setenv("GENLAB_NATIVE_BF16", "0")
    assert resolve_precision("auto", "cpu").name == "fp32"
    monkeypatch.setenv("GENLAB_NATIVE_BF16", "1")
    assert resolve_precision("auto", "cpu").name == "bf16"


def test_the_real_probe_agrees_with_the_cpu_flags(monkeypatch):
    monkeypatch.delenv("GENLAB_NATIVE_BF16", raising=False)
    native, why = precision._probe_cpu_bf16()
    flags = precision._cpu_flags()
    if flags:  # Linux: PyTorch's probe and /proc/cpuinfo must tell the same story
        assert native == bool({"avx512_bf16", "amx_bf16", "bf16"} & flags), why


def test_cuda_keeps_small_models_in_fp32_and_large_ones_in_bf16(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    small = torch.nn.Linear(10, 10)
    assert resolve_precision("auto", "cuda", small).name == "fp32"

    class Big(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.empty(precision.CUDA_BF16_MIN_PARAMETERS, device="meta"))

    assert resolve_precision("auto", "cuda", Big()).name == "bf16"
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    assert resolve_precision("auto", "cuda", Big()).name == "fp32"
    assert resolve_precision("auto", "mps").name == "fp32"


def test_explicit_bf16_without_native_support_warns_once_and_still_runs(monkeypatch, capsys):
    monkeypatch.setenv("GENLAB_NATIVE_BF16", "0")
    monkeypatch.setattr(precision, "_warned", set())
    assert resolve_precision("bf16", "cpu").name == "bf16"
    assert resolve_precision("bf16", "cpu").name == "bf16"
    err = capsys.readouterr().err
    assert err.count("genlab: warning:") == 1 and "slower" in err
    assert resolve_precision("fp32", "cpu").name == "fp32"


@pytest.mark.parametrize("native,expected", [("0", "fp32"), ("1", "bf16")])
def test_train_defaults_to_auto_says_what_it_chose_and_records_it(tmp_path, capsys, monkeypatch, native, expected):
    monkeypatch.setenv("GENLAB_NATIVE_BF16", native)
    out = tmp_path / "run"
    assert main(["train", "vae", "--dataset", "digits", "--steps", "2", "--batch-size", "32", "--latent-dim", "2",
                 "--out", str(out), "--sample-every", "0", "--mode-check", "off"]) == 0
    err = capsys.readouterr().err
    assert f"precision {expected} (" in err
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["train"]["precision"] == "auto"
    assert cfg["precision"]["name"] == expected and cfg["precision"]["reason"]


def test_auto_is_the_default_everywhere():
    assert genlab.TrainConfig().precision == "auto"
    from genlab.runs.bench import BenchSettings

    assert BenchSettings().precision == "auto"
