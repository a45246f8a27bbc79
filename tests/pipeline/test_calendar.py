"""The calendar feed: a secret address per user with their open tasks and meetings as
iCalendar, readable without signing in, replaced (and the old one dead) on request."""

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import icalendar
import pytest

from models import Activity, User
from models.activities import user_by_calendar_token
from models.pipeline import create_deal, ensure_stages
from tests.helpers import make_customer, snapshot

DUE = datetime(2030, 6, 17, 14, 30, tzinfo=UTC)


def _activity(db, customer, user, *, kind="task", subject="Send the price list", due_at=DUE,
              done=False, deal=None, body=""):
    activity = Activity(kind=kind, subject=subject, body=body, customer_id=customer.id,
                        assignee_id=user.id, due_at=due_at, done=done,
                        done_at=DUE if done else None, deal_id=deal.id if deal else None)
    db.session.add(activity)
    db.session.commit()
    return activity


def _make_link(client) -> str:
    """Press "Make my secret link" and return the feed path shown on the page."""
    response = client.post("/pipeline/calendar/new-link")
    assert response.status_code == 302
    assert response.headers["Location"] == "/pipeline/calendar"
    page = client.get("/pipeline/calendar").get_data(as_text=True)
    url = re.search(r'id="feed-url" readonly value="([^"]+)"', page).group(1)
    assert url.startswith("http://localhost/pipeline/calendar/") and url.endswith(".ics")
    return url.removeprefix("http://localhost")


def _events(response) -> dict[str, icalendar.Event]:
    calendar = icalendar.Calendar.from_ical(response.data)
    return {str(e["summary"]): e for e in calendar.walk("VEVENT")}


def test_calendar_page__no_link_until_asked_and_get_changes_nothing(client, login, db, users):
    """Does the page offer to make a link without making one on a GET?"""
    login("sales")
    before = snapshot(db)
    body = client.get("/pipeline/calendar").get_data(as_text=True)
    assert "You have no feed address yet." in body and "Make my secret link" in body
    assert snapshot(db) == before
    db.session.expire_all()
    assert db.session.get(User, users["sales"].id).calendar_token is None


@pytest.mark.parametrize("role", ["admin", "sales", "finance", "operations"])
def test_calendar_page__every_role_gets_an_absolute_secret_address(client, login, db, users,
                                                                   role):
    """Does every role get an absolute feed address holding a long random token?"""
    login(role)
    path = _make_link(client)
    db.session.expire_all()
    token = db.session.get(User, users[role].id).calendar_token
    assert path == f"/pipeline/calendar/{token}.ics" and len(token) >= 40
    page = client.get("/pipeline/calendar").get_data(as_text=True)
    assert f'href="webcal://localhost/pipeline/calendar/{token}.ics"' in page
    assert "Make a new secret link" in page


def test_feed__my_open_tasks_and_meetings_with_times(client, login, db, users):
    """Does the feed hold my open tasks (30 min) and meetings (1 h) with their times,
    subjects, customer, deal and a link, and nothing else?"""
    me, other = users["sales"], users["admin"]
    customer = make_customer(name="Harbour Lights")
    deal = create_deal(customer=customer, title="Pier lamps", owner=me,
                       stage=ensure_stages()[0], amount=Decimal("10.00"), by=me)
    db.session.commit()
    task = _activity(db, customer, me, subject="Send the price list", body="Both ranges.")
    meeting = _activity(db, customer, me, kind="meeting", subject="Site visit",
                        due_at=DUE + timedelta(days=1), deal=deal)
    _activity(db, customer, me, subject="Already sent", done=True)
    _activity(db, customer, other, subject="Admin's own task")
    _activity(db, customer, me, subject="Someday task", due_at=None)
    _activity(db, customer, me, kind="call", subject="Planned call")
    _activity(db, customer, me, kind="note", subject="A note")
    login("sales")
    path = _make_link(client)

    signed_out = client.application.test_client()
    response = signed_out.get(path)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/calendar; charset=utf-8"
    events = _events(response)
    assert set(events) == {"Send the price list", "Site visit"}

    event = events["Send the price list"]
    assert event.decoded("dtstart") == DUE
    assert event.decoded("dtend") == DUE + timedelta(minutes=30)
    assert str(event["uid"]) == f"tandem-activity-{task.id}@localhost"
    assert "Harbour Lights" in str(event["description"])
    assert "Both ranges." in str(event["description"])
    assert str(event["url"]) == f"http://localhost/accounts/{customer.id}"

    event = events["Site visit"]
    assert event.decoded("dtstart") == DUE + timedelta(days=1)
    assert event.decoded("dtend") == DUE + timedelta(days=1, hours=1)
    assert str(event["uid"]) == f"tandem-activity-{meeting.id}@localhost"
    assert "Deal: Pier lamps" in str(event["description"])
    assert str(event["url"]) == f"http://localhost/pipeline/deals/{deal.id}"


