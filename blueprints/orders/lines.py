"""What the line forms of quotes and purchase orders share: the product typed by SKU,
the quantity, the tax choice, each read the same way with its message on the field."""

from dataclasses import dataclass
from decimal import Decimal

from flask import request

from blueprints.forms import choices
from models import db
from models.catalog import Product, TaxRate, active_tax_rates, product_by_sku
from models.types import parse_quantity


@dataclass
class TypedLine:
    product: Product | None
    quantity: Decimal
    tax_rate: TaxRate | None
    use_product_tax: bool      # with tax_rate None: the product's own rate


def tax_choices(keep: TaxRate | None = None):
    """The tax select: the product's rate, no tax, or an active rate (plus the line's own
    rate when it has since been archived)."""
    rates = active_tax_rates()
    if keep is not None and keep not in rates:
        rates.append(keep)
    return choices([("", "The product's rate"), ("none", "No tax")]
                   + [(str(r.id), r.label) for r in rates])


def typed_line(form) -> TypedLine | None:
    """The product, quantity and tax of a posted line form (fields sku, quantity,
    tax_rate_id), or None with the messages put next to the fields."""
    ok = not form.errors
    sku = (form.sku.data or "").strip()
    product = None
    if sku and not form.sku.errors:
        product = product_by_sku(sku)
        if product is None:
            form.sku.errors = [f"No product with SKU {sku}."]
            ok = False
    quantity = None
    if not form.quantity.errors:
        try:
            quantity = parse_quantity(form.quantity.data or "", whole=False)
        except ValueError as error:
            text = str(error)
            if text.startswith("Enter a number"):
                text = "Enter a number, like 12 or 2.5."
            form.quantity.errors = [text]
            ok = False
    tax_rate, use_product_tax = None, True
    value = form.tax_rate_id.data or ""
    if value == "none":
        use_product_tax = False
    elif value.isdigit() and len(value) < 10 and not form.tax_rate_id.errors:
        tax_rate = db.session.get(TaxRate, int(value))
        use_product_tax = False
    if not ok:
        return None
    return TypedLine(product=product, quantity=quantity, tax_rate=tax_rate,
                     use_product_tax=use_product_tax)


def typed_quantities(lines, *, default=None):
    """What a per-line quantity form posted (fields qty-<line id>): ({line id: quantity}
    for the lines with one above zero, {line id: the text typed}, {line id: message}).
    `default(line)` gives the quantity for a line left empty (None: nothing)."""
    quantities, typed, errors = {}, {}, {}
    for line in lines:
        raw = (request.form.get(f"qty-{line.id}") or "").strip()[:40]
        typed[line.id] = raw
        if not raw:
            wanted = default(line) if default is not None else None
            if wanted:
                quantities[line.id] = wanted
            continue
        try:
            quantity = parse_quantity(raw, whole=False, allow_zero=True)
        except ValueError as error:
            text = str(error)
            errors[line.id] = ("Enter a number, like 12 or 2.5."
                               if text.startswith("Enter a number") else text)
            continue
        if quantity:
            quantities[line.id] = quantity
    return quantities, typed, errors
