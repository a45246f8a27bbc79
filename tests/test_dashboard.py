"""The dashboard at / shows each role what concerns it."""

import re

from tests.helpers import make_customer


def test_dashboard__sales_sees_own_customers_by_lifecycle(client, login, db, users):
    """Does a rep's dashboard count only their own customers, chart and table alike?"""
    me = login("sales")
    make_customer(owner=me, lifecycle="prospect")
    make_customer(owner=me, lifecycle="prospect")
    make_customer(owner=users["admin"], lifecycle="prospect")
    body = client.get("/").get_data(as_text=True)
    assert "My customers by lifecycle" in body
    row = re.search(r'>Prospect</a></td><td class="num">(\d+)<', body)
    assert row and row.group(1) == "2"
    assert 'role="img"' in body and "Prospect 2" in body  # the chart says it in words too
    assert "Customers on hold" not in body and "Latest changes" not in body


def test_dashboard__finance_sees_customers_on_hold(client, login, db):
    """Does finance see which customers are on hold, and why?"""
    login("finance")
    held = make_customer(name="Slow Payer", on_hold=True)
    held.account.hold_reason = "60 days overdue"
    db.session.commit()
    make_customer(name="Good Payer")
    body = client.get("/").get_data(as_text=True)
    section = body.split("Customers on hold")[1].split("</section>")[0]
    assert "Slow Payer" in section and "60 days overdue" in section
    assert "Good Payer" not in section


def test_dashboard__admin_sees_team_and_latest_changes(client, login, db):
    """Does the admin see the team by role and the latest audited changes?"""
    login("admin")
    make_customer(name="Audited Co")
    body = client.get("/").get_data(as_text=True)
    assert "Team" in body and "Sales: 1" in body
    assert "Latest changes" in body and "Audited Co" in body
