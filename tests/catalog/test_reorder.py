"""The reorder screen: what needs buying grouped by preferred supplier, and the chosen
products turned into draft purchase orders, one per supplier; a repeated post orders
nothing twice (the form's one-time key, and the rule checking again), and refusals write
nothing."""

import re
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from models import PurchaseLine, PurchaseOrder
from models.stock import ensure_locations, receive_stock, reserve_stock
from tests.catalog.test_catalog_rules import make_product, make_supplier
from tests.helpers import business_rows, count_rows, form_key

D = Decimal


@pytest.fixture
def shop(db):
    """Two suppliers; products below their reorder point (two from Acme, one from Bolt &
    Co, one without a supplier) and one with enough stock."""
    ensure_locations()
    acme, bolts = make_supplier("Acme Tools"), make_supplier("Bolt & Co")
    made = {
        "acme": acme, "bolts": bolts,
        # on hand 3, reserved 1 -> available 2; point 10 -> shortfall 8 < qty 20: 20
        "drill": make_product(sku="DRILL", reorder_point=D(10), reorder_qty=D(20),
                              preferred_supplier=acme),
        # on hand 0; point 5, qty 2 -> shortfall 5 > 2: 5
        "saw": make_product(sku="SAW", reorder_point=D(5), reorder_qty=D(2),
                            preferred_supplier=acme),
        # 1.5 kg on hand, point 4.25, qty 0 -> shortfall 2.75
        "grease": make_product(sku="GREASE", unit="kg", reorder_point=D("4.25"),
                               reorder_qty=D(0), preferred_supplier=bolts),
        "orphan": make_product(sku="ORPHAN", reorder_point=D(3), reorder_qty=D(3)),
        "plenty": make_product(sku="PLENTY", reorder_point=D(2), reorder_qty=D(5),
                               preferred_supplier=acme),
    }
    receive_stock(made["drill"], D(3), D("4.00"))
    reserve_stock(made["drill"], D(1), source_type="test", source_id=1)
    receive_stock(made["grease"], D("1.5"), D("2.00"))
    receive_stock(made["plenty"], D(9), D("1.00"))
    db.session.commit()
    return made


def _orders(db) -> dict[str, list[tuple[str, Decimal]]]:
    """{supplier name: [(sku, quantity)]} of every purchase order."""
    db.session.expire_all()
    found = {}
    for order in db.session.scalars(select(PurchaseOrder).order_by(PurchaseOrder.id)):
        assert order.status == "draft"
        found[order.supplier.name] = [(line.product.sku, line.quantity) for line in order.lines]
    return found


def _form(shop, *keys, **quantities) -> dict:
    """The reorder form with `keys` ticked and `quantities` typed, and a key of its own."""
    data = {"product_id": [str(shop[key].id) for key in keys], "form_key": form_key()}
    for key, value in quantities.items():
        data[f"qty-{shop[key].id}"] = value
    return data


def test_page__lists_suggestions_grouped_by_supplier(client, login, db, shop):
    """Does each supplier get its group with its products' on hand, reserved, available,
    on order, reorder point and suggested quantity, ticked by default?"""
    login("operations")
    body = client.get("/catalog/reorder").get_data(as_text=True)
    acme = body.split("Acme Tools")[1].split("Bolt &amp; Co")[0]
    assert "DRILL" in acme and "SAW" in acme and "GREASE" not in acme
    assert "PLENTY" not in body
    drill = acme.split("DRILL", 1)[1].split("</tr>")[0]
    cells = re.findall(r'class="num">\s*([\d.]+)\s*<', drill)
    assert cells == ["3", "1", "2", "0", "10"]  # on hand, reserved, available, on order, point
    assert f'name="qty-{shop["drill"].id}" value="20"' in drill
    assert f'name="product_id" value="{shop["drill"].id}" checked' in body
    assert f'name="qty-{shop["grease"].id}" value="2.75"' in body
    assert body.index("Acme Tools") < body.index("Bolt &amp; Co") < body.index(
        "No preferred supplier")


def test_page__product_without_supplier_is_flagged_and_not_ticked(client, login, db, shop):
    """Is a product without a preferred supplier shown apart, flagged, and left unticked?"""
    login("admin")
    body = client.get("/catalog/reorder").get_data(as_text=True)
    orphans = body.split('id="group-none"')[1]
    assert "ORPHAN" in orphans and "No preferred supplier" in orphans
    assert f'name="product_id" value="{shop["orphan"].id}"' in orphans
    assert f'value="{shop["orphan"].id}" checked' not in orphans


def test_page__finance_sees_it_without_ordering(client, login, db, shop):
    """Does finance see the suggestions but no boxes, inputs or order button?"""
    login("finance")
    body = client.get("/catalog/reorder").get_data(as_text=True)
    assert "DRILL" in body and "20 pc" in body
    assert 'name="product_id"' not in body and "Create draft purchase orders" not in body


def test_roles__sales_may_neither_see_nor_order(client, login, db, shop):
    """Is the reorder page and its post refused to sales (403), writing nothing?"""
    login("sales")
    before = business_rows(db)
    assert client.get("/catalog/reorder").status_code == 403
    assert client.post("/catalog/reorder", data=_form(shop, "drill")).status_code == 403
    assert business_rows(db) == before


def test_roles__finance_may_not_order(app, login, db, shop):
    """Is the order post refused to finance (403)?"""
    client = app.test_client()
    login("finance", client)
    before = business_rows(db)
    assert client.post("/catalog/reorder", data=_form(shop, "drill")).status_code == 403
    assert business_rows(db) == before


