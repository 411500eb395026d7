"""Process-group setup for torchrun, and the device choice.

Under ``torchrun --nproc_per_node N -m genlab train ...`` every process reads RANK, WORLD_SIZE and
LOCAL_RANK from the environment, joins a process group (nccl on CUDA, gloo otherwise), trains on
its own shard of every epoch and averages gradients through DistributedDataParallel. Only rank 0
writes files.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from genlab.errors import ConfigError


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def resolve_device(name: str, local_rank: int = 0) -> torch.device:
    """'auto' picks cuda (this process's GPU under torchrun), then mps, then cpu."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", local_rank % torch.cuda.device_count())
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"unknown device '{name}' (use auto, cpu, cuda, cuda:N or mps)") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device 'cuda' was asked for but no CUDA GPU is available (use --device cpu or auto)")
    if device.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ConfigError("device 'mps' was asked for but is not available (use --device cpu or auto)")
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", local_rank % torch.cuda.device_count())
    return device


def physical_cores() -> int:
    """Physical cores this process may run on: logical CPUs in its affinity mask over threads per core."""
    try:
        logical = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        logical = os.cpu_count() or 1
    per_core = 1
    try:
        info: dict[str, int] = {}
        for line in open("/proc/cpuinfo"):
            key, _, value = line.partition(":")
            if key.strip() in ("siblings", "cpu cores") and key.strip() not in info:
                info[key.strip()] = int(value)
        if info.get("cpu cores"):
            per_core = max(1, info.get("siblings", info["cpu cores"]) // info["cpu cores"])
    except (OSError, ValueError):
        pass
    return max(1, logical // per_core)


def cpu_threads(local_world_size: int) -> int | None:
    """Intra-op threads for one process training on the CPU, or None to keep PyTorch's choice.

    ``GENLAB_THREADS`` wins when set. Under torchrun the machine's physical cores are divided among
    the processes on it (torchrun itself would give each process one thread). A single process keeps
    PyTorch's default: ``OMP_NUM_THREADS`` when set, else one thread per physical core.
    """
    forced = os.environ.get("GENLAB_THREADS", "").strip()
    if forced:
        try:
            n = int(forced)
        except ValueError:
            raise ConfigError(f"GENLAB_THREADS must be a positive integer, got {forced!r}") from None
        if n < 1:
            raise ConfigError(f"GENLAB_THREADS must be a positive integer, got {forced!r}")
        return n
    if local_world_size > 1:
        return max(1, physical_cores() // local_world_size)
    return None


def setup(device: torch.device) -> DistInfo:
    """Join the process group when launched by torchrun (a no-op for a single process), and set the
    CPU thread count (:func:`cpu_threads`)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if device.type == "cpu":
        threads = cpu_threads(int(os.environ.get("LOCAL_WORLD_SIZE", "1")) if world > 1 else 1)
        if threads is not None and threads != torch.get_num_threads():
            torch.set_num_threads(threads)
    if world <= 1:
        return DistInfo()
    info = DistInfo(int(os.environ["RANK"]), world, int(os.environ.get("LOCAL_RANK", "0")))
    if not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group(backend=backend)
    return info


def finish() -> None:
    """After a successful run: every process waits for the others (rank 0 writes the run's last files
    after the loop), so none tears its connections down while another still uses them."""
    if dist.is_initialized():
        dist.barrier()


def teardown() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def any_flag(flags: torch.Tensor, info: DistInfo) -> torch.Tensor:
    """Element-wise OR of small int flags across processes (max all-reduce)."""
    if info.enabled:
        dist.all_reduce(flags, op=dist.ReduceOp.MAX)
    return flags


def barrier(info: DistInfo) -> None:
    if info.enabled:
        dist.barrier()
