"""Large generation jobs: ``n`` rows or images written as ``shards`` independent, resumable files.

``ganforge sample RUN -n 100000000 --out dir/ --shards 64`` writes ``part-00000-of-00064.parquet`` ...
(tables; each with its provenance sidecar) or ``part-00000-of-00064.tar`` ... (tars of watermarked,
labelled PNGs named by their global index). Shard ``k`` holds items ``[k*n//K, (k+1)*n//K)`` and its
bytes are a pure function of (run, seed, k, K, n): its random stream is ``SeedSequence(seed,
spawn_key=(k,))``, so a shard can be remade alone, by any process, and the output does not depend on
how many workers or torchrun ranks wrote it.

Resuming: a shard is written to a temporary name, fsynced and renamed; only then is its record
``<shard>.done`` (rows, bytes, SHA-256) written. A restart of the same command skips every shard whose
record matches its file and redoes the rest. ``_job.json`` pins the job's settings (weights, n, shards,
seed, conditions; for tables the target whose class shares the rows keep): a different command into the
same folder is refused, and a job started without a seed continues with the seed it recorded.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ganforge.core import registry
from ganforge.core.io import atomic_file, sha256_file, substream_seed
from ganforge.errors import ConfigError

JOB = "_job.json"
DONE = ".done"
PARTIAL = ".partial"
MAX_SHARDS = 99_999  # five digits in the file names
COMPARED = (
    "kind",
    "weights_sha256",
    "n",
    "shards",
    "seed",
    "conditions",
    "class",
    "watermark",
    "engine",
    "class_shares_kept_of",
)


@dataclass(frozen=True)
class ShardTask:
    """Everything one process needs to make shard ``k`` (plain data: it crosses process boundaries)."""

    run: str
    kind: str
    out: str
    k: int
    shards: int
    n: int
    seed: int
    conditions: dict[str, Any] | None = None
    klass: int | None = None
    watermark: bool = True
    engine: str = "torch"
    onnx: str | None = None
    device: str = "cpu"
    class_shares: bool = True  # tables fitted with a target: keep its real class shares

    @property
    def name(self) -> str:
        return shard_name(self.k, self.shards, self.kind)

    @property
    def span(self) -> tuple[int, int]:
        return shard_span(self.k, self.shards, self.n)


def shard_name(k: int, shards: int, kind: str) -> str:
    """``part-00003-of-00064.parquet`` (tables) or ``.tar`` (images): the suffix is the wing's."""
    return f"part-{k:05d}-of-{shards:05d}.{registry.wing(kind).shard_suffix}"


def shard_span(k: int, shards: int, n: int) -> tuple[int, int]:
    """Global indices ``[start, stop)`` of shard ``k``: sizes differ by at most one."""
    return k * n // shards, (k + 1) * n // shards


def shard_seed(seed: int, k: int, *more: int) -> int:
    """A 63-bit seed for shard ``k`` (and sub-stream ``more``), independent of every other shard's."""
    return substream_seed(seed, k, *more)


# ---------------------------------------------------------------------------------------- one shard
_MODELS: dict[tuple, Any] = {}  # one loaded model per process, reused for all its shards


def _model(task: ShardTask) -> Any:
    key = (task.run, task.engine, task.onnx, task.device)
    if key not in _MODELS:
        _MODELS.clear()
        onnx = Path(task.onnx) if task.onnx else None
        _MODELS[key] = registry.wing(task.kind).sampler(Path(task.run), task.device, task.engine, onnx)
    return _MODELS[key]


def make_shard(task: ShardTask) -> dict[str, Any]:
    """Write shard ``task.k`` (temp file, fsync, rename, then its ``.done`` record); returns its summary."""
    from ganforge.core.config import write_json

    out, started = Path(task.out), time.perf_counter()
    final = out / task.name
    for pattern in (task.name + PARTIAL + "*", f".{task.name}.*.tmp"):  # left by a killed earlier attempt
        for stale in out.glob(pattern):
            stale.unlink(missing_ok=True)
    model = _model(task)
    wing = registry.wing(task.kind)
    try:
        with atomic_file(final, fsync=True) as fh:  # a unique temp name: an orphaned writer cannot collide
            count = wing.write_shard(task, model, fh)
        wing.finish_shard(final, model, count, task)
        record = {
            "file": task.name,
            "rows": count,
            "bytes": final.stat().st_size,
            "sha256": sha256_file(final),
        }
        write_json(out / (task.name + DONE), record | {"first": task.span[0], "shard": task.k})
    except OSError as e:
        raise ConfigError(f"cannot write {final}: {e.strerror or e}") from None
    return {"shard": task.k, "rows": count, "seconds": time.perf_counter() - started}


