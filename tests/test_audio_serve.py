"""`ganforge serve` for audio runs: the real server (the CLI in a subprocess) serving two tiny audio runs,
one class-conditional and one not. POST /audio returns WAVs at the model's rate and length (a grid of
clips in turn for n > 1), the same clips as ``AudioGAN.sample`` for the same seed, ZIP and JSON with one
WAV per clip and the spectrogram, one-line errors for bad input, the watermark in the served sound; and
the page, in headless Chromium, plays what it generated and shows its spectrogram."""

import base64
import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from PIL import Image
from test_serve import call, start_server, stop_server
from test_web_page import open_page

from ganforge.audio.data import AudioData
from ganforge.audio.model import AudioGAN
from ganforge.audio.writer import GAP_SECONDS, wav_bytes

RATE = 16000
CHROMIUM = Path("/usr/bin/chromium")
MAX_CLIPS = 4


def tones(n: int = 40) -> AudioData:
    """One-second tones, low (220 Hz) and high (440 Hz) in turn, as two named classes."""
    t = np.arange(RATE) / RATE
    clips = np.stack([0.3 * np.sin(2 * np.pi * 220 * (1 + i % 2) * t + i) for i in range(n)]).astype(
        np.float32
    )
    labels = (np.arange(n) % 2).astype(np.int64)
    return AudioData(clips, labels, ["low", "high"], [], [], RATE)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A class-conditional run ("voice") and an unconditional one ("hum"), two steps each."""
    root = tmp_path_factory.mktemp("audio-serve")
    voice, hum = root / "voice", root / "hum"
    AudioGAN(steps=2, batch_size=8, width=4, device="cpu").fit(tones(), out=voice)
    AudioGAN(steps=2, batch_size=8, width=4, device="cpu", cond=False).fit(tones(), out=hum)
    return voice, hum


@pytest.fixture(scope="module")
def server(runs, tmp_path_factory):
    voice, hum = runs
    log = tmp_path_factory.mktemp("audio-serve-log") / "server.log"
    proc, url = start_server([f"hum={hum}", f"voice={voice}", "--max-clips", str(MAX_CLIPS)], log)
    yield url
    stop_server(proc)


def audio(server: str, name: str, **body) -> tuple[int, object, bytes]:
    return call(f"{server}/api/models/{name}/audio", body)


def decoded(wav: bytes) -> tuple[np.ndarray, int]:
    """A WAV's 16-bit samples and its rate."""
    samples, rate = sf.read(io.BytesIO(wav), dtype="int16")
    return samples, rate


def as_int16(clip: np.ndarray) -> np.ndarray:
    """A float clip as the 16-bit samples a WAV of it holds."""
    return decoded(wav_bytes(clip, RATE))[0].astype(int)


# ---------------------------------------------------------------- the API
def test_models_list_what_an_audio_model_makes(server):
    models = {m["name"]: m for m in json.loads(call(f"{server}/api/models")[2])}
    voice, hum = models["voice"], models["hum"]
    assert voice["kind"] == "audio" and voice["capabilities"] == ["audio"]
    assert voice["sample_rate"] == RATE and voice["seconds"] == 1.0 and len(voice["model_id"]) == 5
    assert voice["conditional"] is True and voice["classes"] == ["low", "high"]
    assert hum["conditional"] is False and hum["classes"] == []
    assert json.loads(call(f"{server}/api/health")[2])["limits"]["max_clips"] == MAX_CLIPS


def test_a_clip_equals_the_python_api_and_a_grid_plays_them_in_turn(server, runs):
    gan = AudioGAN.load(runs[0])
    status, headers, body = audio(server, "voice", seed=7)
    assert status == 200 and headers["Content-Type"] == "audio/wav" and headers["X-Seed"] == "7"
    assert headers["X-Synthetic"] == "true" and headers["X-Model-Id"] == gan.model_id
    samples, rate = decoded(body)
    assert rate == RATE and samples.shape == (gan.recipe.length,)
    expected = as_int16(gan.sample(1, seed=7)[0])
    assert np.abs(samples.astype(int) - expected).max() <= 1  # the same clip, up to one step of rounding
    unmarked = as_int16(gan.sample(1, seed=7, watermark=False)[0])
    assert np.abs(samples.astype(int) - unmarked).max() > 1  # the inaudible mark is in the served sound
    with sf.SoundFile(io.BytesIO(body)) as labelled:  # the INFO chunk says synthetic and names the model
        assert "Synthetic" in labelled.comment and gan.model_id in labelled.comment

    status, _, grid = audio(server, "voice", n=3, seed=7, **{"class": "high"})
    samples, rate = decoded(grid)
    gap = int(GAP_SECONDS * RATE)
    assert status == 200 and rate == RATE and samples.shape == (3 * gan.recipe.length + 2 * gap,)
    clips = gan.sample(3, seed=7, klass="high")
    for i, clip in enumerate(clips):  # each clip in turn, silence between
        start = i * (gan.recipe.length + gap)
        assert np.abs(samples[start : start + gan.recipe.length].astype(int) - as_int16(clip)).max() <= 1
    assert not samples[gan.recipe.length : gan.recipe.length + gap].any()

    # Without a seed the server picks one and says which: asking again with it gives the same sound.
    _, headers, first = audio(server, "hum")
    _, _, again = audio(server, "hum", seed=int(headers["X-Seed"]))
    assert first == again


