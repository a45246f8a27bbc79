"""Deals: created with the customer picker, shown with the customer's standing, edited
with a version check, bad input refused with nothing written; and the rules in
models/pipeline.py they go through (moves, follow-ups, weighted amounts, who may change)."""

import re
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from models import Activity, Campaign, Contact, Deal, StageChange
from models.errors import Conflict, DomainError, NotAllowed
from models.pipeline import (
    create_deal,
    may_change_deal,
    move_deal,
    update_deal,
)
from models.users import as_utc, utcnow
from tests.helpers import business_rows, count_rows, make_customer, make_deal


def _new_form(customer, stages, owner, **overrides) -> dict:
    data = {"customer_id": str(customer.id), "q": customer.name, "title": "Fleet renewal",
            "owner_id": str(owner.id), "stage_id": str(stages["Qualified"].id),
            "amount": "12,500.50", "expected_close": "2026-12-15", "probability_override": "",
            "campaign_id": "", "source": "Trade fair"}
    data.update(overrides)
    return data


def _edit_form(deal, **overrides) -> dict:
    data = {"version": str(deal.version), "customer_id": str(deal.customer_id),
            "title": deal.title, "owner_id": str(deal.owner_id or ""),
            "stage_id": str(deal.stage_id), "amount": str(deal.amount),
            "expected_close": deal.expected_close.isoformat() if deal.expected_close else "",
            "probability_override": "" if deal.probability_override is None
            else str(deal.probability_override),
            "campaign_id": str(deal.campaign_id or ""), "source": deal.source,
            "lost_reason": deal.lost_reason}
    data.update(overrides)
    return data


# --- Creating a deal ---------------------------------------------------------------------


def test_new_deal__creates_it_in_the_customers_currency(client, login, db, users, stages):
    """Does the new-deal form create the deal, in the customer's currency, and open it?"""
    me = login("sales")
    customer = make_customer(name="Harbour Lights", currency="GBP")
    fair = Campaign(name="Spring fair")
    db.session.add(fair)
    db.session.commit()
    response = client.post("/pipeline/deals/new", data=_new_form(
        customer, stages, me, campaign_id=str(fair.id), probability_override="40"))
    deal = db.session.scalar(select(Deal))
    assert response.status_code == 302
    assert response.headers["Location"] == f"/pipeline/deals/{deal.id}"
    assert (deal.title, deal.customer_id, deal.owner_id, deal.stage.name) == (
        "Fleet renewal", customer.id, me.id, "Qualified")
    assert deal.amount == Decimal("12500.50") and deal.currency == "GBP"
    assert deal.expected_close == date(2026, 12, 15)
    assert deal.probability_override == 40 and deal.campaign_id == fair.id
    assert deal.source == "Trade fair"
    assert count_rows(db, StageChange) == 1
    # Qualified has 3 follow-up days: the owner gets a task.
    task = db.session.scalar(select(Activity))
    assert task.assignee_id == me.id and task.deal_id == deal.id


def test_new_deal__form_uses_the_picker_and_preselects_the_customer(client, login, db, users,
                                                                    stages):
    """Does ?customer_id= preselect the customer in the type-ahead picker and show its currency?"""
    login("sales")
    customer = make_customer(name="Picked Ltd", currency="CHF")
    body = client.get(f"/pipeline/deals/new?customer_id={customer.id}").get_data(as_text=True)
    assert 'data-picker="pick"' in body
    assert f'name="customer_id" value="{customer.id}" data-picker-value' in body
    assert 'value="Picked Ltd"' in body
    assert "In CHF, Picked Ltd’s account currency." in body
    assert not re.search(r'<select[^>]*name="customer_id"', body)  # never a customer dropdown
    # The stage list offers no "Lost" for a new deal, and the owner is me.
    stage_select = re.search(r'<select id="stage_id".*?</select>', body, re.S).group(0)
    assert "Lost" not in stage_select and "Won" in stage_select
    assert re.search(r'<option selected value="\d+">Sam Sales</option>', body)


@pytest.mark.parametrize("query,status", [("customer_id=abc", 400), ("customer_id=99999", 404),
                                          ("customer_id=%C2%B2", 400),
                                          ("customer_id=99999999999999", 400)])
