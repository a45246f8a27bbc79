"""The financial reports: trial balance, profit and loss, balance sheet, receivable and
payable aging, actual revenue next to the pipeline's weighted forecast, and the
won-ordered-invoiced-paid reconciliation of deals.

Each report is a few grouped queries whose number does not depend on how many accounts,
customers or deals there are: journal lines are summed in SQL per account (the
(account_id, entry_date) index narrows them to the period), on the stored integer
cents (`models.ledger.sum_money`), so the figures are exact on SQLite and PostgreSQL and
never pass through Python one line at a time. What comes back is a handful of small
dataclasses.

Ledger figures are in the base currency (journal lines are). The reconciliation keeps
each deal in its own currency and groups its totals per currency.

Aging as of a date: a document counts once posted on or before that date, less the
allocations dated on or before it, so a later payment does not change an earlier
report. Unallocated payments and credit notes are the partner's credit: they are not
aged, they sit in their own column (negative) and reduce the total, which then equals
the control account's balance on that date.
"""

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    Integer,
    and_,
    case,
    extract,
    func,
    literal,
    literal_column,
    select,
    type_coerce,
    union,
    union_all,
)

from models import db
from models.catalog import Supplier
from models.company import currency_places
from models.customers import Customer
from models.invoicing import INVOICE_OPEN, Invoice
from models.ledger import (
    DEBIT_NORMAL,
    TYPE_LABELS,
    Account,
    AccountBalance,
    JournalLine,
    month_of,
    sum_money,
)
from models.payments import Allocation, Payment
from models.pipeline import Deal, Stage
from models.purchasing import VendorBill
from models.receivables import BUCKETS
from models.reports import weighted_forecast
from models.sales import SalesLine, SalesOrder

ZERO = Decimal("0.00")
BUCKET_LABELS = tuple(label for label, _, _ in BUCKETS)
CREDIT = -1  # the aging "bucket" of unallocated payments and credit notes


def _cents(column):
    """A Money column as its stored integer, for arithmetic in SQL."""
    return type_coerce(column, BigInteger)


# --- Trial balance -----------------------------------------------------------------------

@dataclass
class TrialBalanceRow:
    """One account's line of the trial balance.

    Attributes:
        opening: debits - credits before the period (negative: a credit balance).
        debit, credit: the period's movements.
    """

    account_id: int
    code: str
    name: str
    type: str
    opening: Decimal
    debit: Decimal
    credit: Decimal

    @property
    def label(self) -> str:
        return f"{self.code} · {self.name}"

    @property
    def type_label(self) -> str:
        return TYPE_LABELS[self.type]

    @property
    def closing(self) -> Decimal:
        return self.opening + self.debit - self.credit

    @property
    def opening_debit(self) -> Decimal:
        return max(self.opening, ZERO)

    @property
    def opening_credit(self) -> Decimal:
        return max(-self.opening, ZERO)

    @property
    def closing_debit(self) -> Decimal:
        return max(self.closing, ZERO)

    @property
    def closing_credit(self) -> Decimal:
        return max(-self.closing, ZERO)


@dataclass
class TrialBalance:
    """Every account with a balance or a movement, from `start` to `end` (both days in)."""

    start: date
    end: date
    rows: list[TrialBalanceRow]

    def _total(self, name: str) -> Decimal:
        return sum((getattr(row, name) for row in self.rows), ZERO)

    @property
    def opening_debit(self) -> Decimal:
        return self._total("opening_debit")

    @property
    def opening_credit(self) -> Decimal:
        return self._total("opening_credit")

    @property
    def debit(self) -> Decimal:
        return self._total("debit")

    @property
    def credit(self) -> Decimal:
        return self._total("credit")

    @property
    def closing_debit(self) -> Decimal:
        return self._total("closing_debit")

    @property
    def closing_credit(self) -> Decimal:
        return self._total("closing_credit")

    @property
    def balanced(self) -> bool:
        """Debits equal credits: before, during and at the end of the period."""
        return (self.opening_debit == self.opening_credit and self.debit == self.credit
                and self.closing_debit == self.closing_credit)

    def by_type(self) -> list[tuple[str, Decimal, Decimal]]:
        """[(type label, period debits, period credits)] in the chart's order of types."""
        found = {}
        for row in self.rows:
            debit, credit = found.get(row.type, (ZERO, ZERO))
            found[row.type] = (debit + row.debit, credit + row.credit)
        return [(TYPE_LABELS[kind], *found[kind]) for kind in TYPE_LABELS if kind in found]


