"""Payments and allocations: money received from customers and paid to suppliers, and
which documents it settles.

A payment is posted when it is recorded: a customer's debits the bank and credits the
receivable, a supplier's debits the payable and credits the bank. Allocating settles a
document: a payment or a credit note (the source) takes an amount off an invoice's
open amount (the target); a supplier payment off a vendor bill's. What a payment does
not settle stays open on it: the customer's credit (an overpayment) or a supplier
payment on account, to be allocated later.

In another currency than the base, each side of an allocation relieves its own base
amount (the invoice at its rate, the payment at its rate); the difference is an
exchange gain or loss, posted with the allocation. The last allocation of a document
takes exactly what is left of its base amount, so a settled document leaves nothing
behind in the base currency either. That keeps the control accounts equal to the
sub-ledgers: the receivable per customer is the open base amounts of its invoices less
those of its credit notes and payments (`check-books` verifies it).
"""

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    String,
    Text,
    select,
)
from sqlalchemy.orm import Mapped, joinedload, mapped_column, relationship

from models import db
from models.catalog import Supplier
from models.company import currency_places
from models.customers import Customer
from models.documents import lock_document
from models.errors import DomainError
from models.invoicing import Invoice, document_rate
from models.ledger import (
    Account,
    JournalEntry,
    account_for,
    check_open,
    credit,
    debit,
    lock_date,
    post_entry,
    to_base,
)
from models.purchasing import VendorBill
from models.sequences import next_number
from models.types import Money
from models.users import User, utcnow

DIRECTIONS = ("in", "out")
METHODS = {"bank_transfer": "Bank transfer", "card": "Card", "cash": "Cash",
           "cheque": "Cheque", "direct_debit": "Direct debit", "other": "Other"}
PREFIX = {"in": "PAY", "out": "SPAY"}
PAYMENT_ROLES = ("admin", "finance")
ZERO = Decimal("0.00")


class Payment(db.Model):
    """Money received from a customer ("in") or paid to a supplier ("out").

    Attributes:
        number: PAY-YYYY-NNNN (received) or SPAY-YYYY-NNNN (paid), given when recorded.
        customer_id / supplier_id: who paid, or was paid (one of them, by direction).
        amount: in `currency`; exchange_rate: base per unit; amount_base: in the base.
        open_amount, open_base: what is not allocated to documents yet (a customer's
            credit; a payment on account to a supplier).
        account_id: the bank or cash account the money went through.
        method: one of METHODS; reference: the bank's or the cheque's reference.
    """

    __tablename__ = "payments"
    __audit__ = True
    __audit_skip__ = frozenset({"open_base", "amount_base", "entry_id"})
    __table_args__ = (
        CheckConstraint(f"direction IN {DIRECTIONS!r}", name="direction"),
        CheckConstraint("(direction = 'in' AND customer_id IS NOT NULL AND supplier_id IS NULL)"
                        " OR (direction = 'out' AND supplier_id IS NOT NULL AND "
                        "customer_id IS NULL)", name="partner"),
        CheckConstraint("amount > 0", name="amount"),
        CheckConstraint("open_amount >= 0 AND open_amount <= amount", name="open"),
        CheckConstraint("exchange_rate > 0", name="exchange_rate"),
        Index("ix_payments_customer_date", "customer_id", "payment_date"),
        Index("ix_payments_supplier_date", "supplier_id", "payment_date"),
        Index("ix_payments_direction_id", "direction", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    direction: Mapped[str] = mapped_column(String(3))
    number: Mapped[str] = mapped_column(String(20), unique=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id",
                                                               ondelete="RESTRICT"))
    supplier_id: Mapped[int | None] = mapped_column(ForeignKey("suppliers.id",
                                                               ondelete="RESTRICT"))
    payment_date: Mapped[date] = mapped_column(Date)
    currency: Mapped[str] = mapped_column(String(3))
    exchange_rate: Mapped[Decimal] = mapped_column(Money(6), default=Decimal("1.000000"))
    amount: Mapped[Decimal] = mapped_column(Money())
    amount_base: Mapped[Decimal] = mapped_column(Money())
    open_amount: Mapped[Decimal] = mapped_column(Money())
    open_base: Mapped[Decimal] = mapped_column(Money())
    method: Mapped[str] = mapped_column(String(20), default="bank_transfer")
    reference: Mapped[str] = mapped_column(String(100), default="")
    notes: Mapped[str] = mapped_column(Text, default="")
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="RESTRICT"))
    entry_id: Mapped[int | None] = mapped_column(ForeignKey("journal_entries.id",
                                                            ondelete="RESTRICT"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id",
                                                                 ondelete="SET NULL"))

    customer: Mapped[Customer | None] = relationship(lazy="joined")
    supplier: Mapped[Supplier | None] = relationship(lazy="joined")
    account: Mapped[Account] = relationship(lazy="joined")
    entry: Mapped[JournalEntry | None] = relationship(lazy="select")
    created_by: Mapped[User | None] = relationship(lazy="select")

    def __repr__(self) -> str:
        return f"<Payment {self.number} {self.amount} {self.currency}>"

    @property
    def audit_subject(self):
        if self.direction == "in":
            return ("customer", self.customer_id)
        return ("supplier", self.supplier_id)

    @property
    def partner_name(self) -> str:
        return self.customer.name if self.customer is not None else self.supplier.name

    @property
    def method_label(self) -> str:
        return METHODS.get(self.method, self.method)

    @property
    def allocated(self) -> Decimal:
        return self.amount - self.open_amount

    @property
    def label(self) -> str:
        return self.number


