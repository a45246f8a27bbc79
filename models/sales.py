"""Quote to order: quotes on deals, their acceptance into sales orders, reservations and
shipments.

A quote belongs to a deal and its customer, in the customer's account currency. It goes
draft -> sent -> accepted or declined; a sent quote past its valid-until date is expired
(derived from the date, never stored). Revising a sent quote copies it as the next
revision (same number, "v2") and marks the old one superseded; it stays readable.

Accepting a sent quote is one step: a sales order SO-YYYY-NNNN with the same lines and
prices, the deal won at the quote's net value, and stock reserved for stocked lines
(what cannot be reserved is refused with "only N available", or backordered when the
product allows backorders). Shipments turn reservations into done moves to the customer
location. Cancelling an order releases what it still holds.

Line amounts round half-up per line to the currency's unit (see models.documents).
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import cache

from sqlalchemy import (
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    bindparam,
    func,
    select,
)
from sqlalchemy.orm import Mapped, lazyload, mapped_column, relationship, selectinload
from sqlalchemy.orm.attributes import set_committed_value

from models import db
from models.catalog import Product, TaxRate
from models.company import CompanySettings, currency_places
from models.customers import Contact, Customer
from models.documents import DocumentTotals, PricedLine, lines_for_totals, lock_document
from models.errors import DomainError, NotAllowed
from models.ledger import check_open
from models.pipeline import Deal, Stage, _apply_move, may_change_deal
from models.postings import post_shipment
from models.sequences import next_number
from models.stock import (
    ZERO,
    StockMove,
    availability,
    cancel_move,
    complete_move,
    lock_products,
    reserve_stock,
)
from models.types import Money, Quantity, round_money
from models.users import User, utcnow
from models.versioned import Versioned

QUOTE_STATUSES = ("draft", "sent", "accepted", "declined", "superseded")
QUOTE_LABELS = {"draft": "Draft", "sent": "Sent", "accepted": "Accepted",
                "declined": "Declined", "superseded": "Superseded", "expired": "Expired"}
ORDER_STATUSES = ("held", "confirmed", "partial", "shipped", "invoiced", "closed",
                  "cancelled")
ORDER_LABELS = {"held": "On credit hold", "confirmed": "Confirmed",
                "partial": "Partially shipped", "shipped": "Shipped", "invoiced": "Invoiced",
                "closed": "Closed", "cancelled": "Cancelled"}
OPEN_ORDER_STATUSES = ("confirmed", "partial")
QUOTE_ROLES = ("admin", "sales")                       # who writes, sends and accepts quotes
SALES_VIEW_ROLES = ("admin", "sales", "operations", "finance")
SHIP_ROLES = ("admin", "operations")                   # who ships
CREDIT_ROLES = ("admin", "finance")                    # who releases a credit hold
CANCEL_ROLES = ("admin", "sales", "operations")        # who may cancel an order
MAX_LINES = 500
MAX_DISCOUNT = Decimal(100)
# a line's amount stays under a trillion, so MAX_LINES of them fit every money column
MAX_LINE_AMOUNT = Decimal("1e12")
LINE_SOURCE = "sales_line"   # StockMove.source_type of an order line's reservations


def _places_error(places: int) -> str:
    if places == 0:
        return "Use whole amounts: this currency has no decimals."
    return f"Use at most {places} decimals."


# --- Quotes ------------------------------------------------------------------------------

class Quote(DocumentTotals, Versioned, db.Model):
    """An offer to a customer on a deal.

    Attributes:
        number, revision: Q-YYYY-NNNN and 1, 2, ... (a revision keeps the number).
        status: one of QUOTE_STATUSES; `state` adds "expired" for a sent quote whose
            valid_until has passed.
        contact_id: the person it is addressed and mailed to; None for the customer.
        revises_id / superseded_by_id: the revision chain.
        customer_po: the customer's purchase order reference, recorded at acceptance.
    """

    __tablename__ = "quotes"
    __audit__ = True
    __table_args__ = (
        UniqueConstraint("number", "revision", name="uq_quotes_number_revision"),
        CheckConstraint(f"status IN {QUOTE_STATUSES!r}", name="status"),
        Index("ix_quotes_status_id", "status", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(20))
    revision: Mapped[int] = mapped_column(Integer, default=1)
    deal_id: Mapped[int] = mapped_column(ForeignKey("deals.id", ondelete="RESTRICT"),
                                         index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="RESTRICT"),
                                             index=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id",
                                                              ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(12), default="draft")
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    issued_on: Mapped[date] = mapped_column(Date)
    valid_until: Mapped[date] = mapped_column(Date)
    notes: Mapped[str] = mapped_column(Text, default="")
    terms: Mapped[str] = mapped_column(Text, default="")
    customer_po: Mapped[str] = mapped_column(String(60), default="")
    decline_reason: Mapped[str] = mapped_column(String(500), default="")
    revises_id: Mapped[int | None] = mapped_column(ForeignKey("quotes.id",
                                                              ondelete="SET NULL"))
    superseded_by_id: Mapped[int | None] = mapped_column(ForeignKey("quotes.id",
                                                                    ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id",
                                                                 ondelete="SET NULL"))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    accepted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    declined_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    deal: Mapped[Deal] = relationship(lazy="joined")
    customer: Mapped[Customer] = relationship(lazy="joined")
    contact: Mapped[Contact | None] = relationship(lazy="select")
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id],
                                                   lazy="select")
    lines: Mapped[list["QuoteLine"]] = relationship(
        back_populates="quote", cascade="all, delete-orphan",
        order_by="(QuoteLine.position, QuoteLine.id)")
    superseded_by: Mapped["Quote | None"] = relationship(
        foreign_keys=[superseded_by_id], remote_side=[id], lazy="select")
    revises: Mapped["Quote | None"] = relationship(
        foreign_keys=[revises_id], remote_side=[id], lazy="select")
    order: Mapped["SalesOrder | None"] = relationship(back_populates="quote", uselist=False,
                                                      lazy="select")

    def __repr__(self) -> str:
        return f"<Quote {self.label} {self.status}>"

    @property
    def audit_subject(self):
        return ("quote", self.id)

    @property
    def label(self) -> str:
        """Q-2026-0001, or Q-2026-0001 v2 for a revision."""
        return self.number if self.revision == 1 else f"{self.number} v{self.revision}"

    @property
    def file_label(self) -> str:
        return self.number if self.revision == 1 else f"{self.number}-v{self.revision}"

    @property
    def is_expired(self) -> bool:
        return self.status in ("draft", "sent") and self.valid_until < date.today()

    @property
    def state(self) -> str:
        """The status as people read it: a sent quote past its date is expired."""
        return "expired" if self.status == "sent" and self.is_expired else self.status

    @property
    def state_label(self) -> str:
        return QUOTE_LABELS[self.state]

    @property
    def is_editable(self) -> bool:
        return self.status == "draft"


class QuoteLine(PricedLine, db.Model):
    """One line of a quote: a product, or a described line (a service, freight).

    Attributes:
        unit_price: in the quote's currency (list price by default).
        discount_percent: 0-100, two decimals.
        tax_percent: the tax rate's percent when the line was written.
    """

    __tablename__ = "quote_lines"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity"),
        CheckConstraint("unit_price >= 0", name="unit_price"),
        # stored in hundredths (Money): 10000 is 100%
        CheckConstraint("discount_percent >= 0 AND discount_percent <= 10000",
                        name="discount_percent"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    quote_id: Mapped[int] = mapped_column(ForeignKey("quotes.id", ondelete="CASCADE"),
                                          index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    product_id: Mapped[int | None] = mapped_column(ForeignKey("products.id",
                                                              ondelete="RESTRICT"), index=True)
    description: Mapped[str] = mapped_column(String(500), default="")
    quantity: Mapped[Decimal] = mapped_column(Quantity())
    unit_price: Mapped[Decimal] = mapped_column(Money())
    discount_percent: Mapped[Decimal] = mapped_column(Money(), default=Decimal("0.00"))
    tax_rate_id: Mapped[int | None] = mapped_column(ForeignKey("tax_rates.id",
                                                               ondelete="RESTRICT"))
    tax_percent: Mapped[Decimal] = mapped_column(Money(3), default=Decimal("0.000"))

    quote: Mapped[Quote] = relationship(back_populates="lines")
    product: Mapped[Product | None] = relationship(lazy="joined")
    tax_rate: Mapped[TaxRate | None] = relationship(lazy="joined")

    @property
    def document(self) -> Quote:
        return self.quote


@dataclass
class QuoteLineInput:
    """A line as typed: a product, or a description alone for a free-text line."""

    product: Product | None
    quantity: Decimal
    unit_price: Decimal | None = None       # None: the product's list price
    discount_percent: Decimal = Decimal(0)
    tax_rate: TaxRate | None = None
    description: str = ""
    use_product_tax: bool = True             # with tax_rate None: the product's own rate


def may_quote(user: User, deal: Deal) -> bool:
    """Who may write and send quotes on a deal: its owner (or anyone on an unassigned
    deal) among the sales reps, and admins."""
    return may_change_deal(user, deal)


def _require_quoter(user: User | None, deal: Deal) -> None:
    if user is not None and not may_quote(user, deal):
        raise NotAllowed("Only the deal's owner or an admin may change its quotes.")


def create_quote(deal: Deal, *, by: User | None = None, contact: Contact | None = None,
                 valid_until: date | None = None, notes: str = "",
                 terms: str | None = None, lines: list[QuoteLineInput] = ()) -> Quote:
    """A draft quote on an open deal, in the customer's account currency, numbered
    Q-YYYY-NNNN; valid for the company's default number of days unless told."""
    _require_quoter(by, deal)
    if not deal.is_open:
        raise DomainError(f"This deal is {deal.stage.name.lower()}; quotes are written while "
                          "a deal is open.")
    settings = CompanySettings.current()
    today = date.today()
    valid_until = valid_until or today + timedelta(days=settings.quote_valid_days or 30)
    _check_dates(today, valid_until)
    _check_contact(contact, deal.customer)
    quote = Quote(number=next_number("Q", today.year), revision=1, deal=deal,
                  customer=deal.customer, contact=contact, status="draft",
                  currency=deal.customer.account.currency, issued_on=today,
                  valid_until=valid_until, notes=(notes or "").strip(),
                  terms=(settings.quote_terms if terms is None else terms).strip(),
                  created_by_id=by.id if by else None, created_at=utcnow())
    db.session.add(quote)
    db.session.flush()
    for given in lines:
        add_quote_line(quote, given)
    return quote


