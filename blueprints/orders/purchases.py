"""Purchase orders: the list, a new order, the order page with its lines (htmx, and plain
posts without JavaScript), send and cancel, the PDF, receiving goods, the supplier's bill
and the list of vendor bills. Rules are in models.purchasing; these views parse and render.

The three forms that make a document (a new order, a receipt, a bill) carry a one-time
key (models.formkeys): it is claimed only once the form is valid, so a refused form can
be sent again, and a repeat of a form that went through lands on what it made.
"""

from datetime import date
from decimal import Decimal

from flask import abort, flash, request, url_for
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload, selectinload
from sqlalchemy.orm.exc import StaleDataError

from blueprints.forms import choices
from blueprints.orders import bp
from blueprints.orders.lines import tax_choices, typed_line, typed_quantities
from blueprints.orders.purchase_forms import (
    BillForm,
    CancelForm,
    HeaderForm,
    LineForm,
    NewPurchaseForm,
    ReceiveForm,
    SendForm,
)
from blueprints.pdf import logo_uri, pdf_response, render_pdf
from blueprints.web import can, is_partial, redirect_to, refuse, render, roles, url_page
from models import AuditEntry, db
from models.catalog import Supplier
from models.company import CompanySettings
from models.errors import DomainError
from models.formkeys import claim_form_key, settle_form_key
from models.purchasing import (
    BILL_ROLES,
    BILL_STATUSES,
    OPEN_STATUSES,
    PURCHASE_ROLES,
    STATUS_LABELS,
    STATUSES,
    LineInput,
    PurchaseLine,
    PurchaseOrder,
    VendorBill,
    add_line,
    cancel_order,
    create_purchase_order,
    receive,
    record_bill,
    remove_line,
    send_order,
    update_line,
    update_order_header,
)
from models.stock import Location

VIEW_ROLES = ("admin", "operations", "finance")        # who may look at orders
BILL_VIEW_ROLES = ("admin", "finance", "operations")   # who may look at the bills list
LIST_PARAMS = {"status", "supplier_id", "after", "before"}
STATUS_FILTERS = {"": STATUSES, "open": OPEN_STATUSES} | {s: (s,) for s in STATUSES}
BILL_PARAMS = {"status", "overdue", "supplier_id", "after", "before"}
BILL_FILTERS = {"open": ("open",), "paid": ("paid",), "cancelled": ("cancelled",),
                "all": BILL_STATUSES}
STALE = ("This was changed by someone else a moment ago. Reload to see their change, "
         "then make yours again.")


def _order_or_404(order_id: int) -> PurchaseOrder:
    return db.session.get(PurchaseOrder, order_id) or abort(404)


def _line_or_404(order: PurchaseOrder, line_id: int) -> PurchaseLine:
    line = db.session.get(PurchaseLine, line_id)
    if line is None or line.order_id != order.id:
        abort(404)
    return line


def _id_param(value: str, what: str) -> int | None:
    """A numeric id from the URL, None when blank; 400 when it is not a number."""
    if not value:
        return None
    if not (value.isdigit() and len(value) < 10):
        abort(400, f"Unknown {what}.")
    return int(value)


def _internal_locations(keep: Location | None = None) -> list[Location]:
    """Active internal locations (read only: a GET must not create the defaults)."""
    found = list(db.session.scalars(
        select(Location).where(Location.kind == "internal", Location.active.is_(True))
        .order_by(Location.code)).unique())
    if keep is not None and keep not in found:
        found.append(keep)
    return found


def _base_currency() -> str:
    return CompanySettings.current().base_currency


def _qty(value: Decimal) -> str:
    return f"{value.normalize():f}"


@bp.app_template_filter("po_qty")
def qty_text(value) -> str:
    """A quantity without trailing zeros: 12, 2.5, 0.125."""
    if value is None:
        return ""
    return f"{Decimal(value).normalize():,f}"


@bp.app_template_filter("po_money")
def money_text(value) -> str:
    """An amount to the cent with thousands separators: 1,250.00."""
    if value is None:
        return ""
    return f"{Decimal(value):,.2f}"


