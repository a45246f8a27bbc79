"""Order rules at the model level: accepting a quote (the order, the won deal, the
reservations, and every refusal writing nothing), backorders, cancelling, shipping, and
the one-time form keys that keep a repeated acceptance from making a second order."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from models.errors import DomainError
from models.formkeys import AlreadySubmitted, claim_form_key, new_form_key, settle_form_key
from models.sales import (
    SalesOrder,
    Shipment,
    accept_quote,
    cancel_sales_order,
    decline_quote,
    reserve_outstanding,
    reserved_by_line,
    revise_quote,
    ship,
)
from models.stock import ProductStock, StockLevel, StockMove, level_drift
from tests.helpers import business_rows, count_rows, make_customer
from tests.sales.factories import make_order, make_product, make_quote, make_tax_rate, stock

D = Decimal
YEAR = date.today().year


def totals(db, product) -> tuple[Decimal, Decimal]:
    """(on hand, reserved) of a product as committed."""
    db.session.expire_all()
    row = db.session.get(ProductStock, product.id)
    return (row.on_hand, row.reserved) if row else (D(0), D(0))


def assert_stock_sound():
    """The kept figures match the moves, and nothing is below zero or over-reserved."""
    assert level_drift() == []
    from models import db

    for level in db.session.scalars(select(StockLevel)):
        assert level.on_hand >= 0 and 0 <= level.reserved <= level.on_hand, level.__dict__


def refused_writing_nothing(db, call, *args, **kwargs) -> DomainError:
    """Run a rule that must refuse; after the rollback every business row is as before."""
    db.session.commit()
    before = business_rows(db)
    with pytest.raises(DomainError) as caught:
        call(*args, **kwargs)
    db.session.rollback()
    assert business_rows(db) == before
    return caught.value


def shipment_moves(db, shipment) -> list[StockMove]:
    return list(db.session.scalars(select(StockMove).where(
        StockMove.reference == shipment.number).order_by(StockMove.id)))


# --- Accepting ----------------------------------------------------------------------------

def test_accept_copies_lines_prices_and_totals(db, stages):
    vat = make_tax_rate("VAT 20", "20")
    widget = make_product("W-1", tax_rate=vat)
    stock(widget, 10)
    quote = make_quote(db, stages, [(widget, "3", "19.99", "12.5"), ("Installation", "1", "100")],
                       status="sent")
    order = accept_quote(quote, customer_po="  PO-77 ")
    db.session.commit()
    assert order.number == f"SO-{YEAR}-0001"
    assert (order.status, order.currency, order.customer_id, order.quote_id) == (
        "confirmed", "EUR", quote.customer_id, quote.id)
    assert (order.customer_po, quote.customer_po, quote.status) == ("PO-77", "PO-77",
                                                                    "accepted")
    assert quote.accepted_at is not None and quote.order.id == order.id
    fields = ("position", "product_id", "description", "quantity", "unit_price",
              "discount_percent", "tax_rate_id", "tax_percent", "net", "tax", "total")
    assert [tuple(getattr(ln, f) for f in fields) for ln in order.lines] == [
        tuple(getattr(ln, f) for f in fields) for ln in quote.lines]
    assert [ln.quote_line_id for ln in order.lines] == [ln.id for ln in quote.lines]
    assert (order.net, order.tax, order.total, order.tax_breakdown) == (
        quote.net, quote.tax, quote.total, quote.tax_breakdown)
    assert order.net == D("152.47")  # 59.97 x 0.875 = 52.47375 -> 52.47, + 100


def test_accept_wins_the_deal_at_the_quote_net(db, stages):
    quote = make_quote(db, stages, [("Consulting", "3", "333.33", "10")], status="sent")
    deal = quote.deal
    assert deal.amount == D("1000.00") and deal.is_open
    accept_quote(quote)
    db.session.commit()
    db.session.expire_all()
    assert deal.stage.outcome == "won" and deal.won_at is not None
    assert deal.amount == quote.net == D("899.99")  # 999.99 x 0.9 = 899.991


def test_accept_reserves_stocked_lines_and_not_services(db, stages):
    widget, gadget = make_product("W-2"), make_product("G-2")
    service = make_product("SV-2", kind="service")
    stock(widget, 10)
    stock(gadget, 4)
    order = make_order(db, stages, [(widget, "3"), (gadget, "4"), (service, "2"),
                                    ("Freight", "1", "15.00")])
    w, g, s, f = order.lines
    assert reserved_by_line(order) == {w.id: D(3), g.id: D(4)}
    assert totals(db, widget) == (D(10), D(3))
    assert totals(db, gadget) == (D(4), D(4))
    assert db.session.get(ProductStock, service.id) is None
    assert_stock_sound()


def test_two_lines_of_one_product_are_both_reserved(db, stages):
    widget = make_product("W-3")
    stock(widget, 6)
    order = make_order(db, stages, [(widget, "2"), (widget, "4")])
    assert sorted(reserved_by_line(order).values()) == [D(2), D(4)]
    assert totals(db, widget) == (D(6), D(6))
    assert_stock_sound()


def _sent(db, stages, lines=None):
    product = make_product()
    stock(product, 10)
    return make_quote(db, stages, lines or [(product, "2")], status="sent"), product


def test_accept_of_a_draft_is_refused(db, stages):
    product = make_product()
    stock(product, 10)
    quote = make_quote(db, stages, [(product, "2")])
    error = refused_writing_nothing(db, accept_quote, quote)
    assert "Send the quote" in error.message


def test_accept_of_an_expired_quote_is_refused(db, stages):
    quote, _ = _sent(db, stages)
    quote.valid_until = date.today() - timedelta(days=1)
    db.session.commit()
    error = refused_writing_nothing(db, accept_quote, quote)
    assert "expired on" in error.message


def test_accept_of_a_superseded_quote_names_the_newer_revision(db, stages):
    quote, _ = _sent(db, stages)
    newer = revise_quote(quote)
    db.session.commit()
    error = refused_writing_nothing(db, accept_quote, quote)
    assert f"superseded by {quote.number} v2" in error.message
    assert newer.label == f"{quote.number} v2"


def test_accept_of_a_declined_quote_is_refused(db, stages):
    quote, _ = _sent(db, stages)
    decline_quote(quote, reason="no budget")
    db.session.commit()
    error = refused_writing_nothing(db, accept_quote, quote)
    assert "declined" in error.message


def test_accept_twice_is_refused(db, stages):
    quote, product = _sent(db, stages)
    order = accept_quote(quote)
    db.session.commit()
    error = refused_writing_nothing(db, accept_quote, quote)
    assert f"already accepted as {order.number}" in error.message
    assert count_rows(db, SalesOrder) == 1
    assert totals(db, product) == (D(10), D(2))


def test_accept_for_a_customer_on_hold__the_order_waits_on_credit_hold(db, stages):
    """Is a customer on hold's order made on credit hold, with why, its stock reserved
    and nothing shippable until finance releases it?"""
    customer = make_customer(name="Held GmbH")
    product = make_product()
    stock(product, 10)
    quote = make_quote(db, stages, [(product, "2")], status="sent", customer=customer)
    customer.account.on_hold = True
    customer.account.hold_reason = "overdue"
    db.session.commit()
    order = accept_quote(quote)
    db.session.commit()
    assert order.status == "held"
    assert order.credit_hold_reason == "Held GmbH is on hold: overdue"
    assert totals(db, product) == (D(10), D(2))
    error = refused_writing_nothing(db, ship, order, {order.lines[0].id: D(1)})
    assert "credit hold" in error.message


def test_accept_with_a_product_archived_since_is_refused(db, stages):
    product = make_product("ARC-9")
    stock(product, 10)
    quote = make_quote(db, stages, [(product, "2")], status="sent")
    product.active = False
    db.session.commit()
    error = refused_writing_nothing(db, accept_quote, quote)
    assert "ARC-9 was archived since" in error.message


def test_accept_short_of_stock_without_backorders_is_refused(db, stages):
    product = make_product("SHORT-1")
    stock(product, 3)
    quote = make_quote(db, stages, [("Setup", "1", "10.00"), (product, "5")], status="sent")
    error = refused_writing_nothing(db, accept_quote, quote)
    assert "Line 2: Only 3 pc of SHORT-1 available." in error.message
    assert "SHORT-1 takes no backorders" in error.message
    assert error.field.startswith("line-")
    assert totals(db, product) == (D(3), D(0))
    assert quote.deal.is_open


def test_accept_short_across_two_lines_of_one_product_is_refused(db, stages):
    product = make_product("SHORT-2")
    stock(product, 5)
    quote = make_quote(db, stages, [(product, "3"), (product, "3")], status="sent")
    error = refused_writing_nothing(db, accept_quote, quote)
    assert "Line 2: Only 2 pc of SHORT-2 available." in error.message


def test_backorder_product_accepts_with_partial_reservation(db, stages):
    product = make_product("BO-1", allow_backorder=True)
    stock(product, 3)
    order = make_order(db, stages, [(product, "5")])
    line_id = order.lines[0].id
    assert reserved_by_line(order) == {line_id: D(3)}
    assert totals(db, product) == (D(3), D(3))
    assert reserve_outstanding(order) == D(2)  # nothing arrived yet
    db.session.commit()
    assert reserved_by_line(order) == {line_id: D(3)}
    stock(product, 4)
    assert reserve_outstanding(order) == D(0)
    db.session.commit()
    assert reserved_by_line(order) == {line_id: D(5)}
    assert totals(db, product) == (D(7), D(5))
    assert reserve_outstanding(order) == D(0)  # nothing more to reserve
    db.session.commit()
    assert totals(db, product) == (D(7), D(5))
    assert_stock_sound()


# --- Cancelling ---------------------------------------------------------------------------

def test_cancel_releases_the_reservations(db, stages):
    product = make_product()
    stock(product, 10)
    order = make_order(db, stages, [(product, "4"), ("Freight", "1", "5.00")])
    assert totals(db, product) == (D(10), D(4))
    cancel_sales_order(order, reason=" Customer changed their mind ")
    db.session.commit()
    assert (order.status, order.cancel_reason, order.delivery) == (
        "cancelled", "Customer changed their mind", "Cancelled")
    assert order.cancelled_at is not None
    assert reserved_by_line(order) == {}
    assert totals(db, product) == (D(10), D(0))
    again = refused_writing_nothing(db, cancel_sales_order, order, reason="again")
    assert "already cancelled" in again.message
    assert_stock_sound()


def test_cancel_needs_a_reason(db, stages):
    product = make_product()
    stock(product, 10)
    order = make_order(db, stages, [(product, "4")])
    error = refused_writing_nothing(db, cancel_sales_order, order, reason="  ")
    assert error.field == "reason"
    assert totals(db, product) == (D(10), D(4))


def test_cancel_after_a_shipment_is_refused(db, stages):
    product = make_product()
    stock(product, 10)
    order = make_order(db, stages, [(product, "4")])
    ship(order, {order.lines[0].id: D(1)})
    db.session.commit()
    error = refused_writing_nothing(db, cancel_sales_order, order, reason="late")
    assert "has shipped" in error.message
    assert totals(db, product) == (D(9), D(3))
    assert_stock_sound()


# --- Shipping -----------------------------------------------------------------------------

def test_partial_then_full_shipment(db, stages):
    product = make_product("SHIP-1", cost="4.00")
    stock(product, 10, "4.00")
    order = make_order(db, stages, [(product, "5"), ("Installation", "1", "80.00")])
    goods, service = order.lines
    first = ship(order, {goods.id: D(2)}, carrier=" DHL ", tracking="123")
    db.session.commit()
    assert first.number == f"SH-{YEAR}-0001"
    assert (order.status, order.delivery, goods.shipped, goods.to_ship) == (
        "partial", "Shipped 2 of 6", D(2), D(3))
    assert (first.carrier, first.tracking, first.shipped_on) == ("DHL", "123", date.today())
    assert [(sl.line_id, sl.quantity, sl.cost) for sl in first.lines] == [
        (goods.id, D(2), D("8.00"))]
    moves = shipment_moves(db, first)
    assert [(m.state, m.to_location.kind, m.quantity) for m in moves] == [
        ("done", "customer", D(2))]
    assert reserved_by_line(order) == {goods.id: D(3)}
    assert totals(db, product) == (D(8), D(3))
    assert_stock_sound()

    second = ship(order, {goods.id: D(3), service.id: D(1)})
    db.session.commit()
    assert (order.status, order.delivery) == ("shipped", "Shipped in full")
    assert {sl.line_id: (sl.quantity, sl.cost) for sl in second.lines} == {
        goods.id: (D(3), D("12.00")), service.id: (D(1), D("0.00"))}
    moves = shipment_moves(db, second)
    assert [(m.state, m.to_location.kind, m.quantity) for m in moves] == [
        ("done", "customer", D(3))]
    assert reserved_by_line(order) == {}
    assert totals(db, product) == (D(5), D(0))
    assert [s.number for s in order.shipments] == [first.number, second.number]
    done = refused_writing_nothing(db, ship, order, {goods.id: D(1)})
    assert "Everything on this order has shipped" in done.message
    assert_stock_sound()


def test_shipping_beyond_what_is_left_is_refused(db, stages):
    product = make_product()
    stock(product, 10)
    order = make_order(db, stages, [(product, "5")])
    line_id = order.lines[0].id
    ship(order, {line_id: D(2)})
    db.session.commit()
    error = refused_writing_nothing(db, ship, order, {line_id: D(4)})
    assert (error.field, error.message) == (f"qty-{line_id}",
                                            "Only 3 pc left to ship on line 1.")
    fraction = refused_writing_nothing(db, ship, order, {line_id: D("1.5")})
    assert fraction.field == f"qty-{line_id}"
    negative = refused_writing_nothing(db, ship, order, {line_id: D(-1)})
    assert negative.field == f"qty-{line_id}"
    nothing = refused_writing_nothing(db, ship, order, {line_id: D(0)})
    assert "at least one line" in nothing.message
    stranger = refused_writing_nothing(db, ship, order, {line_id + 999: D(1)})
    assert stranger.field == f"qty-{line_id + 999}"
    assert count_rows(db, Shipment) == 1
    assert totals(db, product) == (D(8), D(3))
    assert_stock_sound()


def test_shipping_more_than_reserved_takes_free_stock(db, stages):
    product = make_product("FREE-1", allow_backorder=True, cost="4.00")
    stock(product, 2, "4.00")
    order = make_order(db, stages, [(product, "5")])
    line_id = order.lines[0].id
    assert reserved_by_line(order) == {line_id: D(2)}
    stock(product, 3, "4.00")  # arrived, not yet reserved for the order
    assert totals(db, product) == (D(5), D(2))
    shipment = ship(order, {line_id: D(4)})
    db.session.commit()
    assert [(sl.quantity, sl.cost) for sl in shipment.lines] == [(D(4), D("16.00"))]
    moves = shipment_moves(db, shipment)
    assert all(m.state == "done" and m.to_location.kind == "customer" for m in moves)
    assert sum(m.quantity for m in moves) == D(4)
    assert reserved_by_line(order) == {}
    assert totals(db, product) == (D(1), D(0))
    assert order.status == "partial"
    ship(order, {line_id: D(1)})
    db.session.commit()
    assert (order.status, totals(db, product)) == ("shipped", (D(0), D(0)))
    assert_stock_sound()


def test_shipping_beyond_what_is_on_hand_is_refused(db, stages):
    product = make_product("ONHAND-1", allow_backorder=True)
    stock(product, 2)
    order = make_order(db, stages, [(product, "5")])
    line_id = order.lines[0].id
    error = refused_writing_nothing(db, ship, order, {line_id: D(3)})
    assert error.field == f"qty-{line_id}"
    assert "Only 0 pc of ONHAND-1 available" in error.message
    assert totals(db, product) == (D(2), D(2))
    assert count_rows(db, Shipment) == 0
    assert_stock_sound()


def test_shipping_never_takes_stock_reserved_for_another_order(db, stages):
    product = make_product("OTHER-1", allow_backorder=True)
    stock(product, 2)
    first = make_order(db, stages, [(product, "2")])
    second = make_order(db, stages, [(product, "3")])
    assert reserved_by_line(first) == {first.lines[0].id: D(2)}
    assert reserved_by_line(second) == {}
    error = refused_writing_nothing(db, ship, second, {second.lines[0].id: D(1)})
    assert "Only 0 pc of OTHER-1 available" in error.message
    ship(first, {first.lines[0].id: D(2)})
    db.session.commit()
    assert totals(db, product) == (D(0), D(0))
    assert_stock_sound()


def test_shipment_cost_is_quantity_times_cost_rounded_half_up(db, stages):
    product = make_product("COST-1")
    stock(product, 10, "0.3350")
    order = make_order(db, stages, [(product, "3")])
    shipment = ship(order, {order.lines[0].id: D(3)})
    db.session.commit()
    # 3 x 0.3350 = 1.0050: half-up to 1.01, as every other amount in Tandem rounds
    assert shipment.lines[0].cost == D("1.01")


def test_shipping_a_cancelled_order_is_refused(db, stages):
    product = make_product()
    stock(product, 10)
    order = make_order(db, stages, [(product, "2")])
    cancel_sales_order(order, reason="duplicate")
    db.session.commit()
    error = refused_writing_nothing(db, ship, order, {order.lines[0].id: D(1)})
    assert "cancelled" in error.message
    assert totals(db, product) == (D(10), D(0))


# --- Form keys ----------------------------------------------------------------------------

def test_form_key_claimed_twice_lands_on_what_the_first_made(db, stages):
    quote, _ = _sent(db, stages)
    key = new_form_key()
    claim_form_key(key, "accept_quote")
    order = accept_quote(quote)
    url = f"/orders/sales/{order.id}"
    settle_form_key(key, url)
    db.session.commit()
    with pytest.raises(AlreadySubmitted) as caught:
        claim_form_key(key, "accept_quote")
    db.session.rollback()
    assert caught.value.result_url == url
    assert caught.value.status == 409
    assert count_rows(db, SalesOrder) == 1


@pytest.mark.parametrize("key", [None, "", "short", "x" * 65, "has spaces in it 1234567890",
                                 "semi;colons;are;not;allowed;here"])
def test_malformed_form_key_is_refused(db, key):
    with pytest.raises(DomainError) as caught:
        claim_form_key(key, "accept_quote")
    db.session.rollback()
    assert not isinstance(caught.value, AlreadySubmitted)
    assert "Reload the page" in caught.value.message


def test_form_key_of_another_form_is_refused(db):
    key = new_form_key()
    claim_form_key(key, "new_quote")
    db.session.commit()
    with pytest.raises(DomainError) as caught:
        claim_form_key(key, "accept_quote")
    db.session.rollback()
    assert not isinstance(caught.value, AlreadySubmitted)
