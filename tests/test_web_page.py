"""The page `ganforge serve` serves, in headless Chromium (Debian's /usr/bin/chromium, driven by
Playwright): it loads with no console errors and no outside requests, generates a grid, the slider moves
between two samples, and the downloads hold what the API returns."""

import base64
import contextlib
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from test_serve import call, json_images, make_runs, pixels, start_server, stop_server

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("page")
    img, table = make_runs(root)
    proc, url = start_server([f"digits={img}", f"people={table}"], root / "server.log")
    yield url
    stop_server(proc)


@contextlib.contextmanager
def open_page(server: str) -> Iterator[Any]:
    """The served page in headless Chromium; ``problems`` collects console errors and failed requests,
    ``outside`` any request to another host."""
    sync_playwright = pytest.importorskip("playwright.sync_api").sync_playwright
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"], headless=True)
        context = browser.new_context(accept_downloads=True, viewport={"width": 1200, "height": 900})
        pg = context.new_page()
        pg.problems, pg.outside = [], []
        pg.on("console", lambda m: pg.problems.append(m.text) if m.type == "error" else None)
        pg.on("pageerror", lambda e: pg.problems.append(str(e)))
        pg.on("requestfailed", lambda r: pg.problems.append(f"failed: {r.url}"))
        pg.on(
            "request",
            lambda r: None if r.url.startswith((server, "data:", "blob:")) else pg.outside.append(r.url),
        )
        pg.goto(server + "/", wait_until="networkidle")
        yield pg
        browser.close()


@pytest.fixture(scope="module")
def page(server):
    with open_page(server) as pg:
        yield pg


def downloaded(page, selector: str) -> bytes:
    with page.expect_download() as info:
        page.click(selector)
    return Path(info.value.path()).read_bytes()


def test_page_generates_a_grid_and_downloads_it(page, server):
    assert page.locator("#model option").all_inner_texts() == ["digits (image)", "people (table)"]
    assert page.locator("#images").is_visible() and not page.locator("#tables").is_visible()
    assert page.locator("#image-class option").count() == 11  # random + 10 digits
    page.select_option("#image-class", "7")
    page.fill("#image-n", "4")
    page.fill("#image-seed", "3")
    page.click("#image-generate")
    page.wait_for_selector("#grid", state="visible")
    assert page.eval_on_selector("#grid", "img => [img.naturalWidth, img.naturalHeight]") == [38, 38]
    png = downloaded(page, "#grid-download")
    expected = call(f"{server}/api/models/digits/images", {"n": 4, "seed": 3, "class": 7})[2]
    assert png == expected and Image.open(io.BytesIO(png)).text["ganforge:synthetic"] == "true"
    assert "seed 3" in page.inner_text("#grid-caption")
    assert page.problems == [] and page.outside == []


def test_slider_moves_between_two_samples(page, server):
    page.fill("#walk-a", "5")
    page.fill("#walk-b", "6")
    page.fill("#walk-frames", "8")
    page.click("#walk-load")
    page.wait_for_selector("#walk", state="visible")
    # functions, not expressions: Playwright eval()s an expression string while it polls, which the page's
    # Content-Security-Policy (script-src 'self') refuses -- a failure only when the first check is false
    page.wait_for_function(
        "() => document.querySelector('#frame-caption').textContent.startsWith('frame 1 of 8')"
    )
    seen = []
    for i in (0, 4, 7):
        page.fill("#slider", str(i))
        page.wait_for_function(
            f"() => document.querySelector('#frame-caption').textContent.startsWith('frame {i + 1} ')"
        )
        src = page.get_attribute("#frame", "src")
        seen.append(pixels(base64.b64decode(src.split(",", 1)[1])).astype(int))
    assert page.eval_on_selector("#frame", "img => img.naturalWidth") == 16
    assert all(
        np.abs(a - b).mean() > 0 for a, b in zip(seen[:-1], seen[1:], strict=True)
    )  # the image changes
    # The ends are the two samples (class 7 from the first test, as the page's class picker says).
    ends = [json_images(call(f"{server}/api/models/digits/images", {"n": 1, "seed": s, "class": 7, "format": "json"})[2])[0]
            for s in (5, 6)]  # fmt: skip
    assert np.abs(seen[0] - pixels(ends[0])).max() <= 1 and np.abs(seen[-1] - pixels(ends[1])).max() <= 1
    frame = downloaded(page, "#frame-download")
    assert np.array_equal(pixels(frame), seen[-1]) and page.problems == []


def test_table_model_previews_rows_and_downloads_csv(page, server):
    page.select_option("#model", "people")
    assert page.locator("#tables").is_visible() and not page.locator("#images").is_visible()
    page.fill("#rows-n", "40")
    page.fill("#rows-seed", "2")
    page.fill("#rows-conditions", "city=Oslo\nage=30..60")
    page.click("#rows-generate")
    page.wait_for_selector("#csv-download", state="visible")
    header = page.locator("#preview th").all_inner_texts()
    assert header == ["id", "age", "income", "city", "balance"]
    cities = page.locator("#preview tr td:nth-child(4)").all_inner_texts()
    assert cities == ["Oslo"] * 40
    csv = downloaded(page, "#csv-download")
    body = {"n": 40, "seed": 2, "conditions": {"city": "Oslo", "age": [30, 60]}}
    assert csv == call(f"{server}/api/models/people/rows", body)[2]
    df = pd.read_csv(io.BytesIO(csv))
    assert df["age"].between(30, 60).all() and len(df) == 40
    shown = page.locator("#preview tr td:nth-child(2)").all_inner_texts()
    assert [int(a) for a in shown] == df["age"].tolist()  # the preview shows the downloaded rows
    assert page.problems == [] and page.outside == []


def test_page_shows_api_errors_in_one_line(page, server):
    page.fill("#rows-conditions", "town=Rome")
    page.click("#rows-generate")
    page.wait_for_selector("#status.error")
    assert "unknown column 'town'" in page.inner_text("#status")
    # the browser reports the 400 responses themselves as console errors; nothing else went wrong
    assert all("status of 400" in p for p in page.problems), page.problems
    page.problems.clear()
    assert json.loads(call(f"{server}/api/health")[2])["status"] == "ok"
