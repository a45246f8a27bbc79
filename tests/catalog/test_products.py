"""Products on the web: the list with stock figures (search, filters, keyset pages), the
product page, adding, editing and archiving, and the SKU type-ahead."""

import re
from decimal import Decimal

import pytest
from sqlalchemy import event, select
from sqlalchemy.engine import Engine

from models import Product
from models.purchasing import LineInput, create_purchase_order
from tests.catalog.factories import new_product, new_supplier, new_tax_rate, reserve, stock_up
from tests.helpers import business_rows, count_rows

FORM = {"sku": "NEW-1", "name": "Blue widget", "description": "", "kind": "stocked",
        "unit": "pc", "list_price": "12.50", "cost": "4.2000", "tax_rate_id": "",
        "reorder_point": "5", "reorder_qty": "20", "preferred_supplier_id": ""}


def _form_of(product, **overrides) -> dict:
    data = {"version": str(product.version), "sku": product.sku, "name": product.name,
            "description": product.description, "kind": product.kind, "unit": product.unit,
            "list_price": str(product.list_price), "cost": str(product.cost),
            "tax_rate_id": str(product.tax_rate_id or ""),
            "reorder_point": str(product.reorder_point), "reorder_qty": str(product.reorder_qty),
            "preferred_supplier_id": str(product.preferred_supplier_id or "")}
    if product.allow_backorder:
        data["allow_backorder"] = "y"
    return data | overrides


def _skus(body: str) -> list[str]:
    return re.findall(r'class="sku">([^<]+)</a>', body)


# --- The list ----------------------------------------------------------------------------

def test_list__shows_on_hand_reserved_and_available_from_stock(client, login, db):
    """Does each row show on hand, reserved and available (zeros for a product never
    stocked, dashes for a service)?"""
    bolt = new_product("BOLT-1", "Bolt", reorder_point="3")
    stock_up(bolt, 10)
    reserve(bolt, 4)
    new_product("NUT-1", "Nut")
    new_product("SETUP", "Setup fee", kind="service")
    login("sales")
    body = client.get("/catalog/products").get_data(as_text=True)
    row = body.split(">BOLT-1<")[1].split("</tr>")[0]
    assert re.findall(r'class="num[^"]*">(?:<span>)?([^<]+)', row)[:5] == ["10.00", "10", "4", "6", "3"]
    nut = body.split(">NUT-1<")[1].split("</tr>")[0]
    assert re.findall(r'class="num[^"]*">(?:<span>)?([^<]+)', nut)[1:4] == ["0", "0", "0"]
    setup = body.split(">SETUP<")[1].split("</tr>")[0]
    assert setup.count("—") == 4


def test_list__stock_is_joined_in_the_page_query(client, login, db):
    """Are the stock figures read in the same query as the products (no query per row)?"""
    for n in range(8):
        stock_up(new_product(f"J-{n}"), n + 1)
    login("operations")
    seen = []

    def record(conn, cursor, statement, *args):
        seen.append(statement)

    event.listen(Engine, "before_cursor_execute", record)
    try:
        body = client.get("/catalog/products").get_data(as_text=True)
    finally:
        event.remove(Engine, "before_cursor_execute", record)
    assert len(_skus(body)) == 8
    stock_reads = [s for s in seen if "product_stock" in s]
    assert len(stock_reads) == 1 and "LEFT OUTER JOIN product_stock" in stock_reads[0]


def test_list__search_by_sku_prefix_or_name_inside(client, login, db):
    """Does the search find SKUs by their start and names by any part, whatever the case?"""
    new_product("AB-100", "Hex bolt")
    new_product("AB-200", "Washer")
    new_product("XY-1", "Wood screw, brass")
    new_product("ZZ-ab", "Spring")
    login("sales")
    assert _skus(client.get("/catalog/products?q=ab-").get_data(as_text=True)) == [
        "AB-100", "AB-200"]
    assert _skus(client.get("/catalog/products?q=BRASS").get_data(as_text=True)) == ["XY-1"]
    body = client.get("/catalog/products?q=nothing-like-it").get_data(as_text=True)
    assert _skus(body) == [] and "No product matches “nothing-like-it”" in body


