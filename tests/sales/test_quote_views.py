"""The quote page over HTTP: who may read and who may change a quote, its lines through
htmx (totals and availability recomputed in place), every refusal answered 422 next to
its field with nothing written, header edits, acceptance into a sales order and
revision into v2."""

import re
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from models import User
from models.formkeys import new_form_key
from models.pipeline import Deal
from models.sales import Quote, QuoteLine, SalesOrder, reserved_by_line, revise_quote
from models.stock import ProductStock
from tests.helpers import business_rows, count_rows, make_customer, make_deal, statements_of
from tests.sales.factories import make_product, make_quote, make_tax_rate, stock

D = Decimal
HX = {"HX-Request": "true", "HX-Request-Type": "partial"}


def _quote(db, quote_id) -> Quote:
    db.session.expire_all()
    return db.session.get(Quote, quote_id)


def _figure(body: str, element_id: str) -> str:
    """The text of the element with `element_id` (a total, a status badge)."""
    found = re.search(rf'id="{element_id}"[^>]*>([^<]*)<', body)
    assert found, f"no #{element_id} in the response"
    return found.group(1).strip()


def _error(body: str, field: str) -> str:
    """The message shown next to `field`, or "" when there is none."""
    found = re.search(rf'<p class="error" id="{field}-error">([^<]*)</p>', body)
    return found.group(1) if found else ""


def _line(sku="", quantity="1", **fields) -> dict:
    """A line form as the page posts it."""
    data = {"sku": sku, "description": "", "quantity": quantity, "unit_price": "",
            "discount_percent": "", "tax_rate_id": ""}
    data.update(fields)
    return data


def _header(quote, **fields) -> dict:
    data = {"version": str(quote.version), "contact_id": "",
            "valid_until": quote.valid_until.isoformat(), "notes": quote.notes,
            "terms": quote.terms}
    data.update(fields)
    return data


def _accept(client, quote, **fields):
    data = {"version": str(quote.version), "form_key": new_form_key(), "customer_po": ""}
    data.update(fields)
    return client.post(f"/orders/quotes/{quote.id}/accept", data=data)


@pytest.fixture
def widget(db):
    """W-1: a stocked product, 25.00 list price, 20% tax, 10 on hand."""
    product = make_product("W-1", tax_rate=make_tax_rate("VAT 20", "20"))
    stock(product, 10)
    return product


# --- Who may do what ---------------------------------------------------------------------

@pytest.mark.parametrize("role", ["finance", "operations"])
def test_quote__finance_and_operations_read_it_but_may_not_change_it(
        client, login, db, stages, widget, role):
    """Do finance and operations see a quote (without its forms) and get 403 on every
    change: lines, header, send, mark sent, accept, decline, revise?"""
    draft = make_quote(db, stages, [(widget, "2")])
    sent = make_quote(db, stages, [(widget, "1")], status="sent")
    line = draft.lines[0]
    login(role)
    page = client.get(f"/orders/quotes/{draft.id}")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert draft.label in body and "W-1" in body
    assert 'id="line-form"' not in body and 'id="send-form"' not in body
    sent_page = client.get(f"/orders/quotes/{sent.id}").get_data(as_text=True)
    assert 'id="accept-form"' not in sent_page
    before = business_rows(db)
    posts = [
        (f"/orders/quotes/{draft.id}/lines", _line("W-1", "1")),
        (f"/orders/quotes/{draft.id}/lines/{line.id}", _line("W-1", "5")),
        (f"/orders/quotes/{draft.id}/lines/{line.id}/delete", {}),
        (f"/orders/quotes/{draft.id}/header", _header(draft)),
        (f"/orders/quotes/{draft.id}/send", {"version": "1", "to": "a@example.com",
                                             "subject": "Quote", "message": ""}),
        (f"/orders/quotes/{draft.id}/mark-sent", {"version": str(draft.version)}),
        (f"/orders/quotes/{sent.id}/accept", {"version": str(sent.version),
                                              "form_key": new_form_key()}),
        (f"/orders/quotes/{sent.id}/decline", {"version": str(sent.version)}),
        (f"/orders/quotes/{sent.id}/revise", {"form_key": new_form_key()}),
        ("/orders/quotes/new", {"deal_id": str(draft.deal_id), "form_key": new_form_key()}),
    ]
    for url, data in posts:
        assert client.post(url, data=data).status_code == 403, url
    assert client.get(f"/orders/quotes/{draft.id}/lines/{line.id}/edit").status_code == 403
    assert business_rows(db) == before


