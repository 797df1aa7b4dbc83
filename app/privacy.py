"""What the public may be shown of a report: sensitive categories and contact details in text.

The kiosk, Open311 and /lacak show a report only within these rules; staff actions refuse a text
that breaks them (``app.staff.actions``) and the public figures hide what falls under them (``app.public``).
"""
from __future__ import annotations

import re

from config.catalogue import BY_CODE

PUBLIC_TEXT_MAX = 280     # staff's public text for an item in public view

# Text shown to the public (staff's public text, resolve/reject notes) never carries a phone number
# or an e-mail address: staff may quote the citizen; these are refused when written and hidden when read.
_PHONE_IN_TEXT = re.compile(r"(\+?\d[\d .\-()]{7,}\d)")
_EMAIL_IN_TEXT = re.compile(r"[^\s@]+@[^\s@]+\.[^\s@]+")


def has_contact(text: str | None) -> bool:
    """Whether ``text`` holds something like a phone number or an e-mail address."""
    return bool(text) and bool(_PHONE_IN_TEXT.search(text) or _EMAIL_IN_TEXT.search(text))


def is_sensitive(category: str) -> bool:
    known = BY_CODE.get(category)
    return bool(known is None or known.sensitive)   # an unknown category is treated as sensitive