def test_list__kind_and_archived_filters(client, login, db):
    """Do the kind and status filters narrow the list, with archived products hidden by
    default?"""
    new_product("A-STOCK")
    new_product("B-SERVICE", kind="service")
    old = new_product("C-OLD")
    old.active = False
    db.session.commit()
    login("sales")
    assert _skus(client.get("/catalog/products").get_data(as_text=True)) == [
        "A-STOCK", "B-SERVICE"]
    assert _skus(client.get("/catalog/products?kind=service").get_data(as_text=True)) == [
        "B-SERVICE"]
    assert _skus(client.get("/catalog/products?active=archived").get_data(as_text=True)) == [
        "C-OLD"]
    assert _skus(client.get("/catalog/products?active=all&kind=stocked")
                 .get_data(as_text=True)) == ["A-STOCK", "C-OLD"]


def test_list__below_reorder_point_filter(client, login, db):
    """Does "below reorder point" list stocked products whose available quantity (on hand
    minus reserved) is under their point, and no others?"""
    low = new_product("LOW", reorder_point="10")
    stock_up(low, 12)
    reserve(low, 5)                                   # available 7 < 10
    new_product("EMPTY", reorder_point="1")           # never stocked: 0 < 1
    stock_up(new_product("PLENTY", reorder_point="10"), 30)
    new_product("NOPOINT")                            # point 0: never suggested
    new_product("SVC", kind="service")
    login("operations")
    body = client.get("/catalog/products?below=1").get_data(as_text=True)
    assert _skus(body) == ["EMPTY", "LOW"]
    assert "Reorder</span>" in body


def test_list__preferred_supplier_filter(client, login, db):
    """Does the supplier filter keep the products whose preferred supplier it is?"""
    acme = new_supplier("Acme Parts")
    other = new_supplier("Other Ltd")
    new_product("P-ACME", preferred_supplier=acme)
    new_product("P-OTHER", preferred_supplier=other)
    new_product("P-NONE")
    login("sales")
    body = client.get(f"/catalog/products?supplier={acme.id}").get_data(as_text=True)
    assert _skus(body) == ["P-ACME"]
    assert client.get("/catalog/products?supplier=999999").status_code == 404


def test_list__pages_by_sku_with_keyset_cursors(client, login, db):
    """Are pages 50 products long in SKU order, and do next and previous links walk them
    without gaps or repeats?"""
    from models.catalog import create_product

    for n in range(55):
        create_product(sku=f"P-{n:03d}", name=f"Part {n}", list_price=Decimal("1.00"),
                       cost=Decimal(0), tax_rate=None)
    db.session.commit()
    login("sales")
    first = client.get("/catalog/products").get_data(as_text=True)
    assert _skus(first) == [f"P-{n:03d}" for n in range(50)]
    assert 'rel="prev"' not in first
    next_url = re.search(r'href="([^"]+)" rel="next"', first).group(1).replace("&amp;", "&")
    second = client.get(next_url).get_data(as_text=True)
    assert _skus(second) == [f"P-{n:03d}" for n in range(50, 55)]
    assert 'rel="next"' not in second
    prev_url = re.search(r'href="([^"]+)" rel="prev"', second).group(1).replace("&amp;", "&")
    assert _skus(client.get(prev_url).get_data(as_text=True)) == _skus(first)


@pytest.mark.parametrize("query", [
    "kind=goods", "active=maybe", "below=yes", "supplier=abc", "supplier=1%20OR%201=1",
    "sort=name", "colour=red", "after=not-a-cursor", "before=%%%", "kind=stocked&kind=service",
])
def test_list__unknown_or_malformed_filter_is_400(client, login, db, query):
    """Is a filter outside the whitelist, or a broken cursor, answered 400?"""
    new_product("ONE")
    login("sales")
    assert client.get(f"/catalog/products?{query}").status_code == 400


