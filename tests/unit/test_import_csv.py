"""CSV import files: encodings, delimiters, quoting, ragged and blank records, undecodable bytes."""

from __future__ import annotations

import codecs
from collections.abc import AsyncIterator

import pytest

from service.imports.formats import formula_like, read_rows, sniff_delimiter
from service.imports.rows import FormatError, Row


async def chunked(data: bytes, size: int = 7) -> AsyncIterator[bytes]:
    """``data`` in small chunks, so records, quoted fields and multi-byte characters straddle chunks."""
    for i in range(0, len(data), size):
        yield data[i : i + size]


async def rows_of(data: bytes, size: int = 7, **kw: str) -> list[Row]:
    return [r async for r in read_rows(chunked(data, size), "csv", **kw)]  # type: ignore[arg-type]


def cells(rows: list[Row]) -> list[list[str]]:
    return [r.cells for r in rows]


TEXT = "name;phone;city\nJürgen Groß;+49 30 123;Köln\n李小龙;13800138000;北京\n"
EXPECTED = [["name", "phone", "city"], ["Jürgen Groß", "+49 30 123", "Köln"], ["李小龙", "13800138000", "北京"]]


@pytest.mark.parametrize("size", [1, 3, 7, 1 << 16])
@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "utf-16-be", "utf-32"])
async def test_unicode_with_or_without_a_bom_is_read_in_any_chunking(encoding: str, size: int) -> None:
    data = TEXT.encode(encoding)
    if encoding == "utf-16-be":
        data = codecs.BOM_UTF16_BE + data
    rows = await rows_of(data, size)
    assert cells(rows) == EXPECTED
    assert [r.number for r in rows] == [1, 2, 3]


async def test_cp1252_is_detected() -> None:
    text = "".join(f"Müller-{i};Straße {i};Größe über {i} €\r\n" for i in range(40))
    rows = await rows_of(text.encode("cp1252"), 64)
    assert rows[0].cells == ["Müller-0", "Straße 0", "Größe über 0 €"]
    assert len(rows) == 40


async def test_gbk_is_detected() -> None:
    names = ["张伟", "王芳", "李娜", "刘洋", "陈静", "杨磊", "黄敏", "赵强", "周杰", "吴霞"]
    text = "".join(f"{n}客户编号{i},北京市朝阳区{i}号,13800138{i:03d}\n" for i, n in enumerate(names * 4))
    rows = await rows_of(text.encode("gbk"), 50)
    assert rows[0].cells == ["张伟客户编号0", "北京市朝阳区0号", "13800138000"]
    assert len(rows) == 40


async def test_a_declared_encoding_is_used() -> None:
    text = "a,b\nÀ,ÿ\n"
    assert cells(await rows_of(text.encode("latin-1"), encoding="latin-1")) == [["a", "b"], ["À", "ÿ"]]


async def test_an_unknown_declared_encoding_is_a_format_error() -> None:
    with pytest.raises(FormatError) as err:
        await rows_of(b"a,b\n", encoding="no-such-codec")
    assert err.value.code == "format.unknown_encoding"


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
async def test_the_delimiter_is_sniffed(delimiter: str) -> None:
    lines = [["id", "name", "note"], ["1", "Anna, Maria", "x"], ["2", "Bob", "a;b|c"]]
    quoted = [[f'"{c}"' if any(d in c for d in ",;\t|") else c for c in line] for line in lines]
    data = "".join(delimiter.join(line) + "\r\n" for line in quoted).encode()
    assert cells(await rows_of(data)) == lines


def test_a_single_column_file_defaults_to_comma() -> None:
    assert sniff_delimiter("phone\n123\n456\n") == ","


async def test_a_declared_delimiter_wins_over_sniffing() -> None:
    data = b"a;b,c\nd;e,f\n"
    assert cells(await rows_of(data, delimiter=",")) == [["a;b", "c"], ["d;e", "f"]]


