"""Support cases: a customer's problem, its comment timeline, and credit requests that
the ledger turns into credit notes once approved."""

from datetime import datetime
from decimal import Decimal
from functools import cache

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Index, String, Text, bindparam, select
from sqlalchemy import case as case_
from sqlalchemy.orm import Mapped, lazyload, mapped_column, relationship

from models import db
from models.customers import Contact, Customer
from models.errors import Conflict, DomainError, NotAllowed
from models.types import Money
from models.users import User, utcnow
from models.versioned import Versioned

PRIORITIES = ("low", "normal", "high", "urgent")
STATUSES = ("open", "pending", "resolved", "closed")
CREDIT_STATUSES = ("requested", "approved", "rejected")


class SupportCase(Versioned, db.Model):
    """A customer's support case.

    Attributes:
        subject, description: what is wrong.
        priority: one of PRIORITIES. status: one of STATUSES.
        contact_id: who raised it; None when unknown. assignee_id: None when unassigned.
        resolved_at: when it was last resolved; None while open or pending.
    """

    __tablename__ = "cases"
    __audit__ = True
    __table_args__ = (
        CheckConstraint(f"priority IN {PRIORITIES!r}", name="priority"),
        CheckConstraint(f"status IN {STATUSES!r}", name="status"),
        Index("ix_cases_status_priority", "status", "priority"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"),
                                             index=True)
    contact_id: Mapped[int | None] = mapped_column(
        ForeignKey("contacts.id", ondelete="SET NULL"))
    subject: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    priority: Mapped[str] = mapped_column(String(10), default="normal")
    status: Mapped[str] = mapped_column(String(10), default="open")
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"),
                                                    index=True)
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    customer: Mapped[Customer] = relationship(lazy="joined")
    contact: Mapped[Contact | None] = relationship(lazy="joined")
    assignee: Mapped[User | None] = relationship(foreign_keys=[assignee_id], lazy="joined")
    comments: Mapped[list["CaseComment"]] = relationship(
        back_populates="case", cascade="all, delete-orphan", order_by="CaseComment.id")

    @property
    def audit_subject(self):
        return ("customer", self.customer_id)


class CaseComment(db.Model):
    """One entry in a case's timeline."""

    __tablename__ = "case_comments"
    __audit__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    case: Mapped[SupportCase] = relationship(back_populates="comments")
    author: Mapped[User | None] = relationship(lazy="joined")

    @property
    def audit_subject(self):
        return ("case", self.case_id)


class CreditRequest(Versioned, db.Model):
    """A request, from a case, to credit the customer.

    Attributes:
        amount, currency: how much, in the customer's account currency.
        reason: why.
        status: requested, then approved or rejected by finance.
        decided_by_id, decided_at, decision_note: the decision; None / "" until made.
        The credit note that settles it points back here (Invoice.credit_request_id).
    """

    __tablename__ = "credit_requests"
    __audit__ = True
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount"),
        CheckConstraint(f"status IN {CREDIT_STATUSES!r}", name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"),
                                             index=True)
    amount: Mapped[Decimal] = mapped_column(Money())
    currency: Mapped[str] = mapped_column(String(3))
    reason: Mapped[str] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(10), default="requested", index=True)
    requested_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"))
    requested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    decided_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decision_note: Mapped[str] = mapped_column(String(500), default="")

    case: Mapped[SupportCase] = relationship(lazy="joined")

    @property
    def audit_subject(self):
        return ("customer", self.customer_id)


# --- Rules -------------------------------------------------------------------------------

# Who does what with cases: support is everyone's job, but triage (status, assignee,
# priority) belongs to the people who work the queue, and credit decisions to finance.
CASE_ROLES = ("admin", "sales", "finance", "operations")
TRIAGE_ROLES = ("admin", "sales", "operations")
DECIDE_CREDIT_ROLES = ("admin", "finance")
OPEN_STATUSES = ("open", "pending")
# Most urgent first when the queue is sorted by priority.
PRIORITY_RANK = {"low": 0, "normal": 1, "high": 2, "urgent": 3}
MAX_SUBJECT = 200
MAX_TEXT = 10_000
MAX_REASON = 500


def _text(value: str | None, *, field: str, required: str | None = None,
          limit: int = MAX_TEXT) -> str:
    """`value` stripped; a DomainError when it is required and empty or too long."""
    value = (value or "").strip()
    if required and not value:
        raise DomainError(required, field=field)
    if len(value) > limit:
        raise DomainError(f"Use at most {limit:,} characters.", field=field)
    return value


def _check_contact(customer: Customer, contact: Contact | None) -> None:
    if contact is not None and contact.customer_id != customer.id:
        raise DomainError(f"That contact is not one of {customer.name}'s contacts.",
                          field="contact_id")


def _check_choice(value: str, allowed: tuple[str, ...], field: str) -> None:
    if value not in allowed:
        raise DomainError(f"Choose one of: {', '.join(allowed)}.", field=field)


