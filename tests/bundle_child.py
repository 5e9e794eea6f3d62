"""Load model bundles in a child process: a damaged file that reached LightGBM would abort it.

LightGBM aborts the whole process on some truncated model files (measured: exit 134 or 139), so
tests that feed bundles damaged files load them in a child and read back, per folder, "loaded"
or the one-line ``ModelError`` it raised.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

_CHILD = textwrap.dedent(
    """
    import json, sys
    from creatorrank.core.errors import ModelError
    from creatorrank.training.model import RankerBundle
    out = {}
    for folder in sys.argv[1:]:
        try:
            RankerBundle.load(folder)
            out[folder] = "loaded"
        except ModelError as exc:
            out[folder] = "ModelError: " + str(exc)
    print(json.dumps(out))
    """
)


def load_in_child(folders: list[Path]) -> dict[str, str]:
    """Per folder (as str): "loaded" or "ModelError: <message>"; fails the test if the child died."""
    proc = subprocess.run([sys.executable, "-c", _CHILD, *map(str, folders)], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, f"child exited {proc.returncode}: {proc.stderr[-2000:]}"  # 134/139: LightGBM aborted
    return json.loads(proc.stdout.strip().splitlines()[-1])
