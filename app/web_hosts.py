"""A host per city on a several-city install (``PANTAU_CITY_HOSTS=kupang.pantau.example=kupang``).

Every request is resolved by its own ``Host`` (after ``ProxyFix`` with ``PANTAU_PROXIES``, the
proxy's ``X-Forwarded-Host``): on a city's host a path that names no city is that city's —
``kupang.pantau.example/wall`` is ``/kupang/wall``, ``/`` is Kupang's own start page — by prefixing
the city before the install's ``DispatcherMiddleware`` sees the path, so inside the city's app
nothing differs from the path-mounted city (its links keep ``/kupang/…``, which the host serves
too). A path that names a city (``/jakarta/…``) or the install (``/overview``) is left alone. Any
host not listed (an address, ``localhost``, the install's own name) gets the install as it is: the
list of cities at ``/``, each city under its path.
"""
from __future__ import annotations

from config.settings import SettingsError

INSTALL_PATHS = ("overview", "overview.js")


class CityHosts:
    """WSGI middleware in front of the install's dispatcher."""

    def __init__(self, app, hosts: tuple[tuple[str, str], ...], cities: tuple[str, ...]):
        unknown = sorted({city for _, city in hosts} - set(cities))
        if unknown:
            raise SettingsError("PANTAU_CITY_HOSTS", f"names {', '.join(unknown)}, not in PANTAU_CITIES "
                                                     f"({', '.join(cities)})")
        self.app = app
        self.hosts = dict(hosts)
        self.kept = set(cities) | set(INSTALL_PATHS)

    def city_of(self, environ) -> str | None:
        """The city this request's host serves, or None."""
        host = environ.get("HTTP_HOST") or environ.get("SERVER_NAME") or ""
        if host.startswith("["):          # an IPv6 literal: never a city's host
            return None
        return self.hosts.get(host.rsplit(":", 1)[0].rstrip(".").lower())

    def __call__(self, environ, start_response):
        city = self.city_of(environ) if self.hosts else None
        if city is not None:
            path = environ.get("PATH_INFO") or "/"
            first = path.lstrip("/").split("/", 1)[0]
            if first not in self.kept:
                environ["PATH_INFO"] = f"/{city}" + (path if path.startswith("/") else "/" + path)
        return self.app(environ, start_response)
