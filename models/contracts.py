"""Contracts and their renewals: N days before a contract ends, a renewal deal opens
for the customer's owner, once (a unique key on the deal makes "once" hold under races)."""

from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, SmallInteger, String, select
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models import db
from models.customers import Customer
from models.types import Money
from models.versioned import Versioned

DEFAULT_NOTICE_DAYS = 60


class Contract(Versioned, db.Model):
    """A customer contract that ends and may be renewed.

    Attributes:
        title: what it covers. starts_on, ends_on: its term.
        value, currency: what a renewal is worth, in the account currency.
        notice_days: how long before `ends_on` the renewal deal opens (default 60).
    """

    __tablename__ = "contracts"
    __audit__ = True
    __table_args__ = (
        CheckConstraint("notice_days BETWEEN 0 AND 730", name="notice_days"),
        CheckConstraint("value >= 0", name="value"),
        Index("ix_contracts_ends_on", "ends_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"),
                                             index=True)
    title: Mapped[str] = mapped_column(String(200))
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    value: Mapped[Decimal] = mapped_column(Money(), default=Decimal("0.00"))
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    notice_days: Mapped[int] = mapped_column(SmallInteger, default=DEFAULT_NOTICE_DAYS)

    customer: Mapped[Customer] = relationship(lazy="joined")

    @property
    def audit_subject(self):
        return ("customer", self.customer_id)

    @property
    def renewal_opens_on(self) -> date:
        return self.ends_on - timedelta(days=self.notice_days)


def contracts_due(today: date) -> list[Contract]:
    """Contracts inside their notice period, not yet ended, without a renewal deal."""
    from models.pipeline import Deal

    return list(db.session.scalars(
        select(Contract)
        .outerjoin(Deal, Deal.contract_id == Contract.id)
        .where(Deal.id.is_(None), Contract.ends_on >= today)
        .order_by(Contract.ends_on, Contract.id)
    ).unique())
