"""Stock pages: locations, the stock moves list, stock counts and the value of stock.

Every GET here only reads. The default locations are created by a button (a POST) on the
locations page, or by the first stock operation (`models.stock.ensure_locations`), never
by opening a page; so these views query `Location` directly instead of calling the
model helpers that create the defaults on first use.
"""

import csv
import io
import re
from collections import defaultdict
from datetime import date
from decimal import Decimal

from flask import Response, abort, current_app, flash, request, url_for
from flask_login import current_user
from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.exc import StaleDataError

from blueprints.catalog import bp
from blueprints.catalog.stock_forms import CountForm, LocationEditForm, LocationForm
from blueprints.forms import choices
from blueprints.web import ALL_ROLES, can, redirect_to, refuse, render, roles, url_page
from models import CompanySettings, db
from models.catalog import Product, product_by_sku, product_search_clause
from models.catalog_csv import neutralise, quantity_text
from models.errors import DomainError
from models.stock import (
    DEFAULT_LOCATIONS,
    MOVE_STATES,
    STOCK_ROLES,
    VIRTUAL_KINDS,
    Location,
    StockCount,
    StockCountLine,
    StockLevel,
    StockMove,
    add_location,
    ensure_locations,
    record_count,
    stock_valuation,
    update_location,
)
from models.types import parse_quantity

VALUATION_ROLES = ("admin", "finance", "operations")
MOVE_PARAMS = {"product_id", "location_id", "state", "source_type", "source_id", "after",
               "before"}
# what caused a move (StockMove.source_type): the filter's whitelist and its labels
MOVE_SOURCES = {"manual": "Manual", "receipt": "Receipt", "count": "Count",
                "shipment": "Shipment", "return": "Return"}
STATE_LABELS = {"draft": "Draft", "reserved": "Reserved", "done": "Done",
                "cancelled": "Cancelled"}
KIND_LABELS = {"view": "Warehouse", "internal": "Holds stock", "supplier": "Suppliers",
               "customer": "Customers", "adjustment": "Inventory adjustment"}
MAX_PER_PAGE = 50
MAX_ID = 2**31 - 1
MAX_COUNT_LINES = 300   # a count sheet longer than this is narrowed with its filter
EXTRA_ROWS = 3          # blank "another product" rows on a count sheet
MAX_EXTRA_ROWS = 20
STALE = ("This was changed by someone else a moment ago. Reload to see their change, "
         "then make yours again.")


def _per_page() -> int:
    return min(current_app.config.get("TANDEM_PER_PAGE", 25), MAX_PER_PAGE)


def _id_arg(name: str, what: str) -> int | None:
    """A whitelisted id filter from the URL (digits in range), else 400."""
    value = request.args.get(name, "")
    if not value:
        return None
    if not (value.isdigit() and len(value) <= 10 and int(value) <= MAX_ID):
        abort(400, f"Unknown {what} filter.")
    return int(value)


def _only_args(allowed: set[str]) -> None:
    unknown = set(request.args) - allowed
    if unknown:
        abort(400, f"Unknown filter: {', '.join(sorted(unknown))}.")


def _all_locations() -> list[Location]:
    return list(db.session.scalars(select(Location).order_by(Location.code)))


def _count_locations() -> list[Location]:
    """Active locations that hold stock (read only: never creates the defaults)."""
    return list(db.session.scalars(
        select(Location).where(Location.kind == "internal", Location.active.is_(True))
        .order_by(Location.code)))


# Quantities as a person types them (12, 2.5), and text cells a spreadsheet will not run:
# the catalog CSV's own helpers, one implementation for every page and file.
bp.add_app_template_filter(quantity_text, "stock_qty")
formula_safe = neutralise


# --- Locations ---------------------------------------------------------------------------

def _products_held() -> dict[int, int]:
    """{location id: how many products have stock on hand there}, one grouped query."""
    return dict(db.session.execute(
        select(StockLevel.location_id, func.count())
        .where(StockLevel.on_hand != 0).group_by(StockLevel.location_id)).all())


