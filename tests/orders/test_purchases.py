"""Purchase orders: the list, a new order, the order page, its lines (htmx and plain
posts), header edits, send and cancel, and who may do what."""

import re
from decimal import Decimal

import pytest

from models import PurchaseLine, PurchaseOrder
from tests.helpers import business_rows, count_rows, form_key
from tests.orders.factories import make_po, make_product, make_supplier, make_tax_rate

ORDERS_PREFIXES = ("/orders/suppliers", "/orders/purchases", "/orders/bills")


def _order(db, order_id) -> PurchaseOrder:
    db.session.expire_all()
    return db.session.get(PurchaseOrder, order_id)


# --- New order ---------------------------------------------------------------------------

def test_new_purchase__creates_a_numbered_draft_and_opens_it(client, login, db):
    """Does a new order get a PO number, the supplier's currency and the draft status?"""
    supplier = make_supplier("Draft Supplies", currency="EUR")
    login("operations")
    response = client.post("/orders/purchases/new", data={
        "supplier_id": str(supplier.id), "expected_on": "2030-05-01", "notes": "Rush",
        "form_key": form_key(client.get("/orders/purchases/new").get_data(as_text=True))})
    assert response.status_code == 302
    order = db.session.scalar(db.select(PurchaseOrder))
    assert response.headers["Location"].endswith(f"/orders/purchases/{order.id}")
    assert re.fullmatch(r"PO-\d{4}-0001", order.number)
    assert (order.status, order.currency, order.exchange_rate, order.notes) == \
        ("draft", "EUR", Decimal("1.000000"), "Rush")
    assert order.expected_on.isoformat() == "2030-05-01"
    assert order.location is not None and order.location.code == "WH/STOCK"
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert order.number in page and "Draft" in page and "Draft Supplies" in page


def test_new_purchase__preselects_the_supplier_and_hides_the_rate_in_base_currency(
        client, login, db):
    """Does ?supplier_id= preselect the supplier, with no rate field for our currency?"""
    supplier = make_supplier("Home Co", currency="EUR")
    login("operations")
    page = client.get(f"/orders/purchases/new?supplier_id={supplier.id}").get_data(as_text=True)
    assert f'<option selected value="{supplier.id}">' in page
    assert 'name="exchange_rate"' not in page
    assert "no exchange rate needed" in page


def test_new_purchase__foreign_supplier_shows_and_needs_the_rate(client, login, db):
    """Is the exchange rate asked for (422 when missing) for a supplier in another
    currency, and kept when given?"""
    supplier = make_supplier("Yankee Co", currency="USD")
    login("operations")
    page = client.get(f"/orders/purchases/new?supplier_id={supplier.id}").get_data(as_text=True)
    assert 'name="exchange_rate"' in page and "EUR per 1 USD" in page
    before = business_rows(db)
    response = client.post("/orders/purchases/new", data={"supplier_id": str(supplier.id),
                                                          "form_key": form_key(page)})
    assert response.status_code == 422
    assert "Enter the exchange rate: what one USD costs in EUR." in \
        response.get_data(as_text=True)
    assert business_rows(db) == before
    response = client.post("/orders/purchases/new", data={     # the same form, corrected
        "supplier_id": str(supplier.id), "exchange_rate": "0.912345", "form_key": form_key(page)})
    assert response.status_code == 302
    order = db.session.scalar(db.select(PurchaseOrder))
    assert (order.currency, order.exchange_rate) == ("USD", Decimal("0.912345"))


def test_new_purchase__htmx_supplier_change_returns_the_rate_field_only(client, login, db):
    """Does choosing another supplier (htmx) re-render just the rate field?"""
    supplier = make_supplier("Swiss Co", currency="CHF")
    login("operations")
    response = client.htmx("get", f"/orders/purchases/new?supplier_id={supplier.id}")
    body = response.get_data(as_text=True)
    assert "<html" not in body and 'id="rate-field"' in body
    assert "EUR per 1 CHF" in body