def test_new_deal__unknown_preselected_customer(client, login, db, users, stages, query, status):
    """Is an unknown or malformed ?customer_id= a 400/404, never a 500?"""
    login("sales")
    assert client.get(f"/pipeline/deals/new?{query}").status_code == status


@pytest.mark.parametrize("role", ["finance", "operations"])
def test_new_deal__finance_and_operations_may_not(client, login, db, users, stages, role):
    """Are finance and operations refused the new-deal form (403)?"""
    login(role)
    assert client.get("/pipeline/deals/new").status_code == 403
    assert client.post("/pipeline/deals/new", data={}).status_code == 403


@pytest.mark.parametrize("field,value,message", [
    ("amount", "-5", "Enter zero or more."),
    ("amount", "-0.01", "Enter zero or more."),
    ("amount", "lots", "Enter a number, like 1250.00."),
    ("amount", "12.345", "Use at most 2 decimals."),
    ("amount", "1e40", "That amount is out of range."),
    ("amount", "999999999999999", "That amount is out of range."),
    ("amount", "NaN", "Enter a number, like 1250.00."),
    ("amount", "", "Enter an amount"),
    ("expected_close", "31/12/2026", "Enter a date like 2026-12-31."),
    ("expected_close", "2026-02-30", "Enter a date like 2026-12-31."),
    ("expected_close", "tomorrow", "Enter a date like 2026-12-31."),
    ("expected_close", "0202-01-01", "Enter a date between 2000 and 2199."),
    ("probability_override", "101", "Enter a probability from 0 to 100."),
    ("probability_override", "-1", "Enter a probability from 0 to 100."),
    ("probability_override", "fifty", "Enter a whole number from 0 to 100."),
    ("probability_override", "99999999999999999999", "Enter a probability from 0 to 100."),
    ("title", "", "Enter a title."),
    ("title", "x" * 201, "Use at most 200 characters."),
    ("title", "bad\x00title", "Remove the invisible control characters."),
    ("source", "y" * 101, "Field cannot be longer than 100 characters."),
    ("customer_id", "", "Choose a customer"),
    ("customer_id", "99999", "Choose a customer from the list."),
    ("customer_id", "1; DROP TABLE deals", "Choose a customer from the list."),
    ("customer_id", "²", "Choose a customer from the list."),
    ("customer_id", "99999999999999", "Choose a customer from the list."),
    ("owner_id", "99999", "Not a valid choice."),
    ("stage_id", "99999", "Not a valid choice."),
    ("campaign_id", "abc", "Not a valid choice."),
])
def test_new_deal__bad_input_is_422_and_writes_nothing(client, login, db, users, stages, field,
                                                       value, message):
    """Is each kind of bad input refused (422) with its message beside the field, nothing written?"""
    me = login("sales")
    customer = make_customer()
    before = business_rows(db)
    response = client.post("/pipeline/deals/new",
                           data=_new_form(customer, stages, me, **{field: value}))
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert message in body
    assert business_rows(db) == before


def test_new_deal__lost_stage_is_refused(client, login, db, users, stages):
    """Can a deal not be created straight into Lost (no reason to give)?"""
    me = login("sales")
    customer = make_customer()
    before = business_rows(db)
    response = client.post("/pipeline/deals/new", data=_new_form(
        customer, stages, me, stage_id=str(stages["Lost"].id)))
    assert response.status_code == 422
    assert business_rows(db) == before


def test_new_deal__input_is_kept_on_error(client, login, db, users, stages):
    """After a refused save, is what was typed still in the form?"""
    me = login("sales")
    customer = make_customer(name="Keep Me Ltd")
    body = client.post("/pipeline/deals/new", data=_new_form(
        customer, stages, me, amount="abc", title="Typed title")).get_data(as_text=True)
    assert 'value="Typed title"' in body and 'value="abc"' in body
    assert 'value="Keep Me Ltd"' in body and f'value="{customer.id}" data-picker-value' in body


