"""``python -m app.open311 keys create|list|revoke``: manage Open311 API keys (see the package docstring)."""
from __future__ import annotations

import argparse
import sys

from app import audit
from app.open311 import keys
from app.store import db
from config.settings import Settings, SettingsError


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
    try:
        settings = Settings.from_env()
    except SettingsError as err:
        raise SystemExit(f"pantau: bad setting {err}") from None
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = db.make_engine(settings.resolved_database_url())
    db.create_schema(engine)
    try:
        if args.command == "create":
            try:
                record, secret = keys.create_key(engine, args.name, args.rate)
            except ValueError as err:
                print(err, file=sys.stderr)
                return 2
            audit.record(engine, audit.cli_actor(), "key.create", record.key_id,
                         detail={"name": record.name, "rate_per_minute": record.rate_per_minute})
            print(f"key_id {record.key_id} ({record.name})")
            print(secret)
        elif args.command == "list":
            for record in keys.list_keys(engine):
                state = f"revoked {record.revoked_at.isoformat()}" if record.revoked_at else "live"
                print(f"{record.key_id}\t{record.name}\t{record.rate_per_minute or '-'}\t{state}")
        else:
            from app.services import Services

            services = Services.open_for_command()   # the revocation reaches the running web processes
            try:
                revoked = keys.revoke_key(engine, args.key_id, services.redis, services.keys)
            finally:
                services.close()
            if revoked:
                audit.record(engine, audit.cli_actor(), "key.revoke", args.key_id)
            if not revoked:
                print(f"no live key {args.key_id}", file=sys.stderr)
                return 1
            print(f"revoked {args.key_id}")
    finally:
        engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
