"""The sales order page over HTTP: who may ship and cancel, cancelling (reservations
released, a reason required, refused once something shipped), the shipment form (each
refusal next to its line or over the form, nothing written) and the packing slip."""

import io
import re
from datetime import date, timedelta
from decimal import Decimal

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from models.formkeys import new_form_key
from models.sales import SalesOrder, Shipment, reserved_by_line, ship
from models.stock import ProductStock, level_drift
from tests.helpers import business_rows, count_rows
from tests.sales.factories import make_order, make_product, stock

D = Decimal


def _order(db, order_id) -> SalesOrder:
    db.session.expire_all()
    return db.session.get(SalesOrder, order_id)


def _reserved(db, product) -> Decimal:
    db.session.expire_all()
    row = db.session.get(ProductStock, product.id)
    return row.reserved if row else D(0)


def _error(body: str, field: str) -> str:
    found = re.search(rf'<p class="error" id="{field}-error">([^<]*)</p>', body)
    return found.group(1) if found else ""


def _form_error(body: str) -> str:
    found = re.search(r'<p class="form-error" role="alert">([^<]*)</p>', body)
    return found.group(1) if found else ""


def _ship(client, order, quantities, **fields):
    """Post the ship form: {line: typed quantity} and the shipment's own fields."""
    data = {f"qty-{line.id}": str(qty) for line, qty in quantities.items()}
    data.update({"form_key": new_form_key(), "shipped_on": date.today().isoformat(),
                 "carrier": "", "tracking": "", "note": ""})
    data.update(fields)
    return client.post(f"/orders/sales/{order.id}/ship", data=data)


def _cancel(client, order, reason="Customer changed their mind", **fields):
    data = {"version": str(order.version), "reason": reason} | fields
    return client.post(f"/orders/sales/{order.id}/cancel", data=data)


@pytest.fixture
def widget(db):
    """W-1: a stocked product without backorders, 10 on hand at cost 4.00."""
    product = make_product("W-1", name="Widget", cost="4.00")
    stock(product, 10, "4.00")
    return product


# --- Who may do what ---------------------------------------------------------------------

def test_ship__operations_may_ship(client, login, db, stages, widget):
    """Do operations see the Ship button, the ship form and record a shipment?"""
    order = make_order(db, stages, [(widget, "3")])
    login("operations")
    page = client.get(f"/orders/sales/{order.id}").get_data(as_text=True)
    assert f'href="/orders/sales/{order.id}/ship"' in page
    assert client.get(f"/orders/sales/{order.id}/ship").status_code == 200
    response = _ship(client, order, {order.lines[0]: 1})
    assert response.status_code == 302
    assert count_rows(db, Shipment) == 1


@pytest.mark.parametrize("role", ["sales", "finance"])
def test_ship__sales_and_finance_may_not(client, login, db, stages, widget, role):
    """Do sales and finance read the order without a Ship button, and get 403 on the
    ship form and its post, with nothing written?"""
    order = make_order(db, stages, [(widget, "3")])
    login(role)
    page = client.get(f"/orders/sales/{order.id}")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert order.number in body and f"/orders/sales/{order.id}/ship" not in body
    before = business_rows(db)
    assert client.get(f"/orders/sales/{order.id}/ship").status_code == 403
    assert _ship(client, order, {order.lines[0]: 1}).status_code == 403
    assert client.post(f"/orders/sales/{order.id}/reserve").status_code == 403
    assert business_rows(db) == before


def test_cancel__finance_may_not(client, login, db, stages, widget):
    """Is cancelling closed to finance (403, no cancel form), nothing written?"""
    order = make_order(db, stages, [(widget, "3")])
    login("finance")
    body = client.get(f"/orders/sales/{order.id}").get_data(as_text=True)
    assert "Cancel the order" not in body
    before = business_rows(db)
    assert _cancel(client, order).status_code == 403
    assert business_rows(db) == before


# --- Cancelling --------------------------------------------------------------------------

@pytest.mark.parametrize("role", ["sales", "operations"])
def test_cancel__releases_the_reservations(client, login, db, stages, widget, role):
    """Does cancelling a confirmed order free its reserved stock and show the reason?"""
    order = make_order(db, stages, [(widget, "4"), ("Freight", "1", "5.00")])
    assert _reserved(db, widget) == D(4)
    login(role)
    page = client.get(f"/orders/sales/{order.id}").get_data(as_text=True)
    assert "Cancel the order" in page
    response = _cancel(client, order, reason="  Ordered twice ")
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/orders/sales/{order.id}")
    order = _order(db, order.id)
    assert (order.status, order.cancel_reason) == ("cancelled", "Ordered twice")
    assert reserved_by_line(order) == {}
    assert _reserved(db, widget) == D(0)
    assert level_drift() == []
    body = client.get(f"/orders/sales/{order.id}").get_data(as_text=True)
    assert "Ordered twice" in body and "its reserved stock is free again" in body
    assert "Cancel the order" not in body


