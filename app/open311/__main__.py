"""``python -m app.open311 keys create|list|revoke``: manage Open311 API keys (see the package docstring)."""
from __future__ import annotations

import argparse
import sys

from app import audit
from app.open311 import api_keys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app.open311", description="Open311 API keys")
    commands = parser.add_subparsers(dest="group", required=True)
    key_commands = commands.add_parser("keys", help="create, list or revoke API keys").add_subparsers(
        dest="command", required=True)
    create = key_commands.add_parser("create", help="create a key and print it once")
    create.add_argument("--name", required=True, help="who the key is for, e.g. 'Kota app'")
    create.add_argument("--rate", type=int, default=None, help="requests a minute (default: the setting)")
    key_commands.add_parser("list", help="list keys (never the secrets)")
    revoke = key_commands.add_parser("revoke", help="revoke a key by its id")
    revoke.add_argument("key_id")
    args = parser.parse_args(argv)
    from app.services import Services

    services = Services.open_for_command()   # Redis too: a revocation reaches the running web processes
    engine, actor = services.engine, audit.cli_actor()
    try:
        if args.command == "create":
            try:
                record, secret = api_keys.create_key(engine, args.name, args.rate)
            except ValueError as err:
                print(err, file=sys.stderr)
                return 2
            audit.record(engine, actor, "key.create", record.key_id,
                         detail={"name": record.name, "rate_per_minute": record.rate_per_minute})
            print(f"key_id {record.key_id} ({record.name})")
            print(secret)
        elif args.command == "list":
            for record in api_keys.list_keys(engine):
                state = f"revoked {record.revoked_at.isoformat()}" if record.revoked_at else "live"
                print(f"{record.key_id}\t{record.name}\t{record.rate_per_minute or '-'}\t{state}")
        else:
            if not api_keys.revoke_key(engine, args.key_id, services.redis, services.keys):
                print(f"no live key {args.key_id}", file=sys.stderr)
                return 1
            audit.record(engine, actor, "key.revoke", args.key_id)
            print(f"revoked {args.key_id}")
    finally:
        services.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
