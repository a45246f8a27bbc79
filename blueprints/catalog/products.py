"""Products: the list with live stock figures, the product page, adding and editing,
archiving, the SKU type-ahead behind `product_field`, and CSV export and import."""

import functools
import re
from datetime import date
from decimal import Decimal

from flask import Response, abort, flash, request, stream_with_context, url_for
from sqlalchemy import bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from blueprints.catalog import bp
from blueprints.catalog.product_forms import ArchiveForm, ImportForm, ProductForm
from blueprints.forms import choices
from blueprints.web import ALL_ROLES, can, redirect_to, refuse, render, roles, url_page
from models import AuditEntry, CompanySettings, User, db
from models.catalog import (
    CATALOG_ROLES,
    Product,
    Supplier,
    TaxRate,
    active_tax_rates,
    create_product,
    set_product_fields,
    sku_key,
)
from models.catalog_csv import (
    MAX_BYTES,
    FileRefused,
    ProductFilters,
    export_csv,
    import_rows,
    product_rows,
    quantity_text,
    read_csv,
    validate_rows,
)
from models.customers import like_literal, normalize_name
from models.errors import DomainError
from models.purchasing import open_orders_for_product
from models.stock import ProductStock, has_stock_history, levels_for, moves_for_product
from models.types import round_money

COST_ROLES = ("admin", "finance", "operations")  # who sees costs and stock value
LIST_PARAMS = {"q", "kind", "active", "below", "supplier", "after", "before"}
ACTIVE_FILTERS = {"": True, "archived": False, "all": None}
PER_PAGE = 50
LOOKUP_LIMIT = 20
LOOKUP_MIN = 2
# The lookup answers ?q= and ?sku=, and the product_field macro, which sends its input's
# own name: "product", "sku", or a form's "lines-0-sku" / "extra-2-product".
LOOKUP_PARAM = re.compile(r"^(q|sku|product|[A-Za-z0-9_-]{0,60}[-_](sku|product))$")
STALE = ("This was changed by someone else a moment ago. Reload to see their change, "
         "then make yours again.")
LOCKED_COST_HINT = ("The moving-average cost: every receipt updates it, so it cannot be "
                    "typed once the product has stock moves.")


def _product_or_404(product_id: int) -> Product:
    return db.session.get(Product, product_id) or abort(404)


def _currency() -> str:
    return CompanySettings.current().base_currency


# --- The list ----------------------------------------------------------------------------

def _filters(allowed=LIST_PARAMS) -> dict:
    """The list's filters from the URL: whitelisted names and values only, else 400."""
    args = request.args
    unknown = set(args) - allowed
    if unknown:
        abort(400, f"Unknown filter: {', '.join(sorted(unknown))}.")
    if any(len(args.getlist(name)) > 1 for name in args):
        abort(400, "Give each filter once.")
    kind = args.get("kind", "")
    if kind not in ("", "stocked", "service"):
        abort(400, "Unknown kind: choose stocked or service.")
    active = args.get("active", "")
    if active not in ACTIVE_FILTERS:
        abort(400, "Unknown status filter: choose archived or all.")
    below = args.get("below", "")
    if below not in ("", "1"):
        abort(400, "Unknown reorder filter.")
    supplier = args.get("supplier", "")
    if supplier and not (supplier.isdigit() and len(supplier) < 10):
        abort(400, "Unknown supplier filter.")
    q = args.get("q", "")
    if len(q) > 200 or any(ord(ch) < 32 for ch in q):
        abort(400, "Search for at most 200 characters.")
    return {"q": q, "kind": kind, "active": active, "below": below, "supplier": supplier}


def _query_filters(filters: dict) -> ProductFilters:
    return ProductFilters(
        q=filters["q"], kind=filters["kind"] or None, active=ACTIVE_FILTERS[filters["active"]],
        below_reorder=filters["below"] == "1",
        supplier_id=int(filters["supplier"]) if filters["supplier"] else None)


def _filter_supplier(filters: dict) -> Supplier | None:
    if not filters["supplier"]:
        return None
    return db.session.get(Supplier, int(filters["supplier"])) or abort(
        404, "There is no such supplier.")


