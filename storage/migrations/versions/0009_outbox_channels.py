"""outbox: channel, "email" (SMTP, every row so far) or "apprise" (钉钉, 企业微信, webhooks) (issue 12)

An apprise row's recipient is one Apprise URL as settings write it ({env:NAME} placeholders, never the
secret); its key is its email's key and a digest of that URL, so (alert, channel, recipient) is written once.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 17:20:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('outbox') as batch:
        batch.add_column(sa.Column('channel', sa.String(20), nullable=False, server_default='email'))


def downgrade() -> None:
    with op.batch_alter_table('outbox') as batch:
        batch.drop_column('channel')
