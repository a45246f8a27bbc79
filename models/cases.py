"""Support cases: a customer's problem, its comment timeline, and credit requests that
the ledger turns into credit notes once approved."""

from datetime import datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models import db
from models.customers import Contact, Customer
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
        credit_note_id: set by the ledger when the credit note is posted (later issue).
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
