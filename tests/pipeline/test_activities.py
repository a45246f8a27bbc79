"""Activities: logging each kind from the timeline with sensible defaults, refusing bad
input, ticking follow-ups off (only one's own), the follow-ups list by date, the stage
follow-up rule, and "last contacted"."""

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from models import Activity, Contact
from models.activities import followups, last_contacted, log_activity
from models.pipeline import create_deal, ensure_stages, move_deal
from models.users import as_utc, utcnow
from tests.helpers import count_rows, make_customer, snapshot, walk_show_more


def _customer_with_contact(db, name="Harbour Lights", contact="Pat Quinn"):
    customer = make_customer(name=name)
    db.session.add(Contact(customer=customer, name=contact, is_primary=True))
    db.session.commit()
    return customer


def _form(customer, **overrides):
    """What the log-an-activity form posts for a plain call."""
    data = {"customer_id": str(customer.id), "deal_id": "", "next": f"/accounts/{customer.id}",
            "kind": "call", "subject": "Call with Pat", "body": "", "contact_id": "",
            "due_date": "", "due_time": "", "assignee_id": "", "done": "y"}
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def _task(db, customer, user, *, due_at, subject="Send the price list", done=False,
          kind="task", deal=None, done_at=None):
    activity = Activity(kind=kind, subject=subject, customer_id=customer.id,
                        assignee_id=user.id if user else None, due_at=due_at, done=done,
                        done_at=(done_at or utcnow()) if done else None,
                        deal_id=deal.id if deal else None)
    db.session.add(activity)
    db.session.commit()
    return activity


def _deal(db, customer, owner, title="Harbour lighting refit"):
    stages = ensure_stages()
    deal = create_deal(customer=customer, title=title, owner=owner, stage=stages[0],
                       amount=Decimal("1200.00"), by=owner)
    db.session.commit()
    return deal


def _group_subjects(body: str, group: str) -> list[str]:
    match = re.search(rf'<section id="group-{group}".*?</section>', body, re.S)
    assert match, f"no {group} group"
    return re.findall(r'class="activity-subject">([^<]*)<', match.group(0))


# --- Opening the form ----------------------------------------------------------------------


def test_new_form__call_subject_names_the_primary_contact(client, login, db, users):
    """Does "Log a call" open the form in the timeline with "Call with <primary contact>",
    done ticked and me as the assignee?"""
    customer = _customer_with_contact(db)
    login("sales")
    response = client.htmx("get", f"/pipeline/activities/new?customer_id={customer.id}&kind=call")
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<html" not in body and body.lstrip().startswith("<section id=\"timeline\"")
    assert 'value="Call with Pat Quinn"' in body
    assert re.search(r'<input checked id="activity-done"|<input[^>]*id="activity-done"[^>]*checked', body)
    assert re.search(rf'<option selected value="{users["sales"].id}">|'
                     rf'<option value="{users["sales"].id}" selected>', body)
    contact = customer.contacts[0]
    assert re.search(rf'<option selected value="{contact.id}">', body)


@pytest.mark.parametrize("kind,subject,done", [
    ("email", "Email to Harbour Lights", True),
    ("meeting", "Meeting with Harbour Lights", True),
    ("note", "Note on Harbour Lights", True),
    ("task", "Follow up with Harbour Lights", False),
])
def test_new_form__defaults_per_kind_without_a_primary_contact(client, login, db, kind,
                                                                 subject, done):
    """Without a primary contact, is the subject about the customer, and is only a task
    left not done?"""
    customer = make_customer(name="Harbour Lights")
    login("sales")
    body = client.htmx("get", f"/pipeline/activities/new?customer_id={customer.id}&kind={kind}"
                       ).get_data(as_text=True)
    assert f'value="{subject}"' in body
    checked = re.search(r'<input[^>]*id="activity-done"[^>]*>', body).group(0)
    assert ("checked" in checked) is done


def test_new_form__without_javascript_is_a_full_page(client, login, db):
    """Does the same link without htmx give a whole page with the form and a way back?"""
    customer = make_customer(name="Harbour Lights")
    login("sales")
    response = client.get(f"/pipeline/activities/new?customer_id={customer.id}&kind=note"
                          f"&next=/accounts/{customer.id}")
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<html" in body and 'action="/pipeline/activities"' in body
    assert re.search(rf'name="next" type="hidden" value="/accounts/{customer.id}"', body)


