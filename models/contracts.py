"""Contracts and their renewals: N days before a contract ends, a renewal deal opens
for the customer's owner, once (a unique key on the deal makes "once" hold under races)."""

from datetime import date, timedelta
from decimal import Decimal
from functools import cache

from sqlalchemy import (
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    SmallInteger,
    String,
    bindparam,
    select,
    text,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column, relationship, selectinload

from models import db
from models.customers import Customer
from models.errors import DomainError
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
    # The deal that renews this contract (deals.contract_id is unique); None until opened.
    renewal_deal = relationship("Deal", primaryjoin="Deal.contract_id == Contract.id",
                                foreign_keys="Deal.contract_id", uselist=False, viewonly=True,
                                lazy="select")

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


# --- Rules -------------------------------------------------------------------------------

CONTRACT_ROLES = ("admin", "sales")
MAX_NOTICE_DAYS = 730


def save_contract(contract: Contract, *, customer: Customer, title: str, starts_on: date | None,
                  ends_on: date | None, value: Decimal | None,
                  notice_days: int | None = DEFAULT_NOTICE_DAYS,
                  version: int | str | None = None) -> Contract:
    """Create (a new Contract) or update a contract, in the customer's account currency.

    The term must end after it starts; the value is zero or more; the notice period is
    0 to 730 days. An existing contract is version-checked.
    """
    if contract.id is not None:
        contract.check_version(version)
    title = (title or "").strip()
    if not title:
        raise DomainError("Enter a title.", field="title")
    if len(title) > 200:
        raise DomainError("Use at most 200 characters.", field="title")
    if starts_on is None:
        raise DomainError("Enter the date the contract starts.", field="starts_on")
    if ends_on is None:
        raise DomainError("Enter the date the contract ends.", field="ends_on")
    if ends_on <= starts_on:
        raise DomainError("The contract must end after it starts.", field="ends_on")
    if value is None or value < 0:
        raise DomainError("Enter a value of zero or more.", field="value")
    if notice_days is None:
        notice_days = DEFAULT_NOTICE_DAYS
    if not 0 <= notice_days <= MAX_NOTICE_DAYS:
        raise DomainError(f"Enter 0 to {MAX_NOTICE_DAYS} days.", field="notice_days")
    contract.customer = customer
    contract.customer_id = customer.id
    contract.title = title
    contract.starts_on = starts_on
    contract.ends_on = ends_on
    contract.value = value
    contract.currency = customer.account.currency
    contract.notice_days = notice_days
    if contract.id is None:
        db.session.add(contract)
    db.session.flush()
    return contract


def contracts_for_customer(customer_id: int) -> list[Contract]:
    """The customer's contracts, the one ending soonest first, each with its renewal deal."""
    return list(db.session.scalars(_contracts_for_customer(),
                                   {"customer_id": customer_id}).unique())


@cache
def _contracts_for_customer():
    # every customer page runs it: built once, the customer's id bound at each run
    return (select(Contract).where(Contract.customer_id == bindparam("customer_id"))
            .options(selectinload(Contract.renewal_deal))
            .order_by(Contract.ends_on, Contract.id))


def _claim_write_lock() -> None:
    """SQLite: take the write lock before reading, so two runs queue instead of both
    reading "not opened yet" and the second failing on a stale snapshot. (PostgreSQL
    needs nothing: the unique key on deals.contract_id decides the race.)"""
    if db.session.get_bind().dialect.name == "sqlite":
        db.session.execute(text("UPDATE contracts SET id = id WHERE 1 = 0"))


def open_renewals(today: date) -> list:
    """Open a renewal deal for every contract whose notice period has begun.

    For each contract due (not ended, no renewal yet) whose `renewal_opens_on` is today or
    earlier: a deal "Renewal: <title>" for the customer's owner (unassigned when there is
    none), in the first open stage, worth the contract's value, expected to close when the
    contract ends. A renewal opens once: running again opens nothing, and when two runs
    race, the unique key on the deal's contract makes one of them skip the contract.
    Returns the deals opened; the caller commits.
    """
    from models.pipeline import Stage, create_deal

    _claim_write_lock()
    due = [c for c in contracts_due(today) if c.renewal_opens_on <= today]
    if not due:
        return []
    stage = next((s for s in Stage.ordered() if s.is_open), None)
    if stage is None:
        raise DomainError("There is no open pipeline stage for renewals; an admin must add one.")
    opened = []
    for contract in due:
        try:
            with db.session.begin_nested():
                deal = create_deal(
                    customer=contract.customer, title=f"Renewal: {contract.title}"[:200],
                    owner=contract.customer.relationship_facet.owner, stage=stage,
                    amount=contract.value, expected_close=contract.ends_on,
                    contract_id=contract.id)
        except IntegrityError:
            # Another run opened this renewal first; theirs stands.
            continue
        opened.append(deal)
    return opened
