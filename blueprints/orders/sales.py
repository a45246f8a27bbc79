"""Sales orders and shipments: the list, the order page (ordered / reserved / shipped /
invoiced per line), cancelling, reserving what arrived, shipping and the packing slip.
Rules are in models.sales; these views parse and render.
"""

from datetime import date
from decimal import Decimal

from flask import abort, flash, request, url_for
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload
from sqlalchemy.orm.exc import StaleDataError

from blueprints.orders import bp
from blueprints.orders.lines import typed_quantities
from blueprints.orders.quote_forms import CancelOrderForm, ShipForm, VersionForm
from blueprints.pdf import logo_uri, pdf_response, render_pdf
from blueprints.web import can, redirect_to, refuse, render, roles, url_page
from models import AuditEntry, db
from models.company import CompanySettings
from models.documents import get_locked, lines_for_totals
from models.errors import DomainError
from models.formkeys import claim_form_key, settle_form_key
from models.sales import (
    CANCEL_ROLES,
    CREDIT_ROLES,
    ORDER_LABELS,
    ORDER_STATUSES,
    SALES_VIEW_ROLES,
    SHIP_ROLES,
    SalesOrder,
    Shipment,
    backordered,
    cancel_sales_order,
    line_stock,
    reserve_outstanding,
    reserved_by_line,
    ship,
)

LIST_PARAMS = {"status", "after", "before"}
STATUS_FILTERS = {"": ORDER_STATUSES, "open": ("confirmed", "partial")} | {
    s: (s,) for s in ORDER_STATUSES}
STALE = ("This order was changed by someone else a moment ago. Reload to see their change, "
         "then make yours again.")


def _order_or_404(order_id: int, *, locked: bool = False) -> SalesOrder:
    """The order; `locked` for a view about to change it."""
    if locked:
        return get_locked(SalesOrder, order_id) or abort(404)
    return db.session.get(SalesOrder, order_id) or abort(404)


# the order page lists every shipment with what it carried: loaded with the order
_SHIPMENTS = selectinload(SalesOrder.shipments).selectinload(Shipment.lines)
# and names its deal and quote: their own rows joined in, not what each of them joins
_ORDER_PAGE = (_SHIPMENTS, joinedload(SalesOrder.deal).lazyload("*"),
               joinedload(SalesOrder.quote).lazyload("*"))


@bp.route("/sales")
@roles(*SALES_VIEW_ROLES)
def sales_orders():
    """Sales orders, newest first, by status ("open" = confirmed or partly shipped)."""
    unknown = set(request.args) - LIST_PARAMS
    if unknown:
        abort(400, f"Unknown filter: {', '.join(sorted(unknown))}.")
    status = request.args.get("status", "")
    if status not in STATUS_FILTERS:
        abort(400, "Unknown status filter.")
    query = select(SalesOrder).options(lines_for_totals(SalesOrder.lines),
                                       selectinload(SalesOrder.shipments))
    if status:
        query = query.where(SalesOrder.status.in_(STATUS_FILTERS[status]))
    page = url_page(query, SalesOrder.id, SalesOrder.id, descending=True)
    return render("orders/sales_orders.html", block="results", page=page,
                  filters={"status": status}, statuses=ORDER_STATUSES,
                  labels=ORDER_LABELS | {"open": "Open"})


def _page(order: SalesOrder, *, status: int = 200, message: str | None = None,
          cancel_form=None, panel: str | None = None):
    from models.invoicing import INVOICE_ROLES, invoices_for_order, uninvoiced
    from models.receivables import standing

    reserved = reserved_by_line(order)
    invoices = invoices_for_order(order.id)
    billed = {invoice.shipment_id for invoice in invoices if invoice.shipment_id}
    return render(
        "orders/sales_order.html", status=status, order=order, message=message,
        standing=standing(order.customer), customer=order.customer, invoices=invoices,
        # what draft_for_order() would read again: the first draft among them
        draft_invoice=next((invoice for invoice in invoices if invoice.kind == "invoice"
                            and invoice.status == "draft"), None),
        to_invoice=sum((uninvoiced(line) for line in order.lines), Decimal(0)),
        uninvoiced_shipments=[shipment for shipment in order.shipments
                              if shipment.id not in billed],
        may_invoice=can(*INVOICE_ROLES), may_decide_credit=can(*CREDIT_ROLES),
        reserved=reserved, stock=line_stock(order.lines) if order.is_open else {},
        backordered=backordered(order, reserved),
        cancel_form=cancel_form or CancelOrderForm(formdata=None, version=order.version),
        version_form=VersionForm(formdata=None, version=order.version), panel=panel,
        history=AuditEntry.for_subject("sales_order", order.id),
        may_ship=can(*SHIP_ROLES), may_cancel=can(*CANCEL_ROLES), labels=ORDER_LABELS)


@bp.route("/sales/<int:order_id>", endpoint="sales_order")
@roles(*SALES_VIEW_ROLES)
def show_sales_order(order_id: int):
    """A sales order: lines with ordered / reserved / shipped / invoiced, its shipments,
    and the way back to its quote and deal."""
    return _page(db.session.get(SalesOrder, order_id, options=_ORDER_PAGE) or abort(404))


