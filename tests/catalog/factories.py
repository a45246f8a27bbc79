"""Shared factories for the web tests of issue 4 (catalog, stock, purchasing).

Each makes a saved, committed record so a following request sees it. Other helpers may
ADD functions here; the existing ones keep their signatures.
"""

from decimal import Decimal
from itertools import count

_seq = count(1)


def new_tax_rate(percent="20", name=None, *, active=True):
    """A committed tax rate."""
    from models import TaxRate, db

    rate = TaxRate(name=name or f"VAT {percent}% #{next(_seq)}", percent=Decimal(percent),
                   active=active)
    db.session.add(rate)
    db.session.commit()
    return rate


def new_supplier(name=None, *, currency="EUR", active=True):
    """A committed supplier."""
    from models import Supplier, db

    supplier = Supplier(currency=currency, active=active)
    supplier.set_name(name or f"Supplier {next(_seq)}")
    db.session.add(supplier)
    db.session.commit()
    return supplier


def new_product(sku=None, name="Widget", **fields):
    """A committed product; any set_product_fields field can be given (amounts as text
    or Decimal)."""
    from models import db
    from models.catalog import create_product

    values = {"sku": sku or f"SKU-{next(_seq):04d}", "name": name, "kind": "stocked",
              "unit": "pc", "list_price": Decimal("10.00"), "cost": Decimal("0"),
              "tax_rate": None}
    values.update(fields)
    for key in ("list_price", "cost", "reorder_point", "reorder_qty"):
        if isinstance(values.get(key), str | int):
            values[key] = Decimal(values[key])
    product = create_product(**values)
    db.session.commit()
    return product


def stock_up(product, quantity, unit_cost="1.00", *, location=None, by=None, reference=""):
    """Receive `quantity` of `product` (into WH/STOCK unless `location`), committed."""
    from models import db
    from models.stock import receive_stock

    move = receive_stock(product, Decimal(str(quantity)), Decimal(str(unit_cost)), to=location,
                         by=by, reference=reference)
    db.session.commit()
    return move


def reserve(product, quantity, *, source_id=1, reference="SO-TEST"):
    """Reserve `quantity` of `product` for a (pretend) sales document, committed."""
    from models import db
    from models.stock import reserve_stock

    moves, _ = reserve_stock(product, Decimal(str(quantity)), source_type="test",
                             source_id=source_id, reference=reference)
    db.session.commit()
    return moves
