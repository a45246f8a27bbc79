"""Activities in the browser: logging a call from a deal in two taps, bad input answered
in place, ticking a follow-up off in place, and the calendar feed page.

Every test runs at desk and phone width; every state it reaches is checked by axe.
"""

import re
from datetime import timedelta
from decimal import Decimal

from playwright.sync_api import expect
from sqlalchemy import select

from models import Activity, Contact
from models.activities import FOLLOWUP_FIRST
from models.pipeline import create_deal, ensure_stages
from models.users import utcnow
from tests.browser.conftest import check_a11y, screenshot, sign_in_as
from tests.helpers import make_customer


def _fresh(db):
    """The test's own session, ready to read what the server has committed since."""
    db.session.rollback()
    return db.session


def _mark_document(page) -> None:
    """Tag the live document: the tag survives htmx swaps and is lost on a full load."""
    page.evaluate("window.__tandemNoReload = true")


def _assert_not_reloaded(page) -> None:
    assert page.evaluate("window.__tandemNoReload === true"), "the page was reloaded"


def _customer_with_contact(db, name="Harbour Lights", contact="Pat Quinn"):
    customer = make_customer(name=name)
    db.session.add(Contact(customer=customer, name=contact, is_primary=True))
    db.session.commit()
    return customer


def test_log_call__two_taps_on_a_deal(page, viewport, users, db):
    """On a deal's page, do "Log a call" then "Save" log a done call with the primary
    contact, shown at once on the timeline without a reload?"""
    customer = _customer_with_contact(db)
    deal = create_deal(customer=customer, title="Pier lamps", owner=users["sales"],
                       stage=ensure_stages()[0], amount=Decimal("1500.00"), by=users["sales"])
    db.session.commit()
    sign_in_as(page, "sales")
    page.goto(f"/pipeline/deals/{deal.id}")
    timeline = page.locator("#timeline")
    expect(timeline).to_contain_text("No activities yet")
    check_a11y(page)

    _mark_document(page)
    timeline.get_by_role("link", name="Log a call").click()  # tap 1
    subject = page.locator("#activity-subject")
    expect(subject).to_have_value("Call with Pat Quinn")
    save = timeline.get_by_role("button", name="Save")
    expect(save).to_be_in_viewport()
    check_a11y(page)
    screenshot(page, "activities-log-call-form", viewport)

    save.click()  # tap 2
    expect(timeline.locator("form.activity-form")).to_have_count(0)
    item = timeline.locator("li.activity").first
    expect(item).to_contain_text("Call with Pat Quinn")
    expect(item).to_contain_text("Done")
    expect(item).to_contain_text("with Pat Quinn")
    expect(item).to_contain_text("Sam Sales")
    _assert_not_reloaded(page)
    check_a11y(page)
    screenshot(page, "activities-log-call-saved", viewport)

    call = _fresh(db).scalars(select(Activity)).one()
    assert (call.kind, call.done, call.deal_id) == ("call", True, deal.id)
    assert call.contact_id == customer.contacts[0].id
    assert call.assignee_id == users["sales"].id


def test_add_task__bad_input_is_answered_in_place(page, viewport, users, db):
    """On the customer page, is an empty subject refused beside the field (nothing saved),
    and does the corrected task with a date then show as to do?"""
    customer = make_customer(name="Globex")
    sign_in_as(page, "finance")
    page.goto(f"/accounts/{customer.id}")
    timeline = page.locator("#timeline")
    _mark_document(page)
    timeline.get_by_role("link", name="Add a task").click()
    subject = page.locator("#activity-subject")
    expect(subject).to_have_value("Follow up with Globex")
    subject.fill("")
    timeline.get_by_role("button", name="Save").click()
    expect(page.locator("#activity-subject-error")).to_have_text("Enter a subject.")
    expect(subject).to_have_attribute("aria-invalid", "true")
    check_a11y(page)
    screenshot(page, "activities-task-invalid", viewport)
    assert _fresh(db).scalars(select(Activity)).all() == []

    subject.fill("Send the <b>catalogue</b>")
    timeline.locator("summary").click()
    expect(page.locator("#activity-done")).not_to_be_checked()
    page.fill("#activity-due-date", "2031-02-03")
    page.fill("#activity-due-time", "10:30")
    timeline.get_by_role("button", name="Save").click()
    item = timeline.locator("li.activity").first
    expect(item).to_contain_text("Send the <b>catalogue</b>")
    expect(item).to_contain_text("Due 2031-02-03 10:30 UTC")
    expect(item).to_contain_text("To do")
    expect(item.get_by_role("button", name=re.compile("Mark done"))).to_be_visible()
    _assert_not_reloaded(page)
    check_a11y(page)
    task = _fresh(db).scalars(select(Activity)).one()
    assert (task.kind, task.done) == ("task", False)