def test_new_deal__html_in_text_fields_is_stored_and_shown_escaped(client, login, db, users,
                                                                   stages):
    """Is HTML typed into the title and source stored as typed and shown escaped?"""
    me = login("sales")
    customer = make_customer()
    title, source = "<script>alert('t')</script>", "<img src=x onerror=alert(1)>"
    client.post("/pipeline/deals/new", data=_new_form(customer, stages, me, title=title,
                                                      source=source))
    deal = db.session.scalar(select(Deal))
    assert deal.title == title and deal.source == source
    for url in (f"/pipeline/deals/{deal.id}", f"/pipeline/deals/{deal.id}/edit", "/pipeline/"):
        body = client.get(url).get_data(as_text=True)
        assert title not in body and "&lt;script&gt;alert(" in body, url
        assert source not in body
    assert "&lt;img src=x onerror=alert(1)&gt;" in client.get(
        f"/pipeline/deals/{deal.id}").get_data(as_text=True)


# --- The deal page -----------------------------------------------------------------------


def test_deal_page__shows_deal_standing_contacts_and_history(client, login, db, users, stages):
    """Does the deal page show the stage, probability, weighted amount, the customer's
    standing from the financial facet, its contacts and the stage history?"""
    customer = make_customer(name="Standing Co", credit_limit="5000.00", on_hold=True)
    customer.account.hold_reason = "Two invoices unpaid"
    db.session.add(Contact(customer=customer, name="Pat Buyer", job_title="Purchasing"))
    db.session.commit()
    deal = make_deal(db, stages, title="Big one", owner=users["sales"], customer=customer,
                 amount="1000.05", probability_override=50)
    login("finance")
    response = client.get(f"/pipeline/deals/{deal.id}")
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    for text in ("Big one", "Standing Co", "Qualified", "50%", "(the owner&#39;s estimate)",
                 "EUR 1,000.05", "EUR 500.03", "EUR 5,000.00", "On hold", "Two invoices unpaid",
                 "Credit available", "EUR 5,000.00", "Pat Buyer",
                 "Purchasing", "created in <strong>Qualified</strong>", "Activities",
                 "Follow up: Big one"):  # the owner's follow-up task, in the timeline
        assert text in body, text
    # finance reads, and is offered nothing to change
    assert "Edit deal" not in body and "Move to another stage" not in body


def test_deal_page__shows_won_and_lost_facts(client, login, db, users, stages):
    """Does a lost deal show when and why it was lost?"""
    me = login("sales")
    deal = make_deal(db, stages, owner=me)
    move_deal(deal, stages["Lost"], by=me, version=deal.version, lost_reason="Budget cut")
    db.session.commit()
    body = client.get(f"/pipeline/deals/{deal.id}").get_data(as_text=True)
    assert "Lost on" in body and "Budget cut" in body
    assert "Qualified → <strong>Lost</strong>" in body


def test_deal_page__unknown_deal_is_404(client, login, users):
    """Is an unknown deal a 404, an id too large for the column too?"""
    login("operations")
    assert client.get("/pipeline/deals/999").status_code == 404
    assert client.get("/pipeline/deals/99999999999999").status_code == 404


def test_deal_page__move_form_moves_and_returns_to_the_deal(client, login, db, users, stages):
    """Does the move form on the deal page move it (with a lost reason) and come back?"""
    me = login("sales")
    deal = make_deal(db, stages, owner=me)
    response = client.post(f"/pipeline/deals/{deal.id}/move", data={
        "back": "deal", "version": deal.version, "stage_id": stages["Lost"].id,
        "lost_reason": "Chose a cheaper offer"})
    assert response.status_code == 302
    assert response.headers["Location"] == f"/pipeline/deals/{deal.id}"
    db.session.expire_all()
    assert db.session.get(Deal, deal.id).lost_reason == "Chose a cheaper offer"


def test_deal_page__move_to_lost_without_reason_is_422_on_the_page(client, login, db, users,
                                                                   stages):
    """From the deal page, is Lost without a reason a 422 with the message on the page?"""
    me = login("sales")
    deal = make_deal(db, stages, owner=me)
    before = business_rows(db)
    response = client.post(f"/pipeline/deals/{deal.id}/move", data={
        "back": "deal", "version": deal.version, "stage_id": stages["Lost"].id})
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Say why the deal was lost." in body and "Move to another stage" in body
    assert business_rows(db) == before


# --- Editing a deal ----------------------------------------------------------------------


