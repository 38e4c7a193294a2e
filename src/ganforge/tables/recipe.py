"""The table recipe: encoded rows, a conditional vector with training-by-sampling, packed discriminator.

Conditioning (as introduced by CTGAN): each training row is drawn by first picking a categorical column
uniformly, then one of its categories with probability proportional to the log of its frequency, then a
row holding that category. The one-hot of that (column, category) is the conditional vector given to
both networks, and the generator is penalised when its row does not hold the asked-for category. Rare
categories are therefore seen often enough to be learned; at sampling time categories are asked for at
their real frequency, so the marginals come out right.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ganforge.tables.nets import TableDiscriminator, TableGenerator


@dataclass
class TableRecipeConfig:
    """Everything needed to rebuild the table networks; the span layout comes from the data codec."""

    data_dim: int = 0
    spans: list[tuple[int, int, str]] = field(default_factory=list)  # (start, size, "tanh"|"softmax")
    cond_spans: list[tuple[int, int]] = field(default_factory=list)  # (data start, size) per cond column
    cond_freq: list[list[float]] = field(default_factory=list)  # real share of each slot, per cond span
    z_dim: int = 128
    g_hidden: tuple[int, ...] = (256, 256)
    d_hidden: tuple[int, ...] = (256, 256)
    pac: int = 10
    tau: float = 0.2
    dropout: float = 0.5
    cond_weight: float = 1.0
    rate_weight: float = 5.0  # the rate-matching term (see TableRecipe.learn_rates); 0 turns it off
    target_span: tuple[int, int] | None = None  # (start, size) of a categorical target (learn_target)
    target_weight: float = 1.0  # the target-consistency term; 0 turns it off

    @property
    def cond_dim(self) -> int:
        return sum(size for _, size in self.cond_spans)


MAX_COND_SLOTS = 1024  # beyond this, each conditional column is asked for too rarely to be helped by it
MAX_PACKED_WIDTH = 32_768  # the packed discriminator's input, (data_dim + cond_dim) * pac
TARGET_MAX_STEPS = 2000  # the target classifier's early stopping (TableRecipe.learn_target)
TARGET_CHECK_EVERY = 25
TARGET_PATIENCE = 4
TARGET_MAX_HELD = 20_000  # held-out rows at most, so each check stays cheap on large tables


def _fit_classifier(
    net: nn.Module,
    x: torch.Tensor,
    keep: torch.Tensor,
    y: torch.Tensor,
    train: torch.Tensor,
    held: torch.Tensor,
    steps: int,
    gen: torch.Generator,
) -> int:
    """Adam on batches of 256 of the ``train`` rows (columns ``keep``; no copy of the whole table); with
    ``held`` rows, stop early on their loss and keep the best check's weights. Returns the steps the kept
    weights were trained for."""
    opt = torch.optim.Adam(net.parameters(), lr=1e-3, weight_decay=1e-5)
    x_held, y_held = x[held][:, keep], y[held]
    best, best_step, best_state, waited = float("inf"), steps, None, 0
    for step in range(1, steps + 1):
        i = train[torch.randint(len(train), (min(256, len(train)),), generator=gen)]
        loss = F.cross_entropy(net(x[i][:, keep]), y[i])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if len(held) and step % TARGET_CHECK_EVERY == 0:
            with torch.no_grad():
                net.eval()
                held_loss = F.cross_entropy(net(x_held), y_held).item()
                net.train()
            if held_loss < best:
                best, best_step, waited = held_loss, step, 0
                best_state = {k: v.clone() for k, v in net.state_dict().items()}
            else:
                waited += 1
                if waited >= TARGET_PATIENCE:
                    break
    if best_state is not None:
        net.load_state_dict(best_state)
    return best_step


def fit_width(
    data_dim: int, choices: list[tuple[int, int, str]], pac: int, batch_size: int
) -> tuple[list[tuple[int, int]], int, str]:
    """The conditional spans and pack size for a table ``data_dim`` wide, so wide tables (thousands of
    columns) stay trainable in bounded memory; a table within both limits keeps every choice span and
    the asked-for ``pac``.

    ``choices`` are (start, size, role) of every choice span: categories are kept first, then numeric
    modes, while the conditional vector stays within MAX_COND_SLOTS; then the pack shrinks to the largest
    divisor of ``batch_size`` not above ``pac`` that keeps the packed input within MAX_PACKED_WIDTH.
    Returns (cond spans in table order, pac, a note saying what changed or "").
    """
    kept, total = set(), 0
    for role in ("category", "mode"):
        for start, size, r in choices:
            if r == role and total + size <= MAX_COND_SLOTS:
                kept.add(start)
                total += size
    cond = [(start, size) for start, size, _ in choices if start in kept]
    width = data_dim + total
    new_pac = pac
    if width * pac > MAX_PACKED_WIDTH:
        new_pac = max(
            d for d in range(1, pac + 1) if batch_size % d == 0 and (d == 1 or width * d <= MAX_PACKED_WIDTH)
        )
    changes = []
    if len(cond) < len(choices):
        changes.append(f"conditioning on {len(cond):,} of {len(choices):,} choice columns ({total:,} slots)")
    if new_pac != pac:
        changes.append(f"pac {pac} -> {new_pac}")
    note = f"wide table (encoded width {data_dim:,}): " + ", ".join(changes) if changes else ""
    return cond, new_pac, note


class TableRecipe:
    """Builds the generator and the packed discriminator; adds the conditional-vector penalty to G's loss."""

    def __init__(self, config: TableRecipeConfig) -> None:
        self.config = config
        c = config
        offsets = np.cumsum([0] + [s for _, s in c.cond_spans])
        # cond position j <-> data position: where the asked-for one-hot slot sits in a generated row
        self._data_pos = torch.tensor(
            [start + k for (start, size) in c.cond_spans for k in range(size)], dtype=torch.long
        )
        self.cond_offsets = offsets
        self._rates: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None
        self._target: tuple[torch.Tensor, int, int, nn.Module] | None = None

    def learn_rates(self, x: Any) -> None:
        """Turn on the rate-matching term: from the encoded real rows ``x``, the share of every choice slot
        (categories, missing values, numeric modes) among the rows holding each conditional category, and
        each category's weight real frequency / training-by-sampling frequency.

        The generator, like any GAN, drifts towards the common slots of the columns it is not asked
        about (a 72.5 % missing column came out 80 % missing, a 2.2 % class 1.2 %). The term compares, per
        batch, the generated slot shares with the real shares given the batch's conditions -- both
        reweighted to the real condition frequencies that sampling uses -- as a KL divergence per span."""
        c = self.config
        choice = [(a, n) for a, n, act in c.spans if act != "tanh"]
        if not c.cond_spans or not choice or c.rate_weight == 0:
            return
        x = torch.as_tensor(np.asarray(x, dtype=np.float32))
        idx = torch.tensor([a + k for a, n in choice for k in range(n)], dtype=torch.long)
        targets, weights = [], []
        for start, size in c.cond_spans:
            cat = x[:, start : start + size].argmax(dim=1)
            counts = torch.bincount(cat, minlength=size).double()
            sums = torch.zeros(size, len(idx), dtype=torch.float64)
            for a in range(0, len(x), 65_536):  # float64 sums of one-hot slots, in bounded memory
                sums.index_add_(0, cat[a : a + 65_536], x[a : a + 65_536, idx].double())
            targets.append(sums / counts.clamp_min(1.0)[:, None])
            train_p = draw_weights(counts)
            real_p, train_p = counts / counts.sum(), train_p / train_p.sum()
            weights.append(
                torch.where(counts > 0, real_p / train_p.clamp_min(1e-12), torch.zeros_like(counts))
            )
        self._rates = (idx, torch.cat(targets).float(), torch.cat(weights).float())

    def learn_target(self, x: Any, seed: int, steps: int | None = None) -> None:
        """Turn on the target-consistency term (as CTAB-GAN+'s auxiliary classifier): a small classifier
        learns the target from the other columns of the real rows ``x``; the generator is then charged
        the cross-entropy between its own target slot shares and what the classifier reads from its
        other columns, so generated features predict the generated target as real ones do. Seeded and
        retrained identically on a resume.

        By default the classifier stops early: a tenth of the rows (at most TARGET_MAX_HELD) is held
        out, its loss is checked every TARGET_CHECK_EVERY steps (batches of 256), and the weights of the
        best check are kept once TARGET_PATIENCE checks in a row bring no improvement (at most
        TARGET_MAX_STEPS steps). An int ``steps`` trains exactly that many steps on every row instead
        (benchmarks/table_target_steps.py)."""
        c = self.config
        if c.target_span is None or c.target_weight == 0:
            return
        start, size = c.target_span
        x = torch.as_tensor(np.asarray(x, dtype=np.float32))
        keep = torch.ones(x.shape[1], dtype=torch.bool)
        keep[start : start + size] = False
        y = x[:, start : start + size].argmax(dim=1)
        with torch.random.fork_rng(devices=[]):  # CPU only: no GPU touched before the trainer picks one
            torch.manual_seed(seed)
            net = nn.Sequential(
                nn.Linear(int(keep.sum()), 256), nn.ReLU(), nn.Dropout(0.2),
                nn.Linear(256, 256), nn.ReLU(), nn.Dropout(0.2), nn.Linear(256, size),
            )  # fmt: skip
            gen = torch.Generator().manual_seed(seed)
            order = torch.randperm(len(x), generator=gen)
            early = steps is None and len(x) >= 20
            held = order[: min(len(x) // 10, TARGET_MAX_HELD)] if early else order[:0]
            train = order[len(held) :]
            self.target_steps = _fit_classifier(
                net, x, keep, y, train, held, TARGET_MAX_STEPS if steps is None else steps, gen
            )
        self._target = (keep, start, size, net.eval().requires_grad_(False))

    def build_generator(self) -> TableGenerator:
        c = self.config
        return TableGenerator(c.z_dim, c.cond_dim, tuple(c.g_hidden), [tuple(s) for s in c.spans], c.tau)

    def build_discriminator(self) -> TableDiscriminator:
        c = self.config
        return TableDiscriminator(c.data_dim, c.cond_dim, tuple(c.d_hidden), c.pac, c.dropout)

    def sample_latents(self, n: int, rng: torch.Generator) -> torch.Tensor:
        return torch.randn(n, self.config.z_dim, generator=rng)

    def augment(self, x: torch.Tensor, p: float, rng: torch.Generator) -> torch.Tensor:
        return x

    def generator_penalty(self, fake: torch.Tensor, c: torch.Tensor | None) -> torch.Tensor | None:
        """G's own terms (None when unconditional or all off): cross-entropy between the asked-for
        category and the generated one, the rate-matching KL and the target-consistency cross-entropy."""
        if c is None:
            return None
        asked = c.argmax(dim=1)
        terms = []
        if self.config.cond_weight != 0:
            pos = self._data_pos.to(fake.device)[asked]
            p = fake.gather(1, pos[:, None]).squeeze(1)
            terms.append(-torch.log(p.clamp_min(1e-6)).mean() * self.config.cond_weight)
        if self._rates is not None:
            if self._rates[0].device != fake.device:  # moved once, not every step
                self._rates = tuple(t.to(fake.device) for t in self._rates)
            idx, targets, weights = self._rates
            w = weights[asked]
            w = w / w.sum().clamp_min(1e-12)
            want = (w[:, None] * targets[asked]).sum(dim=0)
            got = (w[:, None] * fake[:, idx]).sum(dim=0)
            # + 1e-8 rather than a clamp: a slot the generator has dropped still gets a gradient back
            kl = (want * (torch.log(want.clamp_min(1e-8)) - torch.log(got + 1e-8))).sum()
            terms.append(kl * self.config.rate_weight)
        if self._target is not None:
            if self._target[0].device != fake.device:  # moved once, not every step
                keep, start, size, net = self._target
                self._target = (keep.to(fake.device), start, size, net.to(fake.device))
            keep, start, size, net = self._target
            logp = F.log_softmax(net(fake[:, keep]), dim=1)
            # the target's own slots are held fixed: only the other columns move to agree with it (a
            # gradient into them would pull the target towards the classifier's majority class)
            ce = -(fake[:, start : start + size].detach() * logp).sum(dim=1).mean()
            terms.append(ce * self.config.target_weight)
        return sum(terms[1:], terms[0]) if terms else None

    def describe(self) -> dict[str, Any]:
        c = self.config
        return {"name": "table", "data_dim": c.data_dim, "cond_dim": c.cond_dim, "z_dim": c.z_dim,
                "g_hidden": list(c.g_hidden), "d_hidden": list(c.d_hidden), "pac": c.pac}  # fmt: skip


class TableSource:
    """Encoded rows plus training-by-sampling; the engine calls ``sample(n, rng)`` for each real batch."""

    def __init__(self, x: np.ndarray, cond_spans: list[tuple[int, int]]) -> None:
        self.x = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
        self.cond_spans = [tuple(s) for s in cond_spans]
        n = self.x.shape[0]
        self.cond_dim = sum(s for _, s in self.cond_spans)
        if not self.cond_spans:
            return
        width = max(s for _, s in self.cond_spans)
        k = len(self.cond_spans)
        self.order = torch.empty(k, n, dtype=torch.long)  # row indices sorted by category, per column
        self.offsets = torch.zeros(k, width, dtype=torch.long)
        self.counts = torch.zeros(k, width, dtype=torch.long)
        self.log_p = torch.zeros(k, width, dtype=torch.float64)  # training: log-frequency
        self.freq_p = torch.zeros(k, width, dtype=torch.float64)  # sampling: real frequency
        self.cond_offset = torch.tensor(
            np.cumsum([0] + [s for _, s in self.cond_spans])[:-1], dtype=torch.long
        )
        for j, (start, size) in enumerate(self.cond_spans):
            slot = self.x[:, start : start + size].argmax(dim=1)
            self.order[j] = torch.argsort(slot, stable=True)
            counts = torch.bincount(slot, minlength=size)
            self.counts[j, :size] = counts
            self.offsets[j, :size] = torch.cumsum(counts, 0) - counts
            self.log_p[j, :size] = draw_weights(counts.double())
            self.freq_p[j, :size] = counts.double()

    def __len__(self) -> int:
        return self.x.shape[0]

    def get(self, indices: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        return self.x[indices], None

    def sample(self, n: int, rng: torch.Generator) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``n`` rows drawn by training-by-sampling, with their conditional vectors."""
        if not self.cond_spans:
            return self.x[torch.randint(len(self), (n,), generator=rng)], None
        col, cat = draw_conditions(self.log_p, n, rng)
        r = (torch.rand(n, generator=rng, dtype=torch.float64) * self.counts[col, cat]).long()
        rows = self.order[col, self.offsets[col, cat] + r]
        return self.x[rows], self.cond_vectors(col, cat)

    def cond_vectors(self, col: torch.Tensor, cat: torch.Tensor) -> torch.Tensor:
        c = torch.zeros(col.shape[0], self.cond_dim)
        c[torch.arange(col.shape[0]), self.cond_offset[col] + cat] = 1.0
        return c


def draw_weights(counts: torch.Tensor) -> torch.Tensor:
    """Training-by-sampling's weight of each category: log(1 + count), 0 for a category never seen."""
    return torch.log1p(counts) * (counts > 0)


def draw_conditions(weights: torch.Tensor, n: int, rng: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """A conditional column uniformly, then a category with probability proportional to its weight in
    ``weights[column]`` (rows padded with zeros): the one way conditions are drawn, in training batches,
    health probes and sampling. Inverse CDF on one uniform draw per row."""
    w = weights.to(torch.float64)
    col = torch.randint(w.shape[0], (n,), generator=rng)
    u = torch.rand(n, 1, generator=rng, dtype=torch.float64)
    cdf = torch.cumsum(w / w.sum(dim=1, keepdim=True).clamp_min(1e-12), dim=1)
    last = w.shape[1] - 1 - (w.flip(1) > 0).to(torch.int64).argmax(dim=1)  # the last category with weight
    cat = torch.minimum((cdf[col] < u).sum(dim=1), last[col])
    return col, cat
