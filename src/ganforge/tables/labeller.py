"""The target model: each synthetic row's target drawn from a gradient-boosted model of the target given
the row's other columns, fitted on the real rows.

A GAN learns the joint distribution of all columns at once, and the decision boundary of the target is
only one of many things its discriminator looks at: on UCI Adult a classifier trained on the generator's
own rows was 0.025 less accurate on real rows than one trained on real rows. Factoring the table as
p(other columns) * p(target | other columns) -- the generator makes the first, a LightGBM model the
second, as sequential synthesisers make every column -- gives the synthetic rows the real data's
relation between features and target. The target is *drawn* from the model's class probabilities, not
set to the most likely class, so its uncertainty (and the class shares) stay as in the data.

The model is fitted after training, on the rows ``fit`` encoded (a streamed fit: its sample), stopped
early on a seeded held-out tenth by log loss; its trees are kept as LightGBM's own text format inside
model.safetensors (one uint8 tensor, covered by the weights' checksum), never as a pickle. Features: every
numeric or datetime column as its value, decoded from the encoded row as sampling decodes it (missing
stays missing), every categorical or boolean column as its slot (kept categories, "other", missing): the
real rows and the generated ones go through the same function.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch

from ganforge.errors import CheckpointError
from ganforge.tables.codec import TableCodec

MAX_ROWS = 500_000  # rows the model is fitted on at most (a seeded sample of larger tables)
LEARNING_RATE = 0.3  # as accurate on Adult's held-out tenth as 0.1, at a quarter of the trees
MAX_TREES = 1000
PATIENCE = 30  # rounds without a better held-out log loss before stopping
OWNER, KEY = "labeller", "model"
TENSOR = f"{OWNER}.{KEY}"  # the trees' text in model.safetensors


@dataclass(frozen=True)
class LabellerInfo:
    """What config.json records about the target model (its trees live in model.safetensors)."""

    column: str  # the target
    first: int  # where the target's span starts in an encoded row
    size: int  # slots of that span
    classes: list[int]  # the slot each of the model's classes stands for
    numeric: list[str]  # value features, in order
    choices: list[list[Any]]  # [column, span start, span size] of each slot feature, in order
    trees: int
    rows: int  # rows it was fitted on
    holdout_logloss: float


def _features(
    codec: TableCodec, enc: np.ndarray, info: LabellerInfo, slots: dict[int, np.ndarray]
) -> np.ndarray:
    """The model's input from encoded rows: the value of each numeric or datetime column (as decoding
    gives it, within the data's range), then the slot of each categorical or boolean column."""
    cols = []
    for name in info.numeric:
        m = codec.meta[name]
        lo, hi = (-np.inf if m.min is None else m.min), (np.inf if m.max is None else m.max)
        cols.append(np.clip(codec.numeric_values(enc, name, slots), lo, hi))
    cols += [slots[start].astype(np.float64) for _, start, _ in info.choices]
    return np.column_stack(cols) if cols else np.zeros((len(enc), 0))