def _second_rep(db) -> User:
    rep = User(email="rep2@example.test", name="Rita Rep", role="sales",
               password_hash=db.session.scalar(select(User.password_hash).limit(1)))
    db.session.add(rep)
    db.session.commit()
    return rep


NON_OWNER_POSTS = ["add line", "edit line", "remove line", "header", "send", "mark sent",
                   "accept", "decline", "revise", "new quote"]


@pytest.mark.parametrize("what", NON_OWNER_POSTS)
def test_quote__sales_rep_who_does_not_own_the_deal_gets_403_on_changes(
        client, login, db, stages, users, widget, what):
    """May a sales rep read a quote on a colleague's deal but not change it (403 on
    lines, header, send, accept, revise and new quotes), with nothing written?"""
    owner = _second_rep(db)
    draft = make_quote(db, stages, [(widget, "2")], owner=owner)
    sent = make_quote(db, stages, [(widget, "1")], owner=owner, status="sent")
    line = draft.lines[0]
    login("sales")
    body = client.get(f"/orders/quotes/{draft.id}").get_data(as_text=True)
    assert draft.label in body and 'id="line-form"' not in body
    posts = {
        "add line": (f"/orders/quotes/{draft.id}/lines", _line("W-1", "1")),
        "edit line": (f"/orders/quotes/{draft.id}/lines/{line.id}", _line("W-1", "5")),
        "remove line": (f"/orders/quotes/{draft.id}/lines/{line.id}/delete", {}),
        "header": (f"/orders/quotes/{draft.id}/header", _header(draft)),
        "send": (f"/orders/quotes/{draft.id}/send", {
            "version": str(draft.version), "to": "a@example.com", "subject": "Quote"}),
        "mark sent": (f"/orders/quotes/{draft.id}/mark-sent", {"version": str(draft.version)}),
        "accept": (f"/orders/quotes/{sent.id}/accept", {"version": str(sent.version),
                                                        "form_key": new_form_key()}),
        "decline": (f"/orders/quotes/{sent.id}/decline", {"version": str(sent.version)}),
        "revise": (f"/orders/quotes/{sent.id}/revise", {"form_key": new_form_key()}),
        "new quote": ("/orders/quotes/new", {"deal_id": str(draft.deal_id),
                                             "form_key": new_form_key()}),
    }
    before = business_rows(db)
    url, data = posts[what]
    response = client.post(url, data=data, headers=HX if "line" in what else {})
    assert response.status_code == 403, response.get_data(as_text=True)[:1000]
    assert "Only the deal&#39;s owner or an admin" in response.get_data(as_text=True)
    assert business_rows(db) == before


def test_quote__refusal_to_a_non_owner_says_why(client, login, db, stages, widget):
    """Does the 403 tell the rep who may change the quote?"""
    owner = _second_rep(db)
    sent = make_quote(db, stages, [(widget, "1")], owner=owner, status="sent")
    login("sales")
    response = client.post(f"/orders/quotes/{sent.id}/revise", data={"form_key": new_form_key()})
    assert response.status_code == 403
    assert "Only the deal&#39;s owner or an admin" in response.get_data(as_text=True)


# --- Lines through htmx ------------------------------------------------------------------

