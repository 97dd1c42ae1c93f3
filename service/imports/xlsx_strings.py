"""An XLSX shared-strings table kept on disk, so a workbook of many distinct texts is read in bounded memory.

Spreadsheet programs store every distinct text of a workbook once, in ``xl/sharedStrings.xml``, and
cells refer to it by index; openpyxl loads the whole table into a list, which for 500,000 rows of
distinct session ids and numbers is most of the process's memory. Here the table is streamed into a
temporary file (UTF-8 texts back to back) with an array of offsets, and a cell's text is read back
with one ``pread`` when the sheet refers to it.
"""

from __future__ import annotations

import os
import tempfile
from array import array
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any, overload
from xml.etree.ElementTree import iterparse

from openpyxl.reader.excel import ExcelReader
from openpyxl.xml.constants import SHARED_STRINGS, SHEET_MAIN_NS

CACHED = 65536
_SI, _T, _R = (f"{{{SHEET_MAIN_NS}}}{tag}" for tag in ("si", "t", "r"))


class SpooledStrings(Sequence[str]):
    def __init__(self, folder: Path | None) -> None:
        self._file = tempfile.TemporaryFile(dir=folder, prefix="cis-strings-")  # noqa: SIM115 (closed by close())
        self._offsets = array("q", [0])
        self._fd = self._file.fileno()
        # Texts are numbered in order of first use, so the ones most cells repeat (a campaign's caller
        # number, a status) have low numbers: those are kept in memory once read.
        self._cache: dict[int, str] = {}

    def append(self, text: str) -> None:
        data = text.encode("utf-8")
        self._file.write(data)
        self._offsets.append(self._offsets[-1] + len(data))

    def load(self, source: IO[bytes]) -> None:
        """Append every ``<si>`` of a sharedStrings part: its text runs joined, phonetic runs left out."""
        root = None
        for event, node in iterparse(source, events=("start", "end")):
            if root is None:
                root = node
            elif event == "end" and node.tag == _SI:
                runs = [node.find(_T)] if node.find(_T) is not None else [r.find(_T) for r in node.iter(_R)]
                self.append("".join((t.text or "") for t in runs if t is not None).replace("x005F_", ""))
                root.clear()  # nothing of the table stays in memory
        self._file.flush()

    def __len__(self) -> int:
        return len(self._offsets) - 1

    @overload
    def __getitem__(self, index: int) -> str: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[str]: ...
    def __getitem__(self, index: int | slice) -> str | Sequence[str]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        text = self._cache.get(index)
        if text is None:
            index = range(len(self))[index]  # negative indexes; IndexError past the end
            start, end = self._offsets[index], self._offsets[index + 1]
            text = os.pread(self._fd, end - start, start).decode("utf-8")
            if index < CACHED:
                self._cache[index] = text
        return text

    def close(self) -> None:
        self._file.close()


class SpoolingReader(ExcelReader):
    """openpyxl's reader (read-only, cached values) with the shared strings on disk."""

    def __init__(self, path: str, strings: SpooledStrings) -> None:
        super().__init__(path, read_only=True, data_only=True)
        self._spooled = strings

    def read_strings(self) -> None:
        part: Any = self.package.find(SHARED_STRINGS)  # type: ignore[no-untyped-call]
        if part is not None:
            with self.archive.open(part.PartName[1:]) as src:
                self._spooled.load(src)
        self.shared_strings = self._spooled  # type: ignore[assignment]  # any sequence of str serves
