"""invoices: a covering index for overdue checks per customer, a partial one of open
documents by due date, drafts by id

Revision ID: f7b2e4a6c8d0
Revises: e5a8d3c1f9b7
Create Date: 2026-12-01 14:10:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'f7b2e4a6c8d0'
down_revision = 'e5a8d3c1f9b7'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('invoices', schema=None) as batch_op:
        batch_op.drop_index('ix_invoices_customer_kind')
        batch_op.create_index('ix_invoices_customer_open',
                              ['customer_id', 'kind', 'status', 'open_amount', 'due_date'],
                              unique=False)
        open_only = sa.text('open_amount > 0')
        batch_op.create_index('ix_invoices_open_due', ['kind', 'status', 'due_date', 'id'],
                              unique=False, sqlite_where=open_only,
                              postgresql_where=open_only)
        batch_op.create_index('ix_invoices_status_id', ['status', 'id'], unique=False)


def downgrade():
    with op.batch_alter_table('invoices', schema=None) as batch_op:
        batch_op.drop_index('ix_invoices_status_id')
        batch_op.drop_index('ix_invoices_open_due')
        batch_op.drop_index('ix_invoices_customer_open')
        batch_op.create_index('ix_invoices_customer_kind', ['customer_id', 'kind', 'status'],
                              unique=False)
