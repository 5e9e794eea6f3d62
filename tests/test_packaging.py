"""The wheel holds the product only, installs like any other package and runs from any folder.

Builds the wheel from a clean copy of the repository (a stale ``build/`` folder could leak old
files into it), installs it into a fresh virtual environment that borrows only the development
environment's third-party packages (not its editable creatorrank), runs the first pipeline
steps from a temporary folder and checks that nothing in the install changed.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parent.parent
PRODUCT = {"creatorrank", "creatorrank/core", "creatorrank/data", "creatorrank/features", "creatorrank/features/catalogue",
           "creatorrank/training", "creatorrank/serving"}
NOT_SHIPPED = ("tests/", "benchmarks/", "notebooks/", "tools/", "docs/", "configs/",
               "features/reference.py", "features/testing.py", "core/docgen.py")
COPY_IGNORE = shutil.ignore_patterns(".git", ".venv", "build", "dist", "*.egg-info", "bench-out", "demo",
                                     "__pycache__", "mlruns", "mlartifacts", "mlflow.db", ".pytest_cache")


def _run(args, cwd, env) -> subprocess.CompletedProcess:
    res = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True)
    assert res.returncode == 0, f"{args}: exit {res.returncode}\n{res.stdout[-2000:]}\n{res.stderr[-2000:]}"
    return res


def _hashes(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    src = tmp_path_factory.mktemp("src") / "creatorrank"
    shutil.copytree(ROOT, src, ignore=COPY_IGNORE)
    out = tmp_path_factory.mktemp("wheel")
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", out, src], cwd=out, env=os.environ.copy())
    (found,) = out.glob("creatorrank-*.whl")
    return found


def test_wheel_holds_the_product_only(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    code = [n for n in names if ".dist-info/" not in n]
    assert {n.rsplit("/", 1)[0] for n in code if n.endswith(".py")} == PRODUCT
    assert all(n.startswith("creatorrank/") for n in code), code
    shipped = [n for n in code if any(n.removeprefix("creatorrank/").startswith(bad) for bad in NOT_SHIPPED)]
    assert not shipped
    assert any(n.startswith("creatorrank/serving/templates/") for n in code), "report templates not shipped"
    # scikit-learn is a test dependency only: no product module may import it.
    assert not [n for n in code if n.endswith(".py") and b"sklearn" in zipfile.ZipFile(wheel).read(n)]
    metadata = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("METADATA"))).decode()
    runtime = [line for line in metadata.splitlines() if line.startswith("Requires-Dist:") and "extra ==" not in line]
    assert runtime and not [line for line in runtime if "scikit-learn" in line]


def test_installed_package_runs_from_any_folder_and_writes_nothing_into_itself(wheel, tmp_path):
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", venv], cwd=tmp_path, env=os.environ.copy())
    py = venv / "bin" / "python"
    site = Path(_run([py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], tmp_path,
                     os.environ.copy()).stdout.strip())
    # Third-party packages come from the development environment through a plain path entry:
    # its .pth files (the editable creatorrank's finder among them) are not processed from there.
    (site / "borrowed-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    _run([sys.executable, "-m", "pip", "--python", py, "install", "--no-deps", "--no-index", "-q", wheel],
         cwd=tmp_path, env=os.environ.copy())
    install = site / "creatorrank"
    before = _hashes(install)

    work = tmp_path / "work"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(XDG_STATE_HOME=str(tmp_path / "state"), MLFLOW_TRACKING_URI=f"sqlite:///{tmp_path / 'mlflow.db'}")
    where = _run([py, "-c", "import creatorrank; print(creatorrank.__file__)"], work, env).stdout.strip()
    assert Path(where).parent == install
    cli = venv / "bin" / "creatorrank"
    _run([cli, "generate", "--out", "market", "--creators", "60", "--campaigns", "20"], work, env)
    _run([cli, "validate", "--data", "market", "--rejects", "rejects.csv"], work, env)
    _run([cli, "features", "--data", "market", "--as-of", "2025-01-01T00:00:00Z", "--out", "features.parquet"],
         work, env)
    assert (work / "features.parquet").stat().st_size > 0

    for module in ("creatorrank.features.reference", "creatorrank.features.testing", "creatorrank.core.docgen",
                   "creatorrank.benchmarks", "creatorrank.tests", "tools.docgen", "feature_oracle"):
        res = subprocess.run([py, "-c", f"import {module}"], cwd=work, env=env, capture_output=True, text=True)
        assert res.returncode != 0 and "ModuleNotFoundError" in res.stderr, module
    assert _hashes(install) == before
