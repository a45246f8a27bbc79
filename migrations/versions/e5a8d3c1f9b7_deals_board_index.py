"""deals: board column index

Revision ID: e5a8d3c1f9b7
Revises: d41c7e9a0b52
Create Date: 2026-12-01 14:00:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'e5a8d3c1f9b7'
down_revision = 'd41c7e9a0b52'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('deals', schema=None) as batch_op:
        batch_op.create_index('ix_deals_stage_close', ['stage_id', 'expected_close', 'id'],
                              unique=False)


def downgrade():
    with op.batch_alter_table('deals', schema=None) as batch_op:
        batch_op.drop_index('ix_deals_stage_close')
