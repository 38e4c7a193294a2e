"""Super-resolution / restoration: beats bicubic on held-out real photos, tiles equal whole images,
huge images upscale in bounded memory, bad input gets one clear line."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import ganforge_cmd
from PIL import Image

import ganforge
from ganforge.errors import ConfigError, DataError
from ganforge.images.img2img.degrade import DegradeConfig, bicubic_resize, degrade, degrade_batch
from ganforge.images.img2img.evaluate import psnr_ssim
from ganforge.images.img2img.model import ImageToImage, load_img2img, resume_img2img, train_superres
from ganforge.images.img2img.paired import load_photos
from ganforge.images.img2img.superres import SuperResConfig
from ganforge.images.img2img.tiling import tiled_apply

TINY = {"width": 16, "growth": 8, "blocks": 1, "d_width": 16, "perceptual_weight": 0.0, "batch_size": 8}


def _gain(model: ImageToImage, photos: list[np.ndarray]) -> float:
    """Mean PSNR of the model's 2x output minus that of bicubic upsampling, on clean 2x downsampling."""
    cfg = DegradeConfig(scale=2, blur_sigma=(0, 0), noise_sigma=(0, 0), jpeg_quality=(100, 100))
    gains = []
    for hr in photos:
        hr = hr[:192, :192]
        lr = degrade(hr, cfg, np.random.default_rng(0))
        gains.append(psnr_ssim(hr, model.upscale(lr))[0] - psnr_ssim(hr, bicubic_resize(lr, 192, 192))[0])
    return float(np.mean(gains))


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A small 2x model trained briefly on the training photos (the test photos are held out)."""
    out = tmp_path_factory.mktemp("sr") / "run"
    untrained = train_superres(load_photos("train"), None, scale=2, crop=32, steps=1, lr_g=0.0, lr_d=0.0,
                               degradation="bicubic", **TINY)  # fmt: skip
    model = train_superres(load_photos("train"), out, scale=2, crop=32, steps=120, lr_g=1e-3,
                           degradation="bicubic", checkpoint_every=60, **TINY)  # fmt: skip
    return untrained, model, out


def test_beats_bicubic_on_held_out_photos(trained):
    untrained, model, out = trained
    test = load_photos("test")
    before, after = _gain(untrained, test), _gain(model, test)
    assert before < 0.25, before  # an untrained model is no better than bicubic
    assert after > 0.4 and after > before + 0.3, (before, after)
    # The run directory loads back to the same model.
    again = load_img2img(out)
    assert isinstance(ganforge.load(out), ImageToImage)  # the one loader knows these runs too
    lr = degrade_batch(test[0][None, :64, :64], DegradeConfig(scale=2), 0)[0]
    assert np.array_equal(again.upscale(lr), model.upscale(lr))
    assert json.loads((out / "config.json").read_text())["kind"] == "superres"


def test_tiled_equals_whole_image(trained):
    _, model, _ = trained
    photo = load_photos("test")[1][:150, :130]
    whole = model._run(model.G_ema, photo)  # the network on the whole image at once
    whole = np.clip(np.rint(whole), 0, 255).astype(np.uint8)
    tiled = model.upscale(photo, tile=48, overlap=12, pad=16)
    diff = np.abs(tiled.astype(int) - whole)
    assert tiled.shape == (300, 260, 3)
    assert diff.mean() < 0.1 and diff.max() <= 3, (diff.mean(), diff.max())
    # Without context padding the seams show: the padding is what makes tiles agree.
    rough = tiled_apply(lambda r: model._run(model.G_ema, r), photo, 2, tile=48, overlap=0, pad=0)
    assert np.abs(rough.astype(int) - whole).mean() > 2 * diff.mean()


def test_resume_continues_exactly(tmp_path):
    folder = tmp_path / "hr"
    folder.mkdir()
    for i, photo in enumerate(load_photos("test")):
        Image.fromarray(photo[:96, :96]).save(folder / f"{i}.png")
    opts = dict(scale=2, crop=32, degradation="realistic", **TINY)
    train_superres(folder, tmp_path / "a", steps=3, checkpoint_every=2, **opts)
    resumed = resume_img2img(tmp_path / "a", steps=5)
    straight = train_superres(folder, tmp_path / "b", steps=5, checkpoint_every=2, **opts)
    for p, q in zip(resumed.G.state_dict().values(), straight.G.state_dict().values(), strict=True):
        assert torch.equal(p, q)


_BIG = """
import resource, sys, numpy as np, torch
from ganforge.images.img2img.model import load_img2img
model = load_img2img(sys.argv[1])
image = np.random.default_rng(0).integers(0, 256, (3000, 4000, 3), dtype=np.uint8)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
out = model.upscale(image, tile=256, overlap=8, pad=8)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print((after - before) / 1024, out.shape, out.nbytes / 2**20)
"""


def test_huge_image_restores_in_bounded_memory(tmp_path):
    # A tiny restoration (scale 1) model; the whole 12-megapixel image through the network at once
    # would need several GB of activations.
    tiny = {"width": 2, "growth": 2, "blocks": 1, "d_width": 4, "perceptual_weight": 0.0, "batch_size": 2}
    train_superres(load_photos("test"), tmp_path / "r", scale=1, crop=16, steps=1, **tiny)
    proc = subprocess.run([sys.executable, "-c", _BIG, str(tmp_path / "r")], capture_output=True, text=True,
                          timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    grown_mb, output_mb = float(proc.stdout.split()[0]), float(proc.stdout.split()[-1])
    assert output_mb > 34  # the 4000x3000 RGB result itself
    assert grown_mb < output_mb + 250, proc.stdout


def test_bad_input_gets_clear_errors(tmp_path, trained):
    _, model, out = trained
    with pytest.raises(ConfigError, match="scale 5 is not supported"):
        SuperResConfig(scale=5)
    with pytest.raises(DataError, match="1 channels.*takes 3-channel"):
        model.upscale(np.zeros((20, 20, 1), np.uint8))
    with pytest.raises(DataError, match="4 channels"):
        model.upscale(np.zeros((20, 20, 4), np.uint8))
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\nnot really a png")
    proc = subprocess.run([*ganforge_cmd(), "upscale", str(out), str(bad), "--out", str(tmp_path / "o.png")],
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert proc.returncode == 1 and "Traceback" not in proc.stderr and len(errors) == 1, proc.stderr
    assert "corrupt or not an image" in proc.stderr
    with pytest.raises(ConfigError, match="scale 8 is not supported"):
        train_superres(tmp_path, tmp_path / "x", scale=8)


def test_upscale_cli_writes_a_labelled_png(tmp_path, trained):
    from PIL import Image

    _, model, out = trained
    src = tmp_path / "in.png"
    Image.fromarray(np.full((24, 24, 3), 120, np.uint8)).save(src)
    dst = tmp_path / "up.png"
    proc = subprocess.run([*ganforge_cmd(), "upscale", str(out), str(src), "--out", str(dst)],
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    with Image.open(dst) as im:
        assert im.size == (24 * model.recipe_config.scale,) * 2
        assert im.info.get("ganforge:synthetic") == "true" and len(im.info["ganforge:model-id"]) == 5


def test_serve_refuses_an_upscaler_in_one_line_and_serves_the_rest(trained):
    """An image-to-image run has no generation endpoint: the server says so and serves the other runs."""
    from ganforge.errors import ConfigError
    from ganforge.serve.models import load_models

    sr_run = trained[2]
    legacy = Path(__file__).parent / "fixtures" / "legacy-0.1.0" / "image"
    with pytest.warns(UserWarning, match=r"not serving sr .*not available for image-to-image models"):
        models = load_models([f"sr={sr_run}", f"img={legacy}"])
    assert list(models) == ["img"] and models["img"].can("images")
    with pytest.warns(UserWarning), pytest.raises(ConfigError, match="none of the runs given can be served"):
        load_models([f"sr={sr_run}"])
