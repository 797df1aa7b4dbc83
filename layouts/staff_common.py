"""Pieces both staff screens share: status colours, SLA badges, the signed-in bar, photo links."""
from __future__ import annotations

from dash import dcc, html

from app.i18n import t
from app.web_paths import url

# Red waiting, yellow in progress, green done: the convention citizens and officers know.
STATUS_COLOUR = {"new": "danger", "verified": "danger", "reopened": "danger", "dispatched": "warning",
                 "in_progress": "warning", "resolved": "success", "closed": "success", "rejected": "secondary"}
SLA_COLOUR = {"breached": "danger", "due_soon": "warning", "ok": "success", "done": "secondary"}


def current_staff():
    """The signed-in staff user, or None (screens render nothing private without one)."""
    from flask import has_request_context
    from flask_login import current_user

    if has_request_context() and current_user.is_authenticated:
        return current_user._get_current_object()
    return None


def status_badge(status: str) -> html.Span:
    return html.Span(status.replace("_", " "), className=f"badge bg-{STATUS_COLOUR.get(status, 'secondary')} "
                     "me-1 status-badge", **{"data-status": status})


def sla_badge(item: dict) -> html.Span:
    state = item.get("sla_state", "done")
    return html.Span(item.get("countdown") or "—", className=f"badge bg-{SLA_COLOUR.get(state, 'secondary')} "
                     "sla-badge", **{"data-sla": state})


def signed_in_bar(user, lang: str, csrf: str) -> html.Div:
    return html.Div([
        html.Span(t("staff.signed_in", lang, user=user.username,
                    role=user.role + (f" · {user.agency}" if user.agency else "")), className="me-3"),
        html.Form([dcc.Input(type="hidden", name="csrf_token", value=csrf),
                   html.Button(t("staff.logout", lang), type="submit", className="btn btn-sm btn-outline-light")],
                  method="POST", action=url("/logout"), style={"display": "inline"}),
    ], className="text-end small my-2")


def photo(ref: str, label: str) -> html.Figure:
    return html.Figure([html.Img(src=url(f"/photos/{ref}"), style={"maxWidth": "100%", "maxHeight": "220px"}),
                        html.Figcaption(label)], className="me-2")


def not_allowed(lang: str) -> html.Div:
    return html.Div(html.P(t("staff.not_allowed", lang)), className="container mt-5")