def test_lines__add_edit_remove_return_the_block_with_recomputed_totals(
        client, login, db, stages, widget):
    """Does each htmx line change answer with the lines block only, its net, tax and
    total recomputed, and the line's availability?"""
    quote = make_quote(db, stages)
    login("sales")
    url = f"/orders/quotes/{quote.id}"

    added = client.post(f"{url}/lines", data=_line("W-1", "3"), headers=HX)
    assert added.status_code == 200
    body = added.get_data(as_text=True)
    assert "<html" not in body and 'id="lines"' in body and 'id="details"' not in body
    assert (_figure(body, "quote-net"), _figure(body, "quote-tax"),
            _figure(body, "quote-total")) == ("EUR 75.00", "EUR 15.00", "EUR 90.00")
    assert "10 available" in body and "leaves 7" in body and "Short" not in body
    line = _quote(db, quote.id).lines[0]
    assert (line.quantity, line.unit_price, line.tax_percent) == (D(3), D("25.00"), D(20))

    form = client.get(f"{url}/lines/{line.id}/edit", headers=HX)
    assert form.status_code == 200
    form_body = form.get_data(as_text=True)
    assert f'action="{url}/lines/{line.id}"' in form_body and "Save line" in form_body
    assert 'name="quantity" type="text" value="3"' in form_body

    edited = client.post(f"{url}/lines/{line.id}",
                         data=_line("W-1", "2", discount_percent="10"), headers=HX)
    assert edited.status_code == 200
    body = edited.get_data(as_text=True)
    assert (_figure(body, "quote-net"), _figure(body, "quote-tax"),
            _figure(body, "quote-total")) == ("EUR 45.00", "EUR 9.00", "EUR 54.00")
    assert "leaves 8" in body

    removed = client.post(f"{url}/lines/{line.id}/delete", headers=HX)
    assert removed.status_code == 200
    body = removed.get_data(as_text=True)
    assert "No lines yet." in body
    assert (_figure(body, "quote-net"), _figure(body, "quote-total")) == \
        ("EUR 0.00", "EUR 0.00")
    assert count_rows(db, QuoteLine) == 0


def test_lines__htmx_change_renders_its_blocks_in_its_own_transaction(
        app, client, login, db, stages, widget):
    """Does an htmx line change answer from the records it just wrote (the new version
    in the next-step panel, the line committed) without reading what its blocks do not
    show: the history, the money strip?"""
    quote = make_quote(db, stages)
    version = quote.version
    login("sales")
    with app.app_context():  # the serving app's engine
        engine = db.engine
    seen, added = statements_of(engine, lambda: client.post(
        f"/orders/quotes/{quote.id}/lines", data=_line("W-1", "3"), headers=HX))
    assert added.status_code == 200
    saved = _quote(db, quote.id)
    assert len(saved.lines) == 1 and saved.version == version + 1
    assert f'name="version" value="{saved.version}"' in added.get_data(as_text=True)
    reads = [s for s in seen if s.startswith("SELECT")]
    assert reads and not [s for s in reads if "FROM audit_log" in s or "FROM payments" in s]
    # one transaction: nothing is read again after the commit
    assert [s for s in seen if s.startswith(("BEGIN", "COMMIT"))][-1:] != ["BEGIN"]
    assert not any(s.startswith("SELECT quotes.") for s in seen[seen.index(next(
        s for s in seen if s.startswith("INSERT INTO quote_lines"))):])


def test_lines__described_line_and_mixed_tax(client, login, db, stages, widget):
    """Does a described (service) line count in net with no tax, beside a taxed product
    line, and does a chosen tax rate override the product's?"""
    reduced = make_tax_rate("Reduced 7", "7")
    quote = make_quote(db, stages, [(widget, "2")])
    login("sales")
    response = client.post(f"/orders/quotes/{quote.id}/lines", headers=HX, data=_line(
        description="Installation", unit_price="100.00", tax_rate_id="none"))
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert (_figure(body, "quote-net"), _figure(body, "quote-tax"),
            _figure(body, "quote-total")) == ("EUR 150.00", "EUR 10.00", "EUR 160.00")
    response = client.post(f"/orders/quotes/{quote.id}/lines", headers=HX, data=_line(
        "W-1", "4", unit_price="10.00", tax_rate_id=str(reduced.id)))
    body = response.get_data(as_text=True)
    # 50.00 @20% = 10.00; 100.00 @0%; 40.00 @7% = 2.80
    assert (_figure(body, "quote-net"), _figure(body, "quote-tax"),
            _figure(body, "quote-total")) == ("EUR 190.00", "EUR 12.80", "EUR 202.80")


def test_lines__short_stock_is_shown_on_the_line_and_in_next_steps(
        client, login, db, stages, widget):
    """When the quote asks for more than is available, do its lines say "Short" with the
    missing quantity (and "Backorder" for a product that takes backorders)?"""
    make_product("LATE-1", allow_backorder=True)
    quote = make_quote(db, stages, [(widget, "4")])
    login("sales")
    response = client.post(f"/orders/quotes/{quote.id}/lines", data=_line("W-1", "9"),
                           headers=HX)
    body = response.get_data(as_text=True)
    assert "leaves -3" in body and "Short 3" in body
    response = client.post(f"/orders/quotes/{quote.id}/lines", data=_line("LATE-1", "2"),
                           headers=HX)
    body = response.get_data(as_text=True)
    assert "0 available" in body and "Backorder 2" in body
    page = client.get(f"/orders/quotes/{quote.id}").get_data(as_text=True)
    assert "2 products short of stock" in page    # W-1 (on two lines) once, LATE-1
    assert "W-1 (3 missing)" in page and "LATE-1 (2 to backorder)" in page
    assert page.count("W-1 (3 missing)") == 1


