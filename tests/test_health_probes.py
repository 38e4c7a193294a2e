"""Mode collapse in real image and table runs: `train images` / `train table` watch the coverage of
held-out reals by a fixed-noise batch (diversity.py). A generator made to collapse mid-run (its noise
input cut off, so every sample is the same picture or row) is caught at the next check and rolled back;
the same run before the injection raises nothing."""

import json

import numpy as np
import pandas as pd
import torch

from ganforge import ImageGAN, TableGAN
from ganforge.engine.callbacks import Callback
from ganforge.engine.health import coverage
from ganforge.images.builtin import resolve_image_source
from ganforge.images.codec import encode_images
from ganforge.images.probe import IMAGE_COLLAPSE, image_features, image_probe
from ganforge.images.recipe import ImageRecipe, ImageRecipeConfig
from ganforge.tables.probe import TABLE_COLLAPSE


class CutNoise(Callback):
    """After step ``at`` (once), zero the generator's weights on the noise input: G(z) no longer depends
    on z, which is what a fully collapsed generator looks like."""

    def __init__(self, at: int, layer: str) -> None:
        self.at, self.layer, self.done = at, layer, False

    def on_step_end(self, trainer, stats) -> None:
        if trainer.step == self.at and not self.done:
            self.done = True
            with torch.no_grad():
                for g in (trainer.G, trainer.G_ema):
                    dict(g.named_parameters())[self.layer].zero_()


class SameNoise(Callback):
    """From step ``at`` (once) every sample in a batch gets the same noise vector (the table generator
    passes its input forward through skip connections, so zeroing one layer is not enough); a rollback
    to before ``at`` removes the fault."""

    def __init__(self, at: int) -> None:
        self.at, self.hooks, self.done = at, [], False

    def on_step_end(self, trainer, stats) -> None:
        if trainer.step == self.at and not self.done:
            self.done = True
            for g in (trainer.G, trainer.G_ema):
                self.hooks.append(
                    g.register_forward_pre_hook(lambda m, a: (a[0][:1].expand_as(a[0]), *a[1:]))
                )
        elif trainer.step < self.at:
            for h in self.hooks:
                h.remove()
            self.hooks.clear()


def events(run_dir) -> list[dict]:
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    return [r for r in map(json.loads, lines) if "event" in r]


def coverages(run_dir) -> list[tuple[int, float]]:
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    return [(r["step"], r["coverage"]) for r in map(json.loads, lines) if "coverage" in r]


def test_image_features_separate_collapsed_from_varied_images():
    ds = resolve_image_source("digits", 16)
    recipe = ImageRecipe(ImageRecipeConfig(resolution=16, arch="dcgan"))
    _, real = image_probe(recipe, ds.images, 0)
    other = image_features(encode_images(ds.images[-256:]))
    few = image_features(encode_images(ds.images[np.arange(256) % 3]))
    assert coverage(real, other) > 0.7  # other real digits cover real digits
    assert coverage(real, few) < IMAGE_COLLAPSE["collapse_coverage"]  # three pictures do not


def test_image_run_catches_an_injected_collapse_and_recovers(tmp_path):
    run = tmp_path / "img"
    gan = ImageGAN(resolution=16, steps=400, batch_size=32, width=16, seed=0, device="cpu")
    gan.fit("digits", out=run, callbacks=[CutNoise(300, "fc.0.weight")], sample_every=10**6)
    found = events(run)
    assert [e["event"] for e in found] == ["mode_collapse"], found  # nothing before the injection
    assert found[0]["step"] == 300 and "rolled back to step 200" in found[0]["action"]
    assert gan.metrics["steps"] == 400 and "stop_reason" not in gan.metrics
    last_step, last_cov = coverages(run)[-1]
    assert last_step == 400 and last_cov > IMAGE_COLLAPSE["collapse_coverage"]


