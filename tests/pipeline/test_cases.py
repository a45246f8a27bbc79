"""Support cases: the team queue and its filters, opening a case, the comment timeline,
triage (status, priority, assignee) and credit requests that finance decides."""

import re
from decimal import Decimal

import pytest
from flask import render_template

from models import CaseComment, Contact, CreditRequest, SupportCase
from models.cases import cases_for_customer, open_case
from tests.helpers import count_rows, make_customer, snapshot

EVIL = '<script>alert(1)</script><img src=x onerror=alert(2)>'


def _contact(db, customer, name="Pat Contact"):
    contact = Contact(customer=customer, name=name)
    db.session.add(contact)
    db.session.commit()
    return contact


def _case(db, customer, subject="Printer on fire", **kwargs):
    case = open_case(customer=customer, subject=subject, **kwargs)
    db.session.commit()
    return case


def _new(customer, **overrides):
    return {"customer_id": str(customer.id), "contact_id": "", "subject": "Broken delivery",
            "description": "Two boxes were crushed.", "priority": "high",
            "assignee_id": ""} | overrides


def _triage(case, **overrides):
    return {"version": str(case.version), "status": case.status, "priority": case.priority,
            "assignee_id": str(case.assignee_id or "")} | overrides


def _reload(db, model, ident):
    db.session.expire_all()
    return db.session.get(model, ident)


# --- The queue ---------------------------------------------------------------------------

def test_queue__shows_open_cases_most_urgent_first(client, login, db):
    """Does the queue list open and pending cases, urgent before low, and hide closed ones?"""
    login("operations")
    customer = make_customer(name="Queue Co")
    low = _case(db, customer, "Low thing", priority="low")
    urgent = _case(db, customer, "Urgent thing", priority="urgent")
    closed = _case(db, customer, "Closed thing", priority="urgent")
    closed.status = "closed"
    db.session.commit()
    body = client.get("/pipeline/cases").get_data(as_text=True)
    assert body.index("Urgent thing") < body.index("Low thing")
    assert "Closed thing" not in body
    newest = client.get("/pipeline/cases?sort=newest").get_data(as_text=True)
    assert newest.index("Low thing") > newest.index("Urgent thing")
    assert f"/pipeline/cases/{low.id}" in body and f"/pipeline/cases/{urgent.id}" in body


def test_queue__filters_by_status_priority_assignee_and_customer(client, login, db, users):
    """Do status, priority, assignee (mine/none/id) and customer filters each narrow the list?"""
    me = login("sales")
    acme, other = make_customer(name="Acme"), make_customer(name="Other")
    mine = _case(db, acme, "Mine high", priority="high", assignee=me)
    _case(db, acme, "Nobody normal")
    theirs = _case(db, other, "Ops urgent", priority="urgent", assignee=users["operations"])
    pending = _case(db, other, "Waiting on them")
    pending.status = "pending"
    db.session.commit()

    def titles(query):
        response = client.get(f"/pipeline/cases?{query}")
        assert response.status_code == 200
        return set(re.findall(r'#\d+ ([^<]+)</a>', response.get_data(as_text=True)))

    assert titles("") == {"Mine high", "Nobody normal", "Ops urgent", "Waiting on them"}
    assert titles("status=pending") == {"Waiting on them"}
    assert titles("priority=high") == {"Mine high"}
    assert titles("assignee=mine") == {"Mine high"}
    assert titles("assignee=none") == {"Nobody normal", "Waiting on them"}
    assert titles(f"assignee={users['operations'].id}") == {"Ops urgent"}
    assert titles(f"customer_id={acme.id}") == {"Mine high", "Nobody normal"}
    assert titles(f"customer_id={other.id}&status=open&q=Oth") == {"Ops urgent"}
    assert mine.id != theirs.id


def test_queue__htmx_gets_only_the_results(client, login, db):
    """Does a filter change from the page get just the results fragment?"""
    login("finance")
    _case(db, make_customer(), "Fragment case")
    response = client.htmx("get", "/pipeline/cases?priority=normal")
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert body.lstrip().startswith('<section id="results"')
    assert "Fragment case" in body and "<html" not in body


