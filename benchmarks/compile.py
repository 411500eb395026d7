"""torch.compile against eager on the CPU, for one model's training step (what `--compile` changes).

    OMP_NUM_THREADS=1 python benchmarks/compile.py vae eager
    OMP_NUM_THREADS=1 python benchmarks/compile.py vae compile

One fresh process per (model, mode): genlab's model defaults on 4096 MNIST images, batch 64, fp32,
Adam, the model's phases run as genlab's trainer runs them (zero_grad, forward through the compiled
or eager module, backward, step, after_step). Prints the compile/warm-up CPU time of the first 3
rounds and the steady-state CPU milliseconds per round over the next 20.
"""
from __future__ import annotations

import sys
import time

import torch

import genlab
from genlab import registry
from genlab.data import load_splits
from genlab.data.base import Batch

name, mode = sys.argv[1], sys.argv[2]
splits = load_splits(genlab.DataConfig(dataset="mnist", limit=4096))
x = splits.train.images(slice(None))
torch.manual_seed(0)
model = registry.build(name, {"data_shape": [1, 28, 28]}).train()
phases = model.phases()
opts = {p.name: torch.optim.Adam(model.phase_parameters(p), lr=1e-4) for p in phases}
forward = torch.compile(model) if mode == "compile" else model
B = 64


def one_round(i: int) -> None:
    for p in phases:
        for _ in range(p.repeats):
            start = (i * B) % (len(x) - B)
            model.zero_grad(set_to_none=True)
            forward(Batch(x[start:start + B]), p.name)["loss"].backward()
            opts[p.name].step()
            model.after_step(p.name)


t0 = time.process_time()
for i in range(3):
    one_round(i)
t1 = time.process_time()
for i in range(3, 23):
    one_round(i)
t2 = time.process_time()
print(f"{name} {mode}: first 3 rounds {t1 - t0:.1f} CPU-s, steady {(t2 - t1) / 20 * 1000:.1f} CPU-ms per round")
