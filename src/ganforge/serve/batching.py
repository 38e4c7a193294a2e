"""Batched generation: concurrent requests for one model share generator calls.

Each request brings its own latents (made from its own seed, so its output does not depend on what it
is batched with). A per-model task takes the first waiting request, gathers more for up to a few
milliseconds (or until ``max_batch`` images), runs *one* generator call in a worker thread and hands each
request its slice. Requests that arrive during a call wait for the next one, so under load batches fill
up by themselves and under light load a request waits at most the gathering window.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch

from ganforge.errors import GanforgeError


class ServerBusy(GanforgeError):
    """Too many requests are waiting for this model; the client should retry later."""


@dataclass
class BatchStats:
    """What the batcher has done: requests served, generator calls and the largest call."""

    requests: int = 0
    images: int = 0
    forward_passes: int = 0
    largest_pass: int = 0
    max_batch: int = 0
    waiting: int = 0
    most_waiting: int = 0
    rejected: int = 0

    def as_dict(self) -> dict[str, int]:
        """JSON-ready figures."""
        return asdict(self)


@dataclass
class _Job:
    z: torch.Tensor
    c: torch.Tensor | None
    future: asyncio.Future

    def __len__(self) -> int:
        return int(self.z.shape[0])


class Batcher:
    """Gathers ``(z, c)`` jobs for one generator and runs them together.

    ``generate(z, c) -> uint8 images`` runs in ``executor``; it is called with at most ``max_batch``
    rows at a time (a single job larger than that is split), one call at a time per batcher.
    """

    def __init__(
        self,
        generate: Callable[[torch.Tensor, torch.Tensor | None], np.ndarray],
        executor: Executor,
        max_batch: int = 256,
        window_ms: float = 2.0,
        max_queue: int = 256,
    ) -> None:
        self.generate, self.executor = generate, executor
        self.max_batch, self.window, self.max_queue = max_batch, window_ms / 1000.0, max_queue
        self.stats = BatchStats(max_batch=max_batch)
        self._queue: asyncio.Queue[_Job] | None = None
        self._held: _Job | None = None  # a job that did not fit into the previous call
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        """Start the gathering task on the running event loop."""
        self._queue = asyncio.Queue()
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        """Stop the gathering task; waiting requests are cancelled."""
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None

    async def submit(self, z: torch.Tensor, c: torch.Tensor | None) -> np.ndarray:
        """Images for latents ``z`` (and class labels ``c``), generated together with other requests."""
        if self._queue is None:
            raise RuntimeError("Batcher.start() was not called")
        if self.stats.waiting >= self.max_queue:
            self.stats.rejected += 1
            raise ServerBusy(f"{self.stats.waiting} requests are already waiting for this model; retry later")
        job = _Job(z, c, asyncio.get_running_loop().create_future())
        self.stats.waiting += 1
        self.stats.most_waiting = max(self.stats.most_waiting, self.stats.waiting)
        self._queue.put_nowait(job)
        try:
            return await job.future
        finally:
            self.stats.waiting -= 1

    async def _next_job(self, timeout: float | None) -> _Job | None:
        if self._held is not None:
            job, self._held = self._held, None
            return job
        assert self._queue is not None
        if timeout is None:
            return await self._queue.get()
        try:
            return (
                self._queue.get_nowait()
                if timeout <= 0
                else await asyncio.wait_for(self._queue.get(), timeout)
            )
        except (asyncio.QueueEmpty, asyncio.TimeoutError):
            return None

    async def _gather(self) -> list[_Job]:
        first = await self._next_job(None)
        jobs, total = [first], len(first)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.window
        while total < self.max_batch:
            job = await self._next_job(deadline - loop.time())
            if job is None:
                break
            if job.future.done():  # the client went away while waiting
                continue
            if total + len(job) > self.max_batch:
                self._held = job
                break
            jobs.append(job)
            total += len(job)
        return jobs

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            jobs = [j for j in await self._gather() if not j.future.done()]
            if not jobs:
                continue
            try:
                z = torch.cat([j.z for j in jobs])
                c = torch.cat([j.c for j in jobs]) if jobs[0].c is not None else None
                images = await loop.run_in_executor(self.executor, self._generate_split, z, c)
            except Exception as e:  # handed to every request of this call
                for job in jobs:
                    if not job.future.done():
                        job.future.set_exception(e)
                continue
            start = 0
            for job in jobs:
                part = images[start : start + len(job)]
                start += len(job)
                if not job.future.done():
                    job.future.set_result(part)
            self.stats.requests += len(jobs)
            self.stats.images += len(z)

    def _generate_split(self, z: torch.Tensor, c: torch.Tensor | None) -> np.ndarray:
        parts = []
        for start in range(0, len(z), self.max_batch):
            zz = z[start : start + self.max_batch]
            cc = c[start : start + self.max_batch] if c is not None else None
            parts.append(self.generate(zz, cc))
            self.stats.forward_passes += 1
            self.stats.largest_pass = max(self.stats.largest_pass, len(zz))
        return np.concatenate(parts)


class Gate:
    """Bounded access to one model for work that is not batched (table rows): one at a time, at most
    ``max_queue`` waiting; beyond that ``ServerBusy``."""

    def __init__(self, max_queue: int = 256) -> None:
        self.max_queue = max_queue
        self.waiting = 0
        self._lock: asyncio.Lock | None = None

    async def run(self, executor: Executor, fn: Callable[..., Any], *args: Any) -> Any:
        """``fn(*args)`` in ``executor`` once it is this request's turn."""
        if self._lock is None:
            self._lock = asyncio.Lock()
        if self.waiting >= self.max_queue:
            raise ServerBusy(f"{self.waiting} requests are already waiting for this model; retry later")
        self.waiting += 1
        try:
            async with self._lock:
                return await asyncio.get_running_loop().run_in_executor(executor, fn, *args)
        finally:
            self.waiting -= 1
