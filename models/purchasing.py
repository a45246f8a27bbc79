"""Purchasing: purchase orders, receipts, vendor bills, and the reorder suggestions that
start them.

A purchase order goes draft -> sent -> partially received -> received -> billed, or is
cancelled before anything arrives. Receiving records quantities per line (partial
allowed; more than ordered only when the user confirms it); each received stocked line
is a done stock move from the supplier location that updates the product's
moving-average cost, in the base currency (line cost x the order's exchange rate). The
supplier's bill is recorded against the order; it is payable, and the ledger posts it.
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_CEILING, Decimal
from typing import TYPE_CHECKING

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    select,
    type_coerce,
)
from sqlalchemy.orm import (
    Mapped,
    aliased,
    contains_eager,
    lazyload,
    mapped_column,
    relationship,
)

from models import db
from models.catalog import Product, Supplier, TaxRate
from models.company import CompanySettings
from models.documents import ProductLine, lock_document
from models.errors import DomainError
from models.ledger import check_open
from models.postings import post_bill, post_receipt
from models.sequences import next_number
from models.stock import (
    Location,
    ProductStock,
    StockMove,
    default_stock_location,
    lock_products,
    receive_stock,
)
from models.types import Money, Quantity, round_money
from models.users import User, utcnow
from models.versioned import Versioned

if TYPE_CHECKING:
    from models.ledger import Account

STATUSES = ("draft", "sent", "partial", "received", "billed", "cancelled")
STATUS_LABELS = {"draft": "Draft", "sent": "Sent", "partial": "Partially received",
                 "received": "Received", "billed": "Billed", "cancelled": "Cancelled"}
OPEN_STATUSES = ("draft", "sent", "partial")
PURCHASE_ROLES = ("admin", "operations")   # who buys and receives
BILL_ROLES = ("admin", "finance")          # who records suppliers' bills
MAX_LINES = 500
ZERO = Decimal("0.000")


class PurchaseOrder(Versioned, db.Model):
    """An order to a supplier.

    Attributes:
        number: PO-YYYY-NNNN, given when the order is created.
        currency: the supplier's; exchange_rate: base currency per unit of it (1 when
            they are the same), used to cost receipts.
        location_id: where its goods are received unless the receipt says otherwise.
    """

    __tablename__ = "purchase_orders"
    __audit__ = True
    __table_args__ = (
        CheckConstraint(f"status IN {STATUSES!r}", name="status"),
        CheckConstraint("exchange_rate > 0", name="exchange_rate"),
        Index("ix_purchase_orders_status_id", "status", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    supplier_id: Mapped[int] = mapped_column(ForeignKey("suppliers.id", ondelete="RESTRICT"),
                                             index=True)
    status: Mapped[str] = mapped_column(String(10), default="draft")
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    exchange_rate: Mapped[Decimal] = mapped_column(Money(6), default=Decimal("1.000000"))
    expected_on: Mapped[date | None] = mapped_column(Date)
    location_id: Mapped[int | None] = mapped_column(ForeignKey("locations.id",
                                                               ondelete="RESTRICT"))
    notes: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id",
                                                                 ondelete="SET NULL"))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    cancel_reason: Mapped[str] = mapped_column(String(500), default="")

    supplier: Mapped[Supplier] = relationship(lazy="joined")
    location: Mapped[Location | None] = relationship(lazy="select")
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id],
                                                   lazy="select")
    lines: Mapped[list["PurchaseLine"]] = relationship(
        back_populates="order", cascade="all, delete-orphan",
        order_by="(PurchaseLine.position, PurchaseLine.id)")
    receipts: Mapped[list["Receipt"]] = relationship(
        back_populates="order", order_by="Receipt.id")
    bill: Mapped["VendorBill | None"] = relationship(back_populates="order", uselist=False)

    def __repr__(self) -> str:
        return f"<PurchaseOrder {self.number} {self.status}>"

    @property
    def audit_subject(self):
        return ("purchase_order", self.id)

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[self.status]

    @property
    def is_editable(self) -> bool:
        return self.status == "draft"

    @property
    def can_receive(self) -> bool:
        return self.status in ("sent", "partial")

    @property
    def net(self) -> Decimal:
        return sum((line.net for line in self.lines), Decimal("0.00"))

    @property
    def tax(self) -> Decimal:
        return sum((amount for _, amount in self.tax_breakdown), Decimal("0.00"))

    @property
    def total(self) -> Decimal:
        return self.net + self.tax

    @property
    def tax_breakdown(self) -> list[tuple[str, Decimal]]:
        """[(rate label, tax)] summed per rate from the per-line taxes."""
        sums: dict[str, Decimal] = {}
        for line in self.lines:
            if line.tax_percent:
                label = f"{line.tax_percent.normalize():f}%"
                sums[label] = sums.get(label, Decimal("0.00")) + line.tax
        return sorted(sums.items())

    @property
    def received_net(self) -> Decimal:
        """The value of what has arrived, at the order's prices."""
        return sum((line.received_net for line in self.lines), Decimal("0.00"))

    @property
    def received_tax(self) -> Decimal:
        return sum((line.received_tax for line in self.lines), Decimal("0.00"))