def test_queue__pages_by_keyset_at_most_fifty_rows(client, login, db):
    """Is a long queue split into pages (never more than 50 rows) that together show every case once?"""
    login("admin")
    customer = make_customer()
    for n in range(30):
        open_case(customer=customer, subject=f"Case number {n}",
                  priority=("low", "normal", "high", "urgent")[n % 4])
    db.session.commit()
    seen = []
    url = "/pipeline/cases"
    for _ in range(5):
        body = client.get(url).get_data(as_text=True)
        rows = re.findall(r"Case number (\d+)</a>", body)
        assert 0 < len(rows) <= 50
        seen += rows
        following = re.search(r'href="([^"]+)" rel="next"', body)
        if not following:
            break
        url = following.group(1).replace("&amp;", "&")
    assert sorted(seen, key=int) == [str(n) for n in range(30)]


@pytest.mark.parametrize("query", [
    "status=stuck", "priority=blocker", "assignee=someone", "assignee=1 OR 1=1",
    "customer_id=abc", "sort=subject", "colour=red", "after=not-a-cursor", "before=%%%",
    "customer_id=" + "9" * 30,
])
def test_queue__bad_filter_is_400(client, login, db, query):
    """Is a filter value outside the whitelist a 400, never a 500?"""
    login("sales")
    response = client.get(f"/pipeline/cases?{query}")
    assert response.status_code == 400


def test_queue__unknown_customer_is_404(client, login, db):
    """Is filtering on a customer that does not exist a 404?"""
    login("sales")
    assert client.get("/pipeline/cases?customer_id=999999").status_code == 404


# --- Opening a case ----------------------------------------------------------------------

@pytest.mark.parametrize("role", ["admin", "sales", "finance", "operations"])
def test_new_case__every_role_opens_one(client, login, db, role):
    """May every role open a case, landing on its page with the contact kept?"""
    user = login(role)
    customer = make_customer(name="Harbour Ltd")
    contact = _contact(db, customer)
    response = client.post("/pipeline/cases/new",
                           data=_new(customer, contact_id=str(contact.id)))
    assert response.status_code == 302, response.get_data(as_text=True)[-2000:]
    case = db.session.scalar(db.select(SupportCase))
    assert response.headers["Location"] == f"/pipeline/cases/{case.id}"
    assert (case.customer_id, case.contact_id) == (customer.id, contact.id)
    assert (case.status, case.priority, case.resolved_at) == ("open", "high", None)
    assert case.created_by_id == user.id
    page = client.get(f"/pipeline/cases/{case.id}").get_data(as_text=True)
    assert "Broken delivery" in page and "Pat Contact" in page and "Harbour Ltd" in page


def test_new_case__finance_cannot_assign_but_sales_can(app, client, login, db, users):
    """Is the assignee ignored from finance (who does not triage) and kept from sales?"""
    customer = make_customer()
    login("finance")
    page = client.get(f"/pipeline/cases/new?customer_id={customer.id}").get_data(as_text=True)
    assert 'name="assignee_id"' not in page
    client.post("/pipeline/cases/new", data=_new(customer, assignee_id=str(users["sales"].id)))
    assert db.session.scalar(db.select(SupportCase)).assignee_id is None
    rep = app.test_client()
    login("sales", rep)
    rep.post("/pipeline/cases/new", data=_new(customer, assignee_id=str(users["operations"].id),
                                              subject="Second"))
    second = db.session.scalar(db.select(SupportCase).where(SupportCase.subject == "Second"))
    assert second.assignee_id == users["operations"].id


def test_new_case__customer_id_preselects_and_lists_its_contacts(client, login, db):
    """Does ?customer_id= fill the picker and offer only that customer's contacts?"""
    login("sales")
    customer, other = make_customer(name="Chosen Co"), make_customer(name="Other Co")
    _contact(db, customer, "Ours Person")
    _contact(db, other, "Theirs Person")
    body = client.get(f"/pipeline/cases/new?customer_id={customer.id}").get_data(as_text=True)
    assert f'name="customer_id" value="{customer.id}"' in body
    assert 'value="Chosen Co"' in body
    assert "Ours Person" in body and "Theirs Person" not in body
    assert client.get("/pipeline/cases/new?customer_id=424242").status_code == 404
    assert client.get("/pipeline/cases/new?customer_id=1%20OR%201").status_code == 400