def test_lines__plain_post_without_javascript_redirects_back_to_the_lines(
        client, login, db, stages, widget):
    """Does a plain form post (no htmx) add the line and redirect to #lines?"""
    quote = make_quote(db, stages)
    login("sales")
    response = client.post(f"/orders/quotes/{quote.id}/lines", data=_line("W-1", "1"))
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/orders/quotes/{quote.id}#lines")
    page = client.get(f"/orders/quotes/{quote.id}").get_data(as_text=True)
    assert "The line is added." in page and "EUR 30.00" in page


BAD_LINES = [
    (_line("W-1", "0"), "quantity", "Enter a quantity above zero."),
    (_line("W-1", "-1"), "quantity", "Enter a quantity above zero."),
    (_line("W-1", "abc"), "quantity", "Enter a number, like 12 or 2.5."),
    (_line("W-1", "1,5"), "quantity", "Use a point for decimals, like 1.5."),
    (_line("W-1", ""), "quantity", "Enter a quantity."),
    (_line("W-1", "1.5"), "quantity", "W-1 is counted in whole pieces."),
    (_line("W-1", "1", discount_percent="101"), "discount_percent",
     "Enter a discount from 0 to 100%."),
    (_line("W-1", "1", discount_percent="-1"), "discount_percent",
     "Enter a discount from 0 to 100%."),
    (_line("W-1", "1", unit_price="1.005"), "unit_price", "Use at most 2 decimals."),
    (_line("W-1", "1", unit_price="-5"), "unit_price", "Enter a unit price of zero or more."),
    (_line("W-1", "1", unit_price="abc"), "unit_price", "Enter a number"),
    (_line("NOPE-1", "1"), "sku", "No product with SKU NOPE-1."),
    (_line("OLD-1", "1"), "sku", "OLD-1 is archived; it cannot be quoted."),
    (_line("", "1"), "sku", "Choose a product or describe the line."),
    (_line("", "1", description="Freight"), "unit_price",
     "Enter a unit price for a described line."),
    (_line("W-1", "1", tax_rate_id="99999"), "tax_rate_id", "Not a valid choice"),
]


@pytest.mark.parametrize(("data", "field", "message"), BAD_LINES,
                         ids=[f"{f}={d.get(f) or d.get('quantity')}" for d, f, _ in BAD_LINES])
def test_lines__bad_input_is_422_next_to_the_field_and_writes_nothing(
        client, login, db, stages, widget, data, field, message):
    """Is each bad line answered 422 with the message next to its field, both when
    adding and when editing, and nothing written?"""
    make_product("OLD-1", active=False)
    quote = make_quote(db, stages, [(widget, "2")])
    line = quote.lines[0]
    login("sales")
    before = business_rows(db)
    for url in (f"/orders/quotes/{quote.id}/lines",
                f"/orders/quotes/{quote.id}/lines/{line.id}"):
        response = client.post(url, data=data, headers=HX)
        assert response.status_code == 422, url
        body = response.get_data(as_text=True)
        assert "<html" not in body
        assert message in _error(body, field), (url, body)
    assert business_rows(db) == before


def test_lines__bad_input_without_javascript_is_the_whole_page_at_422(
        client, login, db, stages, widget):
    """Does a plain post of a bad line answer the full page (422) with the message next
    to the field and the typed value kept?"""
    quote = make_quote(db, stages)
    login("sales")
    before = business_rows(db)
    response = client.post(f"/orders/quotes/{quote.id}/lines", data=_line("W-1", "1,5"))
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert "<html" in body and quote.label in body
    assert _error(body, "quantity") == "Use a point for decimals, like 1.5."
    assert 'value="1,5"' in body
    assert business_rows(db) == before


