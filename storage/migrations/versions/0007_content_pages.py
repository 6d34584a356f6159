"""pages, page_links, page_hits, link_checks: what the content checks read on pages and links (issue 11)

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 17:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'pages',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('url', sa.String(2000), nullable=False, unique=True),
        sa.Column('kind', sa.String(10), nullable=False),
        sa.Column('column_id', sa.Integer(), sa.ForeignKey('columns.id'), nullable=True),
        sa.Column('site_url', sa.String(1000), nullable=True),
        sa.Column('run_id', sa.Integer(), sa.ForeignKey('crawl_runs.id'), nullable=True),
        sa.Column('fetched_at', sa.DateTime(), nullable=False),
        sa.Column('title', sa.Text(), nullable=False),
        sa.Column('meta_missing', sa.String(300), nullable=False),
        sa.Column('newest_date', sa.Date(), nullable=True),
        sa.Column('dated_items', sa.Integer(), nullable=False),
        sa.Column('links_skipped', sa.Integer(), nullable=False),
    )
    op.create_index('ix_pages_column_id', 'pages', ['column_id'])
    op.create_index('ix_pages_run_id', 'pages', ['run_id'])
    op.create_table(
        'page_links',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('page_id', sa.Integer(), sa.ForeignKey('pages.id', ondelete='CASCADE'), nullable=False),
        sa.Column('url', sa.String(2000), nullable=False),
        sa.Column('kind', sa.String(12), nullable=False),
        sa.Column('text', sa.Text(), nullable=False),
    )
    op.create_index('ix_page_links_page_id', 'page_links', ['page_id'])
    op.create_index('ix_page_links_url', 'page_links', ['url'])
    op.create_table(
        'page_hits',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('page_id', sa.Integer(), sa.ForeignKey('pages.id', ondelete='CASCADE'), nullable=False),
        sa.Column('rule', sa.String(30), nullable=False),
        sa.Column('term', sa.String(200), nullable=False),
        sa.Column('suggestion', sa.String(200), nullable=False),
        sa.Column('context', sa.Text(), nullable=False),
        sa.Column('serious', sa.Boolean(), nullable=False),
    )
    op.create_index('ix_page_hits_page_id', 'page_hits', ['page_id'])
    op.create_table(
        'link_checks',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('url', sa.String(2000), nullable=False, unique=True),
        sa.Column('checked_at', sa.DateTime(), nullable=False),
        sa.Column('ok', sa.Boolean(), nullable=True),
        sa.Column('http_status', sa.Integer(), nullable=True),
        sa.Column('outcome', sa.Text(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table('link_checks')
    op.drop_table('page_hits')
    op.drop_table('page_links')
    op.drop_table('pages')
