"""The catalog as rows: the one query behind the product list and its CSV export, and
the CSV import.

`product_rows` selects products with their stock totals (ProductStock, outer-joined in
the same query; a product never stocked reads as zeros) as plain rows, so a page of 50
or an export of 50,000 is one query a chunk, never a query per product.

Import reads a whole file first and refuses it, with nothing written, when it is not
UTF-8, over 5 MB, over 20,000 rows, empty, or has columns we do not know or lacks
required ones. Every row is then validated with the same rule as the product form
(`set_product_fields`, run on a throw-away copy, never flushed) and the report lists
each problem by line and field. `import_rows` writes the valid rows in the caller's
transaction: a SKU already in the catalog (whatever its case) is updated, a new one
created.

Cells are read as typed, with one exception: a leading apostrophe that our own export
put before = + - @ (so spreadsheets do not run the cell as a formula) is dropped again,
so an export imports back unchanged.
"""

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache

from sqlalchemy import BigInteger, func, literal, select, tuple_, type_coerce
from sqlalchemy.orm import Bundle, aliased

from models import db
from models.catalog import (
    KINDS,
    UNITS,
    Product,
    Supplier,
    TaxRate,
    set_product_fields,
    sku_key,
)
from models.customers import normalize_name
from models.errors import DomainError
from models.stock import ProductStock
from models.types import Quantity, parse_money

COLUMNS = ("sku", "name", "description", "kind", "unit", "list_price", "cost", "tax_rate",
           "active", "reorder_point", "reorder_qty", "preferred_supplier", "allow_backorder",
           "on_hand", "reserved", "available")
REQUIRED = ("sku", "name", "list_price")
READ_ONLY = ("on_hand", "reserved", "available")  # exported for reading; ignored on import
MAX_BYTES = 5 * 1024 * 1024
MAX_ROWS = 20_000
MAX_DESCRIPTION = 5000
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
YES = {"yes", "y", "true", "1", "x"}
NO = {"no", "n", "false", "0", ""}
CHUNK = 1000


# --- The rows behind the list and the export ---------------------------------------------

def _raw(column):
    return func.coalesce(type_coerce(column, BigInteger), 0)


def _stock_columns():
    on_hand, reserved = _raw(ProductStock.on_hand), _raw(ProductStock.reserved)
    return (type_coerce(on_hand, Quantity()).label("on_hand"),
            type_coerce(reserved, Quantity()).label("reserved"),
            type_coerce(on_hand - reserved, Quantity()).label("available"))


@dataclass
class ProductFilters:
    """What the list and the export are narrowed to (already validated by the view)."""

    q: str = ""
    kind: str | None = None          # "stocked" / "service"
    active: bool | None = True       # None: active and archived
    below_reorder: bool = False
    supplier_id: int | None = None


@cache
def _product_rows_base(export: bool):
    """product_rows before its filters: built once (each filter makes a copy), as
    building it cost more than running it."""
    columns = [Product.id, Product.sku, Product.sku_key, Product.name, Product.kind,
               Product.unit, Product.list_price, Product.reorder_point, Product.active,
               *_stock_columns()]
    supplier = aliased(Supplier)
    if export:
        columns += [Product.description, Product.cost, Product.reorder_qty,
                    Product.allow_backorder, TaxRate.name.label("tax_rate"),
                    supplier.name.label("preferred_supplier")]
    query = select(Bundle("row", *columns)).outerjoin(
        ProductStock, ProductStock.product_id == Product.id)
    if export:
        query = (query.outerjoin(TaxRate, TaxRate.id == Product.tax_rate_id)
                 .outerjoin(supplier, supplier.id == Product.preferred_supplier_id))
    return query


def product_rows(filters: ProductFilters, *, export: bool = False):
    """A SELECT of one Bundle `row` per product (id, sku, sku_key, name, kind, unit,
    list_price, reorder_point, active, on_hand, reserved, available; with `export` also
    description, cost, reorder_qty, allow_backorder, tax_rate, preferred_supplier).
    Page it with models.paging.keyset_page on (Product.sku_key, Product.id)."""
    query = _product_rows_base(export)
    if filters.q.strip():
        from models.catalog import product_search_clause

        query = query.where(product_search_clause(filters.q))
    if filters.kind:
        query = query.where(Product.kind == filters.kind)
    if filters.active is not None:
        query = query.where(Product.active.is_(filters.active))
    if filters.below_reorder:
        query = query.where(
            Product.kind == "stocked", type_coerce(Product.reorder_point, BigInteger) > 0,
            _raw(ProductStock.on_hand) - _raw(ProductStock.reserved)
            < type_coerce(Product.reorder_point, BigInteger))
    if filters.supplier_id is not None:
        query = query.where(Product.preferred_supplier_id == filters.supplier_id)
    return query


