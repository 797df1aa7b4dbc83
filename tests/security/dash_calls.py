"""What a script (not the browser) sends to Dash: a callback request built from the app's own
callback map, with the values the stranger chooses, posted with the Flask test client."""
from __future__ import annotations

import json


def find_callback(server, contains: str) -> str:
    """The output string of the one callback whose outputs mention ``contains``."""
    matches = [o for o in server.extensions["dash"].callback_map if contains in o]
    assert len(matches) == 1, matches
    return matches[0]


def body_for(server, output: str, values: dict, changed: list[str] | None = None) -> dict:
    """A request body as the renderer sends it; ``values`` maps "id.property" to a value."""
    callback = server.extensions["dash"].callback_map[output]

    def items(declared):
        return [{"id": d["id"], "property": d["property"],
                 "value": values.get(f"{d['id']}.{d['property']}")} for d in declared]

    outs = callback["output"]

    def plain(ident):   # a pattern-matching id's wildcards (ALL) as the renderer writes them, ["ALL"]
        return {k: (json.loads(v.to_json()) if hasattr(v, "to_json") else v) for k, v in ident.items()} \
            if isinstance(ident, dict) else ident

    outputs = ([{"id": plain(o.component_id), "property": o.component_property} for o in outs]
               if isinstance(outs, list) else {"id": plain(outs.component_id), "property": outs.component_property})
    inputs = items(callback["inputs"])
    return {"output": output, "outputs": outputs, "inputs": inputs, "state": items(callback["state"]),
            "changedPropIds": changed if changed is not None else [f"{i['id']}.{i['property']}" for i in inputs
                                                                  if i["value"] is not None][:1]}


def call(client, server, contains: str, values: dict, changed: list[str] | None = None, address=None, **kw):
    """Post one callback (from ``address``); answers the Flask response."""
    body = body_for(server, find_callback(server, contains), values, changed)
    if address:
        kw["environ_base"] = {"REMOTE_ADDR": address}
    return client.post("/_dash-update-component", data=json.dumps(body), content_type="application/json", **kw)


def lapor_visit(client, server, address=None) -> str:
    """Open /lapor as a browser would (the shell renders the page) and answer its form token."""
    response = call(client, server, "shell-page.children",
                    {"shell-location.pathname": "/lapor", "shell-location.search": ""},
                    changed=["shell-location.pathname"], address=address)
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    found = _store_data(json.loads(response.get_data(as_text=True)), "lapor-form-token")
    assert found, "no lapor-form-token in the page"
    return found


def rendered(response) -> str:
    """The callback's answer as text (what the page would show)."""
    return response.get_data(as_text=True)


def _store_data(node, wanted):
    if isinstance(node, dict):
        props = node.get("props")
        if isinstance(props, dict) and props.get("id") == wanted:
            return props.get("data")
        for value in node.values():
            got = _store_data(value, wanted)
            if got:
                return got
    elif isinstance(node, list):
        for value in node:
            got = _store_data(value, wanted)
            if got:
                return got
    return None
