"""The shared model lifecycle and file helpers: explicit model keywords, config.json written with what a
resume needs, atomic files with ordinary permissions."""

from __future__ import annotations

import json
import os
import stat

import numpy as np
import pandas as pd
import pytest

from ganforge.core.io import atomic_file, atomic_write_text
from ganforge.engine.callbacks import Callback
from ganforge.images.model import ImageGAN
from ganforge.images.recipe import PRESETS
from ganforge.tables.model import TABLE_TRAIN_DEFAULTS, TableGAN


def test_image_keywords_replace_the_preset_and_nothing_else():
    tc = ImageGAN(preset_name="small-data", loss="ns", r1_gamma=0.5, ada_target=None).train_config
    assert (tc.loss, tc.r1_gamma, tc.ada_target) == ("ns", 0.5, None)
    assert tc.r2_gamma == PRESETS["small-data"]["r2_gamma"]  # not given: the preset's
    assert ImageGAN(preset_name="small-data").train_config.ada_target == PRESETS["small-data"]["ada_target"]
    with pytest.raises(TypeError):
        ImageGAN(no_such_option=1)


def test_table_keywords_replace_the_measured_defaults():
    tc = TableGAN(lr_g=1e-3, r2_gamma=0.1).train_config
    assert (tc.lr_g, tc.r2_gamma) == (1e-3, 0.1)
    assert (tc.lr_d, tc.loss) == (TABLE_TRAIN_DEFAULTS["lr_d"], TABLE_TRAIN_DEFAULTS["loss"])


class ReadConfigAtStart(Callback):
    def __init__(self, path):
        self.path, self.seen = path, None

    def on_fit_start(self, trainer):
        self.seen = json.loads(self.path.read_text())


def test_a_private_run_records_its_noise_before_training_starts(tmp_path):
    """A DP run killed mid-training resumes with the noise it started with: it is in config.json already."""
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"a": rng.normal(size=400), "b": rng.choice(["x", "y"], 400)})
    probe = ReadConfigAtStart(tmp_path / "run" / "config.json")
    TableGAN(
        steps=3, batch_size=100, hidden=(16,), z_dim=8, device="cpu", dp={"epsilon": 3.0, "delta": 1e-4}
    ).fit(df, out=tmp_path / "run", callbacks=[probe], health="off")
    privacy = probe.seen["privacy"]
    assert (
        privacy["noise_multiplier"] > 0 and 0 < privacy["sample_rate"] <= 1 and privacy["steps_allowed"] >= 3
    )


def test_atomic_files_have_the_permissions_of_ordinary_files(tmp_path):
    old = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "a.txt", "hello")
        plain = tmp_path / "b.txt"
        plain.write_text("hello")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "a.txt").stat().st_mode) == stat.S_IMODE(plain.stat().st_mode) == 0o644


def test_a_failed_atomic_write_leaves_the_old_file_and_no_temp_file(tmp_path):
    target = tmp_path / "keep.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_file(target) as fh:
        fh.write(b"half")
        raise RuntimeError("disk full")
    assert target.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["keep.txt"]
