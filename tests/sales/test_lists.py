"""The quotes and sales orders lists: filters by status (expired derived from the date),
"my deals", keyset pages, and a 400 for a filter that does not exist."""

import re
from datetime import date, timedelta

import pytest

from tests.sales.factories import make_order, make_product, make_quote, stock


@pytest.fixture
def quotes(db, stages, users):
    """A draft, a sent, an expired (sent, date passed) and an accepted quote; the sent one
    on a deal of the sales user."""
    widget = make_product("LST-1")
    stock(widget, 50)
    draft = make_quote(db, stages, [(widget, 1)])
    sent = make_quote(db, stages, [(widget, 2)], status="sent", owner=users["sales"])
    expired = make_quote(db, stages, [(widget, 3)], status="sent")
    expired.valid_until = date.today() - timedelta(days=1)
    db.session.commit()
    order = make_order(db, stages, [(widget, 4)])
    return {"draft": draft, "sent": sent, "expired": expired, "accepted": order.quote,
            "order": order}


def _shown(client, url, quotes):
    body = client.get(url).get_data(as_text=True)
    return {name for name, quote in quotes.items() if name != "order"
            and f'/orders/quotes/{quote.id}"' in body}


@pytest.mark.parametrize("status,expected", [
    ("", {"draft", "sent", "expired", "accepted"}),
    ("open", {"draft", "sent"}),
    ("sent", {"sent"}),
    ("expired", {"expired"}),
    ("draft", {"draft"}),
    ("accepted", {"accepted"}),
])
def test_quotes_list__filters_by_status(client, login, quotes, status, expected):
    """Does each status filter show exactly its quotes, with a sent quote past its date
    counted as expired and not as sent or open?"""
    login("sales")
    assert _shown(client, f"/orders/quotes?status={status}", quotes) == expected


def test_quotes_list__mine_shows_my_deals_quotes(client, login, quotes):
    """Does "only my deals' quotes" keep the quotes on deals the rep owns?"""
    login("sales")
    assert _shown(client, "/orders/quotes?mine=1", quotes) == {"sent"}


@pytest.mark.parametrize("url", ["/orders/quotes?status=bogus", "/orders/quotes?sort=x",
                                 "/orders/sales?status=bogus", "/orders/sales?after=%%%",
                                 "/orders/quotes?before=not-a-cursor"])
def test_lists__unknown_filters_are_a_400(client, login, quotes, url):
    """Is a filter or cursor that does not exist a clear 400, not a 500?"""
    login("sales")
    assert client.get(url).status_code == 400


def test_sales_orders_list__shows_status_and_delivery(client, login, quotes):
    """Does the orders list show the order with its status and delivery, and the open
    filter keep it until it ships?"""
    login("operations")
    order = quotes["order"]
    body = client.get("/orders/sales?status=open").get_data(as_text=True)
    assert order.number in body and "Not shipped yet" in body
    assert order.number not in client.get("/orders/sales?status=shipped").get_data(
        as_text=True)


def test_quotes_list__pages_by_keyset(client, login, db, stages, app):
    """With more quotes than a page holds, do Next and Previous walk them all, newest
    first, each exactly once?"""
    app.config["TANDEM_PER_PAGE"] = 3
    made = [make_quote(db, stages, [("Service", 1, "10.00")]) for _ in range(7)]
    login("sales")
    seen, url = [], "/orders/quotes"
    while url:
        body = client.get(url).get_data(as_text=True)
        seen += [int(found) for found in re.findall(r'href="/orders/quotes/(\d+)"', body)]
        found = [part.split('"')[0] for part in body.split('href="') if 'rel="next"' in part
                 and part.startswith("/orders/quotes?after=")]
        url = found[0].replace("&amp;", "&") if found else None
    assert seen == sorted((q.id for q in made), reverse=True)