def test_list__htmx_search_gets_the_results_block_only(client, login, db):
    """Does a partial htmx request get the results section alone, not the whole page?"""
    new_product("FRAG-1", "Fragment part")
    login("sales")
    response = client.htmx("get", "/catalog/products?q=fragment")
    body = response.get_data(as_text=True)
    assert "<html" not in body and 'id="results"' in body and "FRAG-1" in body
    assert response.headers["Cache-Control"] == "no-store"
    page = client.get("/catalog/products").get_data(as_text=True)
    assert 'hx-trigger="input changed delay:250ms' in page and 'hx-push-url="true"' in page


# --- The product page --------------------------------------------------------------------

def test_page__shows_levels_per_location_and_moves_newest_first(client, login, db, users):
    """Does the page show stock per location with totals, and the moves newest first with
    from -> to, reference and who?"""
    from models.stock import add_location

    product = new_product("LEVEL-1", "Level part")
    shelf = add_location(code="WH/SHELF-A", name="Shelf A")
    db.session.commit()
    stock_up(product, 7, "2.00", by=users["operations"], reference="PO-2026-0001")
    stock_up(product, 3, "3.00", location=shelf, reference="PO-2026-0002")
    reserve(product, 2)
    login("operations")
    body = client.get(f"/catalog/products/{product.id}").get_data(as_text=True)
    levels = body.split('class="compact stock-levels"')[1].split("<tbody>")[1].split("</table>")[0]
    assert "WH/SHELF-A" in levels and "WH/STOCK" in levels
    assert re.findall(r'class="num[^"]*">([^<]+)', levels) == ["3", "0", "3", "7", "2", "5"]
    totals = body.split('class="facts stock-totals"')[1].split("</dl>")[0]
    assert "10 pc" in totals and "2 pc" in totals and "8 pc" in totals
    moves = body.split('class="list stock-moves"')[1].split("</table>")[0]
    assert moves.index("PO-2026-0002") < moves.index("PO-2026-0001")
    assert "SUPPLIERS → WH/STOCK" in moves and "SUPPLIERS → WH/SHELF-A" in moves
    assert "Otto Ops" in moves and "Reserved" in moves


def test_page__sales_see_price_and_availability_but_no_cost(app, client, login, db):
    """Do sales see price and availability but neither cost nor stock value, while
    operations and finance see both?"""
    product = new_product("COST-1", list_price="99.00")
    stock_up(product, 4, "12.3456")
    product.name = "Renamed"          # an audited change next to the cost history
    db.session.commit()
    login("sales")
    body = client.get(f"/catalog/products/{product.id}").get_data(as_text=True)
    assert "99.00" in body and "4 pc" in body
    assert "12.3456" not in body and "Stock value" not in body
    assert "Average cost" not in body and ">cost<" not in body
    for role in ("operations", "finance"):
        other = app.test_client()
        login(role, other)
        body = other.get(f"/catalog/products/{product.id}").get_data(as_text=True)
        assert "12.3456" in body and "EUR 49.38" in body, role


def test_page__lists_open_purchase_order_lines(client, login, db, users):
    """Does the page list the open purchase order lines for the product with what is still
    to come?"""
    supplier = new_supplier("Parts Direct")
    product = new_product("PO-PART")
    order = create_purchase_order(supplier, by=users["operations"], lines=[
        LineInput(product=product, quantity=Decimal("25"), unit_cost=Decimal("1.50"))])
    db.session.commit()
    login("sales")
    body = client.get(f"/catalog/products/{product.id}").get_data(as_text=True)
    section = body.split('id="orders-h"')[1].split("</section>")[0]
    assert order.number in section and "Parts Direct" in section and "25" in section
    assert "1.5000" not in section   # sales do not see costs


