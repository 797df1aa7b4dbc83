"""WSGI entry for running the app under another server or process manager.

``python -m app serve`` is the supported way (gunicorn, one ``gthread`` worker per core, see
``app/server.py``); by hand that is ``gunicorn -k gthread -w 2 --threads 64 wsgi:app`` with
``SECRET_KEY`` set. The worker class must carry the wall's WebSocket push: gthread does.
"""
from app.factory import create_app

app = create_app()
