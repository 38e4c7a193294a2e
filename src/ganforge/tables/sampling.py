"""Sampling from a trained table model: conditional rows, in memory or streamed to Parquet/CSV.

A mixin of :class:`ganforge.tables.model.TableGAN`: it uses the model's ``recipe_config``, ``codec``,
``G_ema``, ``device`` and ``metadata``. Exact categories are asked of the generator through the
conditional vector (the rarest one when several are given); the other conditions filter rows.
A model trained with a target (``fit(target=...)``) and sampled without conditions keeps the target's
class balance: rows are generated as usual, then kept class by class in the real shares (the whole call,
or each shard, to within one row), so the balance is left neither to sampling noise nor to the
generator's drift. Such a model also draws each row's target from its target model (``labeller.py``)
given the row's other columns, unless the conditions name the target.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import torch

from ganforge.core.io import atomic_file, substream_seed
from ganforge.errors import ConfigError, warn_caller
from ganforge.tables.labeller import TargetModel


class ClassPlan(NamedTuple):
    """What ``sample`` asks of each row to keep the target's class shares (``TableSampling._class_plan``)."""

    column: str  # the target
    first: int  # where its span starts in an encoded row
    shares: np.ndarray  # the real share of each of its slots
    slots: np.ndarray  # the slot each row of the call is to hold


