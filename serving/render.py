"""HTML of the reports and score cards: page data through jinja2 templates shipped as package data.

The templates and style sheets are files in ``creatorrank/serving/templates`` (package data,
loaded with :class:`jinja2.PackageLoader` and :mod:`importlib.resources`, so an installed
wheel renders the same pages as a checkout):

* ``base.html.j2`` -- the page frame: one self-contained page, CSS inline;
* ``campaign.html.j2`` and ``index.html.j2`` -- a campaign report and the reports' index;
* ``card.html.j2`` -- a creator's score card;
* ``report.css`` (every page) and ``card.css`` (added on score cards).

Pages are autoescaped and strict: a field the template names but the document lacks is an
error, not an empty cell. Charts are inline SVG (:mod:`creatorrank.serving.charts`).
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from typing import Any, Mapping

from .charts import bars_svg, family_waterfall

TEMPLATE_DIR = "templates"  # inside this package
CAMPAIGN_TEMPLATE = "campaign.html.j2"
INDEX_TEMPLATE = "index.html.j2"
CARD_TEMPLATE = "card.html.j2"


@lru_cache(maxsize=None)
def stylesheet(name: str) -> str:
    """The text of a style sheet of the templates folder (``report.css``, ``card.css``)."""
    return resources.files(__package__).joinpath(TEMPLATE_DIR, name).read_text(encoding="utf-8")


CSS = stylesheet("report.css")  # the style of every page; score cards add card.css


def environment(css: str | None = None):
    """The jinja2 environment of the page templates (autoescaped, strict).

    Parameters
    ----------
    css : str, optional
        The style sheet inlined in each page (default :data:`CSS`).
    """
    import jinja2

    env = jinja2.Environment(loader=jinja2.PackageLoader(__package__, TEMPLATE_DIR), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.globals.update(css=CSS if css is None else css, money=_money)
    env.filters["signed"] = signed
    return env


def _money(x: Any) -> str:
    return f"${float(x):,.0f}"


def signed(x: float) -> str:
    """A score difference at two decimals with its sign; one that rounds to zero is "0.00", not "-0.00"."""
    text = f"{float(x):+.2f}"
    return "0.00" if text in ("+0.00", "-0.00") else text


def render_campaign(doc: Mapping[str, Any], env=None) -> str:
    """The HTML page of one campaign document (:func:`creatorrank.serving.pages.campaign_documents`)."""
    env = env or environment()
    fam = doc["family_drivers"]
    total = sum(f["mean_abs_contribution"] for f in fam) or 1.0
    family_chart = bars_svg([f["title"] for f in fam], [100.0 * f["mean_abs_contribution"] / total for f in fam],
                            fmt="{:.0f}%", notes=[f["measures"] for f in fam])
    waterfalls = [family_waterfall(c["families"]) for c in doc["creators"]]
    return env.get_template(CAMPAIGN_TEMPLATE).render(d=doc, family_chart=family_chart, waterfalls=waterfalls)


def render_index(stamp: Mapping[str, Any], campaigns: list[Mapping[str, Any]], env=None) -> str:
    """The HTML index of a report folder: one row per campaign page."""
    env = env or environment()
    return env.get_template(INDEX_TEMPLATE).render(s=stamp, campaigns=campaigns)


def render_card(doc: Mapping[str, Any]) -> str:
    """The HTML of a score card document (:func:`creatorrank.serving.scorecard.card_document`)."""
    env = environment(CSS + stylesheet("card.css"))
    return env.get_template(CARD_TEMPLATE).render(d=doc)
