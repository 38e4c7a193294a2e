"""ONNX export: the exported generator computes what PyTorch computes, ``sample --engine onnx`` gives the
same (watermarked) images as the torch engine, and bad input gets one clear line."""

import json
import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import cli_in_process, ganforge_cmd
from PIL import Image

from ganforge import ImageGAN, TableGAN, export_onnx, load
from ganforge.images.data import ImageDataset
from ganforge.images.export import ExportError, OnnxGenerator, onnx_for_run
from ganforge.images.recipe import ImageRecipe


def tiny_run(path, conditional, arch, seed):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (48, 16, 16, 3), dtype=np.uint8)
    labels, names = (np.arange(48) % 3, ["a", "b", "c"]) if conditional else (None, [])
    ds = ImageDataset(images, labels, names, "noise")
    ImageGAN(resolution=16, conditional=conditional, arch=arch, steps=3, batch_size=8, width=8, seed=seed,
             device="cpu").fit(ds, out=path, health="off")  # fmt: skip
    return path


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("onnx")
    out = {
        "uncond": tiny_run(root / "uncond", conditional=False, arch="dcgan", seed=0),
        "cond": tiny_run(root / "cond", conditional=True, arch="resnet", seed=1),
    }
    for run in out.values():
        assert not (run / "model.onnx").exists()
        onnx_for_run(run)  # exports RUN/model.onnx when it is missing
        assert (run / "model.onnx").is_file()
    return out


@pytest.mark.parametrize("name", ["uncond", "cond"])
def test_onnx_generator_equals_torch(runs, name):
    run = runs[name]
    gan, onnx_gen = load(run), OnnxGenerator(run / "model.onnx")
    k = gan.recipe_config.num_classes
    assert onnx_gen.model_id == gan.model_id and onnx_gen.resolution == 16 and onnx_gen.num_classes == k
    assert onnx_gen.class_names == (["a", "b", "c"] if k else [])
    rng = torch.Generator().manual_seed(5)
    for n in (1, 2, 17):  # the batch axis is dynamic: any size runs
        z = torch.randn(n, gan.recipe_config.z_dim, generator=rng)
        c = torch.randint(k, (n,), generator=rng) if k else None
        with torch.no_grad():
            want = gan.G_ema(z, c).numpy()
        got = onnx_gen.run(z.numpy(), None if c is None else c.numpy())
        assert got.shape == want.shape == (n, 3, 16, 16)
        assert np.abs(got - want).max() <= 1e-4
        assert want.std() > 1e-3  # a real comparison: outputs vary with the input
    if k:  # the class input is wired: other labels, other images
        z = torch.randn(4, gan.recipe_config.z_dim)
        a = onnx_gen.run(z.numpy(), np.zeros(4, np.int64))
        b = onnx_gen.run(z.numpy(), np.full(4, 2, np.int64))
        assert np.abs(a - b).max() > 1e-3
        with pytest.raises(Exception, match="class-conditional"):
            onnx_gen.run(z.numpy(), None)


def test_other_weights_do_not_match(runs):
    """The comparison can fail: the file does not reproduce a generator with other weights."""
    gan = load(runs["uncond"])
    other = ImageRecipe(gan.recipe_config).build_generator().eval()
    z = torch.randn(3, 64)
    with torch.no_grad():
        assert np.abs(gan.G_ema(z, None).numpy() - other(z, None).numpy()).max() > 1e-2
        want = other(z, None).numpy()
    assert np.abs(OnnxGenerator(runs["uncond"] / "model.onnx").run(z.numpy()) - want).max() > 1e-2


def test_a_stale_onnx_file_is_exported_again(runs, tmp_path):
    """RUN/model.onnx from other weights (the run was trained further) is not used as it is."""
    run = tmp_path / "copy"
    shutil.copytree(runs["uncond"], run)
    shutil.copy(runs["cond"] / "model.onnx", run / "model.onnx")
    gen = onnx_for_run(run)
    assert gen.num_classes == 0 and gen.model_id == load(run).model_id
    assert gen.weights_sha256 == json.loads((run / "config.json").read_text())["weights_sha256"]


