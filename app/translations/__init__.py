"""Translation entries, one module per screen (``ENTRIES = {key: {"id": ..., "en": ...}}``),
merged by ``app.i18n`` at first use."""
