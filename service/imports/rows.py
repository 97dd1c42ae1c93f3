"""A row of an import file, and why a file cannot be read further."""

from __future__ import annotations

from dataclasses import dataclass

from service.errors import ServiceError


@dataclass(frozen=True, slots=True)
class Row:
    number: int  # 1-based physical record number in the file (the header is record 1)
    cells: list[str]


class FormatError(ServiceError):
    """The file cannot be read further; ``row_number`` is the record where reading stopped, if known."""

    def __init__(self, code: str, message: str, row_number: int | None) -> None:
        where = f" (record {row_number})" if row_number is not None else ""
        super().__init__(f"{code}: {message}{where}")
        self.code = code
        self.message = message
        self.row_number = row_number


def blank(cells: list[str]) -> bool:
    return not any(c.strip() for c in cells)