def _sums(start: date | None, end: date, types=None) -> list:
    """Selects of (account_id, debits, credits) in cents, one row per account and select,
    covering the days from `start` (None: the beginning) to `end`, both in. Whole months
    are read from account_balances (a row per account and month); only the days before
    the first whole month and after the last are summed from the journal lines, through
    the (account_id, entry_date) index. So a year or ten cost about the same."""
    first_whole = start if start is None or start.day == 1 else _next_month(start)
    past_whole = month_of(end + timedelta(days=1))  # the first month not wholly in
    accounts = ([] if types is None else
                [select(Account.id).where(Account.type.in_(types)).scalar_subquery()])

    def lines(lo, hi):
        where = [JournalLine.entry_date <= hi]
        if lo is not None:
            where.append(JournalLine.entry_date >= lo)
        if accounts:
            where.append(JournalLine.account_id.in_(accounts[0]))
        return (select(JournalLine.account_id.label("account_id"),
                       func.sum(_cents(JournalLine.debit)).label("debit"),
                       func.sum(_cents(JournalLine.credit)).label("credit"))
                .where(*where).group_by(JournalLine.account_id))

    if first_whole is not None and first_whole >= past_whole:
        return [lines(start, end)]  # no whole month inside
    where = [AccountBalance.month < past_whole]
    if first_whole is not None:
        where.append(AccountBalance.month >= first_whole)
    if accounts:
        where.append(AccountBalance.account_id.in_(accounts[0]))
    parts = [select(AccountBalance.account_id.label("account_id"),
                    func.sum(_cents(AccountBalance.debit)).label("debit"),
                    func.sum(_cents(AccountBalance.credit)).label("credit"))
             .where(*where).group_by(AccountBalance.account_id)]
    if start is not None and start < first_whole:
        parts.append(lines(start, first_whole - timedelta(days=1)))
    if past_whole <= end:
        parts.append(lines(past_whole, end))
    return parts


def _next_month(day: date) -> date:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


def _account_totals(parts) -> list:
    """(id, code, name, type, debit - credit) per account of the union of `parts`
    (from `_sums`), by code."""
    grouped = union_all(*parts).subquery()
    return db.session.execute(
        select(Account.id, Account.code, Account.name, Account.type,
               sum_money(grouped.c.debit - grouped.c.credit))
        .join(grouped, grouped.c.account_id == Account.id)
        .group_by(Account.id, Account.code, Account.name, Account.type)
        .order_by(Account.code)).all()


def trial_balance(start: date, end: date) -> TrialBalance:
    """Opening balance, debits, credits and closing balance of every account with either,
    for the period from `start` to `end`: one statement over the month balances (and the
    lines of partial months), whatever the size of the journal."""
    zero = literal_column("0")
    opening = [select(part.c.account_id, (part.c.debit - part.c.credit).label("opening"),
                      zero.label("debit"), zero.label("credit"))
               for part in (p.subquery() for p in _sums(None, start - timedelta(days=1)))]
    period = [select(part.c.account_id, zero, part.c.debit, part.c.credit)
              for part in (p.subquery() for p in _sums(start, end))]
    parts = union_all(*opening, *period).subquery()
    rows = db.session.execute(
        select(Account.id, Account.code, Account.name, Account.type,
               sum_money(parts.c.opening), sum_money(parts.c.debit),
               sum_money(parts.c.credit))
        .join(parts, parts.c.account_id == Account.id)
        .group_by(Account.id, Account.code, Account.name, Account.type)
        .order_by(Account.code)).all()
    return TrialBalance(start, end, [
        TrialBalanceRow(account_id, code, name, kind, opening, debit, credit)
        for account_id, code, name, kind, opening, debit, credit in rows
        if opening or debit or credit])


# --- Profit and loss ---------------------------------------------------------------------

@dataclass
class AmountRow:
    """An account and its amount in a statement, with the sign the statement reads it
    in (income and liabilities positive when credit, expenses and assets when debit)."""

    account_id: int | None
    code: str
    name: str
    type: str
    amount: Decimal

    @property
    def label(self) -> str:
        return f"{self.code} · {self.name}" if self.code else self.name


