"""Staff accounts and the audit log from the command line (it needs shell access to the server).

    python -m app.auth users create --username ani --role supervisor [--agency DLH] [--city kupang]
    python -m app.auth users add-city ani --city tarakan --role operator   # a role in another city
    python -m app.auth users remove-city ani --city tarakan
    python -m app.auth users list
    python -m app.auth users disable ani        # someone left: no sign-in, open sessions end
    python -m app.auth users enable ani         # sessions from before the disable stay ended
    python -m app.auth users set-password ani   # forgotten or leaked: every open session ends
    python -m app.auth users sign-out ani       # a lost phone or copied cookie: every session ends
    python -m app.auth audit [--limit 50] [--subject ani]
    python -m app.auth displays create --name "Ruang kontrol 1" [--url https://pantau.example.go.id]
    python -m app.auth displays create --overview --name "Ruang gubernur"   # the overview of every city
    python -m app.auth displays list
    python -m app.auth displays revoke <display_id>   # the screen stops at once, its open push closed

A password comes from ``PANTAU_NEW_USER_PASSWORD`` when set (scripts), otherwise from a hidden
prompt asked twice. Every change is written to the audit log with the operating-system account
that ran the command. Failed sign-ins never lock an account (``app.auth.throttle``).
"""
from __future__ import annotations

import argparse
import getpass
import sys

from app.auth.permissions import ROLES
from config.cities import PRESETS
from config.settings import Settings


def _password() -> str | None:
    password = Settings.for_command().new_user_password
    if password:
        return password
    password = getpass.getpass("Password: ")
    if password != getpass.getpass("Password again: "):
        print("passwords differ", file=sys.stderr)
        return None
    return password


def _when(moment) -> str:
    return moment.isoformat(timespec="seconds") if moment else "-"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app.auth", description="staff accounts and the audit log")
    sub = parser.add_subparsers(dest="group", required=True)
    users_cmd = sub.add_parser("users").add_subparsers(dest="command", required=True)
    create = users_cmd.add_parser("create", help="create a staff account")
    create.add_argument("--username", required=True)
    create.add_argument("--role", required=True, choices=ROLES)
    create.add_argument("--agency", help="agency code of the city preset (agency_officer and head only)")
    create.add_argument("--city", choices=sorted(PRESETS), help="the city the account works in (default PANTAU_CITY)")
    add_city = users_cmd.add_parser("add-city", help="give an account a role in another city (ends its sessions)")
    add_city.add_argument("username")
    add_city.add_argument("--city", required=True, choices=sorted(PRESETS))
    add_city.add_argument("--role", required=True, choices=ROLES)
    add_city.add_argument("--agency", help="agency code of that city (agency_officer and head only)")
    remove_city = users_cmd.add_parser("remove-city", help="take a city from an account (ends its sessions)")
    remove_city.add_argument("username")
    remove_city.add_argument("--city", required=True, choices=sorted(PRESETS))
    users_cmd.add_parser("list", help="every account, its role and state (never a password)")
    for name, text in (("disable", "disable an account: no sign-in, open sessions end"),
                       ("enable", "re-enable a disabled account"),
                       ("set-password", "give an account a new password (ends its open sessions)"),
                       ("sign-out", "end every open session of an account (its password stays)")):
        users_cmd.add_parser(name, help=text).add_argument("username")
    audit_cmd = sub.add_parser("audit", help="the newest audit log entries")
    audit_cmd.add_argument("--limit", type=int, default=50)
    audit_cmd.add_argument("--subject", help="only entries about this account or key id")
    displays_cmd = sub.add_parser("displays", help="wall display tokens for unattended screens").add_subparsers(
        dest="command", required=True)
    dcreate = displays_cmd.add_parser("create", help="a new display token; prints the URL to open on the screen")
    dcreate.add_argument("--name", required=True, help="where the screen is, e.g. \"Ruang kontrol 1\"")
    dcreate.add_argument("--url", help="the server's base URL (default: PANTAU_PUBLIC_URL, else PANTAU_HOST:PANTAU_PORT)")
    dcreate.add_argument("--overview", action="store_true",
                         help="a screen for the overview of every city (PANTAU_CITIES) instead of one city's wall")
    dlist = displays_cmd.add_parser("list", help="every display token of the city and its state (never the token)")
    drevoke = displays_cmd.add_parser("revoke", help="revoke a display token: the screen stops at once")
    drevoke.add_argument("display_id")
    for command in (dlist, drevoke):
        command.add_argument("--overview", action="store_true", help="the overview's display tokens")
    args = parser.parse_args(argv)
    if args.group == "displays":
        return _displays(args)

    from app import audit
    from app.auth import users
    from app.services import Services

    password = None
    if args.group == "users" and args.command in ("create", "set-password"):
        password = _password()
        if password is None:
            return 2
    services = Services.open_for_command()
    actor, engine = audit.cli_actor(), services.engine
    try:
        if args.group == "audit":
            for entry in reversed(audit.recent(engine, max(1, args.limit), args.subject)):
                print(f"{_when(entry['at'])}\t{entry['actor']}\t{entry['action']}\t{entry['subject']}\t"
                      f"{entry['origin']}\t{entry['address'] or '-'}\t{entry['detail'] or ''}")
            return 0
        if args.command == "list":
            for u in users.list_users(engine):
                state = "disabled" if u["disabled_at"] else "active"
                cities = ",".join(f"{c}:{r}" for c, r in sorted(users.cities_of(engine, u["username"]).items()))
                print(f"{u['username']}\t{u['role']}\t{u['agency'] or '-'}\t{state}\t"
                      f"last sign-in {_when(u['last_login_at'])}\t{cities or u['city']}")
            return 0
        if args.command == "create":
            preset = PRESETS[args.city] if args.city else services.preset
            user = users.create_user(engine, preset, args.username, password, args.role, args.agency)
            audit.record(engine, actor, "user.create", user.username,
                         detail={"role": user.role, "agency": user.agency, "city": user.city})
            print(f"created {user.username} ({user.role}{', ' + user.agency if user.agency else ''}) in {user.city}")
            return 0
        if args.command == "add-city":
            user = users.add_city(engine, PRESETS[args.city], args.username, args.role, args.agency)
            audit.record(engine, actor, "user.add_city", user.username,
                         detail={"city": user.city, "role": user.role, "agency": user.agency, "sessions_ended": True})
            print(f"{user.username} works in {user.city} as {user.role}; its open sessions ended")
            return 0
        if args.command == "remove-city":
            if not users.remove_city(engine, args.username, args.city):
                print(f"{args.username} has no role in {args.city}", file=sys.stderr)
                return 1
            audit.record(engine, actor, "user.remove_city", args.username.strip().lower(),
                         detail={"city": args.city, "sessions_ended": True})
            print(f"{args.username} no longer works in {args.city}; its open sessions ended")
            return 0
        username = args.username.strip().lower()
        with engine.begin() as conn:
            if args.command == "disable":
                changed = users.disable_user(engine, username, actor, conn=conn)
            elif args.command == "enable":
                changed = users.enable_user(engine, username, conn=conn)
            elif args.command == "sign-out":
                users.end_sessions(engine, username, conn=conn)
                changed = True
            else:
                users.set_password(engine, username, password, conn=conn)
                changed = True
            if changed:
                audit.record(engine, actor, f"user.{args.command}", username, conn=conn,
                             detail={"sessions_ended": True})
        if not changed:
            print(f"{username} is {'disabled' if args.command == 'disable' else 'not disabled'} already",
                  file=sys.stderr)
            return 1
        print({"disable": f"disabled {username}", "enable": f"enabled {username}",
               "set-password": f"new password set for {username}; its open sessions ended",
               "sign-out": f"every open session of {username} ended"}[args.command])
        return 0
    except users.UserInvalid as err:
        print(err, file=sys.stderr)
        return 2
    finally:
        services.close()