def _check_dates(issued_on: date, valid_until: date | None) -> None:
    if valid_until is None:
        raise DomainError("Enter the date the quote is valid until.", field="valid_until")
    if valid_until < issued_on:
        raise DomainError("The quote must be valid until today or later.",
                          field="valid_until")
    if valid_until > issued_on + timedelta(days=366):
        raise DomainError("A quote is valid for at most a year.", field="valid_until")


def _check_contact(contact: Contact | None, customer: Customer) -> None:
    if contact is not None and contact.customer_id != customer.id:
        raise DomainError(f"Choose a contact at {customer.name}.", field="contact_id")


def update_quote(quote: Quote, *, version, valid_until: date | None,
                 contact: Contact | None, notes: str, terms: str,
                 by: User | None = None) -> Quote:
    """Change a draft's validity, addressee, notes and terms (version-checked)."""
    _require_quoter(by, quote.deal)
    quote.check_version(version)
    _require_draft(quote)
    _check_dates(date.today(), valid_until)
    _check_contact(contact, quote.customer)
    quote.valid_until = valid_until
    quote.contact = contact
    quote.notes = (notes or "").strip()
    quote.terms = (terms or "").strip()
    return quote


def _require_draft(quote: Quote) -> None:
    if quote.status != "draft":
        raise DomainError(f"This quote is {quote.state_label.lower()}; only a draft "
                          "changes. Revise it to make a new version.")


