"""pyflakes' checks over the whole tree, through ruff (configured in pyproject.toml).

They find what tests miss: a name unbound where a callback runs (the shell's read thread once
passed `exc` to a callback that ran after the except block had unbound it), dead imports.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_pyflakes_finds_nothing() -> None:
    done = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "--output-format", "concise",
                           "bot", "cards", "bench", "tests"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