def test_edit_deal__saves_the_fields(client, login, db, users, stages):
    """Does the edit form save the fields and return to the deal?"""
    me = login("sales")
    deal = make_deal(db, stages, owner=me)
    other = make_customer(name="New Customer", currency="USD")
    response = client.post(f"/pipeline/deals/{deal.id}/edit", data=_edit_form(
        deal, title="Renamed", amount="42.10", customer_id=str(other.id),
        probability_override="90", expected_close=""))
    assert response.status_code == 302
    db.session.expire_all()
    saved = db.session.get(Deal, deal.id)
    assert (saved.title, saved.amount, saved.customer_id, saved.currency) == (
        "Renamed", Decimal("42.10"), other.id, "USD")
    assert saved.probability_override == 90 and saved.expected_close is None


def test_edit_deal__a_new_stage_is_a_recorded_move(client, login, db, users, stages):
    """Is a stage changed on the edit form recorded as a move, with its follow-up?"""
    me = login("sales")
    deal = make_deal(db, stages, owner=me, stage="Lead")
    client.post(f"/pipeline/deals/{deal.id}/edit",
                data=_edit_form(deal, stage_id=str(stages["Proposal"].id)))
    moves = db.session.scalars(select(StageChange).where(StageChange.deal_id == deal.id)).all()
    assert [m.to_stage_id for m in moves] == [stages["Lead"].id, stages["Proposal"].id]
    assert count_rows(db, Activity) == 1


def test_edit_deal__stale_version_is_409(client, login, db, users, stages):
    """Is an edit based on an old version refused (409) with who changed it, nothing written?"""
    me = login("sales")
    deal = make_deal(db, stages, owner=me)
    form = _edit_form(deal, title="Mine")
    deal.title = "Theirs"
    db.session.commit()
    before = business_rows(db)
    response = client.post(f"/pipeline/deals/{deal.id}/edit", data=form)
    body = response.get_data(as_text=True)
    assert response.status_code == 409
    assert "after you opened it" in body and 'value="Mine"' in body
    assert business_rows(db) == before


@pytest.mark.parametrize("field,value,message", [
    ("amount", "-1", "Enter zero or more."),
    ("amount", "abc", "Enter a number"),
    ("amount", "1000000000000", "That amount is out of range."),
    ("expected_close", "2026-13-01", "Enter a date like 2026-12-31."),
    ("probability_override", "101", "Enter a probability from 0 to 100."),
    ("probability_override", "-1", "Enter a probability from 0 to 100."),
    ("lost_reason", "z" * 501, "Use at most 500 characters."),
])
def test_edit_deal__bad_input_is_422_and_writes_nothing(client, login, db, users, stages, field,
                                                        value, message):
    """Is bad input on the edit form refused (422), nothing written?"""
    me = login("sales")
    deal = make_deal(db, stages, owner=me)
    before = business_rows(db)
    response = client.post(f"/pipeline/deals/{deal.id}/edit",
                           data=_edit_form(deal, **{field: value}))
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert business_rows(db) == before


def test_edit_deal__lost_stage_without_reason_is_422(client, login, db, users, stages):
    """Is moving to Lost through the edit form without a reason refused, nothing written?"""
    me = login("sales")
    deal = make_deal(db, stages, owner=me)
    before = business_rows(db)
    response = client.post(f"/pipeline/deals/{deal.id}/edit", data=_edit_form(
        deal, stage_id=str(stages["Lost"].id), lost_reason=""))
    assert response.status_code == 422
    assert "Say why the deal was lost." in response.get_data(as_text=True)
    assert business_rows(db) == before


def test_edit_deal__another_reps_deal_is_403(client, login, db, users, stages):
    """May a sales rep not edit another rep's deal (403), nothing written?"""
    deal = make_deal(db, stages, owner=users["admin"])
    login("sales")
    before = business_rows(db)
    assert client.get(f"/pipeline/deals/{deal.id}/edit").status_code == 403
    response = client.post(f"/pipeline/deals/{deal.id}/edit", data=_edit_form(deal, title="X"))
    assert response.status_code == 403
    assert "Only the deal&#39;s owner or an admin may change it." in response.get_data(
        as_text=True)
    assert business_rows(db) == before


