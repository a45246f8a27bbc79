"""Invoices and credit notes: what the customer owes, and what is given back.

Both live in one table (`kind` "invoice" or "credit_note"), as in Odoo's account moves:
the same lines, totals, PDF and posting, mirrored. A document is a draft until finance
posts it; posting gives the number (INV-YYYY-NNNN, CN-YYYY-NNNN) from the locked counter
inside the posting transaction, snapshots the billing details, posts its journal entry
and joins its kind's hash chain. A posted document is never deleted, and nothing of what
it says changes again: only its settlement (what is still open, what was credited)
moves, as payments and credit notes are allocated to it (models.payments).

Invoices come from a sales order (everything shipped and not yet invoiced, or one
shipment) or are written by hand. Credit notes come from an invoice (all of it or some
lines) or from a support case's approved credit request.

Amounts: lines round half-up per line to the currency's unit (models.documents); the
base-currency figures of the entry round per line and per tax rate, and the receivable
is their sum, so the entry balances to the cent.
"""

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
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    bindparam,
    event,
    inspect,
    literal_column,
    select,
    text,
)
from sqlalchemy.orm import (
    Mapped,
    Session,
    lazyload,
    mapped_column,
    relationship,
)
from sqlalchemy.orm.attributes import set_committed_value

from models import db
from models.cases import CreditRequest
from models.catalog import Product, TaxRate
from models.company import currency_places
from models.customers import Customer
from models.documents import (
    DocumentTotals,
    PricedLine,
    lines_for_totals,
    lock_document,
    without_joined,
)
from models.errors import DomainError
from models.ledger import (
    Account,
    JournalEntry,
    account_for,
    advance_chain,
    amount_text,
    base_currency,
    chain_hash,
    changed_columns,
    check_open,
    close_link,
    credit,
    debit,
    post_entry,
    to_base,
)
from models.pipeline import Deal
from models.sales import QuoteLineInput, SalesLine, SalesOrder, Shipment, set_priced_line
from models.sequences import next_number
from models.types import Money, Quantity
from models.users import User, utcnow
from models.versioned import Versioned

KINDS = ("invoice", "credit_note")
STATUSES = ("draft", "posted")
PREFIX = {"invoice": "INV", "credit_note": "CN"}
KIND_LABELS = {"invoice": "Invoice", "credit_note": "Credit note"}
STATE_LABELS = {"draft": "Draft", "open": "Open", "partial": "Partly paid", "paid": "Paid",
                "overdue": "Overdue", "credited": "Credited", "credit": "Open credit",
                "used": "Used"}
INVOICE_ROLES = ("admin", "finance")                     # who writes and posts them
VIEW_ROLES = ("admin", "finance", "sales", "operations")  # who may look at them
MAX_LINES = 500
ZERO = Decimal("0.00")
QTY_ZERO = Decimal("0.000")
# What may still change on a posted document: its settlement and bookkeeping, nothing it
# says. Everything else is refused at flush (and covered by the hash).
SETTLEMENT = frozenset({"open_amount", "open_base", "credited_amount", "last_paid_on",
                        "sent_at", "version", "updated_at", "updated_by_id"})