def test_page__history_shows_changes(client, login, db):
    """Does the product page show the audit history of the product?"""
    login("operations")
    client.post("/catalog/products/new", data=FORM)
    product = db.session.scalar(select(Product).where(Product.sku == "NEW-1"))
    client.post(f"/catalog/products/{product.id}/edit", data=_form_of(product, name="Red widget"))
    body = client.get(f"/catalog/products/{product.id}").get_data(as_text=True)
    history = body.split('id="history-h"')[1]
    assert "operations@example.test" in history and "Red widget" in history


def test_page__service_unknown_id_and_buttons_by_role(app, client, login, db):
    """Does a service say it has no stock, an unknown id give 404, and only catalog roles
    see Edit and Archive?"""
    service = new_product("SRV", kind="service", unit="h")
    login("sales")
    body = client.get(f"/catalog/products/{service.id}").get_data(as_text=True)
    assert "A service has no stock" in body
    assert f"/catalog/products/{service.id}/edit" not in body and "Archive" not in body
    assert client.get("/catalog/products/987654").status_code == 404
    ops = app.test_client()
    login("operations", ops)
    body = ops.get(f"/catalog/products/{service.id}").get_data(as_text=True)
    assert f"/catalog/products/{service.id}/edit" in body and ">Archive<" in body


# --- Adding and editing ------------------------------------------------------------------

def test_new__creates_a_product_with_rate_and_supplier(client, login, db):
    """Does a valid form create the product with its tax rate and preferred supplier, and
    go to its page?"""
    rate = new_tax_rate("20", "VAT 20%")
    supplier = new_supplier("Acme")
    login("operations")
    response = client.post("/catalog/products/new", data=FORM | {
        "tax_rate_id": str(rate.id), "preferred_supplier_id": str(supplier.id),
        "allow_backorder": "y"})
    assert response.status_code == 302
    product = db.session.scalar(select(Product).where(Product.sku_key == "NEW-1"))
    assert response.headers["Location"] == f"/catalog/products/{product.id}"
    assert (product.name, product.list_price, product.cost) == (
        "Blue widget", Decimal("12.50"), Decimal("4.2000"))
    assert (product.tax_rate_id, product.preferred_supplier_id) == (rate.id, supplier.id)
    assert (product.reorder_point, product.reorder_qty) == (Decimal(5), Decimal(20))
    assert product.allow_backorder and product.active


@pytest.mark.parametrize("field, value, message", [
    ("list_price", "-1.00", "Enter an amount of zero or more."),
    ("list_price", "abc", "Enter a number"),
    ("cost", "1.23456", "Use at most 4 decimals."),
    ("reorder_point", "2.5", "This unit is counted in whole pieces."),
    ("sku", "ab-1", "SKU ab-1 is already used by another product."),
    ("sku", "HAS SPACE", "A SKU has no spaces."),
    ("name", "", "Enter a name."),
    ("name", "x" * 201, "Use at most 200 characters."),
])
def test_new__bad_input_is_422_with_the_message_and_writes_nothing(
        client, login, db, field, value, message):
    """Is each bad input answered 422 with its message beside the field, input kept, and
    nothing written?"""
    new_product("AB-1")
    login("operations")
    before = business_rows(db)
    response = client.post("/catalog/products/new", data=FORM | {field: value})
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert message in body
    assert re.search(rf'id="{field}-error"', body)
    assert business_rows(db) == before


def test_new__selects_offer_active_rates_and_suppliers_only(client, login, db):
    """Does the form offer active tax rates (and no tax) and active suppliers only?"""
    new_tax_rate("20", "VAT 20%")
    new_tax_rate("5", "Old reduced", active=False)
    new_supplier("Live Supplier")
    new_supplier("Gone Supplier", active=False)
    login("operations")
    body = client.get("/catalog/products/new").get_data(as_text=True)
    assert "VAT 20% (20%)" in body and "No tax" in body and "Old reduced" not in body
    assert "Live Supplier" in body and "Gone Supplier" not in body
    assert "piece (pc)" in body and "kilogram (kg)" in body


