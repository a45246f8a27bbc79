"""The catalog's rules (models/catalog.py), on whichever database the run uses.

The small factories here (make_supplier, make_product, make_tax_rate) are shared by the
other rule and concurrency tests of issue 4.
"""

from contextlib import contextmanager
from decimal import Decimal
from itertools import count

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from models import DomainError
from models.catalog import (
    Product,
    Supplier,
    TaxRate,
    create_product,
    product_by_sku,
    set_product_fields,
)

_seq = count(1)


def make_supplier(name=None, *, currency="EUR", terms=30, active=True) -> Supplier:
    """A saved supplier (flushed, not committed)."""
    from models import db

    supplier = Supplier(currency=currency, payment_terms_days=terms, active=active)
    supplier.set_name(name or f"Supplier {next(_seq)}")
    db.session.add(supplier)
    db.session.flush()
    return supplier


def make_tax_rate(percent="20", name=None) -> TaxRate:
    from models import db

    rate = TaxRate(name=name or f"Tax {percent}% #{next(_seq)}", percent=Decimal(percent))
    db.session.add(rate)
    db.session.flush()
    return rate


def product_fields(**overrides) -> dict:
    """Everything set_product_fields needs, with plain defaults."""
    fields = {"sku": f"SKU-{next(_seq)}", "name": "Widget", "kind": "stocked", "unit": "pc",
              "list_price": Decimal("10.00"), "cost": Decimal("0"), "tax_rate": None}
    fields.update(overrides)
    return fields


def make_product(**overrides) -> Product:
    """A saved product (flushed, not committed)."""
    return create_product(**product_fields(**overrides))


def edit(product, **changes) -> Product:
    """Save the product's current fields with `changes`, as the edit form does."""
    fields = {"sku": product.sku, "name": product.name, "description": product.description,
              "kind": product.kind, "unit": product.unit, "list_price": product.list_price,
              "cost": product.cost, "tax_rate": product.tax_rate, "active": product.active,
              "reorder_point": product.reorder_point, "reorder_qty": product.reorder_qty,
              "preferred_supplier": product.preferred_supplier,
              "allow_backorder": product.allow_backorder}
    fields.update(changes)
    return set_product_fields(product, **fields)


@contextmanager
def refused(field=None, match=None):
    """Expect a DomainError (with `match` in its message, on `field` when given)."""
    with pytest.raises(DomainError, match=match) as info:
        yield info
    if field is not None:
        assert info.value.field == field, info.value.field


# --- SKUs --------------------------------------------------------------------------------

def test_sku__unique_whatever_its_case(app, db):
    """Is a second product with the same SKU in another case refused, naming the field?"""
    make_product(sku="ab-1")
    db.session.commit()
    with refused("sku", "already used"):
        make_product(sku="AB-1")
    db.session.rollback()
    assert product_by_sku("Ab-1").sku == "ab-1"


def test_sku__unique_key_holds_in_the_database(app, db):
    """Does a raw insert that skips the rules still hit the unique key on sku_key?"""
    make_product(sku="KEY-1")
    db.session.commit()
    with pytest.raises(IntegrityError):
        db.session.execute(Product.__table__.insert().values(
            sku="key-1", sku_key="KEY-1", name="Raw", search_name="raw"))
    db.session.rollback()
    assert db.session.scalars(select(Product.sku)).all() == ["KEY-1"]


def test_sku__saving_a_product_keeps_its_own_sku(app, db):
    """Can a product be saved again with its own SKU (re-cased), without a clash with itself?"""
    product = make_product(sku="self-1")
    db.session.commit()
    edit(product, sku="SELF-1", name="Renamed")
    db.session.commit()
    assert (product.sku, product.sku_key, product.name) == ("SELF-1", "SELF-1", "Renamed")


@pytest.mark.parametrize("sku", ["AB 1", "AB\t1", "A\u00a0B"])
def test_sku__with_spaces_is_refused(app, db, sku):
    """Is a SKU with a space (or a tab, or a non-breaking space) inside refused?"""
    with refused("sku", "no spaces"):
        make_product(sku=sku)


def test_sku__blank_or_too_long_is_refused_and_outer_spaces_trimmed(app, db):
    """Are a blank SKU and one over 64 characters refused, and " AB-2 " saved as "AB-2"?"""
    with refused("sku", "Enter a SKU"):
        make_product(sku="   ")
    with refused("sku", "at most 64"):
        make_product(sku="X" * 65)
    assert make_product(sku="  AB-2 ").sku == "AB-2"


# --- Kind, unit, prices, reorder ---------------------------------------------------------

@pytest.mark.parametrize("field, value, message", [
    ("kind", "bundle", "stocked or service"),
    ("kind", "", "stocked or service"),
    ("unit", "furlong", "unit from the list"),
    ("unit", "PC", "unit from the list"),
    ("list_price", Decimal("-0.01"), "zero or more"),
    ("cost", Decimal("-1"), "zero or more"),
    ("name", "  ", "Enter a name"),
])
def test_product__invalid_field_is_refused(app, db, field, value, message):
    """Is an unknown kind or unit, a negative price or cost, or a blank name refused?"""
    with refused(field, message):
        make_product(**{field: value})