def _signed(kind: str, debit_minus_credit: Decimal) -> Decimal:
    return debit_minus_credit if kind in DEBIT_NORMAL else -debit_minus_credit


@dataclass
class ProfitAndLoss:
    """Income and expenses of a period (income positive, expenses positive)."""

    start: date
    end: date
    income: list[AmountRow]
    expense: list[AmountRow]

    @property
    def income_total(self) -> Decimal:
        return sum((row.amount for row in self.income), ZERO)

    @property
    def expense_total(self) -> Decimal:
        return sum((row.amount for row in self.expense), ZERO)

    @property
    def net_profit(self) -> Decimal:
        """Income less expenses (negative: a loss)."""
        return self.income_total - self.expense_total


def profit_and_loss(start: date, end: date) -> ProfitAndLoss:
    """Each income and expense account's movement from `start` to `end`."""
    rows = _account_totals(_sums(start, end, types=("income", "expense")))
    found = {"income": [], "expense": []}
    for account_id, code, name, kind, net in rows:
        if net:
            found[kind].append(AmountRow(account_id, code, name, kind, _signed(kind, net)))
    return ProfitAndLoss(start, end, found["income"], found["expense"])


# --- Balance sheet -----------------------------------------------------------------------

PROFIT_TO_DATE = "Profit and loss to date"


@dataclass
class BalanceSheet:
    """Assets, liabilities and equity at the end of `as_of`. Equity includes the profit
    and loss to date (every income less every expense posted up to then), so that
    assets = liabilities + equity."""

    as_of: date
    assets: list[AmountRow]
    liabilities: list[AmountRow]
    equity: list[AmountRow]
    profit_to_date: Decimal

    @property
    def assets_total(self) -> Decimal:
        return sum((row.amount for row in self.assets), ZERO)

    @property
    def liabilities_total(self) -> Decimal:
        return sum((row.amount for row in self.liabilities), ZERO)

    @property
    def equity_total(self) -> Decimal:
        """The equity accounts plus the profit and loss to date."""
        return sum((row.amount for row in self.equity), ZERO)

    @property
    def liabilities_and_equity(self) -> Decimal:
        return self.liabilities_total + self.equity_total

    @property
    def balanced(self) -> bool:
        return self.assets_total == self.liabilities_and_equity


def balance_sheet(as_of: date) -> BalanceSheet:
    """Every balance-sheet account's balance at the end of `as_of`, and the profit and
    loss to date as a line of equity: one grouped query."""
    rows = _account_totals(_sums(None, as_of))
    found = {"asset": [], "liability": [], "equity": []}
    profit = ZERO
    for account_id, code, name, kind, net in rows:
        if kind in ("income", "expense"):
            profit -= net
        elif net:
            found[kind].append(AmountRow(account_id, code, name, kind, _signed(kind, net)))
    equity = found["equity"] + [AmountRow(None, "", PROFIT_TO_DATE, "equity", profit)]
    return BalanceSheet(as_of, found["asset"], found["liability"], equity, profit)


# --- Aging -------------------------------------------------------------------------------

@dataclass
class AgingRow:
    """One customer's (supplier's) open amounts in the base currency.

    Attributes:
        buckets: {bucket label: open amount of documents that many days past due}.
        credit: payments and credit notes not allocated yet, as a negative amount
            (a customer's credit; a payment to a supplier on account).
    """

    partner_id: int
    name: str
    buckets: dict
    credit: Decimal = ZERO

    @property
    def total(self) -> Decimal:
        return sum(self.buckets.values(), ZERO) + self.credit

    @property
    def overdue(self) -> Decimal:
        return sum((v for label, v in self.buckets.items() if label != BUCKET_LABELS[0]),
                   ZERO)


@dataclass
class Aging:
    """Receivables (kind "receivable") or payables ("payable") as of a day."""

    kind: str
    as_of: date
    rows: list[AgingRow]
    labels: tuple = BUCKET_LABELS

    @property
    def totals(self) -> dict:
        return {label: sum((row.buckets[label] for row in self.rows), ZERO)
                for label in self.labels}

    @property
    def credit(self) -> Decimal:
        return sum((row.credit for row in self.rows), ZERO)

    @property
    def total(self) -> Decimal:
        return sum((row.total for row in self.rows), ZERO)


