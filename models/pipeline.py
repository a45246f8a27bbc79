"""The CRM side's pipeline: stages, campaigns, deals and how a deal moves.

Stages are data (admin edits them): exactly one stage is the won stage and one the lost
stage; the rest are open and form the board's columns in `position` order. Every move is
recorded as a `StageChange`, which the reports read (conversion, sales cycle).
"""

from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import (
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    select,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models import db
from models.customers import Customer
from models.errors import DomainError, NotAllowed
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
        stages = db.session.scalars(select(cls).order_by(cls.position, cls.id)).all()
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
    if stage.id == deal.stage_id:
        return deal
    reason = (lost_reason or "").strip()
    if stage.outcome == "lost" and not reason:
        raise DomainError("Say why the deal was lost.", field="lost_reason")
    if len(reason) > 500:
        raise DomainError("Use at most 500 characters.", field="lost_reason")
    now = utcnow()
    db.session.add(StageChange(deal_id=deal.id, from_stage_id=deal.stage_id,
                               to_stage_id=stage.id, at=now, by_id=by.id))
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
