"""Products as CSV: the export (filters, costs by role, formula cells neutralised, UTF-8
with BOM) and the import (every row checked first, a report by line and field, nothing
written from a file with errors unless the valid rows are asked for)."""

import csv
import io
from decimal import Decimal

import pytest
from sqlalchemy import select

from models import Product
from tests.catalog.factories import new_product, new_supplier, new_tax_rate, reserve, stock_up
from tests.helpers import business_rows, count_rows

HEADER = "sku,name,list_price"


def _rows(response) -> list[dict]:
    data = response.get_data()
    assert data.startswith(b"\xef\xbb\xbf")
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def _upload(client, text: str | bytes, *, valid_only=False, filename="products.csv"):
    """Post a file to the import as a browser would. The multipart body is built here:
    werkzeug's test client leaves its temporary file for a large body unclosed."""
    data = text.encode() if isinstance(text, str) else text
    if client.csrf_token is None:
        client.fetch_csrf()
    boundary = "----tandem-test-boundary"
    fields = [("csrf_token", client.csrf_token)] + ([("valid_only", "y")] if valid_only else [])
    body = b"".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        .encode() for name, value in fields)
    body += (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
             f'filename="{filename}"\r\nContent-Type: text/csv\r\n\r\n').encode()
    body += data + f"\r\n--{boundary}--\r\n".encode()
    return client.post("/catalog/products/import", data=body, csrf=False,
                       content_type=f"multipart/form-data; boundary={boundary}")


def _by_sku(db, sku: str) -> Product | None:
    db.session.expire_all()
    return db.session.scalar(select(Product).where(Product.sku_key == sku.upper()))


# --- Export ------------------------------------------------------------------------------

def test_export__columns_values_and_bom(client, login, db):
    """Does the export carry every column with the product's values and stock, as UTF-8
    with a byte-order mark, named as an attachment?"""
    rate = new_tax_rate("20", "VAT 20%")
    supplier = new_supplier("Acme Parts")
    bolt = new_product("BOLT-1", "Bolt ø6", description="Zinc", list_price="0.35",
                       tax_rate=rate, reorder_point="10", reorder_qty="100",
                       preferred_supplier=supplier)
    stock_up(bolt, 30, "0.1234")
    reserve(bolt, 5)
    new_product("FIT", "Fitting", kind="service", unit="h", list_price="60.00")
    login("operations")
    response = client.get("/catalog/products.csv")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"].startswith('attachment; filename="products-')
    rows = _rows(response)
    assert list(rows[0]) == ["sku", "name", "description", "kind", "unit", "list_price", "cost",
                             "tax_rate", "active", "reorder_point", "reorder_qty",
                             "preferred_supplier", "allow_backorder", "on_hand", "reserved",
                             "available"]
    assert rows[0] == {"sku": "BOLT-1", "name": "Bolt ø6", "description": "Zinc",
                       "kind": "stocked", "unit": "pc", "list_price": "0.35",
                       "cost": "0.1234", "tax_rate": "VAT 20%", "active": "yes",
                       "reorder_point": "10", "reorder_qty": "100",
                       "preferred_supplier": "Acme Parts", "allow_backorder": "no",
                       "on_hand": "30", "reserved": "5", "available": "25"}
    assert (rows[1]["sku"], rows[1]["kind"], rows[1]["on_hand"]) == ("FIT", "service", "")


@pytest.mark.parametrize("name", ['=HYPERLINK("http://x.example","Click")', "+1+1", "-2+3",
                                  "@SUM(A1)"])
def test_export__formula_cells_are_neutralised(client, login, db, name):
    """Does a cell starting with = + - or @ get a leading apostrophe, so a spreadsheet
    shows it as text, and read back through a CSV reader as exactly that?"""
    new_product("F-1", name, description=name)
    login("sales")
    rows = _rows(client.get("/catalog/products.csv"))
    assert (rows[0]["sku"], rows[0]["name"], rows[0]["description"]) == (
        "F-1", "'" + name, "'" + name)


def test_neutralise__tab_and_carriage_return_too():
    """Are cells starting with a tab or a carriage return neutralised as well, and
    ordinary ones left alone?"""
    from models.catalog_csv import neutralise

    assert neutralise("\tx") == "'\tx" and neutralise("\r=1") == "'\r=1"
    assert neutralise("plain = text") == "plain = text" and neutralise("") == ""