@bp.route("/locations")
@roles(*ALL_ROLES)
def locations():
    """The warehouse with its sub-locations indented, the virtual locations apart, and
    how many products each holds."""
    _only_args(set())
    found = _all_locations()
    children = defaultdict(list)
    for place in found:
        children[place.parent_id].append(place)
    tree, seen = [], set()

    def walk(parent_id, depth):
        for place in children.get(parent_id, ()):
            if place.kind in VIRTUAL_KINDS or place.id in seen:
                continue
            seen.add(place.id)
            tree.append((place, depth))
            walk(place.id, depth + 1)

    walk(None, 0)
    # a sub-location whose parent is not in the tree (never made by add_location)
    tree += [(place, 0) for place in found
             if place.kind not in VIRTUAL_KINDS and place.id not in seen]
    codes = {place.code for place in found}
    missing = [code for code, *_ in DEFAULT_LOCATIONS if code not in codes]
    return render("catalog/locations.html", tree=tree,
                  virtual=[place for place in found if place.kind in VIRTUAL_KINDS],
                  held=_products_held(), missing=missing, kinds=KIND_LABELS,
                  may_edit=can(*STOCK_ROLES))


@bp.route("/locations/defaults", methods=["POST"])
@roles(*STOCK_ROLES)
def create_default_locations():
    """Create the default locations (main warehouse, its stock, the virtual ones)."""
    ensure_locations()
    db.session.commit()
    flash("The default locations are created.", "success")
    return redirect_to(url_for("catalog.locations"))


def _parent_choices():
    parents = db.session.scalars(
        select(Location).where(Location.kind.in_(("view", "internal")),
                               Location.active.is_(True)).order_by(Location.code))
    return choices([("", "Nothing (a location of its own)")]
                   + [(str(place.id), place.label) for place in parents])


@bp.route("/locations/new", methods=["GET", "POST"])
@roles(*STOCK_ROLES)
def new_location():
    """Add a sub-location (?parent_id= preselects what it is part of)."""
    form = LocationForm()
    form.parent_id.choices = _parent_choices()
    status, message = 200, None
    if request.method == "GET":
        _only_args({"parent_id"})
        parent_id = _id_arg("parent_id", "location")
        if parent_id is None:
            parent_id = db.session.scalar(select(Location.id).where(Location.code == "WH"))
        if parent_id is not None and str(parent_id) in {c.value for c in form.parent_id.choices}:
            form.parent_id.data = str(parent_id)
    else:
        status = 422
        if form.validate():
            parent = db.session.get(Location, int(form.parent_id.data)) \
                if form.parent_id.data else None
            try:
                found = add_location(code=form.code.data, name=form.name.data, parent=parent)
                db.session.commit()
            except DomainError as error:
                status, message = refuse(form, error)
            except IntegrityError:
                db.session.rollback()
                form.code.errors = [f"Location {form.code.data.strip().upper()} already exists."]
            else:
                flash(f"Location {found.code} is added.", "success")
                return redirect_to(url_for("catalog.locations"))
    return render("catalog/location_form.html", form=form, location=None, conflict=message,
                  status=status)


@bp.route("/locations/<int:location_id>/edit", methods=["GET", "POST"])
@roles(*STOCK_ROLES)
def edit_location(location_id: int):
    """Rename a location, archive or restore it (version-checked)."""
    found = db.session.get(Location, location_id) or abort(404)
    status, message = 200, None
    if request.method == "GET":
        form = LocationEditForm(obj=found)
        form.version.data = found.version
    else:
        form = LocationEditForm()
        status = 422
        if form.validate():
            try:
                # only a location that holds stock shows the Active box
                active = form.active.data if found.is_internal else found.active
                update_location(found, name=form.name.data, active=active,
                                version=form.version.data)
                db.session.commit()
            except StaleDataError:
                db.session.rollback()
                status, message = 409, STALE
            except DomainError as error:
                status, message = refuse(form, error)
            else:
                flash(f"Location {found.code} is saved.", "success")
                return redirect_to(url_for("catalog.locations"))
    return render("catalog/location_form.html", form=form, location=found, conflict=message,
                  held=_products_held().get(found.id, 0), status=status)


