"""The supplier's bill on a purchase order, and the list of vendor bills."""

import re
from datetime import date, timedelta
from decimal import Decimal

import pytest

from models import PurchaseOrder, VendorBill
from tests.helpers import business_rows, count_rows, form_key
from tests.orders.factories import make_po, make_product, make_supplier, make_tax_rate


def _order(db, order_id) -> PurchaseOrder:
    db.session.expire_all()
    return db.session.get(PurchaseOrder, order_id)


def _bill(client, order, **fields):
    data = {"supplier_ref": "INV-100", "bill_date": "2030-03-01", "due_on": "",
            "net": "10.00", "tax": "2.00", "notes": "", "form_key": form_key()}
    data.update(fields)
    if data["form_key"] is None:
        del data["form_key"]
    return client.post(f"/orders/purchases/{order.id}/bill", data=data)


def _received(supplier=None, qty="10", cost="4.00", tax=None, status="received"):
    product = make_product(tax_rate=tax)
    return make_po(supplier, [(product, qty, cost)], status=status)


def test_bill_form__prefills_net_and_tax_from_what_arrived(client, login, db):
    """Are net and tax prefilled from what was received at the order's prices?"""
    order = _received(qty="10", cost="4.00", tax=make_tax_rate("VAT 20", "20"),
                      status="partial")          # 5 of 10 received
    login("finance")
    page = client.get(f"/orders/purchases/{order.id}/bill").get_data(as_text=True)
    assert re.search(r'<input id="net"[^>]*value="20.00"', page)
    assert re.search(r'<input id="tax"[^>]*value="4.00"', page)
    assert f'value="{date.today().isoformat()}"' in page
    assert re.search(r'<input type="hidden" name="form_key" value="[\w-]{20,}">', page)


def test_bill__recorded_with_due_date_from_the_supplier_terms(client, login, db):
    """Does a bill without due date fall due after the supplier's terms, and the fully
    received order become billed?"""
    order = _received(make_supplier(terms=45))
    login("finance")
    response = _bill(client, order, net="40.00", tax="8.00", notes="Paper copy filed")
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/orders/purchases/{order.id}")
    bill = db.session.scalar(db.select(VendorBill))
    assert (bill.supplier_ref, bill.net, bill.tax, bill.total, bill.status) == \
        ("INV-100", Decimal("40.00"), Decimal("8.00"), Decimal("48.00"), "open")
    assert bill.due_on == date(2030, 3, 1) + timedelta(days=45)
    assert _order(db, order.id).status == "billed"
    page = client.get(f"/orders/purchases/{order.id}").get_data(as_text=True)
    assert "INV-100" in page and "EUR 48.00" in page and "Billed" in page


def test_bill__typed_due_date_is_kept(client, login, db):
    """Is a typed due date used instead of the terms?"""
    order = _received()
    login("admin")
    assert _bill(client, order, due_on="2030-03-10").status_code == 302
    assert db.session.scalar(db.select(VendorBill)).due_on == date(2030, 3, 10)


def test_bill__on_a_partial_order_keeps_it_partial(client, login, db):
    """Does billing a partly received order leave it "Partially received"?"""
    order = _received(status="partial")
    login("finance")
    assert _bill(client, order).status_code == 302
    assert _order(db, order.id).status == "partial"


def test_bill__duplicate_number_of_the_supplier_is_422_whatever_the_case(client, login, db):
    """Is the same supplier's bill number again (in other letter case) refused next to the
    field, with nothing written?"""
    supplier = make_supplier("Dup Co")
    first, second = _received(supplier), _received(supplier)
    login("finance")
    assert _bill(client, first, supplier_ref="inv-7").status_code == 302
    before = business_rows(db)
    response = _bill(client, second, supplier_ref="INV-7")
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert re.search(r'id="supplier_ref-error">Bill INV-7 from Dup Co is already recorded\.',
                     body)
    assert business_rows(db) == before


