"""Activities: calls, emails, meetings, notes and tasks on a customer (and maybe a deal).

A customer's "last contacted" is derived from these (calls, emails and meetings that
happened), never typed in.
"""

import hmac
import secrets
from datetime import UTC, datetime, time, timedelta
from functools import cache

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    String,
    Text,
    bindparam,
    func,
    select,
)
from sqlalchemy.orm import (
    Mapped,
    joinedload,
    lazyload,
    mapped_column,
    relationship,
)

from models import db
from models.customers import Contact, Customer
from models.errors import DomainError, NotAllowed
from models.paging import Page, keyset_page
from models.users import User, as_utc, utcnow
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
        Index("ix_activities_assignee_done_at", "assignee_id", "done", "done_at"),
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
    # The deal it is about; lists that name it load it with the list (timeline, followups).
    deal = relationship("Deal", viewonly=True, lazy="select")

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
    return dict(db.session.execute(_last_contacted(), {"ids": ids}).all())


@cache
def _last_contacted():
    # built once, the ids bound at each run: a list page runs it on every request
    when = func.max(func.coalesce(Activity.done_at, Activity.created_at))
    return (select(Activity.customer_id, when)
            .where(Activity.customer_id.in_(bindparam("ids", expanding=True)),
                   Activity.kind.in_(CONTACT_KINDS), Activity.done.is_(True))
            .group_by(Activity.customer_id))


def timeline(*, customer_id: int | None = None, deal_id: int | None = None,
             limit: int = 50) -> list[Activity]:
    """A customer's or a deal's activities, newest first."""
    by = "deal" if deal_id is not None else ("customer" if customer_id is not None else None)
    values = {"id": deal_id if by == "deal" else customer_id, "limit": limit}
    return list(db.session.scalars(_timeline(by), values).unique())


@cache
def _timeline(by: str | None):
    # every record page runs one: built once per kind, the id and the limit bound
    # every row is the same customer's, already loaded with the page: not joined again
    query = select(Activity).options(lazyload(Activity.customer))
    if by == "deal":
        query = query.where(Activity.deal_id == bindparam("id"))
    elif by == "customer":
        # a customer's timeline names each activity's deal: loaded with the page
        query = query.where(Activity.customer_id == bindparam("id")).options(
            joinedload(Activity.deal).lazyload("*"))
    return (query.order_by(Activity.created_at.desc(), Activity.id.desc())
            .limit(bindparam("limit")))


# --- Rules: logging, ticking off, follow-up lists, the calendar feed ------------------------

# A call, email, meeting or note is usually logged after it happened; a task is to do.
DONE_BY_DEFAULT = {"call": True, "email": True, "meeting": True, "note": True, "task": False}
KIND_LABELS = {"call": "Call", "email": "Email", "meeting": "Meeting", "note": "Note",
               "task": "Task"}
# Kinds that go into the calendar feed, and how long each one blocks.
CALENDAR_KINDS = {"task": timedelta(minutes=30), "meeting": timedelta(hours=1)}
MAX_SUBJECT = 200
MAX_BODY = 10_000
# My follow-ups' groups, in the page's order; each lists its first FOLLOWUP_FIRST rows
# (its count covers them all) and shows FOLLOWUP_MORE more at a time.
FOLLOWUP_GROUPS = ("overdue", "today", "upcoming", "undated", "done")
FOLLOWUP_FIRST = 10
FOLLOWUP_MORE = 25
DONE_RECENTLY = timedelta(days=7)


def default_subject(kind: str, customer: Customer) -> str:
    """What a new activity is called before the user types anything ("Call with Pat")."""
    primary = next((c for c in customer.contacts if c.is_primary), None)
    who = primary.name if primary else customer.name
    text = {"call": "Call with {}", "email": "Email to {}", "meeting": "Meeting with {}",
            "note": "Note on {}", "task": "Follow up with {}"}[kind].format(who)
    return text[:MAX_SUBJECT]


