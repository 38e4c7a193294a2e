"""The image recipe learns: a short CPU run on real digits moves samples much closer to the data."""

import json

from ganforge import ImageGAN


def test_digits_feature_distance_falls_well_below_step_zero(tmp_path):
    run = tmp_path / "run"
    gan = ImageGAN(resolution=16, conditional=True, steps=400, batch_size=32, width=16, device="cpu", seed=0)
    gan.fit("digits", out=run, monitor_every=200, sample_every=200)
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    history = [(r["step"], r["fast_fid"]) for r in records if "fast_fid" in r]
    assert [s for s, _ in history] == [0, 200, 400], history
    first, last = history[0][1], history[-1][1]
    assert last < 0.5 * first, f"feature distance did not fall enough: {history}"