@bp.app_template_filter("po_cost")
def cost_text(value) -> str:
    """A unit cost with two to four decimals: 12.50, 0.1234."""
    if value is None:
        return ""
    value = Decimal(value)
    places = 4 if value != value.quantize(Decimal("0.01")) else 2
    return f"{value:,.{places}f}"


# --- The list ----------------------------------------------------------------------------

def _list_filters() -> dict:
    args = request.args
    unknown = set(args) - LIST_PARAMS
    if unknown:
        abort(400, f"Unknown filter: {', '.join(sorted(unknown))}.")
    status = args.get("status", "")
    if status not in STATUS_FILTERS:
        abort(400, "Unknown status filter.")
    supplier_id = _id_param(args.get("supplier_id", ""), "supplier")
    return {"status": status, "supplier_id": str(supplier_id or "")}


def _all_suppliers() -> list[Supplier]:
    return list(db.session.scalars(select(Supplier).order_by(Supplier.search_name, Supplier.id)))


@bp.route("/purchases")
@roles(*VIEW_ROLES)
def purchases():
    """Purchase orders, newest first: by status ("open" = draft, sent, partly received)
    and supplier."""
    filters = _list_filters()
    supplier = None
    if filters["supplier_id"]:
        supplier = db.session.get(Supplier, int(filters["supplier_id"])) or abort(
            404, "There is no such supplier.")
    query = select(PurchaseOrder).options(selectinload(PurchaseOrder.lines))
    if filters["status"]:
        query = query.where(PurchaseOrder.status.in_(STATUS_FILTERS[filters["status"]]))
    if supplier is not None:
        query = query.where(PurchaseOrder.supplier_id == supplier.id)
    page = url_page(query, PurchaseOrder.id, PurchaseOrder.id, descending=True)
    return render("orders/purchases.html", block="results", page=page, filters=filters,
                  supplier=supplier, suppliers=_all_suppliers(), statuses=STATUSES,
                  labels=STATUS_LABELS, may_buy=can(*PURCHASE_ROLES))


# --- A new order -------------------------------------------------------------------------

def _active_suppliers() -> list[Supplier]:
    return list(db.session.scalars(
        select(Supplier).where(Supplier.active.is_(True))
        .order_by(Supplier.search_name, Supplier.id)))


def _picked_supplier(value: str | None) -> Supplier | None:
    value = (value or "").strip()
    if not value.isdigit() or len(value) > 9:
        return None
    return db.session.get(Supplier, int(value))


def _rate_label(form, supplier: Supplier | None, base: str) -> None:
    if supplier is not None and supplier.currency != base:
        form.exchange_rate.label.text = f"Exchange rate ({base} per 1 {supplier.currency})"


@bp.route("/purchases/new", methods=["GET", "POST"])
@roles(*PURCHASE_ROLES)
def new_purchase():
    """Start a draft order to a supplier (?supplier_id= preselects one). The exchange rate
    is asked for only when the supplier bills in another currency than ours. A repeat of
    the form (double click, retry) is sent to the order the first one started."""
    form = NewPurchaseForm()
    form.supplier_id.choices = choices(
        [("", "Choose a supplier")]
        + [(str(s.id), f"{s.name} ({s.currency})") for s in _active_suppliers()])
    base = _base_currency()
    message = None
    if request.method == "GET":
        wanted = _id_param(request.args.get("supplier_id", ""), "supplier")
        supplier = db.session.get(Supplier, wanted) if wanted else None
        if wanted and supplier is None:
            abort(404, "There is no such supplier.")
        if supplier is not None and not supplier.active:
            supplier = None
        form.supplier_id.data = str(supplier.id) if supplier else ""
        _rate_label(form, supplier, base)
        # htmx re-fetches only the rate field when another supplier is chosen.
        return render("orders/purchase_new.html", block="rate_field", form=form,
                      supplier=supplier, base=base, message=None)
    supplier = _picked_supplier(form.supplier_id.data)
    if form.validate():
        foreign = supplier is not None and supplier.currency != base
        if supplier is None:
            form.supplier_id.errors = ["Choose a supplier."]
        elif foreign and form.exchange_rate.data is None:
            form.exchange_rate.errors = [
                f"Enter the exchange rate: what one {supplier.currency} costs in {base}."]
        else:
            key = request.form.get("form_key")
            claim_form_key(key, "new_purchase", by=current_user)
            try:
                order = create_purchase_order(
                    supplier, by=current_user, expected_on=form.expected_on.data,
                    notes=form.notes.data or "",
                    exchange_rate=form.exchange_rate.data if foreign else None)
            except DomainError as error:
                _, message = refuse(form, error)     # rolls the claim back too
                supplier = _picked_supplier(form.supplier_id.data)
            else:
                url = url_for("orders.purchase", order_id=order.id)
                settle_form_key(key, url)
                db.session.commit()
                flash(f"{order.number} is started as a draft. Add its lines.", "success")
                return redirect_to(url)
    _rate_label(form, supplier, base)
    return render("orders/purchase_new.html", form=form, supplier=supplier, base=base,
                  message=message, status=422)