def add_quote_line(quote: Quote, given: QuoteLineInput, *, by: User | None = None) -> QuoteLine:
    """Append a line to a draft quote."""
    _require_quoter(by, quote.deal)
    _require_draft(quote)
    if len(quote.lines) >= MAX_LINES:
        raise DomainError(f"A quote has at most {MAX_LINES} lines.")
    line = QuoteLine(position=len(quote.lines) + 1)
    set_priced_line(line, given, quote.currency)
    # attached only once valid: a refused line must not linger in quote.lines
    line.quote = quote
    db.session.add(line)
    db.session.flush()
    return line


def update_quote_line(line: QuoteLine, given: QuoteLineInput, *,
                      by: User | None = None) -> QuoteLine:
    _require_quoter(by, line.quote.deal)
    _require_draft(line.quote)
    return set_priced_line(line, given, line.quote.currency)


def remove_quote_line(line: QuoteLine, *, by: User | None = None) -> None:
    quote = line.quote
    _require_quoter(by, quote.deal)
    _require_draft(quote)
    quote.lines.remove(line)
    db.session.delete(line)
    for position, other in enumerate(quote.lines, start=1):
        other.position = position


def set_priced_line(line, given: QuoteLineInput, currency: str):
    """Set a priced line (quote or invoice) from what was typed, through the line rules:
    a product or a description, quantity, price (the list price by default), discount
    and tax. Refused with the message on its field."""
    product = given.product
    description = (given.description or "").strip()
    if product is None and not description:
        raise DomainError("Choose a product or describe the line.", field="product")
    if len(description) > 500:
        raise DomainError("Use at most 500 characters.", field="description")
    if product is not None and not product.active:
        raise DomainError(f"{product.sku} is archived; it cannot be quoted.", field="product")
    if given.quantity is None or given.quantity <= 0:
        raise DomainError("Enter a quantity above zero.", field="quantity")
    if given.quantity != given.quantity.quantize(Decimal("0.001")):
        raise DomainError("Use at most 3 decimals.", field="quantity")
    if product is not None:
        product.check_quantity(given.quantity)
    places = currency_places(currency)
    price = given.unit_price
    if price is None:
        if product is None:
            raise DomainError("Enter a unit price for a described line.", field="unit_price")
        base = CompanySettings.current().base_currency
        if currency != base:
            raise DomainError(f"List prices are in {base}; enter the price in {currency}.",
                              field="unit_price")
        price = product.list_price
        if price != price.quantize(Decimal(1).scaleb(-places)):
            raise DomainError(f"{product.sku}'s list price has more decimals than "
                              f"{currency} allows; enter the price.", field="unit_price")
    if price < 0:
        raise DomainError("Enter a unit price of zero or more.", field="unit_price")
    if price != price.quantize(Decimal(1).scaleb(-places)):
        raise DomainError(_places_error(places), field="unit_price")
    if given.quantity * price >= MAX_LINE_AMOUNT:
        raise DomainError("That line comes to a trillion or more; check the quantity and "
                          "the price.", field="quantity")
    discount = given.discount_percent if given.discount_percent is not None else Decimal(0)
    if discount < 0 or discount > MAX_DISCOUNT:
        raise DomainError("Enter a discount from 0 to 100%.", field="discount_percent")
    if discount != discount.quantize(Decimal("0.01")):
        raise DomainError("Use at most 2 decimals for the discount.", field="discount_percent")
    tax_rate = given.tax_rate
    if tax_rate is None and given.use_product_tax and product is not None:
        tax_rate = product.tax_rate
    line.product = product
    line.description = description
    line.quantity = given.quantity
    line.unit_price = price
    line.discount_percent = discount
    line.tax_rate = tax_rate
    line.tax_percent = tax_rate.percent if tax_rate is not None else Decimal("0.000")
    return line


def lock_quote(quote: Quote) -> Quote:
    """Re-read the quote under a row lock (PostgreSQL) for the rest of the transaction."""
    return lock_document(quote)


def archived_lines(quote: Quote) -> list[QuoteLine]:
    return [line for line in quote.lines if line.product is not None
            and not line.product.active]


def _check_sendable(quote: Quote) -> None:
    if not quote.lines:
        raise DomainError("Add at least one line before sending the quote.")
    archived = archived_lines(quote)
    if archived:
        skus = ", ".join(line.product.sku for line in archived)
        raise DomainError(f"{skus} {'was' if len(archived) == 1 else 'were'} archived since "
                          "the quote was drafted; remove or replace "
                          f"{'that line' if len(archived) == 1 else 'those lines'}.")
    if quote.valid_until < date.today():
        raise DomainError("The valid-until date has passed; set a new one first.",
                          field="valid_until")


