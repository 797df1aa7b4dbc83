"""Open311 GeoReport v2 under ``/open311/v2/``: the standard civic-issue API.

Endpoints (each as ``.json`` or ``.xml``): ``discovery``, ``services``,
``services/<service_code>``, ``requests`` (GET and POST), ``requests/<id>``,
``tokens/<token>``; the OpenAPI document at ``/open311/v2/openapi.json``.
A ``service_request_id`` is the report's public ticket (``JKT-ABCDE-FGHIJ``);
the ``token`` a POST answers is the report's id.

POST needs an API key. Keys are kept hashed in the database and managed with::

    python -m app.open311 keys create --name "Kota app" [--rate 600]   # prints the key once
    python -m app.open311 keys list
    python -m app.open311 keys revoke <key_id>

(The command reads the same environment as the server: ``DATABASE_URL``,
``PANTAU_DATA_DIR``...). Requests are rate limited per key
(``PANTAU_OPEN311_KEY_RATE`` a minute, or the key's own ``--rate``) and per
client address (``PANTAU_OPEN311_ADDRESS_RATE`` a minute); over the limit the
answer is 429 with ``Retry-After``. GET answers never carry personal data, and
reports of sensitive categories are shown only at a coarse location (the
centre of their H3 resolution-7 cell) without description or address.
"""