def test_new_purchase__refusals_write_nothing(client, login, db):
    """Are no supplier, an archived one and a zero rate refused with 422?"""
    archived = make_supplier("Old Co", active=False)
    foreign = make_supplier("Pound Co", currency="GBP")
    login("operations")
    before = business_rows(db)
    cases = [({"supplier_id": ""}, "Choose a supplier."),
             ({"supplier_id": str(archived.id)}, "Not a valid choice"),
             ({"supplier_id": str(foreign.id), "exchange_rate": "0"},
              "Enter an exchange rate above zero."),
             ({"supplier_id": str(foreign.id), "exchange_rate": "abc"}, "Enter a number")]
    for data, message in cases:
        response = client.post("/orders/purchases/new", data=data | {"form_key": form_key()})
        assert response.status_code == 422, data
        assert message in response.get_data(as_text=True), data
    assert business_rows(db) == before


def test_new_purchase__posted_twice_starts_one_order(client, login, db):
    """Does the same new-order form posted twice (double click, retry) start one order,
    the repeat being sent to it?"""
    supplier = make_supplier("Twice Co")
    login("operations")
    page = client.get(f"/orders/purchases/new?supplier_id={supplier.id}").get_data(as_text=True)
    data = {"supplier_id": str(supplier.id), "notes": "Once", "form_key": form_key(page)}
    first = client.post("/orders/purchases/new", data=data)
    assert first.status_code == 302
    before = business_rows(db)
    again = client.post("/orders/purchases/new", data=data)
    assert again.status_code == 302
    assert again.headers["Location"] == first.headers["Location"]
    assert business_rows(db) == before
    assert count_rows(db, PurchaseOrder) == 1
    order = db.session.scalar(db.select(PurchaseOrder))
    assert first.headers["Location"].endswith(f"/orders/purchases/{order.id}")
    assert "That was already done" in client.get(again.headers["Location"]).get_data(
        as_text=True)
    other_tab = client.post("/orders/purchases/new",       # a form of its own: a new order
                            data=data | {"form_key": form_key()})
    assert other_tab.status_code == 302 and count_rows(db, PurchaseOrder) == 2


def test_new_purchase__a_refused_form_keeps_its_key(client, login, db):
    """Is a form refused for a missing rate not using up its key, so the same form, once
    corrected, starts the order?"""
    supplier = make_supplier("Rate Later Co", currency="USD")
    login("operations")
    page = client.get(f"/orders/purchases/new?supplier_id={supplier.id}").get_data(as_text=True)
    data = {"supplier_id": str(supplier.id), "form_key": form_key(page)}
    assert client.post("/orders/purchases/new", data=data).status_code == 422
    response = client.post("/orders/purchases/new", data=data | {"exchange_rate": "0.9"})
    assert response.status_code == 302
    assert count_rows(db, PurchaseOrder) == 1


@pytest.mark.parametrize("key", [None, "", "not a key!", "x" * 65])
def test_new_purchase__missing_or_garbled_key_is_422_and_writes_nothing(client, login, db,
                                                                       key):
    """Is a valid form without its key (or with a malformed one) answered 422 "This form
    has expired", with nothing written?"""
    supplier = make_supplier("Keyless Co")
    login("operations")
    data = {"supplier_id": str(supplier.id)}
    if key is not None:
        data["form_key"] = key
    before = business_rows(db)
    response = client.post("/orders/purchases/new", data=data)
    assert response.status_code == 422
    assert "This form has expired. Reload the page and submit it again." in \
        response.get_data(as_text=True)
    assert business_rows(db) == before


def test_new_purchase__bad_supplier_parameter(client, login, db):
    """Is a non-numeric supplier_id a 400 and an unknown one a 404?"""
    login("operations")
    assert client.get("/orders/purchases/new?supplier_id=abc").status_code == 400
    assert client.get("/orders/purchases/new?supplier_id=99999").status_code == 404


# --- The list ----------------------------------------------------------------------------