def _bucket(due, as_of: date):
    """SQL: the index into BUCKETS of a document due on `due`, as of `as_of`."""
    whens = [(due >= as_of - timedelta(days=last), index)
             for index, (_, _, last) in enumerate(BUCKETS) if last is not None]
    return case(*whens, else_=len(BUCKETS) - 1)


def _allocated(key, amount, document_id, as_of: date):
    """SQL: the base amount of a document's allocations dated on or before `as_of`
    (a correlated subquery, by the allocations' index on `key`)."""
    return (select(func.coalesce(func.sum(_cents(amount)), 0))
            .where(key == document_id, Allocation.allocated_on <= as_of)
            .scalar_subquery())


def _open_or_touched(document_id, open_now, key, as_of: date):
    """SQL: the document is open now (`open_now`: a select of ids) or has an allocation
    dated after `as_of`. One that is neither had nothing open then either, and is
    skipped. One id set (a UNION, for the few open documents and the allocations since
    `as_of`), which the planner reads once and looks the documents up by: not a test on
    each of the hundred thousand settled ones."""
    return document_id.in_(union(
        open_now, select(key).where(key.is_not(None), Allocation.allocated_on > as_of)))


def _aging(kind: str, parts, partner, as_of: date) -> Aging:
    """Sum the (partner_id, bucket, cents) parts per partner and bucket in one query."""
    union = union_all(*parts).subquery()
    rows = db.session.execute(
        select(union.c.partner_id, partner.name, union.c.bucket, sum_money(union.c.cents))
        .join(partner, partner.id == union.c.partner_id)
        .group_by(union.c.partner_id, partner.name, union.c.bucket)
    ).all()
    found: dict[int, AgingRow] = {}
    for partner_id, name, bucket, amount in rows:
        row = found.get(partner_id)
        if row is None:
            row = found[partner_id] = AgingRow(
                partner_id, name, {label: ZERO for label in BUCKET_LABELS})
        if bucket == CREDIT:
            row.credit += amount
        else:
            row.buckets[BUCKET_LABELS[bucket]] += amount
    rows = [row for row in found.values()
            if row.credit or any(row.buckets.values())]
    rows.sort(key=lambda row: (row.name.lower(), row.partner_id))
    return Aging(kind, as_of, rows)


def _part(partner_id, bucket, cents, *where):
    return select(partner_id.label("partner_id"), bucket.label("bucket"),
                  cents.label("cents")).where(*where)


def _open_documents(kind: str):
    """Ids of the posted invoices (credit notes) with something open, from the partial
    index of open documents."""
    return select(Invoice.id).where(Invoice.kind == kind, Invoice.status == "posted",
                                    INVOICE_OPEN)


def receivables_aging(as_of: date) -> Aging:
    """What each customer owed at the end of `as_of`, in the base currency: posted
    invoices by days past due, less their allocations up to then; unallocated payments
    and credit notes as the customer's credit."""
    credit = literal(CREDIT, Integer)
    invoice_open = _cents(Invoice.total_base) - _allocated(
        Allocation.invoice_id, Allocation.base_target, Invoice.id, as_of)
    note_open = _cents(Invoice.total_base) - _allocated(
        Allocation.credit_note_id, Allocation.base_source, Invoice.id, as_of)
    payment_open = _cents(Payment.amount_base) - _allocated(
        Allocation.payment_id, Allocation.base_source, Payment.id, as_of)
    posted = and_(Invoice.status == "posted", Invoice.issue_date <= as_of)
    parts = [
        _part(Invoice.customer_id, _bucket(Invoice.due_date, as_of), invoice_open,
              posted, Invoice.kind == "invoice",
              _open_or_touched(Invoice.id, _open_documents("invoice"), Allocation.invoice_id,
                               as_of)),
        _part(Invoice.customer_id, credit, -note_open,
              posted, Invoice.kind == "credit_note",
              _open_or_touched(Invoice.id, _open_documents("credit_note"),
                               Allocation.credit_note_id, as_of)),
        _part(Payment.customer_id, credit, -payment_open,
              Payment.direction == "in", Payment.payment_date <= as_of,
              _open_or_touched(Payment.id, select(Payment.id).where(
                  Payment.direction == "in", Payment.open_base != 0),
                  Allocation.payment_id, as_of)),
    ]
    return _aging("receivable", parts, Customer, as_of)


