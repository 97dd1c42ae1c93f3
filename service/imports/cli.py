"""``contact-import file-server add|list|remove`` and ``contact-import secret-key``."""

from __future__ import annotations

import argparse
import os
import sys

import orjson
from pydantic import SecretStr

from service.config import Settings
from service.imports import servers
from service.imports.secrets import SealError, new_key
from service.store import db

COMMANDS = {"file-server", "secret-key"}


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    sub.add_parser("secret-key", help="print a new key for CIS_IMPORT_SECRET_KEY")
    fs = sub.add_parser("file-server", help="file servers a tenant's imports read from (iSales serverId)")
    fs_sub = fs.add_subparsers(dest="fs_command", required=True)
    add = fs_sub.add_parser("add", help="register (or replace) an SFTP file server; its password is sealed")
    add.add_argument("--tenant", required=True)
    add.add_argument("--id", dest="server_id", required=True, help="the server id requests name (serverId)")
    add.add_argument("--host", required=True)
    add.add_argument("--port", type=int, default=22)
    add.add_argument("--user", required=True)
    add.add_argument("--password-env", required=True, metavar="VAR", help="environment variable holding the password")
    add.add_argument("--base-path", default="/", help="folder that filePath is relative to")
    add.add_argument("--host-key", help='the server\'s OpenSSH public host key ("ssh-ed25519 AAAA...")')
    ls = fs_sub.add_parser("list", help="print the registered servers as JSON (no passwords)")
    ls.add_argument("--tenant")
    rm = fs_sub.add_parser("remove", help="forget a file server")
    rm.add_argument("--tenant", required=True)
    rm.add_argument("--id", dest="server_id", required=True)


async def run(settings: Settings, args: argparse.Namespace) -> int:
    if args.command == "secret-key":
        print(new_key())
        return 0
    conn = await db.connect(settings.database_url.get_secret_value())
    try:
        if args.fs_command == "add":
            password = os.environ.get(args.password_env)
            if password is None:
                print(f"environment variable {args.password_env} is not set", file=sys.stderr)
                return 2
            server = servers.FileServer(
                args.tenant,
                args.server_id,
                args.host,
                args.port,
                args.user,
                args.base_path,
                SecretStr(password),
                args.host_key,
            )
            try:
                await servers.add_file_server(conn, server, settings)
            except SealError as exc:
                print(exc, file=sys.stderr)
                return 2
        elif args.fs_command == "list":
            listed = [
                {
                    "tenant": s.tenant,
                    "id": s.server_id,
                    "host": s.host,
                    "port": s.port,
                    "user": s.username,
                    "base_path": s.base_path,
                    "host_key": s.host_key,
                }
                for s in await servers.list_file_servers(conn, args.tenant)
            ]
            sys.stdout.write(orjson.dumps(listed, option=orjson.OPT_INDENT_2).decode() + "\n")
        elif args.fs_command == "remove" and not await servers.remove_file_server(conn, args.tenant, args.server_id):
            print(f"no file server {args.server_id!r} for tenant {args.tenant!r}", file=sys.stderr)
            return 1
        return 0
    finally:
        await conn.close()
