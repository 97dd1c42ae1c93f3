"""XLSX rows: the download is spooled to disk, then the first sheet is streamed with openpyxl read-only
(its shared-strings table spooled to disk too: ``xlsx_strings``).

Reading runs in a worker thread, a batch of rows at a time, so the event loop stays free. Values are
rendered as text the way a spreadsheet shows them as far as practical: whole numbers without a decimal
point or exponent (a phone number stored as a number stays ``4915112345678``, padded with zeros when the
cell's format is ``000…``), other numbers with up to 15 significant digits, dates as ``YYYY-MM-DD`` and
date-times as ``YYYY-MM-DD hh:mm:ss``, booleans as ``TRUE``/``FALSE``. Formulas are never evaluated: a
formula cell gives the value the spreadsheet saved with it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import zipfile
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from itertools import islice
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import ParseError

from openpyxl import Workbook

from service.imports.rows import FormatError, Row, blank
from service.imports.spool import spooled
from service.imports.xlsx_strings import SpooledStrings, SpoolingReader

BATCH_ROWS = 2000
_ZEROS = re.compile(r"0+")


def cell_text(value: Any, number_format: str = "General") -> str:
    """One cell value as text."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e17:
        value = int(value)
    if isinstance(value, int):
        text = str(value)
        if _ZEROS.fullmatch(number_format) and len(number_format) > len(text) and value >= 0:
            text = text.zfill(len(number_format))
        return text
    if isinstance(value, float):
        text = f"{value:.15g}"
        return format(Decimal(text), "f") if "e" in text else text
    if isinstance(value, dt.datetime):
        if value.time() == dt.time() and not any(c in number_format.lower() for c in "hs"):
            return value.date().isoformat()
        return value.isoformat(sep=" ", timespec="seconds")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.time):
        return value.isoformat(timespec="seconds")
    return str(value)


def _take(rows: Iterator[tuple[Any, ...]], n: int) -> list[list[str]]:
    return [
        [cell_text(c.value, getattr(c, "number_format", "General") or "General") for c in r] for r in islice(rows, n)
    ]


def _open(path: str, strings: SpooledStrings) -> Workbook:
    reader = SpoolingReader(path, strings)
    reader.read()
    book: Workbook = reader.wb
    return book


def _check_expanded(path: str, limit: int) -> None:
    """Refuse a workbook whose parts unpack to more than ``limit`` bytes (zipfile never reads past the
    size an entry declares, so the declared sizes bound what is read)."""
    with zipfile.ZipFile(path) as z:
        expanded = sum(info.file_size for info in z.infolist())
    if expanded > limit:
        raise FormatError("format.too_large", f"the workbook unpacks to {expanded} bytes, over {limit}", None)


async def xlsx_rows(chunks: AsyncIterator[bytes], spool_dir: Path | None, max_expanded: int) -> AsyncIterator[Row]:
    async with spooled(chunks, spool_dir, ".xlsx") as path:
        try:
            _check_expanded(path, max_expanded)
        except (zipfile.BadZipFile, OSError) as exc:
            raise FormatError("format.bad_xlsx", f"not a readable XLSX file: {exc}", None) from None
        strings = SpooledStrings(spool_dir)
        try:
            book = await asyncio.to_thread(_open, path, strings)
        except (zipfile.BadZipFile, KeyError, ValueError, OSError, ParseError) as exc:
            strings.close()
            raise FormatError("format.bad_xlsx", f"not a readable XLSX file: {exc}", None) from None
        try:
            sheet = book.worksheets[0]
            sheet.reset_dimensions()
            rows = iter(sheet.iter_rows())
            number = 0
            while True:
                try:
                    batch = await asyncio.to_thread(_take, rows, BATCH_ROWS)
                except Exception as exc:
                    raise FormatError("format.bad_xlsx", f"XLSX: {exc}", number + 1) from None
                if not batch:
                    return
                for cells in batch:
                    number += 1
                    if not blank(cells):
                        yield Row(number, cells)
        finally:
            book.close()
            strings.close()