def test_purchase_list__filters_by_status_and_supplier(client, login, db):
    """Does the list filter by "open", by one status and by supplier?"""
    one, two = make_supplier("List One"), make_supplier("List Two")
    product = make_product()
    draft = make_po(one, [(product, "1", "5")])
    sent = make_po(two, [(product, "2", "5")], status="sent")
    received = make_po(one, [(product, "3", "5")], status="received")
    login("finance")
    open_page = client.get("/orders/purchases?status=open").get_data(as_text=True)
    assert draft.number in open_page and sent.number in open_page
    assert received.number not in open_page
    sent_page = client.get("/orders/purchases?status=sent").get_data(as_text=True)
    assert sent.number in sent_page and draft.number not in sent_page
    by_supplier = client.get(f"/orders/purchases?supplier_id={one.id}").get_data(as_text=True)
    assert draft.number in by_supplier and received.number in by_supplier
    assert sent.number not in by_supplier


def test_purchase_list__newest_first_in_keyset_pages(client, login, db, app):
    """Are orders listed newest first, the next page following by cursor?"""
    app.config["TANDEM_PER_PAGE"] = 2
    supplier = make_supplier()
    orders = [make_po(supplier, [("Item", "1", "1")]) for _ in range(3)]
    login("operations")
    first = client.get("/orders/purchases").get_data(as_text=True)
    assert orders[2].number in first and orders[1].number in first
    assert first.index(orders[2].number) < first.index(orders[1].number)
    assert orders[0].number not in first
    cursor = re.search(r'after=([^"&]+)', first).group(1)
    second = client.get(f"/orders/purchases?after={cursor}").get_data(as_text=True)
    assert orders[0].number in second and orders[2].number not in second


def test_purchase_list__bad_filters_are_400(client, login, db):
    """Are unknown parameters, statuses, supplier ids and cursors answered 400?"""
    login("operations")
    for query in ("status=lost", "colour=red", "supplier_id=abc", "supplier_id=1%20OR%201",
                  "after=%%%", "before=WyJ4IiwxXQ"):
        assert client.get(f"/orders/purchases?{query}").status_code == 400, query
    assert client.get("/orders/purchases?supplier_id=4242").status_code == 404


# --- The order page and its lines ----------------------------------------------------------

def test_purchase_page__shows_lines_totals_and_tax_breakdown(client, login, db):
    """Does the page show each line, the net, the tax per rate and the total?"""
    vat20, vat7 = make_tax_rate("VAT 20", "20"), make_tax_rate("VAT 7", "7")
    product = make_product("BOLT-1", name="Bolt", tax_rate=vat20)
    order = make_po(lines=[(product, "10", "2.5"), ("Freight", "1", "30", vat7)],
                    notes="Leave at gate 3")
    login("finance")
    page = client.get(f"/orders/purchases/{order.id}").get_data(as_text=True)
    assert "BOLT-1 · Bolt" in page and "Freight" in page
    assert "EUR 55.00" in page          # net 25.00 + 30.00
    assert "Tax 20%" in page and "5.00" in page and "Tax 7%" in page and "2.10" in page
    assert "EUR 62.10" in page
    assert "Leave at gate 3" in page
    assert "Add a line" not in page      # finance does not buy


def test_purchase_page__unknown_order_is_404(client, login, db):
    """Is an unknown order id a 404?"""
    login("operations")
    assert client.get("/orders/purchases/424242").status_code == 404
    assert client.get("/orders/purchases/424242.pdf").status_code == 404


def test_add_line__product_defaults_cost_and_tax(client, login, db):
    """Does a product line without cost or tax take the product's cost and tax rate?"""
    vat = make_tax_rate("VAT 19", "19")
    product = make_product("NUT-7", cost="1.2345", tax_rate=vat)
    order = make_po()
    login("operations")
    response = client.post(f"/orders/purchases/{order.id}/lines", data={
        "sku": "nut-7", "quantity": "12", "unit_cost": "", "tax_rate_id": ""})
    assert response.status_code == 302
    line = db.session.scalar(db.select(PurchaseLine))
    assert (line.product_id, line.quantity, line.unit_cost, line.tax_percent) == \
        (product.id, Decimal("12.000"), Decimal("1.2345"), Decimal("19.000"))
    assert line.net == Decimal("14.81")