def test_new_case__contact_select_refreshes_for_the_picked_customer(client, login, db):
    """Does the htmx refresh return only the contact field, with the picked customer's contacts?"""
    login("operations")
    customer = make_customer()
    _contact(db, customer, "Refreshed Person")
    response = client.htmx("get", f"/pipeline/cases/new?customer_id={customer.id}")
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert body.lstrip().startswith('<div id="contact-field"')
    assert "Refreshed Person" in body and "<html" not in body and "Subject" not in body


def test_new_case__contact_of_another_customer_is_422(client, login, db):
    """Is a contact belonging to a different customer refused (422) with nothing written?"""
    login("sales")
    customer, other = make_customer(name="Mine Co"), make_customer()
    stranger = _contact(db, other, "Stranger")
    before = snapshot(db)
    response = client.post("/pipeline/cases/new", data=_new(customer, contact_id=str(stranger.id)))
    assert response.status_code == 422
    assert "not one of Mine Co" in response.get_data(as_text=True)
    assert snapshot(db) == before


@pytest.mark.parametrize("field,value,message", [
    ("subject", "", "Enter a subject."),
    ("subject", "x" * 10_000, "Use at most 200 characters."),
    ("subject", "bell\x07", "Remove the invisible control characters."),
    ("description", "y" * 10_001, "Use at most 10,000 characters."),
    ("priority", "blocker", "Not a valid choice"),
    ("customer_id", "", "Choose a customer from the list."),
    ("customer_id", "abc", "Choose a customer from the list."),
    ("customer_id", "999999", "Choose a customer from the list."),
    ("contact_id", "999999", "Choose one of the customer&#39;s contacts."),
    ("contact_id", "x", "Choose one of the customer&#39;s contacts."),
    ("assignee_id", "999999", "Not a valid choice"),
])
def test_new_case__bad_input_is_422_and_writes_nothing(client, login, db, field, value, message):
    """Is each kind of bad input refused next to its field, the input kept, nothing written?"""
    login("sales")
    customer = make_customer()
    before = snapshot(db)
    response = client.post("/pipeline/cases/new", data=_new(customer, **{field: value}))
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert message in body
    if field != "subject":
        assert 'value="Broken delivery"' in body
    assert snapshot(db) == before


# --- One case: page, comments, triage ----------------------------------------------------

def test_case_page__unknown_ids_are_404(client, login, db):
    """Are an unknown case and an unknown credit request 404s, for pages and posts alike?"""
    login("admin")
    assert client.get("/pipeline/cases/999").status_code == 404
    assert client.post("/pipeline/cases/999/comments", data={"body": "x"}).status_code == 404
    assert client.post("/pipeline/cases/999/triage", data={}).status_code == 404
    assert client.post("/pipeline/cases/999/credits", data={}).status_code == 404
    assert client.post("/pipeline/credits/999/decide", data={}).status_code == 404


def test_comment__is_added_in_place(client, login, db, users):
    """Does an htmx comment come back as the timeline alone, with the comment and an empty box?"""
    login("finance")
    case = _case(db, make_customer())
    response = client.htmx("post", f"/pipeline/cases/{case.id}/comments",
                           data={"body": "Called them back.\nAll good."})
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert body.lstrip().startswith('<section id="comments-panel"')
    assert "Called them back." in body and "Fay Finance" in body and "<html" not in body
    assert re.search(r'<textarea[^>]*name="body"[^>]*>\s*</textarea>', body)
    comment = db.session.scalar(db.select(CaseComment))
    assert comment.author_id == users["finance"].id and comment.case_id == case.id


def test_comment__without_htmx_redirects_back(client, login, db):
    """Does the comment form work as a plain post too (redirect to the case)?"""
    login("operations")
    case = _case(db, make_customer())
    response = client.post(f"/pipeline/cases/{case.id}/comments", data={"body": "Plain post"})
    assert response.status_code == 302
    assert response.headers["Location"] == f"/pipeline/cases/{case.id}"
    assert "Plain post" in client.get(f"/pipeline/cases/{case.id}").get_data(as_text=True)