def payables_aging(as_of: date) -> Aging:
    """What was owed to each supplier at the end of `as_of`, in the base currency: vendor
    bills (not cancelled) by days past due, less their allocations up to then; supplier
    payments not allocated yet as credit."""
    bill_open = _cents(VendorBill.total_base) - _allocated(
        Allocation.bill_id, Allocation.base_target, VendorBill.id, as_of)
    payment_open = _cents(Payment.amount_base) - _allocated(
        Allocation.payment_id, Allocation.base_source, Payment.id, as_of)
    parts = [
        _part(VendorBill.supplier_id, _bucket(VendorBill.due_on, as_of), bill_open,
              VendorBill.status != "cancelled", VendorBill.bill_date <= as_of,
              _open_or_touched(VendorBill.id, select(VendorBill.id).where(
                  VendorBill.open_base != 0), Allocation.bill_id, as_of)),
        _part(Payment.supplier_id, literal(CREDIT, Integer), -payment_open,
              Payment.direction == "out", Payment.payment_date <= as_of,
              _open_or_touched(Payment.id, select(Payment.id).where(
                  Payment.direction == "out", Payment.open_base != 0),
                  Allocation.payment_id, as_of)),
    ]
    return _aging("payable", parts, Supplier, as_of)


# --- Revenue and forecast ----------------------------------------------------------------