class Allocation(db.Model):
    """An amount of a payment or credit note that settles an invoice, or of a supplier
    payment that settles a vendor bill. Never changed once made.

    Attributes:
        invoice_id / bill_id: the document settled (the target).
        payment_id / credit_note_id: what settles it (the source).
        amount: in the documents' currency.
        base_target, base_source: the base amounts each side gave up; their difference
            is the exchange gain or loss, posted as `entry_id` (None when there is none).
        allocated_on: the later of the two documents' dates (after the lock date).
    """

    __tablename__ = "allocations"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount"),
        CheckConstraint("(invoice_id IS NULL) <> (bill_id IS NULL)", name="target"),
        CheckConstraint("(payment_id IS NULL) <> (credit_note_id IS NULL)", name="source"),
        CheckConstraint("bill_id IS NULL OR payment_id IS NOT NULL", name="bill_source"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoices.id",
                                                              ondelete="RESTRICT"), index=True)
    bill_id: Mapped[int | None] = mapped_column(ForeignKey("vendor_bills.id",
                                                           ondelete="RESTRICT"), index=True)
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payments.id",
                                                              ondelete="RESTRICT"), index=True)
    credit_note_id: Mapped[int | None] = mapped_column(ForeignKey("invoices.id",
                                                                  ondelete="RESTRICT"),
                                                       index=True)
    amount: Mapped[Decimal] = mapped_column(Money())
    base_target: Mapped[Decimal] = mapped_column(Money())
    base_source: Mapped[Decimal] = mapped_column(Money())
    allocated_on: Mapped[date] = mapped_column(Date)
    entry_id: Mapped[int | None] = mapped_column(ForeignKey("journal_entries.id",
                                                            ondelete="RESTRICT"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id",
                                                                 ondelete="SET NULL"))

    invoice: Mapped[Invoice | None] = relationship(foreign_keys=[invoice_id], lazy="joined")
    bill: Mapped[VendorBill | None] = relationship(lazy="joined")
    payment: Mapped[Payment | None] = relationship(lazy="joined")
    credit_note: Mapped[Invoice | None] = relationship(foreign_keys=[credit_note_id],
                                                      lazy="joined")

    @property
    def target(self):
        return self.invoice if self.invoice is not None else self.bill

    @property
    def source(self):
        return self.payment if self.payment is not None else self.credit_note

    @property
    def exchange_difference(self) -> Decimal:
        return self.base_source - self.base_target


# --- Allocating --------------------------------------------------------------------------

def _source_currency_and_partner(source) -> tuple[str, int | None, int | None]:
    if isinstance(source, Payment):
        return source.currency, source.customer_id, source.supplier_id
    return source.currency, source.customer_id, None


def _date_of(document) -> date:
    if isinstance(document, Payment):
        return document.payment_date
    if isinstance(document, VendorBill):
        return document.bill_date
    return document.issue_date