async def test_quoted_fields_hold_newlines_doubled_quotes_and_delimiters() -> None:
    data = b'id,note,phone\r\n1,"line one\r\nline two\nline ""three""",123\r\n2,"a,b",456\r\n3,"\r\n",789'
    rows = await rows_of(data, 3)
    assert cells(rows) == [
        ["id", "note", "phone"],
        ["1", 'line one\r\nline two\nline "three"', "123"],
        ["2", "a,b", "456"],
        ["3", "\r\n", "789"],
    ]
    assert [r.number for r in rows] == [1, 2, 3, 4]  # a record over several lines is one record


async def test_ragged_rows_and_blank_records() -> None:
    data = b"a,b,c\n\n1,2\n,,\n1,2,3,4\n  \n\r\nlast"
    rows = await rows_of(data)
    assert [(r.number, r.cells) for r in rows] == [
        (1, ["a", "b", "c"]),
        (3, ["1", "2"]),
        (5, ["1", "2", "3", "4"]),
        (8, ["last"]),
    ]


async def test_a_cr_only_file() -> None:
    assert cells(await rows_of(b"a,b\r1,2\r3,4\r", 2)) == [["a", "b"], ["1", "2"], ["3", "4"]]


async def test_undecodable_bytes_stop_the_file_at_their_record() -> None:
    data = b"h1,h2\nok,1\nstill ok,2\n" + b"bad \xff\xfe here,3\nnever,4\n"
    got: list[Row] = []
    with pytest.raises(FormatError) as err:
        async for row in read_rows(chunked(data, 5), "csv", encoding="utf-8"):
            got.append(row)
    assert err.value.code == "format.undecodable"
    assert err.value.row_number == 4
    assert cells(got) == [["h1", "h2"], ["ok", "1"], ["still ok", "2"]]


async def test_undecodable_bytes_inside_a_multiline_record_name_the_record() -> None:
    data = b'h\n"one\ntwo\n\xff"\n'
    with pytest.raises(FormatError) as err:
        await rows_of(data, 100, encoding="utf-8")
    assert err.value.row_number == 2


async def test_nul_bytes_are_a_format_error_with_the_record() -> None:
    with pytest.raises(FormatError) as err:
        await rows_of(b"a,b\nc,d\ne\x00,f\n", encoding="utf-8")
    assert err.value.code == "format.malformed"
    assert err.value.row_number == 3


async def test_an_unterminated_quote_is_bounded_by_the_field_limit() -> None:
    data = b'a,b\n"open,' + b"x" * 300_000 + b"\n"
    with pytest.raises(FormatError) as err:
        await rows_of(data, 4096)
    assert err.value.code == "format.malformed"
    assert err.value.row_number == 2


async def test_an_empty_file_has_no_rows() -> None:
    assert await rows_of(b"") == []


@pytest.mark.parametrize(
    ("cell", "flagged"),
    [
        ("=1+2", True),
        ('=HYPERLINK("http://x")', True),
        ("+cmd|' /C calc'!A0", True),
        ("-2+3+cmd|' /C calc'!A0", True),
        ("@SUM(A1:A2)", True),
        ("\tx", True),
        ("\r=1", True),
        ("+49 30 1234567", False),
        ("+1 (555) 123-4567", False),
        ("-12.50", False),
        ("0049301234", False),
        ("plain", False),
        ("", False),
        ("a=b", False),
    ],
)
def test_formula_like(cell: str, flagged: bool) -> None:
    assert formula_like(cell) is flagged


async def test_a_record_longer_than_the_limit_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("service.imports.formats.MAX_RECORD_CHARS", 1000)
    with pytest.raises(FormatError) as err:
        await rows_of(b"a,b\n" + b"x" * 100_000, 4096)  # no line break at all
    assert err.value.code == "format.malformed" and err.value.row_number == 2
    data = b'a,b\n1,"' + b"line\n" * 20_000 + b'"\n'  # a quoted field of many short lines
    with pytest.raises(FormatError) as err:
        await rows_of(data, 4096)
    assert err.value.row_number == 2