# --- Stock moves -------------------------------------------------------------------------

def _move_filters() -> dict:
    """The moves list's filters from the URL: whitelisted names and values, else 400."""
    _only_args(MOVE_PARAMS)
    state = request.args.get("state", "")
    if state and state not in MOVE_STATES:
        abort(400, "Unknown state filter.")
    source_type = request.args.get("source_type", "")
    if source_type and source_type not in MOVE_SOURCES:
        abort(400, "Unknown source filter.")
    return {"product_id": _id_arg("product_id", "product"),
            "location_id": _id_arg("location_id", "location"),
            "state": state, "source_type": source_type,
            "source_id": _id_arg("source_id", "document")}


@bp.route("/moves")
@roles(*ALL_ROLES)
def moves():
    """Every stock move, newest first, filtered by product, location, state or source."""
    filters = _move_filters()
    product = location = None
    if filters["product_id"]:
        product = db.session.get(Product, filters["product_id"]) or abort(
            404, "There is no such product.")
    if filters["location_id"]:
        location = db.session.get(Location, filters["location_id"]) or abort(
            404, "There is no such location.")
    query = select(StockMove).options(selectinload(StockMove.created_by))
    if product is not None:
        query = query.where(StockMove.product_id == product.id)
    if location is not None:
        query = query.where(or_(StockMove.from_location_id == location.id,
                                StockMove.to_location_id == location.id))
    if filters["state"]:
        query = query.where(StockMove.state == filters["state"])
    if filters["source_type"]:
        query = query.where(StockMove.source_type == filters["source_type"])
    if filters["source_id"]:
        query = query.where(StockMove.source_id == filters["source_id"])
    page = url_page(query, StockMove.id, StockMove.id, descending=True,
                    per_page=_per_page(), key_of=lambda move: move.id)
    return render("catalog/moves.html", block="results", page=page, filters=filters,
                  product=product, location=location, locations=_all_locations(),
                  states=STATE_LABELS, sources=MOVE_SOURCES)


# --- Stock counts ------------------------------------------------------------------------

@bp.route("/counts")
@roles(*ALL_ROLES)
def counts():
    """Stock counts, newest first (?location_id= for one location's)."""
    _only_args({"location_id", "after", "before"})
    location_id = _id_arg("location_id", "location")
    location = None
    query = select(StockCount)
    if location_id:
        location = db.session.get(Location, location_id) or abort(
            404, "There is no such location.")
        query = query.where(StockCount.location_id == location.id)
    page = url_page(query, StockCount.id, StockCount.id, descending=True,
                    per_page=_per_page(), key_of=lambda count: count.id)
    figures = {}
    if page.items:
        figures = {count_id: (lines, adjusted) for count_id, lines, adjusted in
                   db.session.execute(
                       select(StockCountLine.count_id, func.count(),
                              func.count(StockCountLine.move_id))
                       .where(StockCountLine.count_id.in_([c.id for c in page.items]))
                       .group_by(StockCountLine.count_id))}
    return render("catalog/counts.html", block="results", page=page, figures=figures,
                  location=location, locations=_count_locations(),
                  filters={"location_id": location_id}, may_count=can(*STOCK_ROLES))


def _sheet(location: Location | None, q: str) -> tuple[list, bool]:
    """[(product, on hand)] to count at `location`: every stocked product with a level
    there that is active or still has stock, SKU order; and whether there were more than
    MAX_COUNT_LINES (the filter `q` narrows the sheet)."""
    if location is None:
        return [], False
    query = (select(Product, StockLevel.on_hand)
             .join(StockLevel, StockLevel.product_id == Product.id)
             .where(StockLevel.location_id == location.id, Product.kind == "stocked",
                    or_(Product.active.is_(True), StockLevel.on_hand != 0)))
    if q:
        query = query.where(product_search_clause(q))
    rows = [tuple(row) for row in db.session.execute(
        query.order_by(Product.sku_key).limit(MAX_COUNT_LINES + 1))]
    return rows[:MAX_COUNT_LINES], len(rows) > MAX_COUNT_LINES