def allocate(source, target, amount: Decimal, *, by: User | None = None,
             field: str | None = None) -> Allocation:
    """Take `amount` of a payment's or credit note's open amount off an invoice's (or of
    a supplier payment's off a vendor bill's), posting the exchange difference if the
    two were booked at different rates. Refused past either open amount, between
    different customers or currencies, and for a draft."""
    if amount is None or amount <= 0:
        raise DomainError("Enter an amount above zero.", field=field)
    currency, customer_id, supplier_id = _source_currency_and_partner(source)
    if isinstance(target, Invoice):
        if target.kind != "invoice":
            raise DomainError("Only an invoice can be settled.", field=field)
        if target.status != "posted":
            raise DomainError(f"{target.label} is a draft; post it before recording a "
                              "payment against it.", field=field)
        if target.customer_id != customer_id:
            raise DomainError(f"{target.number} is another customer's invoice.", field=field)
        if isinstance(source, Payment) and source.direction != "in":
            raise DomainError("A supplier payment settles bills, not invoices.", field=field)
        if isinstance(source, Invoice) and (source.kind != "credit_note"
                                            or source.status != "posted"):
            raise DomainError("Only a posted credit note settles an invoice.", field=field)
        name = target.number
    elif isinstance(target, VendorBill):
        if not isinstance(source, Payment) or source.direction != "out":
            raise DomainError("A vendor bill is settled by a supplier payment.", field=field)
        if target.supplier_id != supplier_id:
            raise DomainError(f"Bill {target.supplier_ref} is another supplier's.", field=field)
        if target.status == "cancelled":
            raise DomainError(f"Bill {target.supplier_ref} was cancelled.", field=field)
        name = f"bill {target.supplier_ref}"
    else:
        raise DomainError("That document cannot be settled.", field=field)
    if target.currency != currency:
        raise DomainError(f"{name} is in {target.currency}; this is in {currency}.",
                          field=field)
    places = currency_places(currency)
    if amount != amount.quantize(Decimal(1).scaleb(-places)):
        raise DomainError(f"Use at most {places} decimals.", field=field)
    if amount > target.open_amount:
        raise DomainError(f"{name} has only {currency} {target.open_amount:,.{places}f} "
                          "open.", field=field)
    if amount > source.open_amount:
        raise DomainError(f"Only {currency} {source.open_amount:,.{places}f} of "
                          f"{source.number} is left to allocate.", field=field)
    base_target = (target.open_base if amount == target.open_amount
                   else to_base(amount, target.exchange_rate))
    base_source = (source.open_base if amount == source.open_amount
                   else to_base(amount, source.exchange_rate))
    day = max(_date_of(source), _date_of(target))
    closed = lock_date()
    if closed is not None and day <= closed:
        day = date.today()
    allocation = Allocation(amount=amount, base_target=base_target, base_source=base_source,
                            allocated_on=day, created_by_id=by.id if by else None,
                            created_at=utcnow())
    if isinstance(target, Invoice):
        allocation.invoice = target
    else:
        allocation.bill = target
    if isinstance(source, Payment):
        allocation.payment = source
    else:
        allocation.credit_note = source
    target.open_amount -= amount
    target.open_base -= base_target
    source.open_amount -= amount
    source.open_base -= base_source
    if isinstance(source, Payment):
        target.last_paid_on = max(filter(None, (target.last_paid_on, source.payment_date)))
    if isinstance(target, VendorBill):
        target.status = "paid" if target.open_amount <= 0 else "open"
    db.session.add(allocation)
    difference = base_source - base_target
    if difference:
        allocation.entry_id = _post_difference(allocation, difference, by=by).id
    db.session.flush()
    return allocation


def _post_difference(allocation: Allocation, difference: Decimal, *,
                     by: User | None) -> JournalEntry:
    """The exchange gain or loss of an allocation, on the control account of the partner
    (so it stays equal to the sub-ledger) against exchange differences."""
    fx = account_for("fx")
    source, target = allocation.source, allocation.target
    if isinstance(target, Invoice):
        control = account_for("receivable")
        # the customer's side of the receivable moves by base_source - base_target
        postings = [debit(control, difference, f"{target.number} / {source.number}",
                          customer_id=target.customer_id),
                    credit(fx, difference, f"Exchange difference {target.currency}")]
        reference = target.number
    else:
        control = account_for("payable")
        postings = [credit(control, difference, f"{target.supplier_ref} / {source.number}",
                           supplier_id=target.supplier_id),
                    debit(fx, difference, f"Exchange difference {target.currency}")]
        reference = source.number
    return post_entry(allocation.allocated_on, postings,
                      memo=f"Exchange difference on {reference}", source_type="allocation",
                      source_id=None, reference=reference, by=by)


def oldest_first(amount: Decimal, documents) -> dict[int, Decimal]:
    """{document id: amount} spreading `amount` over open documents in the order given
    (oldest due first), each up to its open amount."""
    plan, left = {}, amount
    for document in documents:
        if left <= 0:
            break
        take = min(left, document.open_amount)
        if take > 0:
            plan[document.id] = take
            left -= take
    return plan


