"""Real file servers on loopback for the import tests: HTTP (optional basic auth), FTP and SFTP.

Each is a context manager serving a folder on 127.0.0.1 and a free port, in a background thread, so
that it keeps serving while a test blocks or waits on a service process. Also: writers for the CSV and
XLSX files the tests serve, taking rows from any iterable, so a large file is generated streamingly.
"""

from __future__ import annotations

import asyncio
import base64
import csv
import datetime as dt
import hmac
import http.server
import ssl
import threading
import time
import zipfile
from collections.abc import Coroutine, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qs, unquote, urlsplit
from xml.sax.saxutils import escape as xml_escape

import aioftp
import asyncssh
import openpyxl
import xlwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from openpyxl.utils import get_column_letter

from service.imports.sources import open_source
from service.runtime.egress import FetchLimits, SourceError, SourceSpec

T = TypeVar("T")
HOST = "127.0.0.1"


@dataclass(frozen=True)
class Served:
    """A running server: ``url(name)`` addresses a file of its folder."""

    scheme: str
    port: int
    username: str | None = None
    password: str | None = None
    host_key: str | None = None  # SFTP: the server's public host key, an OpenSSH line
    host: str = HOST

    def url(self, name: str, host: str | None = None) -> str:
        return f"{self.scheme}://{host or self.host}:{self.port}/{name.lstrip('/')}"


# -- HTTP ------------------------------------------------------------------------------------------


class _Handler(http.server.BaseHTTPRequestHandler):
    """Files of ``root``; ``/redirect?to=URL`` answers 302; ``?slow=1`` trickles; ``?nolength=1`` streams."""

    root: Path
    auth: str | None
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        if self.auth is not None:
            given = self.headers.get("Authorization", "")
            if not hmac.compare_digest(given.encode(), self.auth.encode()):
                self._empty(401, {"WWW-Authenticate": 'Basic realm="files"'})
                return
        parts = urlsplit(self.path)
        query = parse_qs(parts.query)
        if parts.path == "/redirect":
            self._empty(302, {"Location": query["to"][0]})
            return
        path = (self.root / unquote(parts.path).lstrip("/")).resolve()
        if not path.is_file() or not path.is_relative_to(self.root):
            self._empty(404, {})
            return
        if "slow" in query:
            self._trickle()
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        if "nolength" in query:
            self.send_header("Connection", "close")
            self.close_connection = True
        else:
            self.send_header("Content-Length", str(path.stat().st_size))
        self.end_headers()
        with path.open("rb") as f:
            while block := f.read(65536):
                self.wfile.write(block)

    def _empty(self, status: int, headers: dict[str, str]) -> None:
        self.send_response(status)
        for k, v in {**headers, "Content-Length": "0"}.items():
            self.send_header(k, v)
        self.end_headers()

    def _trickle(self) -> None:
        """One byte every 0.2 s for at most 60 s: a server too slow for any sane time limit."""
        self.send_response(200)
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        try:
            for _ in range(300):
                self.wfile.write(b"a")
                self.wfile.flush()
                time.sleep(0.2)
        except OSError:
            pass


