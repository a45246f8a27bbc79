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


def test_dashboard__sales_sees_open_deals_forecast_and_followups(client, login, db, users):
    """Does a rep see their own open deals, a weighted forecast by month, and what is due?"""
    from datetime import date, timedelta
    from decimal import Decimal

    from models import Activity, Stage
    from models.pipeline import create_deal, ensure_stages
    from models.users import utcnow

    me = login("sales")
    ensure_stages()
    stages = {s.name: s for s in db.session.scalars(db.select(Stage))}
    customer = make_customer(name="Forecast Co")
    create_deal(customer=customer, title="Mine A", owner=me, stage=stages["Proposal"],
                amount=Decimal("1000.00"), expected_close=date(2027, 1, 15))
    create_deal(customer=customer, title="Mine B", owner=me, stage=stages["Qualified"],
                amount=Decimal("333.33"), expected_close=date(2027, 1, 20))
    create_deal(customer=customer, title="Someone else's", owner=users["admin"],
                stage=stages["Proposal"], amount=Decimal("5000.00"))
    create_deal(customer=customer, title="Closed", owner=me, stage=stages["Won"],
                amount=Decimal("99.00"))
    db.session.add(Activity(kind="task", subject="Ring them back", customer_id=customer.id,
                            assignee_id=me.id, due_at=utcnow() - timedelta(hours=1)))
    db.session.commit()
    body = client.get("/").get_data(as_text=True)
    assert "My open deals" in body and "(2)" in body
    assert "Mine A" in body and "Mine B" in body
    assert "Someone else" not in body and ">Closed<" not in body
    # 1000.00 x 50% + 333.33 x 25% = 500.00 + 83.33 (83.3325 rounded half-up per deal)
    assert "<td>2027-01</td><td class=\"num\">583.33</td>" in body
    assert "Ring them back" in body


def test_dashboard__operations_sees_what_runs_low_and_what_is_late(client, login, db):
    """Does operations see products below their reorder point and late purchase orders,
    and does sales not?"""
    from datetime import date, timedelta
    from decimal import Decimal

    from models.catalog import Supplier, create_product
    from models.purchasing import LineInput, create_purchase_order, send_order

    supplier = Supplier(currency="EUR")
    supplier.set_name("Late Supplies Ltd")
    db.session.add(supplier)
    low = create_product(sku="LOW-1", name="Runs low", list_price=Decimal("5.00"),
                         cost=Decimal("2.00"), tax_rate=None, reorder_point=Decimal(5),
                         reorder_qty=Decimal(10), preferred_supplier=supplier)
    create_product(sku="FINE-1", name="Never reordered", list_price=Decimal("5.00"),
                   cost=Decimal("2.00"), tax_rate=None)
    order = create_purchase_order(supplier, expected_on=date.today() - timedelta(days=2),
                                  lines=[LineInput(product=low, quantity=Decimal(3))])
    send_order(order)
    db.session.commit()
    login("operations")
    body = client.get("/").get_data(as_text=True)
    low_panel = body.split("Running low")[1].split("</section>")[0]
    assert "LOW-1" in low_panel and "3 on order" in low_panel and "FINE-1" not in low_panel
    arriving = body.split("Goods to arrive")[1].split("</section>")[0]
    assert order.number in arriving and "late" in arriving
    client.post("/logout")
    login("sales")
    body = client.get("/").get_data(as_text=True)
    assert "Running low" not in body and "Goods to arrive" not in body


def test_dashboard__the_ten_open_deals_closing_soonest_across_stages(client, login, db):
    """With more open deals than it lists, in several stages, does the dashboard show the
    ten closing soonest of them all, in date order, undated ones last, and count them all?"""
    from datetime import date, timedelta
    from decimal import Decimal

    from models import Stage
    from models.pipeline import create_deal, ensure_stages

    me = login("sales")
    ensure_stages()
    stages = {s.name: s for s in db.session.scalars(db.select(Stage))}
    customer = make_customer(name="Soonest Co")
    start = date(2027, 3, 1)
    # 9 dated deals spread over three stages and 3 undated over two: 12, of which 10 show
    for i in range(9):
        stage = ("Lead", "Qualified", "Proposal")[i % 3]
        create_deal(customer=customer, title=f"Dated {i}", owner=me, stage=stages[stage],
                    amount=Decimal("10.00"), expected_close=start + timedelta(days=8 - i))
    for name, stage in (("Undated A", "Negotiation"), ("Undated B", "Lead"),
                        ("Undated C", "Negotiation")):
        create_deal(customer=customer, title=name, owner=me, stage=stages[stage],
                    amount=Decimal("10.00"))
    db.session.commit()
    body = client.get("/").get_data(as_text=True)
    section = body.split('id="deals-h"')[1].split("</section>")[0]
    assert "(12)" in section
    shown = re.findall(r">(Dated \d|Undated [ABC])</a>", section)
    assert shown == [f"Dated {i}" for i in range(8, -1, -1)] + ["Undated A"]
