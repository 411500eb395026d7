"""genlab against pythae (the reference VAE library) on the same model: whole-process CPU time.

    python -m venv --system-site-packages /tmp/pythae-venv && /tmp/pythae-venv/bin/pip install pythae
    /tmp/pythae-venv/bin/python benchmarks/pythae_compare.py [--epochs 2] [--threads 1 2] [--repeats 2]

pythae is installed only in that benchmark environment (it sees the machine's torch through
--system-site-packages); it is never a genlab dependency. genlab's default conv VAE is built once
per child process and trained on the first 10,000 MNIST training images (grayscale in [0, 1]),
batch 128, fp32, Adam 1e-3, for ``--epochs`` epochs, three ways, each in its own process:

* ``genlab``: ``genlab.train('vae', ...)`` in memory (no run directory, one validation batch);
* ``pythae``: the same encoder and decoder modules wrapped as pythae's custom ``BaseEncoder`` /
  ``BaseDecoder`` (a sigmoid on the decoder, since pythae's Bernoulli loss takes probabilities;
  the images as pythae's in-memory ``BaseDataset`` behind its DataLoader)
  in ``pythae.models.VAE`` with the ``bce`` loss, trained by pythae's ``BaseTrainer``;
* ``bare``: a plain PyTorch loop over genlab's model (``model(batch)['loss']``, backward, step).

The figure is the child's whole-process CPU time (user + system, from ``getrusage``), so start-up,
imports and data loading count as a user experiences them. Runs are alternated (genlab, pythae,
bare, genlab, ...) so a change of machine load hits all three.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

N_TRAIN, BATCH, LR = 10_000, 128, 1e-3


def _data():
    import genlab
    from genlab.data import load_splits

    splits = load_splits(genlab.DataConfig(dataset="mnist", limit=N_TRAIN))
    return splits.train.images(slice(None))  # (N, 1, 28, 28) float in [0, 1]


def run_genlab(epochs: int) -> None:
    import genlab

    genlab.train("vae", data={"dataset": "mnist", "limit": N_TRAIN},
                 train={"epochs": epochs, "batch_size": BATCH, "lr": LR, "precision": "fp32", "sample_every": 0,
                        "log_every": 0, "eval_batches": 1, "mode_check": "off", "device": "cpu"})


def run_bare(epochs: int) -> None:
    import torch

    from genlab import registry
    from genlab.data.base import Batch

    x = _data()
    torch.manual_seed(0)
    model = registry.build("vae", {"data_shape": [1, 28, 28]}).train()
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    for _ in range(epochs):
        perm = torch.randperm(x.shape[0])
        for b in range(x.shape[0] // BATCH):
            batch = Batch(x[perm[b * BATCH:(b + 1) * BATCH]])
            opt.zero_grad(set_to_none=True)
            model(batch, "model")["loss"].backward()
            opt.step()


def run_pythae(epochs: int) -> None:
    import tempfile

    import torch
    from pythae.data.datasets import BaseDataset
    from pythae.models import VAE, VAEConfig
    from pythae.models.base.base_utils import ModelOutput
    from pythae.models.nn import BaseDecoder, BaseEncoder
    from pythae.trainers import BaseTrainer, BaseTrainerConfig

    from genlab import registry

    x = _data()
    torch.manual_seed(0)
    ours = registry.build("vae", {"data_shape": [1, 28, 28]})

    class Encoder(BaseEncoder):
        def __init__(self):
            super().__init__()
            self.net = ours.encoder

        def forward(self, inputs):
            mu, logvar = self.net(inputs).chunk(2, dim=-1)
            return ModelOutput(embedding=mu, log_covariance=logvar)

    class Decoder(BaseDecoder):
        def __init__(self):
            super().__init__()
            self.net = ours.decoder

        def forward(self, z):
            return ModelOutput(reconstruction=torch.sigmoid(self.net(z)))

    cfg = VAEConfig(input_dim=(1, 28, 28), latent_dim=ours.config.latent_dim, reconstruction_loss="bce")
    model = VAE(cfg, encoder=Encoder(), decoder=Decoder())
    with tempfile.TemporaryDirectory() as out:
        config = BaseTrainerConfig(output_dir=out, num_epochs=epochs, learning_rate=LR,
                                   per_device_train_batch_size=BATCH, no_cuda=True, steps_saving=None)
        trainer = BaseTrainer(model, train_dataset=BaseDataset(x, torch.zeros(len(x))), training_config=config)
        trainer.train()


def child(framework: str, epochs: int) -> None:
    {"genlab": run_genlab, "pythae": run_pythae, "bare": run_bare}[framework](epochs)


def measure(framework: str, epochs: int, threads: int) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "GENLAB_THREADS": str(threads)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run([sys.executable, __file__, "--child", framework, "--epochs", str(epochs)], env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"framework": framework, "threads": threads, "cpu_s": cpu, "wall_s": wall}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--child", choices=["genlab", "pythae", "bare"])
    p.add_argument("--out")
    args = p.parse_args()
    if args.child:
        child(args.child, args.epochs)
        return
    rows = []
    for threads in args.threads:
        for _ in range(args.repeats):
            for framework in ("genlab", "pythae", "bare"):
                rows.append(measure(framework, args.epochs, threads))
                print(json.dumps(rows[-1]), flush=True)
    print(f"\n{N_TRAIN} MNIST images x {args.epochs} epochs, batch {BATCH}, fp32, load average "
          f"{os.getloadavg()[0]:.1f}")
    print("| threads | genlab CPU-s | pythae CPU-s | bare loop CPU-s | genlab / pythae | genlab / bare |")
    print("|---:|---:|---:|---:|---:|---:|")
    for threads in args.threads:
        mean = {f: sum(r["cpu_s"] for r in rows if r["framework"] == f and r["threads"] == threads) / args.repeats
                for f in ("genlab", "pythae", "bare")}
        print(f"| {threads} | {mean['genlab']:.1f} | {mean['pythae']:.1f} | {mean['bare']:.1f} | "
              f"{mean['genlab'] / mean['pythae']:.2f}x | {mean['genlab'] / mean['bare']:.2f}x |")
    if args.out:
        with open(args.out, "w") as f:
            json.dump(rows, f, indent=2)


if __name__ == "__main__":
    main()