def log_activity(*, kind: str, subject: str, customer: Customer, by: User | None,
                 body: str = "", deal=None, contact: Contact | None = None,
                 when: datetime | None = None, assignee: User | None = None,
                 done: bool | None = None) -> Activity:
    """Record a call, email, meeting, note or task on a customer (and maybe one of its deals).

    `when` is the due time of something to do, or when a done thing happened (now when
    None). `done` None takes the kind's default (DONE_BY_DEFAULT).
    """
    if kind not in KINDS:
        raise DomainError("Choose a call, email, meeting, note or task.", field="kind")
    subject = (subject or "").strip()
    if not subject:
        raise DomainError("Enter a subject.", field="subject")
    if len(subject) > MAX_SUBJECT:
        raise DomainError(f"Use at most {MAX_SUBJECT} characters.", field="subject")
    body = (body or "").strip()
    if len(body) > MAX_BODY:
        raise DomainError(f"Use at most {MAX_BODY:,} characters.", field="body")
    if contact is not None and contact.customer_id != customer.id:
        raise DomainError(f"Choose a contact at {customer.name}.", field="contact_id")
    if deal is not None and deal.customer_id != customer.id:
        raise DomainError(f"Choose a deal of {customer.name}.", field="deal_id")
    done = DONE_BY_DEFAULT[kind] if done is None else bool(done)
    now = utcnow()
    when = as_utc(when)
    if done and when is not None and when > now + timedelta(minutes=5):
        raise DomainError("Something already done cannot be in the future: untick Done to "
                          "plan it, or pick an earlier time.", field="due_date")
    activity = Activity(
        kind=kind, subject=subject, body=body, customer_id=customer.id,
        deal_id=deal.id if deal is not None else None,
        contact_id=contact.id if contact is not None else None,
        assignee_id=assignee.id if assignee is not None else None,
        # Done: `when` is when it happened. To do: when it is due.
        due_at=None if done else when, done=done, done_at=(when or now) if done else None,
        created_by_id=by.id if by is not None else None, created_at=now)
    db.session.add(activity)
    db.session.flush()
    return activity


def may_change_activity(user: User, activity: Activity) -> bool:
    """Admins change any activity, and anyone their own; one assigned to somebody else is
    theirs (or an admin's) to tick off; an unassigned one is any sales rep's."""
    if user.role == "admin" or activity.assignee_id == user.id:
        return True
    if activity.assignee_id is not None:
        return False
    return user.role == "sales" or activity.created_by_id == user.id


def set_done(activity: Activity, done: bool, *, by: User) -> Activity:
    """Tick an activity off (or reopen it). Setting the state it already has changes
    nothing, so a double click or a stale page cannot undo someone's tick."""
    if not may_change_activity(by, activity):
        raise NotAllowed("Only the person it is assigned to, or an admin, may change this.")
    if activity.done == done:
        return activity
    activity.done = done
    activity.done_at = utcnow() if done else None
    return activity


def _day_start(now: datetime) -> datetime:
    now = as_utc(now)
    return datetime.combine(now.date(), time(0), tzinfo=UTC)


def followups(user: User, now: datetime | None = None) -> dict[str, Page]:
    """The user's open follow-ups by their UTC date: overdue, today, upcoming, undated
    (open tasks without a due date), and what they ticked off in the last seven days;
    each group's first FOLLOWUP_FIRST rows and the cursor of its next ones
    (`followup_counts` says how many there are)."""
    values = _followup_values(user, now)
    return {group: _followup_page(group, values, None, FOLLOWUP_FIRST)
            for group in FOLLOWUP_GROUPS}


def more_followups(user: User, group: str, after: str, now: datetime | None = None) -> Page:
    """The next FOLLOWUP_MORE rows of one group of `followups` after a page's cursor (a
    broken cursor or an unknown group is a ValueError)."""
    if group not in FOLLOWUP_GROUPS:
        raise ValueError("There is no such group of follow-ups.")
    return _followup_page(group, _followup_values(user, now), after, FOLLOWUP_MORE)


def _followup_page(group: str, values: dict, after: str | None, per_page: int) -> Page:
    query, key_col, descending = _followup_keysets()[group]
    return keyset_page(query, key_col, Activity.id, descending=descending, after=after,
                       per_page=per_page, params=values,
                       key_of=lambda row: as_utc(getattr(row, key_col.key)))


