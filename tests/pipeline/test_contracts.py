"""Contracts and renewals: the contract form and its rules, the customer panel, and the
renewal deal that opens once when a contract's notice period begins (CLI, dashboard post,
and two runs racing)."""

import threading
from datetime import date, timedelta
from decimal import Decimal

import pytest
from flask import render_template
from sqlalchemy import select

from models import Contract, Deal, Stage
from models.contracts import contracts_for_customer, open_renewals, save_contract
from models.errors import DomainError
from models.pipeline import ensure_stages
from tests.conftest import make_test_app
from tests.helpers import count_rows, make_customer, snapshot

TODAY = date(2025, 3, 10)
EVIL = '<script>alert(1)</script><img src=x onerror=alert(2)>'


def _contract(db, customer, *, ends_on, title="Support plan", value="1200.00",
              notice_days=60, starts_on=None):
    contract = save_contract(Contract(), customer=customer, title=title,
                             starts_on=starts_on or ends_on - timedelta(days=365),
                             ends_on=ends_on, value=Decimal(value), notice_days=notice_days)
    db.session.commit()
    return contract


def _form(customer, **overrides):
    return {"customer_id": str(customer.id), "title": "Maintenance 2025",
            "starts_on": "2025-01-01", "ends_on": "2025-12-31", "value": "9,600.00",
            "notice_days": "60"} | overrides


def _deals(db):
    db.session.expire_all()
    return list(db.session.scalars(select(Deal).order_by(Deal.id)).unique())


# --- The contract form -------------------------------------------------------------------

def test_new_contract__saved_in_the_account_currency(client, login, db):
    """Does sales add a contract for the customer (account currency) and land on the customer?"""
    login("sales")
    customer = make_customer()
    customer.account.currency = "CHF"
    db.session.commit()
    page = client.get(f"/pipeline/contracts/new?customer_id={customer.id}").get_data(as_text=True)
    assert 'name="notice_days"' in page and 'value="60"' in page and "Value (CHF)" in page
    response = client.post("/pipeline/contracts/new", data=_form(customer))
    assert response.status_code == 302
    assert response.headers["Location"] == f"/accounts/{customer.id}"
    contract = db.session.scalar(select(Contract))
    assert (contract.title, contract.value, contract.currency) == (
        "Maintenance 2025", Decimal("9600.00"), "CHF")
    assert (contract.starts_on, contract.ends_on, contract.notice_days) == (
        date(2025, 1, 1), date(2025, 12, 31), 60)
    assert contract.renewal_opens_on == date(2025, 11, 1)


def test_new_contract__picker_when_no_customer_is_given(client, login, db):
    """Without ?customer_id= does the form offer the customer type-ahead, and save the picked one?"""
    login("admin")
    customer = make_customer()
    page = client.get("/pipeline/contracts/new").get_data(as_text=True)
    assert 'data-picker="pick"' in page and 'name="customer_id"' in page
    assert client.post("/pipeline/contracts/new", data=_form(customer)).status_code == 302
    assert db.session.scalar(select(Contract)).customer_id == customer.id


def test_save_contract__notice_defaults_to_60_days(app, db):
    """Is the notice period 60 days when none is given?"""
    customer = make_customer()
    contract = save_contract(Contract(), customer=customer, title="T", starts_on=date(2025, 1, 1),
                             ends_on=date(2026, 1, 1), value=Decimal("0"), notice_days=None)
    assert contract.notice_days == 60
    assert contract.renewal_opens_on == date(2025, 11, 2)