class PurchaseLine(ProductLine, db.Model):
    """One line of a purchase order: a product (or a free-text service) to buy.

    Attributes:
        quantity: ordered; received: arrived so far (may pass quantity when the user
            confirmed an over-receipt).
        unit_cost: in the order's currency, up to 1/100 of a cent.
        tax_percent: the tax rate's percent when the line was written.
    """

    __tablename__ = "purchase_lines"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity"),
        CheckConstraint("received >= 0", name="received"),
        CheckConstraint("unit_cost >= 0", name="unit_cost"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("purchase_orders.id", ondelete="CASCADE"),
                                          index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    product_id: Mapped[int | None] = mapped_column(ForeignKey("products.id",
                                                              ondelete="RESTRICT"), index=True)
    description: Mapped[str] = mapped_column(String(500), default="")
    quantity: Mapped[Decimal] = mapped_column(Quantity())
    received: Mapped[Decimal] = mapped_column(Quantity(), default=ZERO)
    unit_cost: Mapped[Decimal] = mapped_column(Money(4))
    tax_rate_id: Mapped[int | None] = mapped_column(ForeignKey("tax_rates.id",
                                                               ondelete="RESTRICT"))
    tax_percent: Mapped[Decimal] = mapped_column(Money(3), default=Decimal("0.000"))

    order: Mapped[PurchaseOrder] = relationship(back_populates="lines")
    product: Mapped[Product | None] = relationship(lazy="joined")
    tax_rate: Mapped[TaxRate | None] = relationship(lazy="joined")

    @property
    def net(self) -> Decimal:
        return round_money(self.quantity * self.unit_cost)

    @property
    def tax(self) -> Decimal:
        return round_money(self.net * self.tax_percent / 100)

    @property
    def outstanding(self) -> Decimal:
        return max(self.quantity - self.received, ZERO)

    @property
    def received_net(self) -> Decimal:
        return round_money(self.received * self.unit_cost)

    @property
    def received_tax(self) -> Decimal:
        return round_money(self.received_net * self.tax_percent / 100)


class Receipt(db.Model):
    """Goods that arrived for a purchase order on one day."""

    __tablename__ = "receipts"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("purchase_orders.id",
                                                     ondelete="RESTRICT"), index=True)
    received_on: Mapped[date] = mapped_column(Date)
    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id", ondelete="RESTRICT"))
    note: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    received_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id",
                                                                  ondelete="SET NULL"))

    order: Mapped[PurchaseOrder] = relationship(back_populates="receipts")
    location: Mapped[Location] = relationship(lazy="joined")
    received_by: Mapped[User | None] = relationship(lazy="joined")
    lines: Mapped[list["ReceiptLine"]] = relationship(
        back_populates="receipt", cascade="all, delete-orphan", order_by="ReceiptLine.id")