def test_json_and_zip_hold_one_wav_per_clip_and_the_spectrogram(server, runs):
    gan = AudioGAN.load(runs[0])
    status, headers, body = audio(server, "voice", n=3, seed=2, format="json")
    payload = json.loads(body)
    assert status == 200 and headers["Content-Type"] == "application/json"
    assert {k: payload[k] for k in ("model", "model_id", "seed", "labels", "sample_rate")} == {
        "model": "voice", "model_id": gan.model_id, "seed": 2, "labels": [0, 1, 0], "sample_rate": RATE
    }  # fmt: skip
    wavs = [base64.b64decode(c) for c in payload["clips"]]
    assert len(wavs) == 3 and all(decoded(w)[0].shape == (RATE,) for w in wavs)
    assert base64.b64decode(payload["grid"]) == audio(server, "voice", n=3, seed=2)[2]
    assert Image.open(io.BytesIO(base64.b64decode(payload["spectrogram"]))).format == "PNG"

    status, headers, archive = audio(server, "voice", n=2, seed=2, format="zip", **{"class": 1})
    assert status == 200 and "attachment" in headers["Content-Disposition"]
    zf = zipfile.ZipFile(io.BytesIO(archive))
    assert sorted(zf.namelist()) == ["0000_high.wav", "0001_high.wav", "grid.png", "meta.json"]
    assert json.loads(zf.read("meta.json"))["labels"] == [1, 1]
    assert Image.open(io.BytesIO(zf.read("grid.png"))).size[0] > 0
    expected = gan.sample(2, seed=2, klass=1)
    for i, clip in enumerate(expected):
        samples, rate = decoded(zf.read(f"{i:04d}_high.wav"))
        assert rate == RATE and np.abs(samples.astype(int) - as_int16(clip)).max() <= 1


def test_bad_requests_get_one_line_errors(server):
    for name, body, code, words in [
        ("voice", {"class": "nope"}, 400, "nope"),
        ("voice", {"class": 2}, 400, "out of range"),
        ("voice", {"class": "x" * 5000}, 400, "has no class"),
        ("voice", {"class": True}, 422, "class"),
        ("hum", {"class": 0}, 400, "unconditional"),
        ("voice", {"n": MAX_CLIPS + 1}, 422, f"less than or equal to {MAX_CLIPS}"),
        ("voice", {"n": 0}, 422, "n:"),
        ("voice", {"format": "mp3"}, 422, "format"),
        ("voice", {"volume": 11}, 422, "volume"),
        ("nobody", {}, 404, "no model named"),
    ]:
        status, headers, raw = call(f"{server}/api/models/{name}/audio", body)
        error = json.loads(raw)["error"]
        assert status == code and words in error and "\n" not in error and len(error) < 300, (body, error)
    status, _, raw = call(f"{server}/api/models/voice/images", {"n": 1})
    assert status == 400 and "makes sound clips: use /audio" in json.loads(raw)["error"]


def test_the_served_sound_carries_the_watermark(server, runs):
    from ganforge.audio.watermark import verify_clip

    model_id = AudioGAN.load(runs[0]).model_id
    samples, rate = sf.read(io.BytesIO(audio(server, "voice", seed=11)[2]), dtype="float32")
    result = verify_clip(samples, rate)
    assert result.found and result.model_id == model_id


# ---------------------------------------------------------------- the page
@pytest.fixture(scope="module")
def page(server):
    if not CHROMIUM.exists():
        pytest.skip("needs Debian's chromium at /usr/bin/chromium")
    with open_page(server) as pg:
        yield pg


def test_page_plays_generated_sound_and_shows_its_spectrogram(page, server):
    assert page.locator("#model option").all_inner_texts() == ["hum (audio)", "voice (audio)"]
    assert page.locator("#audio").is_visible() and not page.locator("#images").is_visible()
    assert not page.locator("#audio-class").is_visible()  # hum is unconditional
    page.select_option("#model", "voice")
    assert page.locator("#audio-class option").all_inner_texts() == ["each in turn", "0: low", "1: high"]
    page.select_option("#audio-class", "1")
    page.fill("#audio-n", "2")
    page.fill("#audio-seed", "5")
    page.click("#audio-generate")
    page.wait_for_selector("#audio-zip-download", state="visible")
    player = page.eval_on_selector(
        "#player", "a => ({src: a.src, ready: a.readyState, error: a.error, duration: a.duration})"
    )
    assert player["src"].startswith("blob:") and player["ready"] >= 1 and player["error"] is None
    assert player["duration"] == pytest.approx(2 + GAP_SECONDS, abs=0.01)  # two clips and one gap
    assert page.eval_on_selector("#spectrogram", "img => img.complete && img.naturalWidth") > 0
    assert "seed 5" in page.inner_text("#audio-caption")
    with page.expect_download() as info:
        page.click("#audio-zip-download")
    zf = zipfile.ZipFile(Path(info.value.path()))
    assert sorted(zf.namelist()) == ["0000_high.wav", "0001_high.wav", "grid.png", "meta.json"]
    with page.expect_download() as info:
        page.click("#wav-download")
    wav = Path(info.value.path()).read_bytes()
    assert wav == audio(server, "voice", n=2, seed=5, **{"class": 1})[2]
    assert page.problems == [] and page.outside == []
