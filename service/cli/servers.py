"""``contact-import file-server add|list|remove`` and ``contact-import secret-key``."""

from __future__ import annotations

import argparse

from pydantic import SecretStr

from service.cli.console import CliError, add_json_flag, add_secret_flags, confirm, print_rows, read_secret
from service.config import Settings
from service.sealing import SealError, new_key
from service.store import db
from service.store import file_servers as servers

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
    add_secret_flags(add, "password")
    add.add_argument("--base-path", default="/", help="folder that filePath is relative to")
    add.add_argument("--host-key", help='the server\'s OpenSSH public host key ("ssh-ed25519 AAAA...")')
    ls = fs_sub.add_parser("list", help="the registered servers as a table (--json: JSON lines); no passwords")
    ls.add_argument("--tenant")
    add_json_flag(ls)
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
            password = read_secret(args, "password")
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
                raise CliError(str(exc), 2) from exc
            confirm(f"file server {args.tenant}/{args.server_id} added")
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
            print_rows(listed, ("tenant", "id", "host", "port", "user", "base_path", "host_key"), args.json)
        elif args.fs_command == "remove":
            if not await servers.remove_file_server(conn, args.tenant, args.server_id):
                raise CliError(f"no file server {args.server_id!r} for tenant {args.tenant!r}")
            confirm(f"file server {args.tenant}/{args.server_id} removed")
        return 0
    finally:
        await conn.close()
