"""Parquet tables of any size, streamed by row groups: bounded memory however many rows the file holds.

* The codec and the column metadata are fitted on a bounded random sample of rows, drawn from random
  row groups (:func:`sample_rows`), never on the whole table.
* :class:`ParquetStreamSource` keeps a *shuffle buffer*: the encoded rows of a few row groups (at most
  ``buffer_rows`` rows). Each real batch is drawn from the buffer by training-by-sampling; once a
  slot's worth of rows has been drawn, the oldest row group leaves and this rank's next one comes in.
* Under torchrun each rank reads only its own row groups (group ``i`` belongs to rank ``i % world``)
  and draws its own local batch (``per_rank = True``).
* Its random choices come from its own generator, re-seeded from (seed, rank, batches drawn) for every
  batch; the trainer's shared stream is never touched, so all ranks stay in step whatever their
  buffers hold. ``state_dict()`` / ``load_state_dict()`` (small JSON dicts) make a resume exact.
* Rows of later row groups that the sample-fitted codec cannot represent (a category or a missing
  value the sample never showed, with no "other"/"missing" slot to hold it) are skipped and counted.

Everything here is numpy + pandas + pyarrow, except the tensors :meth:`ParquetStreamSource.sample`
hands the engine.
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ganforge.errors import ConfigError, DataError, warn_caller
from ganforge.tables.codec import TableCodec

PARQUET_SUFFIXES = (".parquet", ".pq")
SAMPLE_ROWS = 50_000  # rows the metadata and codec are fitted on
SAMPLE_GROUPS = 64  # row groups those rows are drawn from (reading every group of a huge file is slow)
BUFFER_ROWS = 65_536
BUFFER_SLOTS = 4  # row groups in the buffer at once: each stays for ~4 slots' worth of drawn rows


def open_parquet(path: str | Path) -> Any:
    """A ``pyarrow.parquet.ParquetFile`` for ``path``; anything but a readable Parquet file is a DataError."""
    p = Path(path)
    if not p.is_file():
        raise DataError(f"no such file: {p}")
    if p.suffix.lower() not in PARQUET_SUFFIXES:
        raise DataError(
            f"streaming reads Parquet by row groups; {p.name} is not Parquet: convert it (e.g. "
            "pandas.read_csv(...).to_parquet('table.parquet', row_group_size=100_000)) or drop --stream"
        )
    try:
        import pyarrow
        import pyarrow.parquet as pq
    except ImportError:
        raise DataError(f"streaming {p} needs pyarrow; install it") from None
    try:
        pf = pq.ParquetFile(p)
    except (pyarrow.ArrowException, OSError, ValueError) as e:
        raise DataError(f"cannot read {p} as Parquet (corrupt or not Parquet): {_first_line(e)}") from None
    if pf.metadata.num_rows < 2 or pf.metadata.num_columns == 0:
        raise DataError(f"{p} has {pf.metadata.num_rows} row(s); a GAN needs at least 2")
    return pf


def parquet_rows(path: str | Path) -> int:
    """Number of rows, from the Parquet footer (reads no data)."""
    return int(open_parquet(path).metadata.num_rows)


def parquet_columns(path: str | Path) -> tuple[list[str], int]:
    """Column names (stripped) and row count, from the Parquet footer (reads no data)."""
    pf = open_parquet(path)
    return [str(c).strip() for c in pf.schema_arrow.names], int(pf.metadata.num_rows)


def parquet_fingerprint(path: str | Path, chunk: int = 1 << 20) -> str:
    """SHA-1 of the footer's shape (rows, groups, schema) and of the file's bytes, read ``chunk`` at a time."""
    pf = open_parquet(path)
    md = pf.metadata
    h = hashlib.sha1(f"{md.num_rows}|{md.num_row_groups}|{pf.schema_arrow}".encode())
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def read_group(pf: Any, group: int) -> pd.DataFrame:
    """One row group as a DataFrame, column names stripped as ``read_table`` does."""
    df = pf.read_row_group(group).to_pandas()
    df.columns = [str(c).strip() for c in df.columns]
    return df.reset_index(drop=True)


def sample_rows(pf: Any, n: int = SAMPLE_ROWS, seed: int = 0) -> pd.DataFrame:
    """About ``n`` random rows from up to ``SAMPLE_GROUPS`` random row groups, a share from each.

    Memory: one row group plus the rows kept so far.
    """
    rng = np.random.default_rng([seed, 0x5A3])
    groups = rng.permutation(pf.metadata.num_row_groups)[:SAMPLE_GROUPS]
    share = math.ceil(n / len(groups))
    parts = []
    for g in sorted(int(g) for g in groups):  # file order: fewer seeks
        df = read_group(pf, g)
        keep = np.sort(rng.choice(len(df), size=min(share, len(df)), replace=False))
        parts.append(df.iloc[keep])
    return pd.concat(parts, ignore_index=True).iloc[:n]


def stream_sample(path: str | Path, seed: int = 0) -> tuple[pd.DataFrame, str, int]:
    """What ``TableGAN.fit(path, stream=True)`` fits on: (sample rows, fingerprint, rows in the file)."""
    pf = open_parquet(path)
    return sample_rows(pf, SAMPLE_ROWS, seed), parquet_fingerprint(path), int(pf.metadata.num_rows)


def representable(codec: TableCodec, df: pd.DataFrame) -> np.ndarray:
    """Rows the codec can encode: no category or missing value it has no slot for."""
    ok = np.ones(len(df), dtype=bool)
    for col in codec.columns:
        nan = df[col.name].isna().to_numpy()
        if not col.missing:
            ok &= ~nan
        if col.numeric:
            continue  # unseen numbers fall into the nearest mode / point
        slots = codec.category_slots(col, df[col.name], codec.meta[col.name])
        spare = len(col.kept)  # the "other" slot when there is one, else "missing", else past the end
        ok &= (slots < spare) | (bool(col.other) & ~nan & (slots == spare)) | (col.missing & nan)
    return ok


def _first_line(e: BaseException) -> str:
    text = " ".join(str(e).split()) or type(e).__name__
    return text[:200]


def _seed(*parts: int) -> int:
    """A 63-bit seed mixed from integers (numpy's SeedSequence: no collisions between nearby tuples)."""
    return int(
        np.random.SeedSequence([int(p) for p in parts]).generate_state(2, np.uint32).view(np.uint64)[0] >> 1
    )


class ParquetStreamSource:
    """A BatchSource over a Parquet file that holds at most ``buffer_rows`` encoded rows.

    ``codec`` must be fitted already (see :func:`sample_rows`); ``sample_x`` (the encoded sample rows)
    gives the health probe its reals and the conditional vector its category frequencies.
    ``rank``/``world_size`` default to torchrun's (``ganforge.engine.distributed.world()``).
    """

    per_rank = True  # each rank draws its own local batch from its own row groups

    def __init__(
        self,
        path: str | Path,
        codec: TableCodec,
        sample_x: np.ndarray,
        cond_spans: list[tuple[int, int]],
        seed: int = 0,
        buffer_rows: int = BUFFER_ROWS,
        slots: int = BUFFER_SLOTS,
        rank: int | None = None,
        world_size: int | None = None,
    ) -> None:
        from ganforge.tables.recipe import TableSource  # training-by-sampling lives with the recipe

        if rank is None or world_size is None:
            from ganforge.engine.distributed import world

            w = world()
            rank, world_size = w.rank if rank is None else rank, w.size if world_size is None else world_size
        if buffer_rows < slots or slots < 1:
            raise ConfigError(f"buffer_rows ({buffer_rows}) must be at least slots ({slots}) >= 1")
        self.path, self.pf, self.codec = Path(path), open_parquet(path), codec
        self.seed, self.rank, self.world_size = int(seed), int(rank), int(world_size)
        n_groups = self.pf.metadata.num_row_groups
        self.groups = list(range(self.rank, n_groups, self.world_size))
        if not self.groups:
            raise ConfigError(
                f"{self.path.name} has {n_groups} row group(s), fewer than the {self.world_size} processes; "
                "write it with smaller row groups (row_group_size) or use fewer processes"
            )
        self.slots = min(slots, len(self.groups))
        self.slot_rows = buffer_rows // self.slots
        self.buffer_rows = self.slot_rows * self.slots
        # What the probe and the recipe's condition frequencies see: the bounded sample, all ranks alike.
        self.reference = TableSource(sample_x, cond_spans)
        self.cond_spans = self.reference.cond_spans
        self.reads: Counter[int] = Counter()  # row group -> times read (bounded by the group count)
        self.skipped_rows = 0
        self._partial = False  # a row group was cut to fit its slot
        self._make_source = TableSource
        self._state = {"draws": 0, "pass": 0, "cursor": 0, "since_refresh": 0, "loaded": []}
        self._fill()
        self._static = len(self.groups) <= self.slots and not self._partial

    # ------------------------------------------------------------------ what the rest of ganforge reads
    @property
    def x(self) -> Any:
        """The encoded sample rows (bounded): the reals the health probe compares with."""
        return self.reference.x

    @property
    def freq_p(self) -> Any:
        return self.reference.freq_p

    def cond_vectors(self, col: Any, cat: Any) -> Any:
        return self.reference.cond_vectors(col, cat)

    def __len__(self) -> int:
        """Rows in the whole file (every rank's): what epochs are counted in."""
        return int(self.pf.metadata.num_rows)

    def buffered(self) -> int:
        """Encoded rows held now (never more than ``buffer_rows``)."""
        return len(self._buffer)

    # ------------------------------------------------------------------ drawing
    def get(self, indices: Any) -> tuple[Any, Any]:
        """Rows of the current buffer (indices wrap around it); the trainer uses :meth:`sample`."""
        return self._buffer.get(indices % len(self._buffer))

    def sample(self, n: int, rng: Any = None) -> tuple[Any, Any]:
        """``n`` rows by training-by-sampling from the buffer, drawn from this source's own generator.

        ``rng`` (the trainer's shared stream) is deliberately left untouched: see the module docstring.
        """
        import torch  # the engine's protocol asks for tensors

        st = self._state
        gen = torch.Generator().manual_seed(_seed(self.seed, self.rank, st["draws"]))
        x, c = self._buffer.sample(n, gen)
        st["draws"] += 1
        if self._static:  # every row of this rank already sits in the buffer
            return x, c
        st["since_refresh"] += n
        if st["since_refresh"] >= self.slot_rows:
            st["since_refresh"] = 0
            self._refresh()
        return x, c

    # ------------------------------------------------------------------ the buffer
    def _next_group(self) -> tuple[int, int]:
        """This rank's next row group and the pass over its groups it is read in."""
        st = self._state
        if st["cursor"] >= len(self.groups):
            st["pass"], st["cursor"] = st["pass"] + 1, 0
        order = np.random.default_rng(_seed(self.seed, self.rank, st["pass"], 1)).permutation(self.groups)
        st["cursor"] += 1
        return int(order[st["cursor"] - 1]), int(st["pass"])

    def _fill(self) -> None:
        self._slots = [self._load(*self._next_group()) for _ in range(self.slots)]
        self._state["loaded"] = [[g, p] for g, p, _ in self._slots]
        self._rebuild()

    def _refresh(self) -> None:
        self._slots = self._slots[1:] + [self._load(*self._next_group())]  # the oldest group leaves
        self._state["loaded"] = [[g, p] for g, p, _ in self._slots]
        self._rebuild()

    def _load(self, group: int, pass_: int) -> tuple[int, int, np.ndarray]:
        """Encode (a random ``slot_rows`` of) one row group; its rows and modes depend on (seed, group, pass)."""
        df = read_group(self.pf, group)
        self.reads[group] += 1
        rng = np.random.default_rng(_seed(self.seed, group, pass_, 2))
        if len(df) > self.slot_rows:
            self._partial = True
            df = df.iloc[np.sort(rng.choice(len(df), size=self.slot_rows, replace=False))]
        ok = representable(self.codec, df)
        if not ok.all():
            self._warn_skipped(int((~ok).sum()), group)
            df = df[ok]
        x = self.codec.encode(df.reset_index(drop=True), seed=_seed(self.seed, group, pass_, 3))
        return group, pass_, x

    def _rebuild(self) -> None:
        x = np.concatenate([x for _, _, x in self._slots])
        if len(x) < 2:
            raise DataError(f"row groups {[g for g, _, _ in self._slots]} of {self.path} hold no usable rows")
        self._buffer = self._make_source(x, self.cond_spans)

    def _warn_skipped(self, count: int, group: int) -> None:
        if self.skipped_rows == 0:
            warn_caller(
                f"row group {group} of {self.path.name} has {count} row(s) with a category or missing value "
                "the fitting sample never showed; such rows are skipped"
            )
        self.skipped_rows += count

    # ------------------------------------------------------------------ resume
    def state_dict(self) -> dict[str, Any]:
        """Where the stream stands, as a small JSON-ready dict (for checkpoints)."""
        return {**self._state, "rank": self.rank, "world_size": self.world_size}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue exactly where :meth:`state_dict` was taken; a state from another rank layout is ignored
        (the stream then starts afresh, which is still correct training, just not a bit-exact resume)."""
        if (state.get("rank"), state.get("world_size")) != (self.rank, self.world_size):
            return
        self._state = {k: state[k] for k in ("draws", "pass", "cursor", "since_refresh")}
        self._state["loaded"] = [list(p) for p in state["loaded"]]
        self._slots = [self._load(int(g), int(p)) for g, p in self._state["loaded"]]
        self._rebuild()