def test_order__one_draft_po_per_supplier_with_the_quantities(app, client, login, db, shop,
                                                             users):
    """Do the ticked products become one draft order per preferred supplier, at the typed
    quantity where one was changed and the suggestion elsewhere?"""
    login("operations")
    response = client.post("/catalog/reorder", data=_form(
        shop, "drill", "saw", "grease", drill="25", saw="", grease="3.5"))
    assert response.status_code == 302
    expected = "/orders/purchases" if "orders.purchases" in app.view_functions \
        else "/catalog/reorder"
    assert response.headers["Location"].endswith(expected)
    assert _orders(db) == {"Acme Tools": [("DRILL", D(25)), ("SAW", D(5))],
                           "Bolt & Co": [("GREASE", D("3.5"))]}
    creator = {o.created_by_id for o in db.session.scalars(select(PurchaseOrder))}
    assert creator == {users["operations"].id}


def test_order__flash_names_the_new_orders(client, login, db, shop):
    """Does the confirmation name the draft order it made?"""
    login("operations")
    client.post("/catalog/reorder", data=_form(shop, "grease"))
    number = db.session.scalar(select(PurchaseOrder.number))
    body = client.get("/catalog/reorder").get_data(as_text=True)
    assert f"Draft purchase order {number} created." in body
    assert _orders(db) == {"Bolt & Co": [("GREASE", D("2.75"))]}


def test_order__a_repeated_post_orders_nothing_twice(client, login, db, shop):
    """Is the same form posted again (double click, retry) sent to the orders it made,
    creating nothing?"""
    login("operations")
    data = _form(shop, "drill", "saw")
    first = client.post("/catalog/reorder", data=data)
    assert first.status_code == 302
    before = business_rows(db)
    response = client.post("/catalog/reorder", data=data)
    assert response.status_code == 302
    assert response.headers["Location"] == first.headers["Location"]
    assert business_rows(db) == before
    assert db.session.scalar(select(func.count(PurchaseOrder.id))) == 1


def test_order__the_selection_again_from_another_page_orders_nothing_twice(
        client, login, db, shop):
    """Is the same selection posted from another page (its own key) refused, as it is on
    order now, saying so?"""
    login("operations")
    assert client.post("/catalog/reorder", data=_form(shop, "drill", "saw")).status_code == 302
    before = business_rows(db)
    response = client.post("/catalog/reorder", data=_form(shop, "drill", "saw"))
    assert response.status_code == 422
    assert "None of the chosen products needs reordering any more." in response.get_data(
        as_text=True)
    assert business_rows(db) == before
    assert db.session.scalar(select(func.count(PurchaseOrder.id))) == 1


def test_order__less_than_the_shortfall_posted_twice_orders_once(client, login, db, shop):
    """With less typed than the shortfall (the product stays below its point, so the rule
    alone would order it again), does the form posted twice make one order?"""
    login("operations")
    page = client.get("/catalog/reorder").get_data(as_text=True)
    data = _form(shop, "drill", drill="3") | {"form_key": form_key(page)}
    assert client.post("/catalog/reorder", data=data).status_code == 302
    assert client.post("/catalog/reorder", data=data).status_code == 302
    assert _orders(db) == {"Acme Tools": [("DRILL", D(3))]}
    assert count_rows(db, PurchaseOrder) == 1


@pytest.mark.parametrize("key", [None, "", "short", "x" * 65])
def test_order__missing_or_garbled_key_is_422_and_writes_nothing(client, login, db, shop,
                                                                 key):
    """Is the order post without its key (or with a malformed one) answered 422 "This
    form has expired", with nothing written?"""
    login("operations")
    data = _form(shop, "drill")
    if key is None:
        del data["form_key"]
    else:
        data["form_key"] = key
    before = business_rows(db)
    response = client.post("/catalog/reorder", data=data)
    assert response.status_code == 422
    assert "This form has expired. Reload the page and submit it again." in \
        response.get_data(as_text=True)
    assert business_rows(db) == before


@pytest.mark.parametrize("keys, quantities, message", [
    ((), {}, "Tick at least one product to order."),
    (("orphan", "drill"), {}, "Set a preferred supplier first for: ORPHAN."),
    (("plenty",), {}, "None of the chosen products needs reordering any more."),
    (("drill",), {"drill": "2.5"}, "This unit is counted in whole pieces."),
    (("drill",), {"drill": "0"}, "Enter a quantity above zero."),
    (("grease",), {"grease": "lots"}, "Enter a number"),
])
def test_order__refusals_are_422_and_write_nothing(client, login, db, shop, keys, quantities,
                                                   message):
    """Is nothing ticked, a product without supplier, one that no longer needs ordering, or
    a bad quantity refused with the message and nothing written?"""
    login("operations")
    before = business_rows(db)
    response = client.post("/catalog/reorder", data=_form(shop, *keys, **quantities))
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert message in body
    assert business_rows(db) == before
    for key in keys:
        assert f'value="{shop[key].id}" checked' in body or key == "plenty"
    for key, value in quantities.items():
        assert f'name="qty-{shop[key].id}" value="{value}"' in body


def test_order__tampered_product_id_is_400(client, login, db, shop):
    """Is a product id that is not a number a 400, writing nothing?"""
    login("operations")
    before = business_rows(db)
    assert client.post("/catalog/reorder", data={"product_id": ["1 OR 1=1"]}).status_code == 400
    assert business_rows(db) == before


def test_page__nothing_to_reorder_says_so(client, login, db):
    """With nothing below its reorder point, does the page say so (and take no filters)?"""
    login("operations")
    body = client.get("/catalog/reorder").get_data(as_text=True)
    assert "Nothing needs reordering" in body and 'name="form_key"' not in body
    assert client.get("/catalog/reorder?supplier_id=1").status_code == 400
    assert db.session.scalar(select(func.count(PurchaseLine.id))) == 0
