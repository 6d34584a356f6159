"""column_fetches: the total a column's page states and the posts stored for it after the fetch

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30 11:40:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('column_fetches') as batch:
        batch.add_column(sa.Column('stated_total', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('listed', sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('column_fetches') as batch:
        batch.drop_column('listed')
        batch.drop_column('stated_total')
