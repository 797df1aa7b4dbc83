"""``python -m app.kinerja``: the weekly report on demand or on its schedule, the rollups, subscribers.

    python -m app.kinerja weekly [--week 2026-W48] [--lang id|en] [--no-mail]
    python -m app.kinerja schedule          # Monday 07.00 in the city's zone: last week's report, mailed
    python -m app.kinerja rollup [--rebuild]
    python -m app.kinerja subscribe EMAIL [--agency DLH] | unsubscribe EMAIL | subscribers
"""
from __future__ import annotations

import argparse
import logging
import signal
import sys
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from app import kinerja
from app.kinerja import mail, weekly

log = logging.getLogger("pantau.kinerja")
SEND_AT_HOUR = 7   # Monday 07.00 local time


def run_week(services, monday, lang=None, send=True, force=True) -> list:
    """Build (and mail) one week's reports, once: the week is claimed first (``weekly.claim``),
    so a second scheduler, a restart or the command at the same moment neither builds nor mails
    it again. ``force`` (the command): rebuild a week built already, not one being built."""
    week = kinerja.iso_week(monday)
    city = services.preset.slug
    owner = weekly.claim(services.engine, city, week, force=force)
    if owner is None:
        log.info("weekly report %s: built or being built by another process; left alone", week)
        return []
    try:
        files = weekly.build(services, monday, lang=lang)
        sent = mail.send_week(services, week, monday, monday + timedelta(days=6), files, lang=lang) if send else 0
    except BaseException:
        weekly.release(services.engine, city, week, owner)
        raise
    weekly.finished(services.engine, city, week, owner, len(files))
    log.info("weekly report %s: %d files, %d e-mails", week, len(files), sent)
    return files


def due_week(now_local: datetime, settings) -> "datetime.date | None":
    """The week to build now: after Monday 07.00, last week's, unless its city PDF exists."""
    monday = kinerja.week_start(now_local.date())
    if now_local < datetime.combine(monday, datetime.min.time(), now_local.tzinfo).replace(hour=SEND_AT_HOUR):
        return None
    last = monday - timedelta(days=7)
    done = weekly.folder(settings, kinerja.iso_week(last)) / f"pantau-{kinerja.iso_week(last)}-city.pdf"
    return None if done.exists() else last


def schedule(services, every_s: float = 60.0) -> None:
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))
    zone = ZoneInfo(services.preset.timezone)
    while not stopping:
        monday = due_week(datetime.now(zone), services.settings)
        if monday is not None:
            try:
                run_week(services, monday, force=False)
            except Exception:   # noqa: BLE001  logged; tried again next minute, the stack keeps running
                log.exception("weekly report failed")
        for _ in range(int(every_s * 2)):
            if stopping:
                break
            time.sleep(0.5)


def main(argv=None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    parser = argparse.ArgumentParser(prog="python -m app.kinerja", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    w = sub.add_parser("weekly", help="build (and mail) one week's reports")
    w.add_argument("--week", help="ISO week, e.g. 2026-W48 (default: last full week)")
    w.add_argument("--lang", choices=("id", "en"))
    w.add_argument("--no-mail", action="store_true")
    sub.add_parser("schedule", help="Monday 07.00 local: build and mail last week's reports")
    r = sub.add_parser("rollup", help="recompute the marked days (or every day with --rebuild)")
    r.add_argument("--rebuild", action="store_true")
    s = sub.add_parser("subscribe", help="a head who gets the weekly report by e-mail")
    s.add_argument("email")
    s.add_argument("--agency", help="only this agency's report (default: the city's)")
    u = sub.add_parser("unsubscribe")
    u.add_argument("email")
    sub.add_parser("subscribers")
    args = parser.parse_args(argv)

    from app.services import Services
    from app.store import rollups

    services = Services.open_for_command()
    preset = services.preset
    try:
        if args.command == "weekly":
            today = datetime.now(ZoneInfo(preset.timezone)).date()
            try:
                monday = kinerja.parse_iso_week(args.week) if args.week else weekly.last_full_week(today)
            except kinerja.FilterInvalid as err:
                raise SystemExit(f"pantau: {err}") from None
            files = run_week(services, monday, lang=args.lang, send=not args.no_mail)
            if not files:
                raise SystemExit(f"pantau: the report of {kinerja.iso_week(monday)} is being built by "
                                 "another process; try again when it is done")
            for path in files:
                print(path)
        elif args.command == "schedule":
            schedule(services)
        elif args.command == "rollup":
            n = (rollups.rebuild if args.rebuild else rollups.refresh_dirty)(services.engine, preset.slug,
                                                                            preset.timezone)
            print(f"{n} days recomputed")
        elif args.command == "subscribe":
            try:
                mail.subscribe(services.engine, preset, args.email, args.agency or "city")
            except mail.SubscriberInvalid as err:
                raise SystemExit(f"pantau: {err}") from None
            print(f"{args.email}: {args.agency or 'city'}")
        elif args.command == "unsubscribe":
            print(f"{mail.unsubscribe(services.engine, args.email)} removed")
        else:
            for email, scope in mail.listed(services.engine, preset.slug):
                print(f"{email}\t{scope}")
    finally:
        services.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
