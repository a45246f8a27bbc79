"""What sales see of the books: a customer's balance, overdue amount, aging, last payment
and credit standing, derived from posted invoices, credit notes and payments (never
typed in), and the credit check an order passes at acceptance.

The balance is per currency: a customer is invoiced in their account currency, and the
figures shown are in it (documents in an older currency are listed apart).
"""

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from functools import cache
from typing import NamedTuple

from sqlalchemy import bindparam, func, select

from models import db
from models.cases import OPEN_STATUSES as OPEN_CASE_STATUSES
from models.cases import SupportCase
from models.customers import Customer
from models.documents import HUNDRED
from models.invoicing import Invoice
from models.ledger import sum_money
from models.payments import Payment
from models.sales import SalesOrder
from models.transactions import memo
from models.types import round_money

ZERO = Decimal("0.00")
# Aging buckets by days past due: label, first day, last day (None: no end).
BUCKETS = (("Current", None, 0), ("1–30", 1, 30), ("31–60", 31, 60), ("61–90", 61, 90),
           ("Over 90", 91, None))
# Orders whose value is committed but not (all) invoiced yet.
EXPOSED_ORDER_STATUSES = ("held", "confirmed", "partial", "shipped")


def bucket_of(days_past_due: int) -> str:
    for label, first, last in BUCKETS:
        if (first is None or days_past_due >= first) and (last is None or days_past_due <= last):
            return label
    return BUCKETS[-1][0]


class OverdueInvoice(NamedTuple):
    """What the money strip names of the invoice longest past due."""

    id: int
    number: str
    days_overdue: int


class LastPayment(NamedTuple):
    """What the money strip says of the latest payment received."""

    payment_date: date
    currency: str
    amount: Decimal


@dataclass
class Standing:
    """A customer's receivable in one currency.

    Attributes:
        open_invoices: what posted invoices still ask for.
        credits: payments and credit notes not yet allocated (the customer's credit).
        overdue: the open amount of invoices past their due date.
        oldest_overdue: the invoice longest past due; None when nothing is.
        aging: {bucket label: open amount} by days past due.
        last_payment: the latest payment received (any currency); None before the first.
        uninvoiced_orders: confirmed, held or shipped orders not invoiced yet (gross).
        credit_limit: 0 when no limit is set.
    """

    currency: str
    open_invoices: Decimal = ZERO
    credits: Decimal = ZERO
    overdue: Decimal = ZERO
    oldest_overdue: OverdueInvoice | None = None
    aging: dict = field(default_factory=dict)
    last_payment: LastPayment | None = None
    uninvoiced_orders: Decimal = ZERO
    open_order_count: int = 0
    open_cases: int = 0
    credit_limit: Decimal = ZERO
    on_hold: bool = False
    hold_reason: str = ""
    other_currencies: dict = field(default_factory=dict)

    @property
    def balance(self) -> Decimal:
        """What the customer owes now: open invoices less their unused credit."""
        return self.open_invoices - self.credits

    @property
    def exposure(self) -> Decimal:
        """Balance plus orders not invoiced yet: what the credit limit is measured on."""
        return self.balance + self.uninvoiced_orders

    @property
    def available(self) -> Decimal | None:
        """Credit left under the limit (None: no limit set)."""
        if self.credit_limit <= 0:
            return None
        return self.credit_limit - self.exposure

    @property
    def used_percent(self) -> int | None:
        if self.credit_limit <= 0:
            return None
        return int(max(self.exposure, ZERO) * 100 / self.credit_limit)


def line_gross(line, quantity: Decimal, places: int) -> Decimal:
    """Net plus tax of `quantity` of a priced line, rounded per line as documents do."""
    factor = (HUNDRED - (line.discount_percent or 0)) / HUNDRED
    net = round_money(quantity * line.unit_price * factor, places)
    return net + round_money(net * line.tax_percent / HUNDRED, places)


def uninvoiced_order_value(customer_id: int, currency: str,
                           exclude_order_id: int | None = None) -> tuple[Decimal, int]:
    """(gross value not invoiced yet, number of orders) of the customer's committed
    orders in `currency`: one statement over the orders and their lines."""
    from models.company import currency_places

    places = currency_places(currency)
    total, orders = ZERO, set()
    for line in db.session.execute(
            _uninvoiced_lines(exclude_order_id is not None),
            {"customer_id": customer_id, "currency": currency, "exclude": exclude_order_id}):
        orders.add(line.id)
        if line.quantity is not None and line.quantity > line.invoiced:
            total += line_gross(line, line.quantity - line.invoiced, places)
    return total, len(orders)


# The statements below run for every record page's money strip: each is built once, its
# values bound at each run (building one cost more than running it).

@cache
def _uninvoiced_lines(excluding: bool):
    from models.sales import SalesLine

    query = (select(SalesOrder.id, SalesLine.quantity, SalesLine.invoiced,
                    SalesLine.unit_price, SalesLine.discount_percent, SalesLine.tax_percent)
             .outerjoin(SalesLine, SalesLine.order_id == SalesOrder.id)
             .where(SalesOrder.customer_id == bindparam("customer_id"),
                    SalesOrder.currency == bindparam("currency"),
                    SalesOrder.status.in_(EXPOSED_ORDER_STATUSES)))
    return query.where(SalesOrder.id != bindparam("exclude")) if excluding else query


@cache
def _open_invoices():
    return (select(Invoice.id, Invoice.number, Invoice.currency, Invoice.open_amount,
                   Invoice.due_date)
            .where(Invoice.customer_id == bindparam("customer_id"), Invoice.kind == "invoice",
                   Invoice.status == "posted", Invoice.open_amount > 0)
            .order_by(Invoice.due_date, Invoice.id))