def mark_sent(quote: Quote, *, by: User | None = None, version=None) -> Quote:
    """A draft quote goes out (by mail, or handed over): its lines are then fixed."""
    _require_quoter(by, quote.deal)
    lock_quote(quote)
    if version is not None:
        quote.check_version(version)
    if quote.status == "sent":
        return quote
    _require_draft(quote)
    _check_sendable(quote)
    quote.status = "sent"
    quote.sent_at = utcnow()
    quote.issued_on = date.today()
    return quote


def revise_quote(quote: Quote, *, by: User | None = None) -> Quote:
    """A new draft revision of a sent (or expired or declined) quote with the same lines;
    the old one is marked superseded and stays readable."""
    _require_quoter(by, quote.deal)
    lock_quote(quote)
    if quote.status == "draft":
        raise DomainError("This quote is still a draft: change it directly.")
    if quote.status == "accepted":
        raise DomainError("This quote was accepted; its order is the record now.")
    if quote.status == "superseded":
        raise DomainError(f"This quote was already revised as {quote.superseded_by.label}.")
    if not quote.deal.is_open:
        raise DomainError("The deal is closed; reopen it to quote again.")
    today = date.today()
    settings = CompanySettings.current()
    new = Quote(number=quote.number, revision=_last_revision(quote.number) + 1,
                deal=quote.deal, customer=quote.customer, contact=quote.contact,
                status="draft", currency=quote.currency, issued_on=today,
                valid_until=max(quote.valid_until,
                                today + timedelta(days=settings.quote_valid_days or 30)),
                notes=quote.notes, terms=quote.terms, revises_id=quote.id,
                created_by_id=by.id if by else None, created_at=utcnow())
    db.session.add(new)
    for line in quote.lines:
        new.lines.append(QuoteLine(
            position=line.position, product=line.product, description=line.description,
            quantity=line.quantity, unit_price=line.unit_price,
            discount_percent=line.discount_percent, tax_rate=line.tax_rate,
            tax_percent=line.tax_percent))
    db.session.flush()
    quote.status = "superseded"
    quote.superseded_by_id = new.id
    return new


def _last_revision(number: str) -> int:
    return db.session.scalar(select(func.max(Quote.revision)).where(Quote.number == number))


def decline_quote(quote: Quote, *, reason: str, by: User | None = None, version=None) -> Quote:
    """The customer said no to a sent quote (the deal stays open: revise, or move it to
    lost on the board)."""
    _require_quoter(by, quote.deal)
    lock_quote(quote)
    if version is not None:
        quote.check_version(version)
    if quote.status != "sent":
        raise DomainError(f"Only a sent quote can be declined; this one is "
                          f"{quote.state_label.lower()}.")
    reason = (reason or "").strip()
    if len(reason) > 500:
        raise DomainError("Use at most 500 characters.", field="reason")
    quote.status = "declined"
    quote.declined_at = utcnow()
    quote.decline_reason = reason
    return quote


# --- Availability and credit on a quote ------------------------------------------------

@dataclass
class LineStock:
    """Live stock for one quote line: available now, and what this quote would leave
    (all of its lines of that product taken)."""

    available: Decimal
    leaves: Decimal
    backorder: bool

    @property
    def short(self) -> bool:
        return self.leaves < 0

    @property
    def missing(self) -> Decimal:
        return -self.leaves if self.leaves < 0 else ZERO


def line_stock(lines) -> dict[int, LineStock]:
    """{line id: LineStock} for the stocked lines of a quote or order."""
    stocked = [line for line in lines if line.is_stocked]
    found = availability({line.product_id for line in stocked})
    wanted: dict[int, Decimal] = {}
    for line in stocked:
        wanted[line.product_id] = wanted.get(line.product_id, ZERO) + line.quantity
    result = {}
    for line in stocked:
        now = found[line.product_id].available if line.product_id in found else ZERO
        result[line.id] = LineStock(available=now, leaves=now - wanted[line.product_id],
                                    backorder=line.product.allow_backorder)
    return result


def credit_warnings(customer: Customer, amount: Decimal, currency: str) -> list[str]:
    """What finance would say before this much is quoted: the customer is on hold, open
    receivables plus orders not invoiced yet plus this amount pass the credit limit (the
    order would wait on credit hold), or something is overdue."""
    from models.receivables import standing

    account = customer.account
    warnings = []
    if account.on_hold:
        reason = f" ({account.hold_reason})" if account.hold_reason else ""
        warnings.append(f"{customer.name} is on hold{reason}: an order would wait on credit "
                        "hold until finance releases it.")
    limit = account.credit_limit or Decimal(0)
    if limit > 0 and currency == account.currency:
        found = standing(customer)
        exposure = found.exposure + amount
        if exposure > limit:
            warnings.append(f"With this quote, {customer.name}'s open receivables and "
                            f"orders come to {currency} {exposure:,.2f}, over their credit "
                            f"limit of {currency} {limit:,.2f}: the order would wait on "
                            "credit hold. Ask finance before going on.")
        if found.overdue > 0:
            warnings.append(f"{customer.name} has {currency} {found.overdue:,.2f} overdue.")
    return warnings


# --- Sales orders ------------------------------------------------------------------------