def test_add_line__foreign_order_converts_the_product_cost(client, login, db):
    """On a USD order at 0.8 EUR per USD, does a blank cost take the product's 10.00 EUR
    cost as 12.50 USD?"""
    make_product("FX-COST", cost="10.00")
    order = make_po(make_supplier(currency="USD"), rate="0.8")
    login("operations")
    client.post(f"/orders/purchases/{order.id}/lines", data={"sku": "FX-COST", "quantity": "1"})
    assert db.session.scalar(db.select(PurchaseLine)).unit_cost == Decimal("12.5000")


def test_add_line__typed_cost_and_no_tax(client, login, db):
    """Are a typed unit cost and "No tax" kept on the line?"""
    product = make_product("WIRE-1", unit="m", tax_rate=make_tax_rate())
    order = make_po()
    login("operations")
    client.post(f"/orders/purchases/{order.id}/lines", data={
        "sku": "WIRE-1", "quantity": "2.5", "unit_cost": "3.10", "tax_rate_id": "none"})
    line = db.session.scalar(db.select(PurchaseLine))
    assert (line.quantity, line.unit_cost, line.tax_percent, line.tax_rate_id) == \
        (Decimal("2.500"), Decimal("3.1000"), Decimal("0.000"), None)
    assert product.id == line.product_id


def test_add_line__free_text_line(client, login, db):
    """Can a line be only a description (freight, a service) with a chosen tax rate?"""
    vat = make_tax_rate("VAT 10", "10")
    order = make_po()
    login("operations")
    response = client.post(f"/orders/purchases/{order.id}/lines", data={
        "sku": "", "description": "Express freight", "quantity": "1", "unit_cost": "45",
        "tax_rate_id": str(vat.id)})
    assert response.status_code == 302
    line = db.session.scalar(db.select(PurchaseLine))
    assert (line.product_id, line.description, line.tax) == \
        (None, "Express freight", Decimal("4.50"))


def test_add_line__htmx_returns_the_lines_block_with_totals(client, login, db):
    """Does an htmx add answer with the lines block (new line and total), not the page?"""
    make_product("HX-1", cost="4.00")
    order = make_po()
    login("operations")
    response = client.htmx("post", f"/orders/purchases/{order.id}/lines",
                           data={"sku": "HX-1", "quantity": "3"})
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<html" not in body and 'id="lines"' in body
    assert "HX-1" in body and "EUR 12.00" in body
    assert response.headers["Cache-Control"] == "no-store"


def test_add_line__unknown_sku_is_422_next_to_the_field(client, login, db):
    """Is an unknown SKU refused with "No product with SKU X" beside the field?"""
    order = make_po()
    login("operations")
    before = business_rows(db)
    response = client.htmx("post", f"/orders/purchases/{order.id}/lines",
                           data={"sku": "GHOST-9", "quantity": "1"})
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert re.search(r'<p class="error" id="sku-error">No product with SKU GHOST-9\.</p>', body)
    assert 'value="GHOST-9"' in body      # the input is kept
    assert business_rows(db) == before


def test_add_line__refusals_are_422_with_the_message_and_write_nothing(client, login, db):
    """Are an archived product, a fraction of pieces, a negative cost, junk or zero
    quantity and an empty line each refused with their message?"""
    make_product("OLD-1", active=False)
    make_product("PCS-1", unit="pc")
    order = make_po()
    login("operations")
    before = business_rows(db)
    cases = [
        ({"sku": "OLD-1", "quantity": "1"}, "OLD-1 is archived; it cannot be ordered."),
        ({"sku": "PCS-1", "quantity": "1.5"}, "PCS-1 is counted in whole pieces."),
        ({"sku": "PCS-1", "quantity": "1", "unit_cost": "-2"},
         "Enter a unit cost of zero or more."),
        ({"sku": "PCS-1", "quantity": "lots"}, "Enter a number, like 12 or 2.5."),
        ({"sku": "PCS-1", "quantity": "0"}, "Enter a quantity above zero."),
        ({"sku": "PCS-1", "quantity": ""}, "Enter a quantity."),
        ({"sku": "", "description": "", "quantity": "1"},
         "Choose a product or describe the line."),
        ({"sku": "PCS-1", "quantity": "1", "unit_cost": "1.23456"}, "Use at most 4 decimals."),
        ({"sku": "PCS-1", "quantity": "1", "tax_rate_id": "999"}, "Not a valid choice"),
    ]
    for data, message in cases:
        response = client.post(f"/orders/purchases/{order.id}/lines", data=data)
        assert response.status_code == 422, data
        assert message in response.get_data(as_text=True), data
    assert business_rows(db) == before