# --- The order page ----------------------------------------------------------------------

def _line_form(line: PurchaseLine | None = None, formdata=None) -> LineForm:
    if formdata is None and line is None:
        form = LineForm(formdata=None)
    elif formdata is None:
        form = LineForm(formdata=None, sku=line.product.sku if line.product else "",
                        description=line.description, quantity=_qty(line.quantity),
                        unit_cost=line.unit_cost,
                        tax_rate_id=str(line.tax_rate_id) if line.tax_rate_id else "none")
    else:
        form = LineForm(formdata=formdata)
    form.tax_rate_id.choices = tax_choices(line.tax_rate if line is not None else None)
    return form


def _header_form(order: PurchaseOrder, formdata=None) -> HeaderForm:
    if formdata is None:
        form = HeaderForm(formdata=None, version=order.version, expected_on=order.expected_on,
                          exchange_rate=order.exchange_rate, notes=order.notes,
                          location_id=str(order.location_id or ""))
    else:
        form = HeaderForm(formdata=formdata)
    form.location_id.choices = choices(
        [(str(loc.id), loc.label) for loc in _internal_locations(order.location)])
    base = _base_currency()
    if order.currency != base:
        form.exchange_rate.label.text = f"Exchange rate ({base} per 1 {order.currency})"
    return form


def _page(order: PurchaseOrder, *, block=None, status: int = 200, message: str | None = None,
          line_form=None, editing: int | None = None, header_form=None, cancel_form=None,
          lines_message: str | None = None, panel: str | None = None):
    """The order page, or for htmx the block(s) named."""
    base = _base_currency()
    return render(
        "orders/purchase.html", block=block, status=status, order=order, base=base,
        message=message, lines_message=lines_message, editing=editing, panel=panel,
        line_form=line_form or _line_form(),
        header_form=header_form or _header_form(order),
        cancel_form=cancel_form or CancelForm(formdata=None, version=order.version),
        send_form=SendForm(formdata=None, version=order.version),
        history=AuditEntry.for_subject("purchase_order", order.id),
        may_buy=can(*PURCHASE_ROLES), may_bill=can(*BILL_ROLES), labels=STATUS_LABELS)


@bp.route("/purchases/<int:order_id>", endpoint="purchase")
@roles(*VIEW_ROLES)
def show_purchase(order_id: int):
    """A purchase order: header, lines, totals, receipts, its bill and history."""
    return _page(_order_or_404(order_id))


# --- Lines -------------------------------------------------------------------------------

def _line_input(form: LineForm, order: PurchaseOrder) -> LineInput | None:
    """The typed line as a LineInput, or None with the messages put on the form.

    A blank unit cost is the product's cost, which is in the base currency: on an order
    in another currency it is converted at the order's rate."""
    typed = typed_line(form)
    if typed is None:
        return None
    return LineInput(product=typed.product, quantity=typed.quantity,
                     unit_cost=form.unit_cost.data, tax_rate=typed.tax_rate,
                     description=form.description.data or "",
                     use_product_tax=typed.use_product_tax)


def _refuse_line(form: LineForm, error: DomainError) -> tuple[int, str | None]:
    if error.field == "product":
        error.field = "sku"
    return refuse(form, error)


