"""A loopback front for a plaintext tansu broker that adds what tansu's memory mode cannot: TLS with a
required client certificate, and SASL PLAIN / SCRAM-SHA-256 / SCRAM-SHA-512 authentication.

The proxy runs in a thread with its own event loop (the test's loop blocks while it waits for a
service process). With ``users``, a connection must authenticate first: ApiVersions is forwarded to
the broker, SaslHandshake and SaslAuthenticate (v0/v1) are answered here (RFC 5802 on the server
side), anything else before that closes the connection; after it, bytes are piped both ways.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import os
import ssl
import struct
import threading

SASL_HANDSHAKE, SASL_AUTHENTICATE, API_VERSIONS = 17, 36, 18
ILLEGAL_SASL_STATE, UNSUPPORTED_SASL_MECHANISM, SASL_AUTHENTICATION_FAILED = 34, 33, 58
MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")


class KafkaProxy:
    def __init__(
        self, port: int, upstream: int, *, tls: ssl.SSLContext | None = None, users: dict[str, str] | None = None
    ) -> None:
        self.port, self.upstream, self._tls, self._users = port, upstream, tls, users
        self.accepted = 0  # connections past TLS (with users: past authentication too)
        self.authenticated: list[tuple[str, str]] = []  # (mechanism, user)
        self.refused: list[tuple[str, str]] = []
        self._loop = asyncio.new_event_loop()
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> KafkaProxy:
        self._thread.start()
        assert self._started.wait(30), "the proxy did not start"
        return self

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(30)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(
            asyncio.start_server(self._serve, "127.0.0.1", self.port, ssl=self._tls)
        )
        self._started.set()
        self._loop.run_forever()
        self._loop.close()

    async def _shutdown(self) -> None:
        self._server.close()
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream)
        try:
            if self._users is not None and not await self._authenticate(reader, writer, up_reader, up_writer):
                return
            self.accepted += 1
            await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
            pass
        finally:
            for w in (writer, up_writer):
                with contextlib.suppress(ConnectionError, ssl.SSLError, RuntimeError):
                    w.close()

    async def _authenticate(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        up_reader: asyncio.StreamReader,
        up_writer: asyncio.StreamWriter,
    ) -> bool:
        assert self._users is not None
        mechanism: str | None = None
        scram: _Scram | None = None
        while True:
            frame = await _frame(reader)
            api_key, version, correlation = struct.unpack(">hhi", frame[:8])
            body = frame[10 + max(struct.unpack(">h", frame[8:10])[0], 0) :]  # after the client id
            if api_key == API_VERSIONS:
                up_writer.write(struct.pack(">i", len(frame)) + frame)
                await up_writer.drain()
                response = await _frame(up_reader)
                writer.write(struct.pack(">i", len(response)) + response)
            elif api_key == SASL_HANDSHAKE:
                wanted = _string(body, 0)[0]
                error = 0 if wanted in MECHANISMS else UNSUPPORTED_SASL_MECHANISM
                mechanism = wanted if error == 0 else None
                listed = b"".join(struct.pack(">h", len(m)) + m.encode() for m in MECHANISMS)
                _respond(writer, correlation, struct.pack(">hi", error, len(MECHANISMS)) + listed)
            elif api_key == SASL_AUTHENTICATE and mechanism is not None:
                (size,) = struct.unpack(">i", body[:4])
                token = body[4 : 4 + size]
                if mechanism == "PLAIN":
                    _, user, password = token.decode().split("\x00")
                    ok, reply, done = self._users.get(user) == password and user in self._users, b"", True
                else:
                    scram = scram or _Scram(mechanism, self._users)
                    ok, reply, done = scram.step(token)
                    user = scram.user
                if not ok:
                    self.refused.append((mechanism, user))
                    message = b"Authentication failed: invalid credentials"
                    _respond(writer, correlation, _auth_response(version, SASL_AUTHENTICATION_FAILED, message, b""))
                    await writer.drain()
                    return False
                _respond(writer, correlation, _auth_response(version, 0, None, reply))
                if done:
                    self.authenticated.append((mechanism, user))
                    await writer.drain()
                    return True
            else:
                return False  # nothing else before authentication
            await writer.drain()


class _Scram:
    """The server side of SCRAM-SHA-256/512 (RFC 5802, 7677), one conversation."""

    def __init__(self, mechanism: str, users: dict[str, str]) -> None:
        self._hash = "sha256" if mechanism == "SCRAM-SHA-256" else "sha512"
        self._users = users
        self._salt, self._iterations = os.urandom(16), 4096
        self.user = ""
        self._first_bare = self._server_first = ""

    def _hmac(self, key: bytes, msg: bytes) -> bytes:
        return hmac.new(key, msg, self._hash).digest()

    def step(self, token: bytes) -> tuple[bool, bytes, bool]:
        text = token.decode()
        if not self._server_first:
            self._first_bare = text.split(",", 2)[2]
            fields = dict(item.split("=", 1) for item in self._first_bare.split(","))
            self.user = fields["n"]
            nonce = fields["r"] + base64.b64encode(os.urandom(18)).decode()
            self._server_first = f"r={nonce},s={base64.b64encode(self._salt).decode()},i={self._iterations}"
            return self.user in self._users, self._server_first.encode(), False
        without_proof, proof = text.rsplit(",p=", 1)
        salted = hashlib.pbkdf2_hmac(self._hash, self._users[self.user].encode(), self._salt, self._iterations)
        client_key = self._hmac(salted, b"Client Key")
        stored_key = hashlib.new(self._hash, client_key).digest()
        auth_message = f"{self._first_bare},{self._server_first},{without_proof}".encode()
        signature = self._hmac(stored_key, auth_message)
        recovered = bytes(a ^ b for a, b in zip(base64.b64decode(proof), signature, strict=True))
        if not hmac.compare_digest(hashlib.new(self._hash, recovered).digest(), stored_key):
            return False, b"", True
        server_signature = self._hmac(self._hmac(salted, b"Server Key"), auth_message)
        return True, b"v=" + base64.b64encode(server_signature), True


async def _frame(reader: asyncio.StreamReader) -> bytes:
    (size,) = struct.unpack(">i", await reader.readexactly(4))
    return await reader.readexactly(size)


def _string(data: bytes, at: int) -> tuple[str, int]:
    (size,) = struct.unpack(">h", data[at : at + 2])
    return data[at + 2 : at + 2 + size].decode(), at + 2 + size


def _respond(writer: asyncio.StreamWriter, correlation: int, body: bytes) -> None:
    writer.write(struct.pack(">ii", 4 + len(body), correlation) + body)


def _auth_response(version: int, error: int, message: bytes | None, token: bytes) -> bytes:
    text = struct.pack(">h", -1) if message is None else struct.pack(">h", len(message)) + message
    body = struct.pack(">h", error) + text + struct.pack(">i", len(token)) + token
    return body + (struct.pack(">q", 0) if version >= 1 else b"")


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while chunk := await reader.read(65536):
            writer.write(chunk)
            await writer.drain()
    except (ConnectionError, ssl.SSLError):
        pass
    finally:
        with contextlib.suppress(ConnectionError, ssl.SSLError, RuntimeError):
            writer.close()
