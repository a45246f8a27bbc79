"""account balances per month

Revision ID: 9b1f0c2d7a31
Revises: 76f4711b899a
Create Date: 2026-12-01 13:05:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '9b1f0c2d7a31'
down_revision = '76f4711b899a'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'account_balances',
        sa.Column('account_id', sa.Integer(), nullable=False),
        sa.Column('month', sa.Date(), nullable=False),
        sa.Column('debit', sa.BigInteger(), nullable=False),
        sa.Column('credit', sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(['account_id'], ['accounts.id'],
                                name=op.f('fk_account_balances_account_id_accounts'),
                                ondelete='RESTRICT'),
        sa.PrimaryKeyConstraint('account_id', 'month', name=op.f('pk_account_balances')),
    )
    # the books posted before this table existed
    if op.get_bind().dialect.name == 'postgresql':
        month = "date_trunc('month', entry_date)::date"
    else:
        month = "date(entry_date, 'start of month')"
    op.execute(f"INSERT INTO account_balances (account_id, month, debit, credit) "
               f"SELECT account_id, {month}, SUM(debit), SUM(credit) FROM journal_lines "
               f"GROUP BY account_id, {month}")


def downgrade():
    op.drop_table('account_balances')