def test_edit_line__form_in_place_and_saved(client, login, db):
    """Does Edit show the line's values in the form, and Save change the line?"""
    product = make_product("EDIT-1", cost="2.00")
    order = make_po(lines=[(product, "4", "2.00")])
    line = order.lines[0]
    login("operations")
    form = client.htmx("get", f"/orders/purchases/{order.id}/lines/{line.id}/edit")
    body = form.get_data(as_text=True)
    assert form.status_code == 200 and "<html" not in body
    assert 'value="EDIT-1"' in body and 'value="4"' in body and "Save line" in body
    response = client.post(f"/orders/purchases/{order.id}/lines/{line.id}", data={
        "sku": "EDIT-1", "quantity": "6", "unit_cost": "1.75", "tax_rate_id": "none"})
    assert response.status_code == 302
    db.session.expire_all()
    line = db.session.get(PurchaseLine, line.id)
    assert (line.quantity, line.unit_cost) == (Decimal("6.000"), Decimal("1.7500"))


def test_edit_line__refused_input_keeps_the_line(client, login, db):
    """Is a bad edit (fractional pieces) a 422 that leaves the line as it was?"""
    product = make_product("KEEP-1")
    order = make_po(lines=[(product, "4", "2.00")])
    line = order.lines[0]
    login("operations")
    before = business_rows(db)
    response = client.post(f"/orders/purchases/{order.id}/lines/{line.id}", data={
        "sku": "KEEP-1", "quantity": "2.5"})
    assert response.status_code == 422
    assert "KEEP-1 is counted in whole pieces." in response.get_data(as_text=True)
    assert business_rows(db) == before


def test_remove_line__renumbers_the_rest(client, login, db):
    """Does removing a line delete it and renumber the lines after it?"""
    order = make_po(lines=[("First", "1", "1"), ("Second", "1", "1"), ("Third", "1", "1")])
    first = order.lines[0]
    login("operations")
    response = client.htmx("post", f"/orders/purchases/{order.id}/lines/{first.id}/delete")
    assert response.status_code == 200 and "First" not in response.get_data(as_text=True)
    order = _order(db, order.id)
    assert [(line.position, line.description) for line in order.lines] == \
        [(1, "Second"), (2, "Third")]


def test_lines__cannot_change_once_sent(client, login, db):
    """Are adding, editing and removing lines of a sent order refused with nothing written?"""
    product = make_product("SENT-1")
    order = make_po(lines=[(product, "2", "1")], status="sent")
    line = order.lines[0]
    login("operations")
    before = business_rows(db)
    add = client.post(f"/orders/purchases/{order.id}/lines",
                      data={"sku": "SENT-1", "quantity": "1"})
    edit = client.post(f"/orders/purchases/{order.id}/lines/{line.id}",
                       data={"sku": "SENT-1", "quantity": "3"})
    remove = client.post(f"/orders/purchases/{order.id}/lines/{line.id}/delete")
    for response in (add, edit, remove):
        assert response.status_code == 422
        assert "its lines can only change while it is a draft" in \
            response.get_data(as_text=True)
    assert business_rows(db) == before
    page = client.get(f"/orders/purchases/{order.id}").get_data(as_text=True)
    assert "Add a line" not in page


def test_line_of_another_order_is_404(client, login, db):
    """Is a line addressed through another order's URL a 404?"""
    one = make_po(lines=[("Mine", "1", "1")])
    other = make_po()
    login("operations")
    line = one.lines[0]
    assert client.post(f"/orders/purchases/{other.id}/lines/{line.id}/delete").status_code == 404
    assert count_rows(db, PurchaseLine) == 1