# built once: the product list runs it on every request
_ACTIVE_SUPPLIERS = (select(Supplier.id, Supplier.name, Supplier.active)
                     .where(Supplier.active.is_(True)).order_by(Supplier.search_name, Supplier.id))


def _suppliers(current: Supplier | None = None) -> list:
    """The active suppliers as rows of (id, name, active), for a menu: not whole records,
    which a list page would otherwise load 60 of on every request."""
    found = list(db.session.execute(_ACTIVE_SUPPLIERS))
    if current is not None and current.id not in {row.id for row in found}:
        found.append(current)
    return found


@bp.route("/products")
@roles(*ALL_ROLES)
def products():
    """Products with on hand, reserved and available: search, filters, keyset pages."""
    filters = _filters()
    supplier = _filter_supplier(filters)
    page = url_page(product_rows(_query_filters(filters)), Product.sku_key, Product.id,
                    descending=False, per_page=PER_PAGE, key_of=lambda row: row.sku_key)
    export_args = {k: v for k, v in filters.items() if v}
    return render("catalog/products.html", block="results", page=page, filters=filters,
                  suppliers=_suppliers(supplier), export_args=export_args,
                  currency=_currency(), qty=quantity_text, may_edit=can(*CATALOG_ROLES))


@bp.route("/products.csv")
@roles(*ALL_ROLES)
def export_products():
    """The products matching the list's filters as a CSV file (costs only for the roles
    that see them)."""
    filters = _filters(LIST_PARAMS - {"after", "before"})
    _filter_supplier(filters)
    chunks = export_csv(_query_filters(filters), with_cost=can(*COST_ROLES))
    response = Response(stream_with_context(chunks), mimetype="text/csv")
    response.headers["Content-Type"] = "text/csv; charset=utf-8"
    response.headers["Content-Disposition"] = (
        f'attachment; filename="products-{date.today().isoformat()}.csv"')
    return response


# --- Type-ahead --------------------------------------------------------------------------

@functools.cache
def _lookup_statements():
    """The type-ahead's two statements, built once (they run on every key press): active
    products whose SKU key lies in [key, key_end), and those outside it whose name
    matches the LIKE pattern; LOOKUP_LIMIT of each at most, in SKU order."""
    base = (product_rows(ProductFilters(active=True))
            .order_by(Product.sku_key, Product.id).limit(LOOKUP_LIMIT))
    at_or_after, before_end = (Product.sku_key >= bindparam("key"),
                               Product.sku_key < bindparam("key_end"))
    return (base.where(at_or_after, before_end),
            base.where(Product.search_name.like(bindparam("pattern"), escape="/"),
                       ~(at_or_after & before_end)))


@bp.route("/products/lookup")
@roles(*ALL_ROLES)
def lookup():
    """Up to 20 active products matching what was typed, as <option>s for a datalist."""
    args = request.args
    if len(args) > 1 or any(not LOOKUP_PARAM.match(name) for name in args) \
            or any(len(args.getlist(name)) > 1 for name in args):
        abort(400, "Ask with ?q= (SKU or name) or ?sku= (SKU).")
    name, text = next(iter(args.items()), ("q", ""))
    text = text.strip()
    rows = []
    if LOOKUP_MIN <= len(text) <= 200 and not any(ord(ch) < 32 for ch in text):
        by_sku, by_name = _lookup_statements()
        key = sku_key(text)
        # SKUs starting with the text first, from the (active, sku_key) index; then, when
        # they are fewer than the limit, names containing it (in SKU order, so the scan
        # stops once the list is full)
        bounds = {"key": key, "key_end": key + "\uffff"}
        rows = list(db.session.scalars(by_sku, bounds))
        if name != "sku" and len(rows) < LOOKUP_LIMIT:
            pattern = f"%{like_literal(normalize_name(text))}%"
            rows += list(db.session.scalars(by_name, {**bounds, "pattern": pattern}))
            rows = rows[:LOOKUP_LIMIT]
    return render("catalog/_lookup.html", rows=rows, qty=quantity_text)


# --- One product -------------------------------------------------------------------------

class _WithoutCost:
    """An audit entry with the cost changes left out (for roles that may not see cost)."""

    HIDDEN = ("cost",)

    def __init__(self, entry: AuditEntry):
        self._entry = entry

    def __getattr__(self, name):
        return getattr(self._entry, name)

    @property
    def change_list(self):
        return [c for c in self._entry.change_list if c[0] not in self.HIDDEN]


