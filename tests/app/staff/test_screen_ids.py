"""Ids that protect: what a staff screen registers is what the sign-in guard refuses to a stranger,
whatever its ids are called, and no callback elsewhere touches a staff screen's ids (issue 11)."""
import json

import dash
import pytest
from dash import Input, Output

from app.auth import permissions
from app.auth.screen_ids import IdClaimed, ScreenIds, declared_ids
from layouts import dispatch, kinerja, tugas
from tests.security.dash_calls import body_for

STAFF_LAYOUTS = {"/dispatch": dispatch, "/tugas": tugas, "/kinerja": kinerja}


def post(client, body):
    return client.post("/_dash-update-component", data=json.dumps(body), content_type="application/json")


def test_every_callback_a_staff_screen_registers_is_refused_to_a_stranger(staff_app):
    ids = staff_app.extensions["pantau_screen_ids"]
    staff_outputs = [output for output, screen in ids.by_output.items() if screen in permissions.SCREENS]
    assert {ids.by_output[output] for output in staff_outputs} == set(permissions.SCREENS)
    client = staff_app.test_client()
    for output in staff_outputs:
        assert post(client, body_for(staff_app, output, {})).status_code == 401, output
    # a crafted body that names no callback at all, only a staff screen's component
    crafted = {"output": "nothing.children", "outputs": {"id": "nothing", "property": "children"},
               "inputs": [{"id": dispatch.QUEUE, "property": "children", "value": None}], "changedPropIds": []}
    assert post(client, crafted).status_code == 401


def test_no_callback_outside_a_staff_screen_touches_its_ids(staff_app):
    ids = staff_app.extensions["pantau_screen_ids"]
    for screen, module in STAFF_LAYOUTS.items():
        names = {value for name, value in vars(module).items()
                 if name.isupper() and isinstance(value, str) and value != module.PATH}
        for output, callback in staff_app.extensions["dash"].callback_map.items():
            touched = names & set(declared_ids(callback))
            assert not touched or ids.by_output.get(output) == screen, (output, sorted(touched))


def test_a_screen_registers_its_own_ids_only():
    app = dash.Dash(__name__)

    @app.callback(Output("staff-x", "children"), Input("staff-x-go", "n_clicks"))
    def staff(_):
        return ""

    ids = ScreenIds()
    ids.register("/dispatch", app.callback_map, list(app.callback_map))
    assert ids.screen_of({"output": "staff-x.children"}) == "/dispatch"
    assert ids.screen_of({"output": "other.children",
                          "inputs": [{"id": "staff-x-go", "property": "n_clicks", "value": 1}]}) == "/dispatch"
    assert ids.screen_of({"output": "other.children", "inputs": [{"id": "other", "property": "value"}]}) is None

    @app.callback(Output("public-y", "children"), Input("staff-x-go", "n_clicks"))
    def public(_):
        return ""

    with pytest.raises(IdClaimed):
        ids.register("/lapor", app.callback_map, ["public-y.children"])
