"""Campaigns: the list with what each brought in (SQL aggregates), adding and editing one,
and the rules — a unique name whatever its case, a period in order, a budget of zero or more."""

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import event, select

from models import Campaign
from models.pipeline import create_deal, ensure_stages, move_deal
from models.reports import campaign_performance
from tests.helpers import make_customer, snapshot

FORM = {"name": "Spring Fair 2025", "channel": "event", "starts_on": "2025-03-01",
        "ends_on": "2025-03-31", "budget": "2,500.00"}


def _campaign(db, name="Autumn Mailing", **kwargs):
    campaign = Campaign(name=name, channel=kwargs.pop("channel", "email"),
                        budget=Decimal(kwargs.pop("budget", "100.00")), **kwargs)
    db.session.add(campaign)
    db.session.commit()
    return campaign


def _edit(campaign, **overrides):
    return {"version": str(campaign.version), "name": campaign.name, "channel": campaign.channel,
            "starts_on": campaign.starts_on.isoformat() if campaign.starts_on else "",
            "ends_on": campaign.ends_on.isoformat() if campaign.ends_on else "",
            "budget": str(campaign.budget)} | overrides


def test_performance__counts_deals_open_and_won_value(app, db, users):
    """Does each campaign show its deal count, open pipeline and won value (lost counted, not valued)?"""
    stages = {s.name: s for s in ensure_stages()}
    fair, quiet = _campaign(db, "Fair"), _campaign(db, "Quiet")
    customer = make_customer()
    for amount, stage in [("100.00", "Lead"), ("50.50", "Proposal"), ("1000.00", "Won")]:
        create_deal(customer=customer, title="D", owner=None, stage=stages[stage],
                    amount=Decimal(amount), campaign=fair)
    lost = create_deal(customer=customer, title="L", owner=None, stage=stages["Lead"],
                       amount=Decimal("30.00"), campaign=fair)
    db.session.commit()
    move_deal(lost, stages["Lost"], by=users["admin"], version=lost.version, lost_reason="No")
    create_deal(customer=customer, title="Other", owner=None, stage=stages["Won"],
                amount=Decimal("9.99"))
    db.session.commit()
    rows = {r.campaign.name: (r.deals, r.open_value, r.won_value) for r in campaign_performance()}
    assert rows == {"Fair": (4, Decimal("150.50"), Decimal("1000.00")),
                    "Quiet": (0, Decimal("0.00"), Decimal("0.00"))}
    assert quiet.id != fair.id


def test_performance__is_one_query_however_many_campaigns(app, db):
    """Is the list one aggregate query, not a query per campaign?"""
    for n in range(12):
        _campaign(db, f"Campaign {n}")
    statements = []
    engine = db.engine
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(engine, "before_cursor_execute", listener)
    try:
        rows = campaign_performance()
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    assert len(rows) == 12
    assert len([s for s in statements if s.lstrip().upper().startswith("SELECT")]) == 1


@pytest.mark.parametrize("role", ["finance", "operations"])
def test_list__readers_see_figures_but_no_edit_links(client, login, db, role):
    """Do finance and operations see the campaigns and their figures, without add or edit links?"""
    campaign = _campaign(db, "Visible Campaign", starts_on=date(2025, 1, 1))
    login(role)
    body = client.get("/pipeline/campaigns").get_data(as_text=True)
    assert "Visible Campaign" in body and "EUR 100.00" in body and "2025-01-01" in body
    assert "/pipeline/campaigns/new" not in body
    assert f"/pipeline/campaigns/{campaign.id}/edit" not in body


def test_list__sales_sees_add_and_edit(client, login, db):
    """Does sales get the New campaign and Edit links?"""
    campaign = _campaign(db)
    login("sales")
    body = client.get("/pipeline/campaigns").get_data(as_text=True)
    assert "/pipeline/campaigns/new" in body and f"/pipeline/campaigns/{campaign.id}/edit" in body
    assert client.get("/pipeline/campaigns?sort=name").status_code == 400