class Invoice(DocumentTotals, Versioned, db.Model):
    """An invoice or a credit note.

    Attributes:
        kind: "invoice" or "credit_note". status: "draft" or "posted"; `state` adds
            open / partly paid / paid / overdue / credited (an invoice) and open credit /
            used (a credit note), derived from the open amount and the due date.
        number: INV-YYYY-NNNN or CN-YYYY-NNNN from posting; None while a draft.
        order_id, shipment_id: the sales order (and shipment) it bills; None by hand.
        invoice_id: for a credit note, the invoice it credits; None otherwise.
        credit_request_id: the support case's credit request it settles; None otherwise.
        exchange_rate: base currency per unit of `currency` (1 in the base currency).
        issue_date, due_date: set at posting (due from the payment terms).
        bill_to, customer_tax_id: the buyer's details as printed, fixed at posting.
        net_amount, tax_amount, total_amount: the totals in `currency`, fixed at posting;
            total_base: the receivable in the base currency.
        open_amount, open_base: what is still to pay (an invoice) or to use (a credit
            note); credited_amount: how much of an invoice credit notes took back.
        chain_seq, prev_hash, hash: the document's place in its kind's hash chain.
    """

    __tablename__ = "invoices"
    __audit__ = True
    # bookkeeping a reader of the history does not need (the hash chain, base amounts)
    __audit_skip__ = frozenset({"chain_seq", "prev_hash", "hash", "open_base", "total_base",
                                "posted_by_id", "entry_id"})
    __table_args__ = (
        CheckConstraint(f"kind IN {KINDS!r}", name="kind"),
        CheckConstraint(f"status IN {STATUSES!r}", name="status"),
        CheckConstraint("exchange_rate > 0", name="exchange_rate"),
        CheckConstraint("open_amount >= 0 AND open_amount <= total_amount", name="open"),
        UniqueConstraint("kind", "chain_seq", name="uq_invoices_kind_chain_seq"),
        Index("ix_invoices_kind_status_due", "kind", "status", "due_date"),
        # covers "has this customer anything overdue?" without reading the rows
        Index("ix_invoices_customer_open", "customer_id", "kind", "status", "open_amount",
              "due_date"),
        Index("ix_invoices_kind_id", "kind", "id"),
        Index("ix_invoices_status_id", "status", "id"),  # drafts waiting to be posted
        # open documents by due date (overdue lists), without walking the settled ones
        Index("ix_invoices_open_due", "kind", "status", "due_date", "id",
              sqlite_where=text("open_amount > 0"), postgresql_where=text("open_amount > 0")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(12), default="invoice")
    number: Mapped[str | None] = mapped_column(String(20), unique=True)
    # active_history: the status as loaded is what the posted-document guard judges by
    status: Mapped[str] = mapped_column(String(8), default="draft", active_history=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="RESTRICT"))
    order_id: Mapped[int | None] = mapped_column(ForeignKey("sales_orders.id",
                                                            ondelete="RESTRICT"), index=True)
    shipment_id: Mapped[int | None] = mapped_column(ForeignKey("shipments.id",
                                                               ondelete="RESTRICT"))
    deal_id: Mapped[int | None] = mapped_column(ForeignKey("deals.id", ondelete="RESTRICT"),
                                                index=True)
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoices.id",
                                                              ondelete="RESTRICT"), index=True)
    credit_request_id: Mapped[int | None] = mapped_column(
        ForeignKey("credit_requests.id", ondelete="RESTRICT"), unique=True)
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    exchange_rate: Mapped[Decimal] = mapped_column(Money(6), default=Decimal("1.000000"))
    issue_date: Mapped[date | None] = mapped_column(Date)
    due_date: Mapped[date | None] = mapped_column(Date)
    payment_terms_days: Mapped[int] = mapped_column(Integer, default=30)
    bill_to: Mapped[str] = mapped_column(Text, default="")
    customer_tax_id: Mapped[str] = mapped_column(String(64), default="")
    customer_po: Mapped[str] = mapped_column(String(60), default="")
    notes: Mapped[str] = mapped_column(Text, default="")
    reason: Mapped[str] = mapped_column(String(500), default="")
    net_amount: Mapped[Decimal] = mapped_column(Money(), default=ZERO)
    tax_amount: Mapped[Decimal] = mapped_column(Money(), default=ZERO)
    total_amount: Mapped[Decimal] = mapped_column(Money(), default=ZERO)
    total_base: Mapped[Decimal] = mapped_column(Money(), default=ZERO)
    open_amount: Mapped[Decimal] = mapped_column(Money(), default=ZERO)
    open_base: Mapped[Decimal] = mapped_column(Money(), default=ZERO)
    credited_amount: Mapped[Decimal] = mapped_column(Money(), default=ZERO)
    last_paid_on: Mapped[date | None] = mapped_column(Date)
    entry_id: Mapped[int | None] = mapped_column(ForeignKey("journal_entries.id",
                                                            ondelete="RESTRICT"))
    posted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    posted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id",
                                                                ondelete="SET NULL"))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id",
                                                                 ondelete="SET NULL"))
    chain_seq: Mapped[int | None] = mapped_column(Integer)
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    hash: Mapped[str | None] = mapped_column(String(64))

    customer: Mapped[Customer] = relationship(lazy="joined")
    order: Mapped[SalesOrder | None] = relationship(lazy="select")
    shipment: Mapped[Shipment | None] = relationship(lazy="select")
    deal: Mapped[Deal | None] = relationship(lazy="select")
    credited_invoice: Mapped["Invoice | None"] = relationship(remote_side=[id],
                                                              lazy="select")
    credit_request: Mapped[CreditRequest | None] = relationship(lazy="select")
    entry: Mapped[JournalEntry | None] = relationship(lazy="select")
    posted_by: Mapped[User | None] = relationship(foreign_keys=[posted_by_id], lazy="select")
    lines: Mapped[list["InvoiceLine"]] = relationship(
        back_populates="invoice", cascade="all, delete-orphan",
        order_by="(InvoiceLine.position, InvoiceLine.id)")

    def __repr__(self) -> str:
        return f"<Invoice {self.kind} {self.number or self.id} {self.status}>"

    @property
    def audit_subject(self):
        return (self.kind, self.id)

    @property
    def is_credit_note(self) -> bool:
        return self.kind == "credit_note"

    @property
    def is_draft(self) -> bool:
        return self.status == "draft"

    @property
    def kind_label(self) -> str:
        return KIND_LABELS[self.kind]

    @property
    def label(self) -> str:
        """INV-2026-0007, or "Draft invoice 12" before posting."""
        if self.number:
            return self.number
        return f"Draft {self.kind_label.lower()} {self.id}"

    @property
    def is_overdue(self) -> bool:
        return (self.kind == "invoice" and self.status == "posted" and self.open_amount > 0
                and self.due_date is not None and self.due_date < date.today())

    @property
    def days_overdue(self) -> int:
        return (date.today() - self.due_date).days if self.is_overdue else 0

    @property
    def paid_amount(self) -> Decimal:
        """What payments (not credit notes) settled of an invoice."""
        return self.total_amount - self.credited_amount - self.open_amount

    @property
    def state(self) -> str:
        if self.status == "draft":
            return "draft"
        if self.kind == "credit_note":
            return "credit" if self.open_amount > 0 else "used"
        if self.credited_amount >= self.total_amount:
            return "credited"
        if self.open_amount <= 0:
            return "paid"
        if self.is_overdue:
            return "overdue"
        return "partial" if self.open_amount < self.total_amount else "open"

    @property
    def state_label(self) -> str:
        return STATE_LABELS[self.state]

    @property
    def places(self) -> int:
        return currency_places(self.currency)

    @property
    def file_label(self) -> str:
        return self.number or f"draft-{self.kind.replace('_', '-')}-{self.id}"

    def content(self) -> dict:
        """What the hash covers: everything the document says (not its settlement)."""
        return {
            "kind": self.kind, "number": self.number, "customer": self.customer_id,
            "order": self.order_id, "shipment": self.shipment_id, "deal": self.deal_id,
            "invoice": self.invoice_id, "credit_request": self.credit_request_id,
            "currency": self.currency, "rate": f"{self.exchange_rate:.6f}",
            "issued": self.issue_date.isoformat() if self.issue_date else None,
            "due": self.due_date.isoformat() if self.due_date else None,
            "terms": self.payment_terms_days, "bill_to": self.bill_to,
            "tax_id": self.customer_tax_id, "po": self.customer_po, "notes": self.notes,
            "reason": self.reason, "net": amount_text(self.net_amount),
            "tax": amount_text(self.tax_amount), "total": amount_text(self.total_amount),
            "total_base": amount_text(self.total_base), "entry": self.entry_id,
            "lines": [[line.position, line.product_id, line.description,
                       f"{line.quantity:.3f}", f"{line.unit_price:.2f}",
                       f"{line.discount_percent:.2f}", f"{line.tax_percent:.3f}",
                       line.account_id, line.sales_line_id, line.source_line_id]
                      for line in self.lines],
        }


