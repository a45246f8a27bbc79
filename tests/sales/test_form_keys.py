"""One-time form keys over HTTP: a repeated accept, new-quote, revise or ship form lands
on what the first submission made instead of making it again, whether the repeat comes
after the first (double click, back button, retry) or at the same moment (8 clients
released together); a missing or tampered key is "This form has expired" and writes
nothing. Runs on SQLite and, with DATABASE_URL set, on PostgreSQL."""

import re
import threading
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from models.formkeys import FormKey, new_form_key
from models.sales import Quote, SalesOrder, Shipment
from models.stock import ProductStock
from tests.conftest import PASSWORD, TandemClient, sign_in
from tests.helpers import business_rows, count_rows, make_deal
from tests.sales.factories import make_order, make_product, make_quote, stock

D = Decimal
WORKERS = 8
GARBLED = [None, "", "short", "has spaces and punctuation!!!!", "x" * 65, "\x00" * 24,
           "é" * 24, "'; DROP TABLE form_keys; --"]


def _key_in(html: str, form_id: str | None = None) -> str:
    """The form key of the page's form (the one with `form_id`, else the first)."""
    if form_id:
        html = html[html.index(f'id="{form_id}"'):]
    return re.search(r'name="form_key" value="([^"]+)"', html).group(1)


@pytest.fixture
def widget(db):
    product = make_product("W-1", cost="4.00")
    stock(product, 10, "4.00")
    return product


@pytest.fixture
def errors_as_pages(app):
    """A server error answers its 500 page instead of raising in the worker thread, so
    the test sees (and counts) it as a response."""
    app.config["PROPAGATE_EXCEPTIONS"] = False
    return app


# --- Each form, submitted twice in a row -------------------------------------------------

def _accept_form(client, db, stages, widget) -> tuple[str, dict]:
    quote = make_quote(db, stages, [(widget, "3")], status="sent")
    page = client.get(f"/orders/quotes/{quote.id}").get_data(as_text=True)
    return f"/orders/quotes/{quote.id}/accept", {
        "form_key": _key_in(page, "accept-form"), "version": str(quote.version),
        "customer_po": "PO-1"}


def _new_quote_form(client, db, stages, widget) -> tuple[str, dict]:
    deal = make_deal(db, stages, stage="Proposal")
    page = client.get(f"/pipeline/deals/{deal.id}").get_data(as_text=True)
    assert "New quote" in page
    return "/orders/quotes/new", {"form_key": _key_in(page), "deal_id": str(deal.id)}


def _ship_form(client, db, stages, widget) -> tuple[str, dict]:
    order = make_order(db, stages, [(widget, "3")])
    page = client.get(f"/orders/sales/{order.id}/ship").get_data(as_text=True)
    return f"/orders/sales/{order.id}/ship", {
        "form_key": _key_in(page), "shipped_on": date.today().isoformat(),
        f"qty-{order.lines[0].id}": "2", "carrier": "DHL"}


def _revise_form(client, db, stages, widget) -> tuple[str, dict]:
    quote = make_quote(db, stages, [(widget, "1")], status="sent")
    page = client.get(f"/orders/quotes/{quote.id}").get_data(as_text=True)
    page = page[page.index('class="revise-form"') - 200:]
    return f"/orders/quotes/{quote.id}/revise", {"form_key": _key_in(page)}


FORMS = {
    # what: (the form as its page shows it, who posts it, what it makes, where that is)
    "accept": (_accept_form, "sales", SalesOrder, r"/orders/sales/\d+"),
    "new quote": (_new_quote_form, "sales", Quote, r"/orders/quotes/\d+"),
    "shipment": (_ship_form, "operations", Shipment, r"/orders/sales/\d+#shipment-\d+"),
    "revise": (_revise_form, "sales", Quote, r"/orders/quotes/\d+"),
}


def _made(db, model) -> int:
    db.session.expire_all()
    return count_rows(db, model)