@pytest.mark.parametrize("query,status", [
    ("", 400), ("customer_id=abc", 400), ("customer_id=%C2%B2", 400), ("customer_id=999", 404),
    ("customer_id={c}&kind=fax", 400), ("customer_id={c}&deal_id=x", 400),
    ("customer_id={c}&deal_id=999", 404), ("customer_id={c}&deal_id={other_deal}", 404),
])
def test_new_form__bad_addresses_are_4xx(client, login, db, users, query, status):
    """Is a missing, malformed or unknown customer, kind or deal a 400/404, never a 500?"""
    customer = make_customer()
    other_deal = _deal(db, make_customer(), users["sales"])
    login("sales")
    url = "/pipeline/activities/new?" + query.format(c=customer.id, other_deal=other_deal.id)
    assert client.get(url).status_code == status


# --- Logging -----------------------------------------------------------------------------


@pytest.mark.parametrize("kind,done", [("call", True), ("email", True), ("meeting", True),
                                       ("note", True), ("task", False)])
def test_create__each_kind_lands_on_the_timeline(client, login, db, users, kind, done):
    """Does saving each kind create it for me (done unless a task) and answer with the
    timeline showing it?"""
    customer = _customer_with_contact(db)
    me = login("sales")
    data = _form(customer, kind=kind, subject=f"A {kind} about lamps",
                 assignee_id=str(me.id), done="y" if done else None,
                 contact_id=str(customer.contacts[0].id))
    response = client.htmx("post", "/pipeline/activities", data=data)
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert body.lstrip().startswith('<section id="timeline"') and "<html" not in body
    assert f"A {kind} about lamps" in body and "with Pat Quinn" in body
    activity = db.session.scalar(select(Activity))
    assert (activity.kind, activity.subject, activity.done) == (kind, f"A {kind} about lamps",
                                                                 done)
    assert activity.assignee_id == activity.created_by_id == me.id
    assert activity.customer_id == customer.id and activity.deal_id is None
    assert activity.contact_id == customer.contacts[0].id
    assert (activity.done_at is not None) is done
    assert activity.due_at is None


def test_create__two_taps_log_a_call_with_the_forms_own_values(client, login, db, users):
    """Does posting the form exactly as it opened (the "two taps") log a done call with
    the primary contact for me?"""
    customer = _customer_with_contact(db)
    me = login("sales")
    page = client.htmx("get", f"/pipeline/activities/new?customer_id={customer.id}&kind=call"
                       ).get_data(as_text=True)
    data = {}
    for name, value in re.findall(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', page):
        data.setdefault(name, value)
    for name, value in re.findall(r'<input[^>]*value="([^"]*)"[^>]*name="([^"]+)"', page):
        data.setdefault(value, name)
    data["done"] = "y"
    data["kind"] = "call"
    data["contact_id"] = str(customer.contacts[0].id)
    data["assignee_id"] = str(me.id)
    data.pop("csrf_token", None)
    response = client.htmx("post", "/pipeline/activities", data=data)
    assert response.status_code == 200, response.get_data(as_text=True)
    activity = db.session.scalar(select(Activity))
    assert activity.subject == "Call with Pat Quinn" and activity.done
    assert activity.contact_id == customer.contacts[0].id and activity.assignee_id == me.id


def test_create__without_javascript_goes_back_to_next(client, login, db):
    """Without htmx, does a save redirect to the page it came from?"""
    customer = make_customer()
    login("sales")
    response = client.post("/pipeline/activities", data=_form(customer))
    assert response.status_code == 302
    assert response.headers["Location"] == f"/accounts/{customer.id}"
    assert count_rows(db, Activity) == 1


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x",
                                    "javascript:alert(1)", "/\\evil.example"])
def test_create__next_cannot_leave_the_site(client, login, db, target):
    """Is a `next` pointing off-site replaced by the customer page?"""
    customer = make_customer()
    login("sales")
    response = client.post("/pipeline/activities", data=_form(customer, next=target))
    assert response.status_code == 302
    assert response.headers["Location"] == f"/accounts/{customer.id}"