# SQL: something is left open. A literal 0, not a bound parameter, so that the planner
# (SQLite's in particular) can use the partial index ix_invoices_open_due.
INVOICE_OPEN = Invoice.open_amount > literal_column("0")


class InvoiceLine(PricedLine, db.Model):
    """One line of an invoice or a credit note.

    Attributes:
        sales_line_id: the order line it bills; None on a line written by hand.
        source_line_id: on a credit note, the invoice line it takes back; None otherwise.
        account_id: the income account its net posts to.
        credited: on an invoice, how much of the quantity credit notes took back.
    """

    __tablename__ = "invoice_lines"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity"),
        CheckConstraint("unit_price >= 0", name="unit_price"),
        CheckConstraint("credited >= 0 AND credited <= quantity", name="credited"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id", ondelete="CASCADE"),
                                            index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    sales_line_id: Mapped[int | None] = mapped_column(ForeignKey("sales_lines.id",
                                                                 ondelete="RESTRICT"),
                                                      index=True)
    source_line_id: Mapped[int | None] = mapped_column(ForeignKey("invoice_lines.id",
                                                                  ondelete="RESTRICT"))
    product_id: Mapped[int | None] = mapped_column(ForeignKey("products.id",
                                                              ondelete="RESTRICT"))
    description: Mapped[str] = mapped_column(String(500), default="")
    quantity: Mapped[Decimal] = mapped_column(Quantity())
    unit_price: Mapped[Decimal] = mapped_column(Money())
    discount_percent: Mapped[Decimal] = mapped_column(Money(), default=ZERO)
    tax_rate_id: Mapped[int | None] = mapped_column(ForeignKey("tax_rates.id",
                                                               ondelete="RESTRICT"))
    tax_percent: Mapped[Decimal] = mapped_column(Money(3), default=Decimal("0.000"))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="RESTRICT"))
    credited: Mapped[Decimal] = mapped_column(Quantity(), default=QTY_ZERO)

    invoice: Mapped[Invoice] = relationship(back_populates="lines")
    product: Mapped[Product | None] = relationship(lazy="joined")
    tax_rate: Mapped[TaxRate | None] = relationship(lazy="joined")
    account: Mapped[Account] = relationship(lazy="joined")
    sales_line: Mapped[SalesLine | None] = relationship(lazy="select")
    source_line: Mapped["InvoiceLine | None"] = relationship(remote_side=[id], lazy="select")

    @property
    def document(self) -> Invoice:
        return self.invoice

    @property
    def creditable(self) -> Decimal:
        return self.quantity - self.credited


