"""Named crash points for fault tests: ``CIS_FAILPOINT=name`` makes the process exit hard there."""

from __future__ import annotations

import os
import sys

_ACTIVE: str | None = os.environ.get("CIS_FAILPOINT") or None
_AFTER: int = int(os.environ.get("CIS_FAILPOINT_AFTER", "1"))
_hits = 0

BEFORE_DB_COMMIT = "before_db_commit"
AFTER_DB_COMMIT = "after_db_commit"
AFTER_PUBLISH = "after_publish"
IMPORT_AFTER_COMMIT = "import_after_commit"  # a file-import job committed a step of rows


def hit(name: str) -> None:
    """Exit with status 137 on the N-th pass through ``name`` when it is the active failpoint."""
    global _hits
    if name != _ACTIVE:
        return
    _hits += 1
    if _hits >= _AFTER:
        sys.stderr.write(f"failpoint {name} reached, exiting hard\n")
        sys.stderr.flush()
        os._exit(137)