def test_lines__yen_quote_refuses_decimals_in_the_price(client, login, db, stages, widget):
    """On a JPY customer, is a price with decimals refused next to the price, and a
    whole one accepted and shown without decimals?"""
    deal = make_deal(db, stages, stage="Proposal", customer=make_customer(currency="JPY"))
    quote = make_quote(db, stages, deal=deal)
    assert quote.currency == "JPY"
    login("sales")
    before = business_rows(db)
    response = client.post(f"/orders/quotes/{quote.id}/lines", headers=HX,
                           data=_line("W-1", "1", unit_price="10.5"))
    assert response.status_code == 422
    assert _error(response.get_data(as_text=True), "unit_price") == \
        "Use whole amounts: this currency has no decimals."
    assert business_rows(db) == before
    response = client.post(f"/orders/quotes/{quote.id}/lines", headers=HX,
                           data=_line("W-1", "3", unit_price="1250"))
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert _figure(body, "quote-net") == "JPY 3,750"
    assert _figure(body, "quote-total") == "JPY 4,500"


HOSTILE = ["x" * 10_000, "\x00", "a\x01b", "\x1b[31m", "\u202e\u0000", "9" * 400,
           "1e999999999", "-1e-999999999", "NaN", "Infinity", "<script>alert(1)</script>",
           "' OR 1=1 --", "%s%s%n", "１２", "\ufffd\ufffd", " " * 300]


@pytest.fixture
def errors_as_pages(app):
    """Let a server error answer its 500 page instead of raising into the test, so one
    test can list every input that caused one."""
    app.config["PROPAGATE_EXCEPTIONS"] = False
    return app


@pytest.mark.parametrize("field", ["sku", "description", "quantity", "unit_price",
                                   "discount_percent", "tax_rate_id"])
def test_lines__anything_typed_is_never_a_500(client, login, db, stages, widget,
                                              errors_as_pages, field):
    """Whatever is typed into any line field, is the answer a line (200) or a refusal
    (422) that wrote nothing, never a server error?"""
    quote = make_quote(db, stages, [(widget, "1")])
    line = quote.lines[0]
    login("sales")
    wrong = []
    for value in HOSTILE:
        for url in (f"/orders/quotes/{quote.id}/lines",
                    f"/orders/quotes/{quote.id}/lines/{line.id}"):
            before = business_rows(db)
            response = client.post(url, data=_line("W-1", "1") | {field: value}, headers=HX)
            if response.status_code not in (200, 422):
                wrong.append((url.rsplit("/", 1)[-1], value[:20], response.status_code))
            elif response.status_code == 422 and business_rows(db) != before:
                wrong.append((url.rsplit("/", 1)[-1], value[:20], "wrote on 422"))
    assert wrong == []


def test_lines__huge_quantity_times_price_is_never_a_500(client, login, db, stages,
                                                        errors_as_pages):
    """A quantity and a price each within what may be typed, but whose product is beyond
    any amount a column holds: is it refused (on the line, or at worst on acceptance)
    rather than a server error?"""
    make_product("BIG-1", allow_backorder=True)
    quote = make_quote(db, stages)
    login("sales")
    added = client.post(f"/orders/quotes/{quote.id}/lines", headers=HX,
                        data=_line("BIG-1", "999999999", unit_price="999999999"))
    statuses = [added.status_code]
    if added.status_code == 200:
        statuses.append(client.post(f"/orders/quotes/{quote.id}/mark-sent", data={
            "version": str(_quote(db, quote.id).version)}).status_code)
        before = business_rows(db)
        accepted = _accept(client, _quote(db, quote.id))
        statuses.append(accepted.status_code)
        if accepted.status_code == 422:
            assert business_rows(db) == before
    assert 500 not in statuses, statuses


def test_lines__another_quotes_line_is_404(client, login, db, stages, widget):
    """Is a line id from another quote (or none at all) a 404 on edit, save and remove?"""
    one = make_quote(db, stages, [(widget, "1")])
    other = make_quote(db, stages, [(widget, "1")])
    foreign = other.lines[0].id
    login("sales")
    base = f"/orders/quotes/{one.id}/lines"
    assert client.get(f"{base}/{foreign}/edit").status_code == 404
    assert client.post(f"{base}/{foreign}", data=_line("W-1", "2")).status_code == 404
    assert client.post(f"{base}/{foreign}/delete").status_code == 404
    assert client.post(f"{base}/999999/delete").status_code == 404
    assert client.get("/orders/quotes/999999").status_code == 404
    assert _quote(db, other.id).lines[0].quantity == D(1)


