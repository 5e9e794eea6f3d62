"""Model bundle integrity: checksums recorded on save, checked before LightGBM reads a file.

LightGBM aborts the process (SIGABRT, SIGSEGV) on many truncated model files, so every
damaged-file case is loaded in a child process: an abort would show as its exit status.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bundle_child import load_in_child

from creatorrank.core.errors import ModelError
from creatorrank.training.model import BOOSTER_FILE, FILES_KEY, META_FILE, RankerBundle

pytestmark = pytest.mark.model  # trains a small booster

FEATURES = ["f0", "f1", "f2", "f3"]


@pytest.fixture(scope="module")
def bundle() -> RankerBundle:
    """A small lambdarank model on random queries (4 features, 8 trees)."""
    import lightgbm as lgb

    rng = np.random.default_rng(0)
    X, y = rng.random((400, 4)), rng.integers(0, 3, 400)
    params = {"objective": "lambdarank", "verbosity": -1, "min_data_in_leaf": 5, "num_threads": 1,
              "deterministic": True, "force_row_wise": True, "seed": 1}
    booster = lgb.train(params, lgb.Dataset(X, y, group=[20] * 20), num_boost_round=8)
    return RankerBundle(booster=booster, features=FEATURES, categories={}, feature_set_version="test",
                        label={"thresholds_usd": [0.0]}, params=params)


def _legacy(folder: Path) -> Path:
    """Turn a saved bundle into one written before checksums were recorded."""
    meta = json.loads((folder / META_FILE).read_text())
    meta.pop(FILES_KEY)
    (folder / META_FILE).write_text(json.dumps(meta))
    return folder


def test_save_records_checksums_and_round_trips(bundle, tmp_path):
    folder = bundle.save(tmp_path / "b")
    meta = json.loads((folder / META_FILE).read_text())
    raw = (folder / BOOSTER_FILE).read_bytes()
    assert meta[FILES_KEY][BOOSTER_FILE] == {"sha256": hashlib.sha256(raw).hexdigest(), "bytes": len(raw)}
    X = np.random.default_rng(1).random((50, 4))
    frame = pd.DataFrame(X, columns=FEATURES)
    assert np.array_equal(RankerBundle.load(folder).predict(frame), bundle.predict(frame))
    legacy = RankerBundle.load(_legacy(shutil.copytree(folder, tmp_path / "old")))  # older bundles still load
    assert np.array_equal(legacy.predict(frame), bundle.predict(frame))


def test_flipped_byte_and_missing_file_are_one_line_errors(bundle, tmp_path):
    folder = bundle.save(tmp_path / "b")
    raw = bytearray((folder / BOOSTER_FILE).read_bytes())
    at = raw.index(b"leaf_value=") + len("leaf_value=") + 1  # a digit of a leaf value: still parses
    raw[at] = ord("7") if raw[at] != ord("7") else ord("3")
    (folder / BOOSTER_FILE).write_bytes(bytes(raw))
    with pytest.raises(ModelError, match="sha256") as info:
        RankerBundle.load(folder)
    assert str(folder / BOOSTER_FILE) in str(info.value) and "\n" not in str(info.value)
    (folder / BOOSTER_FILE).unlink()
    with pytest.raises(ModelError, match="not a creatorrank model bundle"):
        RankerBundle.load(folder)
    bundle.save(folder)
    (folder / META_FILE).write_text((folder / META_FILE).read_text()[:40])
    with pytest.raises(ModelError, match="damaged bundle metadata") as info:
        RankerBundle.load(folder)
    assert str(folder / META_FILE) in str(info.value)


def test_truncated_model_file_never_reaches_lightgbm(bundle, tmp_path):
    """Truncations that abort LightGBM itself (measured: 500 bytes -> exit 134, half -> 139) or
    load silently (inside the parameters section -> exit 0) are all one-line ModelErrors, with
    checksums and, for bundles saved before checksums, by the structural check."""
    base = bundle.save(tmp_path / "base")
    text = (base / BOOSTER_FILE).read_bytes()
    n = len(text)
    cuts = sorted({0, 10, 500, 2000, n // 2, n - 3000, n - 100, n - 5, n - 1})
    folders = []
    for checksums in (True, False):
        for cut in cuts:
            folder = shutil.copytree(base, tmp_path / f"{'sum' if checksums else 'legacy'}-{cut}")
            if not checksums:
                _legacy(folder)
            (folder / BOOSTER_FILE).write_bytes(text[:cut])
            folders.append(folder)
    results = load_in_child(folders)
    for folder in folders:
        result = results[str(folder)]
        assert result.startswith("ModelError: "), (folder.name, result)
        assert str(folder / BOOSTER_FILE) in result and "damaged" in result and "\n" not in result
