"""WSGI entry for production servers (gunicorn -k gevent -w 1 wsgi:app): the Dash pages, the API and ops."""
from app.factory import create_app

app = create_app()
