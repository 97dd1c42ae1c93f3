"""A download spooled to a temporary file on disk, for the formats that need random access (XLSX, XLS)."""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path


@asynccontextmanager
async def spooled(chunks: AsyncIterator[bytes], spool_dir: Path | None, suffix: str) -> AsyncIterator[str]:
    """The path of a temporary file holding every chunk; the file is deleted when the block ends."""
    with tempfile.NamedTemporaryFile(dir=spool_dir, prefix="cis-import-", suffix=suffix) as spool:
        async for chunk in chunks:
            spool.write(chunk)
        spool.flush()
        yield spool.name