@pytest.mark.parametrize("field,value,message", [
    ("ends_on", "2024-12-31", "The contract must end after it starts."),
    ("ends_on", "2025-01-01", "The contract must end after it starts."),
    ("ends_on", "2025-13-01", "Not a valid date value."),
    ("starts_on", "", "Enter the date the contract starts."),
    ("value", "-1", "Enter zero or more."),
    ("value", "lots", "Enter a number"),
    ("value", "1.005", "Use at most 2 decimals"),
    ("value", "", "Enter the contract"),
    ("notice_days", "731", "Enter 0 to 730 days."),
    ("notice_days", "-1", "Enter 0 to 730 days."),
    ("notice_days", "ten", "Not a valid integer value."),
    ("title", "", "Enter a title."),
    ("title", "t" * 10_000, "Use at most 200 characters."),
    ("customer_id", "", "Choose a customer from the list."),
    ("customer_id", "999999", "Choose a customer from the list."),
])
def test_new_contract__bad_input_is_422_and_writes_nothing(client, login, db, field, value,
                                                          message):
    """Is each kind of bad contract input refused next to its field with nothing written?"""
    login("sales")
    customer = make_customer()
    before = snapshot(db)
    response = client.post("/pipeline/contracts/new", data=_form(customer, **{field: value}))
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert snapshot(db) == before


def test_contract_urls__unknown_ids_are_404_and_junk_400(client, login, db):
    """Are an unknown customer or contract 404s and a junk customer id a 400?"""
    login("admin")
    assert client.get("/pipeline/contracts/new?customer_id=424242").status_code == 404
    assert client.get("/pipeline/contracts/new?customer_id=abc").status_code == 400
    assert client.get("/pipeline/contracts/999/edit").status_code == 404
    assert client.post("/pipeline/contracts/999/edit", data={}).status_code == 404


@pytest.mark.parametrize("role", ["finance", "operations"])
def test_contracts__other_roles_get_403(client, login, db, role):
    """Are finance and operations refused the contract forms and renewal runs (403)?"""
    login(role)
    customer = make_customer()
    contract = _contract(db, customer, ends_on=date(2030, 1, 1))
    before = snapshot(db)
    assert client.get(f"/pipeline/contracts/new?customer_id={customer.id}").status_code == 403
    assert client.post("/pipeline/contracts/new", data=_form(customer)).status_code == 403
    assert client.post(f"/pipeline/contracts/{contract.id}/edit",
                       data=_form(customer)).status_code == 403
    assert client.post("/pipeline/renewals/run").status_code == 403
    assert snapshot(db) == before


def test_edit_contract__saves_and_refuses_a_stale_version(app, login, db):
    """Does an edit save, and a second edit from the same old version get 409 with nothing written?"""
    first, second = app.test_client(), app.test_client()
    login("sales", first)
    login("admin", second)
    customer = make_customer()
    contract = _contract(db, customer, ends_on=date(2026, 6, 30), starts_on=date(2025, 7, 1))
    loaded = _form(customer, version=str(contract.version), starts_on="2025-07-01",
                   ends_on="2026-06-30")
    page = first.get(f"/pipeline/contracts/{contract.id}/edit").get_data(as_text=True)
    assert 'value="Support plan"' in page and f'name="version" value="{contract.version}"' in page
    assert first.post(f"/pipeline/contracts/{contract.id}/edit",
                      data=loaded | {"notice_days": "90"}).status_code == 302
    before = snapshot(db)
    response = second.post(f"/pipeline/contracts/{contract.id}/edit",
                           data=loaded | {"notice_days": "30"})
    assert response.status_code == 409
    assert "changed by Sam Sales at" in response.get_data(as_text=True)
    assert snapshot(db) == before
    db.session.expire_all()
    assert db.session.get(Contract, contract.id).notice_days == 90


def test_edit_contract__cannot_move_it_to_another_customer(client, login, db):
    """Is a posted customer id ignored on edit, so a contract stays with its customer?"""
    login("sales")
    customer, other = make_customer(), make_customer()
    contract = _contract(db, customer, ends_on=date(2026, 1, 1))
    client.post(f"/pipeline/contracts/{contract.id}/edit",
                data=_form(other, version=str(contract.version)))
    db.session.expire_all()
    assert db.session.get(Contract, contract.id).customer_id == customer.id


