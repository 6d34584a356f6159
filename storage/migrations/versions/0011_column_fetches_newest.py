"""column_fetches (column_id, id): each column's newest fetch found without reading its history (issue 13)

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30 18:00:00
"""
from alembic import op


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_column_fetches_column_newest', 'column_fetches', ['column_id', 'id'])


def downgrade() -> None:
    op.drop_index('ix_column_fetches_column_newest', table_name='column_fetches')
