"""Who may see and do what: the one role/permission matrix (copied to the README).

Plain data. ``ACTIONS`` are the staff actions of the JSON API and the
screens; ``SCREENS`` the staff pages. An agency officer's rights are further
scoped to the one agency the account is bound to (``scope_agency``).
"""
from __future__ import annotations

# "head": the head of one agency (kepala OPD): reads /kinerja for that agency, changes nothing.
ROLES = ("admin", "supervisor", "operator", "agency_officer", "head")

# action -> roles allowed to perform it
ACTIONS: dict[str, frozenset[str]] = {
    "view_queue":  frozenset({"admin", "supervisor", "operator", "agency_officer"}),
    "verify":      frozenset({"admin", "supervisor", "operator"}),
    "reject":      frozenset({"admin", "supervisor", "operator"}),
    "merge":       frozenset({"admin", "supervisor", "operator"}),
    "assign":      frozenset({"admin", "supervisor"}),
    "bulk_assign": frozenset({"admin", "supervisor"}),
    "priority":    frozenset({"admin", "supervisor"}),
    "start":       frozenset({"admin", "supervisor", "agency_officer"}),
    "note":        frozenset({"admin", "supervisor", "operator", "agency_officer"}),
    "resolve":     frozenset({"admin", "supervisor", "agency_officer"}),
    "export":      frozenset({"admin", "supervisor", "operator"}),
    "publish":     frozenset({"admin", "supervisor", "operator"}),
    "escalations": frozenset({"admin", "supervisor", "operator"}),
    "acknowledge_incident": frozenset({"admin", "supervisor", "operator"}),
    "manage_users": frozenset({"admin"}),
}

# screen path -> roles that may open it
SCREENS: dict[str, frozenset[str]] = {
    "/dispatch": frozenset({"admin", "supervisor", "operator"}),
    "/tugas":    frozenset({"admin", "supervisor", "agency_officer"}),
    "/kinerja":  frozenset({"admin", "supervisor", "head"}),
}

# Roles whose every read and write is limited to the reports of their own agency.
AGENCY_SCOPED = frozenset({"agency_officer", "head"})


def can(role: str | None, action: str) -> bool:
    return role in ACTIONS.get(action, frozenset())


def can_open(role: str | None, path: str) -> bool:
    return role in SCREENS.get(path, frozenset())


def scope_agency(role: str, agency: str | None) -> str | None:
    """The agency a user's view is limited to (None: the whole city)."""
    return agency if role in AGENCY_SCOPED else None


def matrix_markdown() -> str:
    """The matrix as a Markdown table, for the README."""
    head = "| action / screen | " + " | ".join(ROLES) + " |\n|---|" + "---|" * len(ROLES) + "\n"
    rows = [f"| {name} | " + " | ".join("yes" if r in allowed else "—" for r in ROLES) + " |"
            for name, allowed in list(ACTIONS.items()) + list(SCREENS.items())]
    return head + "\n".join(rows) + "\n"
