"""One module per screen: how it reacts. Each registers its callbacks through ``register(app, services)``;
nothing registers at import."""
from __future__ import annotations


def register_all(dash_app, services) -> None:
    from callbacks import router

    router.register(dash_app, services)
