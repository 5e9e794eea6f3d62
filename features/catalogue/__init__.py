"""The feature catalogue, one module per family: each feature's spec, computation and words.

To add a feature, edit its family's module (see :mod:`.base` for what to declare and
docs/FEATURES.md, "Adding a feature"); :mod:`creatorrank.features.specs` assembles the
catalogue from these modules in :data:`MODULES` order, the engine computes every declared
feature, and ``serving.text`` shows its words.
"""

from __future__ import annotations

from . import (authenticity, category, confidence, content, cooperation, diligence, execution, growth, index,
               match, price, profile, sales, tenure, volume)
from .base import Family, Feature, successes, trials

# Family order is the catalogue's (and the version's): do not reorder.
MODULES = (cooperation, diligence, category, volume, content, sales, execution, authenticity, growth, price,
           tenure, confidence, match, profile, index)
FAMILIES: tuple[Family, ...] = tuple(m.FAMILY for m in MODULES)
FEATURES: tuple[Feature, ...] = tuple(f for m in MODULES for f in m.FEATURES)
INPUTS: dict = {k: v for m in MODULES for k, v in getattr(m, "INPUTS", {}).items()}


def computations() -> dict:
    """Every peer-free value the engine computes: name -> function of a window.

    Features with ``compute``, the raw successes and trials of every rate
    (:func:`.base.successes`, :func:`.base.trials`) and the modules' private ``INPUTS``;
    features computed from peers are not here (``indices.PeerTables.score`` makes them).
    """
    out: dict = {}
    for feature in FEATURES:
        if feature.compute is not None:
            out[feature.name] = feature.compute
        elif feature.rate is not None:
            out[successes(feature.name)] = feature.rate.successes
            out[trials(feature.name)] = feature.rate.trials
    out.update(INPUTS)
    return out