def test_lines__a_sent_quote_refuses_line_changes(client, login, db, stages, widget):
    """Once sent, are the lines fixed (no line form; edits refused with nothing written)?"""
    quote = make_quote(db, stages, [(widget, "1")], status="sent")
    line = quote.lines[0]
    login("sales")
    page = client.get(f"/orders/quotes/{quote.id}").get_data(as_text=True)
    assert 'id="line-form"' not in page
    before = business_rows(db)
    for url, data in ((f"/orders/quotes/{quote.id}/lines", _line("W-1", "1")),
                      (f"/orders/quotes/{quote.id}/lines/{line.id}", _line("W-1", "3")),
                      (f"/orders/quotes/{quote.id}/lines/{line.id}/delete", {})):
        response = client.post(url, data=data, headers=HX)
        assert response.status_code == 422, url
        assert "only a draft changes" in response.get_data(as_text=True), url
    edit = client.get(f"/orders/quotes/{quote.id}/lines/{line.id}/edit", headers=HX)
    assert edit.status_code == 422
    assert "Lines change only while the quote is a draft." in edit.get_data(as_text=True)
    assert business_rows(db) == before


# --- The header --------------------------------------------------------------------------

def test_header__saves_validity_notes_and_terms(client, login, db, stages, widget):
    """Does a valid header edit save and redirect back to the quote?"""
    quote = make_quote(db, stages, [(widget, "1")])
    login("sales")
    until = date.today() + timedelta(days=10)
    response = client.post(f"/orders/quotes/{quote.id}/header", data=_header(
        quote, valid_until=until.isoformat(), notes="Delivery in May", terms="30 days"))
    assert response.status_code == 302
    saved = _quote(db, quote.id)
    assert (saved.valid_until, saved.notes, saved.terms) == (until, "Delivery in May", "30 days")
    page = client.get(f"/orders/quotes/{quote.id}").get_data(as_text=True)
    assert "Delivery in May" in page and until.isoformat() in page


def test_header__valid_until_in_the_past_is_422_next_to_the_field(
        client, login, db, stages, widget):
    """Is a past valid-until date refused next to the field, nothing written?"""
    quote = make_quote(db, stages, [(widget, "1")])
    login("sales")
    before = business_rows(db)
    past = (date.today() - timedelta(days=1)).isoformat()
    response = client.post(f"/orders/quotes/{quote.id}/header",
                           data=_header(quote, valid_until=past))
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert _error(body, "valid_until") == "The quote must be valid until today or later."
    for bad, message in (("", "Enter a date."), ("31/12/2030", "Not a valid date value."),
                         ((date.today() + timedelta(days=400)).isoformat(),
                          "A quote is valid for at most a year.")):
        response = client.post(f"/orders/quotes/{quote.id}/header",
                               data=_header(quote, valid_until=bad))
        assert response.status_code == 422, bad
        assert message in _error(response.get_data(as_text=True), "valid_until"), bad
    assert business_rows(db) == before


def test_header__stale_version_is_409(client, login, db, stages, widget):
    """Is a header saved from a page loaded before someone else's change a 409 that
    says so, with nothing written?"""
    quote = make_quote(db, stages, [(widget, "1")])
    loaded = _header(quote, notes="Mine")
    quote.notes = "Theirs"
    db.session.commit()
    login("sales")
    before = business_rows(db)
    response = client.post(f"/orders/quotes/{quote.id}/header", data=loaded)
    assert response.status_code == 409
    assert "after you opened it" in response.get_data(as_text=True)
    assert business_rows(db) == before
    assert _quote(db, quote.id).notes == "Theirs"


@pytest.mark.parametrize("field", ["notes", "terms", "valid_until", "contact_id", "version"])
def test_header__anything_typed_is_never_a_500(client, login, db, stages, widget, field):
    """Is any value in any header field a save, a 409 or a 422, never a 500?"""
    quote = make_quote(db, stages, [(widget, "1")])
    login("sales")
    for value in HOSTILE:
        before = business_rows(db)
        data = _header(_quote(db, quote.id)) | {field: value}
        response = client.post(f"/orders/quotes/{quote.id}/header", data=data)
        assert response.status_code in (302, 409, 422), (field, value[:20])
        if response.status_code != 302:
            assert business_rows(db) == before


# --- Accepting ---------------------------------------------------------------------------

