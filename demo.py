"""The demo data set's CRM side: stages, campaigns, deals across the pipeline, activities,
support cases with a credit request, and contracts (one due for renewal).

Everything goes through the same rules the app uses (create_deal, move_deal), so the demo
is what a team would have after a few weeks of real use.
"""

from datetime import timedelta
from decimal import Decimal

from models import Activity, Campaign, CaseComment, Contract, CreditRequest, SupportCase, db
from models.pipeline import create_deal, ensure_stages, move_deal
from models.users import utcnow

# customer name, title, stage, amount, days to close, campaign
DEALS = [
    ("Acme Tools GmbH", "Workshop fit-out 2027", "Qualified", "18500.00", 40, "Trade fair 2026"),
    ("Acme Tools GmbH", "Spare parts contract", "Won", "6200.00", -20, "Trade fair 2026"),
    ("Bluebird Cafés Ltd", "Espresso machines for 3 sites", "Proposal", "12900.00", 25,
     "Spring mailing"),
    ("Fjord Fisheries AS", "Cold-room shelving", "Negotiation", "27400.00", 12, "Website"),
    ("Maria Lopez", "Home office set", "Lead", "1850.00", 60, "Website"),
    ("Initech", "Printer fleet", "Lead", "9600.00", 75, None),
    ("Stark Components", "Assembly line tools", "Proposal", "48000.00", 30, "Trade fair 2026"),
    ("Café Noir SARL", "Grinder replacement", "Lost", "2300.00", -5, "Spring mailing"),
    ("Globex Corporation", "Pilot order", "Qualified", "4100.00", 50, "Website"),
]


def load_demo_pipeline(users: dict, customers: dict) -> None:
    """Add the CRM demo data; `users` by role, `customers` by name."""
    stages = {s.name: s for s in ensure_stages()}
    today = utcnow().date()
    campaigns = {
        "Trade fair 2026": Campaign(name="Trade fair 2026", channel="event",
                                    starts_on=today - timedelta(days=120),
                                    ends_on=today - timedelta(days=110),
                                    budget=Decimal("8000.00")),
        "Spring mailing": Campaign(name="Spring mailing", channel="email",
                                   starts_on=today - timedelta(days=200),
                                   ends_on=today - timedelta(days=170),
                                   budget=Decimal("1200.00")),
        "Website": Campaign(name="Website", channel="web"),
    }
    db.session.add_all(campaigns.values())
    db.session.flush()
    sales = users["sales"]
    for name, title, stage_name, amount, days, campaign in DEALS:
        customer = customers[name]
        owner = customer.relationship_facet.owner or sales
        deal = create_deal(customer=customer, title=title, owner=owner, stage=stages["Lead"],
                           amount=Decimal(amount), by=owner,
                           expected_close=today + timedelta(days=days),
                           campaign=campaigns.get(campaign) if campaign else None)
        if stage_name != "Lead":
            db.session.flush()
            move_deal(deal, stages[stage_name], by=users["admin"], version=deal.version,
                      lost_reason="Chose a cheaper local supplier" if stage_name == "Lost"
                      else None)
        db.session.flush()
        if stage_name in ("Proposal", "Negotiation"):
            db.session.add(Activity(
                kind="call", subject=f"Call about {title}", body="Went through the proposal.",
                customer_id=customer.id, deal_id=deal.id, assignee_id=owner.id,
                created_by_id=owner.id, done=True, done_at=utcnow() - timedelta(days=2)))
    acme = customers["Acme Tools GmbH"]
    db.session.add_all([
        Activity(kind="meeting", subject="Site visit at Acme", customer_id=acme.id,
                 assignee_id=sales.id, created_by_id=sales.id,
                 due_at=utcnow() + timedelta(days=2, hours=3)),
        Activity(kind="task", subject="Send revised price list to Bluebird",
                 customer_id=customers["Bluebird Cafés Ltd"].id, assignee_id=sales.id,
                 created_by_id=sales.id, due_at=utcnow() - timedelta(days=1)),
    ])
    case = SupportCase(customer=customers["Bluebird Cafés Ltd"], subject="Machine leaks water",
                       description="The espresso machine at the Clifton site leaks since "
                                   "Monday.", priority="high", status="open",
                       assignee_id=users["operations"].id, created_by_id=sales.id)
    db.session.add(case)
    db.session.flush()
    db.session.add(CaseComment(case_id=case.id, author_id=users["operations"].id,
                               body="Technician booked for Thursday."))
    db.session.add(CreditRequest(case_id=case.id, customer_id=case.customer_id,
                                 amount=Decimal("150.00"), currency="EUR",
                                 reason="Two days without coffee at one site",
                                 requested_by_id=sales.id))
    db.session.add_all([
        Contract(customer=acme, title="Maintenance 2026", starts_on=today - timedelta(days=320),
                 ends_on=today + timedelta(days=45), value=Decimal("4800.00"),
                 currency=acme.account.currency),
        Contract(customer=customers["Stark Components"], title="Tool service plan",
                 starts_on=today - timedelta(days=30), ends_on=today + timedelta(days=335),
                 value=Decimal("12000.00"), currency="EUR"),
    ])
    db.session.flush()
