"""The shared customer: created with both facets, each facet edited by its owner role,
duplicates warned about, stale saves refused, every change in the history."""

import pytest

from models import AuditEntry, Contact, Customer, FinancialAccount, Relationship
from models.customers import find_duplicates, normalize_name
from tests.helpers import count_rows, form_of, make_customer, snapshot

NEW = {"name": "Harbour Lights Ltd", "kind": "company", "email": "hello@harbourlights.example",
       "phone": "+44 117 000", "street": "1 Quay", "postal_code": "BS1", "city": "Bristol",
       "country": "UK", "owner_id": "", "lifecycle": "prospect", "source": "Referral"}


def test_create__makes_customer_with_both_facets(client, login, db, users):
    """Does creating a customer also create its relationship and financial account?"""
    login("sales")
    response = client.post("/accounts/new", data=NEW | {"owner_id": str(users["sales"].id)})
    assert response.status_code == 302
    customer = db.session.scalar(db.select(Customer))
    assert response.headers["Location"] == f"/accounts/{customer.id}"
    assert customer.relationship_facet.owner_id == users["sales"].id
    assert customer.relationship_facet.lifecycle == "prospect"
    assert customer.account.account_code == f"C{customer.id:05d}"
    assert customer.account.currency == "EUR"
    assert count_rows(db, Relationship) == count_rows(db, FinancialAccount) == 1
    created = AuditEntry.for_subject("customer", customer.id)
    assert {e.entity_type for e in created} == {"customers", "customer_relationships",
                                                "customer_accounts"}
    assert all(e.actor == "sales@example.test" for e in created)


@pytest.mark.parametrize("name,email,reason", [
    ("ACME, Inc.", None, "same name"),
    ("acme inc", None, "same name"),
    ("Totally Different", "orders@acme.example", "same email"),
    ("Other Name", "someone.else@acme.example", "same email domain"),
])
def test_duplicates__are_found_by_name_email_and_domain(app, db, name, email, reason):
    """Are likely duplicates found by punctuation-blind name, email and email domain?"""
    make_customer(name="Acme Inc", email="orders@acme.example")
    found = find_duplicates(name, email)
    assert len(found) == 1
    assert any(r.startswith(reason) for r in found[0].reasons)


def test_duplicates__public_mail_domains_do_not_match(app, db):
    """Is sharing gmail.com not a reason to call two people duplicates?"""
    make_customer(name="Ann", email="ann@gmail.com")
    assert find_duplicates("Bob", "bob@gmail.com") == []


def test_create__warns_of_duplicates_then_saves_anyway(client, login, db):
    """Is a likely duplicate shown before saving, and can the user still save?"""
    login("sales")
    existing = make_customer(name="Harbour Lights Limited", email="info@harbourlights.example")
    response = client.post("/accounts/new", data=NEW)
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "This may be a customer we already have" in body
    assert "Harbour Lights Limited" in body and "same email domain" in body
    assert "Save anyway" in body
    assert 'value="Harbour Lights Ltd"' in body  # the input is kept
    assert count_rows(db, Customer) == 1
    response = client.post("/accounts/new", data=NEW | {"confirm_duplicates": "yes"})
    assert response.status_code == 302
    assert count_rows(db, Customer) == 2
    assert existing.name == "Harbour Lights Limited"


def test_duplicates_endpoint__live_check_while_typing(client, login, db):
    """Does the live check return the likely duplicates as a fragment?"""
    login("sales")
    make_customer(name="Acme Inc")
    response = client.htmx("get", "/accounts/duplicates?name=ACME%20inc.&email=")
    body = response.get_data(as_text=True)
    assert "Acme Inc" in body and "same name" in body and "<html" not in body


