"""Alembic environment: runs on the connection handed over by `storage.db.migrate`."""
from alembic import context

from storage.models import Base

connection = context.config.attributes.get("connection")
if connection is None:  # `alembic` command line: build an engine from the URL in the config
    from storage.db import get_engine

    connection = get_engine(context.config.get_main_option("sqlalchemy.url")).connect()



def include_name(name: str | None, type_: str, parent_names: object) -> bool:
    """APScheduler's job store creates and owns `apscheduler_jobs` (scheduler.py): autogenerate leaves it alone."""
    return not (type_ == "table" and name == "apscheduler_jobs")


context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True,
                  include_name=include_name)
with context.begin_transaction():
    context.run_migrations()