def test_export__negative_availability_is_neutralised_too(client, login, db):
    """Is a negative quantity (a backorder) written with the apostrophe as well?"""
    product = new_product("BACK-1", allow_backorder=True)
    from models.stock import default_stock_location, move_stock, virtual_location

    move_stock(product, Decimal(2), default_stock_location(), virtual_location("customer"))
    db.session.commit()
    login("sales")
    rows = _rows(client.get("/catalog/products.csv"))
    assert (rows[0]["on_hand"], rows[0]["available"]) == ("'-2", "'-2")


def test_export__costs_only_for_roles_that_see_them(app, client, login, db):
    """Is the cost column left out for sales and present for finance?"""
    new_product("C-1", cost="2.5000")
    login("sales")
    rows = _rows(client.get("/catalog/products.csv"))
    assert "cost" not in rows[0] and rows[0]["list_price"] == "10.00"
    finance = app.test_client()
    login("finance", finance)
    assert _rows(finance.get("/catalog/products.csv"))[0]["cost"] == "2.5000"


def test_export__honours_the_list_filters(client, login, db):
    """Does the export keep to the list's filters, and refuse unknown ones (400)?"""
    new_product("S-1", kind="service")
    new_product("P-1")
    old = new_product("P-OLD")
    old.active = False
    db.session.commit()
    login("sales")
    assert [r["sku"] for r in _rows(client.get("/catalog/products.csv?kind=service"))] == ["S-1"]
    assert [r["sku"] for r in _rows(client.get("/catalog/products.csv?active=all&q=p-"))] == [
        "P-1", "P-OLD"]
    assert client.get("/catalog/products.csv?kind=nope").status_code == 400
    assert client.get("/catalog/products.csv?after=x").status_code == 400
    page = client.get("/catalog/products?kind=service").get_data(as_text=True)
    assert 'href="/catalog/products.csv?kind=service" download' in page


def test_export__reads_in_chunks_without_losing_rows(client, login, db, monkeypatch):
    """With a tiny chunk size, does the streamed export still hold every product once,
    in SKU order?"""
    import models.catalog_csv

    monkeypatch.setattr(models.catalog_csv, "CHUNK", 3)
    for n in range(10):
        new_product(f"K-{n:02d}")
    login("sales")
    assert [r["sku"] for r in _rows(client.get("/catalog/products.csv"))] == [
        f"K-{n:02d}" for n in range(10)]


# --- Import ------------------------------------------------------------------------------

def test_import__creates_new_and_updates_existing_skus(client, login, db):
    """Does a valid file create new SKUs and update existing ones matched whatever their
    case, then say how many?"""
    rate = new_tax_rate("7.7", "Reduced")
    supplier = new_supplier("Acme Parts")
    old = new_product("ab-1", "Old name", list_price="1.00", description="Keep me")
    text = ("sku,name,list_price,tax_rate,preferred_supplier,unit,reorder_point,cost\n"
            "AB-1,New name,2.50,reduced,ACME parts,,4,\n"
            "NEW-1,Brand new,9.99,,,kg,0.5,1.2345\n"
            "NEW-2,\"Quoted, with comma\",0,,,,,\n")
    login("operations")
    response = _upload(client, text)
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "2 created, 1 updated, 0 rows skipped." in page
    updated = _by_sku(db, "AB-1")
    assert updated.id == old.id and updated.sku == "AB-1"
    assert (updated.name, updated.list_price, updated.description) == (
        "New name", Decimal("2.50"), "Keep me")
    assert (updated.tax_rate_id, updated.preferred_supplier_id) == (rate.id, supplier.id)
    assert (updated.unit, updated.reorder_point) == ("pc", Decimal(4))
    new = _by_sku(db, "NEW-1")
    assert (new.unit, new.reorder_point, new.cost, new.kind, new.active) == (
        "kg", Decimal("0.5"), Decimal("1.2345"), "stocked", True)
    assert _by_sku(db, "NEW-2").name == "Quoted, with comma"


