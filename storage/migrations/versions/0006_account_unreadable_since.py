"""accounts: unreadable_since, when the account's reads began to fail (cleared by the next good read)

The centre's summary says since when an account could not be read. Accounts unreadable before this revision
take their last read as the start (the best the stored rows know).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 14:30:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('accounts') as batch:
        batch.add_column(sa.Column('unreadable_since', sa.DateTime(), nullable=True))
    op.execute("UPDATE accounts SET unreadable_since = last_read_at WHERE status = 'unreadable'")


def downgrade() -> None:
    with op.batch_alter_table('accounts') as batch:
        batch.drop_column('unreadable_since')
