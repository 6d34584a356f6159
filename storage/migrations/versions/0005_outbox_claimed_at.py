"""outbox: claimed_at, when a sender last claimed the row (pending/failed → sending)

A row left `sending` by a dead sender is judged stale by this time, not by when it was written. Nullable:
rows claimed before this revision have none and fall back to created_at.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 13:40:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('outbox') as batch:
        batch.add_column(sa.Column('claimed_at', sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('outbox') as batch:
        batch.drop_column('claimed_at')