def test_create__a_task_with_a_date_and_time_is_due_then(client, login, db, users):
    """Is a task's date and time (UTC) its due time, and a date alone 09:00?"""
    customer = make_customer()
    login("sales")
    client.post("/pipeline/activities", data=_form(
        customer, kind="task", subject="Send quote", due_date="2030-05-17", due_time="14:30",
        assignee_id=str(users["admin"].id), done=None))
    client.post("/pipeline/activities", data=_form(
        customer, kind="task", subject="Call back", due_date="2030-05-18", done=None))
    tasks = {a.subject: a for a in db.session.scalars(select(Activity))}
    assert as_utc(tasks["Send quote"].due_at) == datetime(2030, 5, 17, 14, 30, tzinfo=UTC)
    assert tasks["Send quote"].assignee_id == users["admin"].id
    assert not tasks["Send quote"].done and tasks["Send quote"].done_at is None
    assert as_utc(tasks["Call back"].due_at) == datetime(2030, 5, 18, 9, 0, tzinfo=UTC)
    assert tasks["Call back"].assignee_id is None


def test_create__a_done_call_on_a_date_happened_then(client, login, db):
    """Is a done call logged for yesterday recorded as having happened yesterday?"""
    customer = make_customer()
    login("sales")
    yesterday = (utcnow() - timedelta(days=1)).date().isoformat()
    client.post("/pipeline/activities", data=_form(customer, due_date=yesterday,
                                                   due_time="10:15"))
    activity = db.session.scalar(select(Activity))
    assert as_utc(activity.done_at) == datetime.fromisoformat(f"{yesterday}T10:15+00:00")
    assert activity.due_at is None


@pytest.mark.parametrize("overrides,field_id,message", [
    ({"subject": ""}, "subject", "Enter a subject."),
    ({"subject": "   "}, "subject", "Enter a subject."),
    ({"subject": "x" * 10_000}, "subject", "Use at most 200 characters."),
    ({"subject": "Call\x00me"}, "subject", "Remove the invisible control characters."),
    ({"body": "y" * 10_001}, "body", "Use at most 10,000 characters."),
    ({"due_date": "2025-13-40"}, "due_date", "Enter a date like 2025-03-31."),
    ({"due_date": "tomorrow"}, "due_date", "Enter a date like 2025-03-31."),
    ({"due_date": "1899-01-01"}, "due_date", "Enter a date between 2000 and 2100."),
    ({"due_date": "2030-01-01", "due_time": "25:99"}, "due_time", "Enter a time like 14:30."),
    ({"due_time": "10:00"}, "due_time", "Enter the date too."),
    ({"kind": "fax"}, "kind", "Not a valid choice."),
    ({"assignee_id": "99999"}, "assignee_id", "Not a valid choice."),
    ({"due_date": "2099-01-01"}, "due_date", "cannot be in the future"),
])
def test_create__bad_input_is_422_with_the_message_and_nothing_saved(
        client, login, db, overrides, field_id, message):
    """Is each kind of bad input answered 422, the message beside its field, the input kept
    and nothing written?"""
    customer = make_customer()
    login("sales")
    before = snapshot(db)
    data = _form(customer, **({"subject": "Kept subject"} | overrides))
    response = client.htmx("post", "/pipeline/activities", data=data)
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    error_id = "activity-" + field_id.replace("_", "-") + "-error"
    error = re.search(rf'<p class="error" id="{error_id}">([^<]*)</p>', body)
    assert error and message in error.group(1), body
    if "subject" not in overrides:
        assert 'value="Kept subject"' in body
    assert body.lstrip().startswith('<section id="timeline"')
    assert snapshot(db) == before


def test_create__bad_input_without_javascript_is_a_422_page(client, login, db):
    """Without htmx, is bad input a full 422 page with the form?"""
    customer = make_customer()
    login("sales")
    response = client.post("/pipeline/activities", data=_form(customer, subject=""))
    assert response.status_code == 422
    assert "<html" in response.get_data(as_text=True)
    assert count_rows(db, Activity) == 0


def test_create__a_contact_of_another_customer_is_refused(client, login, db):
    """Is a contact who works for another customer refused (422) and nothing saved?"""
    customer = _customer_with_contact(db, name="Ours", contact="Our Pat")
    other = _customer_with_contact(db, name="Theirs", contact="Their Sam")
    login("sales")
    response = client.htmx("post", "/pipeline/activities",
                           data=_form(customer, contact_id=str(other.contacts[0].id)))
    assert response.status_code == 422
    assert 'id="activity-contact-id-error"' in response.get_data(as_text=True)
    assert count_rows(db, Activity) == 0