@pytest.mark.parametrize("field", ["reorder_point", "reorder_qty"])
def test_reorder__fraction_of_a_whole_unit_is_refused(app, db, field):
    """Is a reorder point or quantity of 2.5 pieces refused, while 2.5 kg is fine?"""
    with refused(field, "whole pieces"):
        make_product(unit="pc", **{field: Decimal("2.5")})
    product = make_product(unit="kg", **{field: Decimal("2.5")})
    assert getattr(product, field) == Decimal("2.500")


def test_reorder__negative_is_refused(app, db):
    """Is a negative reorder point refused?"""
    with refused("reorder_point", "zero or more"):
        make_product(reorder_point=Decimal("-1"))


def test_service__keeps_no_reorder_figures_nor_backorder(app, db):
    """Does a service drop a typed reorder point/quantity and the backorder flag?"""
    product = make_product(kind="service", unit="h", reorder_point=Decimal("5"),
                           reorder_qty=Decimal("10"), allow_backorder=True)
    assert product.reorder_point == 0 and product.reorder_qty == 0
    assert product.allow_backorder is False


def test_kind_and_unit__change_freely_before_any_stock_moved(app, db):
    """Can a product without stock moves change kind and unit?"""
    product = make_product(kind="stocked", unit="pc")
    db.session.commit()
    edit(product, kind="service", unit="h")
    db.session.commit()
    assert (product.kind, product.unit) == ("service", "h")


def test_kind_and_unit__cannot_change_once_stock_history_exists(app, db):
    """Once a product has a stock move, is changing its kind or its unit refused?"""
    from models.stock import receive_stock

    product = make_product(unit="pc")
    receive_stock(product, Decimal("3"), Decimal("1.00"))
    db.session.commit()
    with refused("kind", "stays stocked"):
        edit(product, kind="service")
    with refused("unit", "cannot change"):
        edit(product, unit="kg")
    db.session.rollback()
    db.session.refresh(product)
    assert (product.kind, product.unit) == ("stocked", "pc")


def test_kind__a_reservation_alone_is_history_too(app, db):
    """Does a reserved (not yet done) move also stop the unit from changing?"""
    from models.stock import receive_stock, reserve_stock

    product = make_product(unit="pc")
    receive_stock(product, Decimal("2"), Decimal("1.00"))
    reserve_stock(product, Decimal("1"), source_type="test", source_id=None)
    db.session.commit()
    with refused("unit"):
        edit(product, unit="box")


def test_cost__typed_cost_is_used_until_stock_exists(app, db):
    """Before any stock moved, does the typed cost become the product's cost?"""
    product = make_product(cost=Decimal("4.5"))
    edit(product, cost=Decimal("5.1234"))
    db.session.commit()
    assert product.cost == Decimal("5.1234")


def test_cost__stays_the_moving_average_once_stocked_product_has_history(app, db):
    """After receipts, is a typed cost ignored so the cost stays the moving average?"""
    from models.stock import receive_stock

    product = make_product(cost=Decimal("1"))
    receive_stock(product, Decimal("2"), Decimal("3.00"))
    receive_stock(product, Decimal("2"), Decimal("4.00"))
    db.session.commit()
    assert product.cost == Decimal("3.5000")
    edit(product, cost=Decimal("99.99"), name="Renamed widget")
    db.session.commit()
    db.session.refresh(product)
    assert product.cost == Decimal("3.5000")
    assert product.name == "Renamed widget"


def test_product__archived_one_cannot_go_on_a_purchase_order(app, db):
    """Is an archived product refused on a new purchase order line, and on an edited one?"""
    from models.purchasing import LineInput, add_line, create_purchase_order, update_line

    archived = make_product(sku="OLD-1", active=False)
    current = make_product(sku="NEW-1")
    order = create_purchase_order(make_supplier())
    with refused("product", "OLD-1 is archived"):
        add_line(order, LineInput(product=archived, quantity=Decimal("1")))
    line = add_line(order, LineInput(product=current, quantity=Decimal("1")))
    with refused("product", "archived"):
        update_line(line, LineInput(product=archived, quantity=Decimal("2")))


# --- Services have no stock --------------------------------------------------------------

def test_service__receive_move_reserve_and_count_are_refused(app, db):
    """Is every stock operation on a service refused with "services have no stock"?"""
    from models.stock import (
        default_stock_location,
        move_stock,
        receive_stock,
        record_count,
        reserve_stock,
        virtual_location,
    )

    service = make_product(sku="SVC-1", kind="service", unit="h")
    stock = default_stock_location()
    with refused("product_id", "SVC-1 is a service"):
        receive_stock(service, Decimal("1"), Decimal("1.00"))
    with refused("product_id", "services have no stock"):
        move_stock(service, Decimal("1"), stock, virtual_location("customer"))
    with refused(None, "services have no stock"):
        reserve_stock(service, Decimal("1"), source_type="test", source_id=None)
    with refused(None, "services are not counted"):
        record_count(stock, {service: Decimal("1")}, reason="year end")
    db.session.rollback()
    from models.stock import StockMove

    assert db.session.scalars(select(StockMove)).all() == []


def test_product_by_sku__finds_it_whatever_the_case_and_spacing(app, db):
    """Does product_by_sku(" ab-9 ") find the product saved as "AB-9"?"""
    product = make_product(sku="AB-9")
    assert product_by_sku(" ab-9 ") is product
    assert product_by_sku("AB-99") is None