class TargetModel:
    """A fitted target model: ``draw`` gives each encoded row a target slot drawn from its probabilities."""

    def __init__(self, info: LabellerInfo, booster: Any) -> None:
        self.info, self.booster = info, booster

    @classmethod
    def fit(
        cls, codec: TableCodec, x: np.ndarray | torch.Tensor, target: str, seed: int
    ) -> TargetModel | None:
        """The model of ``target`` from the encoded real rows ``x``, or None when the target takes a
        single slot (nothing to model)."""
        import lightgbm as lgb

        span = next(s for s in codec.spans if s.column == target and s.activation == "softmax")
        enc = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
        slots = enc[:, span.start : span.start + span.size].argmax(axis=1)
        classes = np.unique(slots)
        if len(classes) < 2:
            return None
        rng = np.random.default_rng(seed)
        n = len(enc)
        rows = np.arange(n)
        if n > MAX_ROWS:  # a seeded sample, plus every row of a class the sample would miss
            rows = np.sort(rng.choice(n, MAX_ROWS, replace=False))
            rows = np.union1d(rows, np.flatnonzero(~np.isin(slots, slots[rows])))
        numeric = [
            m.name for m in codec.meta.columns if m.kind in ("numeric", "datetime") and m.name != target
        ]
        choices = [
            [s.column, s.start, s.size]
            for s, col in codec.discrete_spans()
            if not col.numeric and s.column != target
        ]
        info = LabellerInfo(
            target, span.start, span.size, classes.tolist(), numeric, choices, 0, len(rows), 0.0
        )
        if not numeric and not choices:  # the target is the only column learned: nothing to read it from
            return None
        enc_rows = enc if len(rows) == n else enc[rows]
        feats = _features(codec, enc_rows, info, codec.choice_slots(enc_rows))
        labels = np.searchsorted(classes, slots[rows])
        order = rng.permutation(len(rows))
        cut = max(1, len(rows) // 10)
        held, train = order[:cut], order[cut:]
        # every class the model is to draw must be among the rows it learns from (a class held out
        # entirely would get no probability, and a sample asking for its share could never be made)
        absent = np.isin(labels[held], labels[train], invert=True)
        held, train = held[~absent], np.concatenate([train, held[absent]])
        params = {
            "objective": "binary" if len(classes) == 2 else "multiclass",
            "num_class": 1 if len(classes) == 2 else len(classes),
            "learning_rate": LEARNING_RATE,
            "seed": seed,
            "deterministic": True,
            "force_col_wise": True,
            "num_threads": max(1, torch.get_num_threads()),
            "verbose": -1,
        }
        cat = list(range(len(numeric), len(numeric) + len(choices)))
        fit_set = lgb.Dataset(feats[train], labels[train], categorical_feature=cat, free_raw_data=False)
        held_set = lgb.Dataset(feats[held], labels[held], categorical_feature=cat, reference=fit_set)
        booster = lgb.train(
            params, fit_set, num_boost_round=MAX_TREES, valid_sets=[held_set],
            callbacks=[lgb.early_stopping(PATIENCE, verbose=False)],
        )  # fmt: skip
        best = booster.best_iteration or booster.current_iteration()
        loss = float(
            booster.best_score["valid_0"]["binary_logloss" if len(classes) == 2 else "multi_logloss"]
        )
        text = booster.model_to_string(num_iteration=best)
        info = LabellerInfo(**(asdict(info) | {"trees": best, "holdout_logloss": round(loss, 5)}))
        return cls(info, lgb.Booster(model_str=text))

    def draw(
        self, codec: TableCodec, enc: np.ndarray, slots: dict[int, np.ndarray], gen: torch.Generator
    ) -> None:
        """Set each encoded row's target slot to one drawn from the model's probabilities given the row's
        other columns, in place: in ``enc`` and in ``slots``, the rows' ``choice_slots``."""
        p = self.booster.predict(
            _features(codec, enc, self.info, slots), num_threads=max(1, torch.get_num_threads())
        )
        p = np.column_stack([1 - p, p]) if p.ndim == 1 else p
        u = torch.rand(len(p), generator=gen, dtype=torch.float64).numpy()[:, None]
        k = np.minimum((np.cumsum(p, axis=1) < u).sum(axis=1), p.shape[1] - 1)
        slot = np.asarray(self.info.classes)[k]
        first, size = self.info.first, self.info.size
        enc[:, first : first + size] = 0.0
        enc[np.arange(len(enc)), first + slot] = 1.0
        slots[first] = slot

    # ------------------------------------------------------------------ persistence
    def tensors(self) -> dict[str, torch.Tensor]:
        text = self.booster.model_to_string().encode("utf-8")
        return {TENSOR: torch.frombuffer(bytearray(text), dtype=torch.uint8)}

    def record(self) -> dict[str, Any]:
        return asdict(self.info)

    @classmethod
    def from_saved(
        cls, record: dict[str, Any], weights: dict[str, dict[str, torch.Tensor]], where: str
    ) -> TargetModel:
        """The model ``record`` (config.json) describes, its trees from a run's ``weights`` by owner."""
        import lightgbm as lgb

        if KEY not in weights.get(OWNER, {}):
            raise CheckpointError(f"{where} records a target model but holds no trees for it")
        try:
            text = bytes(weights[OWNER][KEY].numpy()).decode("utf-8")
            booster = lgb.Booster(model_str=text)
            info = LabellerInfo(**record)
        except (lgb.basic.LightGBMError, UnicodeDecodeError, TypeError) as e:
            raise CheckpointError(f"the target model in {where} cannot be read: {e}") from None
        return cls(info, booster)