def test_log_activity__refuses_a_contact_or_deal_of_another_customer(app, db, users):
    """Does the rule itself refuse another customer's contact or deal?"""
    from models.errors import DomainError

    customer = make_customer()
    other = _customer_with_contact(db)
    with pytest.raises(DomainError, match="contact"):
        log_activity(kind="call", subject="x", customer=customer, by=users["sales"],
                     contact=other.contacts[0])
    other_deal = _deal(db, other, users["sales"])
    with pytest.raises(DomainError, match="deal"):
        log_activity(kind="call", subject="x", customer=customer, by=users["sales"],
                     deal=other_deal)


@pytest.mark.parametrize("deal_id,status", [("999", 404), ("abc", 400), ("other", 404)])
def test_create__a_deal_that_is_not_the_customers_is_refused(client, login, db, users,
                                                             deal_id, status):
    """Is an unknown, malformed or other customer's deal refused without writing?"""
    customer = make_customer()
    other_deal = _deal(db, make_customer(), users["sales"])
    login("sales")
    before = snapshot(db)
    deal_id = str(other_deal.id) if deal_id == "other" else deal_id
    response = client.post("/pipeline/activities", data=_form(customer, deal_id=deal_id))
    assert response.status_code == status
    assert snapshot(db) == before


@pytest.mark.parametrize("data,status", [({}, 400), ({"customer_id": "999"}, 404)])
def test_create__without_a_customer_is_4xx(client, login, db, data, status):
    """Is a post naming no customer, or an unknown one, a 400/404?"""
    login("sales")
    assert client.post("/pipeline/activities", data=data).status_code == status


def test_create__user_text_is_escaped(client, login, db):
    """Is markup typed into the subject and notes shown as text, never run?"""
    customer = make_customer()
    login("sales")
    response = client.htmx("post", "/pipeline/activities", data=_form(
        customer, subject="<script>alert(1)</script>", body="<b>bold</b> & co"))
    body = response.get_data(as_text=True)
    assert "<script>alert(1)</script>" not in body and "<b>bold</b>" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; co" in body


@pytest.mark.parametrize("role", ["admin", "sales", "finance", "operations"])
def test_create__every_role_may_log(client, login, db, role):
    """May every role log an activity (everyone talks to customers)?"""
    customer = make_customer()
    login(role)
    response = client.post("/pipeline/activities", data=_form(customer, kind="note",
                                                              subject="Spoke at reception"))
    assert response.status_code == 302
    assert db.session.scalar(select(Activity.subject)) == "Spoke at reception"


def test_create__on_a_deal_links_it_and_answers_with_the_deals_timeline(client, login, db,
                                                                        users):
    """Is an activity logged from a deal linked to it, and does the deal's timeline come
    back without the customer's other activities?"""
    customer = make_customer()
    deal = _deal(db, customer, users["sales"])
    _task(db, customer, users["sales"], due_at=None, subject="Unrelated to the deal",
          kind="note")
    login("sales")
    response = client.htmx("post", "/pipeline/activities",
                           data=_form(customer, deal_id=str(deal.id), subject="Deal call"))
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Deal call" in body and "Unrelated to the deal" not in body
    activity = db.session.scalar(select(Activity).where(Activity.subject == "Deal call"))
    assert activity.deal_id == deal.id
    assert f"deal_id={deal.id}" in body  # the buttons keep logging on this deal


def test_customer_timeline__links_the_deal_an_activity_is_about(client, login, db, users):
    """On the customer's timeline, does an activity about a deal name that deal?"""
    customer = make_customer()
    deal = _deal(db, customer, users["sales"], title="Lamp refit")
    login("sales")
    client.post("/pipeline/activities", data=_form(customer, deal_id=str(deal.id)))
    body = client.htmx("get", f"/pipeline/activities/timeline?customer_id={customer.id}"
                       ).get_data(as_text=True)
    assert "deal" in body and "Lamp refit" in body


def test_timeline_section__full_page_without_htmx_and_404_for_unknown(client, login, db):
    """Is the timeline on its own a full page, and an unknown customer a 404?"""
    customer = make_customer(name="Timeline Co")
    login("finance")
    response = client.get(f"/pipeline/activities/timeline?customer_id={customer.id}")
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert "<html" in body and "Activities: Timeline Co" in body and "No activities yet" in body
    assert client.get("/pipeline/activities/timeline?customer_id=999").status_code == 404


# --- Ticking off -------------------------------------------------------------------------


