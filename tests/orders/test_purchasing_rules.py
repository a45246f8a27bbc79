"""Purchasing rules (models/purchasing.py): orders, receipts, bills and reorder, on
whichever database the run uses."""

import re
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from models.company import CompanySettings
from models.purchasing import (
    LineInput,
    PurchaseOrder,
    VendorBill,
    add_line,
    cancel_order,
    create_purchase_order,
    draft_orders_from_reorder,
    open_orders_for_product,
    receive,
    record_bill,
    remove_line,
    reorder_suggestions,
    send_order,
    update_line,
)
from models.stock import (
    ProductStock,
    StockMove,
    default_stock_location,
    level_drift,
    receive_stock,
    reserve_stock,
    virtual_location,
)
from models.users import utcnow
from tests.catalog.test_catalog_rules import (
    edit,
    make_product,
    make_supplier,
    make_tax_rate,
    refused,
)
from tests.helpers import business_rows

D = Decimal
BILL_DAY = date(2026, 3, 10)


@pytest.fixture(autouse=True)
def _no_drift(app, db):
    """Whatever a test did, the committed stock figures still match the moves."""
    yield
    db.session.rollback()
    assert level_drift() == []


def make_order(*lines, supplier=None, send=True, **options) -> PurchaseOrder:
    """An order with (product, quantity, unit cost) lines, sent unless told otherwise."""
    from models import db

    order = create_purchase_order(supplier or make_supplier(), **options, lines=[
        LineInput(product=product, quantity=D(qty), unit_cost=D(cost))
        for product, qty, cost in lines])
    if send:
        send_order(order)
    db.session.commit()
    return order


def on_hand(product) -> Decimal:
    from models import db

    return db.session.scalar(select(ProductStock.on_hand).where(
        ProductStock.product_id == product.id)) or D(0)


# --- Orders and lines --------------------------------------------------------------------

def test_number__po_year_and_four_digits_in_sequence(app, db):
    """Are orders numbered PO-<year>-0001, then 0002?"""
    supplier = make_supplier()
    first = create_purchase_order(supplier)
    second = create_purchase_order(supplier)
    year = utcnow().year
    assert (first.number, second.number) == (f"PO-{year}-0001", f"PO-{year}-0002")
    assert first.status == "draft" and first.currency == "EUR"
    assert first.location_id == default_stock_location().id


def test_order__archived_supplier_is_refused(app, db):
    """Is an order to an archived supplier refused?"""
    with refused("supplier_id", "archived"):
        create_purchase_order(make_supplier(active=False))


def test_order__exchange_rate_rules(app, db):
    """Is a rate other than 1 refused in the base currency, and a zero rate refused?"""
    with refused("exchange_rate", "base currency"):
        create_purchase_order(make_supplier(), exchange_rate=D("1.1"))
    with refused("exchange_rate", "above zero"):
        create_purchase_order(make_supplier(currency="USD"), exchange_rate=D("0"))
    order = create_purchase_order(make_supplier(currency="USD"), exchange_rate=D("0.92"))
    assert (order.currency, order.exchange_rate) == ("USD", D("0.920000"))


def test_order__location_must_hold_stock(app, db):
    """Is an order whose goods would be received into a virtual location refused?"""
    with refused("location_id", "holds stock"):
        create_purchase_order(make_supplier(), location=virtual_location("customer"))


def test_lines__totals_and_tax_breakdown_half_up_per_line(app, db):
    """Are line nets and taxes rounded half-up per line, and the taxes summed per rate?"""
    ten, twenty = make_tax_rate("10"), make_tax_rate("20")
    a, b, c = make_product(), make_product(), make_product()
    order = create_purchase_order(make_supplier(), lines=[
        LineInput(product=a, quantity=D("1"), unit_cost=D("0.25"), tax_rate=ten),
        LineInput(product=b, quantity=D("1"), unit_cost=D("0.25"), tax_rate=ten),
        LineInput(product=c, quantity=D("3"), unit_cost=D("0.0050"), tax_rate=twenty),
        LineInput(product=None, description="Freight", quantity=D("1"),
                  unit_cost=D("12.00")),
    ])
    nets = [line.net for line in order.lines]
    taxes = [line.tax for line in order.lines]
    # 0.025 -> 0.03 twice (on the 0.50 total it would be 0.05); 3 x 0.005 = 0.015 -> 0.02,
    # whose 20% is 0.004 -> 0.00
    assert nets == [D("0.25"), D("0.25"), D("0.02"), D("12.00")]
    assert taxes == [D("0.03"), D("0.03"), D("0.00"), D("0.00")]
    assert order.tax_breakdown == [("10%", D("0.06")), ("20%", D("0.00"))]
    assert (order.net, order.tax, order.total) == (D("12.52"), D("0.06"), D("12.58"))


