"""finding_states, finding_events, web_state: the dashboard's 整改 loop and its secret (issue 12)

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 17:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'finding_states',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('unit', sa.String(200), nullable=False),
        sa.Column('rule', sa.String(50), nullable=False),
        sa.Column('target', sa.String(1000), nullable=False),
        sa.Column('state', sa.String(20), nullable=False),
        sa.Column('note', sa.Text(), nullable=False),
        sa.Column('updated_by', sa.String(200), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.Column('opened_at', sa.DateTime(), nullable=False),
        sa.Column('deadline', sa.Date(), nullable=True),
        sa.UniqueConstraint('unit', 'rule', 'target'),
    )
    op.create_table(
        'finding_events',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('state_id', sa.Integer(), sa.ForeignKey('finding_states.id'), nullable=False),
        sa.Column('state', sa.String(20), nullable=False),
        sa.Column('note', sa.Text(), nullable=False),
        sa.Column('actor', sa.String(200), nullable=False),
        sa.Column('at', sa.DateTime(), nullable=False),
    )
    op.create_index('ix_finding_events_state_id', 'finding_events', ['state_id'])
    op.create_table(
        'web_state',
        sa.Column('key', sa.String(50), primary_key=True),
        sa.Column('value', sa.Text(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table('web_state')
    op.drop_table('finding_events')
    op.drop_table('finding_states')
