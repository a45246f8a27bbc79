"""The spine end to end through the model: quote, send, accept, ship."""

from decimal import Decimal

from models.sales import reserved_by_line, ship
from models.stock import level_drift
from tests.sales.factories import make_order, make_product, make_quote, stock


def test_quote_to_shipment(db, stages):
    widget = make_product("W-1", cost="4.00")
    stock(widget, 10, "4.00")
    quote = make_quote(db, stages, [(widget, 3, "25.00", "10"), ("Installation", 1, "100")],
                       status="sent")
    assert quote.net == Decimal("167.50")
    from models.sales import accept_quote

    order = accept_quote(quote, customer_po="PO-77")
    db.session.commit()
    assert order.number.startswith("SO-")
    assert quote.deal.stage.outcome == "won"
    assert quote.deal.amount == Decimal("167.50")
    assert reserved_by_line(order)[order.lines[0].id] == Decimal(3)
    shipment = ship(order, {order.lines[0].id: Decimal(2)}, carrier="DHL", tracking="123")
    db.session.commit()
    assert order.status == "partial"
    assert shipment.lines[0].cost == Decimal("8.00")
    assert reserved_by_line(order)[order.lines[0].id] == Decimal(1)
    assert level_drift() == []
    make_order  # noqa: B018