# --- Header, send, cancel ------------------------------------------------------------------

def test_header__saves_date_notes_rate_and_location(client, login, db):
    """Does the header form save the expected date, notes and a foreign order's rate?"""
    order = make_po(make_supplier(currency="USD"), rate="0.9")
    login("operations")
    response = client.post(f"/orders/purchases/{order.id}/header", data={
        "version": order.version, "expected_on": "2031-01-02", "exchange_rate": "0.95",
        "location_id": str(order.location_id), "notes": "Call before"})
    assert response.status_code == 302
    order = _order(db, order.id)
    assert (order.expected_on.isoformat(), order.exchange_rate, order.notes) == \
        ("2031-01-02", Decimal("0.950000"), "Call before")


def test_header__stale_version_is_409(client, login, db):
    """Is a header save based on an old version refused with 409 and nothing written?"""
    order = make_po()
    login("operations")
    data = {"version": order.version, "notes": "first", "location_id": str(order.location_id)}
    assert client.post(f"/orders/purchases/{order.id}/header", data=data).status_code == 302
    before = business_rows(db)
    response = client.post(f"/orders/purchases/{order.id}/header", data=data | {"notes": "late"})
    assert response.status_code == 409
    assert "Reload to see their change" in response.get_data(as_text=True)
    assert business_rows(db) == before


def test_send__marks_the_order_sent_and_fixes_its_lines(client, login, db):
    """Does Send mark a draft with lines as sent?"""
    order = make_po(lines=[("Thing", "1", "1")])
    login("operations")
    response = client.post(f"/orders/purchases/{order.id}/send", data={"version": order.version})
    assert response.status_code == 302
    order = _order(db, order.id)
    assert order.status == "sent" and order.sent_at is not None
    page = client.get(f"/orders/purchases/{order.id}").get_data(as_text=True)
    assert "Receive goods" in page and "Mark as sent" not in page


def test_send__an_empty_draft_is_refused(client, login, db):
    """Is sending an order without lines a 422 with the reason?"""
    order = make_po()
    login("operations")
    before = business_rows(db)
    response = client.post(f"/orders/purchases/{order.id}/send", data={"version": order.version})
    assert response.status_code == 422
    assert "Add at least one line before sending the order." in response.get_data(as_text=True)
    assert business_rows(db) == before


def test_cancel__needs_a_reason_and_cancels(client, login, db):
    """Is a cancel without reason refused, and with one does the order become cancelled?"""
    order = make_po(lines=[("Thing", "1", "1")], status="sent")
    login("operations")
    before = business_rows(db)
    response = client.post(f"/orders/purchases/{order.id}/cancel",
                           data={"version": order.version, "reason": ""})
    assert response.status_code == 422
    assert "Say why the order is cancelled." in response.get_data(as_text=True)
    assert business_rows(db) == before
    response = client.post(f"/orders/purchases/{order.id}/cancel",
                           data={"version": order.version, "reason": "Found cheaper"})
    assert response.status_code == 302
    order = _order(db, order.id)
    assert (order.status, order.cancel_reason) == ("cancelled", "Found cheaper")


def test_cancel__refused_once_goods_arrived(client, login, db):
    """Is cancelling an order with receipts refused with 422 and nothing written?"""
    product = make_product()
    order = make_po(lines=[(product, "4", "1")], status="partial")
    login("operations")
    before = business_rows(db)
    response = client.post(f"/orders/purchases/{order.id}/cancel",
                           data={"version": order.version, "reason": "Too late"})
    assert response.status_code == 422
    assert "Goods have been received on this order; it cannot be cancelled." in \
        response.get_data(as_text=True)
    assert business_rows(db) == before


def test_history__shows_changes_to_the_order(client, login, db):
    """Does the order page's history show who changed what?"""
    order = make_po(lines=[("Thing", "1", "1")])
    login("operations")
    client.post(f"/orders/purchases/{order.id}/send", data={"version": order.version})
    page = client.get(f"/orders/purchases/{order.id}").get_data(as_text=True)
    assert "operations@example.test" in page
    assert re.search(r"<del>draft</del> → \s*<ins>sent</ins>", page)