class ReceiptLine(db.Model):
    __tablename__ = "receipt_lines"
    __table_args__ = (CheckConstraint("quantity > 0", name="quantity"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    receipt_id: Mapped[int] = mapped_column(ForeignKey("receipts.id", ondelete="CASCADE"),
                                            index=True)
    line_id: Mapped[int] = mapped_column(ForeignKey("purchase_lines.id", ondelete="RESTRICT"),
                                         index=True)
    quantity: Mapped[Decimal] = mapped_column(Quantity())
    move_id: Mapped[int | None] = mapped_column(ForeignKey("stock_moves.id",
                                                           ondelete="RESTRICT"))

    receipt: Mapped[Receipt] = relationship(back_populates="lines")
    line: Mapped[PurchaseLine] = relationship(lazy="joined")
    move: Mapped[StockMove | None] = relationship(lazy="select")


BILL_STATUSES = ("open", "paid", "cancelled")


class VendorBill(Versioned, db.Model):
    """A supplier's bill: what we owe them (the payable side).

    Attributes:
        supplier_ref: their bill number, unique per supplier (`supplier_ref_key` is its
            upper-cased form under the constraint).
        net, tax, total: as on their bill, in `currency`; total = net + tax.
        exchange_rate: base currency per unit of `currency` (the order's rate by default);
            total_base: the payable in the base currency.
        open_amount, open_base: what is still to pay; supplier payments settle it.
        status: open (payable) until paid in full, then paid.
        order_id: the purchase order it bills; None for a bill without one (rent, a
            service), which names its expense `account_id` instead.
        entry_id: its journal entry (posted when it is recorded).
    """

    __tablename__ = "vendor_bills"
    __audit__ = True
    __table_args__ = (
        UniqueConstraint("supplier_id", "supplier_ref_key", name="uq_vendor_bills_supplier_ref"),
        CheckConstraint("total = net + tax", name="total"),
        CheckConstraint("net >= 0 AND tax >= 0", name="amounts"),
        CheckConstraint(f"status IN {BILL_STATUSES!r}", name="status"),
        Index("ix_vendor_bills_status_due_on", "status", "due_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    supplier_id: Mapped[int] = mapped_column(ForeignKey("suppliers.id", ondelete="RESTRICT"),
                                             index=True)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("purchase_orders.id",
                                                            ondelete="RESTRICT"), unique=True)
    supplier_ref: Mapped[str] = mapped_column(String(60))
    supplier_ref_key: Mapped[str] = mapped_column(String(60))
    bill_date: Mapped[date] = mapped_column(Date)
    due_on: Mapped[date] = mapped_column(Date)
    currency: Mapped[str] = mapped_column(String(3))
    net: Mapped[Decimal] = mapped_column(Money())
    tax: Mapped[Decimal] = mapped_column(Money())
    total: Mapped[Decimal] = mapped_column(Money())
    status: Mapped[str] = mapped_column(String(10), default="open")
    notes: Mapped[str] = mapped_column(Text, default="")
    exchange_rate: Mapped[Decimal] = mapped_column(Money(6), default=Decimal("1.000000"))
    total_base: Mapped[Decimal] = mapped_column(Money(), default=Decimal("0.00"))
    open_amount: Mapped[Decimal] = mapped_column(Money(), default=Decimal("0.00"))
    open_base: Mapped[Decimal] = mapped_column(Money(), default=Decimal("0.00"))
    last_paid_on: Mapped[date | None] = mapped_column(Date)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id",
                                                              ondelete="RESTRICT"))
    entry_id: Mapped[int | None] = mapped_column(ForeignKey("journal_entries.id",
                                                            ondelete="RESTRICT"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id",
                                                                 ondelete="SET NULL"))

    supplier: Mapped[Supplier] = relationship(lazy="joined")
    order: Mapped[PurchaseOrder | None] = relationship(back_populates="bill")
    account: Mapped["Account | None"] = relationship(lazy="select")

    @property
    def audit_subject(self):
        return ("purchase_order", self.order_id) if self.order_id else ("vendor_bill", self.id)

    @property
    def is_overdue(self) -> bool:
        return self.status == "open" and self.due_on < date.today()

    @property
    def currency_places(self) -> int:
        from models.company import currency_places

        return currency_places(self.currency)

    @property
    def number(self) -> str:
        """How the bill is named in allocations and messages."""
        return f"bill {self.supplier_ref}"

    @property
    def paid_amount(self) -> Decimal:
        return self.total - self.open_amount

    @property
    def state_label(self) -> str:
        if self.status == "cancelled":
            return "Cancelled"
        if self.open_amount <= 0:
            return "Paid"
        if self.is_overdue:
            return "Overdue"
        return "Partly paid" if self.open_amount < self.total else "Open"


