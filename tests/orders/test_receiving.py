"""Receiving goods on a purchase order: the form, partial and over-receipts, refusals,
stock on hand and moving-average cost, foreign-currency orders."""

import re
from datetime import date
from decimal import Decimal

import pytest

from models import PurchaseOrder, Receipt, StockMove
from models.stock import StockLevel, add_location, availability, level_drift
from tests.helpers import business_rows, count_rows, form_key
from tests.orders.factories import make_po, make_product, make_supplier, on_hand


def _order(db, order_id) -> PurchaseOrder:
    db.session.expire_all()
    return db.session.get(PurchaseOrder, order_id)


def _post(client, order, quantities, **extra):
    data = {f"qty-{line.id}": str(qty) for line, qty in quantities.items()}
    data.setdefault("location_id", str(order.location_id))
    data.setdefault("received_on", date.today().isoformat())
    data["form_key"] = form_key()              # a fresh form each time, as after a reload
    data.update(extra)
    if data["form_key"] is None:
        del data["form_key"]
    return client.post(f"/orders/purchases/{order.id}/receive", data=data)


def test_receive_form__one_row_per_line_with_outstanding_as_placeholder(client, login, db):
    """Does the form show each line with its outstanding quantity as a placeholder, an
    empty decimal input, the locations, today's date and the over-receipt tick?"""
    product = make_product("REC-1")
    order = make_po(lines=[(product, "10", "2"), ("Freight", "1", "20")], status="partial")
    line = order.lines[0]
    login("operations")
    page = client.get(f"/orders/purchases/{order.id}/receive").get_data(as_text=True)
    field = re.search(rf'<input type="text" id="qty-{line.id}"[^>]*>', page, re.S).group(0)
    assert 'placeholder="5"' in field and 'value=""' in field
    assert 'inputmode="decimal"' in field
    assert 'name="location_id"' in page and "WH/STOCK" in page
    assert f'value="{date.today().isoformat()}"' in page
    assert "Accept more than ordered" in page
    assert "Freight" in page
    assert re.search(r'<input type="hidden" name="form_key" value="[\w-]{20,}">', page)


def test_receive__partial_then_full_updates_status_and_stock(client, login, db):
    """Does a partial receipt make the order "Partially received" and raise on hand, and
    the rest make it "Received"?"""
    product = make_product("STK-1", cost="2.00")
    order = make_po(lines=[(product, "10", "2.00")], status="sent")
    line = order.lines[0]
    login("operations")
    response = _post(client, order, {line: 4}, note="First pallet")
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/orders/purchases/{order.id}")
    assert on_hand(product) == Decimal("4.000")
    page = client.get(f"/orders/purchases/{order.id}").get_data(as_text=True)
    assert "Partially received" in page and "First pallet" in page
    assert "Otto Ops" in page                           # who received
    assert _order(db, order.id).status == "partial"
    response = _post(client, order, {line: 6})
    assert response.status_code == 302
    order = _order(db, order.id)
    assert order.status == "received" and order.lines[0].received == Decimal("10.000")
    assert availability([product.id])[product.id].on_hand == Decimal("10.000")
    assert "Received" in client.get(f"/orders/purchases/{order.id}").get_data(as_text=True)
    assert count_rows(db, Receipt) == 2
    assert level_drift() == []


def test_receive__into_another_location(client, login, db):
    """Does stock arrive at the location chosen on the form?"""
    product = make_product("LOC-1")
    order = make_po(lines=[(product, "3", "1")], status="sent")
    shelf = add_location(code="WH/SHELF-A", name="Shelf A")
    db.session.commit()
    login("operations")
    response = _post(client, order, {order.lines[0]: 3}, location_id=str(shelf.id))
    assert response.status_code == 302
    level = db.session.get(StockLevel, (product.id, shelf.id))
    assert level.on_hand == Decimal("3.000")


def test_receive__all_outstanding_button(client, login, db):
    """Does "Receive everything outstanding" take what is left on every empty line?"""
    one, two = make_product("ALL-1"), make_product("ALL-2")
    order = make_po(lines=[(one, "5", "1"), (two, "7", "1")], status="sent")
    login("operations")
    response = _post(client, order, {}, receive_all="1")
    assert response.status_code == 302
    assert (on_hand(one), on_hand(two)) == (Decimal("5.000"), Decimal("7.000"))
    assert _order(db, order.id).status == "received"


