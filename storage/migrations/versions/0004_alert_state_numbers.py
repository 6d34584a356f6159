"""alert_state: the numbers of the finding a unit was told about (measure, limit, since)

"Worse" compares these numbers (monitors.alerts.compose) instead of reading them back from the Chinese
detail. Nullable: rows told before this revision have none and fall back to the detail.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 12:10:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('alert_state') as batch:
        batch.add_column(sa.Column('measure', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('limit_value', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('since', sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('alert_state') as batch:
        batch.drop_column('since')
        batch.drop_column('limit_value')
        batch.drop_column('measure')