@dataclass
class RevenueMonth:
    """A month of actual revenue and of the pipeline's forecast.

    Attributes:
        actual: income posted in the month (credits - debits, exchange differences
            left out); None for a month still to come.
        weighted, pipeline, deals: open deals expected to close in the month (amount x
            probability, their amount, how many); None for a month gone by.
    """

    year: int
    month: int
    actual: Decimal | None
    weighted: Decimal | None = None
    pipeline: Decimal | None = None
    deals: int | None = None

    @property
    def label(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


@dataclass
class ForecastRest:
    """Open deals outside the months shown: expected before this month (slipped), later
    than the last month shown, or without an expected close."""

    label: str
    deals: int = 0
    pipeline: Decimal = ZERO
    weighted: Decimal = ZERO


@dataclass
class RevenueVsForecast:
    months: list[RevenueMonth]
    rest: list[ForecastRest] = field(default_factory=list)

    @property
    def actual_total(self) -> Decimal:
        return sum((m.actual for m in self.months if m.actual is not None), ZERO)

    @property
    def weighted_total(self) -> Decimal:
        return sum((m.weighted for m in self.months if m.weighted is not None), ZERO)


def _add_months(year: int, month: int, n: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + n
    return index // 12, index % 12 + 1


def revenue_vs_forecast(months: int = 12, *, today: date | None = None) -> RevenueVsForecast:
    """Actual revenue for the last `months` months (this one to date) and the weighted
    forecast for this month and the `months` - 1 after it, month by month.

    Revenue is every income account but exchange differences (role "fx"): credits less
    debits, so credit notes reduce it. The forecast is the pipeline report's
    (models.reports.weighted_forecast), which adds deal amounts up as if they were in
    the base currency."""
    today = today or date.today()
    first = _add_months(today.year, today.month, -(months - 1))
    last = _add_months(today.year, today.month, months - 1)
    year, month = extract("year", JournalLine.entry_date), extract("month", JournalLine.entry_date)
    income = select(Account.id).where(Account.type == "income",
                                      Account.role.is_distinct_from("fx"))
    actual = {(int(y), int(m)): amount for y, m, amount in db.session.execute(
        select(year, month, sum_money(JournalLine.credit - JournalLine.debit))
        .where(JournalLine.account_id.in_(income),
               JournalLine.entry_date >= date(*first, 1), JournalLine.entry_date <= today)
        .group_by(year, month)).all()}
    current = (today.year, today.month)
    rows = []
    key = first
    while key <= last:
        rows.append(RevenueMonth(*key, actual.get(key, ZERO) if key <= current else None))
        key = _add_months(*key, 1)
    by_key = {(row.year, row.month): row for row in rows}
    slipped = ForecastRest("Expected before this month")
    later = ForecastRest(f"Expected after {last[0]:04d}-{last[1]:02d}")
    undated = ForecastRest("No expected close")
    for found in weighted_forecast():
        key = (found.year, found.month) if found.year else None
        if key is not None and current <= key <= last:
            row = by_key[key]
            row.weighted, row.pipeline, row.deals = found.weighted, found.amount, found.deals
            continue
        rest = undated if key is None else (slipped if key < current else later)
        rest.deals += found.deals
        rest.pipeline += found.amount
        rest.weighted += found.weighted
    for row in rows:
        if (row.year, row.month) >= current and row.weighted is None:
            row.weighted, row.pipeline, row.deals = ZERO, ZERO, 0
    return RevenueVsForecast(rows, [r for r in (slipped, later, undated) if r.deals])


# --- Reconciliation of deals -------------------------------------------------------------

FLAGS = {
    "won_vs_ordered": "Ordered differs from won",
    "not_invoiced": "Shipped but not invoiced",
    "invoiced_vs_ordered": "Invoiced differs from ordered",
    "overdue": "Overdue",
    "currency": "Documents in another currency",
}


@dataclass
class DealReconciliation:
    """A won deal followed through, in the deal's currency.

    Attributes:
        won: the deal's value (net, as won). ordered: net of its orders not cancelled.
        invoiced, invoiced_gross: posted invoices less credit notes, net and with tax.
        paid: what payments settled of its invoices (credit notes not counted).
        open: what its invoices still ask for.
        flags: keys of FLAGS, in that order; empty when everything agrees.
    """

    deal_id: int
    title: str
    customer: str
    currency: str
    won_on: date
    won: Decimal
    ordered: Decimal = ZERO
    invoiced: Decimal = ZERO
    invoiced_gross: Decimal = ZERO
    paid: Decimal = ZERO
    open: Decimal = ZERO
    flags: list = field(default_factory=list)

    @property
    def flag_labels(self) -> list[str]:
        return [FLAGS[key] for key in self.flags]


@dataclass
class MonthReconciliation:
    """The won deals of one month in one currency, added up."""

    year: int
    month: int
    currency: str
    deals: int = 0
    won: Decimal = ZERO
    ordered: Decimal = ZERO
    invoiced: Decimal = ZERO
    invoiced_gross: Decimal = ZERO
    paid: Decimal = ZERO
    open: Decimal = ZERO
    flagged: int = 0

    @property
    def label(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


@dataclass
class Reconciliation:
    start: date
    end: date
    deals: list[DealReconciliation]
    months: list[MonthReconciliation]

    @property
    def currencies(self) -> list[str]:
        return sorted({row.currency for row in self.months})

    @property
    def flagged(self) -> int:
        return sum(1 for deal in self.deals if deal.flags)


def _utc_day(moment: datetime) -> date:
    return (moment.astimezone(UTC) if moment.tzinfo else moment).date()


def _line_net_cents(milli: int, cents: int, discount: int, places: int) -> int:
    """An order line's net in cents, rounded half-up to the currency's `places` as the
    order itself rounds it (models.documents), from the stored integers: quantity in
    thousandths, price in cents, discount in hundredths of a percent. Exact integer
    arithmetic, for the thousands of lines a year of deals has."""
    exact = milli * cents * (10000 - discount)  # in 10**-9 of the currency
    unit = 10 ** (9 - places)
    rounded = (abs(exact) + unit // 2) // unit  # half-up: away from zero
    return (rounded if exact >= 0 else -rounded) * 10 ** (2 - places)


def reconciliation(start: date, end: date, *, today: date | None = None) -> Reconciliation:
    """Deals won from `start` to `end` (UTC days, both in): won vs ordered vs invoiced vs
    paid, each with what disagrees flagged, and the same added up by the month they were
    won, per currency. Four queries, whatever the number of deals."""
    today = today or date.today()
    won = and_(Stage.outcome == "won",
               Deal.won_at >= datetime.combine(start, time.min, tzinfo=UTC),
               Deal.won_at < datetime.combine(end + timedelta(days=1), time.min, tzinfo=UTC))
    deal_ids = select(Deal.id).join(Stage, Stage.id == Deal.stage_id).where(won)
    deals: dict[int, DealReconciliation] = {}
    for deal_id, title, currency, amount, won_at, customer in db.session.execute(
            select(Deal.id, Deal.title, Deal.currency, Deal.amount, Deal.won_at, Customer.name)
            .join(Stage, Stage.id == Deal.stage_id)
            .join(Customer, Customer.id == Deal.customer_id)
            .where(won).order_by(Deal.won_at, Deal.id)):
        deals[deal_id] = DealReconciliation(deal_id, title, customer, currency,
                                            _utc_day(won_at), amount)
    if not deals:
        return Reconciliation(start, end, [], [])
    other_currency, not_invoiced, overdue = set(), set(), set()
    # Order lines: their net is rounded per line, as on the order (read as the stored
    # integers: tens of thousands of lines would spend most of the time making Decimals).
    ordered: dict[int, int] = {}
    for deal_id, currency, quantity, price, discount, shipped, invoiced in db.session.execute(
            select(SalesOrder.deal_id, SalesOrder.currency,
                   *(_cents(column) for column in (
                       SalesLine.quantity, SalesLine.unit_price, SalesLine.discount_percent,
                       SalesLine.shipped, SalesLine.invoiced)))
            .join(SalesOrder, SalesOrder.id == SalesLine.order_id)
            .where(SalesOrder.deal_id.in_(deal_ids), SalesOrder.status != "cancelled")):
        if shipped > invoiced:
            not_invoiced.add(deal_id)
        if currency != deals[deal_id].currency:
            other_currency.add(deal_id)
            continue
        ordered[deal_id] = ordered.get(deal_id, 0) + _line_net_cents(
            quantity, price, discount or 0, currency_places(currency))
    for deal_id, cents in ordered.items():
        deals[deal_id].ordered += Decimal(cents).scaleb(-2)
    is_overdue = and_(Invoice.kind == "invoice", Invoice.open_amount > 0,
                      Invoice.due_date < today)
    for deal_id, kind, currency, net, gross, open_, late in db.session.execute(
            select(Invoice.deal_id, Invoice.kind, Invoice.currency,
                   sum_money(Invoice.net_amount), sum_money(Invoice.total_amount),
                   sum_money(Invoice.open_amount), func.count(case((is_overdue, 1))))
            .where(Invoice.deal_id.in_(deal_ids), Invoice.status == "posted")
            .group_by(Invoice.deal_id, Invoice.kind, Invoice.currency)):
        deal = deals[deal_id]
        if late:
            overdue.add(deal_id)
        if currency != deal.currency:
            other_currency.add(deal_id)
            continue
        sign = 1 if kind == "invoice" else -1
        deal.invoiced += sign * net
        deal.invoiced_gross += sign * gross
        if kind == "invoice":
            deal.open += open_
    for deal_id, currency, paid in db.session.execute(
            select(Invoice.deal_id, Invoice.currency, sum_money(Allocation.amount))
            .join(Invoice, Invoice.id == Allocation.invoice_id)
            .where(Invoice.deal_id.in_(deal_ids), Invoice.status == "posted",
                   Allocation.payment_id.is_not(None))
            .group_by(Invoice.deal_id, Invoice.currency)):
        if currency == deals[deal_id].currency:
            deals[deal_id].paid += paid
    months: dict[tuple, MonthReconciliation] = {}
    for deal in deals.values():
        checks = {
            "won_vs_ordered": deal.ordered != deal.won,
            "not_invoiced": deal.deal_id in not_invoiced,
            "invoiced_vs_ordered": deal.invoiced != deal.ordered,
            "overdue": deal.deal_id in overdue,
            "currency": deal.deal_id in other_currency,
        }
        deal.flags = [key for key in FLAGS if checks[key]]
        key = (deal.currency, deal.won_on.year, deal.won_on.month)
        month = months.get(key)
        if month is None:
            month = months[key] = MonthReconciliation(key[1], key[2], deal.currency)
        month.deals += 1
        month.flagged += bool(deal.flags)
        for name in ("won", "ordered", "invoiced", "invoiced_gross", "paid", "open"):
            setattr(month, name, getattr(month, name) + getattr(deal, name))
    return Reconciliation(start, end, list(deals.values()),
                          [months[key] for key in sorted(months)])
