"""Factories for the purchasing tests: suppliers, products, tax rates, purchase orders in
any state. Each saves through the model rules and commits."""

from decimal import Decimal
from itertools import count

from sqlalchemy import select

_seq = count(1)


def make_tax_rate(name=None, percent="20"):
    from models import db
    from models.catalog import TaxRate

    rate = TaxRate(name=name or f"VAT {percent}% #{next(_seq)}", percent=Decimal(percent))
    db.session.add(rate)
    db.session.commit()
    return rate


def make_supplier(name=None, *, currency="EUR", terms=30, active=True, **fields):
    from models import db
    from models.catalog import Supplier

    supplier = Supplier(currency=currency, payment_terms_days=terms, active=active, **fields)
    supplier.set_name(name or f"Supplier {next(_seq)}")
    db.session.add(supplier)
    db.session.commit()
    return supplier


def make_product(sku=None, *, name=None, cost="10.00", unit="pc", kind="stocked",
                 tax_rate=None, active=True, **fields):
    from models import db
    from models.catalog import create_product

    n = next(_seq)
    product = create_product(sku=sku or f"SKU-{n}", name=name or f"Product {n}", kind=kind,
                             unit=unit, list_price=Decimal("25.00"), cost=Decimal(cost),
                             tax_rate=tax_rate, active=active, **fields)
    db.session.commit()
    return product


def make_po(supplier=None, lines=(), *, status="draft", rate=None, notes="", by=None,
            expected_on=None):
    """A purchase order with `lines` [(product or description, qty, unit cost[, tax])]
    in `status` draft, sent, partial (half of the first line received) or received."""
    from models import db
    from models.purchasing import (
        LineInput,
        add_line,
        create_purchase_order,
        receive,
        send_order,
    )

    supplier = supplier or make_supplier()
    order = create_purchase_order(supplier, by=by, notes=notes, expected_on=expected_on,
                                  exchange_rate=Decimal(rate) if rate else None)
    for spec in lines:
        what, quantity, cost = spec[:3]
        tax = spec[3] if len(spec) > 3 else None
        if isinstance(what, str):
            given = LineInput(product=None, description=what, quantity=Decimal(quantity),
                              unit_cost=Decimal(cost), tax_rate=tax, use_product_tax=False)
        else:
            given = LineInput(product=what, quantity=Decimal(quantity),
                              unit_cost=None if cost is None else Decimal(cost), tax_rate=tax,
                              use_product_tax=tax is None)
        add_line(order, given)
    if status != "draft":
        send_order(order)
    if status == "partial":
        first = order.lines[0]
        receive(order, {first.id: (first.quantity / 2).to_integral_value() or Decimal(1)})
    elif status == "received":
        receive(order, {line.id: line.quantity for line in order.lines})
    db.session.commit()
    return order


def on_hand(product) -> Decimal:
    from models import db
    from models.stock import ProductStock

    db.session.expire_all()
    row = db.session.scalar(select(ProductStock).where(ProductStock.product_id == product.id))
    return row.on_hand if row else Decimal("0.000")
