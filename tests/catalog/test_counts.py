"""Stock counts: the count sheet of a location (one card per product, blank = not
counted, another product by SKU), recording it (differences become adjustment moves),
the count page, the list, and refusals that write nothing."""

from decimal import Decimal

import pytest
from sqlalchemy import func, select

from models.stock import (
    Location,
    StockCount,
    StockMove,
    add_location,
    ensure_locations,
    level_drift,
    levels_for,
    location,
    receive_stock,
)
from tests.catalog.test_catalog_rules import make_product
from tests.helpers import business_rows

D = Decimal


@pytest.fixture(autouse=True)
def _no_drift(app, db):
    """Whatever a test did, the kept stock figures still match a recount from the moves."""
    yield
    db.session.rollback()
    assert level_drift() == []


@pytest.fixture
def stock(db):
    """WH/STOCK holding BOLT (10 pc) and CABLE (5.5 m); a shelf holding NUT (4 pc)."""
    ensure_locations()
    shelf = add_location(code="WH/SHELF-A", name="Shelf A", parent=location("WH"))
    made = {"bolt": make_product(sku="BOLT", name="Bolt M8"),
            "cable": make_product(sku="CABLE", name="Cable", unit="m"),
            "nut": make_product(sku="NUT", name="Nut M8")}
    receive_stock(made["bolt"], D("10"), D("1.00"))
    receive_stock(made["cable"], D("5.5"), D("0.50"))
    receive_stock(made["nut"], D("4"), D("0.10"), to=shelf)
    db.session.commit()
    made["at"] = location("WH/STOCK")
    made["shelf"] = shelf
    return made


def _on_hand(db, product, code="WH/STOCK") -> Decimal:
    db.session.expire_all()
    return next((lv.on_hand for lv in levels_for(product.id) if lv.location.code == code),
                D(0))


def _post(client, at, reason="Year-end count", **lines):
    data = {"location_id": str(at.id), "q": "", "reason": reason}
    data.update(lines)
    return client.post("/catalog/counts/new", data=data)


def test_sheet__lists_the_locations_products_as_cards(client, login, db, stock):
    """Does the sheet list each product with stock at the location, with what the books
    say and a big decimal input, plus rows to add another product by SKU, writing nothing?"""
    login("operations")
    before = business_rows(db)
    body = client.get(f"/catalog/counts/new?location_id={stock['at'].id}").get_data(as_text=True)
    assert business_rows(db) == before
    assert "Counting WH/STOCK" in body
    assert "Books say 10 pc" in body and "Books say 5.5 m" in body
    assert f'name="count-{stock["bolt"].id}"' in body
    assert f'name="count-{stock["nut"].id}"' not in body  # it is on the shelf
    assert body.count('inputmode="decimal"') >= 5
    assert 'name="extra-1-sku"' in body and 'class="count-card' in body


def test_sheet__choosing_another_location_by_htmx_gets_its_sheet(client, login, db, stock):
    """Does picking the shelf (htmx) return only the sheet, with the shelf's products?"""
    login("operations")
    body = client.htmx("get", f"/catalog/counts/new?location_id={stock['shelf'].id}").get_data(
        as_text=True)
    assert body.lstrip().startswith('<form id="count-sheet"')
    assert f'name="count-{stock["nut"].id}"' in body
    assert f'name="count-{stock["bolt"].id}"' not in body


def test_sheet__filter_narrows_the_products(client, login, db, stock):
    """Does "Only products matching" narrow the sheet to matching SKUs or names?"""
    login("operations")
    body = client.get(f"/catalog/counts/new?location_id={stock['at'].id}&q=cab").get_data(
        as_text=True)
    assert f'name="count-{stock["cable"].id}"' in body
    assert f'name="count-{stock["bolt"].id}"' not in body


@pytest.mark.parametrize("query", ["location_id=abc", "location_id=999999", "colour=red"])
def test_sheet__bad_location_or_filter_is_400(client, login, db, stock, query):
    """Is an unknown location, junk or an unknown parameter on the sheet a 400?"""
    login("operations")
    assert client.get(f"/catalog/counts/new?{query}").status_code == 400