def test_bill__same_number_from_another_supplier_is_fine(client, login, db):
    """May two suppliers use the same bill number?"""
    one, two = _received(make_supplier()), _received(make_supplier())
    login("finance")
    assert _bill(client, one, supplier_ref="1001").status_code == 302
    assert _bill(client, two, supplier_ref="1001").status_code == 302
    assert count_rows(db, VendorBill) == 2


def test_bill__refused_on_draft_sent_and_cancelled_orders(client, login, db):
    """Is a bill on an order without goods received refused with nothing written?"""
    product = make_product()
    draft = make_po(lines=[(product, "1", "1")])
    sent = make_po(lines=[(product, "1", "1")], status="sent")
    cancelled = make_po(lines=[(product, "1", "1")], status="sent")
    from models.purchasing import cancel_order

    cancel_order(cancelled, reason="No")
    db.session.commit()
    login("finance")
    before = business_rows(db)
    for order in (draft, sent, cancelled):
        response = _bill(client, order)
        assert response.status_code == 422, order.status
        assert "Only an order with goods received can be billed." in \
            response.get_data(as_text=True)
        page = client.get(f"/orders/purchases/{order.id}/bill").get_data(as_text=True)
        assert 'name="supplier_ref"' not in page
    assert business_rows(db) == before


def test_bill__second_bill_on_an_order_is_refused(client, login, db):
    """Is a second bill on an already billed order refused?"""
    order = _received()
    login("finance")
    assert _bill(client, order, supplier_ref="A-1").status_code == 302
    before = business_rows(db)
    response = _bill(client, order, supplier_ref="A-2")
    assert response.status_code == 422
    assert "This order was already billed (A-1)." in response.get_data(as_text=True)
    assert business_rows(db) == before


def test_bill__bad_amounts_and_dates_are_422(client, login, db):
    """Are a negative net, junk tax, a missing date and a due date before the bill date
    refused beside their fields?"""
    order = _received()
    login("finance")
    before = business_rows(db)
    for fields, message in (({"net": "-1"}, "Enter zero or more."),
                            ({"tax": "ten"}, "Enter a number, like 1250.00."),
                            ({"bill_date": ""}, "Enter the bill&#39;s date."),
                            ({"supplier_ref": " "}, "Enter the supplier&#39;s bill number."),
                            ({"due_on": "2030-02-01"},
                             "The due date cannot be before the bill date.")):
        response = _bill(client, order, **fields)
        assert response.status_code == 422, fields
        assert message in response.get_data(as_text=True), fields
    assert business_rows(db) == before


def test_bill__roles(app, client, login, db):
    """May operations not record a bill (403), while admin and finance may open the form?"""
    order = _received()
    login("operations")
    before = business_rows(db)
    assert client.get(f"/orders/purchases/{order.id}/bill").status_code == 403
    assert _bill(client, order).status_code == 403
    assert business_rows(db) == before
    page = client.get(f"/orders/purchases/{order.id}").get_data(as_text=True)
    assert "Record the bill" not in page
    admin = app.test_client()
    login("admin", admin)
    assert admin.get(f"/orders/purchases/{order.id}/bill").status_code == 200