class SalesOrder(DocumentTotals, Versioned, db.Model):
    """A customer's confirmed order, made from an accepted quote.

    Attributes:
        number: SO-YYYY-NNNN. quote_id: unique, so a quote makes one order.
        status: one of ORDER_STATUSES; "held" waits for finance (credit control).
        ship_to: the delivery address when the order was made.
        credit_hold_reason: why it was put on credit hold ("" when it never was);
            credit_decision "released" or "rejected" with who, when and their note.
    """

    __tablename__ = "sales_orders"
    __audit__ = True
    __table_args__ = (
        CheckConstraint(f"status IN {ORDER_STATUSES!r}", name="status"),
        Index("ix_sales_orders_status_id", "status", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    quote_id: Mapped[int | None] = mapped_column(ForeignKey("quotes.id", ondelete="RESTRICT"),
                                                 unique=True)
    deal_id: Mapped[int | None] = mapped_column(ForeignKey("deals.id", ondelete="RESTRICT"),
                                                index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="RESTRICT"),
                                             index=True)
    status: Mapped[str] = mapped_column(String(10), default="confirmed")
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    customer_po: Mapped[str] = mapped_column(String(60), default="")
    ordered_on: Mapped[date] = mapped_column(Date)
    ship_to: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id",
                                                                 ondelete="SET NULL"))
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    cancel_reason: Mapped[str] = mapped_column(String(500), default="")
    # Credit control: why the order waits for finance, and what finance decided
    credit_hold_reason: Mapped[str] = mapped_column(String(500), default="")
    credit_decision: Mapped[str | None] = mapped_column(String(10))
    credit_decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    credit_decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id",
                                                                        ondelete="SET NULL"))
    credit_decision_note: Mapped[str] = mapped_column(String(500), default="")

    quote: Mapped[Quote | None] = relationship(back_populates="order", lazy="select")
    credit_decided_by: Mapped[User | None] = relationship(foreign_keys=[credit_decided_by_id],
                                                          lazy="select")
    deal: Mapped[Deal | None] = relationship(lazy="select")
    customer: Mapped[Customer] = relationship(lazy="joined")
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id],
                                                   lazy="select")
    lines: Mapped[list["SalesLine"]] = relationship(
        back_populates="order", cascade="all, delete-orphan",
        order_by="(SalesLine.position, SalesLine.id)")
    shipments: Mapped[list["Shipment"]] = relationship(back_populates="order",
                                                       order_by="Shipment.id")

    def __repr__(self) -> str:
        return f"<SalesOrder {self.number} {self.status}>"

    @property
    def audit_subject(self):
        return ("sales_order", self.id)

    @property
    def status_label(self) -> str:
        return ORDER_LABELS[self.status]

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_ORDER_STATUSES

    @property
    def ordered_quantity(self) -> Decimal:
        return sum((line.quantity for line in self.lines), ZERO)

    @property
    def shipped_quantity(self) -> Decimal:
        return sum((line.shipped for line in self.lines), ZERO)

    @property
    def delivery(self) -> str:
        """Delivery status in a few words: "Not shipped", "Shipped 3 of 5", "Shipped"."""
        if self.status == "cancelled":
            return "Cancelled"
        shipped, ordered = self.shipped_quantity, self.ordered_quantity
        if shipped <= 0:
            return "Not shipped yet"
        if shipped >= ordered:
            return "Shipped in full"
        return f"Shipped {shipped.normalize():f} of {ordered.normalize():f}"

    @property
    def last_shipment(self) -> "Shipment | None":
        return self.shipments[-1] if self.shipments else None


