"""Score cards without a model: argument checks that come before any work, ties, words.

The full card (model, SHAP, advice) is tested with the report fixtures in test_report.py.
"""

from __future__ import annotations

import numpy as np
import pytest

from creatorrank.core.errors import CreatorRankError

pytestmark = pytest.mark.unit


@pytest.fixture
def tiny_dir(tiny, tmp_path):
    from tiny_market import write_tables

    return write_tables(tiny, tmp_path / "market")


def test_unknown_category_names_the_known_ones(tiny_dir, tmp_path, monkeypatch):
    import creatorrank.serving.scorecard as card_mod
    from creatorrank.serving.scorecard import scorecard

    def no_model(*args, **kwargs):  # the category is checked before any model is loaded
        raise AssertionError("model loaded before the category was checked")

    monkeypatch.setattr(card_mod, "load_model", no_model)
    with pytest.raises(CreatorRankError) as err:
        scorecard(tiny_dir, "c1", tmp_path / "card.html", category="cosmetics")
    msg = str(err.value)
    assert msg == "unknown category 'cosmetics': the data's categories are beauty, food", msg
    assert "\n" not in msg and not (tmp_path / "card.html").exists()
    with pytest.raises(AssertionError, match="model loaded"):  # "BEAUTY" is a known category, any case
        scorecard(tiny_dir, "c1", tmp_path / "card.html", category="BEAUTY")


def test_output_path_is_checked_before_any_work(tiny_dir, tmp_path):
    from creatorrank.serving.scorecard import scorecard

    with pytest.raises(CreatorRankError, match="must end in .html"):
        scorecard(tiny_dir, "c1", tmp_path / "card.txt")
    (tmp_path / "dir.html").mkdir()
    with pytest.raises(CreatorRankError, match="is a folder"):
        scorecard(tiny_dir, "c1", tmp_path / "dir.html")


def test_card_rank_counts_ties_as_ties():
    from creatorrank.serving.scorecard import _rank_of

    assert _rank_of(np.array([0.5, 0.9, 0.5, 0.5, 0.1])) == (2, 2, 5)  # tied with 2 others at ranks 2-4
    assert _rank_of(np.array([0.9, 0.5, 0.1])) == (1, 0, 3)
    assert _rank_of(np.array([0.1, 0.5, 0.9])) == (3, 0, 3)


def test_index_readings():
    from creatorrank.serving.scorecard import _index_reading

    assert _index_reading(None, "all creators", False).startswith("Not enough data yet")
    assert _index_reading(None, "all creators", True).startswith("Not enough data yet")
    assert _index_reading(72.0, "all creators", False) == "You do better than 72% of all creators on this."
    thin = _index_reading(72.0, "all creators", False, "based on 2 posts")
    assert "based on 2 posts" in thin and "72%" in thin


def test_price_flag_rule_around_the_fair_fee_range():
    """docs/SCORES.md: range = [min(p10, E), max(p90, E)] / target_roas; below: under, above: over."""
    from creatorrank.serving.pages import OVER, UNDER, WITHIN, fair_fee_range, price_flag

    # E 300, p10 60, p90 900 at 3x: fair fee 100, range 20-300.
    assert fair_fee_range(300.0, 60.0, 900.0, 3.0) == (20.0, 300.0)
    assert price_flag(19.99, 300.0, 60.0, 900.0, 3.0) == UNDER
    assert price_flag(20.0, 300.0, 60.0, 900.0, 3.0) == WITHIN  # the ends belong to the range
    assert price_flag(300.0, 300.0, 60.0, 900.0, 3.0) == WITHIN
    assert price_flag(300.01, 300.0, 60.0, 900.0, 3.0) == OVER
    # Mostly-zero GMV: the mean above p90. A rate at or below the fair fee is never over-priced.
    assert fair_fee_range(150.0, 0.0, 90.0, 3.0) == (0.0, 50.0)
    assert price_flag(50.0, 150.0, 0.0, 90.0, 3.0) == WITHIN and price_flag(50.5, 150.0, 0.0, 90.0, 3.0) == OVER
    assert price_flag(0.0, 150.0, 0.0, 90.0, 3.0) == WITHIN  # p10 of $0: nobody is under-priced
    # No flag without a rate card, an interval or a target, nor on no evidence at all.
    assert price_flag(np.nan, 300.0, 60.0, 900.0, 3.0) is None and price_flag(None, 300.0, 60.0, 900.0, 3.0) is None
    assert price_flag(10.0, 300.0, np.nan, 900.0, 3.0) is None and price_flag(10.0, 300.0, 60.0, 900.0, None) is None
    assert price_flag(10.0, 300.0, 60.0, 900.0, 3.0, level="none") is None
    assert price_flag(10.0, 300.0, 60.0, 900.0, 3.0, level="low") == UNDER


def _value_row(e, lo, hi, roas=3.0, rate=np.nan):
    from creatorrank.core import constants as C

    fair = e / roas
    return {C.EXPECTED_GMV_USD: e, C.GMV_P10_USD: lo, C.GMV_P90_USD: hi, C.FAIR_FEE_USD: fair,
            C.FEE_VS_RATE_CARD: rate / fair if fair > 0 else np.nan}