@pytest.mark.parametrize("reason", ["", "   "])
def test_cancel__needs_a_reason(client, login, db, stages, widget, reason):
    """Is a cancel without a reason 422 next to the reason field, nothing released?"""
    order = make_order(db, stages, [(widget, "4")])
    login("sales")
    before = business_rows(db)
    response = _cancel(client, order, reason=reason)
    assert response.status_code == 422
    assert _error(response.get_data(as_text=True), "reason") == \
        "Say why the order is cancelled."
    assert business_rows(db) == before
    assert _reserved(db, widget) == D(4)


def test_cancel__refused_after_a_shipment(client, login, db, stages, widget):
    """Once part of an order shipped, is cancelling refused with a message, nothing
    written?"""
    order = make_order(db, stages, [(widget, "4")])
    ship(order, {order.lines[0].id: D(1)})
    db.session.commit()
    login("operations")
    before = business_rows(db)
    response = _cancel(client, _order(db, order.id))
    assert response.status_code == 422
    assert _form_error(response.get_data(as_text=True)) == \
        "Part of this order has shipped; it cannot be cancelled."
    assert business_rows(db) == before
    assert _order(db, order.id).status == "partial"


def test_cancel__stale_version_is_409(client, login, db, stages, widget):
    """Is a cancel posted from a page loaded before the order changed a 409?"""
    order = make_order(db, stages, [(widget, "4")])
    login("sales")
    before = business_rows(db)
    response = _cancel(client, order, version=str(order.version - 1))
    assert response.status_code == 409
    assert "after you opened it" in response.get_data(as_text=True)
    assert business_rows(db) == before


# --- Shipping ----------------------------------------------------------------------------

def test_ship__form_suggests_what_is_reserved(client, login, db, stages, widget):
    """Does the ship form offer each line with its reserved quantity (services: all
    that is left) and today's date?"""
    order = make_order(db, stages, [(widget, "3"), ("Installation", "1", "80.00")])
    goods, service = order.lines
    login("operations")
    page = client.get(f"/orders/sales/{order.id}/ship").get_data(as_text=True)
    assert re.search(rf'name="qty-{goods.id}"[^>]*value="3"', page, re.S)
    assert re.search(rf'name="qty-{service.id}"[^>]*value="1"', page, re.S)
    assert f'value="{date.today().isoformat()}"' in page


def test_ship__records_the_shipment_and_links_its_packing_slip(
        client, login, db, stages, widget):
    """Does a shipment land on the order page with carrier, tracking and a packing slip
    link, and does the slip open as a PDF naming the shipment and order?"""
    order = make_order(db, stages, [(widget, "5"), ("Installation", "1", "80.00")])
    goods, service = order.lines
    login("operations")
    response = _ship(client, order, {goods: 2, service: ""}, carrier="DHL", tracking="TRK-9")
    assert response.status_code == 302
    shipment = db.session.scalar(select(Shipment))
    assert response.headers["Location"].endswith(
        f"/orders/sales/{order.id}#shipment-{shipment.id}")
    assert [(sl.line_id, sl.quantity) for sl in shipment.lines] == [(goods.id, D(2))]
    order = _order(db, order.id)
    assert (order.status, order.delivery) == ("partial", "Shipped 2 of 6")
    assert _reserved(db, widget) == D(3)
    body = client.get(response.headers["Location"]).get_data(as_text=True)
    assert shipment.number in body and "DHL" in body and "TRK-9" in body
    assert f'href="/orders/shipments/{shipment.id}.pdf"' in body and "Packing slip" in body
    slip = client.get(f"/orders/shipments/{shipment.id}.pdf")
    assert slip.status_code == 200 and slip.mimetype == "application/pdf"
    assert slip.data.startswith(b"%PDF")
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(slip.data)).pages)
    assert shipment.number in text and order.number in text and "W-1" in text


def test_ship__more_than_left_is_422_next_to_that_line(client, login, db, stages, widget):
    """Is a quantity above what is left to ship refused next to that line's field,
    with the typed value kept and nothing written?"""
    order = make_order(db, stages, [(widget, "3"), ("Installation", "1", "80.00")])
    goods, service = order.lines
    login("operations")
    before = business_rows(db)
    response = _ship(client, order, {goods: 5, service: 1})
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert _error(body, f"qty-{goods.id}") == "Only 3 pc left to ship on line 1."
    assert _error(body, f"qty-{service.id}") == ""
    assert re.search(rf'name="qty-{goods.id}"[^>]*value="5"', body, re.S)
    assert business_rows(db) == before


def test_ship__more_than_on_hand_is_422_next_to_that_line(client, login, db, stages):
    """On a backordered line, is shipping more than is reserved plus free on hand
    refused next to that line, nothing written?"""
    late = make_product("LATE-1", allow_backorder=True)
    stock(late, 2)
    order = make_order(db, stages, [(late, "5")])
    line = order.lines[0]
    assert reserved_by_line(order) == {line.id: D(2)}
    login("operations")
    before = business_rows(db)
    response = _ship(client, order, {line: 3})
    assert response.status_code == 422
    message = _error(response.get_data(as_text=True), f"qty-{line.id}")
    assert "Only 0 pc of LATE-1 available" in message
    assert "Only reserved and free stock on hand can ship." in message
    assert business_rows(db) == before
    assert count_rows(db, Shipment) == 0