@bp.route("/sales/<int:order_id>/cancel", methods=["POST"])
@roles(*CANCEL_ROLES)
def cancel_sales_order_view(order_id: int):
    """Cancel an order nothing has shipped on; its reservations are released."""
    order = _order_or_404(order_id)
    form = CancelOrderForm()
    if form.validate():
        try:
            cancel_sales_order(order, reason=form.reason.data, by=current_user,
                               version=form.version.data)
            db.session.commit()
        except StaleDataError:
            db.session.rollback()
            return _page(_order_or_404(order_id), status=409, message=STALE)
        except DomainError as error:
            status, message = refuse(form, error)
            return _page(_order_or_404(order_id), status=status, message=message,
                         cancel_form=form, panel="cancel")
        flash(f"{order.number} is cancelled; its reserved stock is free again.", "success")
        return redirect_to(url_for("orders.sales_order", order_id=order.id))
    return _page(_order_or_404(order_id), status=422, cancel_form=form, panel="cancel")


@bp.route("/sales/<int:order_id>/reserve", methods=["POST"])
@roles(*SHIP_ROLES)
def reserve_sales_order(order_id: int):
    """Reserve stock that arrived since for the order's backordered lines."""
    order = _order_or_404(order_id)
    try:
        missing = reserve_outstanding(order, by=current_user)
    except DomainError as error:
        db.session.rollback()
        return _page(_order_or_404(order_id), status=error.status, message=error.message)
    db.session.commit()
    flash("Everything still to ship is reserved." if missing <= 0 else
          f"Reserved what is available; {missing.normalize():f} still waits for stock.",
          "success")
    return redirect_to(url_for("orders.sales_order", order_id=order.id))


# --- Shipping ----------------------------------------------------------------------------

def _parse_shipped(order: SalesOrder):
    """({line id: quantity}, {line id: typed text}, {line id: message}) from the form."""
    return typed_quantities(order.lines)


def _ship_page(order: SalesOrder, form: ShipForm, *, typed=None, errors=None,
               status: int = 200, message: str | None = None):
    reserved = reserved_by_line(order)
    if typed is None:
        # suggest what is reserved (stocked lines) or all that is left (services)
        typed = {}
        for line in order.lines:
            suggested = (min(reserved.get(line.id, Decimal(0)), line.to_ship)
                         if line.is_stocked else line.to_ship)
            typed[line.id] = f"{suggested.normalize():f}" if suggested > 0 else ""
    return render("orders/ship.html", status=status, order=order, form=form, typed=typed,
                  errors=errors or {}, message=message, reserved=reserved,
                  stock=line_stock(order.lines))


@bp.route("/sales/<int:order_id>/ship", methods=["GET", "POST"], endpoint="ship")
@roles(*SHIP_ROLES)
def ship_view(order_id: int):
    """Record a shipment: quantities per line (partial allowed), carrier, tracking."""
    order = _order_or_404(order_id, locked=request.method == "POST")
    if request.method == "GET":
        if not order.is_open:
            flash(f"{order.number} is {order.status_label.lower()}; nothing is left to ship.",
                  "info")
            return redirect_to(url_for("orders.sales_order", order_id=order.id))
        return _ship_page(order, ShipForm(formdata=None, shipped_on=date.today()))
    form = ShipForm()
    quantities, typed, errors = _parse_shipped(order)
    if not form.validate() or errors:
        return _ship_page(order, form, typed=typed, errors=errors, status=422)
    key = request.form.get("form_key")
    claim_form_key(key, "shipment", by=current_user)
    try:
        shipment = ship(order, quantities, by=current_user, shipped_on=form.shipped_on.data,
                        carrier=form.carrier.data or "", tracking=form.tracking.data or "",
                        note=form.note.data or "")
    except DomainError as error:
        db.session.rollback()
        field = error.field or ""
        if field.startswith("qty-") and field[4:].isdigit():
            errors[int(field[4:])] = error.message
            return _ship_page(_order_or_404(order_id), form, typed=typed, errors=errors,
                              status=422)
        status, message = refuse(form, error)
        return _ship_page(_order_or_404(order_id), form, typed=typed, status=status,
                          message=message)
    url = url_for("orders.sales_order", order_id=order.id) + f"#shipment-{shipment.id}"
    settle_form_key(key, url)
    db.session.commit()
    flash(f"{shipment.number} is recorded: {order.delivery.lower()}.", "success")
    return redirect_to(url)


@bp.route("/shipments/<int:shipment_id>.pdf")
@roles(*SALES_VIEW_ROLES)
def packing_slip(shipment_id: int):
    """The packing slip that goes in the box."""
    shipment = db.session.get(Shipment, shipment_id) or abort(404)
    company = CompanySettings.current()
    data = render_pdf("orders/packing_slip_pdf.html", shipment=shipment,
                      order=shipment.order, company=company, logo=logo_uri(company))
    return pdf_response(data, f"{shipment.number}.pdf")
