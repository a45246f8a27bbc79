"""The journal entries that stock and purchasing documents post by themselves, in the
same transaction as the document (so a document and its entry exist together or not at
all):

- a shipment: cost of goods sold / inventory, at the cost the stock left at;
- a goods receipt: inventory / goods received not invoiced (GRNI), at the receipt's cost;
- a vendor bill: GRNI for the goods it bills at the order's cost, purchased services or
  the chosen expense account for the rest, input tax / payable; what the supplier
  charged above or below the order's cost goes to purchase price differences;
- a stock count or a manual write-off or take-in: inventory adjustments / inventory.

Invoices, credit notes and payments post from models.invoicing and models.payments.
"""

from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from models.errors import DomainError
from models.ledger import (
    JournalEntry,
    account_for,
    check_open,
    credit,
    debit,
    post_entry,
    to_base,
)
from models.types import round_money
from models.users import User

ZERO = Decimal("0.00")
COST_PLACES = Decimal("0.0001")


def post_shipment(shipment, *, by: User | None = None) -> JournalEntry | None:
    """Cost of goods sold for what a shipment took out of stock (nothing for services)."""
    cost = sum((line.cost for line in shipment.lines), ZERO)
    if cost <= 0:
        return None
    order = shipment.order
    return post_entry(shipment.shipped_on, [
        debit(account_for("cogs"), cost, f"{shipment.number} · {order.number}"),
        credit(account_for("inventory"), cost, shipment.number)],
        memo=f"{shipment.number} · cost of goods shipped for {order.number}",
        source_type="shipment", source_id=shipment.id, reference=shipment.number, by=by)


def post_receipt(receipt, *, by: User | None = None) -> JournalEntry | None:
    """Inventory for the stocked goods a receipt brought in, at their cost."""
    value = sum((line.move.value for line in receipt.lines if line.move is not None), ZERO)
    if value <= 0:
        return None
    order = receipt.order
    return post_entry(receipt.received_on, [
        debit(account_for("inventory"), value, f"{order.number} receipt {receipt.id}"),
        credit(account_for("grni"), value, f"{order.number} · {order.supplier.name}")],
        memo=f"Goods received on {order.number} · {order.supplier.name}",
        source_type="receipt", source_id=receipt.id, reference=order.number, by=by)


def _unit_cost_base(line, rate: Decimal) -> Decimal:
    """A purchase line's unit cost in the base currency, as receipts cost it."""
    return (line.unit_cost * rate).quantize(COST_PLACES, rounding=ROUND_HALF_UP)


def bill_parts(bill) -> tuple[Decimal, Decimal]:
    """(GRNI to clear, purchased services) in the base currency for a bill on an order:
    each line at the larger of ordered and received, at the order's cost."""
    order = bill.order
    grni = services = ZERO
    for line in order.lines:
        quantity = max(line.quantity, line.received)
        if line.is_stocked:
            grni += round_money(quantity * _unit_cost_base(line, order.exchange_rate))
        else:
            services += to_base(round_money(quantity * line.unit_cost), bill.exchange_rate)
    return grni, services


def post_bill(bill, *, by: User | None = None) -> JournalEntry:
    """The payable for a supplier's bill. On an order: GRNI cleared for its goods,
    services expensed, the difference to the bill's net a purchase price difference.
    Without an order: its expense account. Input tax as billed."""
    check_open(bill.bill_date, field="bill_date", what="The bill")
    rate = bill.exchange_rate
    payable = to_base(bill.total, rate)
    tax = to_base(bill.tax, rate)
    memo = f"Bill {bill.supplier_ref} · {bill.supplier.name}"
    postings = []
    if bill.order is not None:
        grni, services = bill_parts(bill)
        variance = payable - tax - grni - services
        postings += [debit(account_for("grni"), grni, bill.order.number),
                     debit(account_for("purchases"), services, bill.order.number),
                     debit(account_for("price_diff"), variance,
                           f"Billed vs ordered cost, {bill.order.number}")]
    else:
        if bill.account is None:
            raise DomainError("Choose the expense account the bill is for.",
                              field="account_id")
        postings.append(debit(bill.account, payable - tax, memo))
    postings += [debit(account_for("tax_in"), tax, f"Input tax, bill {bill.supplier_ref}"),
                 credit(account_for("payable"), payable, f"Bill {bill.supplier_ref}",
                        supplier_id=bill.supplier_id)]
    return post_entry(bill.bill_date, postings, memo=memo, source_type="bill",
                      source_id=bill.id, reference=bill.supplier_ref[:40], by=by)


def post_adjustment(moves, *, on: date, source_type_id: tuple[str, int],
                    reference: str, reason: str, by: User | None = None
                    ) -> JournalEntry | None:
    """Stock found or lost (a count, a write-off, a take-in) at its cost: inventory
    against inventory adjustments."""
    inventory, adjust = account_for("inventory"), account_for("stock_adjust")
    postings = []
    for move in moves:
        value = move.value
        if not value:
            continue
        memo = f"{move.product.sku} {move.quantity.normalize():f}"
        if move.to_location.is_internal:
            postings += [debit(inventory, value, memo), credit(adjust, value, reason[:200])]
        else:
            postings += [debit(adjust, value, reason[:200]), credit(inventory, value, memo)]
    if not postings:
        return None
    kind, source_id = source_type_id
    return post_entry(on, postings, memo=f"Stock adjustment: {reason}"[:200],
                      source_type=kind, source_id=source_id,
                      reference=reference, by=by)
