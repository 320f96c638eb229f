"""The data dir holds mail bodies, sealed passwords and the key: owner-only (0700 dir, 0600 files).

Files are created with mode 0600 by the code that writes them; this module makes the directory and
warns about one that others can read (its owner may have reasons, so the mode is not changed).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

log = logging.getLogger("mailbot.storage")


def make_private_dir(path: Path) -> None:
    """Create the data dir readable by its owner only; an existing one keeps its mode."""
    if not path.is_dir():
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(path, 0o700)


def _mode(path: Path) -> int:
    try:
        return path.stat().st_mode & 0o777
    except FileNotFoundError:  # e.g. a -wal file removed meanwhile by another process
        return 0


def warn_if_exposed(path: Path) -> None:
    """One warning when the data dir, or a file in it, can be read or entered by group or others."""
    exposed = [(p, mode) for p in (path, *sorted(path.iterdir())) if (mode := _mode(p)) & 0o077]
    if exposed:
        names = ", ".join(f"{p.resolve() if p == path else p.name} ({mode:o})" for p, mode in exposed[:4])
        more = f" and {len(exposed) - 4} more" if len(exposed) > 4 else ""
        log.warning("others can read the data dir, which holds mail and passwords: %s%s. "
                    "Fix: chmod 700 %s; chmod 600 %s/*", names, more, path.resolve(), path.resolve())