def test_feed__user_text_is_escaped_as_icalendar(client, login, db, users):
    """Do commas, semicolons, newlines and markup in a subject come back exactly as typed?"""
    subject = "Call; then <b>write</b>, quickly\\"
    _activity(db, make_customer(), users["sales"], subject=subject, body="line 1\nline 2")
    login("sales")
    path = _make_link(client)
    events = _events(client.get(path))
    assert list(events) == [subject]
    assert str(events[subject]["description"]).endswith("line 1\nline 2")


def test_feed__a_ticked_off_task_drops_out(client, login, db, users):
    """Once I tick a task off, is it gone from the feed?"""
    task = _activity(db, make_customer(), users["sales"], subject="Tick me")
    login("sales")
    path = _make_link(client)
    assert "Tick me" in _events(client.get(path))
    client.post(f"/pipeline/activities/{task.id}/toggle", data={"done": "1"})
    assert _events(client.get(path)) == {}


def test_feed__a_new_link_kills_the_old_one(client, login, db, users):
    """After "Make a new secret link", is the old address a 404 and the new one working?"""
    _activity(db, make_customer(), users["sales"], subject="Still here")
    login("sales")
    old = _make_link(client)
    assert client.get(old).status_code == 200
    new = _make_link(client)
    assert new != old
    assert client.get(old).status_code == 404
    assert "Still here" in _events(client.get(new))


@pytest.mark.parametrize("token", [
    "x", "not-a-real-token-but-long-enough-to-look-like-one-123",
    "A" * 43, "%27%20OR%201=1--aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "a" * 500,
])
def test_feed__unknown_or_malformed_tokens_are_404(client, db, users, token):
    """Is any token that is not someone's current one a 404 that lists nothing?"""
    users["sales"].calendar_token = "B" * 43
    db.session.commit()
    response = client.get(f"/pipeline/calendar/{token}.ics")
    assert response.status_code == 404
    assert b"VCALENDAR" not in response.data


def test_feed__a_disabled_users_feed_is_404(client, db, users):
    """Does disabling a user close their feed too?"""
    user = users["sales"]
    user.calendar_token = "C" * 43
    user.is_enabled = False
    db.session.commit()
    assert client.get(f"/pipeline/calendar/{'C' * 43}.ics").status_code == 404
    assert user_by_calendar_token("C" * 43) is None


def test_feed__is_the_one_public_pipeline_view(app):
    """Is the feed public (calendar apps cannot sign in) and every other pipeline view not?"""
    public = sorted(rule.endpoint for rule in app.url_map.iter_rules()
                    if rule.endpoint.startswith("pipeline.")
                    and getattr(app.view_functions[rule.endpoint], "is_public", False))
    assert public == ["pipeline.calendar_feed"]


def test_new_link__needs_a_signed_in_user_and_csrf(client, login, db, users):
    """Is making a link refused signed out (to the sign-in page) and without the CSRF token?"""
    client.fetch_csrf()
    response = client.post("/pipeline/calendar/new-link")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    login("sales")
    assert client.post("/pipeline/calendar/new-link", csrf=False).status_code == 400
    db.session.expire_all()
    assert db.session.get(User, users["sales"].id).calendar_token is None