def test_record__differences_become_adjustment_moves(client, login, db, stock, users):
    """Does a count make one adjustment move per difference (out for less, in for more),
    none for a match, and leave the levels at what was counted?"""
    bolt, cable = stock["bolt"], stock["cable"]
    extra = make_product(sku="WASHER")
    db.session.commit()
    login("operations")
    response = _post(client, stock["at"], **{
        f"count-{bolt.id}": "8", f"count-{cable.id}": "5.500",
        "extra-1-sku": "washer", "extra-1-qty": "3"})
    assert response.status_code == 302
    count = db.session.scalars(select(StockCount)).one()
    assert response.headers["Location"].endswith(f"/catalog/counts/{count.id}")
    assert (_on_hand(db, bolt), _on_hand(db, cable), _on_hand(db, extra)) == (
        D(8), D("5.5"), D(3))
    moves = {m.product.sku: (m.from_location.code, m.to_location.code, m.quantity, m.reason)
             for m in db.session.scalars(select(StockMove).where(
                 StockMove.source_type == "count"))}
    assert moves == {"BOLT": ("WH/STOCK", "ADJUST", D(2), "Year-end count"),
                     "WASHER": ("ADJUST", "WH/STOCK", D(3), "Year-end count")}
    assert count.counted_by_id == users["operations"].id
    assert level_drift() == []


def test_record__blank_means_not_counted(client, login, db, stock):
    """Is a product left blank left out of the count and untouched?"""
    login("operations")
    response = _post(client, stock["at"], **{f"count-{stock['bolt'].id}": "0",
                                             f"count-{stock['cable'].id}": ""})
    assert response.status_code == 302
    count = db.session.scalars(select(StockCount)).one()
    assert [line.product.sku for line in count.lines] == ["BOLT"]
    assert (_on_hand(db, stock["bolt"]), _on_hand(db, stock["cable"])) == (D(0), D("5.5"))


def test_count_page__shows_expected_counted_difference_and_moves(app, client, login, db,
                                                                stock):
    """Does the count page show expected, counted and the difference per line, with links
    to the adjustment moves (seen by any role)?"""
    login("operations")
    _post(client, stock["at"], **{f"count-{stock['bolt'].id}": "7",
                                  f"count-{stock['cable'].id}": "6.25"})
    count = db.session.scalars(select(StockCount)).one()
    sales = app.test_client()
    login("sales", sales)
    body = sales.get(f"/catalog/counts/{count.id}").get_data(as_text=True)
    bolt_row = body.split("BOLT", 1)[1].split("</tr>")[0]
    cable_row = body.split("CABLE", 1)[1].split("</tr>")[0]
    assert "10 pc" in bolt_row and "7 pc" in bolt_row and ">-3<" in bolt_row
    assert "5.5 m" in cable_row and "6.25 m" in cable_row and ">+0.75<" in cable_row
    assert "out of WH/STOCK" in bolt_row and "into WH/STOCK" in cable_row
    assert f"/catalog/moves?source_type=count&amp;source_id={count.id}" in body
    moves = sales.get(f"/catalog/moves?source_type=count&source_id={count.id}").get_data(
        as_text=True)
    assert moves.count(f"COUNT-{count.id}") == 2


@pytest.mark.parametrize("lines, message", [
    ({"bolt": "-1"}, "Enter a quantity of zero or more."),
    ({"bolt": "2.5"}, "This unit is counted in whole pieces."),
    ({"cable": "1.2345"}, "Use at most 3 decimals."),
    ({"bolt": "ten"}, "Enter a number"),
    ({"extra-1-sku": "NOPE-9", "extra-1-qty": "1"}, "No product with SKU NOPE-9."),
    ({"extra-1-sku": "BOLT", "extra-1-qty": "1", "bolt": "2"}, "BOLT is counted twice"),
    ({"extra-1-sku": "CABLE", "extra-1-qty": ""}, "Enter the counted quantity."),
    ({"extra-1-sku": "", "extra-1-qty": "4"}, "Enter the product&#39;s SKU."),
    ({}, "Enter at least one counted quantity."),
])
def test_record__bad_input_is_422_beside_the_line_and_writes_nothing(client, login, db, stock,
                                                                     lines, message):
    """Is a negative, a fraction of a piece, junk, an unknown or repeated SKU, a half-filled
    extra row or an empty count refused with the message and nothing written?"""
    data = {}
    for key, value in lines.items():
        data[f"count-{stock[key].id}" if key in stock else key] = value
    login("operations")
    before = business_rows(db)
    response = _post(client, stock["at"], **data)
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert message in body
    assert business_rows(db) == before
    for value in data.values():
        assert f'value="{value}"' in body  # the typed input is kept