def shard_done(out: Path, name: str, kind: str) -> bool:
    """True when ``name`` is complete: its ``.done`` record matches the file's size and SHA-256."""
    try:
        record = json.loads((out / (name + DONE)).read_text())
        size = (out / name).stat().st_size
    except (OSError, ValueError):
        return False
    if not registry.wing(kind).shard_complete(out / name):
        return False
    return size == record.get("bytes") and sha256_file(out / name) == record.get("sha256")


# ---------------------------------------------------------------------------------------- the job
def _settings(run: Path, kind: str, n: int, shards: int, seed: int | None, **rest: Any) -> dict[str, Any]:
    from ganforge.engine import artifact

    config = artifact.read_config(run)
    conditions = json.loads(json.dumps(rest.pop("conditions") or {}, default=str))  # tuples -> lists
    return {"kind": kind, "weights_sha256": config.get("weights_sha256"), "n": n, "shards": shards,
            "seed": seed, "conditions": conditions, **rest, "run": str(run)}  # fmt: skip


def claim_job(out: Path, wanted: dict[str, Any], before: dict[str, Any] | None = None) -> dict[str, Any]:
    """The job recorded in ``out``: created from ``wanted`` if absent, else checked against it; ``before``
    holds what a key a record lacks stood for (a job recorded before the key existed).

    Creation is race-free across ranks and processes: the record is written to a private temp file and
    hard-linked into place, which fails if another process got there first; everyone then reads the one
    record (a job asked for without a seed adopts the recorded seed).
    """
    path = out / JOB
    if not path.exists():
        first = dict(wanted)
        if first["seed"] is None:
            first["seed"] = secrets.randbits(63)
        tmp = out / f".{JOB}.{os.getpid()}.tmp"
        tmp.write_text(json.dumps(first, indent=2, sort_keys=True) + "\n")
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink(missing_ok=True)
    try:
        recorded = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise ConfigError(f"{path} is unreadable ({e}); remove it to start a new job in {out}") from None
    was = (before or {}) | recorded  # a key the record lacks reads as what it stood for
    diff = [
        f"{key} {was.get(key)!r} there, {wanted.get(key)!r} here"
        for key in COMPARED
        if not (key == "seed" and wanted["seed"] is None) and was.get(key) != wanted.get(key)
    ]
    if diff:
        raise ConfigError(
            f"{out} holds another sampling job ({'; '.join(diff)}): use another --out or the same settings"
        )
    return recorded


def sample_shards(
    run_dir: str | Path,
    n: int | None,
    out: str | Path,
    shards: int,
    workers: int = 1,
    seed: int | None = None,
    conditions: dict[str, Any] | None = None,
    klass: int | None = None,
    watermark: bool = True,
    engine: str = "torch",
    onnx: str | Path | None = None,
    device: str = "cpu",
    report: Callable[[str], None] | None = None,
    class_shares: bool = True,
) -> dict[str, Any]:
    """Write ``n`` rows (table runs) or images (image runs) of ``run_dir`` as ``shards`` files in ``out``.

    Finished shards are skipped, so re-running the same call resumes a killed job. ``workers`` > 1 makes
    shards in that many spawned processes; under torchrun, rank r makes the shards k with k % world == r.
    ``report`` gets one line per finished shard (default: stderr). ``class_shares``: tables fitted with a
    target keep its real class shares (False: the mix sampling makes). Returns a summary dict.
    """
    from ganforge.engine.distributed import world

    run, out = Path(run_dir).resolve(), Path(out)
    task = ShardTask(str(run), "", str(out), 0, shards, 1, 0, conditions or None, klass, watermark,
                     engine, str(onnx) if onnx else None, device, class_shares)  # fmt: skip
    task, wing, n = _prepare(task, n, workers, seed)
    kind = task.kind
    if not class_shares and "class_shares" not in wing.sample_options:
        raise wing.unsupported("class_shares=False (the class mix sampling makes)")
    extra, before = {"class": klass, "watermark": watermark, "engine": engine}, {}
    if "class_shares" in wing.sample_options:  # what a table job's rows keep (class_shares_kept_of)
        model = _model(task)
        extra["class_shares_kept_of"] = model.shares_kept_of(conditions or None, class_shares)
        # jobs recorded before the key existed kept the shares whenever the model could
        before["class_shares_kept_of"] = model.shares_kept_of(conditions or None)
    try:
        out.mkdir(parents=True, exist_ok=True)
        job = claim_job(out, _settings(run, kind, n, shards, seed, conditions=conditions, **extra), before)
    except OSError as e:
        raise ConfigError(f"cannot write the job folder {out}: {e.strerror or e}") from None
    me = world()
    mine = [k for k in range(shards) if k % me.size == me.rank]
    skipped = [k for k in mine if shard_done(out, shard_name(k, shards, kind), kind)]
    tasks = [
        ShardTask(**(asdict(task) | {"k": k, "n": n, "seed": int(job["seed"])}))
        for k in mine
        if k not in skipped
    ]
    results = _run(tasks, workers, report or _stderr)
    what = wing.unit
    message = f"wrote {n:,} {what} in {shards} shards to {out} ({len(skipped)} skipped as already done)"
    if me.distributed:
        if me.main:  # under torchrun only rank 0 reports: it reports the whole job, once it is whole
            _wait_for_others(out, shards, kind)
        message = f"wrote {n:,} {what} in {shards} shards to {out} (rank {me.rank} of {me.size}: " + (
            f"{len(results)} made, {len(skipped)} skipped as already done)"
        )
    return {"out": str(out), "kind": kind, "n": n, "shards": shards, "seed": int(job["seed"]),
            "written": sorted(r["shard"] for r in results), "skipped": len(skipped), "rank": me.rank,
            "world": me.size, "message": message}  # fmt: skip


