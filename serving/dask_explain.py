"""Reading a scoring run back on a Dask cluster, for ``explain --engine dask`` (issue 15).

``explain`` needs, for every candidate a scoring run scored, its point-in-time features (the
campaign means and medians are over the whole field), and, for the creators it explains, how
much history their score rests on. Locally both come from the clean tables in memory
(:func:`creatorrank.serving.run_reader.read_run`); at scale L those tables do not fit. Here the
client validates the data folder in bounded memory and holds only the creators and campaigns
tables (:func:`creatorrank.features.sharded.open_folder`); the workers read their shards of
creators from the folder once (:class:`creatorrank.serving.dask_engine.FolderScoring`) and

1. search the candidates a ``score --top`` cut left out, with the run's own rules
   (:func:`creatorrank.serving.candidates.shard_candidates`, the search ``score --engine dask``
   runs; :func:`cluster_search`), checked against the manifest's hash as locally;
2. count the explainable rows' history on their creator's shard
   (:func:`creatorrank.serving.pages.creator_history` on the shard's tables: a creator's posts,
   invitations and orders all live in its shard, so the counts are the whole market's);
3. prepare their shards and compute the features of every candidate with the month's peer
   tables reduced over the shards (:meth:`creatorrank.features.sharded._Shards.decision_features`).

The score card (``scorecard --engine dask``, :class:`ClusterCard`) reads the same way: its
peers' snapshot rows, the creator's own row and history are computed on the shards.

Only the rows come back to the client: the features of the scored candidates and the history
of the explainable ones. Everything else (briefs, the cut's hash check, the scored columns
beside the features, SHAP, pages) is the local code, so the explanation is the local engine's.
Dask is imported only through :mod:`creatorrank.serving.dask_engine`.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any, Mapping

import pandas as pd

from ..core import constants as C
from .scored_run import (ScoredRun, campaign_briefs, complete_candidates, feature_decisions, history_requests,
                         scored_frame)

logger = logging.getLogger(__name__)


def read_run_dask(scores: pd.DataFrame, data_dir, manifest: Mapping[str, Any], top: int, scheduler: Any = None,
                  n_shards: int | None = None, wave_shards: int | None = None, scratch=None) -> ScoredRun:
    """:func:`creatorrank.serving.run_reader.read_run` with the market on a Dask cluster.

    Parameters are those of ``read_run``. The client never loads posts, orders or
    invitations: it holds the creators and campaigns tables, the scores and the gathered rows.

    Returns
    -------
    ScoredRun
        Equal to the local engine's (the same frame bit for bit; the history rows may come
        in another order, one per distinct (creator, as-of)).
    """
    from ..features.sharded import open_folder
    from .dask_engine import folder_scoring

    folder = open_folder(data_dir, scratch=scratch, wave_shards=wave_shards)  # creators and campaigns only
    briefs = campaign_briefs(scores, {C.CAMPAIGNS: folder.campaigns}, manifest=manifest)
    with folder_scoring(folder, scheduler, n_shards) as session:
        candidates, notes = complete_candidates(scores, None, briefs, manifest, search=cluster_search(session))
        features, history = cluster_rows(session, feature_decisions(candidates, briefs),
                                         history_requests(candidates, top))
    logger.info("dask: features of %d candidates and history of %d creators from %d shards", len(features),
                len(history), session.n_shards)
    return ScoredRun(briefs, scored_frame(features, candidates), notes, history)


def cluster_search(session):
    """The candidate search of :func:`~creatorrank.serving.scored_run.complete_candidates` on the workers.

    Returns ``search(briefs, times, rules, mode)`` over the shards of a
    :class:`~creatorrank.serving.dask_engine.FolderScoring`: per brief row, the union of the
    shards' candidates (as strings). An empty union stays empty, as the local search's
    refusal does, and an unknown mode finds nobody (locally it is refused).
    """
    from .candidates import MODES

    def search(briefs: pd.DataFrame, times: list, rules, mode: str) -> list[set[str]]:
        if mode not in MODES:
            return [set() for _ in times]
        found = session.candidates(briefs, list(times), rules, mode)
        return [{str(i) for i in ids} for ids, _ in found]

    return search


def cluster_rows(session, decisions: pd.DataFrame, requests: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Features of ``decisions`` and history of ``requests``, computed on the shards of ``session``.

    Parameters
    ----------
    session : FolderScoring
        The folder's shards, read by the workers and not yet prepared.
    decisions : DataFrame
        :func:`~creatorrank.serving.scored_run.feature_decisions` of the candidates.
    requests : DataFrame
        ``creator_id`` and ``as_of`` of the rows whose history is wanted.

    Returns
    -------
    features : DataFrame
        ``build_features(tables, decisions)`` of the whole market: same rows, same order.
    history : DataFrame
        ``creator_history(tables, requests)`` of the whole market, rows in shard order.
    """
    from ..features import sharded as SH
    from .dask_engine import prepare_until
    from .pages import creator_history

    run, folder, live = session.run, session.folder, session.live
    # History first: it reads the shards' raw rows, which preparing lets go.
    where = SH.shard_owner(folder.index, folder.index.shards(session.n_shards), live, requests[C.CREATOR_ID])
    asked = [s for s in live if (where == s).any()] or live[:1]  # none asked: an empty frame, columns typed
    history = []
    for part, settled in session.read.each_wave(run, asked):
        tasks = run.map(creator_history, [(settled[s], requests[where == s]) for s in part], "explain-history")
        history += run.gather(tasks)
        run.release(tasks)
    shards = SH.prepare_shards(run, session.read, prepare_until([decisions]))
    return shards.decision_features(decisions), pd.concat(history, ignore_index=True)


