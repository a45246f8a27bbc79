"""Tax rates: who may see and change them, the rules (a unique name whatever its case, a
percent from 0 to 100 with up to three decimals), editing with a version, and switching a
rate off for new products."""

from decimal import Decimal

import pytest
from sqlalchemy import select

from models import TaxRate
from tests.catalog.factories import new_product, new_tax_rate
from tests.helpers import business_rows


def _rate(db, name):
    db.session.expire_all()
    return db.session.scalar(select(TaxRate).where(TaxRate.name == name))


@pytest.mark.parametrize("role, status", [("admin", 200), ("finance", 200),
                                          ("operations", 200), ("sales", 403)])
def test_list__who_may_see_it(client, login, db, role, status):
    """May admin, finance and operations see the tax rates, and sales not?"""
    new_tax_rate("20", "VAT 20%")
    login(role)
    response = client.get("/catalog/tax-rates")
    assert response.status_code == status
    if status == 200:
        body = response.get_data(as_text=True)
        assert "VAT 20%" in body
        assert ("/catalog/tax-rates/new" in body) == (role in ("admin", "finance"))


def test_list__shows_percent_and_products_using_each(client, login, db):
    """Does each rate show its percent and how many products use it?"""
    standard = new_tax_rate("20", "Standard")
    new_tax_rate("7.7", "Reduced")
    new_product("A", tax_rate=standard)
    new_product("B", tax_rate=standard)
    login("finance")
    body = client.get("/catalog/tax-rates").get_data(as_text=True)
    standard_row = body.split(">Standard<")[1].split("</tr>")[0]
    reduced_row = body.split(">Reduced<")[1].split("</tr>")[0]
    assert "20%" in standard_row and '<td data-label="Products" class="num">2</td>' in standard_row
    assert "7.7%" in reduced_row and '<td data-label="Products" class="num">0</td>' in reduced_row
    assert client.get("/catalog/tax-rates?sort=name").status_code == 400


def test_new__finance_adds_a_rate(client, login, db):
    """Does finance add a rate with a three-decimal percent?"""
    login("finance")
    response = client.post("/catalog/tax-rates/new", data={"name": "Hotel 3.8%",
                                                           "percent": "3.825"})
    assert response.status_code == 302 and response.headers["Location"] == "/catalog/tax-rates"
    rate = _rate(db, "Hotel 3.8%")
    assert (rate.percent, rate.active) == (Decimal("3.825"), True)


@pytest.mark.parametrize("data, message", [
    ({"name": "Too high", "percent": "100.001"}, "Enter a percent from 0 to 100."),
    ({"name": "Negative", "percent": "-1"}, "Enter a percent from 0 to 100."),
    ({"name": "Fine grained", "percent": "1.2345"}, "Use at most 3 decimals."),
    ({"name": "Words", "percent": "twenty"}, "Enter a number"),
    ({"name": "vat 20%", "percent": "20"}, "There is already a tax rate called vat 20%."),
    ({"name": "  ", "percent": "20"}, "Enter a name"),
    ({"name": "No percent", "percent": ""}, "Enter a percent."),
])
def test_new__bad_input_is_422_and_writes_nothing(client, login, db, data, message):
    """Is each bad name or percent answered 422 with its message, nothing written?"""
    new_tax_rate("20", "VAT 20%")
    login("admin")
    before = business_rows(db)
    response = client.post("/catalog/tax-rates/new", data=data)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert business_rows(db) == before


def test_new__operations_and_sales_may_not_add(client, login, db):
    """Are operations refused (403) when adding a rate, with nothing written?"""
    login("operations")
    before = business_rows(db)
    assert client.get("/catalog/tax-rates/new").status_code == 403
    assert client.post("/catalog/tax-rates/new", data={"name": "X", "percent": "1"}
                       ).status_code == 403
    assert business_rows(db) == before


def test_edit__changes_the_rate_and_refuses_a_stale_version(app, client, login, db):
    """Does an edit save, and is a second edit based on the old version a 409 naming who
    changed it, with nothing written?"""
    rate = new_tax_rate("20", "VAT 20%")
    opened_at = rate.version
    login("finance")
    page = client.get(f"/catalog/tax-rates/{rate.id}/edit").get_data(as_text=True)
    assert 'value="20.000"' in page
    response = client.post(f"/catalog/tax-rates/{rate.id}/edit",
                           data={"version": opened_at, "name": "VAT 21%", "percent": "21"})
    assert response.status_code == 302
    assert _rate(db, "VAT 21%").percent == Decimal("21.000")
    admin = app.test_client()
    login("admin", admin)
    before = business_rows(db)
    stale = admin.post(f"/catalog/tax-rates/{rate.id}/edit",
                       data={"version": opened_at, "name": "VAT 22%", "percent": "22"})
    assert stale.status_code == 409
    assert "changed by Fay Finance at" in stale.get_data(as_text=True)
    assert business_rows(db) == before


def test_active__switching_off_hides_it_from_the_product_form(app, client, login, db):
    """Is an inactive rate no longer offered for products (while a product using it keeps
    it), and can it be switched on again?"""
    rate = new_tax_rate("5", "Reduced 5%")
    product = new_product("KEEP", tax_rate=rate)
    login("admin")
    response = client.post(f"/catalog/tax-rates/{rate.id}/active",
                           data={"version": rate.version, "active": "no"})
    assert response.status_code == 302
    assert _rate(db, "Reduced 5%").active is False
    form = client.get("/catalog/products/new").get_data(as_text=True)
    assert "Reduced 5% (5%)" not in form and "No tax" in form
    kept = client.get(f"/catalog/products/{product.id}/edit").get_data(as_text=True)
    assert "Reduced 5% (5%) — inactive" in kept
    opened_at = _rate(db, "Reduced 5%").version
    client.post(f"/catalog/tax-rates/{rate.id}/active",
                data={"version": opened_at, "active": "yes"})
    assert _rate(db, "Reduced 5%").active is True
    before = business_rows(db)
    assert client.post(f"/catalog/tax-rates/{rate.id}/active",
                       data={"version": opened_at, "active": "no"}).status_code == 409
    assert business_rows(db) == before
    assert client.post("/catalog/tax-rates/424242/active",
                       data={"version": 1, "active": "no"}).status_code == 404
