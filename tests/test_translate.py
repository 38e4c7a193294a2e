"""Translation: CycleGAN learns brightness inversion between two unpaired sets of real images (and its
cycle error falls), pix2pix learns a paired mapping, resume is exact, bad input gets a clear error."""

import json
import subprocess

import numpy as np
import pytest
import torch
from conftest import ganforge_cmd
from PIL import Image

from ganforge.errors import ConfigError, DataError
from ganforge.images.builtin import load_builtin
from ganforge.images.img2img.model import load_img2img, resume_img2img, train_translate
from ganforge.images.img2img.paired import edge_map, match_pairs

TINY = {"width": 8, "depth": 3, "d_width": 8, "d_layers": 2, "batch_size": 4, "pool_size": 10}


@pytest.fixture(scope="module")
def fashion():
    return load_builtin("fashion-mnist", 32, split="test", max_images=600).images


def _write(folder, images, names=None):
    folder.mkdir(parents=True, exist_ok=True)
    for i, im in enumerate(images):
        Image.fromarray(im[..., 0] if im.shape[2] == 1 else im).save(
            folder / f"{names[i] if names else i}.png"
        )
    return folder


def test_cyclegan_learns_inversion_and_cycle_error_falls(tmp_path, fashion):
    # Domain A: clothes; domain B: *other* clothes, inverted. Nothing tells the model which image
    # corresponds to which: the mapping must come from the adversarial and cycle terms.
    a, b, held_out = fashion[:250], 255 - fashion[250:500], fashion[500:564]
    model = train_translate(a, b, "unpaired", tmp_path / "run", resolution=32, steps=200, identity_weight=0.0,
                            log_every=10, lr_g=1e-3, lr_d=5e-4, **(TINY | {"width": 16}))  # fmt: skip
    fake = model.translate_batch(held_out, "a2b").astype(np.float32)
    target = 255.0 - held_out
    untranslated = np.abs(held_out - target).mean()
    assert np.abs(fake - target).mean() < 0.3 * untranslated, (np.abs(fake - target).mean(), untranslated)
    assert fake.mean() > 128 > held_out.mean()  # dark backgrounds became light
    back = model.translate_batch(255 - held_out, "b2a").astype(np.float32)
    assert np.abs(back - held_out).mean() < 0.3 * untranslated
    cycle = [r["cycle"] for r in map(json.loads, (tmp_path / "run" / "metrics.jsonl").read_text().splitlines())
             if "cycle" in r]  # fmt: skip
    assert np.mean(cycle[-3:]) < 0.5 * np.mean(cycle[:2]), cycle


def test_pix2pix_learns_edges_to_garments(tmp_path, fashion):
    # A: Canny edge maps of garments; B: the garments (the offline example's recipe, on small images).
    from ganforge.images.img2img.paired import write_edge_pairs

    write_edge_pairs(fashion[:200], tmp_path / "A", tmp_path / "B")
    run = tmp_path / "p2p"
    train_translate(tmp_path / "A", tmp_path / "B", "paired", run, resolution=32, steps=120, lr_g=1e-3,
                    **(TINY | {"width": 16}))  # fmt: skip
    model = load_img2img(run)
    held_out = fashion[500:540]
    edges = np.stack([edge_map(im) for im in held_out])
    fake = model.translate_batch(edges, "a2b").astype(np.float32)
    err = np.abs(fake - held_out).mean()
    baseline = np.abs(fashion[:200].mean(axis=0) - held_out).mean()  # the average garment
    assert err < 0.7 * baseline, (err, baseline)
    with pytest.raises(ConfigError, match="a2b only"):
        model.translate(edges[0], "b2a")


def test_resume_continues_exactly(tmp_path, fashion):
    a, b = _write(tmp_path / "A", fashion[:12]), _write(tmp_path / "B", 255 - fashion[12:24])
    opts = dict(resolution=32, checkpoint_every=2, **TINY)
    train_translate(a, b, "unpaired", tmp_path / "x", steps=3, **opts)
    resumed = resume_img2img(tmp_path / "x", steps=6)
    straight = train_translate(a, b, "unpaired", tmp_path / "y", steps=6, **opts)
    for p, q in zip(resumed.D.state_dict().values(), straight.D.state_dict().values(), strict=True):
        assert torch.equal(p, q)  # includes the pool of fakes
    for p, q in zip(resumed.G.state_dict().values(), straight.G.state_dict().values(), strict=True):
        assert torch.equal(p, q)


def test_bad_input_gets_clear_errors(tmp_path, fashion):
    a = _write(tmp_path / "A", fashion[:3], ["cat", "dog", "owl"])
    b = _write(tmp_path / "B", fashion[3:6], ["cat", "dog", "emu"])
    with pytest.raises(
        DataError, match=r"1 in .*A without a match.*owl\.png.*1 in .*B without a match.*emu\.png"
    ):
        match_pairs(a, b)
    proc = subprocess.run([*ganforge_cmd(), "train", "translate", "--paired", str(a), str(b), "--out",
                           str(tmp_path / "r")], capture_output=True, text=True, timeout=300)  # fmt: skip
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert proc.returncode == 1 and "Traceback" not in proc.stderr and len(errors) == 1, proc.stderr
    assert "same file names" in proc.stderr
    (tmp_path / "A" / "bad.png").write_bytes(b"garbage")
    with pytest.raises(DataError, match="bad.png: corrupt or not an image"):
        train_translate(a, a, "unpaired", None, resolution=32, steps=1, **TINY)
    with pytest.raises(ConfigError, match="unknown translation mode"):
        train_translate(a, b, "sideways", None)