# --------------------------------------------------------------------------- the score card


@contextlib.contextmanager
def cluster_card(data_dir, scheduler: Any = None, n_shards: int | None = None, wave_shards: int | None = None,
                 scratch=None):
    """A :class:`ClusterCard` of a data folder; the cluster starts when the card first needs the shards.

    Parameters as for :func:`read_run_dask`.
    """
    from ..features.sharded import open_folder
    from .dask_engine import folder_scoring

    folder = open_folder(data_dir, scratch=scratch, wave_shards=wave_shards)  # creators and campaigns only
    with contextlib.ExitStack() as stack:
        yield ClusterCard(folder, lambda: stack.enter_context(folder_scoring(folder, scheduler, n_shards)))


class ClusterCard:
    """What a score card needs (:class:`creatorrank.serving.scorecard.LocalCard`), from a folder's shards.

    The client holds the folder's creators and campaigns; the workers read their shards once,
    when :meth:`known_categories`, :meth:`default_as_of` or :meth:`rows` first needs them.
    """

    def __init__(self, folder, start):
        self.folder, self.creators = folder, folder.creators
        self._start, self._session = start, None

    @property
    def session(self):
        if self._session is None:
            self._session = self._start()
        return self._session

    def known_categories(self) -> list[str]:
        """The creators' primary categories and the posts' (the shards' union), as ``known_codes`` lists them."""
        from .briefs import known_codes

        posts = pd.DataFrame({C.CATEGORY: self.session.post_categories()})
        return known_codes({C.CREATORS: self.creators, C.POSTS: posts}, C.CATEGORY)

    def default_as_of(self) -> pd.Timestamp:
        """The day after the latest fact of every shard (each holds the whole campaigns table)."""
        from ..data.timeline import data_end
        from .card_peers import day_after

        s = self.session
        ends = []
        for part, settled in s.read.each_wave(s.run, s.live):
            tasks = s.run.map(data_end, [(settled[k],) for k in part], "card-data-end")
            ends += [e for e in s.run.gather(tasks) if e is not None]
            s.run.release(tasks)
        return day_after(max(ends) if ends else None)

    def rows(self, creator_id: str, when: pd.Timestamp, category: str | None,
             country: str) -> tuple[pd.DataFrame, str, pd.Series]:
        """The card's group, its peers' label and the creator's history, computed on the shards.

        Only the snapshot rows of the creator's country (every peer group the card can pick
        lies there) and the creator's own row are computed; the group is then made by the
        local code (:func:`creatorrank.serving.card_peers.peer_rows`).
        """
        from ..features.sharded import snapshot_decisions
        from .card_peers import card_decision, peer_rows

        creators = self.creators
        dec, _ = snapshot_decisions(creators, when, category, country)
        mine = set(creators.loc[creators[C.COUNTRY].astype(object) == country, C.CREATOR_ID].astype(str))
        dec = dec[dec[C.CREATOR_ID].astype(str).isin(mine).to_numpy(bool)].reset_index(drop=True)
        n = len(dec)
        if creator_id not in mine or not (dec[C.CREATOR_ID].astype(str) == creator_id).any():
            own = card_decision(creator_id, when, category, country).astype(dec.dtypes.to_dict())
            dec = pd.concat([dec, own], ignore_index=True)
        asked = pd.DataFrame({C.CREATOR_ID: [creator_id], C.AS_OF: [when]})
        features, history = cluster_rows(self.session, dec, asked)
        snap = features.iloc[:n].reset_index(drop=True)
        group, label = peer_rows(snap, lambda: features.iloc[n:].reset_index(drop=True), creators, creator_id,
                                 category, country)
        return group, label, history.iloc[0]
