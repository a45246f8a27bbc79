"""Pipeline stages (admin): load the standard set, edit name, order, probability and
follow-up days, add open stages; always exactly one won and one lost stage; a stage
deals are in (or passed through) is never removed."""

import re
from decimal import Decimal

import pytest
from sqlalchemy import select

from models import Deal, Stage
from models.errors import DomainError
from models.pipeline import (
    DEMO_STAGES,
    add_stage,
    create_deal,
    delete_stage,
    move_deal,
    update_stage,
)
from tests.helpers import business_rows, count_rows, make_customer


def _stage_form(stage, **overrides) -> dict:
    prefix = f"s{stage.id}-"
    data = {"stage_id": str(stage.id), prefix + "version": str(stage.version),
            prefix + "name": stage.name, prefix + "position": str(stage.position),
            prefix + "probability": str(stage.probability),
            prefix + "followup_days": "" if stage.followup_days is None
            else str(stage.followup_days)}
    data.update({prefix + k: v for k, v in overrides.items()})
    return data


def _new_stage_form(**overrides) -> dict:
    data = {"new-name": "Demo booked", "new-position": "2", "new-probability": "35",
            "new-followup_days": "2"}
    data.update({"new-" + k: v for k, v in overrides.items()})
    return data


def test_stages__empty_offers_the_standard_stages(client, login, db, users):
    """With no stages, does the page offer "Load the standard stages", and does it load them?"""
    login("admin")
    body = client.get("/pipeline/stages").get_data(as_text=True)
    assert "Load the standard stages" in body
    response = client.post("/pipeline/stages/standard")
    assert response.status_code == 302
    names = [s.name for s in Stage.ordered()]
    assert names == [name for name, *_ in DEMO_STAGES]
    body = client.get("/pipeline/stages").get_data(as_text=True)
    assert "Load the standard stages" not in body
    # a second press changes nothing
    client.post("/pipeline/stages/standard")
    assert count_rows(db, Stage) == len(DEMO_STAGES)


def test_stages__lists_each_stage_with_its_settings(client, login, db, users, stages):
    """Does the page list every stage with a form holding its settings?"""
    login("admin")
    body = client.get("/pipeline/stages").get_data(as_text=True)
    proposal = stages["Proposal"]
    assert re.search(rf'<input id="s{proposal.id}-name" [^>]*value="Proposal"', body)
    assert re.search(rf'<input [^>]*id="s{proposal.id}-followup_days"[^>]*value="7"', body)
    assert re.search(rf'<input id="s{proposal.id}-probability" [^>]*value="50"', body)
    assert "Add an open stage" in body


@pytest.mark.parametrize("role", ["sales", "finance", "operations"])
def test_stages__admin_only(client, login, db, users, stages, role):
    """Is the stages admin refused to every role but admin?"""
    login(role)
    assert client.get("/pipeline/stages").status_code == 403
    assert client.post("/pipeline/stages/save", data=_stage_form(stages["Lead"])).status_code \
        == 403


def test_stage_edit__saves_name_position_probability_and_followup(client, login, db, users,
                                                                  stages):
    """Does saving a stage change its name, position, probability and follow-up days?"""
    login("admin")
    lead = stages["Lead"]
    response = client.post("/pipeline/stages/save", data=_stage_form(
        lead, name="Inbound lead", position="9", probability="15", followup_days="1"))
    assert response.status_code == 302
    db.session.expire_all()
    saved = db.session.get(Stage, lead.id)
    assert (saved.name, saved.position, saved.probability, saved.followup_days) == (
        "Inbound lead", 9, 15, 1)
    assert [s.name for s in Stage.ordered() if s.is_open][-1] == "Inbound lead"
    response = client.post("/pipeline/stages/save", data=_stage_form(saved, followup_days=""))
    db.session.expire_all()
    assert db.session.get(Stage, lead.id).followup_days is None


