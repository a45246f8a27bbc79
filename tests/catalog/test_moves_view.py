"""The stock moves list (filters, keyset pages) and moving a product by hand: a transfer,
a write-off to the inventory adjustment or a take-in from it, always with a reason."""

from decimal import Decimal

import pytest
from sqlalchemy import select

from models.stock import (
    Location,
    StockMove,
    add_location,
    ensure_locations,
    level_drift,
    levels_for,
    location,
    receive_stock,
    reserve_stock,
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


def _stocked(db, sku="BOLT-1", qty="10", cost="2.00", **fields):
    """A stocked product with `qty` received into WH/STOCK, plus a shelf WH/SHELF-A."""
    ensure_locations()
    if db.session.scalar(select(Location.id).where(Location.code == "WH/SHELF-A")) is None:
        add_location(code="WH/SHELF-A", name="Shelf A", parent=location("WH"))
    product = make_product(sku=sku, **fields)
    if qty:
        receive_stock(product, D(qty), D(cost))
    db.session.commit()
    return product


def _levels(db, product) -> dict[str, tuple[Decimal, Decimal]]:
    db.session.expire_all()
    return {lv.location.code: (lv.on_hand, lv.reserved) for lv in levels_for(product.id)}


def _move(product, **data) -> dict:
    return {"from_location_id": str(location("WH/STOCK").id),
            "to_location_id": str(location("WH/SHELF-A").id), "quantity": "3",
            "reason": "Tidy up", **data}


# --- The list ----------------------------------------------------------------------------

def test_list__shows_each_moves_facts(client, login, db, users):
    """Does a row show date, product, quantity with unit, from -> to, state, reference,
    reason and who?"""
    product = _stocked(db, sku="CBL-1", qty="12.5", unit="m", name="Copper cable")
    login("operations")
    client.post(f"/catalog/products/{product.id}/move",
                data=_move(product, quantity="2.25", reason="Cut for van"))
    body = client.get("/catalog/moves").get_data(as_text=True)
    assert "CBL-1" in body and "Copper cable" in body
    assert "2.25 m" in body and "12.5 m" in body
    assert "WH/STOCK → WH/SHELF-A" in body and "SUPPLIERS → WH/STOCK" in body
    assert "Cut for van" in body and users["operations"].name in body
    assert body.index("2.25 m") < body.index("12.5 m")  # newest first
    assert 'data-label="State"><span class="badge move-done">Done' in body


def test_list__filters_by_product_location_state_and_source(client, login, db):
    """Do the product, location, state and source filters each narrow the list?"""
    bolt = _stocked(db, sku="BOLT-1", qty="5")
    nut = _stocked(db, sku="NUT-1", qty="7")
    shelf = location("WH/SHELF-A")
    receive_stock(nut, D("1"), D("1.00"), to=shelf)
    reserve_stock(bolt, D("2"), source_type="test", source_id=1, reference="SO-1")
    db.session.commit()
    login("finance")

    def skus(query):
        response = client.get(f"/catalog/moves?{query}")
        assert response.status_code == 200
        body = response.get_data(as_text=True)
        return body.count("BOLT-1</"), body.count("NUT-1</")

    assert skus("") == (2, 2)
    assert skus(f"product_id={bolt.id}") == (2, 0)
    assert skus(f"location_id={shelf.id}") == (0, 1)
    assert skus("state=reserved") == (1, 0)
    assert skus("source_type=receipt") == (1, 2)
    assert skus("source_type=count") == (0, 0)


@pytest.mark.parametrize("query", [
    "state=lost", "source_type=magic", "product_id=abc", "location_id=1;DROP",
    "product_id=99999999999", "colour=red", "after=not-a-cursor", "before=%%%",
])
def test_list__invalid_filters_are_400(client, login, db, query):
    """Is a filter outside the whitelist, or a broken page link, a 400?"""
    _stocked(db)
    login("operations")
    assert client.get(f"/catalog/moves?{query}").status_code == 400


def test_list__unknown_product_or_location_is_404(client, login, db):
    """Is a filter on a product or location that does not exist a 404?"""
    _stocked(db)
    login("operations")
    assert client.get("/catalog/moves?product_id=99999").status_code == 404
    assert client.get("/catalog/moves?location_id=99999").status_code == 404


def test_list__pages_by_keyset_newest_first(app, client, login, db):
    """With more moves than a page holds, does Next lead to the older ones without
    repeating any?"""
    product = _stocked(db, qty="")
    for n in range(1, 31):
        receive_stock(product, D(n), D("1.00"), reference=f"R-{n:02d}")
    db.session.commit()
    login("operations")
    first = client.get("/catalog/moves").get_data(as_text=True)
    assert first.count("R-") == 25 and "R-30" in first and "R-06" in first
    assert "R-05" not in first
    import re

    cursor = re.search(r'href="/catalog/moves\?after=([^"]+)" rel="next"', first).group(1)
    second = client.get(f"/catalog/moves?after={cursor}").get_data(as_text=True)
    assert second.count("R-") == 5 and "R-05" in second and "R-01" in second
    assert "R-06" not in second and 'rel="prev"' in second


def test_list__htmx_filter_gets_the_results_fragment(client, login, db):
    """Does a filter change by htmx get only the results block?"""
    _stocked(db)
    login("operations")
    body = client.htmx("get", "/catalog/moves?state=done").get_data(as_text=True)
    assert body.lstrip().startswith('<section id="results"')
    assert "<html" not in body and "BOLT-1" in body


# --- Moving by hand ----------------------------------------------------------------------

def test_move_page__shows_levels_and_the_form(client, login, db):
    """Does the move page show where the product is and a form with a reason?"""
    product = _stocked(db)
    login("operations")
    response = client.get(f"/catalog/products/{product.id}/move")
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "WH/STOCK" in body and "Inventory adjustment" in body
    assert 'name="reason"' in body and 'inputmode="decimal"' in body


def test_move__transfer_between_locations(client, login, db, users):
    """Does a transfer move the quantity from one location to the other, with the reason
    and who did it?"""
    product = _stocked(db)
    login("operations")
    response = client.post(f"/catalog/products/{product.id}/move", data=_move(product))
    assert response.status_code == 302
    assert _levels(db, product) == {"WH/STOCK": (D(7), D(0)), "WH/SHELF-A": (D(3), D(0))}
    move = db.session.scalars(select(StockMove).order_by(StockMove.id.desc())).first()
    assert (move.source_type, move.reason, move.created_by_id) == (
        "manual", "Tidy up", users["operations"].id)


def test_move__write_off_and_take_in_use_the_adjustment_location(client, login, db):
    """Does a write-off take stock out to the adjustment location and a take-in bring it
    back in from there?"""
    product = _stocked(db)
    stock = str(location("WH/STOCK").id)
    login("admin")
    client.post(f"/catalog/products/{product.id}/move", data=_move(
        product, from_location_id=stock, to_location_id="adjust", quantity="4",
        reason="Damaged"))
    assert _levels(db, product) == {"WH/STOCK": (D(6), D(0))}
    client.post(f"/catalog/products/{product.id}/move", data=_move(
        product, from_location_id="adjust", to_location_id=stock, quantity="1",
        reason="Found one"))
    assert _levels(db, product) == {"WH/STOCK": (D(7), D(0))}
    kinds = [(m.from_location.code, m.to_location.code) for m in db.session.scalars(
        select(StockMove).where(StockMove.source_type == "manual").order_by(StockMove.id))]
    assert kinds == [("WH/STOCK", "ADJUST"), ("ADJUST", "WH/STOCK")]


@pytest.mark.parametrize("data, message", [
    ({"quantity": "11"}, "Only 10 pc of BOLT-1 on hand at WH/STOCK; this would take it below zero."),
    ({"quantity": "1.5"}, "This unit is counted in whole pieces."),
    ({"quantity": "0"}, "Enter a quantity above zero."),
    ({"quantity": "lots"}, "Enter a number"),
    ({"reason": "  "}, "Say why the stock moves."),
    ({"to_location_id": "stock"}, "Choose two different locations."),
    ({"from_location_id": "adjust", "to_location_id": "adjust"}, "Choose two different locations."),
    ({"to_location_id": "999999"}, "Not a valid choice"),
])
def test_move__bad_input_is_422_and_writes_nothing(client, login, db, data, message):
    """Is a move below zero, a fraction of a piece, a blank reason or the same location
    twice refused with the message and nothing written?"""
    product = _stocked(db)
    if data.get("to_location_id") == "stock":
        data = {**data, "to_location_id": str(location("WH/STOCK").id)}
    login("operations")
    before = business_rows(db)
    response = client.post(f"/catalog/products/{product.id}/move", data=_move(product, **data))
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert business_rows(db) == before


def test_move__below_zero_message_sits_next_to_the_quantity(client, login, db):
    """Is the below-zero refusal shown beside the quantity field?"""
    product = _stocked(db)
    login("operations")
    body = client.post(f"/catalog/products/{product.id}/move",
                       data=_move(product, quantity="12")).get_data(as_text=True)
    assert '<p class="error" id="quantity-error">Only 10 pc of BOLT-1' in body


def test_move__reserved_stock_stays_put(client, login, db):
    """Is moving stock that is reserved for an order refused, naming what is free?"""
    product = _stocked(db)
    reserve_stock(product, D("8"), source_type="test", source_id=1)
    db.session.commit()
    login("operations")
    before = business_rows(db)
    response = client.post(f"/catalog/products/{product.id}/move",
                           data=_move(product, quantity="3"))
    assert response.status_code == 422
    assert "Only 2 pc of BOLT-1 at WH/STOCK is free; 8 is reserved" in response.get_data(
        as_text=True)
    assert business_rows(db) == before


def test_move__a_service_has_no_stock_to_move(client, login, db):
    """Does a service's move page say it has no stock, and is a post a 422 writing nothing?"""
    ensure_locations()
    service = make_product(sku="SETUP", kind="service", unit="h")
    db.session.commit()
    login("operations")
    page = client.get(f"/catalog/products/{service.id}/move").get_data(as_text=True)
    assert "SETUP is a service; services have no stock to move." in page
    assert 'name="quantity"' not in page
    before = business_rows(db)
    response = client.post(f"/catalog/products/{service.id}/move", data={
        "from_location_id": "adjust", "to_location_id": str(location("WH/STOCK").id),
        "quantity": "1", "reason": "Try"})
    assert response.status_code == 422
    assert "services have no stock" in response.get_data(as_text=True)
    assert business_rows(db) == before


@pytest.mark.parametrize("role", ["sales", "finance"])
def test_move__only_stock_roles_may_move(client, login, db, role):
    """Are sales and finance refused (403) the move page and its post, with nothing written?"""
    product = _stocked(db)
    login(role)
    before = business_rows(db)
    assert client.get(f"/catalog/products/{product.id}/move").status_code == 403
    assert client.post(f"/catalog/products/{product.id}/move",
                       data=_move(product)).status_code == 403
    assert business_rows(db) == before


def test_move__unknown_product_is_404(client, login, db):
    """Is the move page of a product that does not exist a 404?"""
    login("operations")
    assert client.get("/catalog/products/424242/move").status_code == 404