# --- Orders ------------------------------------------------------------------------------

@dataclass
class LineInput:
    """A line as typed: a product, or a description alone for a free-text line."""

    product: Product | None
    quantity: Decimal
    unit_cost: Decimal | None = None     # None: the product's cost
    tax_rate: TaxRate | None = None
    description: str = ""
    use_product_tax: bool = True          # with tax_rate None: the product's own rate


def create_purchase_order(supplier: Supplier, *, by: User | None = None,
                          expected_on: date | None = None, notes: str = "",
                          exchange_rate: Decimal | None = None,
                          location: Location | None = None,
                          lines: list[LineInput] = ()) -> PurchaseOrder:
    """A draft order to `supplier` in their currency, numbered PO-YYYY-NNNN."""
    if not supplier.active:
        raise DomainError(f"{supplier.name} is archived; choose an active supplier.",
                          field="supplier_id")
    base = CompanySettings.current().base_currency
    rate = Decimal("1") if exchange_rate is None else exchange_rate
    _check_rate(rate, supplier.currency, base)
    if location is not None and not location.is_internal:
        raise DomainError("Receive into a location that holds stock.", field="location_id")
    order = PurchaseOrder(
        number=next_number("PO", utcnow().year), supplier=supplier, status="draft",
        currency=supplier.currency, exchange_rate=rate.quantize(Decimal("0.000001")),
        expected_on=expected_on, notes=(notes or "").strip(),
        location=location or default_stock_location(),
        created_by_id=by.id if by else None, created_at=utcnow())
    db.session.add(order)
    db.session.flush()
    for line in lines:
        add_line(order, line)
    return order


def _check_rate(rate: Decimal, currency: str, base: str) -> None:
    if rate is None or rate <= 0:
        raise DomainError("Enter an exchange rate above zero.", field="exchange_rate")
    if currency == base and rate != 1:
        raise DomainError(f"The order is in {base}, the base currency: the rate is 1.",
                          field="exchange_rate")


def update_order_header(order: PurchaseOrder, *, version, expected_on: date | None,
                        notes: str, exchange_rate: Decimal,
                        location: Location | None) -> PurchaseOrder:
    order.check_version(version)
    if order.status not in ("draft", "sent"):
        raise DomainError(f"This order is {order.status_label.lower()}; it can no longer "
                          "be changed.")
    _check_rate(exchange_rate, order.currency, CompanySettings.current().base_currency)
    if location is not None and not location.is_internal:
        raise DomainError("Receive into a location that holds stock.", field="location_id")
    order.expected_on = expected_on
    order.notes = (notes or "").strip()
    order.exchange_rate = exchange_rate.quantize(Decimal("0.000001"))
    order.location = location or order.location
    return order


def _require_draft(order: PurchaseOrder) -> None:
    if order.status != "draft":
        raise DomainError(f"This order is {order.status_label.lower()}; its lines can only "
                          "change while it is a draft.")


def add_line(order: PurchaseOrder, given: LineInput) -> PurchaseLine:
    """Append a line to a draft order."""
    _require_draft(order)
    if len(order.lines) >= MAX_LINES:
        raise DomainError(f"An order has at most {MAX_LINES} lines.")
    line = PurchaseLine(position=len(order.lines) + 1)
    _set_line(line, given, order)
    # Attached only once valid: a refused line must not linger in order.lines.
    line.order = order
    db.session.add(line)
    db.session.flush()
    return line


def update_line(line: PurchaseLine, given: LineInput) -> PurchaseLine:
    _require_draft(line.order)
    return _set_line(line, given, line.order)


def remove_line(line: PurchaseLine) -> None:
    order = line.order
    _require_draft(order)
    order.lines.remove(line)
    db.session.delete(line)
    for position, other in enumerate(order.lines, start=1):
        other.position = position