class InvoicePdf(db.Model):
    """The PDF of a posted invoice or credit note as first rendered: the legal copy,
    served again for every later download (a posted document never changes)."""

    __tablename__ = "invoice_pdfs"

    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id", ondelete="RESTRICT"),
                                            primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


@event.listens_for(Session, "before_flush")
def _refuse_changing_posted(session, flush_context, instances):
    """A posted invoice or credit note keeps what it says: only its settlement moves, and
    it is never deleted. (Drafts change freely.)"""
    for obj in session.dirty:
        if isinstance(obj, Invoice) and session.is_modified(obj, include_collections=False):
            if _was_posted(obj) and changed_columns(obj) - SETTLEMENT:
                raise DomainError(f"{obj.label} is posted; it cannot be changed. Issue a "
                                  "credit note to correct it.")
        elif isinstance(obj, InvoiceLine) and session.is_modified(obj):
            invoice = obj.invoice
            if invoice is not None and _was_posted(invoice) and changed_columns(obj) - {
                    "credited"}:
                raise DomainError(f"{invoice.label} is posted; its lines cannot be changed. "
                                  "Issue a credit note to correct it.")
    for obj in session.deleted:
        if isinstance(obj, Invoice) and _was_posted(obj):
            raise DomainError(f"{obj.label} is posted; a posted document is never deleted.")
        if isinstance(obj, InvoiceLine) and obj.invoice is not None and _was_posted(
                obj.invoice):
            raise DomainError(f"{obj.invoice.label} is posted; its lines cannot be changed.")
    for obj in session.new:
        if isinstance(obj, InvoiceLine) and obj.invoice is not None and _was_posted(
                obj.invoice):
            raise DomainError(f"{obj.invoice.label} is posted; no line can be added.")


def _was_posted(invoice: Invoice) -> bool:
    """Posted as loaded from the database (posting itself, draft -> posted, is allowed)."""
    history = inspect(invoice).attrs.status.history
    loaded = history.deleted[0] if history.deleted else (
        invoice.status if not history.added else None)
    return loaded == "posted"


# --- Who the income goes to --------------------------------------------------------------

def income_account(product: Product | None) -> Account:
    """Goods to sales of goods, services and described lines to service income."""
    return account_for("sales" if product is not None and product.is_stocked else "services")


def income_accounts() -> list[Account]:
    return list(db.session.scalars(
        select(Account).where(Account.type == "income", Account.active.is_(True),
                              Account.role.is_distinct_from("fx"))
        .order_by(Account.code)))


# --- Drafts ------------------------------------------------------------------------------

def lock_invoice(invoice: Invoice) -> Invoice:
    return lock_document(invoice)


def _require_draft(invoice: Invoice) -> None:
    if invoice.status != "draft":
        raise DomainError(f"{invoice.label} is posted; it cannot be changed. Issue a credit "
                          "note to correct it.")


def draft_for_order(order: SalesOrder) -> Invoice | None:
    """The order's draft invoice waiting to be posted, if there is one."""
    return db.session.scalar(select(Invoice).where(
        Invoice.order_id == order.id, Invoice.kind == "invoice", Invoice.status == "draft")
        .order_by(Invoice.id).limit(1))


def uninvoiced(line: SalesLine) -> Decimal:
    """What has shipped on an order line and is not invoiced yet."""
    return max(line.shipped - line.invoiced, QTY_ZERO)


def shipment_invoiced(shipment: Shipment) -> Invoice | None:
    return db.session.scalar(select(Invoice).where(
        Invoice.shipment_id == shipment.id, Invoice.kind == "invoice").limit(1))


