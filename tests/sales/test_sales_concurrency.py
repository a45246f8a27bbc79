"""Accepting quotes under concurrent writers, on whichever database the run uses.

Each writer is its own app in a POST request (see tests/test_stock_concurrency.py):
BEGIN IMMEDIATE on SQLite, READ COMMITTED with row locks on PostgreSQL. Every writer
loads its quote first, as the view does, so on PostgreSQL they all hold a stale read
when the rule runs; the rule must decide on what is committed under its locks.
"""

from decimal import Decimal

from sqlalchemy import select

from models import DomainError
from models import db as models_db
from models.formkeys import AlreadySubmitted, claim_form_key, new_form_key, settle_form_key
from models.sales import Quote, SalesOrder, accept_quote, reserved_by_line
from models.stock import ProductStock, level_drift
from tests.helpers import count_rows
from tests.sales.factories import make_product, make_quote, stock
from tests.test_stock_concurrency import together

D = Decimal
WORKERS = 8


def load_quote(ids):
    """What the accept view reads before it calls the rule."""

    def loaded(i):
        quote = models_db.session.get(Quote, ids[i])
        assert quote.lines  # the page shows them (on SQLite, after the writers before)
        return quote

    return loaded


def accept(i, quote):
    return accept_quote(quote).number


def committed_totals(db, product) -> tuple[Decimal, Decimal]:
    db.session.expire_all()
    row = db.session.get(ProductStock, product.id)
    return row.on_hand, row.reserved


def two_quotes_for_the_last_units(db, stages, product):
    """Two sent quotes, for two different customers, each for all 5 units on hand."""
    stock(product, 5)
    return [make_quote(db, stages, [(product, "5")], status="sent").id for _ in range(2)]


def test_two_customers_want_the_last_units__one_order_the_other_told_why(app, db, stages):
    """When two quotes for the last 5 units (no backorders) are accepted at the same
    moment, is exactly one order made, the other refused with "Only 0 ... available"?"""
    product = make_product("LAST-1")
    ids = two_quotes_for_the_last_units(db, stages, product)

    results, errors = together(2, accept, loaded=load_quote(ids))
    assert errors == []
    made = [r for r in results.values() if isinstance(r, str)]
    refused = [r for r in results.values() if isinstance(r, DomainError)]
    assert len(made) == 1 and len(refused) == 1, results
    assert "Only 0 pc of LAST-1 available" in refused[0].message
    assert count_rows(db, SalesOrder) == 1
    assert committed_totals(db, product) == (D(5), D(5))
    assert level_drift() == []
    db.session.expire_all()
    statuses = sorted(db.session.get(Quote, qid).status for qid in ids)
    assert statuses == ["accepted", "sent"]
    loser = next(db.session.get(Quote, qid) for qid in ids
                 if db.session.get(Quote, qid).status == "sent")
    assert loser.deal.is_open


def test_two_customers_want_the_last_units__backorder_product_takes_both(app, db, stages):
    """With a backorder product, are both orders made, the 5 units reserved once and the
    other 5 backordered?"""
    product = make_product("LAST-2", allow_backorder=True)
    ids = two_quotes_for_the_last_units(db, stages, product)

    results, errors = together(2, accept, loaded=load_quote(ids))
    assert errors == []
    assert all(isinstance(r, str) for r in results.values()), results
    orders = list(db.session.scalars(select(SalesOrder).order_by(SalesOrder.id)))
    assert len(orders) == 2
    reserved = [sum(reserved_by_line(order).values(), D(0)) for order in orders]
    assert sum(reserved) == D(5)
    backordered = sum(order.lines[0].quantity for order in orders) - sum(reserved)
    assert backordered == D(5)
    assert committed_totals(db, product) == (D(5), D(5))
    assert level_drift() == []


def test_eight_submissions_of_one_acceptance__one_order(app, db, stages):
    """When the same accept form (one key) is posted 8 times at once, is exactly one
    order made, every other post sent to it or told the quote is already accepted?"""
    product = make_product("KEY-1")
    stock(product, 10)
    quote = make_quote(db, stages, [(product, "3")], status="sent")
    key, qid = new_form_key(), quote.id

    def work(i, found):
        claim_form_key(key, "accept_quote")
        order = accept_quote(found)
        settle_form_key(key, f"/orders/sales/{order.id}")
        return order.id

    results, errors = together(WORKERS, work, loaded=load_quote([qid] * WORKERS))
    assert errors == []
    made = [r for r in results.values() if isinstance(r, int)]
    assert len(made) == 1, results
    others = [r for r in results.values() if not isinstance(r, int)]
    assert len(others) == WORKERS - 1
    for other in others:
        assert isinstance(other, DomainError), other
        if isinstance(other, AlreadySubmitted):
            assert other.result_url == f"/orders/sales/{made[0]}"
        else:
            assert "already accepted" in other.message, other.message
    assert count_rows(db, SalesOrder) == 1
    assert committed_totals(db, product) == (D(10), D(3))
    assert level_drift() == []


def test_eight_tabs_accept_one_quote__one_order(app, db, stages):
    """When 8 tabs (each with its own form key) accept the same quote at once, is exactly
    one order made and every other told the quote is already accepted?"""
    product = make_product("TABS-1")
    stock(product, 10)
    quote = make_quote(db, stages, [(product, "3")], status="sent")
    keys, qid = [new_form_key() for _ in range(WORKERS)], quote.id

    def work(i, found):
        claim_form_key(keys[i], "accept_quote")
        return accept_quote(found).id

    results, errors = together(WORKERS, work, loaded=load_quote([qid] * WORKERS))
    assert errors == []
    made = [r for r in results.values() if isinstance(r, int)]
    assert len(made) == 1, results
    refused = [r for r in results.values() if isinstance(r, DomainError)]
    assert len(refused) == WORKERS - 1
    assert all("already accepted" in r.message for r in refused), refused
    assert count_rows(db, SalesOrder) == 1
    assert committed_totals(db, product) == (D(10), D(3))
    assert level_drift() == []