def _extra_rows(form_data) -> list[dict]:
    """The "another product" rows as posted (`extra-<n>-sku`, `extra-<n>-qty`)."""
    numbers = sorted({int(match.group(1)) for key in form_data
                      if (match := re.fullmatch(r"extra-(\d{1,2})-(?:sku|qty)", key))})
    return [{"sku": form_data.get(f"extra-{n}-sku", "").strip()[:64],
             "qty": form_data.get(f"extra-{n}-qty", "").strip()[:40], "error": None}
            for n in numbers[:MAX_EXTRA_ROWS]]


def _read_count(sheet, extras, form_data):
    """({product id: (product, quantity)}, {product id: error}) from the posted sheet;
    the extra rows get their own `error`."""
    counted: dict[int, tuple[Product, Decimal]] = {}
    errors: dict[int, str] = {}
    for product, _ in sheet:
        text = form_data.get(f"count-{product.id}", "").strip()
        if not text:
            continue
        try:
            counted[product.id] = (product, parse_quantity(text, whole=product.whole_units,
                                                           allow_zero=True))
        except ValueError as error:
            errors[product.id] = str(error)
    listed = {product.id for product, _ in sheet}
    for row in extras:
        if not row["sku"] and not row["qty"]:
            continue
        if not row["sku"]:
            row["error"] = "Enter the product's SKU."
            continue
        product = product_by_sku(row["sku"])
        if product is None:
            row["error"] = f"No product with SKU {row['sku']}."
        elif not product.is_stocked:
            row["error"] = f"{product.sku} is a service; services are not counted."
        elif not row["qty"]:
            row["error"] = "Enter the counted quantity."
        elif product.id in counted or (product.id in listed and product.id in errors):
            row["error"] = f"{product.sku} is counted twice; enter it once."
        else:
            try:
                counted[product.id] = (product, parse_quantity(
                    row["qty"], whole=product.whole_units, allow_zero=True))
                row["product_id"] = product.id
            except ValueError as error:
                row["error"] = str(error)
    return counted, errors


@bp.route("/counts/new", methods=["GET", "POST"])
@roles(*STOCK_ROLES)
def new_count():
    """Count a location: its products' counted quantities (blank: not counted) and
    why; each difference becomes an adjustment move."""
    places = _count_locations()
    by_id = {place.id: place for place in places}
    message = None
    errors: dict[int, str] = {}
    typed: dict[int, str] = {}
    status = 200
    if request.method == "GET":
        _only_args({"location_id", "q"})
        form = CountForm(formdata=None)
        location_id = _id_arg("location_id", "location")
        if location_id is not None and location_id not in by_id:
            abort(400, "Count at an active location that holds stock.")
        if location_id is None and places:
            location_id = next((p.id for p in places if p.code == "WH/STOCK"), places[0].id)
        location = by_id.get(location_id)
        q = request.args.get("q", "").strip()[:64]
        form.location_id.data = str(location.id) if location else ""
        form.q.data = q
        extras = [{"sku": "", "qty": "", "error": None} for _ in range(EXTRA_ROWS)]
    else:
        form = CountForm()
        status = 422
        valid = form.validate()
        location = by_id.get(int(form.location_id.data)) \
            if (form.location_id.data or "").isdigit() and len(form.location_id.data) < 10 \
            else None
        if location is None and not form.location_id.errors:
            form.location_id.errors = ["Choose an active location that holds stock."]
            valid = False
        q = (form.q.data or "").strip()[:64] if not form.q.errors else ""
        sheet, _ = _sheet(location, q)
        extras = _extra_rows(request.form)
        typed = {product.id: request.form.get(f"count-{product.id}", "")[:40]
                 for product, _ in sheet}
        counted, errors = _read_count(sheet, extras, request.form)
        if valid and not errors and not any(row["error"] for row in extras):
            if not counted:
                message = "Enter at least one counted quantity."
            else:
                try:
                    count = record_count(location, {p: qty for p, qty in counted.values()},
                                         reason=form.reason.data, by=current_user)
                    db.session.commit()
                except DomainError as error:
                    db.session.rollback()
                    status = error.status
                    message = _place_count_error(error, sheet, extras, errors, form)
                else:
                    changed = sum(1 for line in count.lines if line.move_id)
                    flash(f"Count #{count.id} at {location.code} is recorded: {changed} "
                          f"adjustment{'s' if changed != 1 else ''}.", "success")
                    return redirect_to(url_for("catalog.count", count_id=count.id))
        if not any(not (row["sku"] or row["qty"]) for row in extras) \
                and len(extras) < MAX_EXTRA_ROWS:
            extras.append({"sku": "", "qty": "", "error": None})
        if location is not None:
            location = db.session.get(Location, location.id)
    sheet, more = _sheet(location, q)
    return render("catalog/count_form.html", block="sheet", form=form, locations=places,
                  location=location, sheet=sheet, more=more, q=q, extras=extras,
                  errors=errors, typed=typed, message=message, max_lines=MAX_COUNT_LINES,
                  status=status)