def all_rows(filters: ProductFilters, *, export: bool = True) -> Iterator:
    """Every matching row in SKU order, fetched a chunk at a time by keyset (memory stays
    flat however large the catalog)."""
    base = product_rows(filters, export=export)
    last = None
    while True:
        query = base
        if last is not None:
            query = query.where(tuple_(Product.sku_key, Product.id)
                                > tuple_(literal(last[0]), literal(last[1])))
        rows = list(db.session.scalars(
            query.order_by(Product.sku_key, Product.id).limit(CHUNK)))
        yield from rows
        if len(rows) < CHUNK:
            return
        last = (rows[-1].sku_key, rows[-1].id)


# --- Export ------------------------------------------------------------------------------

def neutralise(value: str) -> str:
    """A cell a spreadsheet will not run as a formula: a leading apostrophe before
    = + - @ tab or carriage return."""
    return "'" + value if value.startswith(FORMULA_START) else value


def quantity_text(value: Decimal) -> str:
    """12.000 -> "12", 1.500 -> "1.5" (what a person would type)."""
    text = f"{Decimal(value).normalize():f}"
    return "0" if text in ("-0", "0") else text


def export_columns(with_cost: bool) -> list[str]:
    return [c for c in COLUMNS if with_cost or c != "cost"]


def _cells(row, columns: list[str]) -> list[str]:
    stocked = row.kind == "stocked"
    values = {
        "sku": row.sku, "name": row.name, "description": row.description or "",
        "kind": row.kind, "unit": row.unit, "list_price": f"{row.list_price:.2f}",
        "cost": f"{row.cost:.4f}", "tax_rate": row.tax_rate or "",
        "active": "yes" if row.active else "no",
        "reorder_point": quantity_text(row.reorder_point),
        "reorder_qty": quantity_text(row.reorder_qty),
        "preferred_supplier": row.preferred_supplier or "",
        "allow_backorder": "yes" if row.allow_backorder else "no",
        "on_hand": quantity_text(row.on_hand) if stocked else "",
        "reserved": quantity_text(row.reserved) if stocked else "",
        "available": quantity_text(row.available) if stocked else "",
    }
    return [neutralise(values[c]) for c in columns]


def export_csv(filters: ProductFilters, *, with_cost: bool) -> Iterator[str]:
    """The CSV text in pieces: a UTF-8 byte-order mark (spreadsheets then read the
    accents right), the header, then the rows a chunk at a time."""
    columns = export_columns(with_cost)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(columns)
    yield "\ufeff" + buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    for n, row in enumerate(all_rows(filters), start=1):
        writer.writerow(_cells(row, columns))
        if n % 500 == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue()


# --- Import: reading the file ------------------------------------------------------------

class FileRefused(DomainError):
    """The whole file is refused; nothing is read from it."""

    def __init__(self, message: str, status: int = 422):
        super().__init__(message, field="file")
        self.status = status


@dataclass
class CsvFile:
    columns: list[str]
    rows: list[tuple[int, list[str]]]   # (line number, cells)


def read_csv(data: bytes) -> CsvFile:
    """The header and rows of an uploaded file, or FileRefused saying what is wrong."""
    if len(data) > MAX_BYTES:
        raise FileRefused(f"The file is larger than {MAX_BYTES // (1024 * 1024)} MB. "
                          "Split it into smaller files and import them one by one.", 413)
    if not data.strip():
        raise FileRefused("The file is empty. Choose a CSV file with a header row and "
                          "at least one product.")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise FileRefused("The file is not UTF-8 text: in your spreadsheet, save it as "
                          "UTF-8 CSV (“CSV UTF-8” in Excel) and try again.") from None
    if "\x00" in text:
        raise FileRefused("This is not a CSV file: save it as UTF-8 CSV and try again.")
    first = text.split("\n", 1)[0]
    delimiter = ";" if first.count(";") > first.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader, None)
        if not header or not any(cell.strip() for cell in header):
            raise FileRefused("The first line must name the columns: "
                              + ", ".join(COLUMNS) + ".")
        columns = [cell.strip().lower() for cell in header]
        _check_columns(columns)
        rows = []
        for cells in reader:
            if not any(cell.strip() for cell in cells):
                continue  # a blank line
            if len(rows) >= MAX_ROWS:
                raise FileRefused(f"The file has more than {MAX_ROWS:,} products. Split it "
                                  "into smaller files and import them one by one.")
            rows.append((reader.line_num, cells))
    except csv.Error as error:
        raise FileRefused(f"Line {reader.line_num} cannot be read as CSV ({error}). "
                          "Save the file as UTF-8 CSV and try again.") from None
    if not rows:
        raise FileRefused("The file has a header but no products under it.")
    return CsvFile(columns, rows)