class TableSampling:
    """``sample`` and ``sample_to_file`` for a trained table model."""

    def _slot_probs(self) -> list[np.ndarray]:
        """Real share of each slot of each conditional span (categories are asked for at this rate)."""
        return [np.asarray(p, dtype=float) / max(sum(p), 1e-12) for p in self.recipe_config.cond_freq]

    @torch.no_grad()
    def _generate(
        self, n: int, gen: torch.Generator, fixed: tuple[int, int] | None
    ) -> tuple[np.ndarray, dict[int, np.ndarray]]:
        """``n`` encoded rows from the generator, and their ``choice_slots`` (as the generator drew them);
        ``fixed`` = (conditional column, slot) to ask for."""
        rc = self.recipe_config
        z = torch.randn(n, rc.z_dim, generator=gen)
        index = None
        if rc.cond_spans:
            sizes = [s for _, s in rc.cond_spans]
            offsets = torch.as_tensor(np.cumsum([0] + sizes)[:-1])
            if fixed is not None:
                index = torch.full((n,), int(offsets[fixed[0]]) + fixed[1], dtype=torch.long)
            else:  # a conditional span uniformly, then a slot at its real rate
                from ganforge.tables.recipe import draw_conditions

                weights = torch.zeros(len(sizes), max(sizes), dtype=torch.float64)
                for j, p in enumerate(self.recipe_config.cond_freq):
                    weights[j, : len(p)] = torch.as_tensor(p, dtype=torch.float64)
                col, cat = draw_conditions(weights, n, gen)
                index = offsets[col] + cat
            index = index.to(self.device)
        rows, drawn = self.G_ema.eval().draw(z.to(self.device), index, gen)
        drawn = drawn.cpu().numpy()
        return rows.float().cpu().numpy(), {
            a: drawn[:, j] for j, (a, _) in enumerate(self.G_ema.choice_spans)
        }

    def _class_plan(self, n: int, gen: torch.Generator) -> ClassPlan | None:
        """The target's class plan for ``n`` rows when the model has a target among its conditional columns
        (not a differentially private model); else None. Slot c gets floor(n * F_c + u) - floor(n * F_(c-1)
        + u) rows (F the cumulative real shares, u one random offset): the whole call holds every real
        share to within one row. Each slot's rows are spread evenly over the call (random phase), so every
        chunk holds about its share too."""
        column = self.shares_kept_of(None)
        if column is None:
            return None
        rc = self.recipe_config
        first = rc.target_span[0]
        shares = self._slot_probs()[next(i for i, (start, _) in enumerate(rc.cond_spans) if start == first)]
        cdf = np.cumsum(shares)
        cdf[-1] = 1.0
        u = float(torch.rand(1, generator=gen, dtype=torch.float64))
        counts = np.diff(np.floor(n * np.concatenate([[0.0], cdf]) + u).astype(np.int64))
        phase = torch.rand(len(counts), generator=gen, dtype=torch.float64).numpy()
        where = np.concatenate([(np.arange(k) + phase[c]) / k for c, k in enumerate(counts) if k])
        slots = np.repeat(np.arange(len(counts)), counts)[np.argsort(where, kind="stable")]
        return ClassPlan(column, first, shares, slots)

    def target_model_for(self, conditions: dict[str, Any] | None) -> TargetModel | None:
        """The target model that draws each row's target in a sample with these conditions: the model's,
        unless the conditions name the target (the generator is then asked for it) or there is none."""
        labeller = getattr(self, "target_model", None)
        if labeller is None or (conditions and labeller.info.column in conditions):
            return None
        return labeller

    def shares_kept_of(self, conditions: dict[str, Any] | None, keep_class_shares: bool = True) -> str | None:
        """The target column whose real class shares a sample with these options keeps, or None."""
        if not keep_class_shares or conditions or self.codec is None:
            return None
        rc = self.recipe_config
        if (
            rc.target_span is None
            or not rc.cond_freq
            or all(s != rc.target_span[0] for s, _ in rc.cond_spans)
        ):
            return None
        return self.target_column()

    def target_column(self) -> str | None:
        """The column the model was fitted with as its target (``fit(target=...)``), or None."""
        span = self.recipe_config.target_span
        if span is None or self.codec is None:
            return None
        return next(s.column for s in self.codec.spans if s.start == span[0])

    def _balanced(
        self, plan: ClassPlan, start: int, n: int, gen: torch.Generator, labeller: TargetModel | None
    ) -> tuple[np.ndarray, dict[int, np.ndarray]]:
        """Encoded rows ``start .. start+n`` of the plan, generated as usual (the target drawn by
        ``labeller`` if given) and kept class by class: rows of a class are the generator's own, only the mix
        is fixed. Also their ``choice_slots``, kept for decoding."""
        first, shares, size = plan.first, plan.shares, len(plan.shares)
        need = np.bincount(plan.slots[start : start + n], minlength=size)
        parts, slot_parts, made, seen = [], [], 0, np.zeros(size)
        while need.sum() > 0:
            short = np.flatnonzero(need)
            if made > 100 * n + 200_000:
                raise ConfigError(
                    f"the model makes too few rows of some class of {plan.column!r} to keep its class shares "
                    "(sample with keep_class_shares=False for the mix sampling makes)"
                )
            # first as many rows as asked (+2 %); then enough for the scarcest class at the rate seen so far
            rate = np.maximum(seen[short] / max(made, 1), 1e-3)
            m = need.sum() * 1.02 if not made else (need[short] / rate).max() * 1.1
            m = int(min(m, 1.1 * n)) + 64  # at most a chunk and a tenth at a time
            enc, slots = self._generate(m, gen, None)
            if labeller is not None:
                labeller.draw(self.codec, enc, slots, gen)
            made += m
            slot = slots[first]
            seen += np.bincount(slot, minlength=size)
            keep = np.zeros(m, dtype=bool)
            for c in short:
                rows = np.flatnonzero(slot == c)[: need[c]]
                keep[rows] = True
                need[c] -= len(rows)
            parts.append(enc[keep])
            slot_parts.append({k: v[keep] for k, v in slots.items()})
        # a class made at under a third of its real share, once enough rows were drawn to tell (>= 30 expected)
        if ((made * shares >= 30) & (seen < made * shares / 3)).any():
            warn_caller(
                f"the model makes some class of {plan.column!r} at under a third of its real share; keeping "
                "the class shares generates that many more rows (keep_class_shares=False or --generator-mix "
                "gives the mix sampling makes)"
            )
        order = torch.randperm(n, generator=gen).numpy()
        kept = {k: np.concatenate([part[k] for part in slot_parts])[order] for k in slot_parts[0]}
        return np.concatenate(parts)[order], kept

    def check_conditions(self, conditions: dict[str, Any] | None) -> tuple[tuple[int, int] | None, list]:
        """Validate conditions; returns the conditional-vector slot to ask for and row filters."""
        if not conditions:
            return None, []
        meta = self.metadata
        fixed, filters, best = None, [], None
        for name, want in conditions.items():
            if name not in meta.names():
                raise ConfigError(
                    f"unknown column {name!r} in conditions (columns: {', '.join(meta.names())})"
                )
            m = meta[name]
            if m.kind in ("id", "constant"):
                raise ConfigError(f"cannot condition on {m.kind} column {name!r}")
            if m.kind in ("numeric", "datetime"):
                if isinstance(want, (tuple, list)) and len(want) == 2:
                    lo, hi = want
                    if lo is not None and hi is not None and lo > hi:
                        raise ConfigError(f"empty range for {name!r}: {lo} > {hi}")
                    filters.append((name, "range", (lo, hi)))
                elif np.isscalar(want):
                    filters.append((name, "eq", want))
                else:
                    raise ConfigError(f"condition for numeric column {name!r} must be a value or (low, high)")
                continue
            span, slot = self.codec.slot_of_value(name, want)
            filters.append((name, "eq", _match_value(meta[name].categories, want)))
            if not self.recipe_config.cond_spans:  # an unconditional (DP) model: filtering only
                continue
            j = next(i for i, (sp, _) in enumerate(self.codec.discrete_spans()) if sp.start == span.start)
            share = self._slot_probs()[j][slot]
            if best is None or share < best:  # ask the generator for the rarest condition, filter the rest
                best, fixed = share, (j, slot)
        return fixed, filters

    def rows_in_chunks(
        self, n: int, seed: int | None, conditions: dict[str, Any] | None, chunk: int,
        keep_class_shares: bool = True,
    ) -> Iterator[pd.DataFrame]:  # fmt: skip
        if self.G_ema is None or self.codec is None:
            raise ConfigError("the model is not trained yet: call fit() or load() first")
        if not isinstance(n, (int, np.integer)) or n < 1:
            raise ConfigError(f"n must be a positive integer (got {n})")
        fixed, filters = self.check_conditions(conditions)
        seed = int(seed) if seed is not None else int(torch.seed() % 2**63)
        gen, rng = torch.Generator().manual_seed(seed), np.random.default_rng(seed)
        plan = self._class_plan(n, gen) if keep_class_shares and not conditions else None
        labeller = self.target_model_for(conditions)
        made, tried, id_start = 0, 0, 0
        limit = max(200_000, 100 * n) if filters else n
        while made < n:
            want = min(chunk, n - made) if not filters else chunk
            if plan is not None:
                enc, slots = self._balanced(plan, made, want, gen, labeller)
            else:
                enc, slots = self._generate(want, gen, fixed)
                if labeller is not None:
                    labeller.draw(self.codec, enc, slots, gen)
            df = self.codec.decode(enc, rng, id_start=id_start, slots=slots)
            id_start += want
            tried += want
            if filters:
                df = df[_apply_filters(df, filters)].head(n - made).reset_index(drop=True)
            if len(df):
                made += len(df)
                yield df
            if made < n and tried >= limit:
                raise ConfigError(
                    f"only {made} of {tried:,} generated rows met the conditions {conditions}; "
                    "they are too rare for this model"
                )

    def sample(
        self,
        n: int,
        seed: int | None = None,
        conditions: dict[str, Any] | None = None,
        chunk_rows: int = 25_000,
        keep_class_shares: bool = True,
    ) -> pd.DataFrame:
        """``n`` synthetic rows as a DataFrame with the training table's columns and dtypes.

        ``conditions``: ``{"income": ">50K"}`` (exact category), ``{"age": (30, 40)}`` (inclusive range,
        None for an open end) or ``{"age": 40}`` (exact value); the same seed gives the same rows.
        ``keep_class_shares``: a model fitted with a target keeps the target's real class shares when no
        conditions are given (False: the mix sampling makes -- the target model's draws, or the generator's own).
        """
        from ganforge.tables.columns import restore_dtypes

        parts = list(self.rows_in_chunks(n, seed, conditions, chunk_rows, keep_class_shares))
        return restore_dtypes(pd.concat(parts, ignore_index=True), self.metadata)

    def sample_to_file(
        self, n: int, path: str | Path, seed: int | None = None, conditions: dict[str, Any] | None = None,
        chunk_rows: int = 25_000, keep_class_shares: bool = True,
    ) -> Path:  # fmt: skip
        """Stream ``n`` rows to a .parquet or .csv file chunk by chunk (memory stays flat in ``n``)."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        from ganforge.safety.provenance import write_table_sidecar

        path = Path(path)
        kind = path.suffix.lower()
        if kind not in (".parquet", ".pq", ".csv"):
            raise ConfigError(f"output must end in .parquet or .csv (got {path.name})")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            writer = None
            with atomic_file(path) as fh:
                chunks = self.rows_in_chunks(n, seed, conditions, chunk_rows, keep_class_shares)
                for i, df in enumerate(chunks):
                    if kind == ".csv":
                        df.to_csv(fh, header=i == 0, index=False)
                    else:
                        table = pa.Table.from_pandas(df, preserve_index=False)
                        if writer is None:
                            writer = pq.ParquetWriter(fh, table.schema)
                        writer.write_table(table.cast(writer.schema))
                if writer is not None:
                    writer.close()
            kept = self.shares_kept_of(conditions, keep_class_shares)
            write_table_sidecar(path, self, n, seed, conditions, kept)  # marks the file as synthetic
        except OSError as e:
            raise ConfigError(f"cannot write {path}: {e.strerror or e}") from None
        return path


def _match_value(categories: list | None, want: Any) -> Any:
    for c in categories or []:
        if c == want or str(c) == str(want):
            return c
    return want


def _apply_filters(df: pd.DataFrame, filters: list) -> np.ndarray:
    keep = np.ones(len(df), dtype=bool)
    for name, op, arg in filters:
        col = df[name]
        if op == "eq":
            keep &= (col == arg).to_numpy(dtype=bool, na_value=False)
        else:
            lo, hi = arg
            if lo is not None:
                keep &= (col >= lo).to_numpy(dtype=bool, na_value=False)
            if hi is not None:
                keep &= (col <= hi).to_numpy(dtype=bool, na_value=False)
    return keep


SHARD_CHUNK_ROWS = 50_000  # rows of a shard in memory at once (one Parquet row group); part of its recipe


def write_parquet_shard(task: Any, model: Any, fh: Any) -> int:
    """Stream the shard's rows into Parquet, one row group per chunk; id columns get global ids."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from ganforge.tables.columns import generate_ids

    start, stop = task.span
    id_cols = [m for m in model.metadata.columns if m.kind == "id"]
    writer, made = None, 0
    # rows_in_chunks is the model's own chunked generator (sample / sample_to_file use it): conditions, filters
    # and decoding stay in one place; only the ids are renumbered so they are unique across shards.
    for df in model.rows_in_chunks(
        stop - start, substream_seed(task.seed, task.k), task.conditions, SHARD_CHUNK_ROWS, task.class_shares
    ):
        for m in id_cols:
            df[m.name] = generate_ids(m, len(df), start=start + made).set_axis(df.index)
        table = pa.Table.from_pandas(df, preserve_index=False)
        if writer is None:
            writer = pq.ParquetWriter(fh, table.schema)
        writer.write_table(table.cast(writer.schema))
        made += len(df)
    if writer is not None:
        writer.close()
    return made