def _place_count_error(error: DomainError, sheet, extras, errors, form) -> str | None:
    """Put a refusal of record_count next to its line or field; the message for the top
    of the form otherwise."""
    match = re.fullmatch(r"count-(\d+)", error.field or "")
    if match:
        product_id = int(match.group(1))
        for row in extras:
            if row.get("product_id") == product_id:
                row["error"] = error.message
                return None
        if any(product.id == product_id for product, _ in sheet):
            errors[product_id] = error.message
            return None
    if error.field in ("reason", "location_id"):
        getattr(form, error.field).errors = [error.message]
        return None
    return error.message


@bp.route("/counts/<int:count_id>", endpoint="count")
@roles(*ALL_ROLES)
def show_count(count_id: int):
    """A count: expected, counted and the difference per line, and its adjustment moves."""
    count = db.session.get(StockCount, count_id) or abort(404)
    return render("catalog/count.html", count=count)


# --- Stock value -------------------------------------------------------------------------

@bp.route("/valuation")
@roles(*VALUATION_ROLES)
def valuation():
    """The value of stock on hand per product and in total, with the ten largest as a
    chart beside the table."""
    _only_args(set())
    rows, total = stock_valuation()
    top = sorted((row for row in rows if row.value > 0),
                 key=lambda row: (-row.value, row.product.sku_key))[:10]
    return render("catalog/valuation.html", rows=rows, total=total,
                  chart=[(row.product.sku, row.value) for row in top],
                  currency=CompanySettings.current().base_currency)


@bp.route("/valuation.csv")
@roles(*VALUATION_ROLES)
def valuation_csv():
    """The stock value table as CSV; text cells that a spreadsheet would run as a
    formula are neutralised."""
    _only_args(set())
    rows, total = stock_valuation()
    currency = CompanySettings.current().base_currency
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["SKU", "Product", "Unit", "On hand", f"Unit cost ({currency})",
                     f"Value ({currency})"])
    for row in rows:
        # numbers are ours (never typed text), so a negative on hand stays a number
        writer.writerow([formula_safe(row.product.sku), formula_safe(row.product.name),
                         formula_safe(row.product.unit), f"{row.on_hand:f}",
                         f"{row.product.cost:f}", f"{row.value:f}"])
    writer.writerow(["Total", "", "", "", "", f"{total:f}"])
    response = Response(out.getvalue(), mimetype="text/csv")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="stock-value-{date.today().isoformat()}.csv"')
    return response
