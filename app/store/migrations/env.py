"""Alembic's environment for Pantau: always run from ``app.store.migrate`` with a live connection."""
from alembic import context

import app.store.schema  # noqa: F401  every feature's tables are on the metadata
from app.store.db import metadata
from app.store.migrate import include_object

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, compare_type=False, include_object=include_object,
                  render_as_batch=connection.dialect.name == "sqlite")   # SQLite alters by copying the table
with context.begin_transaction():
    context.run_migrations()
