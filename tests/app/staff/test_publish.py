"""Putting a resolved report in public view: checked, audited, and what the public then sees."""
from app import public
from app.staff import actions
from app.store import approvals
from tests.app.staff.conftest import seed
from tests.app.staff.test_staff_permissions import DISPATCHED_DLH, to_state


def _resolved(services, row):
    return to_state(services, row, DISPATCHED_DLH + [("resolved", {})])


def test_publish_shows_the_staff_text_and_unpublish_takes_it_back(services, as_user):
    rows = seed(services, count=3, categories=["garbage"])
    row = rows[0]
    _resolved(services, row)
    supervisor = as_user("super1")
    base = f"/staff/api/reports/{row.id}"

    response = supervisor.post(f"{base}/publish", json={"public_text": "  Sampah sudah diangkut DLH  "})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["published"] is True
    # The kiosk's recently resolved items and the Open311 description carry the approved words only.
    items = public.recently_resolved(services)["items"]
    assert [i["text"] for i in items] == ["Sampah sudah diangkut DLH"]
    listed = supervisor.get(f"/open311/v2/requests/{row.ticket}.json").get_json()[0]
    assert listed["description"] == "Sampah sudah diangkut DLH"
    # Audited, with who and what; visible in the report's history and detail.
    history = actions.history(services.engine, row.id)
    assert [(h["action"], h["actor"], h["detail"]) for h in history if h["action"] == "publish"] == [
        ("publish", "supervisor:super1", {"public_text": "Sampah sudah diangkut DLH"})]
    detail = supervisor.get(base).get_json()
    assert detail["public"]["by"] == "supervisor:super1" and detail["public"]["text"] == "Sampah sudah diangkut DLH"

    response = supervisor.post(f"{base}/unpublish", json={})
    assert response.status_code == 200 and response.get_json()["published"] is False
    assert public.recently_resolved(services)["items"] == []
    assert supervisor.get(f"/open311/v2/requests/{row.ticket}.json").get_json()[0]["description"] is None
    assert supervisor.get(base).get_json()["public"] is None
    again = supervisor.post(f"{base}/unpublish", json={})
    assert again.status_code == 422 and again.get_json()["error"] == "report: is not in public view"
    assert [h["action"] for h in actions.history(services.engine, row.id)].count("unpublish") == 1


def test_publish_refusals_are_precise(services, as_user):
    rows = seed(services, count=4, categories=["garbage", "garbage", "garbage", "health"])
    garbage = [r for r in rows if r.category == "garbage"]
    health = [r for r in rows if r.category == "health"]
    assert len(garbage) == 3 and len(health) == 1
    open_row, resolved_row, other = garbage
    _resolved(services, resolved_row)
    operator = as_user("oper1")

    def publish(row, text=None, who=operator):
        response = who.post(f"/staff/api/reports/{row.id}/publish", json={"public_text": text})
        return response.status_code, response.get_json()["error"] if response.status_code != 200 else None

    assert publish(open_row) == (422, "status: only resolved or closed reports are published (this one is new)")
    assert publish(resolved_row, "Hubungi Pak Budi di 0812-3456-7890") == (
        422, "public_text: must not contain a phone number or an e-mail address")
    assert publish(resolved_row, "tanya budi@contoh.id") == (
        422, "public_text: must not contain a phone number or an e-mail address")
    assert publish(resolved_row, "x" * 281) == (422, "public_text: at most 280 characters (got 281)")
    officer = as_user("dlh1")
    assert publish(resolved_row, who=officer)[0] == 403
    # A sensitive category never appears one by one, whoever asks.
    sensitive = health[0]
    to_state(services, sensitive, [("verified", {}), ("dispatched", {"agency": sensitive.agency}), ("resolved", {})])
    assert publish(sensitive, who=as_user("admin1")) == (
        422, "category: reports of a sensitive category are never published one by one")
    assert publish(resolved_row) == (200, None)   # no text: photos only
    assert approvals.approval_of(services.engine, resolved_row.id)["text"] is None
    assert approvals.approval_of(services.engine, other.id) is None


def test_the_readme_matrix_is_the_code_matrix():
    from app.auth import permissions
    from tests.conftest import ROOT

    assert permissions.matrix_markdown() in (ROOT / "README.md").read_text()


def test_the_shell_command_takes_the_same_checked_and_audited_path(services, monkeypatch, capsys):
    from app.public import main
    from tests.app.staff.test_auth_cli import _env

    _env(monkeypatch, services)
    rows = seed(services, count=2, categories=["garbage"])
    _resolved(services, rows[0])
    ticket = rows[0].ticket
    assert main(["approve", ticket, "--text", "WA 0812-3456-7890"]) == 2
    assert "must not contain a phone number" in capsys.readouterr().err
    assert main(["approve", rows[1].ticket]) == 2                     # still open
    assert main(["approve", ticket, "--text", "Sampah sudah diangkut"]) == 0
    assert approvals.approval_of(services.engine, rows[0].id)["text"] == "Sampah sudah diangkut"
    assert main(["revoke", ticket]) == 0 and approvals.approval_of(services.engine, rows[0].id) is None
    audited = [(h["action"], h["actor"].split(":")[0]) for h in actions.history(services.engine, rows[0].id)
               if h["action"] in ("publish", "unpublish")]
    assert audited == [("publish", "cli"), ("unpublish", "cli")]