def _lines_back(order: PurchaseOrder, message: str):
    """After a line changed: the lines block for htmx, else the page again."""
    if is_partial():
        return _page(_order_or_404(order.id), block="lines")
    flash(message, "success")
    return redirect_to(url_for("orders.purchase", order_id=order.id) + "#lines")


@bp.route("/purchases/<int:order_id>/lines", methods=["POST"])
@roles(*PURCHASE_ROLES)
def add_purchase_line(order_id: int):
    """Add a line to a draft: a product by SKU (cost and tax default to the product's) or
    a described line."""
    order = _order_or_404(order_id)
    form = _line_form(formdata=request.form)
    form.validate()
    given = _line_input(form, order)
    message = None
    if given is not None:
        try:
            add_line(order, given)
        except DomainError as error:
            _, message = _refuse_line(form, error)
        else:
            db.session.commit()
            return _lines_back(order, "The line is added.")
    return _page(_order_or_404(order_id), block="lines", status=422, line_form=form,
                 lines_message=message)


@bp.route("/purchases/<int:order_id>/lines/<int:line_id>/edit")
@roles(*PURCHASE_ROLES)
def edit_purchase_line(order_id: int, line_id: int):
    """One line of a draft as a form, in place of the add-line form."""
    order = _order_or_404(order_id)
    line = _line_or_404(order, line_id)
    if not order.is_editable:
        return _page(order, block="lines", status=422,
                     lines_message="Lines can only change while the order is a draft.")
    return _page(order, block="lines", line_form=_line_form(line), editing=line.id)


@bp.route("/purchases/<int:order_id>/lines/<int:line_id>", methods=["POST"])
@roles(*PURCHASE_ROLES)
def update_purchase_line(order_id: int, line_id: int):
    """Save a changed line of a draft."""
    order = _order_or_404(order_id)
    line = _line_or_404(order, line_id)
    form = _line_form(formdata=request.form)
    form.tax_rate_id.choices = tax_choices(line.tax_rate)
    form.validate()
    given = _line_input(form, order)
    message = None
    if given is not None:
        try:
            update_line(line, given)
            db.session.flush()
        except DomainError as error:
            _, message = _refuse_line(form, error)
        else:
            db.session.commit()
            return _lines_back(order, "The line is saved.")
    return _page(_order_or_404(order_id), block="lines", status=422, line_form=form,
                 editing=line_id, lines_message=message)


@bp.route("/purchases/<int:order_id>/lines/<int:line_id>/delete", methods=["POST"])
@roles(*PURCHASE_ROLES)
def remove_purchase_line(order_id: int, line_id: int):
    """Remove a line from a draft."""
    order = _order_or_404(order_id)
    line = _line_or_404(order, line_id)
    try:
        remove_line(line)
        db.session.flush()
    except DomainError as error:
        db.session.rollback()
        return _page(_order_or_404(order_id), block="lines", status=error.status,
                     lines_message=error.message)
    db.session.commit()
    return _lines_back(order, "The line is removed.")


# --- Header, send, cancel ----------------------------------------------------------------

@bp.route("/purchases/<int:order_id>/header", methods=["POST"])
@roles(*PURCHASE_ROLES)
def update_purchase(order_id: int):
    """Change the expected date, notes, exchange rate and receiving location (draft or
    sent orders; a stale version is refused with 409)."""
    order = _order_or_404(order_id)
    form = _header_form(order, formdata=request.form)
    status, message = 422, None
    if form.validate():
        location = db.session.get(Location, int(form.location_id.data)) \
            if form.location_id.data.isdigit() else None
        rate = form.exchange_rate.data
        if order.currency == _base_currency():
            rate = Decimal(1)
        if rate is None:
            form.exchange_rate.errors = ["Enter the exchange rate."]
        else:
            try:
                update_order_header(order, version=form.version.data,
                                    expected_on=form.expected_on.data,
                                    notes=form.notes.data or "", exchange_rate=rate,
                                    location=location)
                db.session.commit()
            except StaleDataError:
                db.session.rollback()
                status, message = 409, STALE
            except DomainError as error:
                status, message = refuse(form, error)
            else:
                flash("The order is saved.", "success")
                return redirect_to(url_for("orders.purchase", order_id=order.id))
    return _page(_order_or_404(order_id), status=status, message=message, header_form=form,
                 panel="header")