def open_invoices(customer_id: int, currency: str | None = None) -> list[Invoice]:
    """A customer's posted invoices with something open, the oldest due first."""
    query = select(Invoice).where(Invoice.customer_id == customer_id,
                                  Invoice.kind == "invoice", Invoice.status == "posted",
                                  Invoice.open_amount > 0)
    if currency is not None:
        query = query.where(Invoice.currency == currency)
    return list(db.session.scalars(
        query.order_by(Invoice.due_date, Invoice.id)).unique())


def open_credits(customer_id: int, currency: str | None = None) -> list:
    """A customer's payments and credit notes with something left to allocate."""
    payments = select(Payment).where(Payment.customer_id == customer_id,
                                     Payment.direction == "in", Payment.open_amount > 0)
    notes = select(Invoice).where(Invoice.customer_id == customer_id,
                                  Invoice.kind == "credit_note", Invoice.status == "posted",
                                  Invoice.open_amount > 0)
    if currency is not None:
        payments = payments.where(Payment.currency == currency)
        notes = notes.where(Invoice.currency == currency)
    found = list(db.session.scalars(payments.order_by(Payment.id)).unique())
    found += list(db.session.scalars(notes.order_by(Invoice.id)).unique())
    return found


def open_bills(supplier_id: int, currency: str | None = None) -> list[VendorBill]:
    query = select(VendorBill).where(VendorBill.supplier_id == supplier_id,
                                     VendorBill.status == "open", VendorBill.open_amount > 0)
    if currency is not None:
        query = query.where(VendorBill.currency == currency)
    return list(db.session.scalars(query.order_by(VendorBill.due_on, VendorBill.id)).unique())


# --- Recording payments ------------------------------------------------------------------

def _check_payment(amount: Decimal, currency: str, paid_on: date, account: Account | None,
                   method: str, reference: str) -> tuple[Decimal, str]:
    if amount is None or amount <= 0:
        raise DomainError("Enter an amount above zero.", field="amount")
    places = currency_places(currency)
    if amount != amount.quantize(Decimal(1).scaleb(-places)):
        raise DomainError(f"Use at most {places} decimals: {currency} has "
                          f"{places or 'no'} decimals.", field="amount")
    if paid_on is None:
        raise DomainError("Enter the date the money moved.", field="payment_date")
    if paid_on > date.today():
        raise DomainError("Record a payment once it has happened: today or earlier.",
                          field="payment_date")
    check_open(paid_on, field="payment_date", what="The payment")
    if account is None or not account.is_cash or not account.active:
        raise DomainError("Choose the bank or cash account the money went through.",
                          field="account_id")
    if method not in METHODS:
        raise DomainError("Choose how it was paid.", field="method")
    reference = (reference or "").strip()
    if len(reference) > 100:
        raise DomainError("Use at most 100 characters.", field="reference")
    return amount, reference


def record_payment(customer: Customer, *, amount: Decimal, payment_date: date,
                   account: Account | None = None, method: str = "bank_transfer",
                   reference: str = "", notes: str = "", currency: str | None = None,
                   exchange_rate: Decimal | None = None,
                   allocations: dict[int, Decimal] | None = None,
                   by: User | None = None) -> Payment:
    """Record money received from a customer and settle invoices with it: `allocations`
    {invoice id: amount}, or None for the oldest due first. What is left over stays as
    the customer's credit. Posted at once (bank / receivable)."""
    currency = currency or customer.account.currency
    return _record("in", customer, currency, open_invoices(customer.id, currency),
                   amount=amount, payment_date=payment_date, account=account, method=method,
                   reference=reference, notes=notes, exchange_rate=exchange_rate,
                   allocations=allocations, by=by)


def record_supplier_payment(supplier: Supplier, *, amount: Decimal, payment_date: date,
                            account: Account | None = None, method: str = "bank_transfer",
                            reference: str = "", notes: str = "",
                            exchange_rate: Decimal | None = None,
                            allocations: dict[int, Decimal] | None = None,
                            by: User | None = None) -> Payment:
    """Record money paid to a supplier and settle their bills with it (oldest due first
    when `allocations` is None). Posted at once (payable / bank)."""
    return _record("out", supplier, supplier.currency,
                   open_bills(supplier.id, supplier.currency), amount=amount,
                   payment_date=payment_date, account=account, method=method,
                   reference=reference, notes=notes, exchange_rate=exchange_rate,
                   allocations=allocations, by=by)