def test_contracts_panel__lists_contracts_and_renewals_escaped(app, db, users):
    """Does the customer panel list contracts (soonest first), the renewal date or deal, escaped?"""
    ensure_stages()
    customer = make_customer()
    later = _contract(db, customer, ends_on=date(2027, 1, 31), title=EVIL)
    soon = _contract(db, customer, ends_on=TODAY + timedelta(days=30), title="Soon")
    _contract(db, make_customer(), ends_on=TODAY, title="Someone else's")
    open_renewals(TODAY)
    db.session.commit()
    contracts = contracts_for_customer(customer.id)
    assert [c.id for c in contracts] == [soon.id, later.id]
    with app.test_request_context():
        html = render_template("pipeline/_contracts.html", customer=customer,
                               customer_contracts=contracts)
    assert 'id="contracts-panel"' in html and 'class="panel wide"' in html
    assert "Renewal: Soon" in html and "Someone else" not in html
    assert "Opens <time datetime=\"2026-12-02\">" in html
    assert "<script>alert" not in html and "&lt;script&gt;" in html


# --- Renewals ----------------------------------------------------------------------------

def test_open_renewals__opens_the_deal_once(app, db, users):
    """Does a due contract open one renewal deal with the right fields, and a second run nothing?"""
    stages = ensure_stages()
    customer = make_customer(owner=users["sales"])
    customer.account.currency = "USD"
    db.session.commit()
    contract = _contract(db, customer, ends_on=TODAY + timedelta(days=30), value="4800.50")
    opened = open_renewals(TODAY)
    db.session.commit()
    assert len(opened) == 1
    deal = _deals(db)[0]
    assert deal.title == "Renewal: Support plan"
    assert deal.owner_id == users["sales"].id
    assert deal.stage_id == stages[0].id and stages[0].is_open
    assert (deal.amount, deal.currency) == (Decimal("4800.50"), "USD")
    assert deal.expected_close == contract.ends_on and deal.contract_id == contract.id
    assert open_renewals(TODAY) == []
    assert open_renewals(TODAY + timedelta(days=1)) == []
    db.session.commit()
    assert count_rows(db, Deal) == 1


@pytest.mark.parametrize("days_left,opens", [
    (61, False),  # the notice period starts tomorrow
    (60, True),   # it starts today
    (59, True),   # it started yesterday
    (0, True),    # the contract ends today: not yet ended
    (-1, False),  # it ended yesterday
])
def test_open_renewals__notice_window_edges(app, db, days_left, opens):
    """Does a renewal open exactly from the first day of the notice period until the contract ends?"""
    ensure_stages()
    _contract(db, make_customer(), ends_on=TODAY + timedelta(days=days_left))
    opened = open_renewals(TODAY)
    db.session.commit()
    assert len(opened) == (1 if opens else 0)
    assert count_rows(db, Deal) == (1 if opens else 0)


def test_open_renewals__notice_days_of_the_contract_count(app, db):
    """Is each contract's own notice period used (0 days: only on its last day)?"""
    ensure_stages()
    customer = make_customer()
    _contract(db, customer, ends_on=TODAY + timedelta(days=1), notice_days=0, title="Zero")
    _contract(db, customer, ends_on=TODAY + timedelta(days=200), notice_days=200, title="Long")
    assert [d.title for d in open_renewals(TODAY)] == ["Renewal: Long"]
    assert [d.title for d in open_renewals(TODAY + timedelta(days=1))] == ["Renewal: Zero"]


def test_open_renewals__no_owner_means_unassigned(app, db):
    """Is the renewal deal of a customer without an owner left unassigned?"""
    ensure_stages()
    _contract(db, make_customer(), ends_on=TODAY)
    (deal,) = open_renewals(TODAY)
    assert deal.owner_id is None


def test_open_renewals__without_an_open_stage_says_so(app, db):
    """Is a due renewal with no open stage to put it in refused with a clear message?"""
    db.session.add(Stage(name="Won", probability=100, outcome="won", position=0))
    db.session.commit()
    _contract(db, make_customer(), ends_on=TODAY)
    with pytest.raises(DomainError, match="no open pipeline stage"):
        open_renewals(TODAY)


