"""The stock value page: on hand x moving-average cost per product (half-up to the cent),
the total, a chart of the ten largest beside the table, and a CSV download whose text
cells a spreadsheet will not run as formulas."""

import csv
import io
import re
from decimal import Decimal

import pytest

from models.stock import ensure_locations, receive_stock
from models.types import round_money
from tests.catalog.test_catalog_rules import make_product
from tests.helpers import business_rows

D = Decimal


def _receive(db, sku, qty, cost, **fields):
    ensure_locations()
    product = make_product(sku=sku, **fields)
    receive_stock(product, D(qty), D(cost))
    db.session.commit()
    return product


def _csv(client) -> list[list[str]]:
    response = client.get("/catalog/valuation.csv")
    assert response.status_code == 200
    return list(csv.reader(io.StringIO(response.get_data(as_text=True))))


def test_page__total_is_the_sum_of_half_up_values_per_product(client, login, db):
    """Is each product valued at on hand x cost half-up to the cent (4.005 -> 4.01, not
    banker's 4.00), and the total the sum of those?"""
    _receive(db, "HALF", "3", "1.3350")           # 4.005   -> 4.01
    _receive(db, "KILO", "1.5", "0.3333", unit="kg")  # 0.49995 -> 0.50
    _receive(db, "BIG", "1200", "12.5000")        # 15000.00
    login("finance")
    body = client.get("/catalog/valuation").get_data(as_text=True)
    expected = sum(round_money(D(q) * D(c)) for q, c in
                   [("3", "1.3350"), ("1.5", "0.3333"), ("1200", "12.5000")])
    assert expected == D("15004.51")
    assert "EUR 15,004.51" in body
    assert "EUR 4.01" in body and "EUR 0.50" in body and "EUR 15,000.00" in body
    assert "1.5 kg" in body and "1.3350" in body


def test_page__chart_shows_the_ten_largest_beside_the_table(client, login, db):
    """Does the SVG chart (with a title) show the ten most valuable products only, while the
    table lists them all?"""
    for n in range(1, 13):
        _receive(db, f"P{n:02d}", str(n), "1.00")
    login("operations")
    body = client.get("/catalog/valuation").get_data(as_text=True)
    svg = body[body.index("<svg"):body.index("</svg>")]
    assert 'role="img"' in svg and "<title" in svg
    labels = re.findall(r'class="bar-label">([^<]+)<', svg)
    assert labels == [f"P{n:02d}" for n in range(12, 2, -1)]
    table = body[body.index("<table"):body.index("</table>")]
    assert all(f"P{n:02d}" in table for n in range(1, 13))


def test_page__nothing_on_hand_says_so(client, login, db):
    """With no stock, does the page say there is nothing to value, total zero, no chart?"""
    login("admin")
    before = business_rows(db)
    body = client.get("/catalog/valuation").get_data(as_text=True)
    assert "EUR 0.00" in body and "no stock to value" in body and "<svg" not in body
    assert business_rows(db) == before


def test_roles__sales_may_not_see_the_value_of_stock(client, login, db):
    """Is the stock value (page and CSV) refused to sales?"""
    login("sales")
    assert client.get("/catalog/valuation").status_code == 403
    assert client.get("/catalog/valuation.csv").status_code == 403


def test_csv__has_the_table_and_the_total(client, login, db):
    """Does the CSV carry one row per product with on hand, cost and value, and the total?"""
    _receive(db, "HALF", "3", "1.3350", name="Half cent")
    _receive(db, "KILO", "1.5", "0.3333", unit="kg", name="Coffee")
    login("finance")
    response = client.get("/catalog/valuation.csv")
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"].startswith(
        'attachment; filename="stock-value-')
    assert _csv(client) == [
        ["SKU", "Product", "Unit", "On hand", "Unit cost (EUR)", "Value (EUR)"],
        ["HALF", "Half cent", "pc", "3.000", "1.3350", "4.01"],
        ["KILO", "Coffee", "kg", "1.500", "0.3333", "0.50"],
        ["Total", "", "", "", "", "4.51"],
    ]


@pytest.mark.parametrize("name, cell", [
    ("=HYPERLINK(\"http://evil\")", "'=HYPERLINK(\"http://evil\")"),
    ("+1+1", "'+1+1"), ("-2+3", "'-2+3"), ("@SUM(A1)", "'@SUM(A1)"),
    ("Plain = fine", "Plain = fine"),
])
def test_csv__formula_cells_are_neutralised(client, login, db, name, cell):
    """Does a product name or SKU starting with = + - @ get a leading apostrophe,
    so a spreadsheet shows it instead of running it?"""
    _receive(db, "=CMD", "1", "1.00", name=name)
    login("admin")
    rows = _csv(client)
    assert rows[1][:2] == ["'=CMD", cell]


def test_formula_safe__also_catches_tab_and_carriage_return():
    """Are text cells starting with a tab or CR (which some spreadsheets strip before a
    formula) neutralised too, and other text left alone?"""
    from blueprints.catalog.stock import formula_safe

    assert formula_safe("\t=1") == "'\t=1"
    assert formula_safe("\r=1") == "'\r=1"
    assert formula_safe("a=1") == "a=1"
    assert formula_safe("") == ""


def test_page__takes_no_filters(client, login, db):
    """Is a query string on the page or the CSV a 400?"""
    login("admin")
    assert client.get("/catalog/valuation?sort=value").status_code == 400
    assert client.get("/catalog/valuation.csv?x=1").status_code == 400
