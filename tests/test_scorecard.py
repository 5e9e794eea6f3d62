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