def invoice_order(order: SalesOrder, *, shipment: Shipment | None = None,
                  by: User | None = None) -> Invoice:
    """A draft invoice for what has shipped on the order and is not invoiced yet (all of
    it, or what one shipment carried), at the order's prices."""
    lock_document(order)
    if order.status == "cancelled":
        raise DomainError("This order was cancelled; there is nothing to invoice.")
    waiting = draft_for_order(order)
    if waiting is not None:
        raise DomainError(f"{waiting.label} for this order is waiting to be posted; post or "
                          "delete it first.")
    wanted: dict[int, Decimal] = {}
    if shipment is not None:
        if shipment.order_id != order.id:
            raise DomainError("That shipment is not on this order.")
        done = shipment_invoiced(shipment)
        if done is not None:
            raise DomainError(f"{shipment.number} is already on {done.label}.")
        for shipped in shipment.lines:
            quantity = min(shipped.quantity, uninvoiced(shipped.line))
            if quantity > 0:
                wanted[shipped.line_id] = wanted.get(shipped.line_id, QTY_ZERO) + quantity
    else:
        wanted = {line.id: uninvoiced(line) for line in order.lines if uninvoiced(line) > 0}
    if not wanted:
        raise DomainError("Nothing shipped on this order is left to invoice."
                          if shipment is None else
                          f"Everything {shipment.number} carried is already invoiced.")
    account = order.customer.account
    invoice = Invoice(kind="invoice", status="draft", customer=order.customer, order=order,
                      shipment=shipment, deal_id=order.deal_id, currency=order.currency,
                      exchange_rate=Decimal("1.000000"),
                      payment_terms_days=account.payment_terms_days,
                      customer_po=order.customer_po, created_by_id=by.id if by else None,
                      created_at=utcnow())
    db.session.add(invoice)
    position = 0
    for line in order.lines:
        if line.id not in wanted:
            continue
        position += 1
        invoice.lines.append(InvoiceLine(
            position=position, sales_line=line, sales_line_id=line.id, product=line.product,
            description=line.description, quantity=wanted[line.id],
            unit_price=line.unit_price, discount_percent=line.discount_percent,
            tax_rate=line.tax_rate, tax_percent=line.tax_percent,
            account=income_account(line.product), credited=QTY_ZERO))
    db.session.flush()
    return invoice


def create_invoice(customer: Customer, *, by: User | None = None, notes: str = "",
                   customer_po: str = "") -> Invoice:
    """A draft invoice written by hand, in the customer's account currency."""
    account = customer.account
    invoice = Invoice(kind="invoice", status="draft", customer=customer,
                      currency=account.currency, exchange_rate=Decimal("1.000000"),
                      payment_terms_days=account.payment_terms_days,
                      notes=(notes or "").strip(), customer_po=(customer_po or "").strip()[:60],
                      created_by_id=by.id if by else None, created_at=utcnow())
    db.session.add(invoice)
    db.session.flush()
    return invoice


def add_invoice_line(invoice: Invoice, given: QuoteLineInput, *,
                     account: Account | None = None) -> InvoiceLine:
    """Append a line (a product or a described line) to a draft written by hand."""
    _require_draft(invoice)
    if invoice.order_id is not None:
        raise DomainError("This invoice bills an order; its lines come from what shipped.")
    if invoice.invoice_id is not None:
        raise DomainError("This credit note takes back lines of its invoice; its lines come "
                          "from there.")
    if len(invoice.lines) >= MAX_LINES:
        raise DomainError(f"A document has at most {MAX_LINES} lines.")
    line = InvoiceLine(position=len(invoice.lines) + 1, credited=QTY_ZERO)
    set_priced_line(line, given, invoice.currency)
    line.account = _check_income_account(account, line.product)
    line.invoice = invoice
    db.session.add(line)
    db.session.flush()
    return line


def _check_income_account(account: Account | None, product: Product | None) -> Account:
    if account is None:
        return income_account(product)
    if account.type != "income" or not account.active or account.role == "fx":
        raise DomainError("Choose an active income account.", field="account_id")
    return account


def update_invoice_line(line: InvoiceLine, *, quantity: Decimal) -> InvoiceLine:
    """Change how much of a line a draft bills (or credits): never more than the order
    line has shipped and not yet invoiced, or the invoice line has left to credit."""
    invoice = line.invoice
    _require_draft(invoice)
    if quantity is None or quantity <= 0:
        raise DomainError("Enter a quantity above zero.", field="quantity")
    if line.product is not None:
        line.product.check_quantity(quantity)
    limit = _line_limit(line)
    if limit is not None and quantity > limit:
        raise DomainError(f"At most {limit.normalize():f} {line.unit} can be "
                          f"{'credited' if invoice.is_credit_note else 'invoiced'} on this "
                          "line.".replace("  ", " "), field="quantity")
    line.quantity = quantity
    return line


def _line_limit(line: InvoiceLine) -> Decimal | None:
    if line.sales_line is not None and not line.invoice.is_credit_note:
        return uninvoiced(line.sales_line)
    if line.source_line is not None:
        return line.source_line.creditable
    return None


def remove_invoice_line(line: InvoiceLine) -> None:
    invoice = line.invoice
    _require_draft(invoice)
    invoice.lines.remove(line)
    db.session.delete(line)
    for position, other in enumerate(invoice.lines, start=1):
        other.position = position


def update_draft(invoice: Invoice, *, version, notes: str, customer_po: str,
                 payment_terms_days: int, reason: str | None = None) -> Invoice:
    """A draft's notes, the customer's reference, the payment terms (and a credit note's
    reason)."""
    invoice.check_version(version)
    _require_draft(invoice)
    if payment_terms_days is None or not 0 <= payment_terms_days <= 365:
        raise DomainError("Enter payment terms from 0 to 365 days.",
                          field="payment_terms_days")
    invoice.notes = (notes or "").strip()
    invoice.customer_po = (customer_po or "").strip()[:60]
    invoice.payment_terms_days = payment_terms_days
    if reason is not None and invoice.is_credit_note:
        reason = reason.strip()
        if not reason:
            raise DomainError("Say why the customer is credited.", field="reason")
        invoice.reason = reason[:500]
    return invoice