def _base_url(services, given: str | None) -> str:
    if given:
        return given.rstrip("/")
    if services.settings.public_url:   # PANTAU_PUBLIC_URL
        return services.settings.public_url.rstrip("/")
    host = services.settings.host
    return f"http://{'127.0.0.1' if host in ('0.0.0.0', '::', '') else host}:{services.settings.port}"


def _displays(args) -> int:
    from app import audit
    from app.auth import displays
    from app.services import Services

    services = Services.open_for_command()
    actor, engine, city = audit.cli_actor(), services.engine, services.preset.slug
    if getattr(args, "overview", False):
        from app.overview import OVERVIEW

        city = OVERVIEW
    try:
        if args.command == "list":
            for display in displays.list_displays(engine, city):
                print(displays.describe(display))
            return 0
        if args.command == "create":
            try:
                display, token = displays.create_display(engine, city, args.name)
            except ValueError as err:
                print(err, file=sys.stderr)
                return 2
            audit.record(engine, actor, "display.create", display.display_id, detail={"name": display.name})
            print(f"created display {display.display_id} ({display.name}); open this URL on the screen "
                  f"(shown once; it signs the screen in to the wall only):")
            page = "/overview" if args.overview else (
                f"/{city}{displays.WALL}" if services.settings.multi_city else displays.WALL)
            print(f"{_base_url(services, args.url)}{page}?{displays.QUERY}={token}")
            return 0
        with engine.begin() as conn:
            changed = displays.revoke_display(engine, city, args.display_id, conn=conn)
            if changed:
                audit.record(engine, actor, "display.revoke", args.display_id, conn=conn)
        if not changed:
            print(f"no live display {args.display_id} in {city}", file=sys.stderr)
            return 1
        try:   # the open push connections close at once (else within PANTAU_DISPLAY_CHECK_S)
            services.redis.publish(services.keys.display_revoked_channel, args.display_id)
        except Exception as err:  # noqa: BLE001
            print(f"warning: Redis not reached ({err}); open walls stop within PANTAU_DISPLAY_CHECK_S",
                  file=sys.stderr)
        print(f"revoked display {args.display_id}")
        return 0
    finally:
        services.close()


if __name__ == "__main__":
    sys.exit(main())