def test_bills_list__open_paid_and_overdue(client, login, db):
    """Does the bills list show open bills by default, filter paid ones, and flag and
    filter overdue ones?"""
    supplier = make_supplier("Bills Co")
    late, current, paid = _received(supplier), _received(supplier), _received(supplier)
    login("finance")
    old = (date.today() - timedelta(days=60)).isoformat()
    _bill(client, late, supplier_ref="LATE-1", bill_date=old)
    _bill(client, current, supplier_ref="NOW-1", bill_date=date.today().isoformat())
    _bill(client, paid, supplier_ref="PAID-1", bill_date=old)
    bill = db.session.scalar(db.select(VendorBill).where(VendorBill.supplier_ref == "PAID-1"))
    bill.status = "paid"
    db.session.commit()
    default = client.get("/orders/bills").get_data(as_text=True)
    assert "LATE-1" in default and "NOW-1" in default and "PAID-1" not in default
    assert re.search(r"LATE-1.*?Overdue", default, re.S)
    overdue = client.get("/orders/bills?overdue=1").get_data(as_text=True)
    assert "LATE-1" in overdue and "NOW-1" not in overdue
    paid_page = client.get("/orders/bills?status=paid").get_data(as_text=True)
    assert "PAID-1" in paid_page and "LATE-1" not in paid_page
    everything = client.get(f"/orders/bills?status=all&supplier_id={supplier.id}")
    assert all(ref in everything.get_data(as_text=True) for ref in ("LATE-1", "NOW-1", "PAID-1"))


def test_bills_list__bad_filters_are_400_and_operations_may_view(client, login, db):
    """Are unknown filters 400, and may operations open the list (but sales not)?"""
    login("operations")
    assert client.get("/orders/bills").status_code == 200
    for query in ("status=late", "overdue=yes", "colour=red", "supplier_id=x", "after=%%%"):
        assert client.get(f"/orders/bills?{query}").status_code == 400, query


def test_supplier_page__lists_its_bills(client, login, db):
    """Does the supplier's page show its bills with the order they belong to?"""
    supplier = make_supplier("Billed Supplier")
    order = _received(supplier)
    login("finance")
    _bill(client, order, supplier_ref="SUP-42")
    page = client.get(f"/orders/suppliers/{supplier.id}").get_data(as_text=True)
    assert "SUP-42" in page and order.number in page


# --- The one-time form key ---------------------------------------------------------------

def test_bill__the_same_form_posted_twice_records_one_bill(client, login, db):
    """Does the bill form posted twice (double click, retry) record one bill, the repeat
    being sent to the order rather than told the order is already billed?"""
    order = _received(status="partial")
    login("finance")
    key = form_key(client.get(f"/orders/purchases/{order.id}/bill").get_data(as_text=True))
    first = _bill(client, order, supplier_ref="ONCE-1", form_key=key)
    assert first.status_code == 302
    before = business_rows(db)
    again = _bill(client, order, supplier_ref="ONCE-1", form_key=key)
    assert again.status_code == 302
    assert again.headers["Location"] == first.headers["Location"]
    assert again.headers["Location"].endswith(f"/orders/purchases/{order.id}")
    assert business_rows(db) == before
    assert count_rows(db, VendorBill) == 1
    assert "That was already done" in client.get(again.headers["Location"]).get_data(
        as_text=True)


def test_bill__a_refused_form_keeps_its_key(client, login, db):
    """Is a bill refused for a taken bill number not using up its key (the number is
    checked by the database), so the same form with another number goes through?"""
    supplier = make_supplier("Retry Co")
    first, second = _received(supplier), _received(supplier)
    login("finance")
    assert _bill(client, first, supplier_ref="R-1").status_code == 302
    key = form_key(client.get(f"/orders/purchases/{second.id}/bill").get_data(as_text=True))
    assert _bill(client, second, supplier_ref="R-1", form_key=key).status_code == 422
    assert _bill(client, second, supplier_ref="R-2", form_key=key).status_code == 302
    assert count_rows(db, VendorBill) == 2


@pytest.mark.parametrize("key", [None, "", "short", "x" * 65])
def test_bill__missing_or_garbled_key_is_422_and_writes_nothing(client, login, db, key):
    """Is a valid bill without its key (or with a malformed one) answered 422 "This form
    has expired", with nothing written?"""
    order = _received()
    login("finance")
    before = business_rows(db)
    response = _bill(client, order, form_key=key)
    assert response.status_code == 422
    assert "This form has expired. Reload the page and submit it again." in \
        response.get_data(as_text=True)
    assert business_rows(db) == before