def delete_draft(invoice: Invoice) -> None:
    """Throw a draft away (a posted document is never deleted)."""
    lock_invoice(invoice)
    _require_draft(invoice)
    db.session.delete(invoice)
    db.session.flush()


# --- Credit notes ------------------------------------------------------------------------

def credit_invoice(invoice: Invoice, *, reason: str, quantities: dict[int, Decimal] | None = None,
                   by: User | None = None) -> Invoice:
    """A draft credit note for a posted invoice: every line still creditable (None), or
    {invoice line id: quantity}."""
    lock_invoice(invoice)
    if invoice.kind != "invoice":
        raise DomainError("Only an invoice can be credited.")
    if invoice.status != "posted":
        raise DomainError("This invoice is a draft; change or delete it instead.")
    reason = (reason or "").strip()
    if not reason:
        raise DomainError("Say why the customer is credited.", field="reason")
    if len(reason) > 500:
        raise DomainError("Use at most 500 characters.", field="reason")
    lines = {line.id: line for line in invoice.lines}
    if quantities is None:
        quantities = {line.id: line.creditable for line in invoice.lines if line.creditable > 0}
    wanted = {line_id: qty for line_id, qty in quantities.items() if qty}
    if not wanted:
        raise DomainError("Everything on this invoice is credited already."
                          if all(line.creditable <= 0 for line in invoice.lines) else
                          "Enter the quantity to credit on at least one line.")
    for line_id, quantity in wanted.items():
        line = lines.get(line_id)
        field = f"qty-{line_id}"
        if line is None:
            raise DomainError("That line is not on this invoice.", field=field)
        if quantity < 0:
            raise DomainError("Enter zero or more.", field=field)
        if quantity > line.creditable:
            raise DomainError(f"Only {line.creditable.normalize():f} {line.unit} of line "
                              f"{line.position} is left to credit.".replace("  ", " "),
                              field=field)
    note = Invoice(kind="credit_note", status="draft", customer=invoice.customer,
                   order_id=invoice.order_id, deal_id=invoice.deal_id, invoice_id=invoice.id,
                   currency=invoice.currency, exchange_rate=invoice.exchange_rate,
                   payment_terms_days=0, customer_po=invoice.customer_po, reason=reason,
                   created_by_id=by.id if by else None, created_at=utcnow())
    db.session.add(note)
    position = 0
    for line in invoice.lines:
        if line.id not in wanted:
            continue
        position += 1
        note.lines.append(InvoiceLine(
            position=position, source_line=line, source_line_id=line.id,
            product=line.product, description=line.description, quantity=wanted[line.id],
            unit_price=line.unit_price, discount_percent=line.discount_percent,
            tax_rate=line.tax_rate, tax_percent=line.tax_percent, account=line.account,
            credited=QTY_ZERO))
    db.session.flush()
    return note


def credit_from_request(request: CreditRequest, *, tax_rate: TaxRate | None = None,
                        by: User | None = None) -> Invoice:
    """A draft credit note for a support case's approved credit request: one line of the
    approved amount (gross: with no tax rate, or net of the chosen rate)."""
    if request.status != "approved":
        raise DomainError("Only an approved credit request becomes a credit note.")
    taken = db.session.scalar(select(Invoice).where(
        Invoice.credit_request_id == request.id))
    if taken is not None:
        raise DomainError(f"This request is already on {taken.label}.")
    customer = db.session.get(Customer, request.customer_id)
    note = Invoice(kind="credit_note", status="draft", customer=customer,
                   credit_request_id=request.id, currency=request.currency,
                   exchange_rate=Decimal("1.000000"), payment_terms_days=0,
                   reason=f"Case #{request.case_id}: {request.reason}"[:500],
                   created_by_id=by.id if by else None, created_at=utcnow())
    db.session.add(note)
    db.session.flush()
    line = InvoiceLine(position=1, credited=QTY_ZERO)
    set_priced_line(line, QuoteLineInput(
        product=None, quantity=Decimal(1), unit_price=request.amount, tax_rate=tax_rate,
        use_product_tax=False, description=f"Credit: {request.reason}"[:500]), note.currency)
    line.account = account_for("services")
    line.invoice = note
    db.session.add(line)
    db.session.flush()
    return note


# --- Posting -----------------------------------------------------------------------------

