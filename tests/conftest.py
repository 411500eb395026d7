"""Shared fixtures, and a tiny two-network model that exercises the multi-phase contract."""
from __future__ import annotations

import os
from dataclasses import dataclass

import pytest
import torch
from torch import nn

# pytest runs with -n 2 on a 2-core machine: one thread per worker (and per child process) avoids
# oversubscription, which makes small models 10x slower
os.environ.setdefault("OMP_NUM_THREADS", "1")
torch.set_num_threads(1)
# --precision auto picks bf16 only on CPUs with native bf16: pin the probe so results (and bit-exact
# resume checks) do not depend on the CPU the suite runs on; tests of the rule set it themselves
os.environ["GENLAB_NATIVE_BF16"] = "0"

from genlab.models.base import Batch, GenerativeModel, Phase  # noqa: E402
from genlab.registry import MODELS, register  # noqa: E402


@dataclass
class TwoNetConfig:
    """A toy GAN-shaped model: a generator and a critic trained in separate phases.

    Attributes:
        data_shape: (C, H, W), from the data.
        noise_dim: generator input size.
        critic_steps: critic updates per generator update.
    """

    data_shape: tuple[int, int, int] = (1, 8, 8)
    noise_dim: int = 4
    critic_steps: int = 2


class TwoNet(GenerativeModel):
    """Generator and critic with a Wasserstein-style toy objective (test-only)."""

    def __init__(self, config: TwoNetConfig):
        super().__init__(config)
        n = 1
        for d in config.data_shape:
            n *= d
        self.generator = nn.Sequential(nn.Linear(config.noise_dim, n), nn.Sigmoid(), nn.Unflatten(1, config.data_shape))
        self.critic = nn.Sequential(nn.Flatten(), nn.Linear(n, 1))

    def phases(self) -> list[Phase]:
        return [Phase("critic", ("critic",), repeats=self.config.critic_steps), Phase("generator", ("generator",))]

    def losses(self, batch: Batch, phase: str = "critic") -> dict[str, torch.Tensor]:
        fake = self.generator(torch.randn(batch.x.shape[0], self.config.noise_dim, device=batch.x.device))
        if phase == "critic":
            loss = self.critic(fake.detach()).mean() - self.critic(batch.x).mean()
        else:
            loss = -self.critic(fake).mean()
        return {"loss": loss}

    def sample(self, n: int, labels=None) -> torch.Tensor:
        return self.generator(torch.randn(n, self.config.noise_dim, device=self.device))


if "test-twonet" not in MODELS:
    register("test-twonet", TwoNetConfig, "test-only two-network model")(TwoNet)


@pytest.fixture
def digits_data():
    """A small real dataset (sklearn digits, 8x8) as a DataConfig dict."""
    return {"dataset": "digits"}


@pytest.fixture
def quick_train():
    """Training settings for runs that take a second or two."""
    return {"steps": 6, "batch_size": 32, "device": "cpu", "log_every": 2, "num_samples": 4, "seed": 3}


def run_torchrun(cmd: list[str], env: dict[str, str], out=None):
    """Run a torchrun command; retry (up to two more times) when a child died of SIGABRT.

    On a loaded 2-core machine a finished gloo child has (rarely: about 1 of 14-20 runs at load 4)
    aborted after rank 0 wrote its run ("terminate called without an active exception"); two in a row
    were seen once. The cause is not found yet (see the session notes); a third abort still fails the
    test, and the children's own lines are kept for the failure message."""
    import shutil
    import subprocess

    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    for _ in range(2):
        if proc.returncode == 0 or "SIGABRT" not in proc.stderr:
            break
        if out is not None:
            shutil.rmtree(out, ignore_errors=True)
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    return proc


@pytest.fixture(scope="session")
def torchrun():
    """:func:`run_torchrun`, for tests in any folder."""
    return run_torchrun