def test_lines__product_defaults_cost_and_tax(app, db):
    """Does a line without a typed cost or tax take the product's cost and tax rate?"""
    rate = make_tax_rate("7.7")
    product = make_product(cost=D("3.1234"), tax_rate=rate)
    order = create_purchase_order(make_supplier(), lines=[
        LineInput(product=product, quantity=D("2"))])
    (line,) = order.lines
    assert (line.unit_cost, line.tax_rate_id, line.tax_percent) == (
        D("3.1234"), rate.id, D("7.700"))
    assert order.tax_breakdown == [("7.7%", D("0.48"))]  # 6.25 x 7.7% = 0.48125


@pytest.mark.parametrize("given, field, message", [
    (dict(product=None, description=""), "product", "Choose a product"),
    (dict(quantity=D("0")), "quantity", "above zero"),
    (dict(quantity=D("1.5")), "quantity", "whole pieces"),
    (dict(unit_cost=D("-1")), "unit_cost", "zero or more"),
])
def test_lines__bad_line_is_refused_and_leaves_no_trace(app, db, given, field, message):
    """Is a bad line refused, leaving the order's lines as they were?"""
    product = make_product()
    order = create_purchase_order(make_supplier())
    with refused(field, message):
        add_line(order, LineInput(**{"product": product, "quantity": D("1")} | given))
    assert order.lines == []
    line = add_line(order, LineInput(product=product, quantity=D("2")))
    db.session.commit()
    assert [(ln.id, ln.position) for ln in order.lines] == [(line.id, 1)]


def test_lines__edit_and_remove_only_while_draft(app, db):
    """Can lines be changed and removed on a draft, and is that refused once sent?"""
    product = make_product()
    order = make_order((product, "1", "1.00"), (product, "2", "1.00"), send=False)
    first, second = order.lines
    update_line(first, LineInput(product=product, quantity=D("5"), unit_cost=D("2.00")))
    remove_line(second)
    db.session.commit()
    assert [(ln.quantity, ln.unit_cost, ln.position) for ln in order.lines] == [
        (D(5), D("2.0000"), 1)]
    send_order(order)
    db.session.commit()
    with refused(None, "only change while it is a draft"):
        add_line(order, LineInput(product=product, quantity=D("1")))
    with refused(None, "only change while it is a draft"):
        update_line(first, LineInput(product=product, quantity=D("9")))
    with refused(None, "only change while it is a draft"):
        remove_line(first)


def test_send__requires_a_line_and_a_draft(app, db):
    """Is sending an empty order refused, and sending twice?"""
    order = create_purchase_order(make_supplier())
    with refused(None, "at least one line"):
        send_order(order)
    add_line(order, LineInput(product=make_product(), quantity=D("1")))
    send_order(order)
    assert order.status == "sent" and order.sent_at is not None
    with refused(None, "already sent"):
        send_order(order)


def test_cancel__requires_a_reason(app, db):
    """Is cancelling without a reason refused, and with one recorded?"""
    order = make_order((make_product(), "1", "1.00"))
    with refused("reason", "Say why"):
        cancel_order(order, reason="  ")
    cancel_order(order, reason="Supplier out of business")
    db.session.commit()
    assert (order.status, order.cancel_reason) == ("cancelled", "Supplier out of business")
    with refused(None, "already cancelled"):
        cancel_order(order, reason="again")


def test_cancel__refused_after_a_receipt(app, db):
    """Once goods arrived, is cancelling refused?"""
    order = make_order((make_product(), "4", "1.00"))
    receive(order, {order.lines[0].id: D("1")})
    db.session.commit()
    with refused(None, "cannot be cancelled"):
        cancel_order(order, reason="changed my mind")


# --- Receiving ---------------------------------------------------------------------------