def test_new__sales_adds_a_campaign(client, login, db):
    """Can sales add a campaign, stored with exact budget and dates?"""
    login("sales")
    response = client.post("/pipeline/campaigns/new", data=FORM)
    assert response.status_code == 302 and response.headers["Location"] == "/pipeline/campaigns"
    campaign = db.session.scalar(select(Campaign))
    assert (campaign.name, campaign.channel, campaign.budget) == (
        "Spring Fair 2025", "event", Decimal("2500.00"))
    assert (campaign.starts_on, campaign.ends_on) == (date(2025, 3, 1), date(2025, 3, 31))


def test_new__open_ended_period_is_fine(client, login, db):
    """Can a campaign have no dates (an always-on source)?"""
    login("admin")
    response = client.post("/pipeline/campaigns/new",
                           data=FORM | {"starts_on": "", "ends_on": "", "budget": "0"})
    assert response.status_code == 302
    campaign = db.session.scalar(select(Campaign))
    assert campaign.starts_on is None and campaign.ends_on is None


@pytest.mark.parametrize("field,value,message", [
    ("name", "", "Enter a name."),
    ("name", "n" * 10_000, "Use at most 120 characters."),
    ("name", "SPRING fair 2025 ", "Another campaign has this name."),
    ("channel", "carrier-pigeon", "Not a valid choice"),
    ("ends_on", "2025-02-28", "The campaign cannot end before it starts."),
    ("starts_on", "first of march", "Not a valid date value."),
    ("budget", "-0.01", "Enter zero or more."),
    ("budget", "cheap", "Enter a number"),
    ("budget", "", "Enter a budget"),
    ("budget", "1e400", "out of range"),
])
def test_new__bad_input_is_422_and_writes_nothing(client, login, db, field, value, message):
    """Is each kind of bad campaign input refused next to its field with nothing written?"""
    _campaign(db, "Spring Fair 2025")
    login("sales")
    before = snapshot(db)
    response = client.post("/pipeline/campaigns/new",
                           data=FORM | {"name": "Another one", field: value})
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert snapshot(db) == before


def test_edit__keeps_its_own_name_and_refuses_a_stale_version(app, login, db):
    """Can a campaign be saved under its own name, and is a save from an old version a 409?"""
    first, second = app.test_client(), app.test_client()
    login("sales", first)
    login("admin", second)
    campaign = _campaign(db, "Mailing")
    loaded = _edit(campaign)
    page = first.get(f"/pipeline/campaigns/{campaign.id}/edit").get_data(as_text=True)
    assert 'value="Mailing"' in page
    assert first.post(f"/pipeline/campaigns/{campaign.id}/edit",
                      data=loaded | {"name": "mailing", "budget": "150.00"}).status_code == 302
    before = snapshot(db)
    response = second.post(f"/pipeline/campaigns/{campaign.id}/edit",
                           data=loaded | {"budget": "1.00"})
    assert response.status_code == 409
    assert "changed by Sam Sales at" in response.get_data(as_text=True)
    assert snapshot(db) == before
    db.session.expire_all()
    assert db.session.get(Campaign, campaign.id).budget == Decimal("150.00")


@pytest.mark.parametrize("role", ["finance", "operations"])
def test_forms__other_roles_get_403(client, login, db, role):
    """Are finance and operations refused adding or editing campaigns (403, nothing written)?"""
    campaign = _campaign(db)
    login(role)
    before = snapshot(db)
    assert client.get("/pipeline/campaigns/new").status_code == 403
    assert client.post("/pipeline/campaigns/new", data=FORM).status_code == 403
    assert client.post(f"/pipeline/campaigns/{campaign.id}/edit",
                       data=_edit(campaign)).status_code == 403
    assert snapshot(db) == before


def test_unknown_campaign__is_404(client, login, db):
    """Is editing a campaign that does not exist a 404?"""
    login("admin")
    assert client.get("/pipeline/campaigns/999/edit").status_code == 404
    assert client.post("/pipeline/campaigns/999/edit", data=FORM).status_code == 404


def test_html_in_the_name__is_shown_escaped(client, login, db):
    """Is markup in a campaign name stored as typed and shown as text?"""
    login("admin")
    evil = "<script>alert(1)</script>"
    assert client.post("/pipeline/campaigns/new", data=FORM | {"name": evil}).status_code == 302
    body = client.get("/pipeline/campaigns").get_data(as_text=True)
    assert "<script>alert" not in body and "&lt;script&gt;alert(1)&lt;/script&gt;" in body