def test_toggle__my_task_is_ticked_in_place(client, login, db, users):
    """Does ticking my task done answer with its row (done, with Undo) and record when?"""
    customer = make_customer()
    task = _task(db, customer, users["sales"], due_at=utcnow())
    login("sales")
    response = client.htmx("post", f"/pipeline/activities/{task.id}/toggle",
                           data={"done": "1", "view": "row", "next": "/pipeline/activities"})
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert body.lstrip().startswith(f'<li id="followup-{task.id}"') and "<html" not in body
    assert "Undo" in body and 'class="badge ok">Done<' in body
    db.session.expire_all()
    task = db.session.get(Activity, task.id)
    assert task.done and task.done_at is not None
    client.htmx("post", f"/pipeline/activities/{task.id}/toggle", data={"done": "0"})
    db.session.expire_all()
    task = db.session.get(Activity, task.id)
    assert not task.done and task.done_at is None


def test_toggle__the_same_state_twice_changes_nothing(client, login, db, users):
    """Does a double click on "Mark done" leave it done (no flip back)?"""
    task = _task(db, make_customer(), users["sales"], due_at=utcnow())
    login("sales")
    for _ in range(2):
        client.htmx("post", f"/pipeline/activities/{task.id}/toggle", data={"done": "1"})
    db.session.expire_all()
    assert db.session.get(Activity, task.id).done


def test_toggle__from_the_timeline_answers_with_the_timeline(client, login, db, users):
    """Does "Mark done" on the timeline answer with the timeline, the task now done?"""
    customer = make_customer()
    task = _task(db, customer, users["sales"], due_at=utcnow(), subject="Ring back")
    login("sales")
    response = client.htmx("post", f"/pipeline/activities/{task.id}/toggle",
                           data={"done": "1", "view": "timeline", "timeline_deal_id": ""})
    body = response.get_data(as_text=True)
    assert body.lstrip().startswith('<section id="timeline"')
    item = re.search(rf'<li id="activity-{task.id}".*?</li>', body, re.S).group(0)
    assert "Ring back" in item and 'class="badge ok">Done<' in item and "Mark done" not in item


def test_toggle__without_javascript_redirects_back(client, login, db, users):
    """Without htmx, does ticking off redirect to `next` (a local path only)?"""
    customer = make_customer()
    task = _task(db, customer, users["sales"], due_at=utcnow())
    login("sales")
    response = client.post(f"/pipeline/activities/{task.id}/toggle",
                           data={"done": "1", "next": f"/accounts/{customer.id}"})
    assert response.status_code == 302
    assert response.headers["Location"] == f"/accounts/{customer.id}"
    response = client.post(f"/pipeline/activities/{task.id}/toggle",
                           data={"done": "0", "next": "https://evil.example/"})
    assert response.headers["Location"] == "/pipeline/activities"


@pytest.mark.parametrize("role,assignee,allowed", [
    ("sales", "admin", False),       # someone else's
    ("finance", "sales", False),     # another role's
    ("operations", "sales", False),
    ("admin", "sales", True),        # admins may tick anyone's
    ("finance", "finance", True),    # one's own
    ("sales", None, True),           # unassigned: any sales rep
    ("finance", None, False),        # ...but not another role's
])
def test_toggle__only_the_assignee_or_an_admin(client, login, db, users, role, assignee,
                                               allowed):
    """May only the assignee, an admin, or (unassigned) a sales rep tick a task off; is
    anyone else refused with 403 and nothing written?"""
    task = _task(db, make_customer(), users[assignee] if assignee else None, due_at=utcnow())
    login(role)
    before = snapshot(db)
    response = client.htmx("post", f"/pipeline/activities/{task.id}/toggle",
                           data={"done": "1"})
    if allowed:
        assert response.status_code == 200
        db.session.expire_all()
        assert db.session.get(Activity, task.id).done
    else:
        assert response.status_code == 403
        assert snapshot(db) == before


@pytest.mark.parametrize("data,status", [
    ({"done": "yes"}, 400), ({}, 400), ({"done": "1", "view": "board"}, 400),
    ({"done": "1", "view": "timeline", "timeline_deal_id": "x"}, 400),
    ({"done": "1", "view": "timeline", "timeline_deal_id": "999"}, 404),
    ({"done": "1", "view": "timeline", "timeline_deal_id": "other"}, 404),
])
def test_toggle__bad_values_are_4xx(client, login, db, users, data, status):
    """Is a toggle with a junk state, view or deal a 400/404 that writes nothing?"""
    if data.get("timeline_deal_id") == "other":
        data = data | {"timeline_deal_id": str(_deal(db, make_customer(), users["sales"]).id)}
    task = _task(db, make_customer(), users["sales"], due_at=utcnow())
    login("sales")
    before = snapshot(db)
    response = client.htmx("post", f"/pipeline/activities/{task.id}/toggle", data=data)
    assert response.status_code == status
    assert snapshot(db) == before