def _prepare(task: ShardTask, n: int | None, workers: int, seed: int | None) -> tuple[ShardTask, Any, int]:
    """The task with its run's kind, the wing, and ``n``; every option checked once, before any work
    (the model is loaded here: its weights are verified and its defaults settle ``n``)."""
    from ganforge.engine import artifact

    if task.engine not in ("torch", "onnx"):
        raise ConfigError(f"--engine must be torch or onnx (got {task.engine!r})")
    if task.engine == "torch" and task.onnx is not None:
        raise ConfigError("--onnx needs --engine onnx")
    kind = artifact.read_config(Path(task.run)).get("kind")
    wing = registry.wing(kind)
    _check_options(wing, Path(task.out), task.shards, workers, seed)
    task = ShardTask(**(asdict(task) | {"kind": kind}))
    model = _model(task)
    n = n if n is not None else wing.shard_default_n(model)
    if not 1 <= task.shards <= n:
        raise ConfigError(f"--shards must be between 1 and n ({n:,}); got {task.shards}")
    wing.shard_check(model, {"conditions": task.conditions, "klass": task.klass})  # not in every worker
    return task, wing, n


def _wait_for_others(out: Path, shards: int, kind: str) -> None:
    """Block until every shard has its ``.done`` record (other ranks write them); give up after the
    torchrun timeout passes with no shard finishing (torchrun itself stops all ranks when one fails)."""
    timeout = 60 * float(os.environ.get("GANFORGE_DIST_TIMEOUT_MIN", "30"))
    left, since = None, time.monotonic()
    while True:
        missing = [k for k in range(shards) if not (out / (shard_name(k, shards, kind) + DONE)).is_file()]
        if not missing:
            return
        if missing != left:
            left, since = missing, time.monotonic()
        elif time.monotonic() - since > timeout:
            raise ConfigError(
                f"no shard finished in {timeout / 60:.0f} min; {len(missing)} of {shards} are missing "
                f"(first: {shard_name(missing[0], shards, kind)}): run the same command again to finish them"
            )
        time.sleep(0.5)


def _check_options(wing: Any, out: Path, shards: int, workers: int, seed: int | None) -> None:
    if wing.shard_suffix is None:
        raise ConfigError(f"--shards is not available for {wing.name} models")
    if not 1 <= shards <= MAX_SHARDS:
        raise ConfigError(f"--shards must be between 1 and {MAX_SHARDS:,} (got {shards})")
    if out.suffix.lower() in (".parquet", ".pq", ".csv", ".png", ".tar"):
        raise ConfigError(
            f"with --shards, --out is a folder for the shard files (got the file name {out.name})"
        )
    if workers < 1:
        raise ConfigError(f"--workers must be >= 1 (got {workers})")
    if seed is not None and seed < 0:
        raise ConfigError(f"--seed must be >= 0 for sharded sampling (got {seed})")


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _init_worker() -> None:
    import torch

    torch.set_num_threads(1)  # P workers share the cores; more threads each would only contend


def _run(tasks: list[ShardTask], workers: int, report: Callable[[str], None]) -> list[dict[str, Any]]:
    """Make ``tasks`` here (one worker) or in ``workers`` spawned processes; report each finished shard."""
    results: list[dict[str, Any]] = []

    def done(r: dict[str, Any]) -> None:
        results.append(r)
        report(
            f"shard {r['shard']} done: {r['rows']:,} in {r['seconds']:.1f} s ({len(results)}/{len(tasks)})"
        )

    if workers == 1 or len(tasks) <= 1:
        for t in tasks:
            done(make_shard(t))
        return results
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    # spawn: a fresh interpreter per worker (fork would copy torch's thread pools and locks)
    ctx = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(min(workers, len(tasks)), mp_context=ctx, initializer=_init_worker)
    try:
        for future in as_completed([pool.submit(make_shard, t) for t in tasks]):
            done(future.result())
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)  # let running shards finish; queued ones never start
        raise
    pool.shutdown()
    return results