def _check_columns(columns: list[str]) -> None:
    unknown = [c or "(blank)" for c in columns if c not in COLUMNS]
    missing = [c for c in REQUIRED if c not in columns]
    twice = sorted({c for c in columns if c and columns.count(c) > 1})
    problems = []
    if unknown:
        problems.append("Unknown column" + ("s" if len(unknown) > 1 else "") + ": "
                        + ", ".join(unknown) + ".")
    if missing:
        problems.append("Missing column" + ("s" if len(missing) > 1 else "") + ": "
                        + ", ".join(missing) + ".")
    if twice:
        problems.append("Named twice: " + ", ".join(twice) + ".")
    if problems:
        raise FileRefused(" ".join(problems) + " The columns are: " + ", ".join(COLUMNS)
                          + " (sku, name and list_price are required).")


# --- Import: validating the rows ---------------------------------------------------------

@dataclass
class RowProblem:
    line: int
    sku: str
    field: str
    message: str


@dataclass
class ValidRow:
    line: int
    values: dict                       # keyword arguments of set_product_fields
    product: Product | None            # the product it updates; None: a new one


@dataclass
class ImportReport:
    total: int = 0
    valid: list[ValidRow] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)

    @property
    def rejected_lines(self) -> int:
        return len({p.line for p in self.problems})


def _cell(text: str) -> str:
    """A cell as typed, minus the apostrophe our export puts before formula characters."""
    if len(text) > 1 and text[0] == "'" and text[1] in "=+-@\t\r":
        return text[1:]
    return text


def _has_control_chars(text: str) -> bool:
    return any(ord(ch) < 32 and ch not in "\t\r\n" for ch in text)


def _flag(text: str, name: str) -> bool:
    value = text.strip().lower()
    if value in YES:
        return True
    if value in NO:
        return False
    raise ValueError(f"Write yes or no in {name}.")


def _quantity(text: str) -> Decimal:
    try:
        return parse_money(text, places=3)
    except ValueError as error:
        if str(error).startswith("Use at most"):
            raise ValueError("Use at most 3 decimals.") from None
        if str(error) == "Enter an amount.":
            raise ValueError("Enter a quantity.") from None
        raise


class _Lookups:
    """Tax rates and suppliers by name, and the file's existing products, loaded once."""

    def __init__(self, keys: list[str]):
        self.tax_rates: dict[str, list[TaxRate]] = {}
        for rate in db.session.scalars(select(TaxRate)):
            self.tax_rates.setdefault(rate.name.strip().lower(), []).append(rate)
        self.suppliers: dict[str, list[Supplier]] = {}
        for supplier in db.session.scalars(select(Supplier)):
            self.suppliers.setdefault(supplier.search_name, []).append(supplier)
        self.products: dict[str, Product] = {}
        unique = sorted(set(keys))
        for start in range(0, len(unique), 500):
            for product in db.session.scalars(select(Product).where(
                    Product.sku_key.in_(unique[start:start + 500]))):
                self.products[product.sku_key] = product

    def tax_rate(self, name: str, current: Product | None) -> TaxRate | None:
        if not name.strip():
            return None
        found = self.tax_rates.get(name.strip().lower(), [])
        if not found:
            raise ValueError(f"There is no tax rate called “{name.strip()}”. Use the name "
                             "shown under Tax rates, or leave the cell empty for none.")
        rate = found[0]
        if not rate.active and not (current is not None and current.tax_rate_id == rate.id):
            raise ValueError(f"The tax rate “{rate.name}” is inactive; choose an active one.")
        return rate

    def supplier(self, name: str, current: Product | None) -> Supplier | None:
        if not name.strip():
            return None
        found = self.suppliers.get(normalize_name(name), [])
        if not found:
            raise ValueError(f"There is no supplier called “{name.strip()}”. Add the "
                             "supplier first, or leave the cell empty.")
        if len(found) > 1:
            raise ValueError(f"Several suppliers are called “{name.strip()}”; pick the "
                             "preferred supplier on the product's page instead.")
        supplier = found[0]
        if not supplier.active and not (
                current is not None and current.preferred_supplier_id == supplier.id):
            raise ValueError(f"The supplier “{supplier.name}” is archived.")
        return supplier


def _current_values(product: Product | None) -> dict:
    """What an empty or absent cell leaves: the product's value, or a new one's default."""
    if product is None:
        return {"sku": "", "name": "", "description": "", "kind": "stocked", "unit": "pc",
                "list_price": Decimal("0.00"), "cost": Decimal("0.0000"), "tax_rate": None,
                "active": True, "reorder_point": Decimal(0), "reorder_qty": Decimal(0),
                "preferred_supplier": None, "allow_backorder": False}
    return {"sku": product.sku, "name": product.name, "description": product.description,
            "kind": product.kind, "unit": product.unit, "list_price": product.list_price,
            "cost": product.cost, "tax_rate": product.tax_rate, "active": product.active,
            "reorder_point": product.reorder_point, "reorder_qty": product.reorder_qty,
            "preferred_supplier": product.preferred_supplier,
            "allow_backorder": product.allow_backorder}