def test_toggle__unknown_activity_is_404(client, login, db):
    """Is ticking off an activity that does not exist a 404?"""
    login("sales")
    assert client.post("/pipeline/activities/999/toggle", data={"done": "1"}).status_code == 404


# --- My follow-ups -----------------------------------------------------------------------

NOW = datetime(2030, 6, 15, 12, 0, tzinfo=UTC)


def test_followups__grouped_by_utc_date(app, db, users):
    """Are my open follow-ups grouped overdue / today / upcoming by their UTC date, with
    undated tasks apart and others' or done ones left out?"""
    customer = make_customer()
    me, other = users["sales"], users["admin"]
    _task(db, customer, me, due_at=datetime(2030, 6, 14, 23, 59, tzinfo=UTC), subject="late")
    _task(db, customer, me, due_at=datetime(2030, 6, 15, 0, 0, tzinfo=UTC), subject="dawn")
    _task(db, customer, me, due_at=datetime(2030, 6, 15, 23, 59, tzinfo=UTC), subject="dusk")
    _task(db, customer, me, due_at=datetime(2030, 6, 16, 0, 0, tzinfo=UTC), subject="next")
    _task(db, customer, me, due_at=datetime(2030, 6, 15, 9, 0, tzinfo=UTC), subject="meet",
          kind="meeting")
    _task(db, customer, me, due_at=None, subject="someday")
    _task(db, customer, me, due_at=datetime(2030, 6, 15, 9, 0, tzinfo=UTC), subject="ticked",
          done=True, done_at=NOW - timedelta(hours=2))
    _task(db, customer, me, due_at=datetime(2030, 6, 1, 9, 0, tzinfo=UTC), subject="long ago",
          done=True, done_at=NOW - timedelta(days=8))
    _task(db, customer, other, due_at=datetime(2030, 6, 15, 9, 0, tzinfo=UTC),
          subject="not mine")
    _task(db, customer, me, due_at=None, subject="logged call", kind="call", done=True,
          done_at=NOW - timedelta(hours=1))
    groups = {k: [a.subject for a in v.items] for k, v in followups(me, now=NOW).items()}
    assert groups["overdue"] == ["late"]
    assert groups["today"] == ["dawn", "meet", "dusk"]
    assert groups["upcoming"] == ["next"]
    assert groups["undated"] == ["someday"]
    assert groups["done"] == ["ticked"]
    assert not any("not mine" in v for v in groups.values())


def test_followups_page__a_long_group_lists_the_first_and_counts_them_all(
        client, login, db, users, monkeypatch):
    """With more overdue follow-ups than a group lists at first: are the oldest listed,
    does the count say how many there are, and is there a "Show more" link?"""
    monkeypatch.setattr("models.activities.FOLLOWUP_FIRST", 2)
    customer = make_customer()
    today = datetime.combine(utcnow().date(), datetime.min.time(), tzinfo=UTC)
    for days in (3, 1, 2):
        _task(db, customer, users["sales"], due_at=today - timedelta(days=days),
              subject=f"{days} days late")
    _task(db, customer, users["sales"], due_at=today + timedelta(days=1), subject="Soon")
    login("sales")
    body = client.get("/pipeline/activities").get_data(as_text=True)
    overdue = body.split('id="group-overdue"')[1].split("</section>")[0]
    assert "Overdue <span class=\"count muted\">(3)</span>" in overdue
    assert _group_subjects(body, "overdue") == ["3 days late", "2 days late"]
    assert "Show more" in overdue and "/pipeline/activities?group=overdue&amp;after=" in overdue
    upcoming = body.split('id="group-upcoming"')[1].split("</section>")[0]
    assert "(1)" in upcoming and "Show more" not in upcoming


def _more_link(html: str) -> str | None:
    match = re.search(r'class="followup-more"><a class="button small" href="([^"]+)"', html)
    return match.group(1).replace("&amp;", "&") if match else None


