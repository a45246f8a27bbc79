"""Activities: calls, emails, meetings, notes and tasks on a customer (and maybe a deal).

A customer's "last contacted" is derived from these (calls, emails and meetings that
happened), never typed in.
"""

from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    String,
    Text,
    func,
    select,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models import db
from models.customers import Contact, Customer
from models.users import User, utcnow
from models.versioned import Versioned

KINDS = ("call", "email", "meeting", "note", "task")
# Kinds that count as contact with the customer.
CONTACT_KINDS = ("call", "email", "meeting")


class Activity(Versioned, db.Model):
    """Something done, or to do, with a customer.

    Attributes:
        kind: one of KINDS.
        subject, body: what it was about; body "" when empty.
        due_at: when it is due (tasks, meetings); None for things already done.
        assignee_id: who should do it; None when nobody.
        done, done_at: whether (and when) it was done.
        customer_id: always set. deal_id, contact_id: None when not about one.
        created_by_id, created_at: who logged it, when.
    """

    __tablename__ = "activities"
    __audit__ = True
    __table_args__ = (
        CheckConstraint(f"kind IN {KINDS!r}", name="kind"),
        Index("ix_activities_assignee_done_due", "assignee_id", "done", "due_at"),
        Index("ix_activities_customer_created", "customer_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
    due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    done: Mapped[bool] = mapped_column(Boolean, default=False)
    done_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    deal_id: Mapped[int | None] = mapped_column(ForeignKey("deals.id", ondelete="SET NULL"),
                                                index=True)
    contact_id: Mapped[int | None] = mapped_column(
        ForeignKey("contacts.id", ondelete="SET NULL"))
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    customer: Mapped[Customer] = relationship(lazy="joined")
    assignee: Mapped[User | None] = relationship(foreign_keys=[assignee_id], lazy="joined")
    contact: Mapped[Contact | None] = relationship(lazy="joined")

    @property
    def audit_subject(self):
        return ("customer", self.customer_id)

    @property
    def happened_at(self) -> datetime:
        """When it took place: done time, else due time, else when it was logged."""
        return self.done_at or self.due_at or self.created_at


def last_contacted(customer_ids) -> dict[int, datetime]:
    """{customer id: when we last called, emailed or met them} for the given customers."""
    ids = list(customer_ids)
    if not ids:
        return {}
    when = func.max(func.coalesce(Activity.done_at, Activity.created_at))
    rows = db.session.execute(
        select(Activity.customer_id, when)
        .where(Activity.customer_id.in_(ids), Activity.kind.in_(CONTACT_KINDS),
               Activity.done.is_(True))
        .group_by(Activity.customer_id)
    ).all()
    return dict(rows)


def timeline(*, customer_id: int | None = None, deal_id: int | None = None,
             limit: int = 50) -> list[Activity]:
    """A customer's or a deal's activities, newest first."""
    query = select(Activity)
    if deal_id is not None:
        query = query.where(Activity.deal_id == deal_id)
    elif customer_id is not None:
        query = query.where(Activity.customer_id == customer_id)
    return list(db.session.scalars(
        query.order_by(Activity.created_at.desc(), Activity.id.desc()).limit(limit)).unique())
