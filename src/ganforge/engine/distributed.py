"""Many processes, one run: torch.distributed as launched by ``torchrun`` (DDP; gloo on CPU, nccl on GPU).

``torchrun`` starts one process per device and sets RANK, WORLD_SIZE and LOCAL_RANK; :func:`init`
joins the process group they describe. Without those variables every helper here answers for a single
process (rank 0 of 1), so the same code runs unchanged on a laptop.

Semantics (docs/scaling.md): ``batch_size`` is the *global* batch. Every process draws the same global
batch of indices and noise from the shared, checkpointed random stream and works on its own slice of it,
so N processes take the same optimisation steps as one process with that batch, and a checkpoint holds
nothing that belongs to one rank (a run can resume on another number of processes).
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist

from ganforge.errors import ConfigError


@dataclass(frozen=True)
class World:
    """Where this process stands: ``rank`` of ``size`` processes (``local_rank`` on its machine)."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        """True on the process that writes files (rank 0)."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.size > 1

    def shard(self, n: int) -> slice:
        """This rank's slice of a global batch of ``n`` (which must split evenly)."""
        per = n // self.size
        return slice(self.rank * per, (self.rank + 1) * per)


def launched() -> bool:
    """True when started by torchrun (or any launcher setting WORLD_SIZE > 1)."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def world() -> World:
    """This process's place: from the joined process group, else from torchrun's variables, else 0 of 1."""
    if dist.is_available() and dist.is_initialized():
        local = int(os.environ.get("LOCAL_RANK", dist.get_rank()))
        return World(dist.get_rank(), dist.get_world_size(), local)
    if launched():
        return World(
            int(os.environ.get("RANK", "0")),
            int(os.environ["WORLD_SIZE"]),
            int(os.environ.get("LOCAL_RANK", "0")),
        )
    return World()


def init(device: torch.device) -> World:
    """Join the process group torchrun describes (once per process); gloo on CPU, nccl on CUDA.

    On CUDA each process takes the GPU ``cuda:LOCAL_RANK``. A single process is returned as is.
    """
    if not launched():
        return World()
    if not dist.is_available():
        raise ConfigError("this torch build has no torch.distributed; run a single process")
    if not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        if backend == "nccl":
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        timeout = datetime.timedelta(minutes=float(os.environ.get("GANFORGE_DIST_TIMEOUT_MIN", "30")))
        dist.init_process_group(backend=backend, timeout=timeout)
    return world()


def check_batch(batch_size: int, multiple_of: int = 1) -> int:
    """This rank's share of a global batch; one-line error when it does not split evenly."""
    w = world()
    per, left = divmod(batch_size, w.size)
    if left or per % multiple_of:
        unit = w.size * multiple_of
        raise ConfigError(
            f"the batch ({batch_size}) is the global batch and must split evenly over {w.size} processes"
            + (f" into multiples of {multiple_of}" if multiple_of > 1 else "")
            + f"; use a multiple of {unit}"
        )
    return per


def local_device(device: torch.device) -> torch.device:
    """The device this rank trains on: ``cuda:LOCAL_RANK`` for CUDA runs under torchrun."""
    if device.type == "cuda" and launched():
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    return device


def is_main() -> bool:
    """True on rank 0 (and in a single process): the one process that writes files and prints."""
    return world().main


def barrier() -> None:
    """Wait for every rank (no-op in a single process)."""
    if dist.is_available() and dist.is_initialized():
        dist.barrier()


def all_reduce(t: torch.Tensor, op: str = "sum") -> torch.Tensor:
    """Sum / max / min ``t`` over ranks in place (no-op in a single process); returns ``t``."""
    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        ops = {"sum": dist.ReduceOp.SUM, "max": dist.ReduceOp.MAX, "min": dist.ReduceOp.MIN}
        dist.all_reduce(t, op=ops[op])
    return t


def mean_stats(stats: dict[str, float], device: torch.device) -> dict[str, float]:
    """The mean of each figure over ranks (identical on every rank afterwards)."""
    w = world()
    if not w.distributed or not stats:
        return stats
    keys = sorted(stats)
    t = torch.tensor([stats[k] for k in keys], dtype=torch.float64, device=device)
    all_reduce(t)
    return {k: float(v) / w.size for k, v in zip(keys, t.tolist(), strict=True)}


def any_rank(flag: bool, device: torch.device) -> bool:
    """True on every rank when ``flag`` is true on at least one (a collective: all ranks must call it)."""
    if not world().distributed:
        return flag
    t = torch.tensor([1.0 if flag else 0.0], device=device)
    return bool(all_reduce(t, "max").item() > 0)


def gather_objects(obj: Any) -> list[Any]:
    """Every rank's ``obj`` (JSON-like), in rank order, on every rank (a collective)."""
    w = world()
    if not w.distributed:
        return [obj]
    out: list[Any] = [None] * w.size
    dist.all_gather_object(out, obj)
    return out


def shutdown() -> None:
    """Leave the process group at the end of a command (safe to call anywhere)."""
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