@pytest.mark.parametrize("group", ["overdue", "upcoming", "undated", "done"])
def test_followups_page__show_more_walks_a_group_to_its_end(client, login, db, users,
                                                           monkeypatch, group):
    """Does "Show more" (as htmx asks it) bring a group's next rows in its order, each
    once, with a link to the rest until there is none, whatever the group's sort
    (by due date, by creation, latest done first)? Tasks sharing a date keep their order
    by id, so none is skipped or repeated."""
    monkeypatch.setattr("models.activities.FOLLOWUP_FIRST", 2)
    monkeypatch.setattr("models.activities.FOLLOWUP_MORE", 3)
    me = users["sales"]
    customer = make_customer()
    now = utcnow()
    today = datetime.combine(now.date(), datetime.min.time(), tzinfo=UTC)
    expected = []
    for n in range(7):
        shared = n in (3, 4)  # two with the same time: the id decides
        offset = timedelta(hours=30 if shared else 24 * (n + 2))
        subject = f"{group} {n}"
        if group == "overdue":
            _task(db, customer, me, due_at=today - timedelta(days=30) + offset, subject=subject)
        elif group == "upcoming":
            _task(db, customer, me, due_at=today + timedelta(days=2) + offset, subject=subject)
        elif group == "undated":
            task = _task(db, customer, me, due_at=None, subject=subject)
            task.created_at = now - timedelta(days=30) + offset
        else:
            _task(db, customer, me, due_at=today, subject=subject, done=True,
                  done_at=now - timedelta(days=6) + offset)
        expected.append((offset, n, subject))  # n grows with the id
    db.session.commit()
    expected = [subject for _, _, subject in sorted(expected, reverse=group == "done")]
    login("sales")
    body = client.get("/pipeline/activities").get_data(as_text=True)
    seen = _group_subjects(body, group)
    more = _more_link(body.split(f'id="group-{group}"')[1].split("</section>")[0])
    rest, rounds = walk_show_more(
        client, more, lambda fragment: re.findall(r'class="activity-subject">([^<]*)<', fragment),
        _more_link, "<section")
    seen += rest
    assert seen == expected
    assert rounds == 2  # 2 first, then 3 and 2


def test_followups_page__show_more_without_js_is_a_page_of_that_group(client, login, db,
                                                                      users, monkeypatch):
    """Without htmx, does the "Show more" link open a page of that group's next rows,
    with the way back and a link to the rows after them?"""
    monkeypatch.setattr("models.activities.FOLLOWUP_FIRST", 1)
    monkeypatch.setattr("models.activities.FOLLOWUP_MORE", 1)
    customer = make_customer()
    today = datetime.combine(utcnow().date(), datetime.min.time(), tzinfo=UTC)
    for days in (1, 2, 3):
        _task(db, customer, users["sales"], due_at=today + timedelta(days=days),
              subject=f"In {days} days")
    login("sales")
    more = _more_link(client.get("/pipeline/activities").get_data(as_text=True))
    response = client.get(more)
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<h1>My follow-ups: Upcoming</h1>" in body
    assert re.findall(r'class="activity-subject">([^<]*)<', body) == ["In 2 days"]
    assert 'href="/pipeline/activities"' in body and _more_link(body)
    last = client.get(_more_link(body)).get_data(as_text=True)
    assert re.findall(r'class="activity-subject">([^<]*)<', last) == ["In 3 days"]
    assert _more_link(last) is None


@pytest.mark.parametrize("query", [
    "group=overdue",  # no cursor
    "after=abc",  # no group
    "group=overdue&after=not-a-cursor",
    "group=everything&after=WzEsMV0",  # a cursor, an unknown group
    "group=overdue&after=WyJ4IiwxXQ",  # a cursor whose key is not a time
    "group=overdue&after=WzEsMV0&user=1",
])
def test_followups_page__a_broken_show_more_link_is_a_400(client, login, db, query):
    """Is a "Show more" request with a missing, broken or tampered part a 400 that says
    so, for htmx and without?"""
    login("sales")
    for response in (client.get(f"/pipeline/activities?{query}"),
                     client.htmx("get", f"/pipeline/activities?{query}")):
        assert response.status_code == 400