def test_creator_value_line_and_words():
    from creatorrank.serving.pages import creator_value

    v = creator_value(_value_row(1234.0, 300.0, 4000.0, rate=150.0), 150.0, 3.0, "high")
    assert v["text"] == "expected $1,234 (80%: $300-$4,000); fair fee at 3x: $411; declared rate $150 (0.36x the fair fee)"
    assert v["price_flag"] == "within" and v["thin_note"] is None
    v = creator_value(_value_row(1234.0, 1200.0, 4000.0, rate=150.0), 150.0, 3.0, "low")
    assert v["price_flag"] == "under" and v["price_text"].endswith("may be under-priced")
    assert v["thin_note"] == "rests on little evidence"
    v = creator_value(_value_row(90.0, 0.0, 60.0, roas=2.5), np.nan, 2.5, "medium", interval=0.9)
    assert v["text"] == "expected $90.00 (90%: $0-$60.00); fair fee at 2.5x: $36.00; rate not declared"
    assert v["price_flag"] is None and v["rate_card_usd"] is None and v["fee_vs_rate_card"] is None
    assert creator_value(_value_row(np.nan, np.nan, np.nan), 100.0, 3.0, "high") is None  # no forecast: nothing


def test_value_summary_against_the_budget():
    from creatorrank.serving.pages import creator_value, value_summary

    shown = [{"value": creator_value(_value_row(e, 0.0, 2 * e, rate=r), r, 3.0, lvl)}
             for e, r, lvl in ((900.0, 100.0, "high"), (600.0, np.nan, "low"), (300.0, 50.0, "medium"))]
    s = value_summary(shown, 1000.0, 3.0)  # fair fees 300 + 200 + 100 = 600
    assert (s["expected_total_usd"], s["fair_fee_total_usd"], s["budget_status"]) == (1800.0, 600.0, "within")
    assert s["text"] == ["Expected net GMV of the top 3 shown: $1,800 together.",
                         "Their fair fees at 3x total $600: within budget ($1,000, $400 left).",
                         "Their declared rates total $150 (1 with no rate declared).",
                         "1 of them rests on little evidence: their forecasts can be far off."]
    s = value_summary(shown, 450.0, 3.0)
    assert s["budget_status"] == "over" and s["over_budget_usd"] == 150.0
    assert s["text"][1] == "Their fair fees at 3x total $600: over budget by $150 (budget $450)."
    s = value_summary(shown, np.nan, 3.0)
    assert s["budget_status"] is None and s["text"][1] == ("Their fair fees at 3x total $600: the brief gives no "
                                                           "budget to compare them with.")
    assert value_summary([{"value": None}, {"value": None}], 1000.0, 3.0) is None  # older scores: no summary


def _small_value_model():
    """A real value model (Tweedie LightGBM, one thread) on two features, and rows to explain."""
    import pandas as pd

    from creatorrank.core import constants as C
    from creatorrank.training.value import ValueModel

    rng = np.random.default_rng(7)
    n = 600
    frame = pd.DataFrame({C.POSTS_SEEN: rng.integers(0, 50, n).astype(float),
                          C.RATE_CARD_USD: rng.uniform(10, 500, n)})
    mean = 20.0 * np.exp(0.04 * frame[C.POSTS_SEEN] - 0.002 * frame[C.RATE_CARD_USD])
    y = rng.poisson(mean / 10.0) * 10.0  # mostly small, some zeros: GMV-like
    features = [C.POSTS_SEEN, C.RATE_CARD_USD]
    model = ValueModel(num_boost_round=40, early_stopping_rounds=10, lgb_params={"min_data_in_leaf": 20})
    model.fit(frame.iloc[:400], y[:400], frame.iloc[400:], y[400:], np.repeat(["k1", "k2"], 100), features, {})
    rows = frame.iloc[:5].assign(**{C.CREATOR_ID: [f"c{i}" for i in range(5)]})
    return model, rows, features


def test_value_drivers_multiply_to_the_expected_gmv_and_additivity_is_enforced(monkeypatch):
    """The value model's SHAP factors times exp(bias) x level give its expected GMV; drivers are worded and ordered;
    contributions that do not add up are refused in one line naming the campaign."""
    from creatorrank.core.errors import ModelError
    from creatorrank.serving.pages import effect_text, value_contributions, value_drivers
    from creatorrank.features.specs import CATALOGUE
    from creatorrank.serving.text import feature_sentence

    model, rows, features = _small_value_model()
    expl = value_contributions(model, rows, ["k9"] * len(rows))
    assert list(expl.contributions.columns) == [*features, "bias"]
    shown = 0
    for i in range(len(rows)):
        contrib = expl.contributions.iloc[i].to_dict()
        values = {f: float(rows[f].iloc[i]) for f in features}
        peers = {f: float(rows[f].median()) for f in features}
        w = value_drivers(contrib, expl.level, float(expl.expected[i]), values, peers, {}, "campaign median")
        product = w["level"] * np.exp(w["bias"]) * np.prod([np.exp(c) for c in w["contributions"].values()])
        assert abs(product - expl.expected[i]) <= 1e-6 * expl.expected[i]
        for d in w["up"] + w["down"]:
            spec = {s.name: s for s in CATALOGUE}.get(d["feature"])
            assert d["text"] == feature_sentence(d["feature"], values[d["feature"]], spec, peers[d["feature"]],
                                                 "campaign median")  # the ranker's words
            assert d["effect_text"] == effect_text(contrib[d["feature"]]) != "x1"
        assert all(d["effect"] > 1 for d in w["up"]) and all(d["effect"] < 1 for d in w["down"])
        shown += len(w["up"]) + len(w["down"])
    assert shown > 0
    assert [effect_text(np.log(v)) for v in (1.8, 0.6, 0.623, 12.0, 1.0)] == ["x1.8", "x0.6", "x0.62", "x12", "x1"]

    real = model.contrib
    monkeypatch.setattr(model, "contrib", lambda frame: real(frame).assign(bias=lambda f: f["bias"] + 1e-4))
    with pytest.raises(ModelError) as err:
        value_contributions(model, rows, ["k9"] * len(rows))
    assert "campaign k9" in str(err.value) and "creator c" in str(err.value) and "\n" not in str(err.value)