class SalesLine(PricedLine, db.Model):
    """One line of a sales order, copied from the quote.

    Attributes:
        shipped, invoiced: quantities so far. Reserved stock is in the line's reserved
            stock moves (source "sales_line", the line's id).
    """

    __tablename__ = "sales_lines"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity"),
        CheckConstraint("shipped >= 0 AND shipped <= quantity", name="shipped"),
        CheckConstraint("invoiced >= 0", name="invoiced"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("sales_orders.id", ondelete="CASCADE"),
                                          index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    quote_line_id: Mapped[int | None] = mapped_column(ForeignKey("quote_lines.id",
                                                                 ondelete="SET NULL"))
    product_id: Mapped[int | None] = mapped_column(ForeignKey("products.id",
                                                              ondelete="RESTRICT"), index=True)
    description: Mapped[str] = mapped_column(String(500), default="")
    quantity: Mapped[Decimal] = mapped_column(Quantity())
    unit_price: Mapped[Decimal] = mapped_column(Money())
    discount_percent: Mapped[Decimal] = mapped_column(Money(), default=Decimal("0.00"))
    tax_rate_id: Mapped[int | None] = mapped_column(ForeignKey("tax_rates.id",
                                                               ondelete="RESTRICT"))
    tax_percent: Mapped[Decimal] = mapped_column(Money(3), default=Decimal("0.000"))
    shipped: Mapped[Decimal] = mapped_column(Quantity(), default=ZERO)
    invoiced: Mapped[Decimal] = mapped_column(Quantity(), default=ZERO)

    order: Mapped[SalesOrder] = relationship(back_populates="lines")
    product: Mapped[Product | None] = relationship(lazy="joined")
    tax_rate: Mapped[TaxRate | None] = relationship(lazy="joined")

    @property
    def document(self) -> SalesOrder:
        return self.order

    @property
    def to_ship(self) -> Decimal:
        return self.quantity - self.shipped


def reserved_by_line(order: SalesOrder) -> dict[int, Decimal]:
    """{line id: quantity reserved now} from the lines' reserved stock moves."""
    ids = [line.id for line in order.lines]
    if not ids:
        return {}
    rows = db.session.execute(_reserved_by_line(), {"ids": ids})
    return {line_id: Decimal(total) for line_id, total in rows}


@cache
def _reserved_by_line():
    # every order page runs it: built once, the lines' ids bound at each run
    return (select(StockMove.source_id, func.sum(StockMove.quantity))
            .where(StockMove.source_type == LINE_SOURCE,
                   StockMove.source_id.in_(bindparam("ids", expanding=True)),
                   StockMove.state == "reserved")
            .group_by(StockMove.source_id))


def _reserved_moves(line: SalesLine) -> list[StockMove]:
    return _reserved_moves_of([line.id]).get(line.id, [])


def _reserved_moves_of(line_ids: list[int]) -> dict[int, list[StockMove]]:
    """{line id: its reserved moves, oldest first}, read fresh."""
    found: dict[int, list[StockMove]] = {}
    if line_ids:
        for move in db.session.scalars(
                select(StockMove).where(StockMove.source_type == LINE_SOURCE,
                                        StockMove.source_id.in_(line_ids),
                                        StockMove.state == "reserved")
                .order_by(StockMove.id).execution_options(populate_existing=True)):
            found.setdefault(move.source_id, []).append(move)
    return found


def lock_sales_order(order: SalesOrder) -> SalesOrder:
    return lock_document(order)


def backordered(order: SalesOrder, reserved: dict[int, Decimal] | None = None
                ) -> dict[int, Decimal]:
    """{line id: quantity still to ship that no stock is reserved for} for the stocked
    lines of an open order (what waits for a receipt)."""
    if not order.is_open:
        return {}
    reserved = reserved_by_line(order) if reserved is None else reserved
    return {line.id: line.to_ship - reserved.get(line.id, ZERO)
            for line in order.lines if line.is_stocked}


def accept_quote(quote: Quote, *, by: User | None = None, customer_po: str = "") -> SalesOrder:
    """Record the customer's yes: the sales order with the quote's lines and prices, the
    deal won at the quote's net value, stock reserved for stocked lines.

    Credit control: when the customer is on hold, or open receivables plus orders not
    invoiced yet plus this one pass the credit limit, the order is made "on credit hold"
    (its stock reserved, nothing ships) until finance releases or rejects it.

    Refused (nothing written) when the quote is not a sent, current, unexpired quote,
    a product was archived since, or a product without backorders has less available
    than the quote asks for.
    """
    _require_quoter(by, quote.deal)
    lock_quote(quote)
    if quote.status == "accepted":
        found = quote.order
        raise DomainError(f"This quote was already accepted"
                          f"{' as ' + found.number if found else ''}.")
    if quote.status == "superseded":
        newer = quote.superseded_by
        later = newer.label if newer is not None else "a newer revision"
        raise DomainError(f"This quote was superseded by {later}; accept that one.")
    if quote.status == "declined":
        raise DomainError("This quote was declined; revise it to offer again.")
    if quote.status == "draft":
        raise DomainError("Send the quote before recording its acceptance.")
    if quote.is_expired:
        raise DomainError(f"This quote expired on {quote.valid_until:%d %b %Y}; revise it "
                          "with a new date and send it again.")
    customer_po = (customer_po or "").strip()
    if len(customer_po) > 60:
        raise DomainError("Use at most 60 characters.", field="customer_po")
    _check_sendable(quote)  # lines there, none archived since
    # Everything read first, then every change, so that one flush writes the quote, the
    # deal and the order (each row once) before the stock is reserved.
    today = date.today()
    number = next_number("SO", today.year)
    deal = quote.deal
    won = Stage.closing("won") if deal.is_open else None
    # A sent quote has no order yet: said so, the new order's link back to it loads
    # nothing (one-to-one, so the old value would be read first).
    set_committed_value(quote, "order", None)
    quote.status = "accepted"
    quote.accepted_at = utcnow()
    quote.customer_po = customer_po
    deal.amount = quote.net
    if won is not None:
        _apply_move(deal, won, by=by, lost_reason=None)
    order = SalesOrder(number=number, quote=quote, deal=deal,
                       customer=quote.customer, status="confirmed", currency=quote.currency,
                       customer_po=customer_po, ordered_on=today,
                       ship_to="\n".join(quote.customer.address_lines),
                       created_by_id=by.id if by else None, created_at=utcnow())
    db.session.add(order)
    for line in quote.lines:
        order.lines.append(SalesLine(
            position=line.position, quote_line_id=line.id, product=line.product,
            description=line.description, quantity=line.quantity,
            unit_price=line.unit_price, discount_percent=line.discount_percent,
            tax_rate=line.tax_rate, tax_percent=line.tax_percent, shipped=ZERO,
            invoiced=ZERO))
    db.session.flush()
    from models.receivables import credit_check

    hold = credit_check(quote.customer, order.total, order.currency,
                        exclude_order_id=order.id)
    if hold:
        order.status = "held"
        order.credit_hold_reason = hold[:500]
    lock_products(line.product for line in order.lines if line.is_stocked)
    for line in order.lines:
        if line.is_stocked:
            _reserve_line(line, line.quantity, by=by, partial=line.product.allow_backorder)
    return order


def _reserve_line(line: SalesLine, quantity: Decimal, *, by: User | None,
                  partial: bool) -> Decimal:
    """Reserve up to `quantity` for an order line; returns what could not be reserved."""
    try:
        _, rest = reserve_stock(line.product, quantity, by=by, source_type=LINE_SOURCE,
                                source_id=line.id, reference=line.order.number,
                                partial=partial)
    except DomainError as error:
        raise DomainError(f"Line {line.position}: {error.message} "
                          f"{line.product.sku} takes no backorders.",
                          field=f"line-{line.id}") from None
    return rest


def reserve_outstanding(order: SalesOrder, *, by: User | None = None) -> Decimal:
    """Reserve what arrived since for backordered lines; returns what is still missing."""
    lock_sales_order(order)
    if not order.is_open:
        raise DomainError(f"This order is {order.status_label.lower()}.")
    reserved = reserved_by_line(order)
    missing = ZERO
    for line in order.lines:
        if not line.is_stocked:
            continue
        wanted = line.to_ship - reserved.get(line.id, ZERO)
        if wanted > 0:
            missing += _reserve_line(line, wanted, by=by, partial=True)
    return missing


def decide_credit_hold(order: SalesOrder, *, release: bool, note: str, by: User,
                       version=None) -> SalesOrder:
    """Finance's answer to an order on credit hold: released, it is confirmed and can
    ship; rejected, it is cancelled and its stock freed. Either way the deal's owner
    finds a note on the deal saying so, and why."""
    lock_sales_order(order)
    if version is not None:
        order.check_version(version)
    if order.status != "held":
        raise DomainError(f"This order is not on credit hold; it is "
                          f"{order.status_label.lower()}.")
    note = (note or "").strip()
    if not release and not note:
        raise DomainError("Say why the order is rejected: the sales rep will read it.",
                          field="note")
    if len(note) > 500:
        raise DomainError("Use at most 500 characters.", field="note")
    order.credit_decision = "released" if release else "rejected"
    order.credit_decided_at = utcnow()
    order.credit_decided_by_id = by.id if by else None
    order.credit_decision_note = note
    if release:
        order.status = "confirmed"
    else:
        for line in order.lines:
            for move in _reserved_moves(line):
                cancel_move(move, by=by)
        order.status = "cancelled"
        order.cancelled_at = utcnow()
        order.cancel_reason = f"Rejected by finance: {note}"[:500]
    from models.activities import log_activity

    verb = "released" if release else "rejected"
    log_activity(kind="note", subject=f"{order.number} credit hold {verb}"[:200],
                 customer=order.customer, deal=order.deal, by=by,
                 body=(f"Finance {verb} {order.number}."
                       + (f" Note: {note}" if note else "")
                       + ("" if release else " The order is cancelled and its stock freed.")))
    return order


def cancel_sales_order(order: SalesOrder, *, reason: str, by: User | None = None,
                       version=None) -> SalesOrder:
    """Cancel an order nothing has shipped on, releasing its reservations."""
    lock_sales_order(order)
    if version is not None:
        order.check_version(version)
    if order.status == "cancelled":
        raise DomainError("This order is already cancelled.")
    if order.shipments or order.status not in ("confirmed", "held"):
        raise DomainError("Part of this order has shipped; it cannot be cancelled.")
    reason = (reason or "").strip()
    if not reason:
        raise DomainError("Say why the order is cancelled.", field="reason")
    if len(reason) > 500:
        raise DomainError("Use at most 500 characters.", field="reason")
    for line in order.lines:
        for move in _reserved_moves(line):
            cancel_move(move, by=by)
    order.status = "cancelled"
    order.cancelled_at = utcnow()
    order.cancel_reason = reason
    return order


# --- Shipments ---------------------------------------------------------------------------

class Shipment(db.Model):
    """Goods that left for the customer on one day, with the carrier's reference."""

    __tablename__ = "shipments"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("sales_orders.id", ondelete="RESTRICT"),
                                          index=True)
    shipped_on: Mapped[date] = mapped_column(Date)
    carrier: Mapped[str] = mapped_column(String(60), default="")
    tracking: Mapped[str] = mapped_column(String(100), default="")
    note: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id",
                                                                 ondelete="SET NULL"))

    order: Mapped[SalesOrder] = relationship(back_populates="shipments")
    created_by: Mapped[User | None] = relationship(lazy="select")
    lines: Mapped[list["ShipmentLine"]] = relationship(
        back_populates="shipment", cascade="all, delete-orphan", order_by="ShipmentLine.id")

    @property
    def quantity(self) -> Decimal:
        return sum((line.quantity for line in self.lines), ZERO)


