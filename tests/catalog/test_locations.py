"""Stock locations page: the warehouse tree and the virtual locations, the default
locations made by a button (never by opening the page), adding a sub-location, renaming
and archiving one (version-checked; never while stock is there)."""

from decimal import Decimal

import pytest
from sqlalchemy import select

from models.stock import Location, add_location, ensure_locations, location, receive_stock
from tests.catalog.test_catalog_rules import make_product
from tests.helpers import business_rows

D = Decimal


def _defaults(db):
    ensure_locations()
    db.session.commit()


def _loc(db, code) -> Location:
    db.session.expire_all()
    return db.session.scalar(select(Location).where(Location.code == code))


def _edit(place, **changes) -> dict:
    data = {"version": str(place.version), "name": place.name}
    if place.active:
        data["active"] = "y"
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def test_fresh_database__page_offers_the_defaults_and_writes_nothing(client, login, db):
    """On an empty database, does the page explain the defaults and offer to create them,
    without creating anything itself?"""
    login("operations")
    before = business_rows(db)
    body = client.get("/catalog/locations").get_data(as_text=True)
    assert "no stock locations yet" in body
    assert "Create the default locations" in body
    assert business_rows(db) == before
    assert db.session.scalar(select(Location.id)) is None


def test_defaults__the_button_creates_them_and_the_tree_shows_them(client, login, db):
    """Does the button create WH with WH/STOCK under it, and the virtual ones apart?"""
    login("operations")
    response = client.post("/catalog/locations/defaults")
    assert response.status_code == 302
    body = client.get("/catalog/locations").get_data(as_text=True)
    assert {loc.code for loc in db.session.scalars(select(Location))} == {
        "WH", "WH/STOCK", "SUPPLIERS", "CUSTOMERS", "ADJUST"}
    warehouses, virtual = body.split('id="virtual-head"')
    assert 'class="loc-depth-1"' in warehouses and "WH/STOCK" in warehouses
    assert "SUPPLIERS" in virtual and "ADJUST" in virtual and "SUPPLIERS" not in warehouses
    assert "Create the default locations" not in body


@pytest.mark.parametrize("role", ["sales", "finance"])
def test_readers__see_the_locations_but_cannot_change_them(client, login, db, role):
    """Do sales and finance see the locations without add or edit links, and get 403 when
    they post?"""
    _defaults(db)
    login(role)
    body = client.get("/catalog/locations").get_data(as_text=True)
    assert "WH/STOCK" in body
    assert "/catalog/locations/new" not in body and "/edit" not in body
    assert "Create the default locations" not in body
    before = business_rows(db)
    assert client.post("/catalog/locations/new", data={
        "code": "WH/X", "name": "X", "parent_id": ""}).status_code == 403
    stock = _loc(db, "WH/STOCK")
    assert client.post(f"/catalog/locations/{stock.id}/edit",
                       data=_edit(stock, name="Renamed")).status_code == 403
    assert client.post("/catalog/locations/defaults").status_code == 403
    assert business_rows(db) == before


def test_tree__counts_the_products_on_hand_per_location(client, login, db):
    """Does each location show how many products have stock on hand there?"""
    _defaults(db)
    shelf = add_location(code="WH/SHELF-A", name="Shelf A", parent=location("WH"))
    for sku in ("A-1", "A-2"):
        receive_stock(make_product(sku=sku), D("3"), D("1.00"))
    receive_stock(make_product(sku="A-3"), D("1"), D("1.00"), to=shelf)
    db.session.commit()
    login("sales")
    body = client.get("/catalog/locations").get_data(as_text=True)
    stock_row = body.split("<strong>WH/STOCK</strong>")[1].split("</tr>")[0]
    shelf_row = body.split("<strong>WH/SHELF-A</strong>")[1].split("</tr>")[0]
    assert '<td data-label="Products on hand" class="num">2</td>' in stock_row
    assert '<td data-label="Products on hand" class="num">1</td>' in shelf_row


def test_add__a_sub_location_under_the_warehouse(client, login, db):
    """Does adding a shelf save it upper-cased under its parent and list it indented?"""
    _defaults(db)
    warehouse = _loc(db, "WH")
    login("operations")
    form = client.get(f"/catalog/locations/new?parent_id={warehouse.id}").get_data(as_text=True)
    assert f'<option selected value="{warehouse.id}">' in form
    response = client.post("/catalog/locations/new", data={
        "code": "wh/shelf-b", "name": "Shelf B", "parent_id": str(warehouse.id)})
    assert response.status_code == 302
    shelf = _loc(db, "WH/SHELF-B")
    assert (shelf.name, shelf.kind, shelf.parent_id) == ("Shelf B", "internal", warehouse.id)
    body = client.get("/catalog/locations").get_data(as_text=True)
    assert "<strong>WH/SHELF-B</strong> · Shelf B" in body


