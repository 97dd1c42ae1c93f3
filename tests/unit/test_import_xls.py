"""Legacy Excel 97-2003 (.xls) import files: read like XLSX, values as text the way a spreadsheet shows
them, blank cells and rows skipped with their physical numbers kept, the download spooled and removed."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import xlwt

from service.imports.formats import read_rows
from service.imports.rows import FormatError, Row
from tests.servers import write_xls, write_xlsx

SEED_HEADER = [  # Table 1 of seed 003, cell by cell
    "sessionId (Optional)",
    "called (Mandatory)",
    "caller (Optional)",
    "callData (Optional)",
    "customField (Optional)",
    "recycleTime (Optional)",
]


async def file_chunks(path: Path, size: int = 4096) -> AsyncIterator[bytes]:
    with path.open("rb") as f:
        while block := f.read(size):
            yield block


async def rows_of(path: Path, fmt: str = "xls", **options: Any) -> list[Row]:
    return [r async for r in read_rows(file_chunks(path), fmt, **options)]  # type: ignore[arg-type]


async def test_the_seed_template_saved_as_xls(tmp_path: Path) -> None:
    path = write_xls(tmp_path / "demo.xls", [SEED_HEADER, ["-", "[{'calledNo':1234566}]", "-", "-", "-", "-"]])
    rows = await rows_of(path)
    assert [(r.number, r.cells) for r in rows] == [
        (1, SEED_HEADER),
        (2, ["-", "[{'calledNo':1234566}]", "-", "-", "-", "-"]),
    ]


async def test_cells_read_as_the_same_workbook_saved_as_xlsx(tmp_path: Path) -> None:
    values: list[Any] = [13800138000, 4915112345678.0, 1.5, 0.1 + 0.2, 1e20, 1.23e-7, -42, 0, True, False, "李小龙"]
    dates = [dt.datetime(2024, 3, 1, 13, 45, 10), dt.date(2024, 3, 2), dt.time(8, 30), dt.datetime(2024, 3, 1)]
    rows: list[list[Any]] = [values, ["dates", *dates], [1234567, 1234567]]
    formats = {0: "00000000000"}
    xls = await rows_of(write_xls(tmp_path / "a.xls", rows, number_formats=formats))
    xlsx = await rows_of(write_xlsx(tmp_path / "a.xlsx", rows, number_formats=formats), "xlsx")
    numbers = ["13800138000", "4915112345678", "1.5", "0.3", "100000000000000000000", "0.000000123", "-42", "0"]
    assert [r.cells for r in xls] == [
        [*numbers, "TRUE", "FALSE", "李小龙"],
        ["dates", "2024-03-01 13:45:10", "2024-03-02", "08:30:00", "2024-03-01 00:00:00"],
        ["00001234567", "1234567"],  # a zero-padded number format keeps the leading zeros
    ]
    assert [r.cells[1:] for r in xls] == [r.cells[1:] for r in xlsx]


async def test_empty_cells_and_rows_keep_the_physical_row_numbers(tmp_path: Path) -> None:
    path = write_xls(tmp_path / "e.xls", [["a", None, "c"], [], [None, None], ["", "x"], ["last"]])
    rows = await rows_of(path)
    assert [(r.number, r.cells) for r in rows] == [(1, ["a", "", "c"]), (4, ["", "x"]), (5, ["last"])]


async def test_formulas_are_never_evaluated(tmp_path: Path) -> None:
    book = xlwt.Workbook()
    sheet = book.add_sheet("s")
    sheet.write(0, 0, xlwt.Formula("1+2"))  # xlwt saves no value with a formula
    sheet.write(0, 1, '=HYPERLINK("http://evil")')  # text that looks like a formula stays text
    book.save(str(tmp_path / "f.xls"))
    assert (await rows_of(tmp_path / "f.xls"))[0].cells == ["", '=HYPERLINK("http://evil")']


async def test_the_download_is_spooled_to_disk_and_removed(tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    spool.mkdir()
    path = write_xls(tmp_path / "r.xls", ([f"s{i}", i] for i in range(5000)))
    count = 0
    async for row in read_rows(file_chunks(path), "xls", spool_dir=spool):
        assert list(spool.iterdir()), "the file is read from the spool while rows are returned"
        count += 1
        assert row.cells == [f"s{row.number - 1}", str(row.number - 1)]
    assert count == 5000
    assert list(spool.iterdir()) == []


@pytest.mark.parametrize("content", [b"name,phone\n1,2\n", b"", b"PK\x03\x04 an xlsx is a zip"])
async def test_not_an_xls_file(tmp_path: Path, content: bytes) -> None:
    (tmp_path / "x.xls").write_bytes(content)
    with pytest.raises(FormatError) as err:
        await rows_of(tmp_path / "x.xls")
    assert err.value.code == "format.bad_xls"


async def test_an_xls_file_over_the_size_limit_is_refused_before_it_is_read(tmp_path: Path) -> None:
    path = write_xls(tmp_path / "big.xls", ([f"row {i}", "x" * 200] for i in range(2000)))
    assert (await rows_of(path, xls_max_bytes=10_000_000))[-1].number == 2000
    with pytest.raises(FormatError) as err:
        await rows_of(path, xls_max_bytes=100_000)
    assert err.value.code == "format.too_large"
