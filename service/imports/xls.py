"""XLS rows: legacy Excel 97-2003 workbooks (BIFF8), the first sheet read with xlrd.

The download is spooled to disk (the compound file needs random access) and read in a worker thread.
xlrd loads a sheet whole; a .xls sheet holds at most 65,536 rows and 256 columns, and a file over
``XLS_MAX_BYTES`` is refused before it is read (``format.too_large``), which bounds the memory it
takes. Cells are rendered as text exactly as the XLSX reader renders them (``xlsx.cell_text``, with
the cell's number format: a zero-padded ``000…`` format keeps its leading zeros); formulas are never
evaluated (a formula cell gives the value saved with it); an error cell gives its text (``#N/A``).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import xlrd
from xlrd.book import Book
from xlrd.sheet import Sheet

from service.imports.rows import FormatError, Row, blank
from service.imports.spool import spooled
from service.imports.xlsx import BATCH_ROWS, cell_text

# The iSales template's 65,536 rows of six columns take about 13 MB as .xls; xlrd needs 4-7 times a
# file's size in memory, so this keeps one file's share of the process well under 200 MB.
XLS_MAX_BYTES = 24 * 1024**2


def _value(book: Book, kind: int, value: Any) -> Any:
    if kind in (xlrd.XL_CELL_EMPTY, xlrd.XL_CELL_BLANK):
        return None
    if kind == xlrd.XL_CELL_BOOLEAN:
        return bool(value)
    if kind == xlrd.XL_CELL_ERROR:
        return xlrd.error_text_from_code.get(value, "#ERROR")
    if kind == xlrd.XL_CELL_DATE:
        try:
            year, month, day, hour, minute, second = xlrd.xldate_as_tuple(value, book.datemode)
        except xlrd.xldate.XLDateError:
            return value  # not a date Excel can show: the number
        if (year, month, day) == (0, 0, 0):
            return dt.time(hour, minute, second)
        return dt.datetime(year, month, day, hour, minute, second)
    return value


def _format(book: Book, xf_index: int) -> str:
    fmt = book.format_map.get(book.xf_list[xf_index].format_key) if xf_index < len(book.xf_list) else None
    return fmt.format_str if fmt is not None else "General"


def _take(book: Book, sheet: Sheet, start: int, n: int) -> list[list[str]]:
    out: list[list[str]] = []
    for r in range(start, min(start + n, sheet.nrows)):
        kinds, values = sheet.row_types(r), sheet.row_values(r)
        out.append(
            [
                cell_text(_value(book, kind, value), _format(book, sheet.cell_xf_index(r, c)))
                for c, (kind, value) in enumerate(zip(kinds, values, strict=True))
            ]
        )
    return out


def _open(path: str) -> tuple[Book, Sheet]:
    book = xlrd.open_workbook(path, formatting_info=True, on_demand=True, ragged_rows=True)
    return book, book.sheet_by_index(0)


async def _bounded(chunks: AsyncIterator[bytes], max_bytes: int) -> AsyncIterator[bytes]:
    """The chunks, refused as soon as they add up to more than ``max_bytes``."""
    total = 0
    async for chunk in chunks:
        total += len(chunk)
        if total > max_bytes:
            raise FormatError("format.too_large", f"the .xls file is larger than {max_bytes} bytes", None)
        yield chunk


async def xls_rows(chunks: AsyncIterator[bytes], spool_dir: Path | None, max_bytes: int) -> AsyncIterator[Row]:
    async with spooled(_bounded(chunks, max_bytes), spool_dir, ".xls") as path:
        try:
            book, sheet = await asyncio.to_thread(_open, path)
        except Exception as exc:  # xlrd raises many kinds on a damaged or foreign file
            raise FormatError("format.bad_xls", f"not a readable XLS file: {type(exc).__name__}: {exc}", None) from None
        try:
            for start in range(0, sheet.nrows, BATCH_ROWS):
                try:
                    batch = await asyncio.to_thread(_take, book, sheet, start, BATCH_ROWS)
                except Exception as exc:
                    raise FormatError("format.bad_xls", f"XLS: {type(exc).__name__}: {exc}", start + 1) from None
                for number, cells in enumerate(batch, start=start + 1):
                    if not blank(cells):
                        yield Row(number, cells)
        finally:
            book.release_resources()