def _set_line(line: PurchaseLine, given: LineInput, order: PurchaseOrder) -> PurchaseLine:
    product = given.product
    description = (given.description or "").strip()
    if product is None and not description:
        raise DomainError("Choose a product or describe the line.", field="product")
    if product is not None and not product.active:
        raise DomainError(f"{product.sku} is archived; it cannot be ordered.", field="product")
    if given.quantity is None or given.quantity <= 0:
        raise DomainError("Enter a quantity above zero.", field="quantity")
    if product is not None:
        product.check_quantity(given.quantity)
    unit_cost = given.unit_cost
    if unit_cost is None:
        # the product's cost is in the base currency; the order is in the supplier's
        unit_cost = (round_money(product.cost / order.exchange_rate, 4)
                     if product is not None else Decimal(0))
    if unit_cost < 0:
        raise DomainError("Enter a unit cost of zero or more.", field="unit_cost")
    tax_rate = given.tax_rate
    if tax_rate is None and given.use_product_tax and product is not None:
        tax_rate = product.tax_rate
    line.product = product
    line.description = description[:500]
    line.quantity = given.quantity
    line.unit_cost = unit_cost
    line.tax_rate = tax_rate
    line.tax_percent = tax_rate.percent if tax_rate is not None else Decimal("0.000")
    return line


def send_order(order: PurchaseOrder, *, version=None) -> PurchaseOrder:
    """Mark a draft order sent to the supplier (after its PDF went out)."""
    if version is not None:
        order.check_version(version)
    if order.status != "draft":
        raise DomainError(f"This order is already {order.status_label.lower()}.")
    if not order.lines:
        raise DomainError("Add at least one line before sending the order.")
    order.status = "sent"
    order.sent_at = utcnow()
    return order


def cancel_order(order: PurchaseOrder, *, reason: str, version=None) -> PurchaseOrder:
    """Cancel an order nothing has been received for."""
    lock_order(order)  # a receipt committed meanwhile must be seen
    if version is not None:
        order.check_version(version)
    if order.status == "cancelled":
        raise DomainError("This order is already cancelled.")
    if order.receipts or order.status not in ("draft", "sent"):
        raise DomainError("Goods have been received on this order; it cannot be cancelled. "
                          "Return them to the supplier with a stock move instead.")
    reason = (reason or "").strip()
    if not reason:
        raise DomainError("Say why the order is cancelled.", field="reason")
    order.status = "cancelled"
    order.cancelled_at = utcnow()
    order.cancel_reason = reason[:500]
    return order


def lock_order(order: PurchaseOrder) -> PurchaseOrder:
    """Re-read the order under a row lock (PostgreSQL) for the rest of the transaction."""
    return lock_document(order)


def receive(order: PurchaseOrder, quantities: dict[int, Decimal], *, by: User | None = None,
            received_on: date | None = None, location: Location | None = None,
            note: str = "", confirm_over: bool = False) -> Receipt:
    """Record what arrived: {line id: quantity}. Each stocked line becomes a done move
    from the supplier location into `location`, costed in the base currency.

    Refused, with nothing written, when the order is not open for receiving, a quantity
    is not a positive amount of the line's unit, or a line would receive more than
    ordered without `confirm_over`.
    """
    lock_order(order)
    if order.status == "cancelled":
        raise DomainError("This order was cancelled; nothing can be received on it.")
    if order.status == "draft":
        raise DomainError("Send the order to the supplier before receiving it.")
    if order.status in ("received", "billed"):
        raise DomainError("Everything on this order has been received.")
    received_on = received_on or date.today()
    check_open(received_on, field="received_on", what="The receipt")
    target = location or order.location or default_stock_location()
    if not target.is_internal or not target.active:
        raise DomainError("Receive into an active location that holds stock.",
                          field="location_id")
    lines = {line.id: line for line in order.lines}
    wanted = {line_id: qty for line_id, qty in quantities.items() if qty}
    if not wanted:
        raise DomainError("Enter the quantity received on at least one line.")
    for line_id, quantity in wanted.items():
        line = lines.get(line_id)
        field = f"qty-{line_id}"
        if line is None:
            raise DomainError("That line is not on this order.", field=field)
        if quantity < 0:
            raise DomainError("Enter a quantity of zero or more.", field=field)
        if line.product is not None:
            line.product.check_quantity(quantity, field=field)
        if line.received + quantity > line.quantity and not confirm_over:
            raise DomainError(
                f"That is more than ordered ({_qty(line.quantity)} ordered, "
                f"{_qty(line.received)} already received). Tick “accept more than "
                "ordered” to receive it anyway.", field=field)
    lock_products(lines[i].product for i in wanted if lines[i].is_stocked)
    receipt = Receipt(order=order, received_on=received_on, location=target,
                      note=(note or "").strip()[:500], received_by_id=by.id if by else None)
    db.session.add(receipt)
    db.session.flush()
    for line_id, quantity in sorted(wanted.items()):
        line = lines[line_id]
        move = None
        if line.is_stocked:
            base_cost = line.unit_cost * order.exchange_rate
            move = receive_stock(line.product, quantity, base_cost, to=target, by=by,
                                 source_type="receipt", source_id=receipt.id,
                                 reference=order.number)
        line.received = line.received + quantity
        db.session.add(ReceiptLine(receipt=receipt, line=line, quantity=quantity,
                                   move_id=move.id if move else None))
    order.status = _received_status(order)
    db.session.flush()
    post_receipt(receipt, by=by)
    return receipt


