"""Rows -> vectors -> rows keeps what the data allows; the mixture fit finds the modes that are there."""

import numpy as np
import pandas as pd
import pytest

from ganforge.errors import ConfigError
from ganforge.tables.codec import TableCodec, fit_gmm
from ganforge.tables.data import infer_metadata


def mixed_table(n: int = 4000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    gain = np.where(rng.random(n) < 0.9, 0, rng.lognormal(8, 1, n).round())  # a point mass at 0
    price = rng.lognormal(3, 0.5, n).round(2)
    price[rng.random(n) < 0.1] = np.nan
    return pd.DataFrame({
        "gain": gain.astype(np.int64),
        "price": price,
        "stars": rng.integers(1, 6, n),
        "city": rng.choice(["a", "b", "c"], n, p=[0.7, 0.2, 0.1]),
        "when": pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 1000, n), unit="h"),
        "flag": rng.random(n) < 0.3,
    })  # fmt: skip


def test_round_trip_reproduces_the_table():
    df = mixed_table()
    codec = TableCodec.fit(df, infer_metadata(df))
    back = codec.decode(codec.encode(df), np.random.default_rng(0))
    assert back.dtypes.to_dict() == df.dtypes.to_dict()
    for col in ("stars", "city", "flag"):  # few distinct values and categories decode exactly
        assert (back[col] == df[col]).all(), col
    assert ((back["gain"] == 0) == (df["gain"] == 0)).all()  # the point mass is its own mode
    # values inside a mixture component come back exactly (after integer rounding), except the far tail
    # beyond ~4 sigma of the outermost component, which alpha's range clips
    assert (back["gain"] == df["gain"]).mean() > 0.999
    assert back["price"].isna().equals(df["price"].isna())
    close = np.isclose(back["price"].dropna(), df["price"].dropna(), rtol=1e-4)
    assert close.mean() > 0.999  # again all but the clipped far tail
    assert (back["when"] == df["when"]).mean() > 0.999  # whole hours, like the data


def test_decoding_random_vectors_stays_in_bounds_and_keeps_precision():
    df = mixed_table()
    codec = TableCodec.fit(df, infer_metadata(df))
    x = np.random.default_rng(1).normal(0, 3, (5000, codec.dim)).astype(np.float32)
    out = codec.decode(x, np.random.default_rng(0))
    assert out["gain"].between(df["gain"].min(), df["gain"].max()).all()
    prices = out["price"].dropna()
    assert prices.between(df["price"].min(), df["price"].max()).all()
    assert np.allclose(prices, prices.round(2))  # two decimals, like the data
    assert set(out["stars"]) <= set(df["stars"]) and set(out["city"]) <= set(df["city"])


def test_mixture_size_follows_the_data():
    rng = np.random.default_rng(0)
    one = rng.normal(5, 1, 5000)
    two = np.concatenate([rng.normal(-10, 1, 2500), rng.normal(10, 1, 2500)])
    (mu1, _), (mu2, sd2) = fit_gmm([one, two], max_modes=10)
    assert len(mu1) == 1 and abs(mu1[0] - 5) < 0.1
    assert len(mu2) == 2 and np.allclose(mu2, [-10, 10], atol=0.2) and np.allclose(sd2, 1, atol=0.1)


def test_codec_state_round_trips_through_json():
    import json

    df = mixed_table(500)
    codec = TableCodec.fit(df, infer_metadata(df))
    again = TableCodec.from_dict(json.loads(json.dumps(codec.to_dict())))
    x = codec.encode(df)
    np.testing.assert_array_equal(again.encode(df), x)
    pd.testing.assert_frame_equal(
        again.decode(x, np.random.default_rng(0)), codec.decode(x, np.random.default_rng(0))
    )


def test_conditions_on_unknown_values_are_refused():
    df = mixed_table(300)
    codec = TableCodec.fit(df, infer_metadata(df))
    with pytest.raises(ConfigError, match="unknown value 'z'"):
        codec.slot_of_value("city", "z")
    with pytest.raises(ConfigError, match="numeric"):
        codec.slot_of_value("price", 3.0)


def test_fast_generation_equals_the_generator_forward():
    import torch

    from ganforge.tables.nets import TableGenerator

    torch.manual_seed(0)
    spans = [(0, 1, "tanh"), (1, 4, "softmax"), (5, 3, "softmax")]
    g = TableGenerator(z_dim=16, cond_dim=7, hidden=(32, 24), spans=spans, tau=0.2)
    g.train()
    g(torch.randn(64, 16), torch.eye(7)[torch.randint(7, (64,))])  # move batch-norm statistics off init
    g.eval()
    z, idx = torch.randn(50, 16), torch.randint(7, (50,))
    with torch.no_grad():
        ref = g(z, torch.eye(7)[idx])
    fast = g.generate(z, idx)
    torch.testing.assert_close(fast, ref, rtol=1e-5, atol=1e-5)