def open_case(*, customer: Customer, subject: str, description: str = "",
              priority: str = "normal", contact: Contact | None = None,
              assignee: User | None = None, by: User | None = None) -> SupportCase:
    """A new open case for the customer; the contact must be one of the customer's."""
    subject = _text(subject, field="subject", required="Enter a subject.", limit=MAX_SUBJECT)
    description = _text(description, field="description")
    _check_choice(priority, PRIORITIES, "priority")
    _check_contact(customer, contact)
    case = SupportCase(customer=customer, customer_id=customer.id, contact=contact,
                       subject=subject, description=description, priority=priority,
                       status="open", assignee=assignee, created_by_id=by.id if by else None,
                       created_at=utcnow())
    db.session.add(case)
    db.session.flush()
    return case


def triage_case(case: SupportCase, *, status: str, priority: str, assignee: User | None,
                version: int | str | None, by: User) -> SupportCase:
    """Change a case's status, priority and assignee (version-checked).

    Resolving stamps `resolved_at`; reopening (open or pending) clears it; closing keeps it
    (or stamps it, when the case is closed without being resolved first).
    """
    if by.role not in TRIAGE_ROLES:
        raise NotAllowed("Only admins, sales and operations change a case's status.")
    case.check_version(version)
    _check_choice(status, STATUSES, "status")
    _check_choice(priority, PRIORITIES, "priority")
    if status == "resolved" and case.status != "resolved":
        case.resolved_at = utcnow()
    elif status in OPEN_STATUSES:
        case.resolved_at = None
    elif status == "closed" and case.resolved_at is None:
        case.resolved_at = utcnow()
    case.status = status
    case.priority = priority
    case.assignee = assignee
    return case


def add_comment(case: SupportCase, body: str, *, by: User | None) -> CaseComment:
    """A new entry at the end of the case's timeline."""
    body = _text(body, field="body", required="Write a comment.")
    comment = CaseComment(case_id=case.id, author=by, body=body, created_at=utcnow())
    db.session.add(comment)
    db.session.flush()
    return comment


def request_credit(case: SupportCase, *, amount: Decimal | None, reason: str,
                   by: User | None) -> CreditRequest:
    """Ask finance to credit the case's customer, in the customer's account currency."""
    if amount is None or amount <= 0:
        raise DomainError("Enter an amount above zero.", field="amount")
    reason = _text(reason, field="reason", required="Say why the customer should get a credit.",
                   limit=MAX_REASON)
    credit = CreditRequest(case_id=case.id, customer_id=case.customer_id, amount=amount,
                           currency=case.customer.account.currency, reason=reason,
                           status="requested", requested_by_id=by.id if by else None,
                           requested_at=utcnow(), decision_note="")
    db.session.add(credit)
    db.session.flush()
    return credit


def decide_credit(credit: CreditRequest, *, approve: bool, note: str,
                  version: int | str | None, by: User) -> CreditRequest:
    """Finance approves or rejects a requested credit (once; version-checked).

    A rejection needs a note saying why; an approval's note is optional.
    """
    if by.role not in DECIDE_CREDIT_ROLES:
        raise NotAllowed("Only finance or an admin decides on credits.")
    credit.check_version(version)
    if credit.status != "requested":
        raise Conflict(f"This credit was already {credit.status}.")
    note = _text(note, field="note", limit=MAX_REASON,
                 required=None if approve else "Say why the credit is rejected.")
    credit.status = "approved" if approve else "rejected"
    credit.decision_note = note
    credit.decided_by_id = by.id
    credit.decided_at = utcnow()
    return credit


def cases_for_customer(customer_id: int) -> list[SupportCase]:
    """The customer's open and pending cases, most urgent first, then newest."""
    return list(db.session.scalars(_cases_for_customer(), {"customer_id": customer_id}).unique())


@cache
def _cases_for_customer():
    # every customer page runs it: built once, the customer's id bound at each run
    return (select(SupportCase).options(lazyload(SupportCase.customer))
            .where(SupportCase.customer_id == bindparam("customer_id"),
                   SupportCase.status.in_(OPEN_STATUSES))
            .order_by(priority_rank().desc(), SupportCase.id.desc())
            .limit(50))


def priority_rank():
    """SQL: a case's priority as a number, urgent highest (for sorting the queue)."""
    return case_(PRIORITY_RANK, value=SupportCase.priority, else_=0)


def case_queue_query(*, statuses: tuple[str, ...] = OPEN_STATUSES,
                     priority: str | None = None, assignee_id: int | None = None,
                     unassigned: bool = False, customer_id: int | None = None):
    """The team queue filtered (values already whitelisted), unordered."""
    query = select(SupportCase).where(SupportCase.status.in_(statuses))
    if priority:
        query = query.where(SupportCase.priority == priority)
    if unassigned:
        query = query.where(SupportCase.assignee_id.is_(None))
    elif assignee_id is not None:
        query = query.where(SupportCase.assignee_id == assignee_id)
    if customer_id is not None:
        query = query.where(SupportCase.customer_id == customer_id)
    return query