def _qty(value: Decimal) -> str:
    return f"{value.normalize():f}"


def _received_status(order: PurchaseOrder) -> str:
    if all(line.received >= line.quantity for line in order.lines):
        return "billed" if order.bill is not None else "received"
    return "partial"


# --- Bills -------------------------------------------------------------------------------

def record_bill(order: PurchaseOrder, *, supplier_ref: str, bill_date: date,
                due_on: date | None = None, net: Decimal, tax: Decimal,
                notes: str = "", by: User | None = None,
                exchange_rate: Decimal | None = None) -> VendorBill:
    """Record the supplier's bill for a (partly) received order. It becomes payable and
    is posted at once; the order is "billed" once everything on it has arrived. In a
    foreign currency it is booked at the order's rate unless told otherwise."""
    lock_order(order)
    if order.status in ("draft", "sent", "cancelled"):
        raise DomainError("Only an order with goods received can be billed.")
    if order.bill is not None:
        raise DomainError(f"This order was already billed ({order.bill.supplier_ref}).")
    bill = _new_bill(order.supplier, supplier_ref=supplier_ref, bill_date=bill_date,
                     due_on=due_on, net=net, tax=tax, notes=notes, by=by,
                     currency=order.currency,
                     exchange_rate=order.exchange_rate if exchange_rate is None
                     else exchange_rate)
    bill.order = order
    db.session.flush()
    order.status = _received_status(order)
    post_bill_entry(bill, by=by)
    return bill


def record_expense_bill(supplier: Supplier, *, supplier_ref: str, bill_date: date,
                        due_on: date | None = None, net: Decimal, tax: Decimal,
                        account, notes: str = "", by: User | None = None,
                        exchange_rate: Decimal | None = None) -> VendorBill:
    """Record a supplier's bill that has no purchase order (rent, a service, a subscription),
    booked to the chosen expense (or asset) account and posted at once."""
    if account is None or account.type not in ("expense", "asset") or not account.active \
            or account.control or account.is_cash:
        raise DomainError("Choose the expense account the bill is for.", field="account_id")
    bill = _new_bill(supplier, supplier_ref=supplier_ref, bill_date=bill_date, due_on=due_on,
                     net=net, tax=tax, notes=notes, by=by, currency=supplier.currency,
                     exchange_rate=exchange_rate)
    bill.account = account
    db.session.flush()
    post_bill_entry(bill, by=by)
    return bill


