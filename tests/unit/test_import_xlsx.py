"""XLSX import files: values as text the way a spreadsheet shows them, blank cells and rows, spooling."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from service.imports.formats import formula_like, read_rows
from service.imports.rows import FormatError, Row
from service.imports.xlsx_strings import SpooledStrings
from tests.servers import write_xlsx, write_xlsx_shared


async def file_chunks(path: Path, size: int = 4096) -> AsyncIterator[bytes]:
    with path.open("rb") as f:
        while block := f.read(size):
            yield block


async def rows_of(path: Path, spool: Path | None = None) -> list[Row]:
    return [r async for r in read_rows(file_chunks(path), "xlsx", spool_dir=spool)]


async def test_the_isales_template(tmp_path: Path) -> None:
    header = ["sessionId", "called", "caller", "callData", "customField", "recycleTime"]
    path = write_xlsx(
        tmp_path / "t.xlsx",
        [header, ["s-1", "[{'calledNo':1234566}]", None, '{"a":1}', "vip", "2024-05-01 10:00:00"]] * 2,
    )
    rows = await rows_of(path)
    assert [r.cells for r in rows[:2]] == [
        header,
        ["s-1", "[{'calledNo':1234566}]", "", '{"a":1}', "vip", "2024-05-01 10:00:00"],
    ]
    assert [r.number for r in rows] == [1, 2, 3, 4]


async def test_numbers_are_shown_as_a_spreadsheet_shows_them(tmp_path: Path) -> None:
    values: list[Any] = [13800138000, 4915112345678.0, 1.5, 0.1 + 0.2, 1e20, 1.23e-7, -42, 0, True, False]
    rows = await rows_of(write_xlsx(tmp_path / "n.xlsx", [values]))
    assert rows[0].cells == [
        "13800138000",
        "4915112345678",
        "1.5",
        "0.3",
        "100000000000000000000",
        "0.000000123",
        "-42",
        "0",
        "TRUE",
        "FALSE",
    ]


async def test_a_zero_padded_number_format_keeps_the_leading_zeros(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "z.xlsx", [[1234567, 1234567]], number_formats={0: "00000000000"})
    assert (await rows_of(path))[0].cells == ["00001234567", "1234567"]


async def test_dates_and_times(tmp_path: Path) -> None:
    midnight = dt.datetime(2024, 3, 1)
    values = [midnight, midnight, dt.datetime(2024, 3, 1, 13, 45, 10), dt.date(2024, 3, 2), dt.time(8, 30)]
    path = write_xlsx(tmp_path / "d.xlsx", [values], number_formats={0: "yyyy-mm-dd"})
    rows = await rows_of(path)
    assert rows[0].cells == ["2024-03-01", "2024-03-01 00:00:00", "2024-03-01 13:45:10", "2024-03-02", "08:30:00"]


async def test_empty_cells_and_rows(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "e.xlsx", [["a", None, "c"], [], [None, None], ["", "x"], ["last"]])
    rows = await rows_of(path)
    assert [(r.number, r.cells) for r in rows] == [(1, ["a", "", "c"]), (4, ["", "x"]), (5, ["last"])]


async def test_shared_strings_and_gaps_in_the_sheet(tmp_path: Path) -> None:
    book = openpyxl.Workbook()  # the normal writer: shared strings, rows and cells left out when empty
    sheet = book.active
    assert sheet is not None
    sheet["A1"], sheet["C1"] = "same", "same"
    sheet["B4"] = "same"
    sheet["A6"] = "other"
    book.save(tmp_path / "s.xlsx")
    rows = await rows_of(tmp_path / "s.xlsx")
    assert [(r.number, r.cells) for r in rows] == [(1, ["same", "", "same"]), (4, ["", "same"]), (6, ["other"])]


async def test_formulas_are_never_evaluated_and_text_that_looks_like_one_is_kept(tmp_path: Path) -> None:
    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet()
    as_text = openpyxl.cell.WriteOnlyCell(sheet, value='=HYPERLINK("http://evil")')
    as_text.data_type = "s"
    sheet.append([as_text, "=1+2", "+49 30 1234567"])  # "=1+2" is written as a formula with no saved value
    book.save(tmp_path / "f.xlsx")
    cells = (await rows_of(tmp_path / "f.xlsx"))[0].cells
    assert cells == ['=HYPERLINK("http://evil")', "", "+49 30 1234567"]
    assert [formula_like(c) for c in cells] == [True, False, False]


async def test_the_download_is_spooled_to_disk_and_removed(tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    spool.mkdir()
    path = write_xlsx(tmp_path / "r.xlsx", ([f"s{i}", i] for i in range(5000)))
    count = 0
    async for row in read_rows(file_chunks(path), "xlsx", spool_dir=spool):
        assert list(spool.iterdir()), "the file is read from the spool while rows are returned"
        count += 1
        assert row.cells == [f"s{row.number - 1}", str(row.number - 1)]
    assert count == 5000
    assert list(spool.iterdir()) == []


async def test_not_an_xlsx_file(tmp_path: Path) -> None:
    (tmp_path / "x.xlsx").write_bytes(b"name,phone\n1,2\n")
    with pytest.raises(FormatError) as err:
        await rows_of(tmp_path / "x.xlsx")
    assert err.value.code == "format.bad_xlsx"


def test_the_shared_strings_table_is_kept_on_disk(tmp_path: Path) -> None:
    ns = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    xml = (
        f'<sst xmlns="{ns}"><si><t>plain</t></si><si><t xml:space="preserve"> spaced </t></si>'
        '<si><r><rPr><b/></rPr><t>rich </t></r><r><t>text</t></r><rPh sb="0" eb="1"><t>ignored</t></rPh></si>'
        "<si><t/></si><si><t>李小龙 x005F_x</t></si></sst>"
    ).encode()
    strings = SpooledStrings(tmp_path)
    strings.load(io.BytesIO(xml))
    try:
        assert list(strings) == ["plain", " spaced ", "rich text", "", "李小龙 x"]
        assert strings[2] == "rich text" and strings[-1] == "李小龙 x" and strings[1:3] == [" spaced ", "rich text"]
    finally:
        strings.close()


async def test_a_workbook_saved_with_shared_strings(tmp_path: Path) -> None:
    path = write_xlsx_shared(
        tmp_path / "s.xlsx", [["id", "phone", "n"], ["a", "0049301234", 13800138000], ["a", "x", 1.5]]
    )
    rows = await rows_of(path)
    assert [r.cells for r in rows] == [["id", "phone", "n"], ["a", "0049301234", "13800138000"], ["a", "x", "1.5"]]


async def test_a_workbook_that_unpacks_too_far_is_refused(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "big.xlsx", ([f"row {i}", "x" * 200] for i in range(2000)))
    assert [r.number async for r in read_rows(file_chunks(path), "xlsx", xlsx_max_expanded=10_000_000)][-1] == 2000
    with pytest.raises(FormatError) as err:
        await anext(read_rows(file_chunks(path), "xlsx", xlsx_max_expanded=100_000))
    assert err.value.code == "format.too_large"