def test_followups__tick_done_in_place(page, viewport, users, db):
    """On my follow-ups, does "Mark done" tick the task off in its row without a reload,
    and "Undo" open it again?"""
    customer = make_customer(name="Initech")
    task = Activity(kind="task", subject="Send the contract", customer_id=customer.id,
                    assignee_id=users["sales"].id, due_at=utcnow(), done=False)
    db.session.add(task)
    db.session.commit()
    sign_in_as(page, "sales")
    page.goto("/pipeline/activities")
    expect(page.locator("h1")).to_have_text("My follow-ups")
    row = page.locator(f"#followup-{task.id}")
    expect(page.locator("#group-today")).to_contain_text("Send the contract")
    expect(page.locator("#group-overdue")).to_contain_text("Nothing overdue.")
    check_a11y(page)

    _mark_document(page)
    row.get_by_role("button", name=re.compile("Mark done")).click()
    expect(row.get_by_role("button", name=re.compile("Undo"))).to_be_visible()
    expect(row).to_contain_text("Done")
    _assert_not_reloaded(page)
    check_a11y(page)
    screenshot(page, "activities-followup-done", viewport)
    assert _fresh(db).get(Activity, task.id).done

    row.get_by_role("button", name=re.compile("Undo")).click()
    expect(row.get_by_role("button", name=re.compile("Mark done"))).to_be_visible()
    _assert_not_reloaded(page)
    assert not _fresh(db).get(Activity, task.id).done


def test_followups__show_more_in_place(page, viewport, users, db):
    """With more overdue tasks than the group lists at first, does "Show more" add the
    rest under them without a reload, and can one of those be ticked off in place?"""
    customer = make_customer(name="Initech")
    now = utcnow()
    tasks = [Activity(kind="task", subject=f"Overdue task {n:02d}", customer_id=customer.id,
                      assignee_id=users["sales"].id, due_at=now - timedelta(days=30 - n),
                      done=False) for n in range(FOLLOWUP_FIRST + 2)]
    db.session.add_all(tasks)
    db.session.commit()
    sign_in_as(page, "sales")
    page.goto("/pipeline/activities")
    group = page.locator("#group-overdue")
    expect(group.locator("h2")).to_contain_text(f"({FOLLOWUP_FIRST + 2})")
    expect(group.locator("li.followup")).to_have_count(FOLLOWUP_FIRST)
    _mark_document(page)
    group.get_by_role("link", name="Show more").click()
    expect(group.locator("li.followup")).to_have_count(FOLLOWUP_FIRST + 2)
    expect(group.get_by_role("link", name="Show more")).to_have_count(0)
    expect(group.locator(".activity-subject")).to_have_text(
        [task.subject for task in tasks])
    _assert_not_reloaded(page)
    check_a11y(page)
    screenshot(page, "activities-followups-more", viewport)
    last = group.locator(f"#followup-{tasks[-1].id}")
    last.get_by_role("button", name=re.compile("Mark done")).click()
    expect(last.get_by_role("button", name=re.compile("Undo"))).to_be_visible()
    _assert_not_reloaded(page)
    assert _fresh(db).get(Activity, tasks[-1].id).done


def test_calendar__make_a_secret_link_and_subscribe(page, viewport, users, db):
    """Can a user make their secret feed link, see its address, and does it serve their
    tasks as iCalendar?"""
    customer = make_customer(name="Umbrella")
    db.session.add(Activity(kind="meeting", subject="Quarterly review",
                            customer_id=customer.id, assignee_id=users["operations"].id,
                            due_at=utcnow(), done=False))
    db.session.commit()
    sign_in_as(page, "operations")
    page.goto("/pipeline/calendar")
    expect(page.locator("main")).to_contain_text("You have no feed address yet.")
    check_a11y(page)

    page.get_by_role("button", name="Make my secret link").click()
    address = page.get_by_label("Your secret feed address")
    expect(address).to_have_value(re.compile(r"^http://127\.0\.0\.1:\d+/pipeline/calendar/.+\.ics$"))
    check_a11y(page)
    screenshot(page, "activities-calendar", viewport)

    feed = page.request.get(address.input_value())
    assert feed.status == 200
    assert feed.headers["content-type"] == "text/calendar; charset=utf-8"
    assert "SUMMARY:Quarterly review" in feed.text()

    old = address.input_value()
    page.get_by_role("button", name="Make a new secret link").click()
    expect(address).not_to_have_value(old)
    assert page.request.get(old).status == 404
