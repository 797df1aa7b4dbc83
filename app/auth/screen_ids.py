"""Which screen each Dash callback and component id belongs to, registered in one place.

``callbacks.register_all`` registers every screen's callbacks and records here what each one
declared (its output, inputs and states); the sign-in guard (``app.auth.web``) and the wall's
(``app.auth.displays``) protect what is recorded, so a staff id needs no naming convention to be
protected: a callback a staff screen registers is a staff callback.
"""
from __future__ import annotations

from dataclasses import dataclass, field


class IdClaimed(ValueError):
    """Two screens declared the same component id (ids are per-screen: ``dispatch-queue``)."""


def _name(ident) -> str:
    """A component id as recorded: the id itself, or a pattern-matching id's ``type``."""
    if isinstance(ident, dict):
        return str(ident["type"]) if "type" in ident else ",".join(sorted(map(str, ident)))
    return str(ident)


def declared_ids(callback: dict) -> list[str]:
    """The component ids a callback (an entry of Dash's ``callback_map``) declares."""
    outputs = callback.get("output")
    outputs = outputs if isinstance(outputs, list) else [outputs] if outputs is not None else []
    names = [_name(getattr(o, "component_id", None)) for o in outputs]
    names += [_name(item["id"]) for item in list(callback.get("inputs") or []) + list(callback.get("state") or [])]
    return names


@dataclass
class ScreenIds:
    by_output: dict[str, str] = field(default_factory=dict)   # a callback's output key -> screen path
    by_id: dict[str, str] = field(default_factory=dict)       # a component id -> screen path

    def register(self, screen: str, callback_map: dict, outputs) -> None:
        """Record the callbacks ``outputs`` (keys of ``callback_map``) as ``screen``'s."""
        for output in outputs:
            self.by_output[output] = screen
            for name in declared_ids(callback_map[output]):
                owner = self.by_id.setdefault(name, screen)
                if owner != screen:
                    raise IdClaimed(f"component id {name!r} is declared by {owner} and {screen}")

    def screen_of(self, payload) -> str | None:
        """The screen a Dash callback request touches: by the callback it names, or by any
        component id it carries (a crafted body naming no callback is still caught)."""
        if not isinstance(payload, dict):
            return None
        screen = self.by_output.get(str(payload.get("output", "")))
        if screen:
            return screen
        outputs = payload.get("outputs")
        items = outputs if isinstance(outputs, list) else [outputs] if outputs else []
        items = items + list(payload.get("inputs") or []) + list(payload.get("state") or [])
        for item in items:
            for part in (item if isinstance(item, list) else [item]):
                if isinstance(part, dict) and _name(part.get("id")) in self.by_id:
                    return self.by_id[_name(part.get("id"))]
        return None