def _page(product: Product, *, status: int = 200, conflict: str | None = None):
    see_cost = can(*COST_ROLES)
    totals = db.session.get(ProductStock, product.id)
    moves = moves_for_product(product.id, limit=100)
    history = AuditEntry.for_subject("product", product.id)
    if not see_cost:
        history = [_WithoutCost(e) for e in history]
    people = {m.created_by_id for m in moves} | {e.user_id for e in history}
    people.discard(None)
    names = {u.id: u.name for u in db.session.scalars(
        select(User).where(User.id.in_(people)))} if people else {}
    on_hand = totals.on_hand if totals else None
    lines = open_orders_for_product(product.id)
    archive_form = ArchiveForm(formdata=None, version=product.version,
                               archive="no" if not product.active else "yes")
    return render(
        "catalog/product.html", status=status, product=product, conflict=conflict,
        totals=totals, levels=levels_for(product.id) if product.is_stocked else [],
        moves=moves, open_lines=lines,
        on_order=sum((line.outstanding for line in lines), start=Decimal(0)),
        history=history, user_names={str(k): v for k, v in names.items()},
        mover_names=names, see_cost=see_cost,
        stock_value=round_money(on_hand * product.cost) if on_hand is not None else None,
        currency=_currency(), qty=quantity_text, archive_form=archive_form,
        may_edit=can(*CATALOG_ROLES))


@bp.route("/products/<int:product_id>", endpoint="product")
@roles(*ALL_ROLES)
def show_product(product_id: int):
    """A product: its facts, stock per location, open purchase orders, moves, history."""
    return _page(_product_or_404(product_id))


@bp.route("/products/<int:product_id>/archive", methods=["POST"])
@roles(*CATALOG_ROLES)
def archive_product(product_id: int):
    """Archive a product (out of new documents, kept on old ones) or restore it."""
    product = _product_or_404(product_id)
    form = ArchiveForm()
    if not form.validate():
        return _page(product, status=422, conflict="Choose archive or restore.")
    archive = form.archive.data == "yes"
    try:
        product.check_version(form.version.data)
        product.active = not archive
        db.session.commit()
    except StaleDataError:
        db.session.rollback()
        return _page(_product_or_404(product_id), status=409, conflict=STALE)
    except DomainError as error:
        db.session.rollback()
        return _page(_product_or_404(product_id), status=error.status, conflict=error.message)
    flash(f"{product.sku} is {'archived' if archive else 'restored'}.", "success")
    return redirect_to(url_for("catalog.product", product_id=product.id))


# --- Adding and editing ------------------------------------------------------------------

def _set_choices(form: ProductForm, product: Product) -> None:
    rates = active_tax_rates()
    if product.tax_rate is not None and product.tax_rate not in rates:
        rates.append(product.tax_rate)  # an inactive rate stays until changed
    form.tax_rate_id.choices = choices(
        [("", "No tax")] + [(str(r.id), r.label + ("" if r.active else " — inactive"))
                            for r in rates])
    suppliers = _suppliers(product.preferred_supplier)
    form.preferred_supplier_id.choices = choices(
        [("", "None")] + [(str(s.id), s.name + ("" if s.active else " — archived"))
                          for s in suppliers])
    currency = _currency()
    form.list_price.label.text = f"List price ({currency})"
    form.cost.label.text = f"Cost ({currency})"


def _or_zero(value: Decimal | None) -> Decimal:
    return Decimal(0) if value is None else value


def _picked(model, value: str | None):
    return db.session.get(model, int(value)) if value else None