def table() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = 1500
    kind = rng.choice(["a", "b", "c", "d"], n, p=[0.4, 0.3, 0.2, 0.1])
    centre = {"a": -2.0, "b": 0.0, "c": 3.0, "d": 6.0}
    value = np.array([centre[k] for k in kind]) + rng.normal(0, 0.3, n)
    return pd.DataFrame({"kind": kind, "value": value, "flag": rng.random(n) < 0.3})


def test_table_run_catches_an_injected_collapse(tmp_path):
    run = tmp_path / "tab"
    gan = TableGAN(steps=500, batch_size=100, pac=10, seed=0, device="cpu")
    gan.fit(table(), out=run, callbacks=[SameNoise(300)], health="stop")
    found = events(run)
    assert [e["event"] for e in found] == ["mode_collapse"], found
    assert found[0]["step"] == 300 and "stopped on the last healthy state (step 200)" in found[0]["action"]
    before = [c for s, c in coverages(run) if s < 300]
    assert before and min(before) > TABLE_COLLAPSE["collapse_coverage"]  # healthy until the injection


class DPullsAway(Callback):
    """At step ``at`` (once) G's rows are pushed off (its output bias shifted), G stops learning and D
    learns ``boost`` times faster: D pulls away from G without a perfect split, as a table run showed (D's
    loss 1.4 -> 0.34, G's gradient norm 4 -> 1,300); here D's loss falls to about 0.1-0.2 and G's gradient
    norm rises from about 3 to 300, which the older rule (D's loss < 0.02) does not see. A rollback resets
    the learning rates (the monitor sets them from the config and its remedies): G learns again."""

    def __init__(self, at: int, boost: float = 3.0, shift: float = 0.3) -> None:
        self.at, self.boost, self.shift, self.done = at, boost, shift, False

    def on_step_end(self, trainer, stats) -> None:
        if trainer.step == self.at and not self.done:
            self.done = True
            for group in trainer.opt_d.param_groups:
                group["lr"] *= self.boost
            for group in trainer.opt_g.param_groups:
                group["lr"] = 0.0
            with torch.no_grad():  # G's rows drift off (its output layer's bias shifted) and stay off
                list(trainer.G.parameters())[-1].add_(self.shift)


def median_logged(run_dir, key: str, start: int, stop: int) -> float:
    """The median of ``key`` over the log records of steps start+1..stop."""
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    return float(
        np.median([r[key] for r in map(json.loads, lines) if key in r and start < r["step"] <= stop])
    )


TAKEOVER_AT, TAKEOVER_STEPS = 1250, 2000  # after the monitor's 1,000-step warm-up


def test_table_run_catches_a_discriminator_pulling_away_and_recovers(tmp_path):
    run = tmp_path / "tab"
    # the injection was sized without the rate-matching term, whose gradient raises G's healthy level
    gan = TableGAN(steps=TAKEOVER_STEPS, batch_size=100, pac=10, seed=0, device="cpu", log_every=10,
                   rate_weight=0.0)  # fmt: skip
    gan.fit(table(), out=run, callbacks=[DPullsAway(TAKEOVER_AT)])
    found = events(run)
    assert [e["event"] for e in found] == ["d_overpowering"], found  # nothing before the injection
    assert "pulling away" in found[0]["detail"] and "lr D x0.5" in found[0]["action"]
    assert TAKEOVER_AT < found[0]["step"] <= TAKEOVER_AT + 300
    assert "rolled back to step 1300" in found[0]["action"]  # the last check before the streak began
    # after the rollback the balance is back: D's loss near its level before the injection
    before = median_logged(run, "loss_d", 500, TAKEOVER_AT)
    after = median_logged(run, "loss_d", TAKEOVER_STEPS - 300, TAKEOVER_STEPS)
    assert after > 0.7 * before, (before, after)
    assert gan.metrics["steps"] == TAKEOVER_STEPS and "stop_reason" not in gan.metrics