def _new_bill(supplier: Supplier, *, supplier_ref: str, bill_date: date, due_on: date | None,
              net: Decimal, tax: Decimal, notes: str, by: User | None, currency: str,
              exchange_rate: Decimal | None) -> VendorBill:
    supplier_ref = (supplier_ref or "").strip()
    if not supplier_ref:
        raise DomainError("Enter the supplier's bill number.", field="supplier_ref")
    if len(supplier_ref) > 60:
        raise DomainError("Use at most 60 characters.", field="supplier_ref")
    key = supplier_ref.upper()
    if db.session.scalar(select(VendorBill.id).where(
            VendorBill.supplier_id == supplier.id,
            VendorBill.supplier_ref_key == key)) is not None:
        raise DomainError(f"Bill {supplier_ref} from {supplier.name} is already "
                          "recorded.", field="supplier_ref")
    if bill_date is None:
        raise DomainError("Enter the bill's date.", field="bill_date")
    check_open(bill_date, field="bill_date", what="The bill")
    due_on = due_on or bill_date + timedelta(days=supplier.payment_terms_days)
    if due_on < bill_date:
        raise DomainError("The due date cannot be before the bill date.", field="due_on")
    for field, value in (("net", net), ("tax", tax)):
        if value is None or value < 0:
            raise DomainError("Enter an amount of zero or more.", field=field)
    if net + tax <= 0:
        raise DomainError("Enter the bill's amount.", field="net")
    from models.invoicing import document_rate
    from models.ledger import to_base

    rate = document_rate(currency, exchange_rate)
    bill = VendorBill(supplier_id=supplier.id, supplier=supplier, supplier_ref=supplier_ref,
                      supplier_ref_key=key, bill_date=bill_date, due_on=due_on,
                      currency=currency, net=net, tax=tax, total=net + tax,
                      exchange_rate=rate, total_base=to_base(net + tax, rate),
                      open_amount=net + tax, notes=(notes or "").strip(),
                      created_by_id=by.id if by else None)
    bill.open_base = bill.total_base
    db.session.add(bill)
    return bill


def post_bill_entry(bill: VendorBill, *, by: User | None) -> None:
    entry = post_bill(bill, by=by)
    bill.entry_id = entry.id


# --- Reorder -----------------------------------------------------------------------------

@dataclass
class Suggestion:
    product: Product
    on_hand: Decimal
    reserved: Decimal
    on_order: Decimal
    quantity: Decimal            # what to buy

    @property
    def available(self) -> Decimal:
        return self.on_hand - self.reserved


def _raw(column):
    """A quantity column as the scaled integer it is stored as, for SQL arithmetic."""
    return type_coerce(column, BigInteger)


def on_order_subquery():
    """Per product, what open purchase orders still bring (ordered - received), as a
    raw scaled integer column `on_order`."""
    outstanding = func.sum(_raw(PurchaseLine.quantity) - _raw(PurchaseLine.received))
    # the open orders' lines, found from the (status, id) index and each order's lines:
    # a join let SQLite walk every purchase line ever (by product, for the grouping)
    open_orders = select(PurchaseOrder.id).where(PurchaseOrder.status.in_(OPEN_STATUSES))
    return (select(PurchaseLine.product_id.label("product_id"),
                   outstanding.label("on_order"))
            .where(PurchaseLine.order_id.in_(open_orders),
                   PurchaseLine.quantity > PurchaseLine.received)
            .group_by(PurchaseLine.product_id).subquery())


def reorder_suggestions(product_ids=None) -> list[Suggestion]:
    """Active stocked products whose available quantity, with what is already on order,
    is below their reorder point; each suggests its reorder quantity, or more when that
    would not reach the point."""
    query = _reorder_query()
    if product_ids is not None:
        query = query.where(Product.id.in_(list(product_ids)))
    return [_suggestion(*row) for row in db.session.execute(query).unique()]


def reorder_watch(first: int) -> tuple[list[Suggestion], int]:
    """The first `first` of `reorder_suggestions` and how many there are, in one
    statement: the dashboard lists a few of a hundred or more, and loads only those."""
    # counted and cut outside: with the LIMIT on the same SELECT, PostgreSQL walked the
    # products by the sort's index and probed stock for each (3x slower at scale 1)
    inner = (_reorder_query().add_columns(func.count().over().label("suggested"))
             .order_by(None).subquery())
    product = aliased(Product, inner)
    query = (select(product, inner.c.on_hand, inner.c.reserved, inner.c.incoming,
                    inner.c.suggested)
             .order_by(inner.c.preferred_supplier_id, inner.c.sku_key)
             .options(lazyload("*")).limit(first))
    rows = db.session.execute(query).all()
    return [_suggestion(*row[:4]) for row in rows], (rows[0][4] if rows else 0)