def test_receive__more_than_ordered_needs_the_tick(client, login, db):
    """Is an over-receipt refused next to that line without the tick, and accepted with it?"""
    product = make_product("OVER-1")
    order = make_po(lines=[(product, "5", "1")], status="sent")
    line = order.lines[0]
    login("operations")
    before = business_rows(db)
    response = _post(client, order, {line: 7})
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert re.search(rf'<p class="error" id="qty-{line.id}-error">That is more than ordered '
                     r"\(5 ordered, 0 already received\)", body)
    assert 'value="7"' in body                        # the typed quantity is kept
    assert business_rows(db) == before
    response = _post(client, order, {line: 7}, confirm_over="y")
    assert response.status_code == 302
    assert on_hand(product) == Decimal("7.000")
    order = _order(db, order.id)
    assert order.status == "received" and order.lines[0].received == Decimal("7.000")


def test_receive__bad_quantities_are_422_next_to_the_line(client, login, db):
    """Are junk, negative and fractional-piece quantities refused beside the line with
    nothing written?"""
    product = make_product("BAD-1", unit="pc")
    order = make_po(lines=[(product, "5", "1")], status="sent")
    line = order.lines[0]
    login("operations")
    before = business_rows(db)
    for typed, message in (("abc", "Enter a number, like 12 or 2.5."),
                           ("-2", "Enter a quantity of zero or more."),
                           ("1.5", "BAD-1 is counted in whole pieces."),
                           ("1.2345", "Use at most 3 decimals.")):
        response = _post(client, order, {line: typed})
        assert response.status_code == 422, typed
        assert re.search(rf'id="qty-{line.id}-error">{re.escape(message)}',
                         response.get_data(as_text=True)), typed
    assert business_rows(db) == before


def test_receive__nothing_typed_is_422(client, login, db):
    """Is a receipt with no quantity at all refused with a message?"""
    order = make_po(lines=[(make_product(), "5", "1")], status="sent")
    login("operations")
    before = business_rows(db)
    response = _post(client, order, {})
    assert response.status_code == 422
    assert "Enter the quantity received on at least one line." in \
        response.get_data(as_text=True)
    assert business_rows(db) == before


def test_receive__refused_on_draft_cancelled_and_received_orders(client, login, db):
    """Is receiving on a draft, a cancelled or a fully received order refused with a clear
    message and nothing written?"""
    product = make_product("REF-1")
    draft = make_po(lines=[(product, "2", "1")])
    cancelled = make_po(lines=[(product, "2", "1")], status="sent")
    from models.purchasing import cancel_order

    cancel_order(cancelled, reason="Not needed")
    db.session.commit()
    received = make_po(lines=[(product, "2", "1")], status="received")
    login("operations")
    before = business_rows(db)
    for order, message in ((draft, "Send the order to the supplier before receiving it."),
                           (cancelled, "This order was cancelled; nothing can be received on it."),
                           (received, "Everything on this order has been received.")):
        response = _post(client, order, {order.lines[0]: 1})
        assert response.status_code == 422, order.status
        assert message in response.get_data(as_text=True), order.status
        page = client.get(f"/orders/purchases/{order.id}/receive").get_data(as_text=True)
        assert 'name="qty-' not in page          # no form to fill in
    assert business_rows(db) == before


def test_receive__service_line_is_received_without_stock(client, login, db):
    """Does a service or described line count as received without a stock move?"""
    service = make_product("SVC-1", kind="service", unit="h")
    order = make_po(lines=[(service, "2", "50"), ("Freight", "1", "20")], status="sent")
    login("operations")
    response = _post(client, order, {order.lines[0]: 2, order.lines[1]: 1})
    assert response.status_code == 302
    assert count_rows(db, StockMove) == 0
    assert _order(db, order.id).status == "received"


def test_receive__moving_average_cost_over_two_receipts(client, login, db):
    """Does the product's cost become the moving average of two receipts at different
    unit costs: 10 at 4.00, then 30 at 6.00 = 5.50?"""
    product = make_product("AVG-1", cost="0")
    supplier = make_supplier()
    first = make_po(supplier, [(product, "10", "4.00")], status="sent")
    second = make_po(supplier, [(product, "30", "6.00")], status="sent")
    login("operations")
    assert _post(client, first, {first.lines[0]: 10}).status_code == 302
    db.session.expire_all()
    assert db.session.get(type(product), product.id).cost == Decimal("4.0000")
    assert _post(client, second, {second.lines[0]: 30}).status_code == 302
    db.session.expire_all()
    product = db.session.get(type(product), product.id)
    assert product.cost == Decimal("5.5000")
    assert on_hand(product) == Decimal("40.000")
    moves = db.session.scalars(db.select(StockMove).order_by(StockMove.id)).all()
    assert [m.unit_cost for m in moves] == [Decimal("4.0000"), Decimal("6.0000")]
    assert [m.reference for m in moves] == [first.number, second.number]