@pytest.mark.parametrize("name", ["uncond", "cond"])
def test_sampling_engines_give_the_same_images(runs, name):
    gan = load(runs[name])
    onnx_gen = onnx_for_run(runs[name])  # reuses RUN/model.onnx: same weights
    labels = [2, 0, 1, 1, 0, 2, 2] if gan.recipe_config.num_classes else None
    for kwargs in ({"labels": labels, "seed": 3}, {"seed": 4}):
        for watermark in (False, True):
            a = gan.sample(7, watermark=watermark, **kwargs)
            b = onnx_gen.sample(7, watermark=watermark, **kwargs)
            assert a.shape == b.shape == (7, 16, 16, 3)
            # float rounding may move a pixel that sits on a .5 boundary by one grey level, no more
            assert np.abs(a.astype(int) - b).max() <= 1 and (a != b).mean() < 1e-3
    assert not np.array_equal(onnx_gen.sample(7, seed=3), onnx_gen.sample(7, seed=5))
    assert not np.array_equal(onnx_gen.sample(3, seed=3, watermark=False), onnx_gen.sample(3, seed=3))


def cli(*args):
    return subprocess.run([*ganforge_cmd(), *args], capture_output=True, text=True, timeout=300)


def one_error_line(proc, needle):
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), proc.stderr
    assert needle in proc.stderr, proc.stderr


def test_cli_export_and_sample_with_onnx_runtime(runs, tmp_path, capsys, monkeypatch):
    run = runs["cond"]
    proc = cli("sample", str(run), "-n", "4", "--class", "1", "--seed", "2", "--engine", "onnx",
               "--out", str(tmp_path / "onnx"))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    files = sorted((tmp_path / "onnx").glob("*.png"))
    assert len(files) == 4
    got = np.stack([np.asarray(Image.open(f)) for f in files])
    want = load(run).sample(4, labels=1, seed=2)
    assert np.abs(got.astype(int) - want).max() <= 1  # watermarked like the torch engine's images
    assert Image.open(files[0]).text.get("ganforge:synthetic") == "true"
    proc = cli_in_process(
        capsys, monkeypatch, "export", str(run), "--onnx", str(tmp_path / "out" / "gen.onnx")
    )
    assert proc.returncode == 0 and "3 classes" in proc.stdout, proc.stderr
    assert OnnxGenerator(tmp_path / "out" / "gen.onnx").model_id == load(run).model_id


def test_bad_input_is_refused_clearly(runs, tmp_path, capsys, monkeypatch):
    def check(needle, *args):
        one_error_line(cli_in_process(capsys, monkeypatch, *args), needle)

    check("run directory not found", "export", str(tmp_path / "missing"))
    check("must end in .onnx", "export", str(runs["uncond"]), "--onnx", str(tmp_path / "g.txt"))
    (tmp_path / "junk.onnx").write_bytes(b"not a model")
    out = str(tmp_path / "x")
    check("not a readable ONNX model", "sample", str(runs["uncond"]), "--engine", "onnx", "--onnx",
          str(tmp_path / "junk.onnx"), "--out", out)  # fmt: skip
    check("ONNX file not found", "sample", str(runs["uncond"]), "--engine", "onnx", "--onnx",
          str(tmp_path / "none.onnx"), "--out", out)  # fmt: skip
    check("--engine must be torch or onnx", "sample", str(runs["uncond"]), "--engine", "tf", "--out", out)
    check("--onnx needs --engine onnx", "sample", str(runs["uncond"]), "--onnx", str(tmp_path / "junk.onnx"),
          "--out", out)  # fmt: skip
    assert not (tmp_path / "x").exists()


def test_table_models_are_refused(tmp_path, capsys, monkeypatch):
    df = pd.DataFrame({"x": np.random.default_rng(0).normal(size=60), "k": ["a", "b", "c"] * 20})
    TableGAN(steps=2, batch_size=20, pac=10, hidden=(16,), device="cpu").fit(df, out=tmp_path / "t")
    with pytest.raises(ExportError, match="table model"):
        export_onnx(tmp_path / "t", tmp_path / "t.onnx")
    proc = cli_in_process(capsys, monkeypatch, "sample", str(tmp_path / "t"), "--engine", "onnx", "--out",
                          str(tmp_path / "r.csv"))  # fmt: skip
    one_error_line(proc, "image models")