def _parse_row(cells: dict[str, str], product: Product | None, lookups: _Lookups,
               problem) -> dict | None:
    """set_product_fields' keyword arguments from one row's cells; None (and each
    problem reported) when a cell cannot be read."""
    values = _current_values(product)
    ok = True

    def fail(name, message):
        nonlocal ok
        ok = False
        problem(name, message)

    for name, text in cells.items():
        if name in READ_ONLY:
            continue
        if _has_control_chars(text):
            fail(name, "Remove the invisible control characters.")
            continue
        stripped = text.strip()
        try:
            if name in ("sku", "name"):
                values[name] = stripped
            elif name == "description":
                if len(stripped) > MAX_DESCRIPTION:
                    raise ValueError(f"Use at most {MAX_DESCRIPTION:,} characters.")
                values[name] = stripped
            elif name in ("kind", "unit"):
                if stripped:
                    values[name] = stripped.lower()
                    allowed = KINDS if name == "kind" else tuple(UNITS)
                    if values[name] not in allowed:
                        raise ValueError(f"Write one of: {', '.join(allowed)}.")
            elif name == "list_price":
                values[name] = parse_money(stripped, places=2)
            elif name == "cost":
                if stripped:
                    values[name] = parse_money(stripped, places=4)
            elif name in ("reorder_point", "reorder_qty"):
                if stripped:
                    values[name] = _quantity(stripped)
            elif name in ("active", "allow_backorder"):
                if stripped:
                    values[name] = _flag(stripped, name)
            elif name == "tax_rate":
                values[name] = lookups.tax_rate(stripped, product)
            elif name == "preferred_supplier":
                values[name] = lookups.supplier(stripped, product)
        except ValueError as error:
            fail(name, str(error))
    return values if ok else None


def _check_with_model(values: dict, product: Product | None) -> None:
    """Run set_product_fields on a throw-away copy (never added to the session, never
    flushed): the same rule as the form, nothing written."""
    probe = Product()
    if product is not None:
        probe.id, probe.kind, probe.unit = product.id, product.kind, product.unit
    with db.session.no_autoflush:
        set_product_fields(probe, **values)


def validate_rows(parsed: CsvFile) -> ImportReport:
    """Check every row; the report holds the rows that can be written and each problem
    (line, SKU, field, message)."""
    columns = parsed.columns
    keys = []
    for _, cells in parsed.rows:
        sku = _cell(cells[columns.index("sku")]) if len(cells) > columns.index("sku") else ""
        keys.append(sku_key(sku))
    lookups = _Lookups([k for k in keys if k])
    report = ImportReport(total=len(parsed.rows))
    seen: dict[str, int] = {}
    for (line, raw), key in zip(parsed.rows, keys, strict=True):
        sku_text = raw[columns.index("sku")].strip() if len(raw) > columns.index("sku") else ""
        problems_before = len(report.problems)

        def problem(name, message, line=line, sku_text=sku_text):
            report.problems.append(RowProblem(line, sku_text, name, message))

        if len(raw) > len(columns):
            problem("", f"This line has {len(raw)} cells but the header names "
                        f"{len(columns)} columns; check for a stray delimiter.")
            continue
        cells = {name: _cell(raw[i]) if i < len(raw) else ""
                 for i, name in enumerate(columns)}
        if key and key in seen:
            problem("sku", f"SKU {sku_text} is also on line {seen[key]}; each product "
                           "may appear once.")
            continue
        if key:
            seen[key] = line
        product = lookups.products.get(key) if key else None
        values = _parse_row(cells, product, lookups, problem)
        if values is None:
            continue
        try:
            _check_with_model(values, product)
        except DomainError as error:
            problem(error.field or "", error.message)
        if len(report.problems) == problems_before:
            report.valid.append(ValidRow(line, values, product))
    return report


def import_rows(report: ImportReport) -> tuple[int, int]:
    """Write the report's valid rows (in the caller's transaction); (created, updated).

    A rule refusing a row now (someone took a SKU meanwhile) raises DomainError naming
    the line: the caller rolls everything back."""
    from models.catalog import create_product

    created = updated = 0
    for row in report.valid:
        try:
            if row.product is not None:
                set_product_fields(row.product, **row.values)
                db.session.flush()
                updated += 1
            else:
                create_product(**row.values)
                created += 1
        except DomainError as error:
            raise DomainError(f"Line {row.line}: {error.message} Nothing was imported.") \
                from None
    return created, updated

