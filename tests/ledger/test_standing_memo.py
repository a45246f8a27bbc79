"""A customer's standing is worked out once per transaction (models.transactions): asked twice it
reads nothing the second time, and after anything that can change it (a commit, a flush,
an UPDATE through the session, a change not flushed yet) it is read afresh."""

from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import update

from models.invoicing import Invoice
from models.receivables import standing
from tests.helpers import count_statements, make_customer
from tests.ledger.factories import pay, posted_invoice

D = Decimal


def test_standing__once_per_transaction_then_afresh_after_changes(db, chart):
    """Is the second standing() of a transaction free, and does each kind of change (a
    payment committed, an UPDATE statement, an unflushed edit) show in the next one?"""
    customer = make_customer(name="Memo GmbH")
    invoice = posted_invoice(db, customer=customer, lines=[("Work", "1", "300.00")],
                             issue_date=date.today() - timedelta(days=40), terms=30)
    first = standing(customer)
    assert first.overdue == D("300.00") and first.oldest_overdue.id == invoice.id
    assert count_statements(db.engine, lambda: standing(customer)) == 0
    assert standing(customer) is first

    pay(db, customer, "100.00")  # commits
    assert standing(customer).overdue == D("200.00")
    assert standing(customer).last_payment.amount == D("100.00")

    db.session.execute(update(Invoice).where(Invoice.id == invoice.id)
                       .values(due_date=date.today() + timedelta(days=5)))
    assert standing(customer).overdue == D("0.00")  # the UPDATE dropped the memo

    customer.account.credit_limit = D("50.00")  # not flushed yet
    assert standing(customer).credit_limit == D("50.00")
    db.session.rollback()
    assert standing(customer).overdue == D("200.00")


def test_standing__a_day_of_its_own(db, chart):
    """Is the standing as of another day its own memo, not today's?"""
    customer = make_customer(name="Days Ltd")
    posted_invoice(db, customer=customer, lines=[("Work", "1", "80.00")],
                   issue_date=date.today(), terms=10)
    assert standing(customer).overdue == D("0.00")
    later = standing(customer, today=date.today() + timedelta(days=11))
    assert later.overdue == D("80.00") and later.aging["1–30"] == D("80.00")


def test_standing__the_strip_names_the_oldest_overdue_and_the_last_payment(client, login, db,
                                                                          chart):
    """Does the money strip link the invoice longest past due, with its number and days
    late, and give the last payment's day and amount (read as rows, not records)?"""
    customer = make_customer(name="Strip AG")
    older = posted_invoice(db, customer=customer, lines=[("Work", "1", "300.00")],
                           issue_date=date.today() - timedelta(days=50), terms=30)
    posted_invoice(db, customer=customer, lines=[("More", "1", "70.00")],
                   issue_date=date.today() - timedelta(days=35), terms=30)
    pay(db, customer, "120.00", on=date.today() - timedelta(days=2))
    late = (date.today() - older.due_date).days
    assert late == 20
    login("sales")
    html = client.get(f"/ledger/customers/{customer.id}/money-strip").get_data(as_text=True)
    assert f'href="/ledger/invoices/{older.id}">{older.number}</a>, 20 days' in html
    paid_on = (date.today() - timedelta(days=2)).isoformat()
    assert f"{paid_on} · {customer.account.currency} 120.00" in html
    found = standing(customer)
    assert found.oldest_overdue == (older.id, older.number, 20)
    assert found.last_payment.amount == D("120.00") and found.overdue == D("250.00")
