"""The CRM side's pipeline: stages, campaigns, deals and how a deal moves.

Stages are data (admin edits them): exactly one stage is the won stage and one the lost
stage; the rest are open and form the board's columns in `position` order. Every move is
recorded as a `StageChange`, which the reports read (conversion, sales cycle).
"""

from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import cache

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    and_,
    bindparam,
    func,
    or_,
    select,
    type_coerce,
    union_all,
)
from sqlalchemy.engine import Row
from sqlalchemy.orm import Mapped, aliased, lazyload, mapped_column, relationship

from models import db
from models.customers import Customer
from models.errors import DomainError, NotAllowed
from models.paging import decode_cursor, encode_cursor
from models.types import Money, round_money
from models.users import User, utcnow
from models.versioned import Versioned

OUTCOMES = ("open", "won", "lost")
CHANNELS = ("email", "event", "web", "referral", "partner", "ads", "phone", "other")


class Stage(Versioned, db.Model):
    """A pipeline stage.

    Attributes:
        name: shown on the board ("Qualified").
        position: order on the board, smallest first.
        probability: default win probability of a deal in this stage, 0-100.
        outcome: "open" for a board column, "won" or "lost" for the two closing stages.
        followup_days: entering the stage creates a follow-up task for the deal owner due
            this many days later; None for no task.
    """

    __tablename__ = "stages"
    __audit__ = True
    __table_args__ = (
        CheckConstraint("probability BETWEEN 0 AND 100", name="probability"),
        CheckConstraint(f"outcome IN {OUTCOMES!r}", name="outcome"),
        CheckConstraint("followup_days IS NULL OR followup_days BETWEEN 0 AND 365",
                        name="followup_days"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(60), unique=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    probability: Mapped[int] = mapped_column(SmallInteger, default=0)
    outcome: Mapped[str] = mapped_column(String(8), default="open")
    followup_days: Mapped[int | None] = mapped_column(SmallInteger)

    @property
    def audit_subject(self):
        return ("stage", self.id)

    @property
    def is_open(self) -> bool:
        return self.outcome == "open"

    @classmethod
    def ordered(cls) -> list["Stage"]:
        """All stages: open ones by position, then won, then lost."""
        stages = db.session.scalars(_stages_in_order()).all()
        rank = {"open": 0, "won": 1, "lost": 2}
        return sorted(stages, key=lambda s: (rank[s.outcome], s.position, s.id))

    @classmethod
    def closing(cls, outcome: str) -> "Stage":
        stage = db.session.scalar(select(cls).where(cls.outcome == outcome))
        if stage is None:
            raise DomainError(f"There is no {outcome} stage; an admin must add one.")
        return stage


DEMO_STAGES = [("Lead", 10, "open", None), ("Qualified", 25, "open", 3),
               ("Proposal", 50, "open", 7), ("Negotiation", 75, "open", 3),
               ("Won", 100, "won", None), ("Lost", 0, "lost", None)]


def ensure_stages() -> list[Stage]:
    """The default stages, when there are none yet (first run, demo)."""
    if db.session.scalar(select(Stage.id).limit(1)) is None:
        for position, (name, probability, outcome, followup) in enumerate(DEMO_STAGES):
            db.session.add(Stage(name=name, probability=probability, outcome=outcome,
                                 position=position, followup_days=followup))
        db.session.flush()
    return Stage.ordered()


@cache
def _stages_in_order():
    # nearly every pipeline page runs it: built once
    return select(Stage).order_by(Stage.position, Stage.id)


class Campaign(Versioned, db.Model):
    """A campaign or lead source deals are attributed to.

    Attributes:
        name: unique. channel: one of CHANNELS.
        starts_on, ends_on: the period; None when open-ended.
        budget: what it cost (base currency); 0 when unknown.
    """

    __tablename__ = "campaigns"
    __audit__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    channel: Mapped[str] = mapped_column(String(20), default="other")
    starts_on: Mapped[date | None] = mapped_column(Date)
    ends_on: Mapped[date | None] = mapped_column(Date)
    budget: Mapped[Decimal] = mapped_column(Money(), default=Decimal("0.00"))

    @property
    def audit_subject(self):
        return ("campaign", self.id)


class Deal(Versioned, db.Model):
    """A sales opportunity with one customer.

    Attributes:
        title: what is being sold.
        owner_id: the rep; None when unassigned.
        stage_id: where it is in the pipeline.
        amount, currency: the expected value, in the customer's account currency.
        expected_close: when the rep expects to close; None when unknown.
        probability_override: the rep's own win probability; None means the stage's.
        campaign_id, source: attribution; None / "" when unknown.
        lost_reason: why it was lost; required to move to the lost stage.
        won_at, lost_at: when it closed; None while open.
        stage_entered_at: when it entered its current stage.
        contract_id: the contract this deal renews; unique, so a renewal opens once.
    """

    __tablename__ = "deals"
    __audit__ = True
    __table_args__ = (
        CheckConstraint("probability_override IS NULL OR probability_override BETWEEN 0 AND 100",
                        name="probability_override"),
        Index("ix_deals_stage_owner", "stage_id", "owner_id"),
        Index("ix_deals_stage_close", "stage_id", "expected_close", "id"),
        # a rep's board: each stage's soonest-closing deals of one owner
        Index("ix_deals_owner_stage_close", "owner_id", "stage_id", "expected_close", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"),
                                             index=True)
    title: Mapped[str] = mapped_column(String(200))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"),
                                                 index=True)
    stage_id: Mapped[int] = mapped_column(ForeignKey("stages.id", ondelete="RESTRICT"))
    amount: Mapped[Decimal] = mapped_column(Money(), default=Decimal("0.00"))
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    expected_close: Mapped[date | None] = mapped_column(Date, index=True)
    probability_override: Mapped[int | None] = mapped_column(SmallInteger)
    campaign_id: Mapped[int | None] = mapped_column(
        ForeignKey("campaigns.id", ondelete="SET NULL"), index=True)
    source: Mapped[str] = mapped_column(String(100), default="")
    lost_reason: Mapped[str] = mapped_column(String(500), default="")
    won_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    lost_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    stage_entered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    contract_id: Mapped[int | None] = mapped_column(
        ForeignKey("contracts.id", ondelete="SET NULL"), unique=True)

    customer: Mapped[Customer] = relationship(lazy="joined")
    owner: Mapped[User | None] = relationship(foreign_keys=[owner_id], lazy="joined")
    stage: Mapped[Stage] = relationship(lazy="joined")
    campaign: Mapped[Campaign | None] = relationship(lazy="select")

    @property
    def audit_subject(self):
        return ("deal", self.id)

    @property
    def probability(self) -> int:
        if self.probability_override is not None:
            return self.probability_override
        return self.stage.probability

    @property
    def weighted_amount(self) -> Decimal:
        """amount x probability, half-up to the cent."""
        return round_money(self.amount * self.probability / Decimal(100))

    @property
    def is_open(self) -> bool:
        return self.stage.is_open


class StageChange(db.Model):
    """One move of a deal between stages (from_stage_id None: the deal was created)."""

    __tablename__ = "deal_stage_changes"
    __table_args__ = (Index("ix_deal_stage_changes_deal_at", "deal_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    deal_id: Mapped[int] = mapped_column(ForeignKey("deals.id", ondelete="CASCADE"))
    from_stage_id: Mapped[int | None] = mapped_column(
        ForeignKey("stages.id", ondelete="SET NULL"))
    to_stage_id: Mapped[int] = mapped_column(ForeignKey("stages.id", ondelete="CASCADE"),
                                             index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


def deals_for_customer(customer_id: int) -> list[Deal]:
    """A customer's deals: open ones first, then by expected close, newest last."""
    return list(db.session.scalars(_deals_for_customer(), {"customer_id": customer_id}).unique())


@cache
def _deals_for_customer():
    # every customer page runs it: built once, the customer's id bound at each run
    return (select(Deal).join(Stage, Stage.id == Deal.stage_id)
            .where(Deal.customer_id == bindparam("customer_id"))
            .options(lazyload(Deal.customer))
            .order_by((Stage.outcome != "open"), Deal.expected_close, Deal.id))


# --- Rules -------------------------------------------------------------------------------

def may_change_deal(user: User, deal: Deal) -> bool:
    """Admins change any deal; a sales rep changes their own and unassigned ones."""
    if user.role == "admin":
        return True
    return user.role == "sales" and deal.owner_id in (user.id, None)


def create_deal(*, customer: Customer, title: str, owner: User | None, stage: Stage,
                amount: Decimal, expected_close: date | None = None,
                probability_override: int | None = None, campaign: Campaign | None = None,
                source: str = "", by: User | None = None, contract_id: int | None = None) -> Deal:
    """A new deal in the customer's account currency; its first stage is recorded."""
    if not (title or "").strip():
        raise DomainError("Enter a title.", field="title")
    if amount is None or amount < 0:
        raise DomainError("Enter an amount of zero or more.", field="amount")
    check_probability(probability_override)
    if stage.outcome == "lost":
        raise DomainError("A new deal cannot start as lost; create it, then move it to "
                          f"{stage.name} with the reason.", field="stage_id")
    now = utcnow()
    deal = Deal(customer=customer, title=title.strip(), owner=owner, stage=stage,
                amount=amount, currency=customer.account.currency,
                expected_close=expected_close, probability_override=probability_override,
                campaign=campaign, source=(source or "").strip(), stage_entered_at=now,
                created_at=now, contract_id=contract_id)
    if stage.outcome == "won":
        deal.won_at = now
    db.session.add(deal)
    db.session.flush()
    db.session.add(StageChange(deal_id=deal.id, from_stage_id=None, to_stage_id=stage.id,
                               at=now, by_id=by.id if by else None))
    _follow_up(deal, stage, now)
    return deal


def move_deal(deal: Deal, stage: Stage, *, by: User, version: int | str | None,
              lost_reason: str | None = None) -> Deal:
    """Move a deal to another stage: version-checked, the lost reason required for Lost,
    won/lost times set (and cleared when reopened), a follow-up task when the stage says so."""
    if not may_change_deal(by, deal):
        raise NotAllowed("Only the deal's owner or an admin may move it.")
    deal.check_version(version)
    return _apply_move(deal, stage, by=by, lost_reason=lost_reason)


def _apply_move(deal: Deal, stage: Stage, *, by: User | None, lost_reason: str | None) -> Deal:
    """The move itself, once who and which version are checked."""
    if stage.id == deal.stage_id:
        return deal
    reason = (lost_reason or "").strip()
    if stage.outcome == "lost" and not reason:
        raise DomainError("Say why the deal was lost.", field="lost_reason")
    if len(reason) > 500:
        raise DomainError("Use at most 500 characters.", field="lost_reason")
    now = utcnow()
    db.session.add(StageChange(deal_id=deal.id, from_stage_id=deal.stage_id,
                               to_stage_id=stage.id, at=now, by_id=by.id if by else None))
    deal.stage = stage
    deal.stage_entered_at = now
    deal.won_at = now if stage.outcome == "won" else None
    deal.lost_at = now if stage.outcome == "lost" else None
    deal.lost_reason = reason if stage.outcome == "lost" else ""
    _follow_up(deal, stage, now)
    return deal


def _follow_up(deal: Deal, stage: Stage, now: datetime) -> None:
    from models.activities import Activity

    if stage.followup_days is None or deal.owner_id is None:
        return
    db.session.add(Activity(
        kind="task", subject=f"Follow up: {deal.title}"[:200], body=f"Entered {stage.name}.",
        due_at=now + timedelta(days=stage.followup_days), assignee_id=deal.owner_id,
        customer_id=deal.customer_id, deal_id=deal.id, created_at=now))


# --- The board and deal edits ------------------------------------------------------------

MAX_STAGE_POSITION = 1000


def check_probability(value: int | None, field: str = "probability_override") -> None:
    """A win probability is a whole number from 0 to 100 (None: not given)."""
    if value is not None and not 0 <= value <= 100:
        raise DomainError("Enter a probability from 0 to 100.", field=field)


def deal_filter_clauses(*, owner_id: int | None = None, unowned: bool = False,
                        close_month: date | None = None, campaign_id: int | None = None,
                        source: str = "") -> list:
    """WHERE clauses for the board's filters (the values are already validated).

    close_month: any day of the month whose expected closes are wanted.
    source: matched case-insensitively inside the deal's source text.
    """
    clauses = []
    if unowned:
        clauses.append(Deal.owner_id.is_(None))
    elif owner_id is not None:
        clauses.append(Deal.owner_id == owner_id)
    if close_month is not None:
        first = close_month.replace(day=1)
        following = (first + timedelta(days=32)).replace(day=1)
        clauses.append(Deal.expected_close >= first)
        clauses.append(Deal.expected_close < following)
    if campaign_id is not None:
        clauses.append(Deal.campaign_id == campaign_id)
    if source:
        clauses.append(func.lower(Deal.source).contains(source.lower(), autoescape=True))
    return clauses


class ColumnTotal:
    """One board column's figures: deal count and, per currency, amount and weighted sum."""

    def __init__(self):
        self.count = 0
        self.totals: list[tuple[str, Decimal, Decimal]] = []

    def __repr__(self) -> str:
        return f"<ColumnTotal {self.count} {self.totals}>"


def _cents(value) -> Decimal:
    return (Decimal(int(value or 0)) / 100).quantize(Decimal("0.01"))


def weighted_cents():
    """SQL: a deal's weighted amount in cents (joined with its stage), rounded half-up to
    the cent as `Deal.weighted_amount` does: amounts are stored in cents and never
    negative, so (cents x probability + 50) div 100 is that rounding in integers."""
    probability = func.coalesce(Deal.probability_override, Stage.probability)
    return (type_coerce(Deal.amount, BigInteger) * probability + 50) // 100


def board_totals(clauses) -> dict[int, ColumnTotal]:
    """{stage id: ColumnTotal} for the deals matching `clauses`, summed in SQL.

    The weighted sum adds each deal's weighted amount rounded to the cent
    (`weighted_cents`).
    """
    cents = type_coerce(Deal.amount, BigInteger)
    rows = db.session.execute(
        select(Deal.stage_id, Deal.currency, func.count(Deal.id), func.sum(cents),
               func.sum(weighted_cents()))
        .join(Stage, Stage.id == Deal.stage_id)
        .where(*clauses)
        .group_by(Deal.stage_id, Deal.currency)
        .order_by(Deal.stage_id, Deal.currency)
    ).all()
    result: dict[int, ColumnTotal] = {}
    for stage_id, currency, count, amount, weighted_sum in rows:
        column = result.setdefault(stage_id, ColumnTotal())
        column.count += count
        column.totals.append((currency, _cents(amount), _cents(weighted_sum)))
    return result


BOARD_CARDS = 15  # cards a column shows first; the column's count and totals cover all
BOARD_MORE = 25  # cards each "Show more" adds
SOONEST = (Deal.expected_close.asc().nulls_last(), Deal.id)  # soonest close, no date last


def soonest_closing(clauses, stage_ids, per_stage: int,
                    at_most: int | None = None) -> dict[int, list[Row]]:
    """{stage id: the `per_stage` deals matching `clauses` closing soonest in it (no date
    last)}, in one statement whatever the size of the pipeline. Each stage is read twice
    from the (stage_id, expected_close, id) index, its dated deals in date order and its
    undated ones in id order, each part stopping at `per_stage` rows: no sort of a whole
    stage (a NULLS LAST order would need one on SQLite). With `at_most`, only that many
    of them all, the soonest, are read (the dashboard's ten, not ten a stage).

    Each deal is a row of what a card shows (`_card_rows`: the deal's own columns, and
    customer_name, owner_name, stage_name), not a Deal record: a record a card, with its
    customer, owner and stage records, was about a fifth of the board's time."""
    found: dict[int, list[Row]] = {stage_id: [] for stage_id in stage_ids}
    if not found:
        return found
    parts = [_column_part(stage_id, clauses, dated, per_stage)
             for stage_id in found for dated in (True, False)]
    shown = union_all(*(select(part.c.id) for part in parts))
    query = _card_rows().where(Deal.id.in_(shown))
    if at_most is not None:
        query = query.limit(at_most)
    for deal in db.session.execute(query):
        if len(found[deal.stage_id]) < per_stage:
            found[deal.stage_id].append(deal)
    return found


def column_after(clauses, stage_id: int, after: tuple[date | None, int],
                 count: int) -> list[Row]:
    """A board column's "Show more": the `count` deals matching `clauses` in the stage
    that come after the card `after` = (expected close, id) in the column's order
    (soonest close, no date last), as `soonest_closing`'s rows."""
    close, deal_id = after
    if close is None:  # among the undated ones already
        parts = [_column_part(stage_id, clauses, False, count, Deal.id > deal_id)]
    else:
        later = or_(Deal.expected_close > close,
                    and_(Deal.expected_close == close, Deal.id > deal_id))
        parts = [_column_part(stage_id, clauses, True, count, later),
                 _column_part(stage_id, clauses, False, count)]
    shown = union_all(*(select(part.c.id) for part in parts))
    return list(db.session.execute(_card_rows().where(Deal.id.in_(shown)).limit(count)))


def _column_part(stage_id: int, clauses, dated: bool, limit: int, *where):
    """One stage's dated deals in close-date order, or its undated ones in id order, from
    the (stage_id, expected_close, id) index, stopping at `limit`."""
    close = Deal.expected_close
    return (select(Deal.id).where(Deal.stage_id == stage_id, *clauses, *where,
                                  close.is_not(None) if dated else close.is_(None))
            .order_by(*((close, Deal.id) if dated else (Deal.id,))).limit(limit).subquery())


def card_cursor(card) -> str:
    """Where a column's "Show more" goes on from: a card's close date and id, opaque."""
    close = card.expected_close
    return encode_cursor(close.isoformat() if close else None, card.id)


def parse_card_cursor(cursor: str) -> tuple[date | None, int]:
    """(expected close, id) from `card_cursor`; a broken one is a ValueError."""
    key, deal_id = decode_cursor(cursor)
    if key is None:
        return None, deal_id
    try:
        return date.fromisoformat(key), deal_id
    except (TypeError, ValueError):
        raise ValueError("That link is broken; open the board again.") from None


@cache
def _card_rows():
    owner = aliased(User)
    return (select(Deal.id, Deal.title, Deal.version, Deal.stage_id, Deal.owner_id,
                   Deal.customer_id, Deal.currency, Deal.amount, Deal.expected_close,
                   Customer.name.label("customer_name"), owner.name.label("owner_name"),
                   Stage.name.label("stage_name"))
            .join(Customer, Customer.id == Deal.customer_id)
            .join(Stage, Stage.id == Deal.stage_id)
            .outerjoin(owner, owner.id == Deal.owner_id)
            .order_by(*SOONEST))


def board_deals(clauses, stage_ids) -> dict[int, list[Row]]:
    """{stage id: deals} for the board's open columns: the BOARD_CARDS closing soonest in
    each (the column's count and totals, from `board_totals`, cover them all)."""
    return soonest_closing(clauses, stage_ids, BOARD_CARDS)


def update_deal(deal: Deal, *, by: User, version: int | str | None, customer: Customer,
                title: str, owner: User | None, stage: Stage, amount: Decimal,
                expected_close: date | None = None, probability_override: int | None = None,
                campaign: Campaign | None = None, source: str = "",
                lost_reason: str | None = None) -> Deal:
    """Save an edited deal: only by who may change it, version-checked; a new stage is a
    move (recorded, lost reason required), a new customer brings its account currency."""
    if not may_change_deal(by, deal):
        raise NotAllowed("Only the deal's owner or an admin may change it.")
    deal.check_version(version)
    if not (title or "").strip():
        raise DomainError("Enter a title.", field="title")
    if amount is None or amount < 0:
        raise DomainError("Enter an amount of zero or more.", field="amount")
    check_probability(probability_override)
    deal.customer, deal.customer_id = customer, customer.id
    deal.currency = customer.account.currency
    deal.title = title.strip()
    deal.owner, deal.owner_id = owner, (owner.id if owner else None)
    deal.amount = amount
    deal.expected_close = expected_close
    deal.probability_override = probability_override
    deal.campaign = campaign
    deal.source = (source or "").strip()
    if stage.id != deal.stage_id:
        _apply_move(deal, stage, by=by, lost_reason=lost_reason)
    elif stage.outcome == "lost" and lost_reason is not None:
        reason = lost_reason.strip()
        if not reason:
            raise DomainError("Say why the deal was lost.", field="lost_reason")
        if len(reason) > 500:
            raise DomainError("Use at most 500 characters.", field="lost_reason")
        deal.lost_reason = reason
    return deal


# --- Stage administration ------------------------------------------------------------------

def _check_stage_fields(name: str, position: int, probability: int,
                        followup_days: int | None, stage: Stage | None = None) -> str:
    name = (name or "").strip()
    if not name:
        raise DomainError("Enter a name.", field="name")
    if len(name) > 60:
        raise DomainError("Use at most 60 characters.", field="name")
    taken = db.session.scalar(select(Stage.id).where(
        func.lower(Stage.name) == name.lower(),
        Stage.id != (stage.id if stage is not None and stage.id else -1)))
    if taken:
        raise DomainError("Another stage has this name.", field="name")
    if position is None or not 0 <= position <= MAX_STAGE_POSITION:
        raise DomainError(f"Enter a position from 0 to {MAX_STAGE_POSITION}.", field="position")
    check_probability(probability, field="probability")
    if probability is None:
        raise DomainError("Enter a probability from 0 to 100.", field="probability")
    if followup_days is not None and not 0 <= followup_days <= 365:
        raise DomainError("Enter 0 to 365 days, or leave it empty for no task.",
                          field="followup_days")
    return name


def check_closing_stages() -> None:
    """Refuse any state without exactly one won and exactly one lost stage."""
    db.session.flush()
    for outcome in ("won", "lost"):
        n = db.session.scalar(select(func.count(Stage.id)).where(Stage.outcome == outcome))
        if n != 1:
            raise DomainError(f"There must be exactly one {outcome} stage.", field="outcome")


def update_stage(stage: Stage, *, version: int | str | None, name: str, position: int,
                 probability: int, followup_days: int | None,
                 outcome: str | None = None) -> Stage:
    """Rename or reorder a stage, or change its probability or follow-up days."""
    stage.check_version(version)
    stage.name = _check_stage_fields(name, position, probability, followup_days, stage)
    stage.position = position
    stage.probability = probability
    stage.followup_days = followup_days
    if outcome is not None and outcome != stage.outcome:
        if outcome not in OUTCOMES:
            raise DomainError("Choose open, won or lost.", field="outcome")
        in_use = db.session.scalar(select(Deal.id).where(Deal.stage_id == stage.id).limit(1))
        if in_use:
            raise DomainError("Deals are in this stage; its outcome cannot change.",
                              field="outcome")
        stage.outcome = outcome
        check_closing_stages()
    return stage


def add_stage(*, name: str, position: int, probability: int,
              followup_days: int | None) -> Stage:
    """A new open stage (a board column)."""
    name = _check_stage_fields(name, position, probability, followup_days)
    stage = Stage(name=name, position=position, probability=probability, outcome="open",
                  followup_days=followup_days)
    db.session.add(stage)
    db.session.flush()
    return stage


def delete_stage(stage: Stage) -> None:
    """Remove an open stage no deal is in nor ever was (the history keeps its moves)."""
    if stage.outcome != "open":
        raise DomainError(f"The {stage.outcome} stage cannot be removed: there must be one.")
    if db.session.scalar(select(Deal.id).where(Deal.stage_id == stage.id).limit(1)):
        raise DomainError(f"Deals are in {stage.name}; move them before removing it.")
    used = db.session.scalar(select(StageChange.id).where(
        (StageChange.to_stage_id == stage.id) | (StageChange.from_stage_id == stage.id)).limit(1))
    if used:
        raise DomainError(f"Deals have passed through {stage.name} and the reports count "
                          "them; rename the stage instead of removing it.")
    db.session.delete(stage)
    db.session.flush()