@cache
def _credits_cases_and_last_payment():
    """The unused credit, the open cases and the last payment received: one statement."""
    customer, currency = bindparam("customer_id"), bindparam("currency")
    last = (select(Payment.id).where(Payment.customer_id == customer, Payment.direction == "in")
            .order_by(Payment.payment_date.desc(), Payment.id.desc()).limit(1))
    return select(
        select(sum_money(Payment.open_amount)).where(
            Payment.customer_id == customer, Payment.direction == "in",
            Payment.currency == currency, Payment.open_amount > 0).scalar_subquery(),
        select(sum_money(Invoice.open_amount)).where(
            Invoice.customer_id == customer, Invoice.kind == "credit_note",
            Invoice.status == "posted", Invoice.currency == currency,
            Invoice.open_amount > 0).scalar_subquery(),
        select(func.count(SupportCase.id)).where(
            SupportCase.customer_id == customer,
            SupportCase.status.in_(OPEN_CASE_STATUSES)).scalar_subquery(),
        *(last.with_only_columns(column).scalar_subquery()
          for column in (Payment.payment_date, Payment.currency, Payment.amount)),
    )


def standing(customer: Customer, *, today: date | None = None) -> Standing:
    """The customer's receivable in their account currency, with aging and credit; worked
    out once per transaction (a page's money strip and its credit warnings share it)."""
    today = today or date.today()
    return memo(db.session(), ("standing", customer.id, today),
                lambda: _standing(customer, today))


def _standing(customer: Customer, today: date) -> Standing:
    account = customer.account
    currency = account.currency
    result = Standing(currency=currency, credit_limit=account.credit_limit or ZERO,
                      on_hold=account.on_hold, hold_reason=account.hold_reason,
                      aging={label: ZERO for label, _, _ in BUCKETS})
    invoices = db.session.execute(_open_invoices(), {"customer_id": customer.id}).all()
    for invoice_id, number, doc_currency, open_amount, due_date in invoices:
        if doc_currency != currency:
            result.other_currencies[doc_currency] = (
                result.other_currencies.get(doc_currency, ZERO) + open_amount)
            continue
        result.open_invoices += open_amount
        late = (today - due_date).days
        result.aging[bucket_of(late)] += open_amount
        if late > 0:
            result.overdue += open_amount
            if result.oldest_overdue is None:
                result.oldest_overdue = OverdueInvoice(invoice_id, number, late)
    payments, notes, cases, paid_on, paid_in, paid = db.session.execute(
        _credits_cases_and_last_payment(), {"customer_id": customer.id, "currency": currency}
    ).one()
    result.credits = payments + notes
    result.open_cases = cases
    if paid_on is not None:
        result.last_payment = LastPayment(paid_on, paid_in, paid)
    result.uninvoiced_orders, result.open_order_count = uninvoiced_order_value(
        customer.id, currency)
    return result


def overdue_condition(today: date | None = None):
    """SQL: the customer (Customer.id) has an open posted invoice past its due date."""
    # the overdue invoices' customers as one set, read from the partial index of open
    # invoices by due date (about a thousand at scale 1), rather than an EXISTS probed
    # for each customer in the list's order: half the time for a rep's 2,000 customers
    return Customer.id.in_(select(Invoice.customer_id).where(*overdue_invoices(today)))


def overdue_invoices(today: date | None = None) -> tuple:
    """WHERE clauses of the open posted invoices past their due date (served by the
    partial index of open documents by due date)."""
    today = today or date.today()
    return (Invoice.kind == "invoice", Invoice.status == "posted", Invoice.open_amount > 0,
            Invoice.due_date < today)


def overdue_customers(customer_ids, today: date | None = None) -> dict[int, Decimal]:
    """{customer id: overdue amount} for those of `customer_ids` with something overdue
    (amounts in each invoice's currency, summed: a badge, not a balance)."""
    ids = list(set(customer_ids))
    if not ids:
        return {}
    today = today or date.today()
    return dict(db.session.execute(_overdue_customers(), {"ids": ids, "today": today}).all())


@cache
def _overdue_customers():
    # built once, the ids and the day bound at each run: every customer list runs it
    return (select(Invoice.customer_id, sum_money(Invoice.open_amount))
            .where(Invoice.customer_id.in_(bindparam("ids", expanding=True)),
                   Invoice.kind == "invoice", Invoice.status == "posted",
                   Invoice.open_amount > 0,
                   Invoice.due_date < bindparam("today", type_=Invoice.due_date.type))
            .group_by(Invoice.customer_id))


def credit_check(customer: Customer, order_total: Decimal, currency: str,
                 exclude_order_id: int | None = None) -> str | None:
    """Why an order of `order_total` must wait for finance, or None when it may go ahead:
    the customer is on hold, or open receivables plus orders not invoiced yet plus this
    one pass the credit limit (0 = no limit set)."""
    account = customer.account
    if account.on_hold:
        return f"{customer.name} is on hold" + (f": {account.hold_reason}"
                                                if account.hold_reason else ".")
    limit = account.credit_limit or ZERO
    if limit <= 0 or currency != account.currency:
        return None
    found = standing(customer)
    orders = (found.uninvoiced_orders if exclude_order_id is None else
              uninvoiced_order_value(customer.id, currency, exclude_order_id)[0])
    before = found.balance + orders
    exposure = before + order_total
    if exposure > limit:
        return (f"Open receivables and orders come to {currency} {before:,.2f}; with this "
                f"order ({currency} {order_total:,.2f}) that is {currency} {exposure:,.2f}, "
                f"over the credit limit of {currency} {limit:,.2f}.")
    return None
