"""How an import file is read: CSV, XLSX or legacy XLS, row by row.

CSV is decoded incrementally (declared encoding, else a byte-order mark, else UTF-8 when the first
64 KiB are valid UTF-8, else charset-normalizer's guess on them), its delimiter is declared or sniffed
on the first lines, and records are cut with the ``csv`` module, so quoted fields may hold delimiters,
doubled quotes and line breaks. XLSX needs random access (it is a zip), so its chunks are spooled to a
temporary file on disk and read with openpyxl's read-only (streaming) mode; see ``xlsx``. A legacy
.xls workbook (at most 65,536 rows) is spooled too and its first sheet read whole with xlrd, under a
file-size limit; see ``xls``. CSV and XLSX are never held whole in memory.

Rows keep their physical record number (the header is record 1). Blank records are counted but not
returned: an empty line, or a row whose cells are all empty.
"""

from __future__ import annotations

import codecs
import csv
import re
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Literal

import charset_normalizer

from service.imports.rows import FormatError, Row, blank

SAMPLE_BYTES = 64 * 1024
MAX_RECORD_CHARS = 16 * 1024 * 1024  # one record (all its lines) may not be longer
SNIFF_LINES = 50
DELIMITERS = ",;\t|"
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+")
# A cell made only of digits, spaces and + - ( ) . , / holds no function, reference or link, so a
# phone number such as "+49 30 1234" or an amount such as "-12.50" is not flagged.
_NUMERIC = re.compile(r"[+\-]?[0-9][0-9 ().,/+\-]*")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def formula_like(cell: str) -> bool:
    """Would a spreadsheet treat this cell as a formula (=, +, -, @, tab, CR first)? Plain numbers are not."""
    return cell.startswith(_FORMULA_START) and not _NUMERIC.fullmatch(cell)


async def read_rows(
    chunks: AsyncIterator[bytes],
    fmt: Literal["csv", "xlsx", "xls"],
    *,
    encoding: str | None = None,
    delimiter: str | None = None,
    spool_dir: Path | None = None,
    xlsx_max_expanded: int = 4 * 1024**3,
    xls_max_bytes: int | None = None,
) -> AsyncIterator[Row]:
    """The file's non-blank rows, in order, as text cells.

    ``xlsx_max_expanded``: the most bytes an XLSX file's parts may unpack to (a zip bomb is refused);
    ``xls_max_bytes``: the largest .xls file read (default ``xls.XLS_MAX_BYTES``: it is read whole).
    """
    if fmt == "csv":
        async for row in _csv_rows(chunks, encoding, delimiter):
            yield row
    elif fmt == "xlsx":
        from service.imports.xlsx import xlsx_rows

        async for row in xlsx_rows(chunks, spool_dir, xlsx_max_expanded):
            yield row
    elif fmt == "xls":
        from service.imports.xls import XLS_MAX_BYTES, xls_rows

        async for row in xls_rows(chunks, spool_dir, xls_max_bytes or XLS_MAX_BYTES):
            yield row
    else:
        raise FormatError("format.unsupported", f"unknown file format {fmt!r}", None)


def detect_encoding(sample: bytes, declared: str | None, complete: bool) -> tuple[str, int]:
    """The encoding and the length of the byte-order mark to skip."""
    for bom, name in _BOMS:
        if sample.startswith(bom):
            return name, len(bom)
    if declared:
        try:
            return codecs.lookup(declared).name, 0
        except LookupError:
            raise FormatError("format.unknown_encoding", f"unknown encoding {declared!r}", None) from None
    try:
        codecs.getincrementaldecoder("utf-8")().decode(sample, complete)
        return "utf-8", 0
    except UnicodeDecodeError:
        pass
    best = charset_normalizer.from_bytes(sample).best()
    if best is None:
        raise FormatError("format.unknown_encoding", "the file's encoding could not be detected", 1)
    return best.encoding, 0


def sniff_delimiter(text: str) -> str:
    """The candidate delimiter that splits the first lines into the most consistent number of fields (>1)."""
    lines = _LINE.findall(text)[:SNIFF_LINES]
    best, best_score = ",", (False, 0.0, 0)
    for candidate in DELIMITERS:
        try:
            counts = [len(r) for r in csv.reader(lines, delimiter=candidate) if r]
        except csv.Error:
            continue
        if not counts:
            continue
        mode, hits = Counter(counts).most_common(1)[0]
        score = (mode > 1, hits / len(counts), mode)
        if score > best_score:
            best, best_score = candidate, score
    return best


