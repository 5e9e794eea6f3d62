"""The command line: instant help, no heavy imports at start-up, reference pages in sync."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tools.docgen import PAGES

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("pandas", "numpy", "lightgbm", "mlflow", "shap", "optuna", "duckdb", "sklearn", "matplotlib", "dask")


def test_help_lists_every_command():
    res = subprocess.run([sys.executable, "-m", "creatorrank.cli", "--help"], capture_output=True, text=True)
    assert res.returncode == 0
    for cmd in ("generate", "validate", "features", "train", "evaluate", "promote"):
        assert cmd in res.stdout


def test_startup_imports_no_heavy_library():
    code = "import sys, creatorrank.cli; print(' '.join(sorted(sys.modules)))"
    mods = set(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split())
    assert not [m for m in HEAVY if m in mods]


def test_bad_time_is_one_line_error(tmp_path):
    res = subprocess.run(
        [sys.executable, "-m", "creatorrank.cli", "features", "--data", str(tmp_path), "--as-of", "yesterday-ish",
         "--out", str(tmp_path / "f.parquet")],
        capture_output=True, text=True,
    )
    assert res.returncode == 2
    assert len(res.stderr.strip().splitlines()) == 1 and "Traceback" not in res.stderr


@pytest.mark.parametrize("page", sorted(PAGES))
def test_generated_docs_are_current(page):
    committed = (ROOT / "docs" / page).read_text(encoding="utf-8")
    assert committed == PAGES[page]() + "\n", f"docs/{page} is stale: run make docs (python -m tools.docgen)"


def test_data_contract_tables_come_from_the_contract_only():
    from creatorrank.data.contract import CONTRACT

    page = (ROOT / "docs" / "DATA_CONTRACT.md").read_text(encoding="utf-8")
    prose = (ROOT / "docs" / "src" / "DATA_CONTRACT.md").read_text(encoding="utf-8")
    for table in CONTRACT.values():
        assert f"\n## {table.name}\n" not in prose, f"table {table.name} is written by hand in docs/src"
        for col in table.columns:
            row = f"| {col.name} | {col.dtype} | {'yes' if col.nullable else 'no'} | {col.description} |"
            assert row in page, row
