"""A request's transaction that wrote nothing ends with COMMIT (psycopg keeps its
prepared statements; a ROLLBACK drops them all), and one that wrote anything without
committing is still rolled back: nothing half-done is kept."""

from sqlalchemy import event, func, select, text, update
from sqlalchemy.orm import Session

from models.customers import Customer
from models.transactions import end_read_only
from tests.conftest import IS_POSTGRES
from tests.helpers import make_customer


def _ends(session):
    """Record how the session's transactions end: a list of "commit" / "rollback"."""
    seen = []
    event.listen(session, "after_commit", lambda s: seen.append("commit"))
    event.listen(session, "after_rollback", lambda s: seen.append("rollback"))
    return seen


def test_end_read_only__reads_commit_writes_do_not(db):
    """Is a transaction that only read committed, while one that flushed, ran an UPDATE or
    holds a change not flushed yet is left for the rollback (and none of it is kept)?"""
    customer = make_customer(name="Kept Name")
    db.session.commit()
    session: Session = db.session()
    seen = _ends(session)

    session.scalar(select(func.count(Customer.id)))
    end_read_only(session)
    assert seen == ["commit"]

    customer.name = "Flushed Name"
    session.flush()
    end_read_only(session)
    session.execute(update(Customer).where(Customer.id == customer.id).values(city="Nowhere"))
    end_read_only(session)
    customer.phone = "555"  # not flushed
    end_read_only(session)
    assert seen == ["commit"] and session.in_transaction()
    session.rollback()
    assert session.get(Customer, customer.id).name == "Kept Name"
    assert session.get(Customer, customer.id).city != "Nowhere"
    seen.clear()
    session.scalar(select(Customer.name).where(Customer.id == customer.id))
    end_read_only(session)  # the rollback cleared the mark: reads commit again
    assert seen == ["commit"]


def test_pages_end_with_commit_and_keep_prepared_statements(app, client, login):
    """Do page views end their transaction with a COMMIT, and on PostgreSQL does the
    connection keep the statements psycopg prepared across requests?"""
    login("sales")
    ends = []

    def on_commit(session):
        ends.append("commit")

    def on_rollback(session):
        ends.append("rollback")

    event.listen(Session, "after_commit", on_commit)
    event.listen(Session, "after_rollback", on_rollback)
    try:
        for _ in range(12):
            assert client.get("/accounts/").status_code == 200
    finally:
        event.remove(Session, "after_commit", on_commit)
        event.remove(Session, "after_rollback", on_rollback)
    assert ends.count("commit") >= 12 and "rollback" not in ends
    if IS_POSTGRES:
        from models import db

        with app.app_context():
            prepared = db.session.scalar(text("SELECT count(*) FROM pg_prepared_statements"))
        assert prepared > 0