@pytest.mark.parametrize("text,message", [
    ("", "Write a comment."), ("   ", "Write a comment."),
    ("z" * 10_001, "Use at most 10,000 characters."),
])
def test_comment__bad_input_is_422(client, login, db, text, message):
    """Is an empty or oversized comment refused in place with nothing written?"""
    login("sales")
    case = _case(db, make_customer())
    before = snapshot(db)
    response = client.htmx("post", f"/pipeline/cases/{case.id}/comments", data={"body": text})
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert snapshot(db) == before


def test_triage__resolving_stamps_resolved_at_and_reopening_clears_it(client, login, db, users):
    """Does resolving set resolved_at, and reopening clear it, with the new assignee kept?"""
    login("operations")
    case = _case(db, make_customer())
    response = client.htmx("post", f"/pipeline/cases/{case.id}/triage", data=_triage(
        case, status="resolved", priority="urgent", assignee_id=str(users["admin"].id)))
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert body.lstrip().startswith('<section id="triage-panel"')
    assert 'id="case-head"' in body and 'hx-swap-oob="true"' in body
    case = _reload(db, SupportCase, case.id)
    assert case.status == "resolved" and case.resolved_at is not None
    assert case.priority == "urgent" and case.assignee_id == users["admin"].id
    client.post(f"/pipeline/cases/{case.id}/triage", data=_triage(case, status="open"))
    case = _reload(db, SupportCase, case.id)
    assert case.status == "open" and case.resolved_at is None


def test_triage__stale_version_is_409_and_writes_nothing(app, login, db):
    """When two people triage the same case, is the second save refused (409) with who and when?"""
    first, second = app.test_client(), app.test_client()
    login("admin", first)
    login("sales", second)
    case = _case(db, make_customer())
    loaded = _triage(case)
    assert first.post(f"/pipeline/cases/{case.id}/triage",
                      data=loaded | {"status": "pending"}).status_code == 302
    before = snapshot(db)
    response = second.htmx("post", f"/pipeline/cases/{case.id}/triage",
                           data=loaded | {"status": "closed"})
    assert response.status_code == 409
    assert "changed by Ada Admin at" in response.get_data(as_text=True)
    assert snapshot(db) == before
    assert _reload(db, SupportCase, case.id).status == "pending"


@pytest.mark.parametrize("field,value", [("status", "stuck"), ("priority", "meh"),
                                         ("assignee_id", "999999")])
def test_triage__bad_values_are_422(client, login, db, field, value):
    """Is an unknown status, priority or assignee refused with nothing written?"""
    login("sales")
    case = _case(db, make_customer())
    before = snapshot(db)
    response = client.post(f"/pipeline/cases/{case.id}/triage", data=_triage(case, **{field: value}))
    assert response.status_code == 422
    assert "Not a valid choice" in response.get_data(as_text=True)
    assert snapshot(db) == before


def test_triage__finance_may_not_and_sees_no_form(client, login, db):
    """Is finance refused (403) a status change, and shown no status form?"""
    login("finance")
    case = _case(db, make_customer())
    page = client.get(f"/pipeline/cases/{case.id}").get_data(as_text=True)
    assert f"/pipeline/cases/{case.id}/triage" not in page
    assert "Add comment" in page and "Request credit" in page
    before = snapshot(db)
    response = client.post(f"/pipeline/cases/{case.id}/triage", data=_triage(case, status="closed"))
    assert response.status_code == 403
    assert snapshot(db) == before


# --- Credits -----------------------------------------------------------------------------