def test_stage_edit__new_followup_days_give_tasks_on_entering(client, login, db, users, stages):
    """After setting follow-up days on a stage, does entering it give the owner a task?"""
    from models import Activity

    login("admin")
    client.post("/pipeline/stages/save", data=_stage_form(stages["Negotiation"], followup_days="10"))
    deal = create_deal(customer=make_customer(), title="T", owner=users["sales"],
                       stage=stages["Lead"], amount=Decimal("1"))
    db.session.commit()
    move_deal(deal, db.session.get(Stage, stages["Negotiation"].id), by=users["admin"],
              version=deal.version)
    db.session.commit()
    task = db.session.scalar(select(Activity))
    assert task.assignee_id == users["sales"].id and task.body == "Entered Negotiation."


@pytest.mark.parametrize("field,value,message", [
    ("name", "", "Enter a name."),
    ("name", "n" * 61, "Use at most 60 characters."),
    ("name", "qualified", "Another stage has this name."),
    ("position", "-1", "Enter a position from 0 to 1000."),
    ("position", "first", "Enter a whole number."),
    ("probability", "101", "Enter a probability from 0 to 100."),
    ("probability", "-1", "Enter a probability from 0 to 100."),
    ("probability", "", "Enter a probability."),
    ("followup_days", "366", "Enter 0 to 365 days."),
    ("followup_days", "-2", "Enter 0 to 365 days."),
    ("followup_days", "soon", "Enter a whole number of days."),
])
def test_stage_edit__bad_input_is_422_and_writes_nothing(client, login, db, users, stages,
                                                         field, value, message):
    """Is bad stage input refused (422) beside its field, nothing written?"""
    login("admin")
    before = business_rows(db)
    response = client.post("/pipeline/stages/save",
                           data=_stage_form(stages["Lead"], **{field: value}))
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert business_rows(db) == before


def test_stage_edit__stale_version_is_409(client, login, db, users, stages):
    """Is a stage save based on an old version refused (409), nothing written?"""
    login("admin")
    lead = stages["Lead"]
    form = _stage_form(lead, name="Mine")
    lead.probability = 11
    db.session.commit()
    before = business_rows(db)
    response = client.post("/pipeline/stages/save", data=form)
    assert response.status_code == 409
    assert "after you opened it" in response.get_data(as_text=True)
    assert business_rows(db) == before


@pytest.mark.parametrize("stage_id", ["999", "abc", ""])
def test_stage_edit__unknown_stage_is_404(client, login, db, users, stages, stage_id):
    """Is a save of a stage that does not exist a 404?"""
    login("admin")
    response = client.post("/pipeline/stages/save", data={"stage_id": stage_id})
    assert response.status_code == 404


def test_stage_add__adds_an_open_stage(client, login, db, users, stages):
    """Does "Add stage" add an open stage that becomes a board column?"""
    login("admin")
    response = client.post("/pipeline/stages/add", data=_new_stage_form())
    assert response.status_code == 302
    added = db.session.scalar(select(Stage).where(Stage.name == "Demo booked"))
    assert (added.outcome, added.position, added.probability, added.followup_days) == (
        "open", 2, 35, 2)
    assert "Demo booked" in client.get("/pipeline/?owner=all").get_data(as_text=True)


@pytest.mark.parametrize("field,value,message", [
    ("name", "Won", "Another stage has this name."),
    ("name", "<b>x</b>" * 10, "Use at most 60 characters."),
    ("probability", "150", "Enter a probability from 0 to 100."),
    ("position", "", "Enter a position."),
])
def test_stage_add__bad_input_is_422(client, login, db, users, stages, field, value, message):
    """Is a new stage with bad input refused (422), nothing written?"""
    login("admin")
    before = business_rows(db)
    response = client.post("/pipeline/stages/add", data=_new_stage_form(**{field: value}))
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert business_rows(db) == before


def test_stage_add__html_in_the_name_is_escaped(client, login, db, users, stages):
    """Is HTML in a stage name stored as typed and shown escaped on the board and admin?"""
    login("admin")
    client.post("/pipeline/stages/add", data=_new_stage_form(name="<i>Pilot</i>"))
    assert db.session.scalar(select(Stage).where(Stage.name == "<i>Pilot</i>")) is not None
    for url in ("/pipeline/stages", "/pipeline/"):
        body = client.get(url).get_data(as_text=True)
        assert "<i>Pilot</i>" not in body and "&lt;i&gt;Pilot&lt;/i&gt;" in body