def _save(product: Product, form: ProductForm):
    """Validate the form and save it onto `product`; the form again on a refusal."""
    status, conflict = 200, None
    _set_choices(form, product)
    locked = product.id is not None and product.is_stocked and has_stock_history(product.id)
    if locked:
        form.cost.render_kw = {"readonly": True}
        form.cost.description = LOCKED_COST_HINT
    if request.method == "POST":
        status = 422
        if locked:  # whatever was posted, the cost stays the moving average
            form.cost.process_errors = []
            form.cost.data = product.cost
            form.cost.raw_data = [f"{product.cost:.4f}"]
        if form.validate():
            fields = dict(
                sku=form.sku.data, name=form.name.data, description=form.description.data,
                kind=form.kind.data, unit=form.unit.data, list_price=form.list_price.data,
                cost=form.cost.data, tax_rate=_picked(TaxRate, form.tax_rate_id.data),
                reorder_point=_or_zero(form.reorder_point.data),
                reorder_qty=_or_zero(form.reorder_qty.data),
                preferred_supplier=_picked(Supplier, form.preferred_supplier_id.data),
                allow_backorder=bool(form.allow_backorder.data))
            try:
                if product.id is None:
                    product = create_product(active=True, **fields)
                else:
                    product.check_version(form.version.data)
                    set_product_fields(product, active=product.active, **fields)
                    db.session.flush()
                db.session.commit()
            except StaleDataError:
                db.session.rollback()
                status, conflict = 409, STALE
            except IntegrityError:
                db.session.rollback()
                form.sku.errors = [f"SKU {form.sku.data.strip()} is already used by another "
                                   "product."]
            except DomainError as error:
                status, conflict = refuse(form, error)
            else:
                flash(f"{product.sku} is saved.", "success")
                return redirect_to(url_for("catalog.product", product_id=product.id))
    return render("catalog/product_form.html", form=form, product=product, conflict=conflict,
                  locked=locked, status=status)


@bp.route("/products/new", methods=["GET", "POST"])
@roles(*CATALOG_ROLES)
def new_product():
    """Add a product or a service."""
    return _save(Product(), ProductForm())


@bp.route("/products/<int:product_id>/edit", methods=["GET", "POST"])
@roles(*CATALOG_ROLES)
def edit_product(product_id: int):
    """Change a product (version-checked)."""
    product = _product_or_404(product_id)
    if request.method == "GET":
        form = ProductForm(obj=product)
        form.version.data = product.version
        form.tax_rate_id.data = str(product.tax_rate_id or "")
        form.preferred_supplier_id.data = str(product.preferred_supplier_id or "")
    else:
        form = ProductForm()
    return _save(product, form)


# --- CSV import --------------------------------------------------------------------------

def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


@bp.route("/products/import", methods=["GET", "POST"])
@roles(*CATALOG_ROLES)
def import_products():
    """Create and update products from a CSV file: every row is checked first, and a file
    with errors imports nothing unless the user asks for the valid rows alone."""
    form = ImportForm()
    context = {"form": form, "report": None, "refused": None, "summary": None,
               "max_mb": MAX_BYTES // (1024 * 1024)}
    if request.method == "GET":
        return render("catalog/import.html", **context)
    form.validate()
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        form.file.errors = ["Choose a CSV file to import."]
        return render("catalog/import.html", status=422, **context)
    try:
        parsed = read_csv(upload.stream.read(MAX_BYTES + 1))
    except FileRefused as error:
        return render("catalog/import.html", status=error.status,
                      **(context | {"refused": error.message}))
    report = validate_rows(parsed)
    context["report"] = report
    if not report.valid:
        return render("catalog/import.html", status=422, **(context | {
            "refused": "No row can be imported: correct the rows below and upload the "
                       "file again. Nothing was imported."}))
    if report.problems and not form.valid_only.data:
        return render("catalog/import.html", status=422, **(context | {
            "refused": f"{_plural(report.rejected_lines, 'row')} of {report.total} "
                       "cannot be imported (see below). Nothing was imported: correct them "
                       "and upload the file again, or tick “import the valid rows”."}))
    try:
        created, updated = import_rows(report)
        db.session.commit()
    except DomainError as error:
        db.session.rollback()
        return render("catalog/import.html", status=422,
                      **(context | {"refused": error.message}))
    except (IntegrityError, StaleDataError):
        db.session.rollback()
        return render("catalog/import.html", status=409, **(context | {
            "refused": "Someone changed the catalog while the file was imported. Nothing "
                       "was imported; upload the file again."}))
    summary = (f"{created} created, {updated} updated, "
               f"{_plural(report.rejected_lines, 'row')} skipped.")
    if not report.problems:
        flash(f"Import done: {summary}", "success")
        return redirect_to(url_for("catalog.products", active="all"))
    return render("catalog/import.html", **(context | {"summary": summary}))
