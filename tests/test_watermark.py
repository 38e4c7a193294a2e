"""The invisible watermark: generated images carry their model's id, real images do not, the PNG label
is there, opting out works, and bad input gets one clear line."""

import io
import json
import subprocess

import numpy as np
import pytest
from conftest import ganforge_cmd
from PIL import Image
from typer.testing import CliRunner

from ganforge import ImageGAN, load
from ganforge.cli.main import app
from ganforge.errors import ConfigError, DataError, GanforgeError
from ganforge.images import watermark as wm
from ganforge.images.builtin import BUILTINS, load_builtin

runner = CliRunner()


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A tiny class-conditional GAN trained on digits at 28 px, saved with its sample grids."""
    out = tmp_path_factory.mktemp("wm") / "runs" / "digits"
    data = load_builtin("digits", 28, max_images=256)
    gan = ImageGAN(resolution=28, conditional=True, steps=40, batch_size=16, width=8, device="cpu")
    gan.fit(data, out=out, sample_every=20)
    return gan, out


def test_generated_images_carry_their_model_id(run):
    gan, _ = run
    marked, plain = gan.sample(24, seed=0), gan.sample(24, seed=0, watermark=False)
    assert all(r.found and r.model_id == gan.model_id for r in map(wm.verify, marked))
    assert not any(wm.verify(im).found for im in plain)  # the unmarked twins: nothing found
    mse = ((marked.astype(float) - plain) ** 2).mean()
    assert 10 * np.log10(255**2 / mse) > 30  # the mark changes a few grey levels, not the picture
    # Another model's id is not this model's: its run is not named.
    other = wm.verify(marked[0], runs={"00000": "someone-else"})
    assert other.model_id == gan.model_id and other.run is None


def test_marks_survive_jpeg_crop_and_darkening(run):
    gan, _ = run
    images = gan.sample(8, seed=3)
    for im in images:
        pil = Image.fromarray(im[..., 0])
        buf = io.BytesIO()
        pil.save(buf, "JPEG", quality=90)
        attacked = [
            Image.open(io.BytesIO(buf.getvalue())),
            pil.crop((1, 2, 26, 27)),
            pil.point(lambda v: v * 0.9),
        ]
        for a in attacked:
            assert wm.verify(a).model_id == gan.model_id
    noisy = np.clip(
        images[0].astype(int) + np.random.default_rng(0).integers(-40, 41, images[0].shape), 0, 255
    )
    assert not wm.verify(noisy.astype(np.uint8)).found  # destroyed marks are reported as such


def test_real_images_are_not_flagged():
    sets = [load_builtin("digits", r, split="test").images[:150] for r in (28, 32)]
    if BUILTINS["fashion-mnist"].installed():
        sets.append(load_builtin("fashion-mnist", 28, split="test", max_images=200).images)
    runs = {wm.new_model_id(): "a" for _ in range(5)}
    for images in sets:
        assert not any(wm.verify(im).found for im in images)
        assert not any(wm.verify(im, runs=runs).found for im in images[:60])


def test_model_id_is_saved_shown_and_stable(run, tmp_path):
    gan, out = run
    config = json.loads((out / "config.json").read_text())
    assert config["watermark_key_id"] == gan.model_id
    assert f"watermark key id**: {gan.model_id}" in (out / "card.md").read_text()
    assert load(out).model_id == gan.model_id
    # A run saved before ids existed gets one derived from its weights: the same on every load.
    legacy = tmp_path / "legacy"
    legacy.mkdir()
    for name in ("model.safetensors", "card.md"):
        (legacy / name).write_bytes((out / name).read_bytes())
    (legacy / "config.json").write_text(
        json.dumps({k: v for k, v in config.items() if k != "watermark_key_id"})
    )
    first = load(legacy).model_id
    assert first == load(legacy).model_id == wm.model_id_from_digest(config["weights_sha256"])
    assert wm.verify(load(legacy).sample(1, seed=0)[0]).model_id == first


def test_cli_sample_grid_interpolate_verify_and_opt_out(run, tmp_path):
    gan, out = run
    runs_dir = out.parent
    files, grid, gif, plain = (
        tmp_path / "files",
        tmp_path / "grid.png",
        tmp_path / "walk.gif",
        tmp_path / "plain",
    )
    for args in (["-n", "3", "--out", str(files)], ["-n", "9", "--grid", "--out", str(grid)],
                 ["-n", "2", "--out", str(plain), "--no-watermark"]):  # fmt: skip
        assert runner.invoke(app, ["sample", str(out), "--seed", "1", *args]).exit_code == 0
    assert (
        runner.invoke(
            app, ["interpolate", str(out), "--out", str(gif), "--frames", "3", "--points", "2"]
        ).exit_code
        == 0
    )
    label = Image.open(files / "000000.png").text
    assert label["ganforge:synthetic"] == "true" and label["ganforge:model-id"] == gan.model_id
    assert Image.open(grid).text["ganforge:model-id"] == gan.model_id

    result = runner.invoke(app, ["verify", str(files), str(grid), str(gif), "--runs", str(runs_dir)])
    lines = result.output.strip().splitlines()
    assert result.exit_code == 0 and len(lines) == 5, result.output
    assert all(f"watermark found: model {gan.model_id}, run {out}" in ln for ln in lines), result.output
    assert "tiles 9/9" in lines[3] and "upscaled" in lines[4]
    assert all("labelled synthetic" in ln for ln in lines)

    result = runner.invoke(app, ["verify", str(plain / "000000.png")])
    assert result.exit_code == 1 and "no watermark found; no synthetic label" in result.output
    assert not Image.open(plain / "000000.png").text


def test_training_grids_are_marked(run):
    gan, out = run
    grids = sorted((out / "samples").glob("step-*.png"))
    assert len(grids) >= 2
    for path in grids:
        result = wm.verify(path)
        assert result.found and result.model_id == gan.model_id and result.label_present
        assert result.tiles[1] == 64 and result.how.startswith("tiles")


def test_bad_input_gets_one_clear_line(tmp_path):
    good = tmp_path / "ok.png"
    Image.fromarray(np.zeros((28, 28), np.uint8)).save(good)
    (tmp_path / "notes.png").write_text("not an image")
    (tmp_path / "cut.png").write_bytes(good.read_bytes()[:40])
    args = [str(tmp_path / n) for n in ("notes.png", "cut.png", "missing.png", "ok.png")]
    proc = subprocess.run([*ganforge_cmd(), "verify", *args], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr + proc.stdout
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 4 and sum("error: " in ln for ln in lines) == 3, proc.stdout
    assert (
        "not a readable image" in lines[0]
        and "not a readable image" in lines[1]
        and "no such file" in lines[2]
    )
    assert "no watermark found" in lines[3]
    with pytest.raises(DataError, match="not a readable image"):
        wm.verify(tmp_path / "notes.png")
    with pytest.raises(ConfigError, match="5 hex digits"):
        wm.mark(np.zeros((1, 28, 28, 1), np.uint8), "run-7")
    with pytest.raises(DataError, match="uint8"):
        wm.mark(np.zeros((1, 28, 28, 1), np.float32), "abcde")
    result = runner.invoke(app, ["verify", str(tmp_path), "--runs", str(tmp_path / "nope")])
    assert isinstance(result.exception, GanforgeError) and "not a directory" in str(result.exception)


def test_generated_tables_get_a_provenance_sidecar(tmp_path):
    import pandas as pd

    from ganforge import TableGAN

    rng = np.random.default_rng(0)
    df = pd.DataFrame({"x": rng.normal(size=200), "kind": rng.choice(["a", "b"], 200)})
    gan = TableGAN(steps=2, batch_size=20, pac=10, hidden=(16,), device="cpu").fit(df, out=tmp_path / "t")
    for name in ("rows.csv", "rows.parquet"):
        path = gan.sample_to_file(50, tmp_path / name, seed=3, conditions={"kind": "a"})
        info = json.loads((tmp_path / f"{name}.provenance.json").read_text())
        assert info["synthetic"] is True and info["rows"] == 50 and info["seed"] == 3
        assert info["run"] == str((tmp_path / "t").resolve()) and info["conditions"] == {"kind": "a"}
        assert list(pd.read_csv(path) if name.endswith("csv") else pd.read_parquet(path)) == ["x", "kind"]