def test_receive__partial_then_complete(app, db):
    """Does a partial receipt make the order "partial" and the rest "received", each with a
    stock move into the order's location?"""
    product = make_product()
    order = make_order((product, "10", "2.00"))
    line_id = order.lines[0].id
    first = receive(order, {line_id: D("4")}, received_on=date(2026, 3, 1), note="box 1")
    db.session.commit()
    assert order.status == "partial" and order.lines[0].received == D(4)
    assert (first.received_on, first.note, first.location_id) == (
        date(2026, 3, 1), "box 1", default_stock_location().id)
    receive(order, {line_id: D("6")})
    db.session.commit()
    assert order.status == "received" and order.lines[0].outstanding == 0
    moves = db.session.scalars(select(StockMove).order_by(StockMove.id)).all()
    assert [(m.quantity, m.reference, m.source_type) for m in moves] == [
        (D(4), order.number, "receipt"), (D(6), order.number, "receipt")]
    assert [rl.move_id for r in order.receipts for rl in r.lines] == [m.id for m in moves]
    assert on_hand(product) == D(10)
    assert order.received_net == D("20.00")


def test_receive__over_receipt_needs_confirmation(app, db):
    """Is receiving more than ordered refused without confirm_over, accepted with it?"""
    product = make_product()
    order = make_order((product, "5", "1.00"))
    line_id = order.lines[0].id
    receive(order, {line_id: D("3")})
    db.session.commit()
    before = business_rows(db)
    with refused(f"qty-{line_id}", r"more than ordered \(5 ordered, 3 already received\)"):
        receive(order, {line_id: D("3")})
    db.session.rollback()
    assert business_rows(db) == before
    receive(order, {line_id: D("3")}, confirm_over=True)
    db.session.commit()
    assert (order.lines[0].received, order.status) == (D(6), "received")
    assert on_hand(product) == D(6)


@pytest.mark.parametrize("state", ["draft", "cancelled", "received"])
def test_receive__refused_unless_the_order_is_open(app, db, state):
    """Is receiving on a draft, a cancelled or a fully received order refused, writing
    nothing?"""
    order = make_order((make_product(), "2", "1.00"), send=state != "draft")
    if state == "cancelled":
        cancel_order(order, reason="not needed")
    if state == "received":
        receive(order, {order.lines[0].id: D("2")})
    db.session.commit()
    before = business_rows(db)
    message = {"draft": "Send the order", "cancelled": "was cancelled",
               "received": "has been received"}[state]
    with refused(None, message):
        receive(order, {order.lines[0].id: D("1")})
    db.session.rollback()
    assert business_rows(db) == before


def test_receive__zero_quantities_are_ignored(app, db):
    """Are lines left at zero ignored, and a receipt of nothing at all refused?"""
    a, b = make_product(), make_product()
    order = make_order((a, "2", "1.00"), (b, "2", "1.00"))
    first, second = order.lines
    with refused(None, "at least one line"):
        receive(order, {first.id: D("0"), second.id: D("0")})
    receipt = receive(order, {first.id: D("2"), second.id: D("0")})
    db.session.commit()
    assert [rl.line_id for rl in receipt.lines] == [first.id]
    assert (first.received, second.received, order.status) == (D(2), D(0), "partial")


def test_receive__bad_lines_and_quantities_are_refused(app, db):
    """Are an unknown line id, a negative and a fractional piece quantity refused?"""
    product = make_product()
    order = make_order((product, "2", "1.00"))
    other = make_order((product, "2", "1.00"))
    line_id = order.lines[0].id
    before = business_rows(db)
    for quantities, field, message in [
            ({other.lines[0].id: D("1")}, f"qty-{other.lines[0].id}", "not on this order"),
            ({line_id: D("-1")}, f"qty-{line_id}", "zero or more"),
            ({line_id: D("0.5")}, f"qty-{line_id}", "whole pieces")]:
        with refused(field, message):
            receive(order, quantities)
        db.session.rollback()
    assert business_rows(db) == before


def test_receive__fractions_of_a_kilogram_are_fine(app, db):
    """Is 2.125 kg received on a kilogram line?"""
    product = make_product(unit="kg")
    order = make_order((product, "5", "4.00"))
    receive(order, {order.lines[0].id: D("2.125")})
    db.session.commit()
    assert on_hand(product) == D("2.125")


