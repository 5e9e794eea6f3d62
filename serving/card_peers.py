"""The score card's peer group and its one decision row: shared by the local card
(:mod:`.scorecard`) and the cluster card (:mod:`.dask_explain`), which both build on it."""

from __future__ import annotations

import pandas as pd

from ..core import constants as C

MIN_PEERS = 20  # fewer same-category peers in the country: compare with the whole country


def day_after(end: pd.Timestamp | None) -> pd.Timestamp:
    """The start of the day after ``end`` (the latest fact; None: no fact at all, the day after now)."""
    if end is None:  # no fact at all: nothing after now is known
        end = pd.Timestamp.now(tz="UTC")
    return (end + pd.Timedelta(microseconds=1)).ceil("D")


def card_decision(creator_id: str, when: pd.Timestamp, category: str | None, country: str) -> pd.DataFrame:
    """The one decision row of a card: the creator, for a typical brief of ``category`` in ``country`` at ``when``."""
    return pd.DataFrame({C.CREATOR_ID: [creator_id], C.AS_OF: pd.Series([when], dtype="datetime64[us, UTC]"),
                         C.CATEGORY: pd.array([category], dtype=pd.StringDtype("pyarrow")),
                         C.COUNTRY: pd.array([country], dtype=pd.StringDtype("pyarrow"))})


def peer_rows(snap: pd.DataFrame, own_row, creators: pd.DataFrame, creator_id: str, category: str | None,
              country: str) -> tuple[pd.DataFrame, str]:
    """The card's group from snapshot rows: the creator (row 0), then the peers (:func:`_peer_group`).

    ``snap`` holds the snapshot's rows of at least every creator of ``country`` (in creator
    order); ``own_row()`` builds the creator's row when the snapshot lacks it (a newcomer who
    joined at or after the card date).
    """
    snap[C.CREATOR_ID] = snap[C.CREATOR_ID].astype(str)
    peers, peer_label = _peer_group(snap, creators, creator_id, category, country)
    own = snap[snap[C.CREATOR_ID] == creator_id]
    if own.empty:  # joined at or after the card date: build the row directly
        own = own_row()
        own[C.CREATOR_ID] = own[C.CREATOR_ID].astype(str)
    group = pd.concat([own, peers[peers[C.CREATOR_ID] != creator_id]], ignore_index=True)
    group[C.CAMPAIGN_ID] = "peers"
    return group, peer_label


def _peer_group(snap: pd.DataFrame, creators: pd.DataFrame, creator_id: str, category: str | None,
                country: str) -> tuple[pd.DataFrame, str]:
    """Creators to compare with: same country and primary category, else the whole country."""
    info = creators[[C.CREATOR_ID, C.COUNTRY, C.PRIMARY_CATEGORY]].copy()
    info[C.CREATOR_ID] = info[C.CREATOR_ID].astype(str)
    info = info.rename(columns={C.COUNTRY: "_country", C.PRIMARY_CATEGORY: "_primary"})
    snap = snap.merge(info, on=C.CREATOR_ID, how="left")
    in_country = snap["_country"].astype(object) == country
    if category is not None:
        same = in_country & (snap["_primary"].astype(object) == category)
        if int((same & (snap[C.CREATOR_ID] != creator_id)).sum()) >= MIN_PEERS:
            return snap[same].drop(columns=["_country", "_primary"]), f"{category} creators in {country}"
    label = f"creators in {country}"
    return snap[in_country].drop(columns=["_country", "_primary"]), label
