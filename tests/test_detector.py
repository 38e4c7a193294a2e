"""The real-vs-generated detector: separates real digits from samples of a generator it never saw, is at
chance on real-vs-real, survives save/load, and refuses bad input with one clear line."""

import numpy as np
import pytest
from conftest import cli_in_process
from PIL import Image
from sklearn.metrics import roc_auc_score

from ganforge import ImageGAN
from ganforge.images.builtin import resolve_image_source
from ganforge.images.detector import Detector, DetectorConfig, generated, train_detector


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Two different generators of the digits: a DCGAN and a residual net, other seeds."""
    root = tmp_path_factory.mktemp("det")
    out = {}
    for name, arch, seed in (("dcgan", "dcgan", 0), ("resnet", "resnet", 1)):
        ImageGAN(resolution=16, conditional=False, arch=arch, steps=30, batch_size=32, width=8, seed=seed,
                 device="cpu").fit("digits", out=root / name, health="off")  # fmt: skip
        out[name] = root / name
    return out


@pytest.mark.parametrize(("train", "unseen"), [("dcgan", "resnet"), ("resnet", "dcgan")])
def test_detects_a_generator_it_was_not_trained_on(runs, train, unseen):
    det = train_detector("digits", [runs[train]], test_fakes=[runs[unseen]], n=300)
    assert det.info["real_train"] == 240 and det.info["real_holdout"] == 60
    assert det.info["auc_seen"] > 0.95
    assert det.info["auc_unseen"][str(runs[unseen])] > 0.8, det.info


def test_real_against_real_is_chance():
    """It can fail: with no generator in the data there is nothing to find."""
    real = resolve_image_source("digits", 16, channels=1, max_images=600).images
    config = DetectorConfig(resolution=16, channels=1)
    det = Detector.fit(real[:200], real[200:400], config)
    half = real[400:]
    scores = det.predict_proba(half)
    auc = roc_auc_score(np.r_[np.zeros(100), np.ones(100)], scores)
    assert 0.3 < auc < 0.7, auc


def test_cli_train_save_load_detect(runs, tmp_path, capsys, monkeypatch):
    det_dir = tmp_path / "det"
    args = [
        "--fake",
        str(runs["dcgan"]),
        "--test-fake",
        str(runs["resnet"]),
        "--out",
        str(det_dir),
        "-n",
        "200",
    ]
    proc = cli_in_process(capsys, monkeypatch, "train", "detector", "--real", "digits", *args)
    assert proc.returncode == 0, proc.stderr
    assert "unseen generator" in proc.stdout and (det_dir / "detector.safetensors").is_file()
    det = Detector.load(det_dir)
    real = resolve_image_source("digits", 16, channels=1).images[-6:]  # not among the 200 used
    fake = generated(runs["resnet"], 6, seed=99)
    assert np.array_equal(det.predict_proba(real), det.predict_proba(real.copy()))
    paths = []
    for kind, images in (("real", real), ("fake", fake)):
        for i, im in enumerate(images):
            paths.append(tmp_path / f"{kind}{i}.png")
            Image.fromarray(im[..., 0]).save(paths[-1])
    proc = cli_in_process(capsys, monkeypatch, "detect", *map(str, paths), "--detector", str(det_dir))
    assert proc.returncode == 0, proc.stderr
    probs = [float(line.split()[0]) for line in proc.stdout.splitlines()]
    assert len(probs) == 12
    assert np.mean(probs[6:]) > 0.5 > np.mean(probs[:6]), probs
    # the file path and the array path agree
    assert np.allclose(det.predict_files(paths[:6]), det.predict_proba(real), atol=1e-9)


def test_bad_input_is_refused_clearly(runs, tmp_path, capsys, monkeypatch):
    def check(needle, *args):
        proc = cli_in_process(capsys, monkeypatch, *args)
        lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
        assert proc.returncode == 1 and len(lines) == 1 and lines[0].startswith("error:"), proc.stderr
        assert needle in proc.stderr, proc.stderr

    (tmp_path / "notes.png").write_text("not an image")
    Image.new("L", (20, 20)).save(tmp_path / "ok.png")
    check("no detector in", "detect", str(tmp_path / "ok.png"), "--detector", str(tmp_path / "none"))
    train_detector("digits", [runs["dcgan"]], out=tmp_path / "det", n=40)
    det = ["--detector", str(tmp_path / "det")]
    check("not a readable image", "detect", str(tmp_path / "notes.png"), *det)
    check("no such image file", "detect", str(tmp_path / "missing.png"), *det)
    check("--threshold", "detect", str(tmp_path / "ok.png"), "--threshold", "2", *det)
    fake = ["--fake", str(runs["dcgan"])]
    check(
        "run directory not found", "train", "detector", "--real", "digits", "--fake", str(tmp_path / "nope")
    )
    check("no folder or built-in dataset", "train", "detector", "--real", str(tmp_path / "nowhere"), *fake)
    check("detector features", "train", "detector", "--real", "digits", "--features", "magic", *fake)
    (tmp_path / "det" / "detector.json").write_text("{broken")
    check("unreadable", "detect", str(tmp_path / "ok.png"), *det)
