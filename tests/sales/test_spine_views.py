"""The spine over HTTP: a deal's quote built, sent, accepted and partly shipped, with
each document-creating form posted twice to prove its one-time key."""

import re
from decimal import Decimal

from sqlalchemy import select

from models.sales import Quote, SalesOrder
from tests.helpers import make_deal
from tests.sales.factories import make_product, stock


def key_of(html):
    return re.search(r'name="form_key" value="([^"]+)"', html).group(1)


def test_deal_to_partial_shipment__over_http(client, login, db, stages, users):
    """From the deal page to a partial shipment: is each step one post, does a repeated
    post land on the first result, and do the deal and customer pages show delivery?"""
    login("admin")
    widget = make_product("W-1")
    stock(widget, 10)
    deal = make_deal(db, stages, stage="Proposal")
    page = client.get(f"/pipeline/deals/{deal.id}").get_data(as_text=True)
    assert "New quote" in page
    r = client.post("/orders/quotes/new", data={"deal_id": deal.id, "form_key": key_of(page)})
    assert r.status_code == 302, r.get_data(as_text=True)
    url = r.headers["Location"]
    r2 = client.post("/orders/quotes/new", data={"deal_id": deal.id, "form_key": key_of(page)})
    assert r2.headers["Location"] == url
    q = db.session.scalar(select(Quote))
    r = client.post(f"/orders/quotes/{q.id}/lines", data={"sku": "W-1", "quantity": "3"}, headers={"HX-Request": "true", "HX-Request-Type": "partial"})
    assert r.status_code == 200, r.get_data(as_text=True)
    assert "75.00" in r.get_data(as_text=True)
    # the next-step panel comes along out of band, with the quote's new version
    db.session.expire_all()
    fresh = db.session.get(Quote, q.id)
    assert re.search(r'id="next"[^>]*hx-swap-oob="true"', r.get_data(as_text=True))
    assert f'name="version" value="{fresh.version}"' in r.get_data(as_text=True)
    r = client.post(f"/orders/quotes/{q.id}/lines", data={"sku": "", "description": "Setup", "quantity": "1", "unit_price": "1.005"})
    assert r.status_code == 422 and "at most 2 decimals" in r.get_data(as_text=True), r.get_data(as_text=True)
    page = client.get(f"/orders/quotes/{q.id}").get_data(as_text=True)
    assert "available" in page
    r = client.post(f"/orders/quotes/{q.id}/mark-sent", data={"version": re.search(r'name="version" value="(\d+)"', page).group(1)})
    assert r.status_code == 302, r.get_data(as_text=True)
    page = client.get(f"/orders/quotes/{q.id}").get_data(as_text=True)
    k = re.search(r'id="accept-form".*?name="form_key" value="([^"]+)"', page, re.S).group(1)
    r = client.post(f"/orders/quotes/{q.id}/accept", data={"form_key": k, "customer_po": "PO-1"})
    assert r.status_code == 302, r.get_data(as_text=True)
    r2 = client.post(f"/orders/quotes/{q.id}/accept", data={"form_key": k, "customer_po": "PO-1"})
    assert r2.headers["Location"] == r.headers["Location"]
    order = db.session.scalar(select(SalesOrder))
    page = client.get(r.headers["Location"]).get_data(as_text=True)
    assert order.number in page
    page = client.get(f"/orders/sales/{order.id}/ship").get_data(as_text=True)
    k = key_of(page)
    line = order.lines[0]
    r = client.post(f"/orders/sales/{order.id}/ship", data={"form_key": k, f"qty-{line.id}": "5", "shipped_on": "2026-11-23"})
    assert r.status_code == 422 and "left to ship" in r.get_data(as_text=True)
    r = client.post(f"/orders/sales/{order.id}/ship", data={"form_key": k, f"qty-{line.id}": "2", "shipped_on": "2026-11-23", "carrier": "DHL", "tracking": "TRK1"})
    assert r.status_code == 302, r.get_data(as_text=True)
    page = client.get(f"/pipeline/deals/{deal.id}").get_data(as_text=True)
    assert "Shipped 2 of 3" in page and "TRK1" in page
    page = client.get(f"/accounts/{deal.customer_id}").get_data(as_text=True)
    assert "Shipped 2 of 3" in page
    for u in ("/orders/quotes", "/orders/sales", "/orders/quotes?status=expired"):
        assert client.get(u).status_code == 200


def test_operations_dashboard__lists_orders_to_ship(client, login, db, stages):
    """Does the operations dashboard list an order with something left to ship, and drop
    it once everything has shipped?"""
    from models.sales import ship
    from tests.sales.factories import make_order

    widget = make_product("DSH-1")
    stock(widget, 5)
    order = make_order(db, stages, [(widget, 2)])
    login("operations")
    assert order.number in client.get("/").get_data(as_text=True)
    ship(order, {order.lines[0].id: Decimal(2)})
    db.session.commit()
    body = client.get("/").get_data(as_text=True)
    assert order.number not in body and "Every order has shipped." in body


def test_quote_page__warns_of_hold_and_credit_limit_early(client, login, db, stages):
    """Does the quote page warn the rep, while the deal is open, that the quote takes the
    customer over their credit limit, and that a customer on hold cannot order?"""
    from tests.helpers import make_customer
    from tests.sales.factories import make_quote

    customer = make_customer()
    customer.account.credit_limit = Decimal("100.00")
    db.session.commit()
    quote = make_quote(db, stages, [("Consulting day", 1, "150.00")], customer=customer)
    login("sales")
    body = client.get(f"/orders/quotes/{quote.id}").get_data(as_text=True)
    assert "over their credit limit of" in body and "EUR 100.00" in body
    assert "is on hold" not in body
    customer.account.on_hold = True
    customer.account.hold_reason = "Unpaid since March"
    db.session.commit()
    body = client.get(f"/orders/quotes/{quote.id}").get_data(as_text=True)
    assert "is on hold (Unpaid since March)" in body