def test_open_renewals__two_runs_at_once_open_one_deal(app, db):
    """When two processes run the renewals at the same moment, is exactly one deal opened?"""
    from models import db as models_db

    ensure_stages()
    _contract(db, make_customer(), ends_on=TODAY + timedelta(days=10))
    db.session.commit()
    apps = [make_test_app(), make_test_app()]
    barrier = threading.Barrier(len(apps))
    opened, errors = [], []

    def run(an_app):
        try:
            with an_app.app_context():
                barrier.wait(timeout=10)
                deals = open_renewals(TODAY)
                models_db.session.commit()
                opened.append(len(deals))
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(repr(error))

    threads = [threading.Thread(target=run, args=(a,)) for a in apps]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    assert sorted(opened) == [0, 1]
    assert count_rows(db, Deal) == 1


def test_open_renewals__a_renewal_opened_meanwhile_is_skipped(app, db, monkeypatch):
    """If another run opens a renewal between our read and our insert, is that contract
    skipped (its savepoint rolled back) while the others still open?"""
    import models.contracts
    from models.pipeline import create_deal

    stages = ensure_stages()
    customer = make_customer()
    first = _contract(db, customer, ends_on=TODAY + timedelta(days=5), title="First")
    second = _contract(db, customer, ends_on=TODAY + timedelta(days=6), title="Second")
    create_deal(customer=customer, title="Theirs", owner=None, stage=stages[0],
                amount=Decimal("1"), contract_id=first.id)
    db.session.commit()
    # The stale read: both contracts still look due.
    monkeypatch.setattr(models.contracts, "contracts_due", lambda today: [first, second])
    opened = open_renewals(TODAY)
    db.session.commit()
    assert [d.title for d in opened] == ["Renewal: Second"]
    assert sorted(d.title for d in _deals(db)) == ["Renewal: Second", "Theirs"]


def test_renewals_cli__opens_commits_and_prints(app, db, users):
    """Does `flask renewals --today` open and commit the due renewals, print them, then nothing?"""
    ensure_stages()
    customer = make_customer(name="Cli Co", owner=users["admin"])
    _contract(db, customer, ends_on=TODAY + timedelta(days=5), title="Hosting", value="300.00")
    runner = app.test_cli_runner()
    first = runner.invoke(args=["renewals", "--today", TODAY.isoformat()])
    assert first.exit_code == 0, first.output
    assert "Opened 1 renewal deal:" in first.output
    assert "Renewal: Hosting" in first.output and "Cli Co" in first.output
    assert "EUR 300.00" in first.output and "Ada Admin" in first.output
    assert count_rows(db, Deal) == 1
    second = runner.invoke(args=["renewals", "--today", TODAY.isoformat()])
    assert second.exit_code == 0 and "No renewal is due on 2025-03-10." in second.output
    assert count_rows(db, Deal) == 1
    bad = runner.invoke(args=["renewals", "--today", "10/03/2025"])
    assert bad.exit_code != 0 and "Invalid value" in bad.output


def test_run_renewals__post_answers_204_and_opens_due_deals(client, login, db):
    """Does POST /pipeline/renewals/run open today's due renewals and answer 204 (GET: 405)?"""
    login("sales")
    ensure_stages()
    _contract(db, make_customer(), ends_on=date.today() + timedelta(days=3))
    _contract(db, make_customer(), ends_on=date.today() + timedelta(days=300))
    response = client.htmx("post", "/pipeline/renewals/run")
    assert response.status_code == 204
    assert response.headers["X-Renewals-Opened"] == "1"
    assert count_rows(db, Deal) == 1
    assert client.htmx("post", "/pipeline/renewals/run").headers["X-Renewals-Opened"] == "0"
    assert client.get("/pipeline/renewals/run").status_code == 405
    assert count_rows(db, Deal) == 1
