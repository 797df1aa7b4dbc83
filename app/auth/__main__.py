"""``python -m app.auth users create --username ... --role ... [--agency ...]``.

The password comes from ``PANTAU_NEW_USER_PASSWORD`` when set (scripts),
otherwise from a hidden prompt asked twice.
"""
from __future__ import annotations

import argparse
import getpass
import os
import sys

from app.auth.permissions import ROLES


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app.auth")
    sub = parser.add_subparsers(dest="group", required=True)
    users_cmd = sub.add_parser("users").add_subparsers(dest="command", required=True)
    create = users_cmd.add_parser("create", help="create a staff account")
    create.add_argument("--username", required=True)
    create.add_argument("--role", required=True, choices=ROLES)
    create.add_argument("--agency", help="agency code of the city preset (agency_officer only)")
    args = parser.parse_args(argv)

    from app.auth.users import UserInvalid, create_user
    from app.services import Services

    password = os.environ.get("PANTAU_NEW_USER_PASSWORD")  # noqa: the CLI's own input, not a setting
    if not password:
        password = getpass.getpass("Password: ")
        if password != getpass.getpass("Password again: "):
            print("passwords differ", file=sys.stderr)
            return 2
    services = Services.open_for_command()
    try:
        user = create_user(services.engine, services.preset, args.username, password, args.role,
                           args.agency)
    except UserInvalid as err:
        print(err, file=sys.stderr)
        return 2
    finally:
        services.close()
    print(f"created {user.username} ({user.role}{', ' + user.agency if user.agency else ''})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