def post_invoice(invoice: Invoice, *, issue_date: date | None = None,
                 exchange_rate: Decimal | None = None, by: User | None = None) -> Invoice:
    """Post a draft: number, billing snapshot, due date, journal entry, hash chain. An
    invoice updates what its order lines have invoiced; a credit note updates what its
    invoice lines have credited and is allocated to that invoice's open amount.

    Refused, nothing written, when it is not a draft, has no lines or no total, is dated
    in a closed period or ahead of today, lacks an exchange rate in another currency than
    the base, or bills (credits) more than is left to invoice (to credit)."""
    lock_invoice(invoice)
    if invoice.status != "draft":
        raise DomainError(f"This {invoice.kind_label.lower()} is already posted as "
                          f"{invoice.number}.")
    if not invoice.lines:
        raise DomainError("Add at least one line before posting.")
    issue_date = issue_date or date.today()
    if issue_date > date.today():
        raise DomainError("Post it dated today or earlier.", field="issue_date")
    check_open(issue_date, field="issue_date", what=f"The {invoice.kind_label.lower()}")
    if exchange_rate is None and invoice.credited_invoice is not None:
        # a credit note takes back at the rate its invoice was booked at
        exchange_rate = invoice.credited_invoice.exchange_rate
    rate = document_rate(invoice.currency, exchange_rate)
    total = invoice.total
    if total <= 0:
        raise DomainError(f"The {invoice.kind_label.lower()} comes to nothing; add a line "
                          "with an amount.")
    customer = invoice.customer
    account = customer.account
    if invoice.kind == "invoice":
        _take_order_quantities(invoice)
    else:
        _take_credited_quantities(invoice, total)
    # The number, the entry and the chain's head are taken first (their statements
    # flush the session); then everything the posting says is set at once, so the
    # document changes in one flush: one history entry, one guard check (draft -> posted).
    number = next_number(PREFIX[invoice.kind], issue_date.year)
    postings, receivable = _postings(invoice, rate, number)
    entry = post_entry(issue_date, postings, memo=f"{number} · {customer.name}",
                       source_type=invoice.kind, source_id=invoice.id, reference=number,
                       by=by)
    seq, prev = advance_chain(invoice.kind)
    invoice.number = number
    invoice.exchange_rate = rate
    invoice.issue_date = issue_date
    invoice.due_date = (issue_date + timedelta(days=invoice.payment_terms_days)
                        if invoice.kind == "invoice" else issue_date)
    invoice.bill_to = "\n".join([customer.name] + (
        account.billing_address.splitlines() if account.billing_address.strip()
        else customer.address_lines))
    invoice.customer_tax_id = account.tax_id
    invoice.net_amount, invoice.tax_amount, invoice.total_amount = (
        invoice.net, invoice.tax, total)
    invoice.total_base = receivable
    invoice.entry_id = entry.id
    invoice.posted_at = utcnow()
    invoice.posted_by_id = by.id if by else None
    invoice.open_amount = total
    invoice.open_base = receivable
    invoice.credited_amount = ZERO
    invoice.chain_seq, invoice.prev_hash = seq, prev
    invoice.hash = chain_hash(prev, invoice.content())
    invoice.status = "posted"
    db.session.flush()
    close_link(invoice.kind, invoice.hash)
    if invoice.kind == "credit_note":
        _settle_credit_note(invoice, by=by)
    elif invoice.order is not None:
        _update_order_status(invoice.order)
    return invoice


def document_rate(currency: str, given: Decimal | None) -> Decimal:
    """The exchange rate a document is booked at: 1 in the base currency, else the
    given rate (required, above zero, six decimals at most)."""
    if currency == base_currency():
        if given is not None and given != 1:
            raise DomainError(f"It is in {currency}, the base currency: the rate is 1.",
                              field="exchange_rate")
        return Decimal("1.000000")
    if given is None or given <= 0:
        raise DomainError(f"Enter the exchange rate: {base_currency()} per 1 {currency}.",
                          field="exchange_rate")
    if given != given.quantize(Decimal("0.000001")) or given >= 1_000_000:
        raise DomainError("Use a rate below a million with at most 6 decimals.",
                          field="exchange_rate")
    return given


def _take_order_quantities(invoice: Invoice) -> None:
    """Invoiced quantities move onto the order lines, checked again under the order's
    lock: two invoices can never bill the same shipped goods."""
    order = invoice.order
    if order is None:
        return
    lock_document(order)
    # the order's lines as they are under the lock, in one statement (not two a line:
    # its lazy load and a refresh); they are the order's collection too
    fresh = db.session.scalars(
        select(SalesLine).where(SalesLine.order_id == order.id)
        .options(*without_joined(SalesLine)).order_by(SalesLine.position, SalesLine.id)
        .execution_options(populate_existing=True)).all()
    set_committed_value(order, "lines", fresh)
    by_id = {sales_line.id: sales_line for sales_line in fresh}
    for line in invoice.lines:
        if line.sales_line_id is None:
            continue
        sales_line = by_id.get(line.sales_line_id)
        if sales_line is None:  # another order's line: read it fresh on its own
            sales_line = line.sales_line
            db.session.refresh(sales_line)
        left = uninvoiced(sales_line)
        if line.quantity > left:
            raise DomainError(f"Line {line.position}: only {left.normalize():f} "
                              f"{line.unit} shipped and not yet invoiced.".replace("  ", " "))
        sales_line.invoiced += line.quantity


