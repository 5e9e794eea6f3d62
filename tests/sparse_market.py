"""Deliberately sparse generated markets: the legal but thin inputs a real marketplace holds.

A real market is not the generator's: most creators have one or two posts, most were never
invited, few sold anything, and many declared no rate card. :func:`sparse_market` starts from
:func:`creatorrank.data.generate.generate_market` and thins it (see :func:`thin`); the edge
variants mirror ``/work/shared/hooks/probe-legal-inputs`` exactly (one table of the generated
market replaced, everything else as generated), plus a follower-count scrape glitch:

=========================  ====================================================================
``thin``                   :func:`thin`: 70% of creators keep 1-2 posts, 60% lose every
                           invitation, 60% lose every order, 60% of rate cards are null
``orders_without_post_ids`` ``orders.post_id`` all null (the contract allows it)
``no_campaigns_yet``       a header-only ``campaigns`` table (invitations and campaign orders
                           then point at unknown campaigns: validation rejects them)
``no_posts``               a header-only ``posts`` table
``no_orders``              a header-only ``orders`` table
``follower_glitch``        :func:`thin`, then one post of each of the 20 largest creators with
                           several posts scraped as 0 followers between its neighbours
=========================  ====================================================================
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from creatorrank.core import constants as C
from creatorrank.data.generate import generate_market

# The probe's market: `creatorrank generate --creators 300 --campaigns 40 --seed 1`.
CREATORS, CAMPAIGNS, SEED = 300, 40, 1
AS_OF = "2025-06-01T00:00:00Z"  # the probe's --as-of
TRAIN_UNTIL = "2026-01-01T00:00:00Z"  # the generator's default end
NOW = "2026-01-01T00:00:00Z"
PROBE_VARIANTS = ("orders_without_post_ids", "no_campaigns_yet", "no_posts", "no_orders")
VARIANTS = ("thin", *PROBE_VARIANTS, "follower_glitch")


def base_tables(seed: int = SEED) -> dict[str, pd.DataFrame]:
    """The probe's generated market (300 creators, 40 campaigns)."""
    return {k: v.copy() for k, v in generate_market(CREATORS, CAMPAIGNS, seed).tables.items()}


def thin(tables: dict[str, pd.DataFrame], seed: int = SEED) -> dict[str, pd.DataFrame]:
    """Thin a market the way real ones are thin, keeping it valid by contract.

    70% of creators keep one or two of their posts (chosen at random); 60% lose all their
    invitations (with their campaign posts and campaign orders); 60% lose all their orders;
    60% of rate cards become null. Orders of a dropped post lose their ``post_id`` (the
    contract allows an unknown post) rather than pointing at nothing.
    """
    rng = np.random.default_rng(seed + 1000)
    t = {k: v.copy() for k, v in tables.items()}
    creators = t[C.CREATORS][C.CREATOR_ID].to_numpy()
    pick = lambda share: set(creators[rng.random(len(creators)) < share])  # noqa: E731
    few_posts, uninvited, no_sales = pick(0.7), pick(0.6), pick(0.6)

    inv = t[C.INVITATIONS]
    t[C.INVITATIONS] = inv[~inv[C.CREATOR_ID].isin(uninvited)].reset_index(drop=True)
    posts = t[C.POSTS]
    posts = posts[~(posts[C.CREATOR_ID].isin(uninvited) & posts[C.CAMPAIGN_ID].notna())]
    keep_n = pd.Series(rng.integers(1, 3, len(creators)), index=creators)
    order = posts.assign(_r=rng.random(len(posts))).sort_values("_r").groupby(C.CREATOR_ID).cumcount()
    order = order.reindex(posts.index)  # a random rank of each post within its creator
    sparse = posts[C.CREATOR_ID].isin(few_posts).to_numpy()
    keep = ~sparse | (order.to_numpy() < posts[C.CREATOR_ID].map(keep_n).to_numpy())
    t[C.POSTS] = posts[keep].sort_values([C.POSTED_AT, C.POST_ID], kind="stable").reset_index(drop=True)

    orders = t[C.ORDERS]
    orders = orders[~orders[C.CREATOR_ID].isin(no_sales)]
    orders = orders[~(orders[C.CREATOR_ID].isin(uninvited) & orders[C.CAMPAIGN_ID].notna())].copy()
    orders[C.POST_ID] = orders[C.POST_ID].where(orders[C.POST_ID].isin(t[C.POSTS][C.POST_ID]))
    t[C.ORDERS] = orders.reset_index(drop=True)

    cre = t[C.CREATORS].copy()
    cre[C.RATE_CARD_USD] = cre[C.RATE_CARD_USD].where(rng.random(len(cre)) >= 0.6)
    t[C.CREATORS] = cre
    return t


def _follower_glitch(tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """A scraped 0 between real follower counts (the issue's 1M / 0 / 1M row)."""
    t = thin(tables)
    posts = t[C.POSTS].sort_values([C.CREATOR_ID, C.POSTED_AT], kind="stable").copy()
    counts = posts[C.CREATOR_ID].value_counts()
    big = posts[posts[C.CREATOR_ID].isin(counts[counts >= 3].index)].groupby(C.CREATOR_ID)[C.FOLLOWERS_AT_POST].max()
    for creator in big.nlargest(20).index:
        rows = posts.index[posts[C.CREATOR_ID] == creator]
        posts.loc[rows[len(rows) // 2], C.FOLLOWERS_AT_POST] = 0  # a middle post: real counts on both sides
    t[C.POSTS] = posts.sort_index()
    return t


def _replace(tables, table, fn):
    t = dict(tables)
    t[table] = fn(tables[table].copy())
    return t


def _null_post(orders: pd.DataFrame) -> pd.DataFrame:
    orders[C.POST_ID] = pd.array([None] * len(orders), dtype="string")
    return orders


def variant_tables(name: str, seed: int = SEED) -> dict[str, pd.DataFrame]:
    """The tables of one variant of :data:`VARIANTS`."""
    base = base_tables(seed)
    if name == "thin":
        return thin(base, seed)
    if name == "follower_glitch":
        return _follower_glitch(base)
    if name == "orders_without_post_ids":
        return _replace(base, C.ORDERS, _null_post)
    empty = {"no_campaigns_yet": C.CAMPAIGNS, "no_posts": C.POSTS, "no_orders": C.ORDERS}
    if name in empty:
        return _replace(base, empty[name], lambda f: f.iloc[0:0])
    raise ValueError(f"unknown sparse variant {name!r}; known: {', '.join(VARIANTS)}")


def sparse_market(name: str, out_dir: str | Path, seed: int = SEED) -> Path:
    """Write variant ``name`` into ``out_dir`` as Parquet (as the probe does); return the folder."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for table, frame in variant_tables(name, seed).items():
        frame.to_parquet(out / f"{table}.parquet", index=False)
    return out
