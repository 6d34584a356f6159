"""Alembic environment: runs on the connection handed over by `storage.db.migrate`."""
from alembic import context

from storage.models import Base

connection = context.config.attributes.get("connection")
if connection is None:  # `alembic` command line: build an engine from the URL in the config
    from storage.db import get_engine

    connection = get_engine(context.config.get_main_option("sqlalchemy.url")).connect()

context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