def test_receive__foreign_currency_is_costed_in_base_currency(app, db):
    """Is a USD line received at unit cost x exchange rate, half-up to 4 decimals?"""
    product = make_product()
    order = make_order((product, "2", "1.0001"), supplier=make_supplier(currency="USD"),
                       exchange_rate=D("0.5"))
    receive(order, {order.lines[0].id: D("2")})
    db.session.commit()
    move = db.session.scalars(select(StockMove)).one()
    assert move.unit_cost == D("0.5001")  # 0.50005 half-up; half-even would give 0.5000
    assert product.cost == D("0.5001")
    eur = make_order((product, "2", "0.6999"))
    receive(eur, {eur.lines[0].id: D("2")})
    db.session.commit()
    assert product.cost == D("0.6000")  # (2 x 0.5001 + 2 x 0.6999) / 4


def test_receive__services_and_free_text_lines_make_no_stock_move(app, db):
    """Does a service or a free-text line count as received without any stock move?"""
    service = make_product(kind="service", unit="h")
    order = create_purchase_order(make_supplier(), lines=[
        LineInput(product=service, quantity=D("3"), unit_cost=D("50")),
        LineInput(product=None, description="Freight", quantity=D("1"), unit_cost=D("9"))])
    send_order(order)
    receive(order, {line.id: line.quantity for line in order.lines})
    db.session.commit()
    assert order.status == "received"
    assert db.session.scalar(select(func.count(StockMove.id))) == 0
    assert all(rl.move_id is None for rl in order.receipts[0].lines)


def test_receive__into_a_virtual_or_inactive_location_is_refused(app, db):
    """Is a receipt into the customer location refused?"""
    order = make_order((make_product(), "1", "1.00"))
    with refused("location_id", "holds stock"):
        receive(order, {order.lines[0].id: D("1")}, location=virtual_location("customer"))


# --- Bills -------------------------------------------------------------------------------

def _bill(order, ref="INV-1", **changes):
    fields = {"supplier_ref": ref, "bill_date": BILL_DAY, "net": D("10.00"),
              "tax": D("2.00")} | changes
    return record_bill(order, **fields)


def test_bill__only_after_a_receipt(app, db):
    """Is billing a draft, sent or cancelled order refused?"""
    product = make_product()
    draft = make_order((product, "1", "1.00"), send=False)
    sent = make_order((product, "1", "1.00"))
    cancelled = make_order((product, "1", "1.00"))
    cancel_order(cancelled, reason="no")
    for order in (draft, sent, cancelled):
        with refused(None, "goods received"):
            _bill(order)


def test_bill__due_date_from_the_suppliers_terms(app, db):
    """Without a due date, is the bill due the supplier's payment terms after its date?"""
    order = make_order((make_product(), "2", "5.00"), supplier=make_supplier(terms=45))
    receive(order, {order.lines[0].id: D("2")})
    bill = _bill(order, net=D("10.00"), tax=D("2.00"))
    db.session.commit()
    assert bill.due_on == BILL_DAY + timedelta(days=45)
    assert (bill.total, bill.currency, bill.status) == (D("12.00"), "EUR", "open")
    assert order.status == "billed"


def test_bill__due_before_the_bill_date_is_refused(app, db):
    """Is a due date before the bill date refused, and an explicit later one kept?"""
    order = make_order((make_product(), "1", "1.00"))
    receive(order, {order.lines[0].id: D("1")})
    with refused("due_on", "before the bill date"):
        _bill(order, due_on=BILL_DAY - timedelta(days=1))
    bill = _bill(order, due_on=BILL_DAY + timedelta(days=3))
    assert bill.due_on == date(2026, 3, 13)


@pytest.mark.parametrize("changes, field, message", [
    ({"ref": " "}, "supplier_ref", "bill number"),
    ({"ref": "X" * 61}, "supplier_ref", "at most 60"),
    ({"net": D("-1")}, "net", "zero or more"),
    ({"tax": D("-0.01")}, "tax", "zero or more"),
    ({"bill_date": None}, "bill_date", "bill's date"),
])
def test_bill__bad_fields_are_refused(app, db, changes, field, message):
    """Are a blank or long reference, negative amounts and a missing date refused?"""
    order = make_order((make_product(), "1", "1.00"))
    receive(order, {order.lines[0].id: D("1")})
    with refused(field, message):
        _bill(order, **changes)