def test_credit__request_is_stored_in_the_account_currency(client, login, db, users):
    """Does a credit request store amount, reason, the account's currency and 'requested'?"""
    login("sales")
    customer = make_customer()
    customer.account.currency = "GBP"
    db.session.commit()
    case = _case(db, customer)
    page = client.get(f"/pipeline/cases/{case.id}").get_data(as_text=True)
    assert "Amount (GBP)" in page
    response = client.htmx("post", f"/pipeline/cases/{case.id}/credits",
                           data={"amount": "1,250.50", "reason": "Crushed boxes"})
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert body.lstrip().startswith('<section id="credits-panel"')
    assert "GBP 1,250.50" in body and "Requested" in body
    assert "Approve" not in body  # sales does not decide
    credit = db.session.scalar(db.select(CreditRequest))
    assert credit.amount == Decimal("1250.50") and credit.currency == "GBP"
    assert (credit.status, credit.customer_id, credit.case_id) == ("requested", customer.id, case.id)
    assert credit.requested_by_id == users["sales"].id


@pytest.mark.parametrize("amount,reason,message", [
    ("0", "r", "Enter an amount above zero."), ("-5", "r", "Enter an amount above zero."),
    ("abc", "r", "Enter a number"), ("1.234", "r", "Use at most 2 decimals"),
    ("", "r", "Enter an amount."), ("1e400", "r", "out of range"),
    ("10", "", "Say why the customer should get a credit."),
    ("10", "q" * 501, "Use at most 500 characters."),
])
def test_credit__bad_request_is_422(client, login, db, amount, reason, message):
    """Is a zero, negative, junk or over-precise amount, or a missing reason, refused?"""
    login("operations")
    case = _case(db, make_customer())
    before = snapshot(db)
    response = client.htmx("post", f"/pipeline/cases/{case.id}/credits",
                           data={"amount": amount, "reason": reason})
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert message in body
    assert snapshot(db) == before


def _requested(db, case, amount="40.00"):
    from models.cases import request_credit

    credit = request_credit(case, amount=Decimal(amount), reason="Late", by=None)
    db.session.commit()
    return credit


@pytest.mark.parametrize("role", ["finance", "admin"])
def test_decide__finance_approves_with_a_note(client, login, db, role, users):
    """Can finance (or an admin) approve a request, with the note and who/when stored?"""
    login(role)
    case = _case(db, make_customer())
    credit = _requested(db, case)
    page = client.get(f"/pipeline/cases/{case.id}").get_data(as_text=True)
    assert f"/pipeline/credits/{credit.id}/decide" in page
    response = client.htmx("post", f"/pipeline/credits/{credit.id}/decide", data={
        "version": str(credit.version), "decision": "approve", "note": "OK for the ledger"})
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Approved" in body and "OK for the ledger" in body
    assert f"/pipeline/credits/{credit.id}/decide" not in body
    credit = _reload(db, CreditRequest, credit.id)
    assert credit.status == "approved" and credit.decision_note == "OK for the ledger"
    assert credit.decided_by_id == users[role].id and credit.decided_at is not None


def test_decide__reject_needs_a_note(client, login, db):
    """Is a rejection without a note refused (422), and with one stored as rejected?"""
    login("finance")
    credit = _requested(db, _case(db, make_customer()))
    before = snapshot(db)
    data = {"version": str(credit.version), "decision": "reject", "note": ""}
    response = client.htmx("post", f"/pipeline/credits/{credit.id}/decide", data=data)
    assert response.status_code == 422
    assert "Say why the credit is rejected." in response.get_data(as_text=True)
    assert snapshot(db) == before
    response = client.post(f"/pipeline/credits/{credit.id}/decide",
                           data=data | {"note": "Not our fault"})
    assert response.status_code == 302
    assert _reload(db, CreditRequest, credit.id).status == "rejected"


@pytest.mark.parametrize("role", ["sales", "operations"])
def test_decide__other_roles_get_403_and_no_buttons(client, login, db, role):
    """Are sales and operations refused (403) a decision, and shown no approve button?"""
    login(role)
    case = _case(db, make_customer())
    credit = _requested(db, case)
    assert "Approve" not in client.get(f"/pipeline/cases/{case.id}").get_data(as_text=True)
    before = snapshot(db)
    response = client.post(f"/pipeline/credits/{credit.id}/decide",
                           data={"version": str(credit.version), "decision": "approve"})
    assert response.status_code == 403
    assert snapshot(db) == before


