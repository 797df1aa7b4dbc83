"""Pantau: the application package. ``create_app`` lives in ``app.factory``."""
