"""Money is exact: Decimal in Python, scaled integers in SQL, on SQLite and PostgreSQL."""

from decimal import Decimal

import pytest
from sqlalchemy import func, select

from models import FinancialAccount
from models.types import Money, parse_money, round_money
from tests.helpers import make_customer


def test_money__sums_exactly_over_many_rows(app, db):
    """Do 0.10 and 0.20 summed over thousands of rows give the exact total in SQL?"""
    from models.customers import Customer, FinancialAccount, Relationship

    rows = 3000
    customers = [{"name": f"C{i}", "kind": "company", "search_name": f"c{i}", "street": "",
                  "postal_code": "", "city": "", "country": "", "version": 1}
                 for i in range(rows)]
    db.session.execute(Customer.__table__.insert(), customers)
    ids = db.session.scalars(select(Customer.id).order_by(Customer.id)).all()
    db.session.execute(FinancialAccount.__table__.insert(), [
        {"customer_id": cid, "account_code": f"X{cid}", "currency": "EUR",
         "payment_terms_days": 30, "credit_limit": Decimal("0.10") if i % 2 else Decimal("0.20"),
         "on_hold": False, "billing_address": "", "tax_id": "", "hold_reason": "", "version": 1}
        for i, cid in enumerate(ids)])
    db.session.execute(Relationship.__table__.insert(), [
        {"customer_id": cid, "lifecycle": "lead", "source": "", "tags": "", "notes": "",
         "version": 1} for cid in ids])
    db.session.commit()
    total = db.session.scalar(select(func.sum(FinancialAccount.credit_limit)))
    assert isinstance(total, Decimal)
    assert total == Decimal("0.10") * (rows // 2) + Decimal("0.20") * (rows - rows // 2)
    assert total == Decimal("450.00")
    # A float sum of the same values drifts; ours does not.
    assert sum([0.1, 0.2] * (rows // 2)) != 450.0


def test_money__round_trips_as_decimal(app, db):
    """Does a stored credit limit come back as the same Decimal?"""
    customer = make_customer(credit_limit="1234567.89")
    db.session.expire_all()
    account = db.session.get(FinancialAccount, customer.id)
    assert account.credit_limit == Decimal("1234567.89")
    assert isinstance(account.credit_limit, Decimal)


@pytest.mark.parametrize("bad", [0.1, Decimal("0.001"), Decimal("1e16")])
def test_money__refuses_floats_and_hidden_rounding(bad):
    """Does the type refuse a float, a third decimal, or an absurd amount?"""
    with pytest.raises((TypeError, ValueError)):
        Money().process_bind_param(bad, None)


def test_round_money__is_half_up():
    """Is 2.675 rounded to 2.68 (half-up), not 2.67 (binary float / banker's)?"""
    assert round_money(Decimal("2.675")) == Decimal("2.68")
    assert round_money(Decimal("2.665")) == Decimal("2.67")
    assert round_money(Decimal("-2.675")) == Decimal("-2.68")


@pytest.mark.parametrize("typed,value", [("1,250.50", Decimal("1250.50")), (" 30 ", Decimal("30.00")),
                                         ("0", Decimal("0.00"))])
def test_parse_money__accepts_what_people_type(typed, value):
    """Do ordinary ways of typing an amount parse exactly?"""
    assert parse_money(typed) == value


@pytest.mark.parametrize("typed", ["abc", "1.234", "NaN", "Infinity", "", "1e5x", "--1"])
def test_parse_money__refuses_junk(typed):
    """Is junk refused with a message rather than guessed at?"""
    with pytest.raises(ValueError):
        parse_money(typed)


@pytest.mark.parametrize("typed", ["1,5", "12,50", "1,2345", ",5", "1,,000"])
def test_parse_money__refuses_a_decimal_comma(typed):
    """Is "1,5" refused (with a hint to use a point) instead of silently read as 15?"""
    from models.types import parse_money

    with pytest.raises(ValueError, match="point"):
        parse_money(typed)


@pytest.mark.parametrize("typed,expected", [("1,250.50", "1250.50"), ("12,000", "12000.00"),
                                            ("1,234,567.8", "1234567.80")])
def test_parse_money__reads_thousands_separators(typed, expected):
    """Are commas that group thousands still read as such?"""
    from decimal import Decimal

    from models.types import parse_money

    assert parse_money(typed) == Decimal(expected)