@bp.route("/purchases/<int:order_id>/send", methods=["POST"])
@roles(*PURCHASE_ROLES)
def send_purchase(order_id: int):
    """Mark a draft as sent to the supplier (its lines are then fixed)."""
    order = _order_or_404(order_id)
    form = SendForm()
    try:
        send_order(order, version=form.version.data)
        db.session.commit()
    except StaleDataError:
        db.session.rollback()
        return _page(_order_or_404(order_id), status=409, message=STALE)
    except DomainError as error:
        db.session.rollback()
        return _page(_order_or_404(order_id), status=error.status, message=error.message)
    flash(f"{order.number} is marked as sent.", "success")
    return redirect_to(url_for("orders.purchase", order_id=order.id))


@bp.route("/purchases/<int:order_id>/cancel", methods=["POST"])
@roles(*PURCHASE_ROLES)
def cancel_purchase(order_id: int):
    """Cancel an order nothing was received for, with the reason."""
    order = _order_or_404(order_id)
    form = CancelForm()
    status, message = 422, None
    if form.validate_on_submit():
        try:
            cancel_order(order, reason=form.reason.data, version=form.version.data)
            db.session.commit()
        except StaleDataError:
            db.session.rollback()
            status, message = 409, STALE
        except DomainError as error:
            status, message = refuse(form, error)
        else:
            flash(f"{order.number} is cancelled.", "success")
            return redirect_to(url_for("orders.purchase", order_id=order.id))
    return _page(_order_or_404(order_id), status=status, message=message, cancel_form=form,
                 panel="cancel")


# --- The PDF -----------------------------------------------------------------------------

@bp.route("/purchases/<int:order_id>.pdf")
@roles(*VIEW_ROLES)
def purchase_pdf(order_id: int):
    """The order as a PDF to send to the supplier."""
    order = _order_or_404(order_id)
    company = CompanySettings.current()
    data = render_pdf("orders/purchase_order_pdf.html", order=order, company=company,
                      logo=logo_uri(company), base=company.base_currency)
    return pdf_response(data, f"{order.number}.pdf")


# --- Receiving ---------------------------------------------------------------------------

def _parse_received(order: PurchaseOrder, receive_all: bool):
    """({line id: quantity}, {line id: typed text}, {line id: message}) from the form;
    with `receive_all`, an empty line receives what is outstanding."""
    return typed_quantities(order.lines, default=(lambda line: line.outstanding)
                            if receive_all else None)


@bp.route("/purchases/<int:order_id>/receive", endpoint="receive", methods=["GET", "POST"])
@roles(*PURCHASE_ROLES)
def receive_purchase(order_id: int):
    """Record goods that arrived: a quantity per line (partial allowed; more than ordered
    only when ticked), into a stock location, on a date. A repeat of the form is sent to
    the order without receiving the goods twice."""
    order = _order_or_404(order_id)
    form = ReceiveForm()
    form.location_id.choices = choices(
        [(str(loc.id), loc.label) for loc in _internal_locations()])
    typed, line_errors, message, status = {}, {}, None, 200
    if request.method == "GET":
        form.received_on.data = date.today()
        form.location_id.data = str(order.location_id or "")
    else:
        status = 422
        valid = form.validate()
        quantities, typed, line_errors = _parse_received(order, "receive_all" in request.form)
        if valid and not line_errors:
            location = db.session.get(Location, int(form.location_id.data))
            key = request.form.get("form_key")
            claim_form_key(key, "receipt", by=current_user)
            try:
                receipt = receive(order, quantities, by=current_user,
                                  received_on=form.received_on.data, location=location,
                                  note=form.note.data or "",
                                  confirm_over=bool(form.confirm_over.data))
            except DomainError as error:
                db.session.rollback()                 # the claim too: the form may be sent again
                status = error.status
                field = error.field or ""
                if field.startswith("qty-") and field[4:].isdigit():
                    line_errors[int(field[4:])] = error.message
                elif field == "location_id":
                    form.location_id.errors = [error.message]
                else:
                    message = error.message
                order = _order_or_404(order_id)
            else:
                count = len(receipt.lines)
                url = url_for("orders.purchase", order_id=order.id)
                settle_form_key(key, url)
                db.session.commit()
                flash(f"Received {count} line{'s' if count != 1 else ''} on {order.number}.",
                      "success")
                return redirect_to(url)
    return render("orders/receive.html", status=status, order=order, form=form, typed=typed,
                  line_errors=line_errors, message=message, qty=_qty)