class _Lines:
    """The lines handed to ``csv.reader``; notes whether the reader asked for more than there was."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        self.pos = 0
        self.exhausted = False

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        if self.pos >= len(self.lines):
            self.exhausted = True
            raise StopIteration
        self.pos += 1
        return self.lines[self.pos - 1]


class CsvParser:
    """Cuts decoded text into records; a record still open at the end of the text waits for more."""

    def __init__(self, delimiter: str | None) -> None:
        self.delimiter = delimiter
        self.pending = ""
        self.records = 0

    def feed(self, text: str, final: bool) -> list[Row]:
        self.pending += text
        if final:
            ready, self.pending = self.pending, ""
        else:
            cut = max(self.pending.rfind("\n"), self.pending.rfind("\r", 0, len(self.pending) - 1)) + 1
            ready, self.pending = self.pending[:cut], self.pending[cut:]
        if not ready:
            return []
        if self.delimiter is None:
            self.delimiter = sniff_delimiter(ready[:SAMPLE_BYTES])
        return self._parse(_LINE.findall(ready), final, "\x00" in ready)

    def check(self) -> None:
        """After the rows of a feed are out: refuse a record that grows past the limit (unbalanced quote)."""
        if len(self.pending) > MAX_RECORD_CHARS:
            raise FormatError("format.malformed", "CSV: a record longer than the limit", self.records + 1)

    def _parse(self, lines: list[str], final: bool, nul: bool) -> list[Row]:
        src = _Lines(lines)
        reader = csv.reader(src, delimiter=self.delimiter or ",", strict=False)
        out: list[Row] = []
        while True:
            start = src.pos
            try:
                cells = next(reader)
            except StopIteration:
                return out
            except csv.Error as exc:
                raise FormatError("format.malformed", f"CSV: {exc}", self.records + 1) from None
            if src.exhausted and not final:
                self.pending = "".join(lines[start:]) + self.pending
                return out
            self.records += 1
            if nul and any("\x00" in c for c in cells):
                raise FormatError("format.malformed", "CSV: a NUL character (a binary file?)", self.records)
            if not blank(cells):
                out.append(Row(self.records, cells))


class _Decoder:
    """Incremental decoding that reports the record holding the first undecodable byte."""

    def __init__(self, encoding: str, parser: CsvParser) -> None:
        self.encoding = encoding
        self.parser = parser
        self.decoder = codecs.getincrementaldecoder(encoding)("strict")

    def rows(self, data: bytes, final: bool) -> list[Row]:
        try:
            text = self.decoder.decode(data, final)
        except UnicodeDecodeError as exc:
            good = exc.object[: exc.start].decode(self.encoding, "replace")
            rows = self.parser.feed(good, final=False)
            raise _Undecodable(rows, self.parser.records + 1, self.encoding) from None
        return self.parser.feed(text, final)


class _Undecodable(Exception):
    def __init__(self, rows: list[Row], record: int, encoding: str) -> None:
        super().__init__(encoding)
        self.rows, self.record, self.encoding = rows, record, encoding


async def _csv_rows(chunks: AsyncIterator[bytes], encoding: str | None, delimiter: str | None) -> AsyncIterator[Row]:
    head = bytearray()
    done = False
    while len(head) < SAMPLE_BYTES and not done:
        try:
            head += await anext(chunks)
        except StopAsyncIteration:
            done = True
    name, skip = detect_encoding(bytes(head), encoding, done)
    decoder = _Decoder(name, CsvParser(delimiter))
    try:
        for row in decoder.rows(bytes(head[skip:]), done):
            yield row
        decoder.parser.check()
        del head
        if not done:
            async for chunk in chunks:
                for row in decoder.rows(chunk, False):
                    yield row
                decoder.parser.check()
            for row in decoder.rows(b"", True):
                yield row
    except _Undecodable as exc:
        for row in exc.rows:
            yield row
        raise FormatError("format.undecodable", f"bytes that are not valid {exc.encoding}", exc.record) from None