@pytest.mark.parametrize("what", FORMS)
def test_repeat__second_post_of_the_same_form_lands_on_the_first_result(
        client, login, db, stages, widget, what):
    """Does posting the same form twice make one document, the second answer redirecting
    to the same place with a note that it was already done?"""
    make_form, role, model, target = FORMS[what]
    login(role)
    url, data = make_form(client, db, stages, widget)
    before = _made(db, model)
    first = client.post(url, data=data)
    assert first.status_code == 302, first.get_data(as_text=True)[:2000]
    location = first.headers["Location"]
    assert re.search(target + "$", location), location
    after_first = business_rows(db)
    second = client.post(url, data=data)
    assert second.status_code == 302
    assert second.headers["Location"] == location
    assert _made(db, model) == before + 1
    assert business_rows(db) == after_first
    page = client.get(location).get_data(as_text=True)
    assert "That was already done; here is the result." in page


def test_repeat__accept_twice_reserves_once(client, login, db, stages, widget):
    """After a repeated accept, is the stock reserved once and the quote's order the one
    the redirect names?"""
    login("sales")
    url, data = _accept_form(client, db, stages, widget)
    first = client.post(url, data=data)
    client.post(url, data=data)
    order = db.session.scalar(select(SalesOrder))
    assert first.headers["Location"].endswith(f"/orders/sales/{order.id}")
    assert db.session.get(ProductStock, widget.id).reserved == D(3)


def test_repeat__shipment_twice_ships_once(client, login, db, stages, widget):
    """After a repeated ship form, has the line shipped its quantity once?"""
    login("operations")
    url, data = _ship_form(client, db, stages, widget)
    client.post(url, data=data)
    client.post(url, data=data)
    order = db.session.scalar(select(SalesOrder))
    db.session.expire_all()
    assert order.lines[0].shipped == D(2)
    assert db.session.get(ProductStock, widget.id).on_hand == D(8)


def test_repeat__accept_from_a_second_tab_shows_the_same_order(
        client, login, db, stages, widget):
    """Is an accept posted from another tab (its own key) after the first sent to the
    same order without making another?"""
    login("sales")
    url, data = _accept_form(client, db, stages, widget)
    first = client.post(url, data=data)
    other_tab = client.post(url, data=data | {"form_key": new_form_key()})
    assert other_tab.status_code == 302
    assert other_tab.headers["Location"] == first.headers["Location"]
    assert count_rows(db, SalesOrder) == 1
    assert "was already accepted" in client.get(first.headers["Location"]).get_data(
        as_text=True)


def test_repeat__a_refused_submission_does_not_use_up_its_key(
        client, login, db, stages, widget):
    """When an accept is refused (short of stock), can the same form be posted again
    once the stock is there, making the order?"""
    login("sales")
    quote = make_quote(db, stages, [(widget, "15")], status="sent")
    page = client.get(f"/orders/quotes/{quote.id}").get_data(as_text=True)
    data = {"form_key": _key_in(page, "accept-form"), "version": str(quote.version)}
    refused = client.post(f"/orders/quotes/{quote.id}/accept", data=data)
    assert refused.status_code == 422 and "Only 10 pc of W-1" in refused.get_data(
        as_text=True)
    assert count_rows(db, FormKey) == 0
    stock(widget, 5)
    accepted = client.post(f"/orders/quotes/{quote.id}/accept", data=data)
    assert accepted.status_code == 302
    assert count_rows(db, SalesOrder) == 1


# --- Missing or tampered keys ------------------------------------------------------------

@pytest.mark.parametrize("what", FORMS)
@pytest.mark.parametrize("key", GARBLED, ids=lambda k: repr(k)[:12])
def test_bad_key__is_this_form_has_expired_and_writes_nothing(
        client, login, db, stages, widget, what, key):
    """Is a form posted without its key, or with a malformed one, answered 422 "This form
    has expired" with nothing written?"""
    make_form, role, model, _ = FORMS[what]
    login(role)
    url, data = make_form(client, db, stages, widget)
    if key is None:
        del data["form_key"]
    else:
        data["form_key"] = key
    before = business_rows(db)
    response = client.post(url, data=data)
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert "This form has expired. Reload the page and submit it again." in body
    assert business_rows(db) == before