def _take_credited_quantities(note: Invoice, total: Decimal) -> None:
    target = note.credited_invoice
    if target is None:
        return
    lock_invoice(target)
    if target.status != "posted":
        raise DomainError("The credited invoice is not posted.")
    left = target.total_amount - target.credited_amount
    if total > left:
        raise DomainError(f"This credit note ({note.currency} {total:,.2f}) is larger than "
                          f"what is left to credit on {target.number} ({note.currency} "
                          f"{left:,.2f}).")
    for line in note.lines:
        source = line.source_line
        if source is None:
            continue
        if line.quantity > source.creditable:
            raise DomainError(f"Line {line.position}: only {source.creditable.normalize():f} "
                              f"{line.unit} is left to credit.".replace("  ", " "))
        source.credited += line.quantity
    target.credited_amount += total


def _postings(invoice: Invoice, rate: Decimal, number: str):
    """The entry's lines and the receivable in the base currency: income per line, tax per
    rate, the receivable their sum (an invoice debits it, a credit note credits it)."""
    sign = 1 if invoice.kind == "invoice" else -1
    postings = []
    receivable = ZERO
    for line in invoice.lines:
        amount = to_base(line.net, rate)
        receivable += amount
        postings.append(credit(line.account, sign * amount, line.label[:200]))
    tax_account = account_for("tax_out")
    for label, _net, tax in invoice.tax_breakdown:
        amount = to_base(tax, rate)
        receivable += amount
        postings.append(credit(tax_account, sign * amount, f"Tax {label}"))
    postings.insert(0, debit(account_for("receivable"), sign * receivable, number,
                             customer_id=invoice.customer_id))
    return postings, receivable


def _update_order_status(order: SalesOrder) -> None:
    """An order whose every line has shipped and been invoiced is "invoiced"."""
    if order.status == "shipped" and all(line.invoiced >= line.quantity
                                         for line in order.lines):
        order.status = "invoiced"


def _settle_credit_note(note: Invoice, *, by: User | None) -> None:
    """A credit note for an invoice takes what it can off that invoice's open amount; the
    rest stays as the customer's credit."""
    from models.payments import allocate

    target = note.credited_invoice
    if target is not None and target.open_amount > 0:
        allocate(note, target, min(note.open_amount, target.open_amount), by=by)


# --- Reading -----------------------------------------------------------------------------

def invoices_for_order(order_id: int) -> list[Invoice]:
    """The order's invoices and credit notes, oldest first."""
    return list(db.session.scalars(_invoices_for_order(), {"order_id": order_id}).unique())


@cache
def _invoices_for_order():
    # every order page runs it: built once, the order's id bound at each run
    return (select(Invoice).where(Invoice.order_id == bindparam("order_id"))
            .options(lines_for_totals(Invoice.lines)).order_by(Invoice.id))


def invoices_for_deal(deal_id: int) -> list[Invoice]:
    return list(db.session.scalars(_invoices_for_deal(), {"deal_id": deal_id}).unique())


@cache
def _invoices_for_deal():
    # a deal page runs it on every request: built once, the deal's id bound at each run
    return (select(Invoice).where(Invoice.deal_id == bindparam("deal_id"),
                                  Invoice.status == "posted")
            .options(lazyload(Invoice.customer)).order_by(Invoice.id))


def invoices_for_customer(customer_id: int, limit: int = 20) -> list[Invoice]:
    """The latest, drafts first. A posted one's totals are stored; a draft's come from
    its lines, loaded for the drafts only."""
    found = list(db.session.scalars(
        _invoices_for_customer(), {"customer_id": customer_id, "limit": limit}).unique())
    drafts = [invoice.id for invoice in found if invoice.status != "posted"]
    if drafts:
        db.session.scalars(_drafts_with_lines(), {"ids": drafts}).unique().all()
    return found


# every customer page runs these: built once, their values bound at each run
@cache
def _invoices_for_customer():
    return (select(Invoice).where(Invoice.customer_id == bindparam("customer_id"))
            .options(lazyload(Invoice.customer), lazyload(Invoice.lines))
            .order_by(Invoice.status == "posted", Invoice.issue_date.desc(), Invoice.id.desc())
            .limit(bindparam("limit")))


@cache
def _drafts_with_lines():
    return (select(Invoice).where(Invoice.id.in_(bindparam("ids", expanding=True)))
            .options(lazyload(Invoice.customer), lines_for_totals(Invoice.lines)))


def credit_notes_for(invoice_id: int) -> list[Invoice]:
    return list(db.session.scalars(select(Invoice).where(
        Invoice.invoice_id == invoice_id, Invoice.kind == "credit_note")
        .order_by(Invoice.id)).unique())