@pytest.mark.parametrize("role", ["sales", "finance"])
def test_new__roles_outside_the_catalog_are_refused(client, login, db, role):
    """May sales and finance neither open nor post the new-product form (403)?"""
    login(role)
    before = business_rows(db)
    assert client.get("/catalog/products/new").status_code == 403
    assert client.post("/catalog/products/new", data=FORM).status_code == 403
    assert business_rows(db) == before
    body = client.get("/catalog/products").get_data(as_text=True)
    assert "/catalog/products/new" not in body and "/catalog/products/import" not in body


def test_edit__saves_and_bumps_the_version(client, login, db):
    """Does a valid edit save the fields and move the version on?"""
    product = new_product("ED-1", "Old name")
    version = product.version
    login("admin")
    page = client.get(f"/catalog/products/{product.id}/edit").get_data(as_text=True)
    assert 'value="Old name"' in page and f'name="version" type="hidden" value="{product.version}"' in page
    response = client.post(f"/catalog/products/{product.id}/edit",
                           data=_form_of(product, name="New name", unit="kg",
                                         reorder_point="2.5"))
    assert response.status_code == 302
    db.session.expire_all()
    saved = db.session.get(Product, product.id)
    assert (saved.name, saved.unit, saved.reorder_point) == ("New name", "kg", Decimal("2.5"))
    assert saved.version == version + 1


def test_edit__stale_version_is_409_with_who_and_when(app, client, login, db):
    """Is a save based on an old version refused with 409 naming who changed it, and
    nothing written?"""
    product = new_product("STALE-1")
    stale = _form_of(product, name="Mine")
    admin = app.test_client()
    login("admin", admin)
    assert admin.post(f"/catalog/products/{product.id}/edit",
                      data=_form_of(product, name="Theirs")).status_code == 302
    login("operations")
    before = business_rows(db)
    response = client.post(f"/catalog/products/{product.id}/edit", data=stale)
    body = response.get_data(as_text=True)
    assert response.status_code == 409
    assert "changed by Ada Admin at" in body and 'value="Mine"' in body
    assert business_rows(db) == before


def test_edit__cost_is_read_only_once_stock_moved(client, login, db):
    """Is the cost shown read-only with a hint once a stocked product has moves, and a
    posted cost ignored (the moving average stays)?"""
    product = new_product("AVG-1", cost="1.00")
    stock_up(product, 2, "3.00")
    login("operations")
    page = client.get(f"/catalog/products/{product.id}/edit").get_data(as_text=True)
    cost_input = re.search(r'<input[^>]*id="cost"[^>]*>', page).group(0)
    assert "readonly" in cost_input and "moving-average cost" in page
    db.session.refresh(product)
    response = client.post(f"/catalog/products/{product.id}/edit",
                           data=_form_of(product, cost="99.0000", name="Still averaged"))
    assert response.status_code == 302
    db.session.expire_all()
    saved = db.session.get(Product, product.id)
    assert (saved.name, saved.cost) == ("Still averaged", Decimal("3.0000"))


def test_edit__kind_of_a_product_with_moves_cannot_change(client, login, db):
    """Is turning a stocked product with moves into a service refused (422, nothing
    written)?"""
    product = new_product("KIND-1")
    stock_up(product, 1)
    db.session.refresh(product)
    login("operations")
    before = business_rows(db)
    response = client.post(f"/catalog/products/{product.id}/edit",
                           data=_form_of(product, kind="service"))
    assert response.status_code == 422
    assert "it stays stocked" in response.get_data(as_text=True)
    assert business_rows(db) == before


