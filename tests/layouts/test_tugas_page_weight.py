"""The officer's list page (/tugas) is light enough for 3G (bench/tugas.py: <= 300 KB, <= 5 s): it
names no map library, no Bootstrap components, no polyfill and no other screen's files; a task's own
page (/tugas/<ticket>) carries the map library it draws. The list's first page is drawn with the
screen itself (no callback round trip before the first card)."""
import json
import re

from tests.app.staff.conftest import PASSWORD, login, seed, staff_app  # noqa: F401 (a fixture)
from tests.app.staff.test_staff_permissions import DISPATCHED_DLH, to_state


def _scripts_and_styles(html: str) -> list[str]:
    return re.findall(r'<(?:script|link)\b[^>]*?\b(?:src|href)="([^"]+)"', html)


def test_list_page_leaves_out_what_it_does_not_draw(staff_app):
    client = staff_app.test_client()
    assert login(client, "dlh1", PASSWORD)
    names = _scripts_and_styles(client.get("/tugas").get_data(as_text=True))
    assert any("dash_core_components" in n for n in names) and any("tugas.js" in n for n in names)
    assert any("tugas.css" in n for n in names) and any("00-bootstrap-darkly" in n for n in names)
    for left_out in ("dash_leaflet", "dash_bootstrap_components", "dash_table", "polyfill@", "wall.js",
                     "kiosk", "dispatch.js", "lapor", "lacak", "/vendor/", "citizen-bootstrap"):
        assert not any(left_out in n for n in names), left_out
    task = _scripts_and_styles(client.get("/tugas/JKT-ANY").get_data(as_text=True))
    assert any("dash_leaflet" in n for n in task)
    assert not any("dash_bootstrap_components" in n or "wall.js" in n for n in task)
    # another screen keeps what it had
    other = staff_app.test_client()
    assert login(other, "super1", PASSWORD)
    assert any("dash_bootstrap_components" in n for n in _scripts_and_styles(other.get("/dispatch").get_data(as_text=True)))


def test_first_page_of_cards_comes_with_the_screen(staff_app, services):
    rows = seed(services, count=3, categories=["garbage"])
    for row in rows:
        to_state(services, row, DISPATCHED_DLH)
    client = staff_app.test_client()
    assert login(client, "dlh1", PASSWORD)
    body = {"output": "shell-page.children", "outputs": {"id": "shell-page", "property": "children"},
            "inputs": [{"id": "shell-location", "property": "pathname", "value": "/tugas"},
                       {"id": "shell-location", "property": "hash", "value": ""}],
            "state": [{"id": "shell-location", "property": "search", "value": ""}],
            "changedPropIds": ["shell-location.pathname"]}
    answer = client.post("/_dash-update-component", data=json.dumps(body), content_type="application/json")
    assert answer.status_code == 200
    text = answer.get_data(as_text=True)
    assert text.count('"tugas-card"') == 3, text[:400]
    for row in rows:
        assert row.ticket in text
    assert "3 tugas" in text