def _reorder_query():
    on_order = on_order_subquery()
    on_hand = func.coalesce(_raw(ProductStock.on_hand), 0)
    reserved = func.coalesce(_raw(ProductStock.reserved), 0)
    incoming = func.coalesce(on_order.c.on_order, 0)
    return (select(Product, type_coerce(on_hand, Quantity()).label("on_hand"),
                   type_coerce(reserved, Quantity()).label("reserved"),
                   type_coerce(incoming, Quantity()).label("incoming"))
            .outerjoin(ProductStock, ProductStock.product_id == Product.id)
            .outerjoin(on_order, on_order.c.product_id == Product.id)
            .where(Product.kind == "stocked", Product.active.is_(True),
                   Product.reorder_point > 0,
                   on_hand - reserved + incoming < _raw(Product.reorder_point))
            .order_by(Product.preferred_supplier_id, Product.sku_key))


def _suggestion(product: Product, hand: Decimal, held: Decimal, coming: Decimal) -> Suggestion:
    shortfall = product.reorder_point - (hand - held + coming)
    quantity = max(product.reorder_qty, shortfall)
    if product.whole_units:
        quantity = quantity.to_integral_value(rounding=ROUND_CEILING)
    return Suggestion(product, hand, held, coming, quantity)


def draft_orders_from_reorder(product_ids, *, by: User | None = None,
                              quantities: dict[int, Decimal] | None = None
                              ) -> list[PurchaseOrder]:
    """Draft purchase orders, one per preferred supplier, for the chosen products that
    still need reordering (checked again here, so a repeated click orders nothing twice).
    Products without a preferred supplier are refused by name."""
    chosen = reorder_suggestions(product_ids)
    if not chosen:
        raise DomainError("None of the chosen products needs reordering any more.")
    missing = [s.product.sku for s in chosen if s.product.preferred_supplier_id is None]
    if missing:
        raise DomainError("Set a preferred supplier first for: " + ", ".join(missing) + ".")
    by_supplier: dict[int, list[Suggestion]] = {}
    for suggestion in chosen:
        by_supplier.setdefault(suggestion.product.preferred_supplier_id, []).append(suggestion)
    orders = []
    for supplier_id in sorted(by_supplier):
        supplier = db.session.get(Supplier, supplier_id)
        order = create_purchase_order(supplier, by=by, notes="From the reorder list.",
                                      exchange_rate=_last_rate(supplier))
        for suggestion in by_supplier[supplier_id]:
            quantity = (quantities or {}).get(suggestion.product.id) or suggestion.quantity
            add_line(order, LineInput(product=suggestion.product, quantity=quantity,
                                      unit_cost=_last_price(suggestion.product, order)))
        orders.append(order)
    return orders


def _last_rate(supplier: Supplier) -> Decimal | None:
    """The exchange rate of the supplier's latest order (None: 1, or none yet)."""
    if supplier.currency == CompanySettings.current().base_currency:
        return None
    return db.session.scalar(
        select(PurchaseOrder.exchange_rate).where(PurchaseOrder.supplier_id == supplier.id,
                                                  PurchaseOrder.status != "cancelled")
        .order_by(PurchaseOrder.id.desc()).limit(1))


def _last_price(product: Product, order: PurchaseOrder) -> Decimal:
    """What we last paid this supplier for the product, in their currency; failing
    that, the product's cost converted at the order's rate."""
    last = db.session.scalar(
        select(PurchaseLine.unit_cost)
        .join(PurchaseOrder, PurchaseOrder.id == PurchaseLine.order_id)
        .where(PurchaseLine.product_id == product.id,
               PurchaseOrder.supplier_id == order.supplier_id,
               PurchaseOrder.id != order.id, PurchaseOrder.status != "cancelled")
        .order_by(PurchaseOrder.id.desc(), PurchaseLine.id.desc()).limit(1))
    if last is not None:
        return last
    return round_money(product.cost / order.exchange_rate, 4)


def open_orders_for_product(product_id: int) -> list[PurchaseLine]:
    return list(db.session.scalars(
        select(PurchaseLine).join(PurchaseOrder, PurchaseOrder.id == PurchaseLine.order_id)
        .options(contains_eager(PurchaseLine.order))
        .where(PurchaseLine.product_id == product_id,
               PurchaseOrder.status.in_(OPEN_STATUSES))
        .order_by(PurchaseOrder.expected_on, PurchaseOrder.id)))