def test_import__a_file_with_errors_writes_nothing_and_reports_each_line(client, login, db):
    """Is a file with bad rows refused whole (422), with a report naming line, SKU, column
    and problem for each?"""
    new_product("TAKEN", unit="pc")
    text = ("sku,name,list_price,reorder_point,kind,tax_rate,active\n"
            "OK-1,Fine,1.00,,,,\n"
            "BAD-1,Negative,-5,,,,\n"
            ",No sku,1.00,,,,\n"
            "BAD-2,Half,1.00,2.5,,,\n"
            "BAD-3,Kind,1.00,,goods,,\n"
            "BAD-4,Tax,1.00,,,VAT 99%,\n"
            "BAD-5,Flag,1.00,,,,maybe\n"
            "BAD 6,Space,1.00,,,,\n"
            "BAD-7,,1.00,,,,\n")
    login("operations")
    before = business_rows(db)
    response = _upload(client, text)
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "8 rows of 9 cannot be imported" in body and "Nothing was imported" in body
    for line, column, message in [
            (3, "list_price", "Enter an amount of zero or more."),
            (4, "sku", "Enter a SKU."),
            (5, "reorder_point", "This unit is counted in whole pieces."),
            (6, "kind", "Write one of: stocked, service."),
            (7, "tax_rate", "There is no tax rate called “VAT 99%”."),
            (8, "active", "Write yes or no in active."),
            (9, "sku", "A SKU has no spaces."),
            (10, "name", "Enter a name.")]:
        assert (f'<td data-label="Line" class="num">{line}</td>' in body), line
        row = body.split(f'<td data-label="Line" class="num">{line}</td>')[1].split("</tr>")[0]
        assert f'<td data-label="Column">{column}</td>' in row and message in row, line
    assert business_rows(db) == before


def test_import__valid_rows_only_when_asked(client, login, db):
    """With "import the valid rows" ticked, are only the valid rows written, in one go,
    and the skipped ones listed?"""
    text = ("sku,name,list_price\n"
            "GOOD-1,First,1.00\n"
            "BAD-1,Broken,1.234\n"
            "GOOD-2,Second,2.00\n")
    login("operations")
    response = _upload(client, text, valid_only=True)
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "2 created, 0 updated, 1 row skipped." in body
    assert "Use at most 2 decimals." in body
    assert _by_sku(db, "GOOD-1") and _by_sku(db, "GOOD-2") and not _by_sku(db, "BAD-1")


def test_import__duplicate_sku_inside_the_file(client, login, db):
    """Is a SKU given twice in the file (in any case) an error on its second line?"""
    login("operations")
    before = business_rows(db)
    response = _upload(client, "sku,name,list_price\nDUP-1,One,1.00\ndup-1,Two,2.00\n")
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "SKU dup-1 is also on line 2" in body
    assert business_rows(db) == before


def test_import__unknown_or_ambiguous_supplier(client, login, db):
    """Is a supplier name we do not know, or one that names two suppliers, an error?"""
    new_supplier("Twin")
    new_supplier("twin")
    login("operations")
    before = business_rows(db)
    body = _upload(client, "sku,name,list_price,preferred_supplier\n"
                           "S-1,One,1.00,Nobody Ltd\nS-2,Two,1.00,Twin\n").get_data(as_text=True)
    assert "There is no supplier called “Nobody Ltd”" in body
    assert "Several suppliers are called “Twin”" in body
    assert business_rows(db) == before


@pytest.mark.parametrize("header, message", [
    ("sku,name,price", "Unknown column: price. Missing column: list_price."),
    ("sku,list_price", "Missing column: name."),
    ("sku,name,list_price,colour,size", "Unknown columns: colour, size."),
    ("sku,name,list_price,name", "Named twice: name."),
])
def test_import__wrong_columns_are_named(client, login, db, header, message):
    """Is a file with unknown, missing or doubled columns refused, naming them?"""
    login("operations")
    before = business_rows(db)
    response = _upload(client, f"{header}\nA,B,1.00\n")
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert message in body and "The columns are: sku, name" in body
    assert business_rows(db) == before


@pytest.mark.parametrize("data, message", [
    ("sku,name,list_price\nA-1,Caf\xe9,1.00\n".encode("latin-1"), "save it as UTF-8 CSV"),
    (b"", "The file is empty."),
    (b"\n\n  \n", "The file is empty."),
    (b"sku,name,list_price\n", "The file has a header but no products under it."),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00", "not UTF-8"),
])
def test_import__unreadable_files_are_refused(client, login, db, data, message):
    """Are non-UTF-8, empty and header-only files refused with a clear message and
    nothing written?"""
    login("operations")
    before = business_rows(db)
    response = _upload(client, data)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert business_rows(db) == before