def test_phone_width__lines_are_a_card_list(client, login, db):
    """Are the lines a `table.list` with a data-label per cell (cards on phones)?"""
    order = make_po(lines=[("Card", "1", "1")])
    login("operations")
    page = client.get(f"/orders/purchases/{order.id}").get_data(as_text=True)
    assert 'class="list po-lines-table"' in page
    for label in ("Product", "Ordered", "Received", "Outstanding", "Unit cost", "Net"):
        assert f'data-label="{label}"' in page


# --- Roles -------------------------------------------------------------------------------

def test_roles__sales_gets_403_on_every_purchasing_view(app, client, login, db):
    """Is every supplier, purchase and bill URL a 403 for sales?"""
    from tests.test_roles import SAMPLE_ARGS

    make_po(lines=[("Thing", "1", "1")])
    login("sales")
    before = business_rows(db)
    seen = 0
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(ORDERS_PREFIXES):
            continue
        url = rule.build({k: v for k, v in SAMPLE_ARGS.items() if k in rule.arguments})[1]
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            response = client.open(url, method=method, data={"csrf_token": client.csrf_token}
                                   if method == "POST" else None)
            assert response.status_code == 403, (rule.endpoint, method)
            seen += 1
    assert seen >= 20
    assert business_rows(db) == before


def test_roles__finance_views_but_does_not_buy(client, login, db):
    """May finance open orders but not create, change, send or cancel them?"""
    order = make_po(lines=[("Thing", "1", "1")])
    login("finance")
    before = business_rows(db)
    assert client.get("/orders/purchases").status_code == 200
    assert client.get(f"/orders/purchases/{order.id}").status_code == 200
    assert client.get("/orders/purchases/new").status_code == 403
    assert client.post(f"/orders/purchases/{order.id}/lines",
                       data={"description": "x", "quantity": "1"}).status_code == 403
    assert client.post(f"/orders/purchases/{order.id}/send",
                       data={"version": order.version}).status_code == 403
    assert client.post(f"/orders/purchases/{order.id}/cancel",
                       data={"version": order.version, "reason": "x"}).status_code == 403
    assert business_rows(db) == before


def test_pages__no_inline_code_and_gets_write_nothing(client, login, db):
    """Do the purchasing pages, filled with real data, carry no inline script or style,
    and does opening them (page or htmx fragment) write nothing?"""
    supplier = make_supplier("Crawl Supplies", currency="USD")
    product = make_product("CRAWL-1", tax_rate=make_tax_rate())
    draft = make_po(supplier, [(product, "2", "3")], rate="0.9", notes="<b>bold</b>")
    received = make_po(supplier, [(product, "2", "3")], rate="0.9", status="received")
    line = draft.lines[0]
    login("admin")
    urls = ["/orders/suppliers", f"/orders/suppliers/{supplier.id}",
            f"/orders/suppliers/{supplier.id}/edit", "/orders/suppliers/new",
            "/orders/purchases", "/orders/purchases?status=open",
            f"/orders/purchases/new?supplier_id={supplier.id}",
            f"/orders/purchases/{draft.id}", f"/orders/purchases/{received.id}",
            f"/orders/purchases/{draft.id}/lines/{line.id}/edit",
            f"/orders/purchases/{received.id}/receive", f"/orders/purchases/{draft.id}/receive",
            f"/orders/purchases/{received.id}/bill", "/orders/bills?status=all"]
    before = business_rows(db)
    for url in urls:
        for response in (client.get(url), client.htmx("get", url)):
            body = response.get_data(as_text=True)
            assert response.status_code == 200, url
            assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", body), url
            assert " style=" not in body and " onclick=" not in body, url
            assert "<b>bold</b>" not in body, url
    assert business_rows(db) == before
    page = client.get(f"/orders/purchases/{draft.id}").get_data(as_text=True)
    assert 'list="sku-options"' in page          # the catalog's product picker