class _QuietServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hangs up early (a fetch stopped at its limit) is no error of the server."""


@contextmanager
def http_server(
    root: Path,
    *,
    username: str | None = None,
    password: str | None = None,
    host: str = HOST,
    tls: Tls | None = None,
) -> Iterator[Served]:
    """``root`` over HTTP (HTTPS with ``tls``) on ``host`` (any 127.x address works on Linux), a free port."""
    auth = None
    if username is not None:
        auth = "Basic " + base64.b64encode(f"{username}:{password or ''}".encode()).decode()
    handler = type("Handler", (_Handler,), {"root": root.resolve(), "auth": auth})
    server = _QuietServer((host, 0), handler)
    if tls is not None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(tls.cert, tls.key)
        server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Served("https" if tls else "http", server.server_address[1], username, password, host=host)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


@dataclass(frozen=True)
class Tls:
    ca: str  # the CA certificate (PEM) that signed ``cert``
    cert: str
    key: str


def make_tls(folder: Path, names: Sequence[str]) -> Tls:
    """A throw-away CA and a server certificate it signed for the DNS ``names``, as PEM files."""
    now = dt.datetime.now(dt.UTC)

    def issue(subject: str, key: ec.EllipticCurvePrivateKey, issuer: str, signer: ec.EllipticCurvePrivateKey,
              ca: bool) -> x509.Certificate:  # fmt: skip
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if not ca:
            builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), False)
        return builder.sign(signer, hashes.SHA256())

    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_cert = issue("test CA", ca_key, "test CA", ca_key, True)
    cert = issue(names[0], key, "test CA", ca_key, False)
    pem = serialization.Encoding.PEM
    (folder / "ca.pem").write_bytes(ca_cert.public_bytes(pem))
    (folder / "server.pem").write_bytes(cert.public_bytes(pem))
    (folder / "server.key").write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return Tls(str(folder / "ca.pem"), str(folder / "server.pem"), str(folder / "server.key"))


# -- asyncio servers in a thread of their own --------------------------------------------------------


class _LoopThread:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(30)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@contextmanager
def ftp_server(root: Path, *, username: str = "ftpuser", password: str = "ftp-secret") -> Iterator[Served]:
    runner = _LoopThread()
    user = aioftp.User(login=username, password=password, base_path=root.resolve(), home_path="/")
    server = aioftp.Server([user])
    try:
        runner.run(server.start(host=HOST, port=0))
        yield Served("ftp", server.address[1], username, password)
    finally:
        runner.run(server.close())
        runner.close()


class _SshServer(asyncssh.SSHServer):
    def __init__(self, username: str, password: str) -> None:
        self.username, self.password = username, password

    def begin_auth(self, username: str) -> bool:
        return True

    def password_auth_supported(self) -> bool:
        return True

    def validate_password(self, username: str, password: str) -> bool:
        return username == self.username and hmac.compare_digest(password.encode(), self.password.encode())


@contextmanager
def sftp_server(root: Path, *, username: str = "sftpuser", password: str = "sftp-secret") -> Iterator[Served]:
    """An SFTP server with a freshly generated ed25519 host key, chrooted to ``root``."""
    runner = _LoopThread()
    key = asyncssh.generate_private_key("ssh-ed25519")
    chroot = str(root.resolve()).encode()

    async def start() -> asyncssh.SSHAcceptor:
        return await asyncssh.listen(
            HOST,
            0,
            server_factory=lambda: _SshServer(username, password),
            server_host_keys=[key],
            sftp_factory=lambda chan: asyncssh.SFTPServer(chan, chroot=chroot),
            allow_scp=False,
        )

    acceptor = runner.run(start())

    async def stop() -> None:
        acceptor.close()
        await acceptor.wait_closed()

    try:
        host_key = key.export_public_key().decode().strip()
        yield Served("sftp", acceptor.get_port(), username, password, host_key)
    finally:
        runner.run(stop())
        runner.close()


# -- files -------------------------------------------------------------------------------------------


def write_csv(path: Path, rows: Iterable[Sequence[object]], *, encoding: str = "utf-8", delimiter: str = ",") -> Path:
    """Rows to a CSV file, written as they come (``encoding='utf-8-sig'`` writes a BOM)."""
    with path.open("w", encoding=encoding, newline="") as f:
        writer = csv.writer(f, delimiter=delimiter)
        for row in rows:
            writer.writerow(row)
    return path


def write_xlsx(path: Path, rows: Iterable[Sequence[Any]], *, number_formats: dict[int, str] | None = None) -> Path:
    """Rows to the first sheet of an XLSX file (openpyxl write-only: streamed, never whole in memory).

    ``number_formats`` maps a 0-based column to a number format (e.g. ``"00000000000"``).
    """
    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet()
    formats = number_formats or {}
    for row in rows:
        if formats:
            cells: list[object] = []
            for i, value in enumerate(row):
                cell = openpyxl.cell.WriteOnlyCell(sheet, value=value)
                if i in formats:
                    cell.number_format = formats[i]
                cells.append(cell)
            sheet.append(cells)
        else:
            sheet.append(list(row))
    book.save(path)
    return path


_XLS_DATE_FORMATS = {dt.datetime: "yyyy-mm-dd hh:mm:ss", dt.date: "yyyy-mm-dd", dt.time: "hh:mm:ss"}


def write_xls(path: Path, rows: Iterable[Sequence[Any]], *, number_formats: dict[int, str] | None = None) -> Path:
    """Rows to the first sheet of a legacy Excel 97-2003 (.xls, BIFF8) workbook, written with xlwt.

    ``None`` leaves a cell out; dates, times and date-times get a date format unless ``number_formats``
    (0-based column to format) names one; booleans are Excel booleans. At most 65,536 rows.
    """
    book = xlwt.Workbook(encoding="utf-8")
    sheet = book.add_sheet("Sheet1")
    styles: dict[str, xlwt.XFStyle] = {}

    def style(fmt: str) -> xlwt.XFStyle:
        if fmt not in styles:
            styles[fmt] = xlwt.easyxf(num_format_str=fmt)
        return styles[fmt]

    formats = number_formats or {}
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            if value is None:
                continue
            fmt = formats.get(c) or _XLS_DATE_FORMATS.get(type(value))
            if fmt is None:
                sheet.write(r, c, value)
            else:
                sheet.write(r, c, value, style(fmt))
    book.save(str(path))
    return path


# -- fetching ----------------------------------------------------------------------------------------

LOOPBACK = FetchLimits(max_bytes=10_000_000, timeout_s=30, allow_private_networks=True)


async def fetch_chunks(spec: SourceSpec, limits: FetchLimits = LOOPBACK) -> list[bytes]:
    """Every chunk ``open_source`` gives for ``spec``."""
    async with open_source(spec, limits) as chunks:
        return [c async for c in chunks]


async def fetch_bytes(spec: SourceSpec, limits: FetchLimits = LOOPBACK) -> bytes:
    return b"".join(await fetch_chunks(spec, limits))


async def fetch_error(spec: SourceSpec, limits: FetchLimits = LOOPBACK) -> SourceError:
    """The ``SourceError`` fetching ``spec`` raises (the test fails when there is none)."""
    try:
        await fetch_chunks(spec, limits)
    except SourceError as exc:
        return exc
    raise AssertionError(f"fetching {spec.url} did not fail")


ISALES_HEADER = ["sessionId", "called", "caller", "callData", "customField", "recycleTime"]


def isales_rows(n: int, *, header: bool = True) -> Iterator[list[str]]:
    """``n`` rows of the iSales outbound call data template (seed 003), generated one by one."""
    if header:
        yield ISALES_HEADER
    for i in range(n):
        called = f'[{{"calledNo":"1380013{i % 10_000_000:07d}","delayTime":"0","type":"1"}}]'
        yield [f"s{i:010d}", called, "4000", f'{{"orderId":"{i}"}}', "vip", "2026-12-01 10:00:00"]


_XLSX_PARTS = {
    "[Content_Types].xml": '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    '<Override PartName="/xl/sharedStrings.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
    "</Types>",
    "_rels/.rels": '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Target="xl/workbook.xml" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument"/>'
    "</Relationships>",
    "xl/workbook.xml": '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    '<sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>',
    "xl/_rels/workbook.xml.rels": '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Target="worksheets/sheet1.xml" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet"/>'
    '<Relationship Id="rId2" Target="sharedStrings.xml" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings"/>'
    "</Relationships>",
}


def write_xlsx_shared(path: Path, rows: Iterable[Sequence[Any]]) -> Path:
    """Rows to an XLSX file the way spreadsheet programs save one: text in the shared-strings table.

    (openpyxl's streaming writer puts text inline in the sheet.) The sheet is written as rows come;
    the table of distinct strings is kept until the end.
    """
    strings: dict[str, int] = {}
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, xml in _XLSX_PARTS.items():
            z.writestr(name, xml)
        with z.open("xl/worksheets/sheet1.xml", "w") as sheet:
            sheet.write(
                b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
                b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
            )
            for r, row in enumerate(rows, start=1):
                cells = []
                for c, value in enumerate(row):
                    ref = f"{get_column_letter(c + 1)}{r}"
                    if isinstance(value, int | float) and not isinstance(value, bool):
                        cells.append(f'<c r="{ref}"><v>{value!r}</v></c>')
                    elif value is not None:
                        index = strings.setdefault(str(value), len(strings))
                        cells.append(f'<c r="{ref}" t="s"><v>{index}</v></c>')
                sheet.write(f'<row r="{r}">{"".join(cells)}</row>'.encode())
            sheet.write(b"</sheetData></worksheet>")
        with z.open("xl/sharedStrings.xml", "w") as table:
            table.write(
                b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
                b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
            )
            for text in strings:
                table.write(f'<si><t xml:space="preserve">{xml_escape(text)}</t></si>'.encode())
            table.write(b"</sst>")
    return path
