"""trigram search indexes on PostgreSQL

Revision ID: d41c7e9a0b52
Revises: 9b1f0c2d7a31
Create Date: 2026-12-01 13:50:00

Searching inside names (`LIKE '%text%'`) cannot use a b-tree; pg_trgm's GIN indexes
serve it (and prefix and case-insensitive matches too). PostgreSQL only: these indexes are left out of the
schema comparison (models.POSTGRES_ONLY_INDEXES). pg_trgm is a trusted extension, so the
database's owner may create it.
"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'd41c7e9a0b52'
down_revision = '9b1f0c2d7a31'
branch_labels = None
depends_on = None

INDEXES = [
    ('ix_customers_search_name_trgm', 'customers', 'search_name'),
    ('ix_customers_email_trgm', 'customers', 'email'),
    ('ix_customer_accounts_code_trgm', 'customer_accounts', 'account_code'),
    ('ix_products_search_name_trgm', 'products', 'search_name'),
]


def upgrade():
    if op.get_bind().dialect.name != 'postgresql':
        return
    op.execute('CREATE EXTENSION IF NOT EXISTS pg_trgm')
    for name, table, column in INDEXES:
        op.execute(f'CREATE INDEX {name} ON {table} USING gin ({column} gin_trgm_ops)')


def downgrade():
    if op.get_bind().dialect.name != 'postgresql':
        return
    for name, _, _ in INDEXES:
        op.execute(f'DROP INDEX {name}')
