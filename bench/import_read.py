"""``python -m bench.import_read``: peak memory of reading a large import file, fetched over HTTP.

For each format, writes an iSales-template file of ``--rows`` rows (streamingly; a legacy .xls holds
at most 65,535 rows below its header), serves it from a loopback HTTP server and reads it in a fresh
process with ``open_source`` + ``read_rows``, which reports the rows it read, its resident memory
before reading, its peak (VmHWM) and its rows per second. CSV and XLSX are never held whole: their
peak stays flat as the row count grows; an .xls sheet is read whole, under a file-size limit.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Literal

from service.imports.formats import read_rows
from service.imports.sources import open_source
from service.runtime.egress import FetchLimits, SourceSpec

ROOT = Path(__file__).resolve().parent.parent


def _status_mb(field: str) -> float:
    """VmRSS (now) or VmHWM (peak) of this process. Not ru_maxrss: Linux keeps that across execve, so
    a child would report its parent's peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return round(int(line.split()[1]) / 1024, 1)
    raise RuntimeError(f"no {field} in /proc/self/status")


Format = Literal["csv", "xlsx", "xls"]
XLS_ROWS = 65_535  # a legacy .xls sheet holds at most 65,536 rows: the header and these


async def _read(url: str, fmt: Format) -> dict[str, Any]:
    limits = FetchLimits(max_bytes=2**31, timeout_s=3600, allow_private_networks=True)
    before = _status_mb("VmRSS")
    start = time.perf_counter()
    rows = last = 0
    async with open_source(SourceSpec("http", url), limits) as chunks:
        async for row in read_rows(chunks, fmt):
            rows += 1
            last = row.number
    seconds = time.perf_counter() - start
    return {
        "format": fmt,
        "rows": rows,
        "last_number": last,
        "rss_before_mb": before,
        "peak_rss_mb": _status_mb("VmHWM"),
        "seconds": round(seconds, 1),
        "rows_per_s": round(rows / seconds) if seconds else None,
    }


def measure(rows: int, fmt: Format, folder: Path) -> dict[str, Any]:
    """Write, serve and read one file; the reading process's numbers. An .xls file holds at most
    ``XLS_ROWS`` rows."""
    from tests.servers import http_server, isales_rows, write_csv, write_xls, write_xlsx_shared

    if fmt == "xls":
        rows = min(rows, XLS_ROWS)
    path = folder / f"isales-{rows}.{fmt}"
    if fmt == "csv":
        write_csv(path, isales_rows(rows))
    elif fmt == "xls":
        write_xls(path, isales_rows(rows))
    else:
        write_xlsx_shared(path, isales_rows(rows))
    with http_server(folder) as served:
        child = subprocess.run(
            [sys.executable, "-m", "bench.import_read", "--read", served.url(path.name), "--format", fmt],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
    result: dict[str, Any] = json.loads(child.stdout)
    result["file_mb"] = round(path.stat().st_size / 2**20, 1)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=500_000)
    parser.add_argument("--formats", default="csv,xlsx,xls")
    parser.add_argument("--read", help=argparse.SUPPRESS)
    parser.add_argument("--format", default="csv", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.read:
        print(json.dumps(asyncio.run(_read(args.read, args.format))))
        return
    with tempfile.TemporaryDirectory(prefix="cis-import-read-") as tmp:
        for fmt in args.formats.split(","):
            print(json.dumps(measure(args.rows, fmt, Path(tmp))), flush=True)


if __name__ == "__main__":
    main()