# --- The supplier's bill -----------------------------------------------------------------

@bp.route("/purchases/<int:order_id>/bill", methods=["GET", "POST"])
@roles(*BILL_ROLES)
def bill_order(order_id: int):
    """Record the supplier's bill for what was received; it becomes payable. A repeat of
    the form is sent to the order without recording the bill twice."""
    order = _order_or_404(order_id)
    form = BillForm()
    status, message = 200, None
    if request.method == "GET":
        form.bill_date.data = date.today()
        form.net.data = order.received_net
        form.tax.data = order.received_tax
    elif form.validate_on_submit():
        # claimed outside the try: AlreadySubmitted is a DomainError, and must reach the
        # app's handler (a redirect) rather than be shown as a refusal on this form
        key = request.form.get("form_key")
        claim_form_key(key, "vendor_bill", by=current_user)
        try:
            record_bill(order, supplier_ref=form.supplier_ref.data,
                        bill_date=form.bill_date.data, due_on=form.due_on.data,
                        net=form.net.data, tax=form.tax.data, notes=form.notes.data or "",
                        by=current_user)
            settle_form_key(key, url_for("orders.purchase", order_id=order.id))
            db.session.commit()
        except IntegrityError:
            # Someone recorded the same bill number a moment ago.
            db.session.rollback()
            order = _order_or_404(order_id)
            status = 422
            form.supplier_ref.errors = [
                f"Bill {form.supplier_ref.data.strip()} from {order.supplier.name} is "
                "already recorded."]
        except DomainError as error:
            status, message = refuse(form, error)
            order = _order_or_404(order_id)
        else:
            flash(f"The bill is recorded against {order.number}.", "success")
            return redirect_to(url_for("orders.purchase", order_id=order.id))
    else:
        status = 422
    billable = order.status not in ("draft", "sent", "cancelled") and order.bill is None
    return render("orders/bill_form.html", status=status, order=order, form=form,
                  message=message, billable=billable)


def _bill_filters() -> dict:
    args = request.args
    unknown = set(args) - BILL_PARAMS
    if unknown:
        abort(400, f"Unknown filter: {', '.join(sorted(unknown))}.")
    status = args.get("status") or "open"
    if status not in BILL_FILTERS:
        abort(400, "Unknown status filter.")
    overdue = args.get("overdue", "")
    if overdue not in ("", "1"):
        abort(400, "Unknown overdue filter.")
    supplier_id = _id_param(args.get("supplier_id", ""), "supplier")
    return {"status": status, "overdue": overdue, "supplier_id": str(supplier_id or "")}


@bp.route("/bills")
@roles(*BILL_VIEW_ROLES)
def bills():
    """Suppliers' bills, newest first: open (payable), paid or all; overdue only."""
    filters = _bill_filters()
    supplier = None
    if filters["supplier_id"]:
        supplier = db.session.get(Supplier, int(filters["supplier_id"])) or abort(
            404, "There is no such supplier.")
    query = (select(VendorBill).options(joinedload(VendorBill.order))
             .where(VendorBill.status.in_(BILL_FILTERS[filters["status"]])))
    if filters["overdue"]:
        query = query.where(VendorBill.status == "open", VendorBill.due_on < date.today())
    if supplier is not None:
        query = query.where(VendorBill.supplier_id == supplier.id)
    page = url_page(query, VendorBill.id, VendorBill.id, descending=True)
    return render("orders/bills.html", block="results", page=page, filters=filters,
                  supplier=supplier, suppliers=_all_suppliers(), today=date.today())