@pytest.mark.parametrize("typed", ["0", "", "0.000"])
def test_ship__nothing_on_any_line_is_422(client, login, db, stages, widget, typed):
    """Is a shipment with zero (or nothing) on every line refused with a message over
    the form, nothing written?"""
    order = make_order(db, stages, [(widget, "3"), ("Installation", "1", "80.00")])
    login("operations")
    before = business_rows(db)
    response = _ship(client, order, dict.fromkeys(order.lines, typed))
    assert response.status_code == 422
    assert _form_error(response.get_data(as_text=True)) == \
        "Enter the quantity shipped on at least one line."
    assert business_rows(db) == before


@pytest.mark.parametrize(("typed", "message"), [
    ("abc", "Enter a number, like 12 or 2.5."),
    ("-1", "Enter a quantity of zero or more."),
    ("1,5", "Use a point for decimals, like 1.5."),
    ("1.5", "W-1 is counted in whole pieces."),
    ("0.0001", "Use at most 3 decimals."),
])
def test_ship__bad_quantity_is_422_next_to_the_line(client, login, db, stages, widget,
                                                     typed, message):
    """Is each unreadable or impossible quantity refused next to its line?"""
    order = make_order(db, stages, [(widget, "3")])
    line = order.lines[0]
    login("operations")
    before = business_rows(db)
    response = _ship(client, order, {line: typed})
    assert response.status_code == 422
    assert _error(response.get_data(as_text=True), f"qty-{line.id}") == message
    assert business_rows(db) == before


def test_ship__date_ahead_and_bad_fields_are_422_next_to_the_field(
        client, login, db, stages, widget):
    """Are a shipping date after tomorrow, no date, and an over-long carrier refused next
    to their fields?"""
    order = make_order(db, stages, [(widget, "3")])
    line = order.lines[0]
    login("operations")
    before = business_rows(db)
    ahead = (date.today() + timedelta(days=5)).isoformat()
    cases = [({"shipped_on": ahead}, "shipped_on",
              "Record a shipment when it leaves, not ahead."),
             ({"shipped_on": ""}, "shipped_on", "Enter the date."),
             ({"carrier": "c" * 61}, "carrier", "Use at most 60 characters."),
             ({"tracking": "t\x00"}, "tracking", "Remove the invisible control characters.")]
    for fields, field, message in cases:
        response = _ship(client, order, {line: 1}, **fields)
        assert response.status_code == 422, fields
        assert _error(response.get_data(as_text=True), field) == message, fields
    assert business_rows(db) == before


def test_ship__a_cancelled_order_ships_nothing(client, login, db, stages, widget):
    """Does the ship form of a cancelled order send back to the order, and a post to it
    get refused with nothing written?"""
    order = make_order(db, stages, [(widget, "3")])
    login("operations")
    assert _cancel(client, order).status_code == 302
    order = _order(db, order.id)
    response = client.get(f"/orders/sales/{order.id}/ship")
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/orders/sales/{order.id}")
    before = business_rows(db)
    response = _ship(client, order, {order.lines[0]: 1})
    assert response.status_code == 422
    assert "cancelled" in response.get_data(as_text=True)
    assert business_rows(db) == before


HOSTILE = ["x" * 10_000, "\x00", "a\x01b", "\u202e", "9" * 400, "1e999999999", "NaN",
           "Infinity", "<script>alert(1)</script>", "１", "-0", " " * 300]


@pytest.fixture
def errors_as_pages(app):
    """A server error answers its 500 page instead of raising, so one test can list
    every input that caused one."""
    app.config["PROPAGATE_EXCEPTIONS"] = False
    return app


@pytest.mark.parametrize("field", ["qty", "shipped_on", "carrier", "tracking", "note"])
def test_ship__anything_typed_is_never_a_500(client, login, db, stages, widget,
                                             errors_as_pages, field):
    """Is any value in any ship field a shipment (302) or a refusal (422) that wrote
    nothing, never a server error?"""
    order = make_order(db, stages, [(widget, "9")])
    line = order.lines[0]
    login("operations")
    wrong = []
    for value in HOSTILE:
        before = business_rows(db)
        if field == "qty":
            response = _ship(client, order, {line: value})
        else:
            response = _ship(client, order, {line: 1}, **{field: value})
        if response.status_code not in (302, 422):
            wrong.append((value[:20], response.status_code))
        elif response.status_code == 422 and business_rows(db) != before:
            wrong.append((value[:20], "wrote on 422"))
    assert wrong == []


def test_cancel__anything_typed_as_reason_is_never_a_500(client, login, db, stages, widget,
                                                         errors_as_pages):
    """Is any typed reason or version a cancel, a 409 or a 422, never a 500?"""
    stock(widget, 20)
    login("sales")
    wrong = []
    for value in HOSTILE:
        order = make_order(db, stages, [(widget, "1")])
        for fields in ({"reason": value}, {"version": value}):
            response = _cancel(client, order, **fields)
            if response.status_code not in (302, 409, 422):
                wrong.append((sorted(fields), value[:20], response.status_code))
    assert wrong == []