def test_record__error_sits_on_the_products_card(client, login, db, stock):
    """Is a bad quantity marked on its own card, with the message beside the input?"""
    bolt = stock["bolt"]
    login("operations")
    body = _post(client, stock["at"], **{f"count-{bolt.id}": "-2"}).get_data(as_text=True)
    assert f'<p class="error" id="count-{bolt.id}-error">Enter a quantity of zero or more.' in body
    assert f'aria-describedby="count-{bolt.id}-hint count-{bolt.id}-error"' in body


def test_record__a_service_sku_is_refused(client, login, db, stock):
    """Is a service typed in an extra row refused: services are not counted?"""
    make_product(sku="SETUP", kind="service", unit="h")
    db.session.commit()
    login("operations")
    before = business_rows(db)
    response = _post(client, stock["at"], **{"extra-1-sku": "SETUP", "extra-1-qty": "1"})
    assert response.status_code == 422
    assert "SETUP is a service; services are not counted." in response.get_data(as_text=True)
    assert business_rows(db) == before


def test_record__reason_and_location_are_required(client, login, db, stock):
    """Is a count without a reason, or at a location that holds no stock, refused?"""
    bolt = stock["bolt"]
    login("operations")
    before = business_rows(db)
    response = _post(client, stock["at"], reason=" ", **{f"count-{bolt.id}": "1"})
    assert response.status_code == 422
    assert "Say why you counted" in response.get_data(as_text=True)
    warehouse = db.session.scalar(select(Location).where(Location.code == "WH"))
    response = _post(client, warehouse, **{f"count-{bolt.id}": "1"})
    assert response.status_code == 422
    assert "Choose an active location that holds stock." in response.get_data(as_text=True)
    assert business_rows(db) == before


@pytest.mark.parametrize("role", ["sales", "finance"])
def test_record__only_stock_roles_may_count(client, login, db, stock, role):
    """Are sales and finance refused (403) the count sheet and its post?"""
    login(role)
    before = business_rows(db)
    assert client.get("/catalog/counts/new").status_code == 403
    assert _post(client, stock["at"], **{f"count-{stock['bolt'].id}": "1"}).status_code == 403
    assert business_rows(db) == before


def test_list__shows_counts_with_their_figures_and_filters(app, client, login, db, stock):
    """Does the list show each count's location, reason, lines and adjustments, newest
    first, and filter by location?"""
    login("operations")
    _post(client, stock["at"], reason="Spot check", **{f"count-{stock['bolt'].id}": "10"})
    _post(client, stock["shelf"], reason="Shelf count", **{f"count-{stock['nut'].id}": "3"})
    assert db.session.scalar(select(func.count(StockCount.id))) == 2
    client = app.test_client()
    login("sales", client)
    body = client.get("/catalog/counts").get_data(as_text=True)
    assert body.index("Shelf count") < body.index("Spot check")
    shelf_row = body.split("Shelf count")[1].split("</tr>")[0]
    assert '<td data-label="Lines" class="num">1</td>' in shelf_row
    assert '<td data-label="Adjusted" class="num">1</td>' in shelf_row
    assert "/catalog/counts/new" not in body  # sales may not count
    only = client.get(f"/catalog/counts?location_id={stock['shelf'].id}").get_data(as_text=True)
    assert "Shelf count" in only and "Spot check" not in only
    assert client.get("/catalog/counts?location_id=x").status_code == 400
    assert client.get("/catalog/counts?sort=reason").status_code == 400
    assert client.get("/catalog/counts/99999").status_code == 404


def test_fresh_database__sheet_says_there_is_nothing_to_count(client, login, db):
    """With no locations yet, does the sheet explain itself and write nothing?"""
    login("operations")
    before = business_rows(db)
    body = client.get("/catalog/counts/new").get_data(as_text=True)
    assert "No active location holds stock yet" in body
    assert business_rows(db) == before