@pytest.mark.parametrize("field,value,message", [
    ("name", "", "Enter a name."),
    ("name", "x" * 10_000, "Use at most 200 characters."),
    ("email", "not-an-email", "Enter a valid email address."),
    ("kind", "robot", "Not a valid choice"),
    ("lifecycle", "vip", "Not a valid choice"),
    ("owner_id", "99999", "Not a valid choice"),
    ("phone", "1" * 41, "Field cannot be longer than 40 characters."),
])
def test_create__bad_input_is_refused_next_to_the_field(client, login, db, field, value,
                                                       message):
    """Is each kind of bad input answered 422 with a message and nothing written?"""
    login("sales")
    before = snapshot(db)
    response = client.post("/accounts/new", data=NEW | {field: value})
    assert response.status_code == 422, response.get_data(as_text=True)[-3000:]
    assert message in response.get_data(as_text=True)
    assert snapshot(db) == before


def test_html_in_every_text_field__is_stored_and_shown_escaped(client, login, db):
    """Is markup typed into text fields kept as text and never rendered as HTML?"""
    login("admin")
    evil = '<script>alert(1)</script><img src=x onerror=alert(2)>'
    data = {k: evil for k in ("street", "postal_code", "city", "country", "source")}
    data["name"] = evil
    client.post("/accounts/new", data=NEW | data | {"postal_code": "<b>1</b>"})
    customer = db.session.scalar(db.select(Customer))
    assert customer.name == evil
    relationship = form_of(customer, "relationship") | {"tags": evil, "notes": evil}
    assert client.post(f"/accounts/{customer.id}/relationship", data=relationship).status_code == 302
    financial = form_of(customer, "financial") | {"tax_id": "<i>x</i>",
                                                  "billing_address": evil}
    assert client.post(f"/accounts/{customer.id}/financial", data=financial).status_code == 302
    client.post(f"/accounts/{customer.id}/contacts", data={"name": evil, "job_title": evil})
    for url in (f"/accounts/{customer.id}", "/accounts/", "/", "/accounts/lookup?q=script"):
        body = client.get(url).get_data(as_text=True)
        assert "<script>alert" not in body, url
        assert "<img src=x" not in body, url
        assert "<i>x</i>" not in body and "<b>1</b>" not in body, url
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in client.get(f"/accounts/{customer.id}").get_data(as_text=True)


def test_unknown_customer__is_a_404_page(client, login):
    """Is an unknown id a 404 page, for the page and for every form?"""
    login("admin")
    for url in ("/accounts/999", "/accounts/999/relationship/edit",
                "/accounts/999/financial/edit", "/accounts/999/contacts/1/edit"):
        response = client.get(url)
        assert response.status_code == 404
        assert "Not found" in response.get_data(as_text=True)
    assert client.post("/accounts/999/financial", data={}).status_code == 404
    # An id larger than a database integer: a 404, not an out-of-range error.
    assert client.get("/accounts/99999999999").status_code == 404
    assert client.get("/accounts/99999999999999999999999").status_code == 404


# --- The two facets, each owned by one side ---------------------------------------------

def test_relationship__sales_edits_and_gets_the_panel_back(client, login, db, users):
    """Can sales edit the relationship inline and get just the updated panel and history?"""
    login("sales")
    customer = make_customer()
    data = form_of(customer, "relationship") | {
        "owner_id": str(users["sales"].id), "lifecycle": "customer", "tags": "VIP, wholesale,vip",
        "rating": "4", "notes": "Prefers email"}
    response = client.htmx("post", f"/accounts/{customer.id}/relationship", data=data)
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert body.lstrip().startswith('<section id="relationship-panel"')
    assert 'id="history-panel"' in body and 'hx-swap-oob="true"' in body
    assert "<html" not in body and "<form" not in body.split('id="history-panel"')[0]
    facet = db.session.get(Customer, customer.id).relationship_facet
    assert facet.tags == "vip,wholesale"
    assert facet.rating == 4 and facet.lifecycle == "customer"
    assert facet.updated_by_id == users["sales"].id
    change = AuditEntry.for_subject("customer", customer.id)[0]
    assert change.action == "update" and change.entity_type == "customer_relationships"
    assert dict((k, (o, n)) for k, o, n in change.change_list)["lifecycle"] == ("lead", "customer")
    # the history names the new owner, not their id
    history = body.split('id="history-panel"')[1]
    assert users["sales"].name in history
    assert f">{users['sales'].id}<" not in history