class ShipmentLine(db.Model):
    """How much of one order line a shipment carried, and its cost (base currency) for
    the cost of goods sold."""

    __tablename__ = "shipment_lines"
    __table_args__ = (CheckConstraint("quantity > 0", name="quantity"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    shipment_id: Mapped[int] = mapped_column(ForeignKey("shipments.id", ondelete="CASCADE"),
                                             index=True)
    line_id: Mapped[int] = mapped_column(ForeignKey("sales_lines.id", ondelete="RESTRICT"),
                                         index=True)
    quantity: Mapped[Decimal] = mapped_column(Quantity())
    cost: Mapped[Decimal] = mapped_column(Money(), default=Decimal("0.00"))

    shipment: Mapped[Shipment] = relationship(back_populates="lines")
    line: Mapped[SalesLine] = relationship(lazy="joined")


def ship(order: SalesOrder, quantities: dict[int, Decimal], *, by: User | None = None,
         shipped_on: date | None = None, carrier: str = "", tracking: str = "",
         note: str = "") -> Shipment:
    """Ship {line id: quantity}: each stocked line's reservations become done moves to
    the customer location (and what is free on hand is taken for the rest). Refused,
    nothing written, past what is left to ship on a line or what is on hand."""
    lock_sales_order(order)
    if order.status == "cancelled":
        raise DomainError("This order was cancelled; nothing ships on it.")
    if order.status == "held":
        raise DomainError("This order is on credit hold; nothing ships until finance "
                          "releases it.")
    if not order.is_open:
        raise DomainError("Everything on this order has shipped.")
    shipped_on = shipped_on or date.today()
    if shipped_on > date.today() + timedelta(days=1):
        raise DomainError("Record a shipment when it leaves, not ahead.", field="shipped_on")
    check_open(shipped_on, field="shipped_on", what="The shipment")
    carrier, tracking, note = ((carrier or "").strip(), (tracking or "").strip(),
                               (note or "").strip())
    for text, field, limit in ((carrier, "carrier", 60), (tracking, "tracking", 100),
                               (note, "note", 500)):
        if len(text) > limit:
            raise DomainError(f"Use at most {limit} characters.", field=field)
    lines = {line.id: line for line in order.lines}
    wanted = {line_id: qty for line_id, qty in quantities.items() if qty}
    if not wanted:
        raise DomainError("Enter the quantity shipped on at least one line.")
    for line_id, quantity in wanted.items():
        line = lines.get(line_id)
        field = f"qty-{line_id}"
        if line is None:
            raise DomainError("That line is not on this order.", field=field)
        if quantity < 0:
            raise DomainError("Enter zero or more.", field=field)
        if quantity > line.to_ship:
            raise DomainError(f"Only {line.to_ship.normalize():f} {line.unit} left to ship "
                              f"on line {line.position}.".replace("  ", " "), field=field)
        if line.product is not None:
            try:
                line.product.check_quantity(quantity)
            except DomainError as error:
                raise DomainError(error.message, field=field) from None
    shipment = Shipment(number=next_number("SH", date.today().year), order=order,
                        shipped_on=shipped_on, carrier=carrier, tracking=tracking, note=note,
                        created_by_id=by.id if by else None, created_at=utcnow(),
                        lines=[])  # new: nothing to load when its lines are added
    db.session.add(shipment)
    db.session.flush()
    stocked = [lines[line_id] for line_id in wanted if lines[line_id].is_stocked]
    lock_products(line.product for line in stocked)
    # under the locks, every line's reservations as they stand, in one read
    reserved = _reserved_moves_of([line.id for line in stocked])
    for line_id, quantity in sorted(wanted.items()):
        line = lines[line_id]
        cost = Decimal(0)
        if line.is_stocked:
            try:
                cost = _ship_stock(line, quantity, shipment, reserved.get(line.id, []), by=by)
            except DomainError as error:
                raise DomainError(error.message, field=f"qty-{line_id}") from None
        shipment.lines.append(ShipmentLine(line=line, quantity=quantity,
                                           cost=round_money(cost)))
        line.shipped += quantity
    order.status = "shipped" if all(line.to_ship <= 0 for line in order.lines) else "partial"
    db.session.flush()
    post_shipment(shipment, by=by)
    return shipment


def _ship_stock(line: SalesLine, quantity: Decimal, shipment: Shipment,
                reserved: list[StockMove], *, by: User | None) -> Decimal:
    """Done moves for `quantity` of a stocked line: its `reserved` moves (read under the
    product's lock) first, then what is free on hand. Returns their cost."""
    left = quantity
    done = []
    for move in reserved:
        if left <= 0:
            break
        take = min(move.quantity, left)
        done.append(complete_move(move, take, by=by, reference=shipment.number, fresh=True))
        left -= take
    if left > 0:
        try:
            moves, _ = reserve_stock(line.product, left, by=by, source_type=LINE_SOURCE,
                                     source_id=line.id, reference=shipment.number,
                                     partial=False)
        except DomainError as error:
            raise DomainError(f"Line {line.position}: {error.message} Only reserved and free "
                              "stock on hand can ship.") from None
        done.extend(complete_move(move, by=by, reference=shipment.number) for move in moves)
    return sum((move.quantity * move.unit_cost for move in done), Decimal(0))


# --- Where sales see it ------------------------------------------------------------------

# what a list of orders with totals and delivery status reads, loaded in two queries
_ORDER_SUMMARY = (lines_for_totals(SalesOrder.lines), selectinload(SalesOrder.shipments))


def quotes_for_deal(deal_id: int) -> list[Quote]:
    return list(db.session.scalars(_quotes_for_deal(), {"deal_id": deal_id}).unique())


def orders_for_deal(deal_id: int) -> list[SalesOrder]:
    return list(db.session.scalars(_orders_for_deal(), {"deal_id": deal_id}).unique())


# A deal page runs these on every request: built once, the deal's id bound at each run.
@cache
def _quotes_for_deal():
    return (select(Quote).where(Quote.deal_id == bindparam("deal_id"))
            .options(lazyload(Quote.deal), lazyload(Quote.customer),
                     lines_for_totals(Quote.lines))
            .order_by(Quote.number.desc(), Quote.revision.desc()))


@cache
def _orders_for_deal():
    return (select(SalesOrder).where(SalesOrder.deal_id == bindparam("deal_id"))
            .options(lazyload(SalesOrder.customer), *_ORDER_SUMMARY)
            .order_by(SalesOrder.id.desc()))


def orders_for_customer(customer_id: int, limit: int = 20) -> list[SalesOrder]:
    return list(db.session.scalars(_orders_for_customer(),
                                   {"customer_id": customer_id, "limit": limit}).unique())


@cache
def _orders_for_customer():
    # every customer page runs it: built once, its values bound at each run
    return (select(SalesOrder).where(SalesOrder.customer_id == bindparam("customer_id"))
            .options(lazyload(SalesOrder.customer), *_ORDER_SUMMARY)
            .order_by(SalesOrder.id.desc()).limit(bindparam("limit")))
