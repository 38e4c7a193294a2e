"""Image data layer: folders, built-in datasets, resizing and grids, checked on real files."""

from __future__ import annotations

import ast
import gzip
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ganforge.errors import ConfigError, DataError
from ganforge.images import builtin
from ganforge.images import data as images
from ganforge.images.builtin import BUILTINS, load_builtin, resolve_image_source
from ganforge.images.data import (
    SUPPORTED_RESOLUTIONS,
    ImageDataset,
    load_image_folder,
    make_grid,
    resize_dataset,
    save_grid,
    to_pil,
)

RED, GREEN, BLUE, WHITE = (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255)


def solid(path: Path, mode: str = "RGB", size: tuple[int, int] = (40, 40), color=RED) -> Path:
    """Write a one-colour image with Pillow (format from the suffix) and return its path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, color).save(path)
    return path


def assert_close(pixels: np.ndarray, color, tol: int = 2) -> None:
    assert np.abs(pixels.astype(int) - np.array(color)).max() <= tol, pixels.reshape(-1, pixels.shape[-1])[:3]


# --- folders -------------------------------------------------------------------------------------


def test_class_subfolders_give_sorted_names_and_matching_labels(tmp_path: Path) -> None:
    for k in range(3):
        solid(tmp_path / "zebra" / f"z{k}.png", color=BLUE)
    solid(tmp_path / "apple" / "a0.jpg", color=RED)
    solid(tmp_path / "apple" / "deeper" / "still" / "a1.png", color=RED)  # nested: still class "apple"
    (tmp_path / "README.txt").write_text("not an image, and fine next to class folders")

    with pytest.warns(UserWarning, match="skipped 1 file") as caught:
        ds = load_image_folder(tmp_path, 16)
    assert caught[0].filename == __file__  # the caller's line, not the package's

    assert ds.class_names == ["apple", "zebra"] and ds.num_classes == 2
    assert ds.labels is not None and ds.labels.dtype == np.int64
    assert sorted(ds.labels.tolist()) == [0, 0, 1, 1, 1]
    for image, label in zip(ds.images, ds.labels, strict=True):
        assert_close(image, RED if label == 0 else BLUE, tol=6)  # JPEG is lossy
    assert ds.source == f"folder {tmp_path}"


def test_single_subfolder_or_flat_folder_is_unlabelled(tmp_path: Path) -> None:
    solid(tmp_path / "only" / "a.png")
    solid(tmp_path / "only" / "b.png")
    ds = load_image_folder(tmp_path, 16)
    assert ds.labels is None and ds.class_names == [] and ds.num_classes == 0 and len(ds) == 2


def test_mixed_sizes_and_modes_come_out_uniform_and_correct(tmp_path: Path) -> None:
    solid(tmp_path / "red_wide.png", size=(300, 200), color=RED)
    solid(tmp_path / "tiny.bmp", size=(5, 7), color=GREEN)
    solid(tmp_path / "clear.png", mode="RGBA", color=(255, 0, 0, 0))  # fully transparent -> white
    solid(tmp_path / "grey.png", mode="L", color=128)
    palette = Image.new("RGB", (30, 30), BLUE).convert("P")
    palette.save(tmp_path / "palette.gif")
    # Non-square: left third red, middle third green, right third blue; the centre crop keeps green.
    stripes = np.zeros((10, 30, 3), np.uint8)
    stripes[:, :10], stripes[:, 10:20], stripes[:, 20:] = RED, GREEN, BLUE
    Image.fromarray(stripes).save(tmp_path / "stripes.png")

    ds = load_image_folder(tmp_path, 32)
    by_name = dict(zip(sorted(p.name for p in tmp_path.iterdir()), ds.images, strict=True))

    assert ds.images.shape == (6, 32, 32, 3) and ds.images.dtype == np.uint8 and ds.channels == 3
    assert_close(by_name["red_wide.png"], RED)
    assert_close(by_name["tiny.bmp"], GREEN)
    assert_close(by_name["clear.png"], WHITE)
    assert_close(by_name["grey.png"], (128, 128, 128))
    assert_close(by_name["palette.gif"], BLUE)
    assert_close(by_name["stripes.png"][:, 4:28], GREEN, tol=40)  # Lanczos rings a little at the edges


def test_grey_images_are_detected_and_scaled(tmp_path: Path) -> None:
    solid(tmp_path / "l.png", mode="L", color=200)
    solid(tmp_path / "bw.png", mode="1", color=1)
    solid(tmp_path / "la.png", mode="LA", color=(0, 0))  # transparent black -> white
    Image.fromarray(np.full((20, 20), 65535, np.uint16)).save(tmp_path / "wide.png")  # 16-bit white
    grey_palette = Image.new("L", (20, 20), 60).convert("P")
    grey_palette.save(tmp_path / "p.gif")

    ds = load_image_folder(tmp_path, 16)
    assert ds.channels == 1 and ds.images.shape == (5, 16, 16, 1)
    names = ["bw", "l", "la", "p", "wide"]  # the order the files sort in
    values = {name: int(np.median(img)) for name, img in zip(names, ds.images, strict=True)}
    assert values == {"bw": 255, "l": 200, "la": 255, "p": 60, "wide": 255}

    solid(tmp_path / "colour.png", color=RED)
    assert load_image_folder(tmp_path, 16).channels == 3
    forced = load_image_folder(tmp_path, 16, channels=1)
    red_as_grey = forced.images[1]  # "colour.png" sorts second, after "bw.png"
    assert forced.channels == 1 and int(np.median(red_as_grey)) == 76  # ITU-R 601-2 luma of pure red


def test_non_images_and_truncated_images_are_skipped_with_warnings(tmp_path: Path) -> None:
    for k in range(3):
        solid(tmp_path / f"ok{k}.png", size=(64, 64))
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / "fake.png").write_bytes(b"not really a png")
    (tmp_path / ".hidden.png").write_bytes(b"ignored entirely")
    noise = np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    Image.fromarray(noise).save(tmp_path / "truncated.png")
    data = (tmp_path / "truncated.png").read_bytes()
    (tmp_path / "truncated.png").write_bytes(data[: len(data) // 2])

    with pytest.warns(UserWarning) as record:
        ds = load_image_folder(tmp_path, 16)

    messages = [str(w.message) for w in record]
    assert any("skipped 2 file(s) that are not images" in m for m in messages)
    assert any("skipped 1 corrupt or truncated image(s)" in m and "truncated.png" in m for m in messages)
    assert len(ds) == 3
    assert_close(ds.images, RED)


def test_max_images_keeps_a_fixed_subset_and_resolution_none_follows_the_images(tmp_path: Path) -> None:
    for k in range(10):
        solid(tmp_path / f"{k}.png", size=(28, 28), color=(k * 20, 0, 0))
    first = load_image_folder(tmp_path, None, max_images=4)
    again = load_image_folder(tmp_path, None, max_images=4)
    assert first.images.shape == (4, 28, 28, 3)  # 28 px images -> 28, no needless upscaling
    np.testing.assert_array_equal(first.images, again.images)


@pytest.mark.parametrize(
    ("setup", "match"),
    [
        (lambda p: None, "is empty"),
        (lambda p: solid(p / "one.png"), "need at least 2 images"),
        (lambda p: (p / "a.txt").write_text("x"), "no readable images"),
        (
            lambda p: [solid(p / "cats" / "c.png"), solid(p / "dogs" / "d.png"), solid(p / "stray.png")],
            "stray.png",
        ),
    ],
    ids=["empty", "one-image", "no-images", "loose-next-to-classes"],
)
def test_unusable_folders_raise_data_error(tmp_path: Path, setup, match: str) -> None:
    setup(tmp_path)
    expect_warning = pytest.warns(UserWarning) if match == "no readable images" else nullcontext()
    with expect_warning, pytest.raises(DataError, match=match):
        load_image_folder(tmp_path, 16)


def test_bad_paths_and_options_are_explained(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such folder"):
        load_image_folder(tmp_path / "missing", 16)
    with pytest.raises(DataError, match="is a file, not a folder"):
        load_image_folder(solid(tmp_path / "x.png"), 16)
    with pytest.raises(ConfigError, match="16, 28, 32, 56, 64, 128") as info:
        load_image_folder(tmp_path, 100)
    assert "100" in str(info.value)
    with pytest.raises(ConfigError, match="channels"):
        load_image_folder(tmp_path, 16, channels=4)


# --- in-memory datasets and grids ----------------------------------------------------------------


def test_resize_dataset_keeps_colours_labels_and_converts_channels() -> None:
    reds = np.zeros((4, 8, 8, 3), np.uint8)
    reds[..., 0] = 255
    ds = ImageDataset(reds, np.array([0, 1, 0, 1]), ["a", "b"], "test")
    big = resize_dataset(ds, 32)
    assert big.images.shape == (4, 32, 32, 3) and big.labels.tolist() == [0, 1, 0, 1]
    assert_close(big.images, RED)
    grey = resize_dataset(ds, 16, channels=1)
    assert grey.images.shape == (4, 16, 16, 1) and int(grey.images.max()) == 76
    back = resize_dataset(grey, 16, channels=3)
    assert (back.images == back.images[..., :1]).all()
    with pytest.raises(ConfigError, match="choose one of"):
        resize_dataset(ds, 8)


def test_image_dataset_rejects_inconsistent_arrays() -> None:
    good = np.zeros((2, 4, 4, 1), np.uint8)
    with pytest.raises(DataError, match="uint8"):
        ImageDataset(good.astype(np.float32), None, [], "x")
    with pytest.raises(DataError, match=r"\[0, 2\)"):
        ImageDataset(good, np.array([0, 2]), ["a", "b"], "x")
    with pytest.raises(DataError, match="class_names"):
        ImageDataset(good, np.array([0, 0]), [], "x")


def test_make_and_save_grid_place_every_image(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    imgs = rng.integers(0, 256, (5, 8, 6, 3), dtype=np.uint8)
    grid = make_grid(imgs, nrow=3, padding=2)
    assert grid.shape == (2 * 10 + 2, 3 * 8 + 2, 3)
    for k in range(5):
        top, left = 2 + (k // 3) * 10, 2 + (k % 3) * 8
        np.testing.assert_array_equal(grid[top : top + 8, left : left + 6], imgs[k])
    assert (grid[:2] == 0).all() and (grid[12:, 18:] == 0).all()  # frame and the empty sixth cell

    save_grid(imgs, tmp_path / "out" / "grid.png", nrow=3)
    with Image.open(tmp_path / "out" / "grid.png") as png:
        assert png.format == "PNG" and png.size == (26, 22)
        np.testing.assert_array_equal(np.asarray(png), grid)

    grey = rng.integers(0, 256, (4, 5, 5, 1), dtype=np.uint8)
    save_grid(grey, tmp_path / "grey.png", padding=0)
    with Image.open(tmp_path / "grey.png") as png:
        assert png.mode == "L" and png.size == (10, 10)
        np.testing.assert_array_equal(np.asarray(png)[:5, 5:], grey[1, ..., 0])


def test_to_pil_modes() -> None:
    assert to_pil(np.zeros((3, 4, 1), np.uint8)).mode == "L"
    img = to_pil(np.full((3, 4, 3), 9, np.uint8))
    assert img.mode == "RGB" and img.size == (4, 3) and img.getpixel((0, 0)) == (9, 9, 9)
    with pytest.raises(DataError, match="uint8"):
        to_pil(np.zeros((3, 4, 2), np.uint8))


def test_data_layer_does_not_import_torch() -> None:
    for module in (images, builtin):
        tree = ast.parse(Path(module.__file__).read_text())
        names = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
        names += [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
        assert not [n for n in names if n.split(".")[0] == "torch" or "engine" in n], module.__name__


# --- built-in datasets ---------------------------------------------------------------------------


def test_fashion_mnist_loads_balanced_and_labelled() -> None:
    if not BUILTINS["fashion-mnist"].installed():
        pytest.skip("apt-get install dataset-fashion-mnist")
    train = load_builtin("fashion-mnist")
    assert train.images.shape == (60000, 28, 28, 1) and train.images.dtype == np.uint8
    assert np.bincount(train.labels).tolist() == [6000] * 10
    assert train.class_names[0] == "T-shirt/top" and train.class_names[9] == "Ankle boot"
    assert train.labels[0] == 9  # the first training image of Fashion-MNIST is an ankle boot
    # Trousers stand upright with a gap between the legs; bags are wide. Their mean images differ so.
    trouser = train.images[train.labels == 1].mean(axis=0)[..., 0]
    bag = train.images[train.labels == 8].mean(axis=0)[..., 0]
    assert trouser[:, 2:6].mean() < bag[:, 2:6].mean()
    test32 = load_builtin("fashion-mnist", 32, split="test", max_images=500)
    assert test32.images.shape == (500, 32, 32, 1) and test32.source == "fashion-mnist (test)"


def test_fashion_mnist_missing_or_corrupt_files_say_what_to_do(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("GANFORGE_FASHION_MNIST_DIR", str(tmp_path))
    assert not BUILTINS["fashion-mnist"].installed()
    with pytest.raises(DataError, match="apt-get install dataset-fashion-mnist"):
        load_builtin("fashion-mnist")
    for prefix in ("train", "t10k"):
        for kind, magic in (("images-idx3", 0x803), ("labels-idx1", 0x801)):
            header = magic.to_bytes(4, "big") + (100).to_bytes(4, "big") * (3 if magic == 0x803 else 1)
            with gzip.open(tmp_path / f"{prefix}-{kind}-ubyte.gz", "wb") as f:
                f.write(header + b"\0" * 10)  # far fewer bytes than 100 images need
    with pytest.raises(DataError, match="truncated"):
        load_builtin("fashion-mnist")


def test_digits_splits_partition_the_data() -> None:
    train, test, everything = (load_builtin("digits", split=s) for s in ("train", "test", "all"))
    assert (len(train), len(test), len(everything)) == (1438, 359, 1797)
    assert train.images.shape[1:] == (16, 16, 1) and train.class_names == [str(d) for d in range(10)]
    combined = np.bincount(np.concatenate([train.labels, test.labels]), minlength=10)
    np.testing.assert_array_equal(combined, np.bincount(everything.labels, minlength=10))
    assert int(everything.images.max()) >= 250  # 0..16 ink was scaled to the full 0..255 range
    np.testing.assert_array_equal(load_builtin("digits").images, train.images)  # fixed shuffle


def test_emoji_renders_colourful_glyphs_on_white(tmp_path: Path, monkeypatch) -> None:
    if not BUILTINS["emoji"].installed():
        pytest.skip("apt-get install fonts-noto-color-emoji")
    monkeypatch.setenv("GANFORGE_CACHE", str(tmp_path))
    ds = load_builtin("emoji", max_images=40)
    assert ds.images.shape == (40, 64, 64, 3) and ds.labels is None and ds.class_names == []
    assert (ds.images[:, 0, 0] >= 240).all()  # white background in the corners
    ink = (ds.images < 240).any(axis=-1).mean(axis=(1, 2))
    assert (ink > 0.02).all()  # no blank glyphs
    spread = ds.images.astype(int).max(axis=-1) - ds.images.astype(int).min(axis=-1)
    assert (spread > 100).any(
        axis=(1, 2)
    ).mean() > 0.25  # colour glyphs (the first ones sorted include grey ©, ®)
    held_out = load_builtin("emoji", split="test", max_images=10)
    flat = {img.tobytes() for img in ds.images}
    assert not any(img.tobytes() in flat for img in held_out.images)
    assert list(tmp_path.iterdir()) == []  # partial renders are not cached


def test_unknown_builtin_and_resolve_image_source(tmp_path: Path, monkeypatch) -> None:
    with pytest.raises(DataError, match="known: fashion-mnist, digits, emoji"):
        load_builtin("cifar10")
    with pytest.raises(ConfigError, match="split"):
        load_builtin("digits", split="validation")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(
        DataError, match=r"no folder or built-in dataset named 'nowhere' \(built-ins: .*digits"
    ):
        resolve_image_source("nowhere", 16)
    ds = resolve_image_source("digits", None, channels=3, split="test")
    assert ds.images.shape == (359, 16, 16, 3) and ds.source == "sklearn digits (test)"
    for k in range(2):  # a real folder called "digits" wins over the built-in
        solid(tmp_path / "digits" / f"{k}.png", size=(64, 64))
    ds = resolve_image_source("digits", 32)
    assert ds.images.shape == (2, 32, 32, 3) and ds.source.startswith("folder")
    with pytest.raises(ConfigError, match="no test split"):
        resolve_image_source("digits", 32, split="test")
    assert set(SUPPORTED_RESOLUTIONS) >= {BUILTINS[n].native_resolution for n in BUILTINS}


def test_emoji_cache_is_read_back_and_split_without_overlap(tmp_path: Path, monkeypatch) -> None:
    if not BUILTINS["emoji"].installed():
        pytest.skip("apt-get install fonts-noto-color-emoji")
    monkeypatch.setenv("GANFORGE_CACHE", str(tmp_path))
    codes = builtin._emoji_candidates()[:60]
    cached = np.random.default_rng(2).integers(0, 256, (60, 64, 64, 3), dtype=np.uint8)
    builtin._write_emoji_cache(builtin._emoji_cache_path(), cached, codes)
    assert [p.suffix for p in tmp_path.iterdir()] == [".npz"]  # no temp file left behind

    everything = load_builtin("emoji", split="all")
    np.testing.assert_array_equal(everything.images, cached)
    train, test = load_builtin("emoji"), load_builtin("emoji", split="test")
    assert len(train) + len(test) == 60 and 0 < len(test) < 15
    rows = {img.tobytes() for img in train.images}
    assert not any(img.tobytes() in rows for img in test.images)
    assert load_builtin("emoji", 32, max_images=5).images.shape == (5, 32, 32, 3)