def test_decide__stale_or_already_decided_is_409(client, login, db):
    """Is a decision on an old version, or on a credit already decided, a 409 writing nothing?"""
    login("finance")
    credit = _requested(db, _case(db, make_customer()))
    before = snapshot(db)
    stale = client.post(f"/pipeline/credits/{credit.id}/decide",
                        data={"version": str(credit.version - 1), "decision": "approve"})
    assert stale.status_code == 409
    assert snapshot(db) == before
    client.post(f"/pipeline/credits/{credit.id}/decide",
                data={"version": str(credit.version), "decision": "approve"})
    credit = _reload(db, CreditRequest, credit.id)
    before = snapshot(db)
    again = client.htmx("post", f"/pipeline/credits/{credit.id}/decide",
                        data={"version": str(credit.version), "decision": "reject", "note": "x"})
    assert again.status_code == 409
    assert "already approved" in again.get_data(as_text=True)
    assert snapshot(db) == before


def test_decide__unknown_decision_is_422(client, login, db):
    """Is a decision other than approve or reject refused?"""
    login("finance")
    credit = _requested(db, _case(db, make_customer()))
    before = snapshot(db)
    response = client.post(f"/pipeline/credits/{credit.id}/decide",
                           data={"version": str(credit.version), "decision": "maybe"})
    assert response.status_code == 422
    assert snapshot(db) == before


# --- Markup, the customer panel ----------------------------------------------------------

def test_html_in_every_text_field__is_shown_escaped(client, login, db):
    """Is markup typed into subject, description, comments and credit fields shown as text?"""
    login("admin")
    customer = make_customer(name=EVIL)
    contact = _contact(db, customer, EVIL)
    client.post("/pipeline/cases/new", data=_new(customer, subject=EVIL[:200], description=EVIL,
                                                 contact_id=str(contact.id)))
    case = db.session.scalar(db.select(SupportCase))
    assert case.subject == EVIL
    client.post(f"/pipeline/cases/{case.id}/comments", data={"body": EVIL})
    client.post(f"/pipeline/cases/{case.id}/credits", data={"amount": "5", "reason": EVIL})
    credit = db.session.scalar(db.select(CreditRequest))
    client.post(f"/pipeline/credits/{credit.id}/decide",
                data={"version": str(credit.version), "decision": "reject", "note": EVIL})
    for url in (f"/pipeline/cases/{case.id}", "/pipeline/cases",
                f"/pipeline/cases/new?customer_id={customer.id}"):
        body = client.get(url).get_data(as_text=True)
        assert "<script>alert" not in body and "<img src=x" not in body, url
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body, url
    assert count_rows(db, CaseComment) == 1


def test_cases_for_customer__open_ones_most_urgent_first(app, db):
    """Does cases_for_customer give only the customer's open and pending cases, urgent first?"""
    customer, other = make_customer(), make_customer()
    normal = _case(db, customer, "Normal")
    urgent = _case(db, customer, "Urgent", priority="urgent")
    pending = _case(db, customer, "Pending", priority="low")
    pending.status = "pending"
    done = _case(db, customer, "Done")
    done.status = "resolved"
    _case(db, other, "Not theirs")
    db.session.commit()
    assert [c.id for c in cases_for_customer(customer.id)] == [urgent.id, normal.id, pending.id]


def test_cases_panel__lists_open_cases_with_a_new_case_link(app, db, users):
    """Does the customer page's cases panel link each open case and a new case for the customer?"""
    customer = make_customer(name="Panel Co")
    case = _case(db, customer, "Panel case")
    with app.test_request_context():
        html = render_template("pipeline/_cases_panel.html", customer=customer,
                               customer_cases=cases_for_customer(customer.id))
    assert 'id="cases-panel"' in html and 'class="panel wide"' in html
    assert f'href="/pipeline/cases/{case.id}"' in html and "Panel case" in html
    assert f'href="/pipeline/cases/new?customer_id={customer.id}"' in html
    with app.test_request_context():
        empty = render_template("pipeline/_cases_panel.html", customer=customer,
                                customer_cases=[])
    assert "No open cases." in empty
