"""What quote to cash reads once a transaction: a document under its lock, a product's
stock row and the product, the accounts postings use, the active tax rates. Counted in
statements, so a change that reads again shows; and checked against a change made
elsewhere, so reading once never means reading something stale."""

from sqlalchemy import update

from models import db as models_db
from models.catalog import active_tax_rates
from models.documents import get_locked
from models.ledger import account_for
from models.sales import Quote, lock_quote
from models.stock import lock_product
from tests.conftest import IS_POSTGRES
from tests.helpers import statements_of
from tests.sales.factories import make_product, make_quote, stock


def _selects(seen, table: str) -> list[str]:
    return [s for s in seen if s.startswith("SELECT") and f"FROM {table}" in s]


def test_lock_document__locked_and_read_once_a_transaction(app, db, stages):
    """Does a second lock of the same quote in one transaction (a view locks, then the
    rule it calls), after a write in between, send nothing, and the first one take the
    row lock on PostgreSQL?"""
    quote = make_quote(db, stages, [("Consulting", "1", "100.00")])
    first, _ = statements_of(db.engine, lambda: lock_quote(quote))
    quote.notes = "Changed between the two locks"
    db.session.flush()
    second, _ = statements_of(db.engine, lambda: lock_quote(quote))
    assert sum("FOR UPDATE" in s for s in first) == (1 if IS_POSTGRES else 0)
    assert second == []
    db.session.rollback()


def test_get_locked__the_rule_then_finds_it_locked(app, db, stages):
    """Does a view's `get_locked` read the quote once (under the lock on PostgreSQL), so
    that the rule's own lock sends nothing; and is a missing id None?"""
    quote_id = make_quote(db, stages, [("Consulting", "1", "100.00")]).id
    seen, quote = statements_of(db.engine, lambda: get_locked(Quote, quote_id))
    assert quote.id == quote_id
    assert sum("FOR UPDATE" in s for s in seen) == (1 if IS_POSTGRES else 0)
    assert len(_selects(seen, "quotes")) == 1 + IS_POSTGRES  # the lock, then the read
    again, _ = statements_of(db.engine, lambda: lock_quote(quote))
    assert again == []
    assert get_locked(Quote, 10**9) is None
    db.session.rollback()


def test_lock_document__reads_again_what_an_earlier_transaction_kept(app, db, stages):
    """After a commit that kept the quote in the session (expire_on_commit off) and a
    change committed elsewhere, does locking it read the change (on SQLite too, where a
    lock in a transaction that read everything itself reads nothing)?"""
    quote = make_quote(db, stages, [("Consulting", "1", "100.00")])
    assert quote.notes == ""
    session = db.session()
    session.expire_on_commit = False
    try:
        session.commit()
    finally:
        session.expire_on_commit = True
    with models_db.engine.begin() as elsewhere:
        elsewhere.execute(update(Quote.__table__).where(Quote.__table__.c.id == quote.id)
                          .values(notes="Changed elsewhere"))
    assert quote.notes == ""  # kept: as this session last read it
    lock_quote(quote)
    assert quote.notes == "Changed elsewhere"
    db.session.rollback()


def test_stock_lock_accounts_and_tax_rates__read_once_a_transaction(app, db):
    """Is a product's stock lock taken with one statement (both rows locked on
    PostgreSQL) and not again, are the accounts for two roles read with one statement,
    and the active tax rates once, in a transaction?"""
    product = make_product("READ-ONCE-1")
    stock(product, "5")
    account_for("sales")  # the chart, made on first use
    db.session.commit()
    first, totals = statements_of(db.engine, lambda: lock_product(product))
    second, again = statements_of(db.engine, lambda: lock_product(product))
    assert again is totals and totals.on_hand == 5
    assert len(_selects(first, "product_stock")) == 1 and second == []
    if IS_POSTGRES:
        assert any("FOR UPDATE OF product_stock, products" in s for s in first)
    seen, (sales, receivable) = statements_of(
        db.engine, lambda: (account_for("sales"), account_for("receivable")))
    assert (sales.role, receivable.role) == ("sales", "receivable")
    assert len(_selects(seen, "accounts")) == 1
    rates, (one, two) = statements_of(db.engine, lambda: (active_tax_rates(),
                                                          active_tax_rates()))
    assert len(_selects(rates, "tax_rates")) == 1
    assert one == two and one is not two  # each caller may add to its own list
    db.session.rollback()
