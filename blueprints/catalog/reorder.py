"""The reorder screen: products whose available stock, with what is already on order, is
below their reorder point, grouped by preferred supplier; the chosen ones become draft
purchase orders, one per supplier (`models.purchasing.draft_orders_from_reorder`).

That function checks again what still needs ordering, but that alone does not make a
repeated post harmless: a quantity typed below the shortfall leaves the product below its
point, so the same form would order it again, and on PostgreSQL two posts at one moment
both read "nothing on order". So the form also carries a one-time key (models.formkeys):
a repeat of it is sent to the purchase orders the first one made."""

from decimal import Decimal

from flask import abort, current_app, flash, request, url_for
from flask_login import current_user
from sqlalchemy import select

from blueprints.catalog import bp
from blueprints.web import can, redirect_to, render, roles
from models import db
from models.catalog import Product, Supplier
from models.errors import DomainError
from models.formkeys import claim_form_key, settle_form_key
from models.purchasing import (
    PURCHASE_ROLES,
    Suggestion,
    draft_orders_from_reorder,
    reorder_suggestions,
)
from models.types import parse_quantity

REORDER_VIEW_ROLES = ("admin", "operations", "finance")
MAX_ID = 2**31 - 1


def _groups(suggestions: list[Suggestion]) -> list[tuple[Supplier | None, list[Suggestion]]]:
    """[(supplier, its suggestions)], suppliers by name, products without one last."""
    ids = {s.product.preferred_supplier_id for s in suggestions} - {None}
    suppliers = {supplier.id: supplier for supplier in db.session.scalars(
        select(Supplier).where(Supplier.id.in_(ids)))} if ids else {}
    grouped: dict[int | None, list[Suggestion]] = {}
    for suggestion in suggestions:
        grouped.setdefault(suggestion.product.preferred_supplier_id, []).append(suggestion)
    named = sorted((key for key in grouped if key is not None),
                   key=lambda key: (suppliers[key].name.lower(), key))
    groups = [(suppliers[key], grouped[key]) for key in named]
    if None in grouped:
        groups.append((None, grouped[None]))
    return groups


def _page(*, status: int = 200, message: str | None = None, errors=None, chosen=None,
          typed=None):
    suggestions = reorder_suggestions()
    if chosen is None:  # first view: every product that can be ordered is ticked
        chosen = {s.product.id for s in suggestions
                  if s.product.preferred_supplier_id is not None}
    return render("catalog/reorder.html", groups=_groups(suggestions), status=status,
                  message=message, errors=errors or {}, chosen=chosen, typed=typed or {},
                  may_order=can(*PURCHASE_ROLES))


@bp.route("/reorder")
@roles(*REORDER_VIEW_ROLES)
def reorder():
    """What needs buying: on hand, reserved, available, on order, the reorder point and
    the suggested quantity per product, grouped by preferred supplier."""
    if request.args:
        abort(400, "This page takes no filters.")
    return _page()


def _posted_ids() -> list[int]:
    ids = []
    for value in request.form.getlist("product_id"):
        if not (value.isdigit() and len(value) <= 10 and int(value) <= MAX_ID):
            abort(400, "Unknown product.")
        if int(value) not in ids:
            ids.append(int(value))
    return ids


def _purchases_url() -> str:
    if "orders.purchases" in current_app.view_functions:
        return url_for("orders.purchases")
    return url_for("catalog.reorder")


@bp.route("/reorder", methods=["POST"], endpoint="order_reorder")
@roles(*PURCHASE_ROLES)
def order_reorder():
    """Draft purchase orders, one per preferred supplier, for the ticked products at the
    quantities typed (the suggestion where none is typed)."""
    ids = _posted_ids()
    products = {product.id: product for product in db.session.scalars(
        select(Product).where(Product.id.in_(ids)))} if ids else {}
    typed = {key[4:]: value[:40] for key, value in request.form.items()
             if key.startswith("qty-") and key[4:].isdigit()}
    quantities: dict[int, Decimal] = {}
    errors: dict[int, str] = {}
    for product_id in ids:
        product = products.get(product_id)
        text = typed.get(str(product_id), "").strip()
        if product is None or not text:
            continue  # unknown products: the model says none of them needs reordering
        try:
            quantities[product_id] = parse_quantity(text, whole=product.whole_units)
        except ValueError as error:
            errors[product_id] = str(error)
    message = None
    if not ids:
        message = "Tick at least one product to order."
    elif errors:
        message = "Check the quantities marked below."
    else:
        key = request.form.get("form_key")
        claim_form_key(key, "reorder", by=current_user)
        try:
            orders = draft_orders_from_reorder(ids, by=current_user, quantities=quantities)
            settle_form_key(key, _purchases_url())
            db.session.commit()
        except DomainError as error:
            db.session.rollback()  # the claim too: the form may be sent again
            message = error.message
        else:
            numbers = ", ".join(order.number for order in orders)
            flash(f"Draft purchase order{'s' if len(orders) != 1 else ''} {numbers} created.",
                  "success")
            return redirect_to(_purchases_url())
    return _page(status=422, message=message, errors=errors, chosen=set(ids), typed=typed)