def test_bill__supplier_ref_unique_per_supplier_whatever_the_case(app, db):
    """Is the same bill number from the same supplier refused (in any case), but fine from
    another supplier?"""
    product = make_product()
    acme, other = make_supplier("Acme"), make_supplier("Other")
    first = make_order((product, "1", "1.00"), supplier=acme)
    second = make_order((product, "1", "1.00"), supplier=acme)
    third = make_order((product, "1", "1.00"), supplier=other)
    for order in (first, second, third):
        receive(order, {order.lines[0].id: D("1")})
    _bill(first, "inv-77")
    db.session.commit()
    with refused("supplier_ref", "Bill INV-77 from Acme is already recorded"):
        _bill(second, "INV-77")
    db.session.rollback()
    _bill(third, "INV-77")
    db.session.commit()
    assert db.session.scalar(select(func.count(VendorBill.id))) == 2
    with refused(None, "already billed"):
        _bill(first, "inv-78")


def test_bill__status_billed_only_once_everything_arrived(app, db):
    """Does a bill on a partial order leave it "partial", and the receipt that completes it
    make it "billed"?"""
    order = make_order((make_product(), "4", "1.00"))
    line_id = order.lines[0].id
    receive(order, {line_id: D("1")})
    _bill(order)
    db.session.commit()
    assert order.status == "partial"
    receive(order, {line_id: D("3")})
    db.session.commit()
    assert order.status == "billed"
    with refused(None, "has been received"):
        receive(order, {line_id: D("1")}, confirm_over=True)


# --- Reorder -----------------------------------------------------------------------------

def _reorderable(sku, supplier=None, point="10", qty="20", unit="pc", on_hand_qty=None):
    product = make_product(sku=sku, unit=unit, reorder_point=D(point), reorder_qty=D(qty),
                           preferred_supplier=supplier)
    if on_hand_qty:
        receive_stock(product, D(on_hand_qty), D("1.00"))
    return product


def test_reorder__suggests_products_below_their_point(app, db):
    """Are only active stocked products whose available is below the point suggested, with
    their reorder quantity (or the shortfall when larger)?"""
    supplier = make_supplier()
    low = _reorderable("R-LOW", supplier, point="10", qty="20", on_hand_qty="3")
    deep = _reorderable("R-DEEP", supplier, point="50", qty="5", on_hand_qty="3")
    _reorderable("R-OK", supplier, point="10", qty="20", on_hand_qty="10")
    _reorderable("R-NEVER", supplier, point="0", qty="20")
    make_product(sku="R-OLD", reorder_point=D("10"), reorder_qty=D("5"), active=False)
    held = _reorderable("R-HELD", supplier, point="5", qty="5", on_hand_qty="6")
    reserve_stock(held, D("2"), source_type="order", source_id=1)
    db.session.commit()
    found = {s.product.sku: (s.on_hand, s.reserved, s.on_order, s.quantity)
             for s in reorder_suggestions()}
    assert found == {"R-LOW": (D(3), D(0), D(0), D(20)),
                     "R-DEEP": (D(3), D(0), D(0), D(47)),
                     "R-HELD": (D(6), D(2), D(0), D(5))}
    assert [s.product for s in reorder_suggestions([low.id, deep.id])] == [deep, low]


def test_reorder_watch__the_first_few_of_the_suggestions_and_their_count(app, db):
    """Does the dashboard's reorder_watch give the first n suggestions in the reorder
    list's order, with the same figures, and count them all; nothing when none is low?"""
    from models.purchasing import reorder_watch

    assert reorder_watch(2) == ([], 0)
    supplier = make_supplier()
    for n in range(5):
        _reorderable(f"W-{n}", supplier, point="10", qty=str(5 + n), on_hand_qty=str(n + 1))
    _reorderable("W-OK", supplier, point="10", qty="20", on_hand_qty="10")
    db.session.commit()
    every = reorder_suggestions()
    first, count = reorder_watch(2)
    assert count == len(every) == 5
    assert [(s.product.sku, s.on_hand, s.quantity) for s in first] == \
        [(s.product.sku, s.on_hand, s.quantity) for s in every[:2]]
    assert reorder_watch(10)[1] == 5 and len(reorder_watch(10)[0]) == 5