@pytest.mark.parametrize("data, message", [
    ({"code": "WH/STOCK", "name": "Again"}, "Location WH/STOCK already exists."),
    ({"code": "WH SHELF", "name": "Spaces"}, "Use a code without spaces."),
    ({"code": "", "name": "No code"}, "Enter a code."),
    ({"code": "WH/NEW", "name": " "}, "Enter a name."),
    ({"code": "WH/NEW", "name": "Bad parent", "parent_id": "999"}, "Not a valid choice"),
])
def test_add__bad_input_is_422_next_to_the_field_and_writes_nothing(client, login, db, data,
                                                                    message):
    """Is a duplicate code, a code with spaces, a blank field or an unknown parent refused
    with the message and nothing saved?"""
    _defaults(db)
    login("operations")
    before = business_rows(db)
    response = client.post("/catalog/locations/new", data={"parent_id": "", **data})
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert business_rows(db) == before


def test_edit__renames_a_location(client, login, db):
    """Does saving a new name change it and bump the version?"""
    _defaults(db)
    stock = _loc(db, "WH/STOCK")
    login("operations")
    page = client.get(f"/catalog/locations/{stock.id}/edit").get_data(as_text=True)
    assert 'name="version"' in page and 'value="Stock"' in page
    response = client.post(f"/catalog/locations/{stock.id}/edit",
                           data=_edit(stock, name="Main stock"))
    assert response.status_code == 302
    renamed = _loc(db, "WH/STOCK")
    assert (renamed.name, renamed.active, renamed.version) == ("Main stock", True, 2)


def test_edit__a_stale_version_is_409_and_changes_nothing(client, login, db):
    """Is a save from a form loaded before someone else's change refused with who and when?"""
    _defaults(db)
    stock = _loc(db, "WH/STOCK")
    stale = _edit(stock, name="Mine")
    stock.name = "Theirs"
    db.session.commit()
    login("operations")
    before = business_rows(db)
    response = client.post(f"/catalog/locations/{stock.id}/edit", data=stale)
    assert response.status_code == 409
    assert "changed by" in response.get_data(as_text=True)
    assert business_rows(db) == before
    assert _loc(db, "WH/STOCK").name == "Theirs"


def test_edit__archiving_a_location_with_stock_is_refused(client, login, db):
    """Is archiving a location that still has stock on hand a 422 beside the box, with
    nothing written?"""
    _defaults(db)
    receive_stock(make_product(sku="HELD-1"), D("2"), D("1.00"))
    db.session.commit()
    stock = _loc(db, "WH/STOCK")
    login("operations")
    before = business_rows(db)
    response = client.post(f"/catalog/locations/{stock.id}/edit",
                           data=_edit(stock, active=None))
    assert response.status_code == 422
    assert "WH/STOCK still holds 1 product; move the stock elsewhere" in \
        response.get_data(as_text=True)
    assert business_rows(db) == before


def test_edit__an_empty_location_can_be_archived_and_shows_so(client, login, db):
    """Can a location without stock be archived, and does the list say it is?"""
    _defaults(db)
    shelf = add_location(code="WH/OLD", name="Old shelf", parent=location("WH"))
    db.session.commit()
    login("operations")
    response = client.post(f"/catalog/locations/{shelf.id}/edit", data=_edit(shelf, active=None))
    assert response.status_code == 302
    assert _loc(db, "WH/OLD").active is False
    row = client.get("/catalog/locations").get_data(as_text=True).split(
        "<strong>WH/OLD</strong>")[1].split("</tr>")[0]
    assert "Archived" in row


def test_edit__a_virtual_location_is_renamed_but_stays_active(client, login, db):
    """Does renaming the adjustment location (its form has no Active box) keep it active?"""
    _defaults(db)
    adjust = _loc(db, "ADJUST")
    login("admin")
    page = client.get(f"/catalog/locations/{adjust.id}/edit").get_data(as_text=True)
    assert 'name="active"' not in page
    response = client.post(f"/catalog/locations/{adjust.id}/edit",
                           data={"version": str(adjust.version), "name": "Stock corrections"})
    assert response.status_code == 302
    assert (_loc(db, "ADJUST").name, _loc(db, "ADJUST").active) == ("Stock corrections", True)


def test_locations__unknown_id_is_404_and_filters_are_400(client, login, db):
    """Is an unknown location a 404 and a query string on the list a 400?"""
    _defaults(db)
    login("operations")
    assert client.get("/catalog/locations/999999/edit").status_code == 404
    assert client.get("/catalog/locations?kind=view").status_code == 400
    assert client.get("/catalog/locations/new?parent_id=x").status_code == 400