def test_sampling_draws_choices_at_the_generators_rates_not_its_most_likely_one():
    import torch

    from ganforge.tables.nets import TableGenerator

    spans = [(0, 1, "tanh"), (1, 3, "softmax"), (4, 2, "softmax")]
    g = TableGenerator(z_dim=4, cond_dim=0, hidden=(8,), spans=spans, tau=0.2).eval()
    want = [[0.7, 0.2, 0.1], [0.95, 0.05]]
    with torch.no_grad():  # logits that ignore z: the softmax of each span is ``want``
        g.out.weight.zero_()
        g.out.bias.copy_(torch.log(torch.tensor([0.5, *want[0], *want[1]])))
    z = torch.randn(100_000, 4)
    drawn = g.generate(z, None, torch.Generator().manual_seed(0)).numpy()
    for (start, size, _), p in zip(spans[1:], want, strict=True):
        share = np.bincount(drawn[:, start : start + size].argmax(axis=1), minlength=size) / len(z)
        np.testing.assert_allclose(share, p, atol=0.006)
    assert set(np.unique(drawn[:, 1:])) == {0.0, 1.0} and (drawn[:, 1:4].sum(axis=1) == 1).all()  # one-hot
    again = g.generate(z, None, torch.Generator().manual_seed(0)).numpy()
    np.testing.assert_array_equal(again, drawn)  # seeded
    modes = g.generate(z, None).numpy()  # no generator: the most likely slot, every row
    assert (modes[:, 1:4].argmax(axis=1) == 0).all() and (modes[:, 4:6].argmax(axis=1) == 0).all()


def test_sampling_rows_do_not_depend_on_the_block_size_and_come_with_their_slots(monkeypatch):
    import torch

    from ganforge.tables import nets

    torch.manual_seed(0)
    spans = [(0, 1, "tanh"), (1, 4, "softmax"), (5, 1, "tanh"), (6, 3, "softmax")]
    g = nets.TableGenerator(z_dim=8, cond_dim=7, hidden=(16, 16), spans=spans, tau=0.2).eval()
    z, idx = torch.randn(1000, 8), torch.randint(7, (1000,))
    rows, slots = g.draw(z, idx, torch.Generator().manual_seed(3))
    logits = g.generate(z, idx)
    monkeypatch.setattr(nets, "BLOCK_ROWS", 64)  # 16 blocks, the last one short
    small_rows, small_slots = g.draw(z, idx, torch.Generator().manual_seed(3))
    torch.testing.assert_close(small_rows, rows)
    torch.testing.assert_close(g.generate(z, idx), logits)
    assert torch.equal(small_slots, slots)
    unconditioned = g.draw(z, None, torch.Generator().manual_seed(4))[1]
    monkeypatch.setattr(nets, "BLOCK_ROWS", 8192)
    assert torch.equal(g.draw(z, None, torch.Generator().manual_seed(4))[1], unconditioned)
    # the slots are the drawn one-hots' positions, and the draws are not all the most likely slot
    assert torch.equal(slots[:, 0], rows[:, 1:5].argmax(dim=1)) and torch.equal(
        slots[:, 1], rows[:, 6:9].argmax(dim=1)
    )
    assert (rows[:, 1:5].sum(dim=1) == 1).all() and (rows[:, 6:9].sum(dim=1) == 1).all()
    assert (slots[:, 0] != logits[:, 1:5].argmax(dim=1)).any()


def test_training_output_is_a_gumbel_softmax_per_span_with_gradients():
    import torch

    from ganforge.tables.nets import TableGenerator

    torch.manual_seed(0)
    spans = [(0, 1, "tanh"), (1, 3, "softmax"), (4, 1, "tanh"), (5, 2, "softmax")]
    g = TableGenerator(z_dim=4, cond_dim=0, hidden=(8,), spans=spans, tau=0.2).train()
    want = [[0.6, 0.3, 0.1], [0.8, 0.2]]
    with torch.no_grad():  # logits that ignore z: value columns 0.5 and -1, choices at ``want``
        g.out.weight.zero_()
        g.out.bias.copy_(
            torch.tensor([0.5, *torch.log(torch.tensor(want[0])), -1.0, *torch.log(torch.tensor(want[1]))])
        )
    out = g(torch.randn(50_000, 4), None)
    assert torch.allclose(out[:, 0], torch.tanh(torch.tensor(0.5))) and torch.allclose(
        out[:, 4], torch.tanh(torch.tensor(-1.0))
    )
    for (start, size, _), p in zip([spans[1], spans[3]], want, strict=True):
        part = out[:, start : start + size].detach()
        torch.testing.assert_close(part.sum(dim=1), torch.ones(len(part)))  # a distribution per span
        share = torch.bincount(part.argmax(dim=1), minlength=size).float() / len(part)
        torch.testing.assert_close(share, torch.tensor(p), atol=0.01, rtol=0)  # Gumbel-max: argmax ~ softmax
        assert part.max(dim=1).values.median() > 0.9  # tau 0.2: nearly one-hot, like real rows
    out[:, 1].sum().backward()  # the first category's share pulls on every logit of its span only
    grad = g.out.bias.grad
    assert (grad[1:4] != 0).all() and (grad[[0, 4, 5, 6]] == 0).all()