def test_receive__foreign_order_is_costed_in_the_base_currency(client, login, db):
    """Is a USD order at rate 0.9 costed in EUR: 10 USD a piece arrives at 9.0000, and
    averages with EUR stock at 12.0000 to 10.5000?"""
    product = make_product("FX-1", cost="0")
    home = make_po(make_supplier(currency="EUR"), [(product, "10", "12.00")], status="sent")
    abroad = make_po(make_supplier(currency="USD"), [(product, "10", "10.00")],
                     status="sent", rate="0.9")
    login("operations")
    assert _post(client, abroad, {abroad.lines[0]: 10}).status_code == 302
    db.session.expire_all()
    assert db.session.get(type(product), product.id).cost == Decimal("9.0000")
    assert _post(client, home, {home.lines[0]: 10}).status_code == 302
    db.session.expire_all()
    assert db.session.get(type(product), product.id).cost == Decimal("10.5000")
    move = db.session.scalars(db.select(StockMove).order_by(StockMove.id)).first()
    assert move.unit_cost == Decimal("9.0000")


def test_receive__roles(app, client, login, db):
    """May finance and sales not receive, while operations may?"""
    order = make_po(lines=[(make_product(), "2", "1")], status="sent")
    login("finance")
    before = business_rows(db)
    assert client.get(f"/orders/purchases/{order.id}/receive").status_code == 403
    assert _post(client, order, {order.lines[0]: 1}).status_code == 403
    assert business_rows(db) == before
    page = client.get(f"/orders/purchases/{order.id}").get_data(as_text=True)
    assert "Receive goods" not in page
    ops = app.test_client()
    login("operations", ops)
    assert ops.get(f"/orders/purchases/{order.id}/receive").status_code == 200


# --- The one-time form key ---------------------------------------------------------------

def test_receive__the_same_form_posted_twice_receives_once(client, login, db):
    """Does the receipt form posted twice (double click, retry) record one receipt and
    raise on hand once, the repeat being sent to the order?"""
    product = make_product("TWICE-1")
    order = make_po(lines=[(product, "10", "2")], status="sent")
    line = order.lines[0]
    login("operations")
    page = client.get(f"/orders/purchases/{order.id}/receive").get_data(as_text=True)
    key = form_key(page)
    first = _post(client, order, {line: 4}, form_key=key)
    assert first.status_code == 302
    before = business_rows(db)
    again = _post(client, order, {line: 4}, form_key=key)
    assert again.status_code == 302
    assert again.headers["Location"].endswith(f"/orders/purchases/{order.id}")
    assert business_rows(db) == before
    assert count_rows(db, Receipt) == 1
    assert on_hand(product) == Decimal("4.000")
    assert _order(db, order.id).lines[0].received == Decimal("4.000")
    assert "That was already done" in client.get(again.headers["Location"]).get_data(
        as_text=True)


def test_receive__a_refused_form_keeps_its_key(client, login, db):
    """Is a receipt refused for an over-receipt not using up its key, so the same form,
    with the tick, goes through once?"""
    product = make_product("KEEP-1")
    order = make_po(lines=[(product, "5", "1")], status="sent")
    line = order.lines[0]
    login("operations")
    key = form_key(client.get(f"/orders/purchases/{order.id}/receive").get_data(as_text=True))
    assert _post(client, order, {line: 7}, form_key=key).status_code == 422
    assert _post(client, order, {line: 7}, form_key=key, confirm_over="y").status_code == 302
    assert _post(client, order, {line: 7}, form_key=key, confirm_over="y").status_code == 302
    assert count_rows(db, Receipt) == 1 and on_hand(product) == Decimal("7.000")


@pytest.mark.parametrize("key", [None, "", "short", "x" * 65])
def test_receive__missing_or_garbled_key_is_422_and_writes_nothing(client, login, db, key):
    """Is a valid receipt without its key (or with a malformed one) answered 422 "This
    form has expired", with nothing received?"""
    product = make_product("NOKEY-1")
    order = make_po(lines=[(product, "5", "1")], status="sent")
    login("operations")
    before = business_rows(db)
    response = _post(client, order, {order.lines[0]: 2}, form_key=key)
    assert response.status_code == 422
    assert "This form has expired. Reload the page and submit it again." in \
        response.get_data(as_text=True)
    assert business_rows(db) == before
    assert on_hand(product) == Decimal("0")