def test_reorder__counts_what_open_orders_bring(app, db):
    """Is what draft, sent and partly received orders still bring counted as on order, and
    what cancelled or received ones brought not?"""
    supplier = make_supplier()
    product = _reorderable("R-ON", supplier, point="30", qty="10", on_hand_qty="1")
    make_order((product, "2", "1.00"), send=False)                  # draft: 2
    make_order((product, "3", "1.00"))                              # sent: 3
    partial = make_order((product, "10", "1.00"))
    receive(partial, {partial.lines[0].id: D("6")})                 # partial: 4 still due
    cancelled = make_order((product, "100", "1.00"))
    cancel_order(cancelled, reason="no")                            # cancelled: 0
    done = make_order((product, "5", "1.00"))
    receive(done, {done.lines[0].id: D("5")})                       # received: 0
    db.session.commit()
    (suggestion,) = reorder_suggestions()
    assert (suggestion.on_hand, suggestion.on_order) == (D(12), D(9))
    assert suggestion.quantity == D(10)  # shortfall 30 - 21 = 9 < reorder qty 10
    assert len(open_orders_for_product(product.id)) == 3


def test_reorder__drafts_one_order_per_supplier_and_nothing_twice(app, db):
    """Does ordering from the reorder list make one draft per preferred supplier, and a
    second run order nothing (the drafts count as on order)?"""
    acme, bolt = make_supplier("Acme"), make_supplier("Bolt")
    a1 = _reorderable("A-1", acme, point="10", qty="20")
    a2 = _reorderable("A-2", acme, point="4", qty="6", unit="kg")
    b1 = _reorderable("B-1", bolt, point="10", qty="7")
    db.session.commit()
    orders = draft_orders_from_reorder([a1.id, a2.id, b1.id], quantities={b1.id: D("12")})
    db.session.commit()
    assert [(o.supplier.name, o.status, [(ln.product.sku, ln.quantity) for ln in o.lines])
            for o in orders] == [("Acme", "draft", [("A-1", D(20)), ("A-2", D(6))]),
                                 ("Bolt", "draft", [("B-1", D(12))])]
    assert all(re.fullmatch(r"PO-\d{4}-\d{4}", o.number) for o in orders)
    assert reorder_suggestions() == []
    before = business_rows(db)
    with refused(None, "None of the chosen products needs reordering"):
        draft_orders_from_reorder([a1.id, a2.id, b1.id])
    db.session.rollback()
    assert business_rows(db) == before


def test_reorder__products_without_a_preferred_supplier_are_named(app, db):
    """Is ordering refused, naming each SKU without a preferred supplier, writing nothing?"""
    supplier = make_supplier()
    fine = _reorderable("HAS-SUP", supplier)
    lost = _reorderable("NO-SUP-1")
    lost2 = _reorderable("NO-SUP-2")
    db.session.commit()
    before = business_rows(db)
    with refused(None, "Set a preferred supplier first for: NO-SUP-1, NO-SUP-2."):
        draft_orders_from_reorder([fine.id, lost.id, lost2.id])
    db.session.rollback()
    assert business_rows(db) == before


def test_reorder__whole_units_round_the_suggestion_up(app, db):
    """When the shortfall has a fraction (an old kg order line on a product now counted in
    pieces), is the suggestion rounded up to whole pieces?"""
    supplier = make_supplier()
    product = _reorderable("ROUND-1", supplier, point="10", qty="0", unit="kg")
    make_order((product, "0.5", "1.00"), send=False)
    edit(product, unit="pc")   # no stock moved yet: the unit may still change
    db.session.commit()
    (suggestion,) = reorder_suggestions()
    assert suggestion.on_order == D("0.5")
    assert suggestion.quantity == D(10)  # shortfall 9.5 -> 10 pieces


def test_settings__base_currency_comes_from_the_company(app, db):
    """With the company's base currency USD, is a USD supplier's order at rate 1 only?"""
    settings = CompanySettings.current()
    settings.base_currency = "USD"
    db.session.add(settings)
    db.session.commit()
    with refused("exchange_rate", "base currency"):
        create_purchase_order(make_supplier(currency="USD"), exchange_rate=D("2"))
    order = create_purchase_order(make_supplier(currency="EUR"), exchange_rate=D("1.08"))
    assert order.exchange_rate == D("1.080000")