def followup_counts(user: User, pages: dict[str, Page],
                    now: datetime | None = None) -> dict[str, int]:
    """How many follow-ups each group of `followups` holds: its length, counted in SQL
    (from the (assignee, done, date) indexes) only for a group with more to show."""
    counts = {key: len(page.items) for key, page in pages.items() if not page.next_cursor}
    longer = [key for key in pages if key not in counts]
    if longer:  # one statement, a count subquery a group
        counted = db.session.execute(
            select(*(_followup_counts()[key] for key in longer)),
            _followup_values(user, now)).one()
        counts.update(zip(longer, counted, strict=True))
    return {key: counts[key] for key in pages}


def _followup_values(user: User, now: datetime | None) -> dict:
    """What the follow-up statements are run with: the user and the UTC day's bounds."""
    now = as_utc(now or utcnow())
    today = _day_start(now)
    return {"user_id": user.id, "today": today, "tomorrow": today + timedelta(days=1),
            "done_since": now - DONE_RECENTLY}


@cache
def _followup_queries() -> dict:
    """Each group's SELECT and its sort (key column, descending), built once (the page
    runs five or more a request); the user and the day are bound at each run
    (_followup_values)."""
    def at(name):
        return bindparam(name, type_=Activity.due_at.type)

    mine_open = select(Activity).where(Activity.assignee_id == bindparam("user_id"),
                                       Activity.done.is_(False))
    dated = mine_open.where(Activity.due_at.is_not(None))
    return {
        "overdue": (dated.where(Activity.due_at < at("today")), Activity.due_at, False),
        "today": (dated.where(Activity.due_at >= at("today"), Activity.due_at < at("tomorrow")),
                  Activity.due_at, False),
        "upcoming": (dated.where(Activity.due_at >= at("tomorrow")), Activity.due_at, False),
        "undated": (mine_open.where(Activity.due_at.is_(None), Activity.kind == "task"),
                    Activity.created_at, False),
        "done": (select(Activity).where(
            Activity.assignee_id == bindparam("user_id"), Activity.done.is_(True),
            Activity.done_at >= bindparam("done_since", type_=Activity.done_at.type),
            Activity.due_at.is_not(None) | (Activity.kind == "task")),
            Activity.done_at, True),
    }


@cache
def _followup_keysets() -> dict:
    # Each row brings its customer's and deal's names, not their own joined relations
    # (the assignee is the user, loaded already).
    options = (lazyload(Activity.assignee), joinedload(Activity.customer).lazyload("*"),
               joinedload(Activity.deal).lazyload("*"))
    return {key: (query.options(*options), key_col, descending)
            for key, (query, key_col, descending) in _followup_queries().items()}


@cache
def _followup_counts() -> dict:
    return {key: select(func.count()).select_from(query.subquery()).scalar_subquery()
            .label(f"{key}_count")
            for key, (query, _key_col, _descending) in _followup_queries().items()}


def followup_state(activity: Activity, now: datetime | None = None) -> str:
    """"done", "overdue", "today", "upcoming" or "undated", by the UTC date."""
    if activity.done:
        return "done"
    if activity.due_at is None:
        return "undated"
    today = _day_start(now or utcnow())
    due = as_utc(activity.due_at)
    if due < today:
        return "overdue"
    return "today" if due < today + timedelta(days=1) else "upcoming"


def calendar_activities(user: User) -> list[Activity]:
    """What the user's calendar feed shows: their open tasks and meetings that have a time."""
    return list(db.session.scalars(
        select(Activity)
        .where(Activity.assignee_id == user.id, Activity.done.is_(False),
               Activity.due_at.is_not(None), Activity.kind.in_(tuple(CALENDAR_KINDS)))
        .order_by(Activity.due_at, Activity.id)
        .limit(2000)).unique())


def new_calendar_token(user: User) -> str:
    """Give the user a new secret feed address; the old one stops working at once."""
    user.calendar_token = secrets.token_urlsafe(32)
    return user.calendar_token


_TOKEN_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def user_by_calendar_token(token: str | None) -> User | None:
    """The enabled user whose feed this secret token opens, or None.

    The token is the only credential a calendar app has, so it is checked in constant
    time after the lookup; malformed tokens never reach the database.
    """
    if not token or len(token) > 64 or len(token) < 32 or not set(token) <= _TOKEN_CHARS:
        return None
    user = db.session.scalar(select(User).where(User.calendar_token == token))
    if user is None or not user.is_enabled or not user.calendar_token:
        return None
    if not hmac.compare_digest(user.calendar_token.encode(), token.encode()):
        return None
    return user