def _record(direction: str, partner, currency: str, documents, *, amount: Decimal,
            payment_date: date, account: Account | None, method: str, reference: str,
            notes: str, exchange_rate: Decimal | None, allocations: dict[int, Decimal] | None,
            by: User | None) -> Payment:
    """A payment in or out, checked, posted and allocated (see the two callers)."""
    received = direction == "in"
    account = account or account_for("bank")
    amount, reference = _check_payment(amount, currency, payment_date, account, method,
                                       reference)
    rate = document_rate(currency, exchange_rate)
    plan = _plan(allocations, amount, documents, currency)
    payment = Payment(direction=direction, number=next_number(PREFIX[direction],
                                                              payment_date.year),
                      payment_date=payment_date, currency=currency, exchange_rate=rate,
                      amount=amount, amount_base=to_base(amount, rate), method=method,
                      reference=reference, notes=(notes or "").strip()[:2000],
                      account=account, created_by_id=by.id if by else None,
                      created_at=utcnow())
    if received:
        payment.customer, payment.customer_id = partner, partner.id
    else:
        payment.supplier, payment.supplier_id = partner, partner.id
    payment.open_amount, payment.open_base = amount, payment.amount_base
    db.session.add(payment)
    db.session.flush()
    bank = f"{payment.number} {reference}".strip()
    if received:
        control = credit(account_for("receivable"), payment.amount_base, payment.number,
                         customer_id=partner.id)
        postings = [debit(account, payment.amount_base, bank), control]
    else:
        control = debit(account_for("payable"), payment.amount_base, payment.number,
                        supplier_id=partner.id)
        postings = [control, credit(account, payment.amount_base, bank)]
    entry = post_entry(payment_date, postings, memo=f"{payment.number} · {partner.name}",
                       source_type="payment" if received else "supplier_payment",
                       source_id=payment.id, reference=payment.number, by=by)
    payment.entry_id = entry.id
    _apply_plan(payment, plan, Invoice if received else VendorBill, by=by)
    return payment


def _plan(allocations: dict[int, Decimal] | None, amount: Decimal, documents,
          currency: str) -> dict[int, Decimal]:
    """The allocation plan, checked before anything is written."""
    if allocations is None:
        return oldest_first(amount, documents)
    plan = {doc_id: value for doc_id, value in allocations.items() if value}
    total = sum(plan.values(), ZERO)
    places = currency_places(currency)
    if total > amount:
        raise DomainError(f"The allocations come to {currency} {total:,.{places}f}, more "
                          f"than the {currency} {amount:,.{places}f} received. Lower them "
                          "or raise the amount.", field="amount")
    return plan


def _apply_plan(source: Payment, plan: dict[int, Decimal], model, *,
                by: User | None) -> list[Allocation]:
    made = []
    for doc_id, value in sorted(plan.items()):
        target = db.session.get(model, doc_id)
        field = f"alloc-{doc_id}"
        if target is None:
            raise DomainError(f"There is no such {'bill' if model is VendorBill else 'invoice'}.",
                              field=field)
        lock_document(target)
        made.append(allocate(source, target, value, by=by, field=field))
    return made


def allocate_credit(source, plan: dict[int, Decimal], *,
                    by: User | None = None) -> list[Allocation]:
    """Settle invoices (bills) with what is left of a payment or credit note."""
    lock_document(source)
    if not plan or not any(plan.values()):
        raise DomainError("Enter an amount on at least one document.")
    total = sum((value for value in plan.values() if value), ZERO)
    if total > source.open_amount:
        places = currency_places(source.currency)
        raise DomainError(f"Only {source.currency} {source.open_amount:,.{places}f} of "
                          f"{source.number} is left to allocate.")
    model = VendorBill if isinstance(source, Payment) and source.direction == "out" else Invoice
    return _apply_plan(source, plan, model, by=by)


# --- Reading -----------------------------------------------------------------------------

def allocations_of(document) -> list[Allocation]:
    """The allocations a document is on, either side, oldest first."""
    if isinstance(document, Payment):
        where = Allocation.payment_id == document.id
    elif isinstance(document, VendorBill):
        where = Allocation.bill_id == document.id
    elif document.kind == "credit_note":
        where = Allocation.credit_note_id == document.id
    else:
        where = Allocation.invoice_id == document.id
    # a document's page names the other side of each (its number): those rows joined,
    # not their customers, suppliers and accounts (which made a 20-table join whose
    # planning alone took PostgreSQL about 7 ms)
    shown = [joinedload(side).lazyload("*") for side in (
        Allocation.invoice, Allocation.bill, Allocation.payment, Allocation.credit_note)]
    return list(db.session.scalars(select(Allocation).where(where).order_by(Allocation.id)
                                   .options(*shown)).unique())

