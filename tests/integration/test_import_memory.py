"""Large import files are read in bounded memory: fetched over HTTP and cut into rows as they stream.

Each file is read in a process of its own (bench/import_read.py), which reports its peak resident
memory (VmHWM). No assertion on time.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.import_read import measure

pytestmark = pytest.mark.slow


def test_a_500k_row_csv_is_never_held_whole(tmp_path: Path) -> None:
    result = measure(500_000, "csv", tmp_path)
    assert result["rows"] == 500_001 and result["last_number"] == 500_001  # header + rows, all read
    growth = result["peak_rss_mb"] - result["rss_before_mb"]
    assert growth < result["file_mb"] / 4, result  # far less than the file: it streamed
    assert result["peak_rss_mb"] < 150, result


def test_a_200k_row_xlsx_with_shared_strings_stays_well_under_the_target(tmp_path: Path) -> None:
    result = measure(200_000, "xlsx", tmp_path)
    assert result["rows"] == 200_001 and result["last_number"] == 200_001
    assert result["peak_rss_mb"] < 150, result


def test_a_full_xls_sheet_stays_well_under_the_target(tmp_path: Path) -> None:
    result = measure(65_535, "xls", tmp_path)  # the most rows a legacy .xls sheet holds, read whole
    assert result["rows"] == 65_536 and result["last_number"] == 65_536
    assert result["peak_rss_mb"] < 150, result