def test_edit_deal__html_in_lost_reason_is_escaped(client, login, db, users, stages):
    """Is HTML in a lost reason stored as typed and shown escaped?"""
    me = login("admin")
    deal = make_deal(db, stages, owner=me)
    reason = "<b onmouseover=alert(1)>price</b>"
    client.post(f"/pipeline/deals/{deal.id}/edit", data=_edit_form(
        deal, stage_id=str(stages["Lost"].id), lost_reason=reason))
    db.session.expire_all()
    assert db.session.get(Deal, deal.id).lost_reason == reason
    body = client.get(f"/pipeline/deals/{deal.id}").get_data(as_text=True)
    assert reason not in body and "&lt;b onmouseover=alert(1)&gt;price&lt;/b&gt;" in body


# --- The rules (models/pipeline.py) ------------------------------------------------------


def test_move_deal__sets_and_clears_won_at_and_lost_at(app, db, users, stages):
    """Does a move set won_at or lost_at, and a reopening clear them and the reason?"""
    rep = users["sales"]
    deal = make_deal(db, stages, owner=rep)
    move_deal(deal, stages["Won"], by=rep, version=deal.version)
    db.session.commit()
    assert deal.won_at is not None and deal.lost_at is None
    move_deal(deal, stages["Lost"], by=rep, version=deal.version, lost_reason="  Price  ")
    db.session.commit()
    assert deal.won_at is None and deal.lost_at is not None and deal.lost_reason == "Price"
    move_deal(deal, stages["Negotiation"], by=rep, version=deal.version)
    db.session.commit()
    assert deal.won_at is None and deal.lost_at is None and deal.lost_reason == ""
    assert db.session.get(Deal, deal.id).stage.outcome == "open"


def test_move_deal__records_a_stage_change(app, db, users, stages):
    """Is every move recorded with from, to, who and when?"""
    rep = users["sales"]
    deal = make_deal(db, stages, owner=rep)
    before = utcnow()
    move_deal(deal, stages["Proposal"], by=rep, version=deal.version)
    db.session.commit()
    change = db.session.scalars(select(StageChange).where(StageChange.deal_id == deal.id)
                                .order_by(StageChange.id.desc())).first()
    assert (change.from_stage_id, change.to_stage_id, change.by_id) == (
        stages["Qualified"].id, stages["Proposal"].id, rep.id)
    assert as_utc(change.at) >= before
    assert as_utc(deal.stage_entered_at) == as_utc(change.at)


def test_move_deal__to_the_same_stage_records_nothing(app, db, users, stages):
    """Is a move to the stage the deal is already in a no-op?"""
    rep = users["sales"]
    deal = make_deal(db, stages, owner=rep)
    move_deal(deal, stages["Qualified"], by=rep, version=deal.version)
    db.session.commit()
    assert count_rows(db, StageChange) == 1


def test_move_deal__follow_up_task_only_when_the_stage_has_followup_days(app, db, users,
                                                                          stages):
    """Is a follow-up task made only for stages with follow-up days, due N days later,
    for the owner?"""
    rep = users["sales"]
    deal = make_deal(db, stages, title="Chase", owner=rep, stage="Lead")  # Lead: no follow-up
    assert count_rows(db, Activity) == 0
    before = utcnow()
    move_deal(deal, stages["Proposal"], by=users["admin"], version=deal.version)  # 7 days
    db.session.commit()
    after = utcnow()
    task = db.session.scalar(select(Activity))
    assert (task.kind, task.assignee_id, task.deal_id, task.customer_id) == (
        "task", rep.id, deal.id, deal.customer_id)
    assert before + timedelta(days=7) <= as_utc(task.due_at) <= after + timedelta(days=7)
    move_deal(deal, stages["Won"], by=rep, version=deal.version)  # Won: no follow-up
    db.session.commit()
    assert count_rows(db, Activity) == 1


def test_move_deal__no_follow_up_without_an_owner(app, db, users, stages):
    """Is no task made for an unassigned deal (nobody to give it to)?"""
    deal = make_deal(db, stages, owner=None, stage="Lead")
    move_deal(deal, stages["Proposal"], by=users["sales"], version=deal.version)
    db.session.commit()
    assert count_rows(db, Activity) == 0


