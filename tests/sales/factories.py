"""Factories for the quote-to-order tests: stock on hand, deals, quotes in any state and
orders made from them. Each saves through the model rules and commits."""

from decimal import Decimal

from tests.helpers import make_customer, make_deal
from tests.orders.factories import make_product, make_tax_rate  # noqa: F401


def stock(product, quantity, cost="10.00"):
    """Put `quantity` of `product` on hand at the default location (a receipt)."""
    from models import db
    from models.stock import ensure_locations, receive_stock

    ensure_locations()
    receive_stock(product, Decimal(quantity), Decimal(cost), source_type="opening")
    db.session.commit()


def make_quote(db, stages, lines=(), *, deal=None, owner=None, customer=None,
               status="draft", valid_until=None, by=None, **fields):
    """A quote on `deal` (a new Proposal deal by default) with `lines`
    [(product or description, qty[, unit price[, discount %]])], in `status` draft or sent."""
    from models.sales import QuoteLineInput, add_quote_line, create_quote, mark_sent

    if deal is None:
        deal = make_deal(db, stages, stage="Proposal", owner=owner,
                         customer=customer or make_customer())
    quote = create_quote(deal, by=by, valid_until=valid_until, **fields)
    for spec in lines:
        what, quantity = spec[:2]
        price = spec[2] if len(spec) > 2 else None
        discount = spec[3] if len(spec) > 3 else "0"
        product = None if isinstance(what, str) else what
        add_quote_line(quote, QuoteLineInput(
            product=product, description=what if product is None else "",
            quantity=Decimal(quantity), unit_price=None if price is None else Decimal(price),
            discount_percent=Decimal(discount), use_product_tax=product is not None))
    if status == "sent":
        mark_sent(quote)
    db.session.commit()
    return quote


def make_order(db, stages, lines=(), *, customer_po="", **quote_fields):
    """A sales order from a sent quote with `lines`, accepted."""
    from models.sales import accept_quote

    quote = make_quote(db, stages, lines, status="sent", **quote_fields)
    order = accept_quote(quote, customer_po=customer_po)
    db.session.commit()
    return order
