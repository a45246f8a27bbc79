"""Pipeline reports and campaign attribution: each report is one function returning plain
rows, computed by aggregates in SQL (never a query per deal).

Money stays exact: amounts are integer cents in SQL (`models.types.Money`), so sums and
the weighted forecast are integer arithmetic there and become `Decimal` only here. Deals
carry their customer's account currency; the reports add them up as if they were all in
the company's base currency (a later issue converts them).

Campaigns live here too: they are the attribution the reports group by, and their rules
(a unique name, a sane period) sit beside the query that sums their deals.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import (
    BigInteger,
    Date,
    and_,
    case,
    cast,
    extract,
    func,
    literal_column,
    or_,
    select,
    type_coerce,
    union_all,
)

from models import db
from models.errors import DomainError
from models.pipeline import CHANNELS, Campaign, Deal, Stage, StageChange
from models.types import MAX_AMOUNT


def _cents(column):
    """A Money column as its raw integer cents, for exact SQL arithmetic."""
    return type_coerce(column, BigInteger)


def to_money(cents) -> Decimal:
    """Integer cents from SQL as a Decimal amount (None and NULL are zero)."""
    return Decimal(int(cents or 0)).scaleb(-2).quantize(Decimal("0.01"))


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def _in_period(column, start: date, end: date):
    """`column` (a UTC timestamp) falls on a day from `start` to `end`, both included."""
    return and_(column >= _start_of(start), column < _start_of(end + timedelta(days=1)))


# --- Campaigns ---------------------------------------------------------------------------

CAMPAIGN_ROLES = ("admin", "sales")


@dataclass
class CampaignRow:
    campaign: Campaign
    deals: int
    open_value: Decimal
    won_value: Decimal


def campaign_performance() -> list[CampaignRow]:
    """Every campaign with its deals: how many, the open pipeline and the won value."""
    amount = _cents(Deal.amount)
    query = (
        select(
            Campaign,
            func.count(Deal.id),
            func.coalesce(func.sum(case((Stage.outcome == "open", amount), else_=0)), 0),
            func.coalesce(func.sum(case((Stage.outcome == "won", amount), else_=0)), 0),
        )
        .outerjoin(Deal, Deal.campaign_id == Campaign.id)
        .outerjoin(Stage, Stage.id == Deal.stage_id)
        .group_by(Campaign.id)
        .order_by(Campaign.starts_on.desc().nulls_last(), Campaign.name, Campaign.id)
    )
    return [CampaignRow(c, n, to_money(open_), to_money(won))
            for c, n, open_, won in db.session.execute(query).all()]


def save_campaign(campaign: Campaign, *, name: str, channel: str, starts_on: date | None,
                  ends_on: date | None, budget: Decimal | None,
                  version: int | str | None = None) -> Campaign:
    """Create (a new Campaign) or update one: the name unique whatever its case, the
    channel one of CHANNELS, the period in order, the budget zero or more."""
    if campaign.id is not None:
        campaign.check_version(version)
    name = (name or "").strip()
    if not name:
        raise DomainError("Enter a name.", field="name")
    if len(name) > 120:
        raise DomainError("Use at most 120 characters.", field="name")
    taken = db.session.scalar(
        select(Campaign.id).where(func.lower(Campaign.name) == name.lower(),
                                  Campaign.id != (campaign.id or 0)))
    if taken:
        raise DomainError("Another campaign has this name.", field="name")
    if channel not in CHANNELS:
        raise DomainError(f"Choose one of: {', '.join(CHANNELS)}.", field="channel")
    if starts_on and ends_on and ends_on < starts_on:
        raise DomainError("The campaign cannot end before it starts.", field="ends_on")
    if budget is None or budget < 0:
        raise DomainError("Enter a budget of zero or more.", field="budget")
    if budget >= MAX_AMOUNT:
        raise DomainError("That amount is out of range.", field="budget")
    campaign.name = name
    campaign.channel = channel
    campaign.starts_on = starts_on
    campaign.ends_on = ends_on
    campaign.budget = budget
    if campaign.id is None:
        db.session.add(campaign)
    db.session.flush()
    return campaign


# --- Weighted forecast -------------------------------------------------------------------

@dataclass
class ForecastRow:
    year: int | None
    month: int | None
    deals: int
    amount: Decimal
    weighted: Decimal

    @property
    def label(self) -> str:
        return f"{self.year:04d}-{self.month:02d}" if self.year else "No date"


def weighted_forecast() -> list[ForecastRow]:
    """Open deals by expected close month: their value, and amount x probability / 100
    rounded half-up to the cent per deal (in SQL: integer cents, (c x p + 50) // 100).
    Deals without an expected close come last, as "No date"."""
    probability = func.coalesce(Deal.probability_override, Stage.probability)
    cents = _cents(Deal.amount)
    weighted = (cents * probability + 50) // 100
    year = extract("year", Deal.expected_close)
    month = extract("month", Deal.expected_close)
    query = (
        select(year, month, func.count(Deal.id), func.sum(cents), func.sum(weighted))
        .join(Stage, Stage.id == Deal.stage_id)
        .where(Stage.outcome == "open")
        .group_by(year, month)
    )
    rows = [ForecastRow(int(y) if y is not None else None, int(m) if m is not None else None,
                        n, to_money(total), to_money(w))
            for y, m, n, total, w in db.session.execute(query).all()]
    return sorted(rows, key=lambda r: (r.year is None, r.year or 0, r.month or 0))


# --- Win rate ----------------------------------------------------------------------------

@dataclass
class WinRate:
    won: int
    lost: int

    @property
    def closed(self) -> int:
        return self.won + self.lost

    @property
    def percent(self) -> Decimal | None:
        """won / (won + lost) as a percentage to one decimal; None when nothing closed."""
        if not self.closed:
            return None
        return (Decimal(100 * self.won) / self.closed).quantize(Decimal("0.1"), ROUND_HALF_UP)


def win_rate(start: date, end: date) -> WinRate:
    """Deals won and lost (closed from `start` to `end`, both days included)."""
    won = and_(Stage.outcome == "won", _in_period(Deal.won_at, start, end))
    lost = and_(Stage.outcome == "lost", _in_period(Deal.lost_at, start, end))
    row = db.session.execute(
        select(func.count(case((won, 1))), func.count(case((lost, 1))))
        .select_from(Deal).join(Stage, Stage.id == Deal.stage_id)
        .where(or_(won, lost))
    ).one()
    return WinRate(int(row[0]), int(row[1]))


# --- Sales cycle -------------------------------------------------------------------------

@dataclass
class CycleRow:
    label: str
    deals: int
    average_days: Decimal


def _days_between(later, earlier):
    """SQL: whole calendar days (UTC) from `earlier` to `later`."""
    if db.session.get_bind().dialect.name == "sqlite":
        return func.julianday(func.date(later)) - func.julianday(func.date(earlier))
    return cast(later, Date) - cast(earlier, Date)


def _one_decimal(value) -> Decimal:
    return Decimal(str(value or 0)).quantize(Decimal("0.1"), ROUND_HALF_UP)


def sales_cycle(start: date, end: date) -> tuple[CycleRow, list[CycleRow]]:
    """Average days from a deal's creation to its win, for deals won from `start` to `end`:
    overall, and by the month they were won."""
    days = _days_between(Deal.won_at, Deal.created_at)
    won = and_(Stage.outcome == "won", _in_period(Deal.won_at, start, end))
    base = select(func.count(Deal.id), func.avg(days)).join(Stage, Stage.id == Deal.stage_id)
    n, average = db.session.execute(base.where(won)).one()
    overall = CycleRow("All won deals", int(n), _one_decimal(average))
    year, month = extract("year", Deal.won_at), extract("month", Deal.won_at)
    by_month = db.session.execute(
        base.add_columns(year, month).where(won).group_by(year, month).order_by(year, month)
    ).all()
    return overall, [CycleRow(f"{int(y):04d}-{int(m):02d}", int(n), _one_decimal(a))
                     for n, a, y, m in by_month]


# --- Conversion between stages -----------------------------------------------------------

@dataclass
class ConversionRow:
    from_stage: str
    to_stage: str
    reached: int
    advanced: int

    @property
    def label(self) -> str:
        return f"{self.from_stage} → {self.to_stage}"

    @property
    def percent(self) -> Decimal | None:
        if not self.reached:
            return None
        return (Decimal(100 * self.advanced) / self.reached).quantize(Decimal("0.1"),
                                                                      ROUND_HALF_UP)


def stage_conversion(start: date, end: date) -> list[ConversionRow]:
    """For each step between consecutive open stages, and from the last one to Won: of the
    deals (created from `start` to `end`) that reached the first stage, how many reached
    the next. A deal has reached a stage when it ever entered it (a StageChange) or went
    beyond it (entered a later stage, or won); a stage skipped on the way counts as reached.
    """
    chain = [s for s in Stage.ordered() if s.outcome in ("open", "won")]
    if len(chain) < 2:
        return []
    index_of = {stage.id: i for i, stage in enumerate(chain)}
    created = _in_period(Deal.created_at, start, end)
    visits = union_all(
        select(StageChange.deal_id.label("deal_id"), StageChange.to_stage_id.label("stage_id"))
        .join(Deal, Deal.id == StageChange.deal_id).where(created),
        select(Deal.id.label("deal_id"), Deal.stage_id.label("stage_id")).where(created),
    ).subquery()
    furthest = (
        select(visits.c.deal_id,
               func.max(case(index_of, value=visits.c.stage_id, else_=None)).label("top"))
        .group_by(visits.c.deal_id)
        .subquery()
    )
    counts = dict(db.session.execute(
        select(furthest.c.top, func.count()).where(furthest.c.top.is_not(None))
        .group_by(furthest.c.top)
    ).all())
    reached = [sum(n for top, n in counts.items() if int(top) >= i) for i in range(len(chain))]
    return [ConversionRow(chain[i].name, chain[i + 1].name, reached[i], reached[i + 1])
            for i in range(len(chain) - 1)]


# --- Won value by source or campaign -----------------------------------------------------

@dataclass
class SourceRow:
    kind: str  # "campaign", "source" or "none"
    name: str
    deals: int
    won_value: Decimal

    @property
    def label(self) -> str:
        return {"campaign": f"Campaign: {self.name}", "source": f"Source: {self.name}"}.get(
            self.kind, "Not attributed")


def won_by_source(start: date, end: date) -> list[SourceRow]:
    """Won value (deals won from `start` to `end`) by campaign, else by the typed source,
    else "not attributed"; the largest first."""
    # Constants as SQL literals, not bound parameters: PostgreSQL must see the grouped
    # expressions in SELECT and GROUP BY as the same text.
    empty = literal_column("''")
    source = func.trim(Deal.source)
    kind = case((Deal.campaign_id.is_not(None), literal_column("'campaign'")),
                (source != empty, literal_column("'source'")), else_=literal_column("'none'"))
    name = case((Deal.campaign_id.is_not(None), Campaign.name), (source != empty, source),
                else_=empty)
    total = func.sum(_cents(Deal.amount))
    rows = db.session.execute(
        select(kind, name, func.count(Deal.id), total)
        .join(Stage, Stage.id == Deal.stage_id)
        .outerjoin(Campaign, Campaign.id == Deal.campaign_id)
        .where(Stage.outcome == "won", _in_period(Deal.won_at, start, end))
        .group_by(kind, name)
        .order_by(total.desc(), name)
    ).all()
    return [SourceRow(k, n, count, to_money(cents)) for k, n, count, cents in rows]