def test_move_deal__refuses_lost_without_reason_stale_version_and_strangers(app, db, users,
                                                                            stages):
    """Does move_deal refuse Lost without a reason, a stale version and another rep?"""
    deal = make_deal(db, stages, owner=users["admin"])
    with pytest.raises(NotAllowed):
        move_deal(deal, stages["Proposal"], by=users["sales"], version=deal.version)
    with pytest.raises(Conflict):
        move_deal(deal, stages["Proposal"], by=users["admin"], version=deal.version - 1)
    with pytest.raises(DomainError) as refused:
        move_deal(deal, stages["Lost"], by=users["admin"], version=deal.version, lost_reason=" ")
    assert refused.value.field == "lost_reason"


@pytest.mark.parametrize("amount,probability,weighted", [
    ("0.01", 50, "0.01"),      # 0.005 rounds half-up
    ("0.03", 50, "0.02"),      # 0.015 -> 0.02
    ("10.05", 50, "5.03"),     # 5.025 -> 5.03
    ("0.01", 49, "0.00"),      # 0.0049 -> 0.00
    ("1000.00", 0, "0.00"),
    ("1000.00", 100, "1000.00"),
    ("33.33", 33, "11.00"),    # 10.9989 -> 11.00
])
def test_weighted_amount__rounds_half_up_to_the_cent(app, db, users, stages, amount,
                                                     probability, weighted):
    """Is the weighted amount amount x probability, rounded half-up to the cent?"""
    deal = make_deal(db, stages, amount=amount, probability_override=probability)
    assert deal.weighted_amount == Decimal(weighted)


def test_weighted_amount__uses_the_stage_probability_without_override(app, db, users, stages):
    """Without an override, is the stage's probability used?"""
    deal = make_deal(db, stages, amount="200.00", stage="Proposal")
    assert deal.probability == 50 and deal.weighted_amount == Decimal("100.00")


def test_may_change_deal__admin_any_rep_own_or_unassigned(app, db, users, stages):
    """May admins change any deal, reps their own and unassigned ones, others none?"""
    rep, admin = users["sales"], users["admin"]
    own = make_deal(db, stages, owner=rep)
    unassigned = make_deal(db, stages, owner=None)
    admins = make_deal(db, stages, owner=admin)
    assert may_change_deal(admin, own) and may_change_deal(admin, admins)
    assert may_change_deal(rep, own) and may_change_deal(rep, unassigned)
    assert not may_change_deal(rep, admins)
    for role in ("finance", "operations"):
        assert not any(may_change_deal(users[role], d) for d in (own, unassigned, admins))


def test_create_deal__refuses_bad_probability_and_lost_stage(app, db, users, stages):
    """Does create_deal refuse a probability outside 0-100 and a start in Lost?"""
    customer = make_customer()
    with pytest.raises(DomainError) as refused:
        create_deal(customer=customer, title="X", owner=None, stage=stages["Lead"],
                    amount=Decimal("1"), probability_override=101)
    assert refused.value.field == "probability_override"
    with pytest.raises(DomainError) as refused:
        create_deal(customer=customer, title="X", owner=None, stage=stages["Lost"],
                    amount=Decimal("1"))
    assert refused.value.field == "stage_id"


def test_update_deal__a_rep_reassigning_and_moving_gives_the_task_to_the_new_owner(
        app, db, users, stages):
    """When an edit changes both owner and stage, does the follow-up go to the new owner?"""
    rep, admin = users["sales"], users["admin"]
    deal = make_deal(db, stages, owner=rep, stage="Lead")
    update_deal(deal, by=rep, version=deal.version, customer=deal.customer, title=deal.title,
                owner=admin, stage=stages["Proposal"], amount=deal.amount)
    db.session.commit()
    task = db.session.scalar(select(Activity))
    assert task.assignee_id == admin.id
    assert deal.stage_id == stages["Proposal"].id and deal.owner_id == admin.id


def test_pages__carry_no_inline_script_or_style(client, login, db, users, stages):
    """Do the board, deal, deal form and stages pages carry no inline script, style or handler?"""
    me = login("admin")
    deal = make_deal(db, stages, owner=me)
    for url in ("/pipeline/", f"/pipeline/deals/{deal.id}", f"/pipeline/deals/{deal.id}/edit",
                "/pipeline/deals/new", "/pipeline/stages"):
        response = client.get(url)
        body = response.get_data(as_text=True)
        assert response.status_code == 200, url
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", body), url
        assert " style=" not in body and not re.search(r"\son[a-z]+=", body), url