def test_bad_key__a_key_claimed_by_another_form_is_refused(client, login, db, stages, widget):
    """Is a key already used by a new-quote form refused on the accept form (expired),
    not taken as that form's result?"""
    login("sales")
    new_url, new_data = _new_quote_form(client, db, stages, widget)
    assert client.post(new_url, data=new_data).status_code == 302
    url, data = _accept_form(client, db, stages, widget)
    before = business_rows(db)
    response = client.post(url, data=data | {"form_key": new_data["form_key"]})
    assert response.status_code == 422
    assert "This form has expired" in response.get_data(as_text=True)
    assert business_rows(db) == before


# --- The same form at the same moment ----------------------------------------------------

def _signed_in_clients(app, email, n) -> list[TandemClient]:
    clients = []
    for _ in range(n):
        client = app.test_client()
        sign_in(client, email, PASSWORD)
        clients.append(client)
    return clients


def _together(clients, url, datas):
    """Post datas[i] from clients[i], all released by one barrier; returns the responses
    (status, Location, body) and any exception a thread raised."""
    barrier = threading.Barrier(len(clients))
    responses, errors = [None] * len(clients), []

    def run(i):
        try:
            barrier.wait(timeout=30)
            response = clients[i].post(url, data=datas[i])
            responses[i] = (response.status_code, response.headers.get("Location"),
                            response.get_data(as_text=True))
        except Exception as exc:  # noqa: BLE001 - asserted by the caller
            errors.append(repr(exc))

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(clients))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a request never finished"
    return responses, errors


CLEAR = ("already", "changed by someone else", "Changed meanwhile", "Reload")


@pytest.mark.parametrize("what", ["accept", "new quote", "shipment"])
def test_parallel__same_form_and_key_from_8_clients_makes_one(
        app, db, stages, users, widget, errors_as_pages, what):
    """When 8 clients post the same form with the same key at the same moment, is exactly
    one document made, every answer a redirect to it (or a clear 409/422), none a 500?"""
    make_form, role, model, target = FORMS[what]
    clients = _signed_in_clients(app, users[role].email, WORKERS)
    url, data = make_form(clients[0], db, stages, widget)
    before = _made(db, model)
    db.session.commit()  # the test's own transaction must not hold a snapshot
    responses, errors = _together(clients, url, [data] * WORKERS)
    assert errors == []
    assert _made(db, model) == before + 1
    made = db.session.scalar(select(func.max(model.id)))
    redirects = {location for status, location, _ in responses if status == 302}
    assert len(redirects) == 1, redirects
    (location,) = redirects
    assert re.search(target + "$", location), location
    assert location.endswith(f"#shipment-{made}" if what == "shipment" else f"/{made}")
    for status, _, body in responses:
        assert status in (302, 409, 422), (status, body[:1000])
        if status != 302:
            assert any(words in body for words in CLEAR), body[:1000]
    if what == "accept":
        assert db.session.get(ProductStock, widget.id).reserved == D(3)
    if what == "shipment":
        assert db.session.get(ProductStock, widget.id).on_hand == D(8)


def test_parallel__accept_from_8_tabs_with_their_own_keys_makes_one_order(
        app, db, stages, users, widget, errors_as_pages):
    """When 8 people accept the same quote at once, each from their own page (their own
    keys), is one order made and everyone sent to it or told it was already accepted?"""
    clients = _signed_in_clients(app, users["sales"].email, WORKERS)
    url, data = _accept_form(clients[0], db, stages, widget)
    db.session.commit()
    responses, errors = _together(clients, url, [data | {"form_key": new_form_key()}
                                                 for _ in range(WORKERS)])
    assert errors == []
    assert count_rows(db, SalesOrder) == 1
    order = db.session.scalar(select(SalesOrder))
    for status, location, body in responses:
        assert status in (302, 409, 422), (status, body[:1000])
        if status == 302:
            assert location.endswith(f"/orders/sales/{order.id}")
        else:
            assert any(words in body for words in CLEAR), body[:1000]
    assert db.session.get(ProductStock, widget.id).reserved == D(3)