def test_import__no_file_chosen(client, login, db):
    """Is a post without a file answered 422 asking for one?"""
    login("operations")
    response = client.post("/catalog/products/import", data={},
                           content_type="multipart/form-data")
    assert response.status_code == 422
    assert "Choose a CSV file to import." in response.get_data(as_text=True)


def test_import__a_20_mb_file_is_refused_readably(client, login, db):
    """Is a 20 MB upload answered with a readable "too large" page (413), nothing
    written?"""
    login("operations")
    before = business_rows(db)
    line = b"SKU-X,Some product name that is long enough,1.00\n"
    data = b"sku,name,list_price\n" + line * (20 * 1024 * 1024 // len(line) + 1)
    assert len(data) > 20 * 1024 * 1024
    response = _upload(client, data)
    body = response.get_data(as_text=True)
    assert response.status_code == 413
    assert "larger than 5 MB" in body and "<html" in body
    assert business_rows(db) == before


def test_import__more_than_20000_rows_is_refused(client, login, db):
    """Is a file of more than 20,000 products refused whole?"""
    login("operations")
    data = "sku,name,list_price\n" + "".join(f"R{n},N,1\n" for n in range(20_001))
    response = _upload(client, data)
    assert response.status_code == 422
    assert "more than 20,000 products" in response.get_data(as_text=True)
    assert count_rows(db, Product) == 0


def test_import__a_line_with_extra_cells(client, login, db):
    """Is a row with more cells than the header an error on that line?"""
    login("operations")
    body = _upload(client, "sku,name,list_price\nA-1,One,1.00,extra\n").get_data(as_text=True)
    assert "This line has 4 cells but the header names 3 columns" in body
    assert count_rows(db, Product) == 0


def test_import__semicolons_and_excel_style_headers(client, login, db):
    """Does a semicolon-separated file with a BOM and capitalised headers import?"""
    login("operations")
    data = "\ufeffSKU;Name;List_Price\nSEMI-1;Semi colon;3.00\n".encode()
    assert _upload(client, data).status_code == 302
    assert _by_sku(db, "SEMI-1").list_price == Decimal("3.00")


def test_import__export_round_trips_unchanged(app, client, login, db):
    """Does importing our own export change nothing (formula-like names included)?"""
    rate = new_tax_rate("20", "VAT 20%")
    supplier = new_supplier("Acme")
    new_product("RT-1", "=cmd|' /C calc'!A0", description="line one\nline two",
                tax_rate=rate, preferred_supplier=supplier, reorder_point="5",
                reorder_qty="10", allow_backorder=True, cost="1.5000")
    stock_up(new_product("RT-2", "-minus", unit="kg", list_price="3.30"), "1.25", "2.00")
    new_product("RT-3", "Service", kind="service", unit="h")
    login("operations")
    exported = client.get("/catalog/products.csv?active=all").get_data()
    fields = ("sku", "name", "description", "kind", "unit", "list_price", "cost",
              "tax_rate_id", "active", "reorder_point", "reorder_qty",
              "preferred_supplier_id", "allow_backorder")
    db.session.expire_all()
    before = {p.sku: tuple(getattr(p, f) for f in fields)
              for p in db.session.scalars(select(Product))}
    response = _upload(client, exported)
    assert response.status_code == 302
    assert "0 created, 3 updated, 0 rows skipped." in client.get(
        response.headers["Location"]).get_data(as_text=True)
    db.session.expire_all()
    after = {p.sku: tuple(getattr(p, f) for f in fields)
             for p in db.session.scalars(select(Product))}
    assert after == before


@pytest.mark.parametrize("role", ["sales", "finance"])
def test_import__only_catalog_roles(client, login, db, role):
    """May sales and finance not import (403, nothing written)?"""
    login(role)
    before = business_rows(db)
    assert client.get("/catalog/products/import").status_code == 403
    assert _upload(client, "sku,name,list_price\nX-1,X,1\n").status_code == 403
    assert business_rows(db) == before
