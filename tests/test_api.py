"""The Python API a newcomer uses: fit on a folder with class sub-folders, sample, save, load; Ctrl-C."""

import json
import signal
import subprocess
import time

import numpy as np
import pytest
from conftest import ganforge_cmd
from PIL import Image
from safetensors.torch import load_file

from ganforge import ImageGAN, load
from ganforge.errors import ConfigError


def make_class_folders(root, per_class=12):
    """Two visually distinct classes: dark images and bright images, at assorted sizes and modes."""
    rng = np.random.default_rng(0)
    for name, lo, hi in (("dark", 0, 60), ("bright", 190, 255)):
        (root / name / "nested").mkdir(parents=True)
        for i in range(per_class):
            size = int(rng.integers(18, 40))
            pixels = rng.integers(lo, hi, (size, size + 3), dtype=np.uint8)
            Image.fromarray(pixels, "L").save(root / name / ("nested" if i % 2 else ".") / f"{i}.png")
    return root


def test_fit_sample_save_load_roundtrip(tmp_path):
    data = make_class_folders(tmp_path / "data")
    gan = ImageGAN(resolution=16, conditional=True, steps=150, batch_size=16, width=8, device="cpu", lr_g=1e-3,
                   lr_d=1e-3)  # fmt: skip
    gan.fit(str(data))
    assert gan.recipe_config.class_names == ("bright", "dark")
    # Conditioning works: class 0 (bright) samples are brighter than class 1 (dark) samples.
    bright, dark = gan.sample(32, labels=[0] * 32, seed=0), gan.sample(32, labels=1, seed=0)
    assert bright.mean() > dark.mean() + 60, (bright.mean(), dark.mean())
    pils = gan.sample(4, labels=[0, 1, 0, 1], seed=1, as_pil=True)
    assert all(p.size == (16, 16) and p.mode == "L" for p in pils)

    gan.save(tmp_path / "saved")
    for name in ("model.safetensors", "config.json", "card.md"):
        assert (tmp_path / "saved" / name).is_file()
    config = json.loads((tmp_path / "saved" / "config.json").read_text())
    assert config["recipe"]["num_classes"] == 2 and len(config["weights_sha256"]) == 64
    again = load(tmp_path / "saved")
    assert (again.sample(8, labels=1, seed=3) == gan.sample(8, labels=1, seed=3)).all()


def test_the_preset_is_chosen_by_data_size_and_the_callers_keywords_stay(tmp_path, monkeypatch):
    from ganforge.images import recipe

    data = make_class_folders(tmp_path / "data", per_class=3)  # 6 images

    def fit(name, **kw):
        ImageGAN(resolution=16, steps=1, batch_size=4, width=4, device="cpu", **kw).fit(
            str(data), out=tmp_path / name, health="off"
        )
        return json.loads((tmp_path / name / "config.json").read_text())

    small = fit("small", lr_d=1e-3)  # a few images: adaptive augmentation, stronger penalties
    assert small["preset"] == "small-data"
    assert (small["train"]["ada_target"], small["train"]["r1_gamma"]) == (0.6, 0.2)
    assert (small["train"]["lr_g"], small["train"]["lr_d"]) == (2e-4, 1e-3)  # the given rate kept
    monkeypatch.setattr(recipe, "SMALL_DATA_IMAGES", 6)  # the same folder now counts as large
    large = fit("large", ada_target=0.5)
    assert large["preset"] == "default" and large["train"]["lr_g"] == 2e-3
    assert (large["train"]["ada_target"], large["train"]["r1_gamma"]) == (0.5, 0.1)
    assert fit("named", preset_name="small-data")["preset"] == "small-data"  # a named preset is kept


def test_sampling_rejects_bad_requests(tmp_path):
    gan = ImageGAN(resolution=16, conditional=True, steps=2, batch_size=4, width=4, device="cpu")
    with pytest.raises(ConfigError, match="not trained"):
        gan.sample(4)
    gan.fit(str(make_class_folders(tmp_path / "d", per_class=3)))
    with pytest.raises(ConfigError, match="0..1"):
        gan.sample(2, labels=[0, 5])
    with pytest.raises(ConfigError, match="n must be"):
        gan.sample(0)


def test_ctrl_c_saves_a_checkpoint_and_exits_cleanly(tmp_path):
    run = tmp_path / "run"
    cmd = [*ganforge_cmd(), "train", "images", "digits", "--resolution", "16", "--width", "8", "--batch", "8",
           "--steps", "100000", "--device", "cpu", "--out", str(run), "--checkpoint-every", "100000"]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline and not (run / "metrics.jsonl").exists():
        time.sleep(0.1)
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "interrupted" in err and "--resume" in err and "Traceback" not in err
    state = json.loads((run / "checkpoint.json").read_text())
    assert state["step"] >= 10  # no periodic checkpoint was due: this one was written on Ctrl-C
    assert (run / "model.safetensors").is_file()
    assert load(run).sample(2, seed=0).shape == (2, 16, 16, 1)

    # The interrupted run holds whole steps: resumed a little further it equals an uninterrupted run.
    target = str(state["step"] + 5)
    resumed = subprocess.run([*ganforge_cmd(), "train", "images", "digits", "--resume", str(run), "--steps", target],
                             capture_output=True, text=True)  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    fresh = tmp_path / "fresh"
    fresh_cmd = [*cmd[: cmd.index("--steps")], "--steps", target, "--device", "cpu", "--out", str(fresh)]
    assert subprocess.run(fresh_cmd, capture_output=True).returncode == 0
    a, b = load_file(str(run / "model.safetensors")), load_file(str(fresh / "model.safetensors"))
    assert all((a[k] == b[k]).all() for k in a)