def test_accept__makes_the_order_wins_the_deal_and_reserves_stock(
        client, login, db, stages, widget):
    """Does accepting make a sales order with the quote's lines and prices, win the deal
    at the quote's net, and reserve the stocked lines?"""
    quote = make_quote(db, stages, [(widget, "4", "20.00", "10"), ("Setup", "1", "50.00")],
                       status="sent")
    login("sales")
    response = _accept(client, quote, customer_po="PO-778")
    assert response.status_code == 302
    order = db.session.scalar(select(SalesOrder))
    assert response.headers["Location"].endswith(f"/orders/sales/{order.id}")
    quote = _quote(db, quote.id)
    assert quote.status == "accepted" and quote.customer_po == "PO-778"
    deal = db.session.get(Deal, quote.deal_id)
    assert deal.stage.outcome == "won"
    assert deal.amount == quote.net == D("122.00")
    fields = ("position", "product_id", "description", "quantity", "unit_price",
              "discount_percent", "tax_rate_id", "tax_percent")
    assert [tuple(getattr(line, f) for f in fields) for line in order.lines] == \
        [tuple(getattr(line, f) for f in fields) for line in quote.lines]
    assert (order.net, order.tax, order.total) == (quote.net, quote.tax, quote.total)
    assert reserved_by_line(order) == {order.lines[0].id: D(4)}
    assert db.session.get(ProductStock, widget.id).reserved == D(4)
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert order.number in page and "PO-778" in page and "is accepted" in page
    quote_page = client.get(f"/orders/quotes/{quote.id}").get_data(as_text=True)
    assert "Accepted" in quote_page and order.number in quote_page


def _refused_acceptance(client, db, quote, *fragments):
    """Post the accept form: 422 with all `fragments` in the page, nothing written."""
    before = business_rows(db)
    response = _accept(client, _quote(db, quote.id))
    body = response.get_data(as_text=True)
    assert response.status_code == 422, body[:2000]
    for fragment in fragments:
        assert fragment in body, fragment
    assert business_rows(db) == before
    assert count_rows(db, SalesOrder) == 0
    assert _quote(db, quote.id).status != "accepted"
    return body


def test_accept__expired_quote_is_refused(client, login, db, stages, widget):
    """Is a sent quote past its valid-until date refused with the date, nothing written?"""
    quote = make_quote(db, stages, [(widget, "1")], status="sent")
    quote.valid_until = date.today() - timedelta(days=2)
    db.session.commit()
    login("sales")
    page = client.get(f"/orders/quotes/{quote.id}").get_data(as_text=True)
    assert "Expired" in page and 'id="accept-form"' not in page
    _refused_acceptance(client, db, quote, "This quote expired on",
                        f"{quote.valid_until:%d %b %Y}")


def test_accept__superseded_quote_names_the_newer_revision(client, login, db, stages, widget):
    """Is accepting a superseded version refused with the name of the version to accept?"""
    quote = make_quote(db, stages, [(widget, "1")], status="sent")
    revise_quote(quote)
    db.session.commit()
    login("sales")
    _refused_acceptance(client, db, quote, f"superseded by {quote.number} v2")


def test_accept__customer_on_hold_makes_the_order_wait_on_credit_hold(client, login, db,
                                                                     stages, widget):
    """Is a customer on hold's acceptance an order on credit hold, with the hold reason
    shown on the order and no Ship button?"""
    customer = make_customer(name="Slow Payer Ltd", on_hold=True)
    customer.account.hold_reason = "Unpaid invoices"
    db.session.commit()
    quote = make_quote(db, stages, [(widget, "1")], customer=customer)
    from models.sales import mark_sent

    mark_sent(quote)
    db.session.commit()
    login("sales")
    page = client.get(f"/orders/quotes/{quote.id}").get_data(as_text=True)
    assert "would wait on credit hold" in page
    response = client.post(f"/orders/quotes/{quote.id}/accept", data={
        "form_key": re.search(r'name="form_key" value="([^"]+)"',
                              page[page.index('id="accept-form"'):]).group(1),
        "version": str(quote.version), "customer_po": ""})
    assert response.status_code == 302
    order = db.session.scalar(select(SalesOrder))
    assert order.status == "held"
    page = client.get(f"/orders/sales/{order.id}").get_data(as_text=True)
    assert "On credit hold" in page and "Slow Payer Ltd is on hold: Unpaid invoices" in page
    assert ">Ship</a>" not in page