def test_archive__hides_the_product_and_restore_brings_it_back(client, login, db):
    """Does Archive take the product out of the default list and Restore bring it back,
    each version-checked?"""
    product = new_product("ARC-1")
    opened_at = product.version
    login("operations")
    response = client.post(f"/catalog/products/{product.id}/archive",
                           data={"version": opened_at, "archive": "yes"})
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Product, product.id).active is False
    assert _skus(client.get("/catalog/products").get_data(as_text=True)) == []
    before = business_rows(db)
    stale = client.post(f"/catalog/products/{product.id}/archive",
                        data={"version": opened_at, "archive": "no"})
    assert stale.status_code == 409 and "after you opened it" in stale.get_data(as_text=True)
    assert business_rows(db) == before
    current = db.session.get(Product, product.id)
    client.post(f"/catalog/products/{product.id}/archive",
                data={"version": current.version, "archive": "no"})
    assert _skus(client.get("/catalog/products").get_data(as_text=True)) == ["ARC-1"]


def test_archive__sales_are_refused(client, login, db):
    """May sales not archive a product (403, nothing written)?"""
    product = new_product("ARC-2")
    login("sales")
    before = business_rows(db)
    response = client.post(f"/catalog/products/{product.id}/archive",
                           data={"version": product.version, "archive": "yes"})
    assert response.status_code == 403
    assert business_rows(db) == before


# --- The type-ahead ----------------------------------------------------------------------

def test_lookup__options_with_availability(client, login, db):
    """Does the lookup answer <option value="SKU">SKU · name — N unit available</option>,
    services without availability, archived products left out?"""
    bolt = new_product("BOLT-M6", "Bolt M6")
    stock_up(bolt, 12)
    reserve(bolt, 2)
    new_product("BOLT-SVC", "Bolt fitting", kind="service", unit="h")
    gone = new_product("BOLT-OLD", "Old bolt")
    gone.active = False
    db.session.commit()
    login("sales")
    body = client.get("/catalog/products/lookup?q=bolt").get_data(as_text=True)
    options = re.findall(r"<option[^>]*>[^<]*</option>", body)
    assert options == [
        '<option value="BOLT-M6">BOLT-M6 · Bolt M6 — 10 pc available</option>',
        '<option value="BOLT-SVC">BOLT-SVC · Bolt fitting</option>']
    assert "<html" not in body


def test_lookup__caps_at_20_and_prefers_sku_prefix(client, login, db):
    """Are at most 20 options given, SKU-prefix matches before name matches?"""
    from models.catalog import create_product

    for n in range(25):
        create_product(sku=f"Q{n:02d}", name=f"Thing {n}", list_price=Decimal("1.00"),
                       cost=Decimal(0), tax_rate=None)
    create_product(sku="ZED", name="The q0 special", list_price=Decimal("1.00"),
                   cost=Decimal(0), tax_rate=None)
    db.session.commit()
    login("sales")
    body = client.get("/catalog/products/lookup?q=q0").get_data(as_text=True)
    assert re.findall(r'value="([^"]+)"', body) == [f"Q0{n}" for n in range(10)] + ["ZED"]
    body = client.get("/catalog/products/lookup?q=thing").get_data(as_text=True)
    assert body.count("<option") == 20


def test_lookup__short_query_is_empty_and_strange_params_are_400(client, login, db):
    """Is a query under two characters an empty answer, the product_field's own field
    name accepted, and anything else a 400?"""
    new_product("AX-1", "Axle")
    login("sales")
    assert "<option" not in client.get("/catalog/products/lookup?q=a").get_data(as_text=True)
    assert "<option" not in client.get("/catalog/products/lookup").get_data(as_text=True)
    assert "AX-1" in client.get("/catalog/products/lookup?sku=ax").get_data(as_text=True)
    assert "AX-1" in client.get("/catalog/products/lookup?lines-0-sku=ax").get_data(as_text=True)
    assert "<option" not in client.get("/catalog/products/lookup?sku=xle").get_data(as_text=True)
    for query in ("colour=red", "q=ax&sku=ax", "q=ax&q=ay", "name=ax"):
        assert client.get(f"/catalog/products/lookup?{query}").status_code == 400, query
    assert count_rows(db, Product) == 1