def test_financial__finance_edits_credit_limit(client, login, db):
    """Can finance set the credit limit, stored as an exact Decimal?"""
    login("finance")
    customer = make_customer()
    data = form_of(customer, "financial") | {"credit_limit": "12,500.50", "on_hold": "y",
                                             "hold_reason": "Disputed invoice"}
    assert client.post(f"/accounts/{customer.id}/financial", data=data).status_code == 302
    account = db.session.get(FinancialAccount, customer.id)
    assert str(account.credit_limit) == "12500.50"
    assert account.on_hold and account.hold_reason == "Disputed invoice"
    page = client.get(f"/accounts/{customer.id}").get_data(as_text=True)
    assert "12,500.50" in page and "Disputed invoice" in page


@pytest.mark.parametrize("role,facet,allowed", [
    ("sales", "relationship", True), ("sales", "financial", False),
    ("finance", "financial", True), ("finance", "relationship", False),
    ("admin", "relationship", True), ("admin", "financial", True),
    ("operations", "relationship", False), ("operations", "financial", False),
    ("operations", "identity", False), ("finance", "identity", True),
])
def test_facets__each_is_edited_only_by_its_owner_role(client, login, db, role, facet, allowed):
    """May this role edit this facet? If not: 403, no edit button, nothing written."""
    login(role)
    customer = make_customer()
    page = client.get(f"/accounts/{customer.id}").get_data(as_text=True)
    edit_url = f"/accounts/{customer.id}/{facet}/edit"
    assert (edit_url in page) is allowed
    before = snapshot(db)
    response = client.post(f"/accounts/{customer.id}/{facet}", data=form_of(customer, facet))
    if allowed:
        assert response.status_code == 302
    else:
        assert response.status_code == 403
        assert client.get(edit_url).status_code == 403
        assert snapshot(db) == before


@pytest.mark.parametrize("typed,message", [
    ("abc", "Enter a number"), ("-5", "Enter zero or more."), ("1.234", "Use at most 2 decimals"),
    ("", "Enter a credit limit"), ("1e400", "out of range"), ("99999999999999999", "out of range"),
])
def test_financial__bad_credit_limit_is_refused(client, login, db, typed, message):
    """Is a non-numeric, negative, over-precise, empty or absurd limit refused, input kept?"""
    login("finance")
    customer = make_customer(credit_limit="100.00")
    before = snapshot(db)
    response = client.htmx("post", f"/accounts/{customer.id}/financial",
                           data=form_of(customer, "financial") | {"credit_limit": typed})
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert message in body
    assert f'value="{typed}"' in body
    assert snapshot(db) == before


def test_financial__account_code_must_stay_unique(client, login, db):
    """Is taking another customer's account code refused next to the field?"""
    login("finance")
    first, second = make_customer(), make_customer()
    response = client.post(f"/accounts/{second.id}/financial",
                           data=form_of(second, "financial") | {"account_code": first.account.account_code.lower()})
    assert response.status_code == 422
    assert "Another customer has this account code." in response.get_data(as_text=True)


def test_stale_save__is_refused_with_who_and_when(app, login, db, users):
    """When two people edit the same panel, is the second save refused with who changed it?"""
    rep_a, rep_b = app.test_client(), app.test_client()
    login("sales", rep_a)
    login("admin", rep_b)
    customer = make_customer()
    loaded = form_of(customer, "relationship")
    assert rep_b.post(f"/accounts/{customer.id}/relationship",
                      data=loaded | {"notes": "first"}).status_code == 302
    response = rep_a.htmx("post", f"/accounts/{customer.id}/relationship",
                          data=loaded | {"notes": "second"})
    body = response.get_data(as_text=True)
    assert response.status_code == 409
    assert "changed by Ada Admin at" in body and "Reload" in body
    assert "second</textarea>" in body  # their input is kept
    assert db.session.get(Customer, customer.id).relationship_facet.notes == "first"