def test_accept__product_archived_since_is_refused(client, login, db, stages, widget):
    """Is a quote whose product was archived after sending refused, naming the SKU?"""
    quote = make_quote(db, stages, [(widget, "1")], status="sent")
    widget.active = False
    db.session.commit()
    login("sales")
    _refused_acceptance(client, db, quote, "W-1 was archived since the quote was drafted")


def test_accept__short_stock_without_backorders_is_refused(client, login, db, stages, widget):
    """Is a quote asking for more than is available of a product without backorders
    refused with what is available, nothing reserved?"""
    quote = make_quote(db, stages, [(widget, "12")], status="sent")
    login("sales")
    body = _refused_acceptance(client, db, quote, "Only 10 pc of W-1 available",
                               "W-1 takes no backorders")
    assert "Only" in body
    assert db.session.get(ProductStock, widget.id).reserved == D(0)


def test_accept__customer_po_too_long_is_422_next_to_the_field(
        client, login, db, stages, widget):
    """Is an over-long customer PO refused next to its field, nothing written?"""
    quote = make_quote(db, stages, [(widget, "1")], status="sent")
    login("sales")
    before = business_rows(db)
    for value in ("x" * 61, "PO\x00-1"):
        response = _accept(client, quote, customer_po=value)
        assert response.status_code == 422
        assert _error(response.get_data(as_text=True), "customer_po")
    assert business_rows(db) == before


# --- Revising ----------------------------------------------------------------------------

def test_revise__makes_v2_and_keeps_the_old_version_readable(
        client, login, db, stages, widget):
    """Does revising a sent quote open a new draft v2 with the same lines, the old page
    say "Superseded by" v2, and the old page and its PDF still open?"""
    quote = make_quote(db, stages, [(widget, "3")], status="sent")
    login("sales")
    response = client.post(f"/orders/quotes/{quote.id}/revise",
                           data={"form_key": new_form_key()})
    assert response.status_code == 302
    new = db.session.scalar(select(Quote).where(Quote.revision == 2))
    assert response.headers["Location"].endswith(f"/orders/quotes/{new.id}")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert f"{quote.number} v2" in page and "Draft" in page and 'id="line-form"' in page
    assert [(line.product_id, line.quantity) for line in new.lines] == [(widget.id, D(3))]
    old = client.get(f"/orders/quotes/{quote.id}")
    assert old.status_code == 200
    old_body = old.get_data(as_text=True)
    assert "Superseded by" in old_body
    assert f'href="/orders/quotes/{new.id}">{quote.number} v2</a>' in old_body
    pdf = client.get(f"/orders/quotes/{quote.id}.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert pdf.data.startswith(b"%PDF")
    assert client.get(f"/orders/quotes/{new.id}.pdf").data.startswith(b"%PDF")


def test_revise__a_draft_or_accepted_quote_is_refused(client, login, db, stages, widget):
    """Is revising a draft refused with a message, nothing written?"""
    draft = make_quote(db, stages, [(widget, "1")])
    login("sales")
    before = business_rows(db)
    response = client.post(f"/orders/quotes/{draft.id}/revise",
                           data={"form_key": new_form_key()})
    assert response.status_code == 422
    assert "still a draft" in response.get_data(as_text=True)
    assert business_rows(db) == before


def test_new_quote__from_the_deal_page_opens_a_draft(client, login, db, stages, users):
    """Does the deal page's button make a draft quote and open it; is an unknown deal a
    404 that writes nothing?"""
    deal = make_deal(db, stages, stage="Proposal")
    login("sales")
    page = client.get(f"/pipeline/deals/{deal.id}").get_data(as_text=True)
    key = re.search(r'name="form_key" value="([^"]+)"', page).group(1)
    response = client.post("/orders/quotes/new", data={"deal_id": str(deal.id),
                                                       "form_key": key})
    assert response.status_code == 302
    quote = db.session.scalar(select(Quote))
    assert response.headers["Location"].endswith(f"/orders/quotes/{quote.id}")
    assert (quote.status, quote.deal_id, quote.created_by_id) == \
        ("draft", deal.id, users["sales"].id)
    before = business_rows(db)
    for deal_id in ("999999", "abc", "", "1" * 40):
        response = client.post("/orders/quotes/new", data={"deal_id": deal_id,
                                                           "form_key": new_form_key()})
        assert response.status_code == 404, deal_id
    assert business_rows(db) == before
