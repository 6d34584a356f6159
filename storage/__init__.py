"""SQLAlchemy 2 storage: models, one engine/session factory, Alembic migrations and named queries."""
