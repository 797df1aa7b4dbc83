"""One module per screen: how it reacts. Each registers its callbacks through ``register(app, services)``;
nothing registers at import."""
from __future__ import annotations

import importlib

from app.auth.screen_ids import ScreenIds
from callbacks import router

# Screens in the order they are registered; each has layouts/<name>.py (PATH or PATHS, layout)
# and, when it reacts to anything, callbacks/<name>.py (register).
SCREENS = ["home", "wall", "dispatch", "tugas", "lapor", "lacak", "kiosk", "kinerja"]


def register_all(dash_app, services) -> ScreenIds:
    """Register every screen's callbacks; answers which screen each callback and component id is
    (what the sign-in and wall guards protect)."""
    screens, ids = {}, ScreenIds()
    for name in SCREENS:
        layout_module = importlib.import_module(f"layouts.{name}")
        for path in router.paths_of(layout_module):
            screens[path] = layout_module
        try:
            module = importlib.import_module(f"callbacks.{name}")
        except ModuleNotFoundError as err:
            if err.name != f"callbacks.{name}":
                raise
            continue
        before = set(dash_app.callback_map)
        module.register(dash_app, services)
        ids.register(router.paths_of(layout_module)[0], dash_app.callback_map, set(dash_app.callback_map) - before)
    router.register(dash_app, services, screens)
    return ids