def test_identity__edit_updates_search_name(client, login, db):
    """Does renaming a customer keep its search key in step?"""
    login("sales")
    customer = make_customer()
    data = form_of(customer, "identity") | {"name": "Zebra & Co."}
    assert client.post(f"/accounts/{customer.id}/identity", data=data).status_code == 302
    renamed = db.session.get(Customer, customer.id)
    assert renamed.search_name == normalize_name("zebra co") == "zebra co"


def test_history__shows_on_the_customer_page(client, login, db):
    """Does the customer page show who changed what, old and new values?"""
    login("finance")
    customer = make_customer(credit_limit="100.00")
    client.post(f"/accounts/{customer.id}/financial",
                data=form_of(customer, "financial") | {"credit_limit": "250.00"})
    body = client.get(f"/accounts/{customer.id}").get_data(as_text=True)
    history = body.split('id="history-panel"')[1]
    assert "finance@example.test" in history
    assert "credit limit" in history and "100.00" in history and "250.00" in history


# --- Contacts ---------------------------------------------------------------------------

def test_contacts__add_edit_remove_inline(client, login, db):
    """Can a contact be added, edited and removed, each answered with the contacts panel?"""
    login("sales")
    customer = make_customer()
    response = client.htmx("post", f"/accounts/{customer.id}/contacts",
                           data={"name": "Jo Bloggs", "email": "JO@EXAMPLE.ORG", "is_primary": "y"})
    assert response.status_code == 200
    assert response.get_data(as_text=True).lstrip().startswith('<section id="contacts-panel"')
    contact = db.session.scalar(db.select(Contact))
    assert contact.email == "jo@example.org" and contact.is_primary
    response = client.post(f"/accounts/{customer.id}/contacts/{contact.id}",
                           data={"version": contact.version, "name": "Jo Bloggs-Smith"})
    assert response.status_code == 302
    assert db.session.get(Contact, contact.id).name == "Jo Bloggs-Smith"
    assert client.post(f"/accounts/{customer.id}/contacts/{contact.id}/delete").status_code == 302
    assert count_rows(db, Contact) == 0
    actions = [e.action for e in AuditEntry.for_subject("customer", customer.id)
               if e.entity_type == "contacts"]
    assert actions == ["delete", "update", "create"]


def test_contacts__one_primary_at_a_time(client, login, db):
    """Does making a contact primary make the previous primary an ordinary contact?"""
    login("sales")
    customer = make_customer()
    client.post(f"/accounts/{customer.id}/contacts", data={"name": "A", "is_primary": "y"})
    client.post(f"/accounts/{customer.id}/contacts", data={"name": "B", "is_primary": "y"})
    primaries = [c.name for c in db.session.scalars(db.select(Contact)) if c.is_primary]
    assert primaries == ["B"]


def test_contacts__bad_input_and_foreign_contact(client, login, db):
    """Is an empty name 422, and another customer's contact a 404, both writing nothing?"""
    login("sales")
    mine, other = make_customer(), make_customer()
    db.session.add(Contact(customer=other, name="Theirs"))
    db.session.commit()
    theirs = db.session.scalar(db.select(Contact))
    before = snapshot(db)
    assert client.post(f"/accounts/{mine.id}/contacts", data={"name": ""}).status_code == 422
    assert client.post(f"/accounts/{mine.id}/contacts", data={"name": "x", "email": "nope"}).status_code == 422
    assert client.post(f"/accounts/{mine.id}/contacts/{theirs.id}/delete").status_code == 404
    assert client.post(f"/accounts/{mine.id}/contacts/{theirs.id}",
                       data={"name": "Hijack", "version": "1"}).status_code == 404
    assert snapshot(db) == before


def test_contacts__operations_may_not_change_them(client, login, db):
    """Is operations refused (403) adding or removing contacts?"""
    login("operations")
    customer = make_customer()
    before = snapshot(db)
    assert client.post(f"/accounts/{customer.id}/contacts", data={"name": "X"}).status_code == 403
    assert snapshot(db) == before