def test_stage_delete__removes_an_unused_open_stage(client, login, db, users, stages):
    """Can an admin remove an open stage no deal is in or passed through?"""
    login("admin")
    response = client.post("/pipeline/stages/delete", data={"stage_id": stages["Negotiation"].id})
    assert response.status_code == 302
    assert db.session.scalar(select(Stage).where(Stage.name == "Negotiation")) is None


def test_stage_delete__a_stage_with_deals_is_refused(client, login, db, users, stages):
    """Is removing a stage deals are in refused with a message, nothing written, and not
    even offered?"""
    create_deal(customer=make_customer(), title="Here", owner=None, stage=stages["Proposal"],
                amount=Decimal("5"))
    db.session.commit()
    login("admin")
    body = client.get("/pipeline/stages").get_data(as_text=True)
    assert "Remove<span class=\"visually-hidden\"> Proposal" not in body
    assert "Remove<span class=\"visually-hidden\"> Lead" in body
    before = business_rows(db)
    response = client.post("/pipeline/stages/delete", data={"stage_id": stages["Proposal"].id})
    assert response.status_code == 422
    assert "Deals are in Proposal" in response.get_data(as_text=True)
    assert business_rows(db) == before


@pytest.mark.parametrize("outcome", ["Won", "Lost"])
def test_stage_delete__won_and_lost_are_never_removed(client, login, db, users, stages, outcome):
    """Is removing the won or the lost stage refused (there must be exactly one)?"""
    login("admin")
    before = business_rows(db)
    response = client.post("/pipeline/stages/delete", data={"stage_id": stages[outcome].id})
    assert response.status_code == 422
    assert "cannot be removed" in response.get_data(as_text=True)
    assert business_rows(db) == before


def test_delete_stage__refuses_a_stage_deals_passed_through(app, db, users, stages):
    """Is a stage that only the history mentions kept (the reports count those moves)?"""
    deal = create_deal(customer=make_customer(), title="Passing", owner=None,
                       stage=stages["Lead"], amount=Decimal("5"))
    db.session.commit()
    move_deal(deal, stages["Proposal"], by=users["admin"], version=deal.version)
    db.session.commit()
    with pytest.raises(DomainError, match="passed through Lead"):
        delete_stage(stages["Lead"])


def test_update_stage__keeps_exactly_one_won_and_one_lost(app, db, users, stages):
    """Is any outcome change that leaves other than one won and one lost stage refused?"""
    won, lead = stages["Won"], stages["Lead"]
    with pytest.raises(DomainError, match="exactly one won stage"):
        update_stage(won, version=won.version, name=won.name, position=won.position,
                     probability=won.probability, followup_days=None, outcome="open")
    db.session.rollback()
    with pytest.raises(DomainError, match="exactly one won stage"):
        update_stage(lead, version=lead.version, name=lead.name, position=lead.position,
                     probability=lead.probability, followup_days=None, outcome="won")
    db.session.rollback()
    assert sorted(s.outcome for s in Stage.ordered() if not s.is_open) == ["lost", "won"]


def test_update_stage__outcome_of_a_stage_with_deals_never_changes(app, db, users, stages):
    """Is the outcome of a stage that deals are in never changed?"""
    create_deal(customer=make_customer(), title="In it", owner=None, stage=stages["Lead"],
                amount=Decimal("1"))
    db.session.commit()
    lead = stages["Lead"]
    with pytest.raises(DomainError, match="Deals are in this stage"):
        update_stage(lead, version=lead.version, name=lead.name, position=0, probability=10,
                     followup_days=None, outcome="lost")


def test_add_stage__is_always_open(app, db, users, stages):
    """Does add_stage make an open stage, never a second won or lost one?"""
    stage = add_stage(name="Trial", position=5, probability=60, followup_days=None)
    assert stage.outcome == "open"
    assert count_rows(db, Deal) == 0