def test_followups_page__groups_and_toggles(client, login, db, users):
    """Does the page list my overdue, today's and upcoming follow-ups, each with a done
    toggle, and leave out other people's?"""
    customer = make_customer(name="Follow Co")
    today = datetime.combine(utcnow().date(), datetime.min.time(), tzinfo=UTC)
    me = users["sales"]
    _task(db, customer, me, due_at=today - timedelta(hours=1), subject="Yesterday's task")
    mine = _task(db, customer, me, due_at=today + timedelta(minutes=1), subject="Today's task")
    _task(db, customer, me, due_at=today + timedelta(days=2), subject="Later task")
    _task(db, customer, users["admin"], due_at=today, subject="Admin's task")
    login("sales")
    body = client.get("/pipeline/activities").get_data(as_text=True)
    assert _group_subjects(body, "overdue") == ["Yesterday&#39;s task"]
    assert _group_subjects(body, "today") == ["Today&#39;s task"]
    assert _group_subjects(body, "upcoming") == ["Later task"]
    assert "Admin&#39;s task" not in body
    assert f'hx-post="/pipeline/activities/{mine.id}/toggle"' in body
    assert f'hx-target="#followup-{mine.id}"' in body
    assert "Follow Co" in body


def test_followups_page__says_when_empty(client, login, db):
    """With nothing to follow up, does each group say so?"""
    login("operations")
    body = client.get("/pipeline/activities").get_data(as_text=True)
    assert "Nothing overdue." in body and "Nothing due today." in body
    assert "Nothing planned after today." in body
    assert "Nothing ticked off in the last seven days." in body


def test_followups_page__takes_no_filters(client, login, db):
    """Is an unknown query parameter a 400?"""
    login("sales")
    assert client.get("/pipeline/activities?user=1").status_code == 400


def test_stage_followup__moving_a_deal_puts_a_task_on_the_owners_list(app, client, login,
                                                                       db, users):
    """Does moving a deal into a stage with followup_days=3 put a task due in three days on
    the owner's follow-ups?"""
    stages = {s.name: s for s in ensure_stages()}
    assert stages["Qualified"].followup_days == 3
    owner = users["sales"]
    deal = create_deal(customer=make_customer(name="Stage Co"), title="Lamps for the pier",
                       owner=owner, stage=stages["Lead"], amount=Decimal("500.00"), by=owner)
    db.session.commit()
    move_deal(deal, stages["Qualified"], by=owner, version=deal.version)
    db.session.commit()
    task = db.session.scalar(select(Activity).where(Activity.deal_id == deal.id))
    assert task.kind == "task" and task.assignee_id == owner.id and not task.done
    expected = (utcnow() + timedelta(days=3)).date()
    assert as_utc(task.due_at).date() == expected
    login("sales")
    body = client.get("/pipeline/activities").get_data(as_text=True)
    assert _group_subjects(body, "upcoming") == ["Follow up: Lamps for the pier"]
    assert expected.isoformat() in body
    admin = app.test_client()
    login("admin", admin)
    body = admin.get("/pipeline/activities").get_data(as_text=True)
    assert "Lamps for the pier" not in body


# --- Last contacted ----------------------------------------------------------------------


def test_last_contacted__latest_done_call_email_or_meeting(app, db, users):
    """Is "last contacted" the latest done call, email or meeting, ignoring tasks, notes
    and calls not yet made?"""
    a, b, c = make_customer(), make_customer(), make_customer()
    t1 = datetime(2030, 1, 10, 9, 0, tzinfo=UTC)
    t2 = datetime(2030, 2, 20, 9, 0, tzinfo=UTC)
    later = datetime(2030, 3, 1, 9, 0, tzinfo=UTC)
    db.session.add_all([
        Activity(kind="call", subject="x", customer_id=a.id, done=True, done_at=t1),
        Activity(kind="email", subject="x", customer_id=a.id, done=True, done_at=t2),
        Activity(kind="task", subject="x", customer_id=a.id, done=True, done_at=later),
        Activity(kind="note", subject="x", customer_id=a.id, done=True, done_at=later),
        Activity(kind="call", subject="x", customer_id=a.id, done=False, due_at=later),
        Activity(kind="meeting", subject="x", customer_id=b.id, done=True, done_at=t1),
        Activity(kind="task", subject="x", customer_id=c.id, done=True, done_at=later),
        Activity(kind="call", subject="x", customer_id=c.id, done=False, due_at=t1),
    ])
    db.session.commit()
    found = {k: as_utc(v) for k, v in last_contacted([a.id, b.id, c.id]).items()}
    assert found == {a.id: t2, b.id: t1}
    assert last_contacted([]) == {}


def test_last_contacted__a_logged_call_counts_from_now(client, login, db):
    """Does a call logged through the form count as contact today?"""
    customer = make_customer()
    login("sales")
    client.post("/pipeline/activities", data=_form(customer))
    found = as_utc(last_contacted([customer.id])[customer.id])
    assert abs(found - utcnow()) < timedelta(minutes=5)

