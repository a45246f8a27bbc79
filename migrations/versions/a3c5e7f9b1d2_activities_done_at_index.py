"""activities: what each person ticked off lately, by date

Revision ID: a3c5e7f9b1d2
Revises: f7b2e4a6c8d0
Create Date: 2026-12-01 14:15:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'a3c5e7f9b1d2'
down_revision = 'f7b2e4a6c8d0'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('activities', schema=None) as batch_op:
        batch_op.create_index('ix_activities_assignee_done_at',
                              ['assignee_id', 'done', 'done_at'], unique=False)


def downgrade():
    with op.batch_alter_table('activities', schema=None) as batch_op:
        batch_op.drop_index('ix_activities_assignee_done_at')
