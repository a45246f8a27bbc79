"""Customers in the browser: live search, creating (with the duplicate warning), editing
the two facets in place, bad input, the quick finder, contacts, and the README picture.

Every test runs at desk and phone width; every page or state it reaches is checked by axe.
"""

import re
from decimal import Decimal

from playwright.sync_api import expect
from sqlalchemy import select

from tests.browser.conftest import SCREENSHOTS, check_a11y, screenshot, sign_in_as
from tests.helpers import business_rows, make_customer


def _fresh(db):
    """The test's own session, ready to read what the server has committed since."""
    db.session.rollback()
    return db.session


def _mark_document(page) -> None:
    """Tag the live document: the tag survives htmx swaps and is lost on a full load."""
    page.evaluate("window.__tandemNoReload = true")


def _assert_not_reloaded(page) -> None:
    assert page.evaluate("window.__tandemNoReload === true"), "the page was reloaded"


def _edit_link(page, panel: str):
    return page.locator(f"#{panel}-panel .panel-head a.button")




def _customer_path(customer) -> str:
    return f"/accounts/{customer.id}"


# --- 1. Live search ------------------------------------------------------------------------


def test_customer_search__narrows_live(page, viewport, users):
    """Does typing in the search box narrow the list live, put ?q= in the URL and survive a reload?"""
    make_customer(name="Acme Widgets", city="Leeds")
    make_customer(name="Acme Tools", city="York")
    make_customer(name="Bristol Bakery", city="Bristol")
    sign_in_as(page, "sales")
    page.goto("/accounts/")
    rows = page.locator("#results tbody tr")
    expect(rows).to_have_count(3)
    check_a11y(page)

    _mark_document(page)
    page.fill("#q", "acme")
    expect(rows).to_have_count(2)
    expect(page.locator("#results")).to_contain_text("Acme Widgets")
    expect(page.locator("#results")).to_contain_text("Acme Tools")
    expect(page.locator("#results")).not_to_contain_text("Bristol Bakery")
    expect(page).to_have_url(re.compile(r"/accounts/\?(.*&)?q=acme(&|$)"))
    _assert_not_reloaded(page)
    check_a11y(page)
    screenshot(page, "accounts-search", viewport)

    page.reload()
    expect(page.locator("#q")).to_have_value("acme")
    expect(rows).to_have_count(2)
    expect(page.locator("#results")).to_contain_text("Acme Widgets")
    expect(page.locator("#results")).to_contain_text("Acme Tools")
    expect(page.locator("#results")).not_to_contain_text("Bristol Bakery")
    check_a11y(page)

    page.fill("#q", "zzz-nothing")
    expect(page.locator("#results .empty")).to_contain_text("No customer matches")
    expect(page).to_have_url(re.compile(r"q=zzz-nothing"))
    check_a11y(page)


def _fill_new_customer(page, **fields):
    """Type into the new-customer form, field id -> value."""
    for field_id, value in fields.items():
        page.fill(f"#{field_id}", value)


# --- 2. Creating a customer ------------------------------------------------------------------


def test_create_customer__lands_on_its_page(page, viewport, users, db):
    """Can sales create a customer from the form and land on the new customer's page?"""
    from models import Customer

    sign_in_as(page, "sales")
    page.goto("/accounts/new")
    expect(page.locator("h1")).to_have_text("New customer")
    check_a11y(page)

    _fill_new_customer(page, name="Northwind Traders", email="orders@northwind.example.org",
                       phone="+44 117 496 0000", street="1 Harbour Road", postal_code="BS1 4RN",
                       city="Bristol", country="United Kingdom")
    page.select_option("#lifecycle", "prospect")
    page.fill("#source", "Trade fair")
    expect(page.locator("#duplicate-check")).not_to_contain_text("may be a customer")
    page.get_by_role("button", name="Create customer").click()

    expect(page).to_have_url(re.compile(r"/accounts/\d+$"))
    expect(page.locator("h1")).to_have_text("Northwind Traders")
    expect(page.locator(".flashes")).to_contain_text("Northwind Traders is created.")
    expect(page.locator("#identity-panel")).to_contain_text("orders@northwind.example.org")
    expect(page.locator("#identity-panel")).to_contain_text("Bristol")
    expect(page.locator("#relationship-panel")).to_contain_text("Sam Sales")
    expect(page.locator("#relationship-panel")).to_contain_text("Prospect")
    expect(page.locator("#history-panel")).to_contain_text("created")
    check_a11y(page)
    screenshot(page, "accounts-created", viewport)

    customer = _fresh(db).scalars(select(Customer)).one()
    assert customer.name == "Northwind Traders"
    assert page.url.endswith(f"/accounts/{customer.id}")


def test_create_customer__warns_of_duplicate_then_saves_anyway(page, viewport, users, db):
    """Does typing an existing customer's name warn live, and does "Save anyway" then create it?"""
    from models import Customer

    existing = make_customer(name="Acme Widgets", email="sales@acme.example.org")
    sign_in_as(page, "sales")
    page.goto("/accounts/new")
    warning = page.locator("#duplicate-check .warning")
    expect(warning).to_have_count(0)

    page.fill("#name", "ACME widgets")
    expect(warning).to_contain_text("This may be a customer we already have")
    expect(warning.get_by_role("link", name="Acme Widgets")).to_have_attribute(
        "href", _customer_path(existing)
    )
    expect(warning).to_contain_text("same name")
    check_a11y(page)

    page.fill("#city", "Leeds")
    page.get_by_role("button", name="Create customer").click()
    save_anyway = page.get_by_role("button", name="Save anyway")
    expect(save_anyway).to_be_visible()
    expect(page).to_have_url(re.compile(r"/accounts/new$"))
    expect(page.locator("#duplicate-check")).to_contain_text(
        "This may be a customer we already have"
    )
    expect(page.locator("#name")).to_have_value("ACME widgets")
    expect(page.locator("#city")).to_have_value("Leeds")
    check_a11y(page)
    screenshot(page, "accounts-duplicate", viewport)
    assert len(_fresh(db).scalars(select(Customer)).all()) == 1

    save_anyway.click()
    expect(page).to_have_url(re.compile(r"/accounts/\d+$"))
    expect(page.locator("h1")).to_have_text("ACME widgets")
    expect(page.locator(".flashes")).to_contain_text("is created.")
    check_a11y(page)
    names = sorted(c.name for c in _fresh(db).scalars(select(Customer)).all())
    assert names == ["ACME widgets", "Acme Widgets"]
    assert not page.url.endswith(_customer_path(existing))


# --- 3. and 4. Editing the facets ---------------------------------------------------------------


def test_relationship_edit__updates_panel_and_history_in_place(page, viewport, users):
    """Can sales edit tags and lifecycle in place, and see the panel and a new history entry without a reload?"""
    customer = make_customer(name="Globex", owner=users["sales"])
    sign_in_as(page, "sales")
    page.goto(_customer_path(customer))
    panel = page.locator("#relationship-panel")
    history = page.locator("#history-panel .history > li")
    expect(panel).to_contain_text("Lead")
    entries_before = history.count()
    check_a11y(page)

    _mark_document(page)
    _edit_link(page, "relationship").click()
    expect(panel.locator("form")).to_be_visible()
    expect(page.locator("#lifecycle")).to_have_value("lead")
    check_a11y(page)

    page.select_option("#lifecycle", "customer")
    page.fill("#tags", "wholesale, vip")
    page.select_option("#rating", "4")
    page.fill("#notes", "Prefers calls before noon.")
    panel.get_by_role("button", name="Save").click()

    expect(panel.locator("form")).to_have_count(0)
    expect(panel.locator(".tag")).to_have_count(2)
    expect(panel).to_contain_text("wholesale")
    expect(panel).to_contain_text("vip")
    expect(panel.locator("dd").nth(1)).to_have_text("Customer")
    expect(panel).to_contain_text("Prefers calls before noon.")
    expect(panel.get_by_label("4 of 5 stars")).to_be_visible()
    expect(history).to_have_count(entries_before + 1)
    newest = history.first
    expect(newest).to_contain_text("sales@example.test")
    expect(newest).to_contain_text("changed the relationship")
    expect(newest).to_contain_text("lifecycle")
    expect(newest.locator("ins").first).to_be_visible()
    expect(_edit_link(page, "relationship")).to_be_visible()
    _assert_not_reloaded(page)
    check_a11y(page)
    screenshot(page, "accounts-relationship-saved", viewport)


def test_financial_edit__finance_only(page, viewport, users):
    """Can finance change the credit limit while the relationship stays read-only, and is the financial panel read-only for sales?"""
    customer = make_customer(name="Initech", credit_limit="1000.00", owner=users["sales"])
    sign_in_as(page, "finance")
    page.goto(_customer_path(customer))
    financial = page.locator("#financial-panel")
    expect(financial).to_contain_text("1,000.00")
    expect(_edit_link(page, "relationship")).to_have_count(0)
    expect(_edit_link(page, "financial")).to_be_visible()
    check_a11y(page)

    _mark_document(page)
    _edit_link(page, "financial").click()
    expect(page.locator("#credit_limit")).to_have_value("1000.00")
    check_a11y(page)
    page.fill("#credit_limit", "12,500.50")
    financial.get_by_role("button", name="Save").click()

    expect(financial.locator("form")).to_have_count(0)
    expect(financial).to_contain_text("12,500.50")
    newest = page.locator("#history-panel .history > li").first
    expect(newest).to_contain_text("finance@example.test")
    expect(newest).to_contain_text("changed the financial account")
    expect(newest).to_contain_text("credit limit")
    _assert_not_reloaded(page)
    expect(_edit_link(page, "relationship")).to_have_count(0)
    check_a11y(page)
    screenshot(page, "accounts-financial-saved", viewport)

    page.context.clear_cookies()
    sign_in_as(page, "sales")
    page.goto(_customer_path(customer))
    expect(financial).to_contain_text("12,500.50")
    expect(_edit_link(page, "financial")).to_have_count(0)
    expect(financial.locator("form, input, select, textarea, button")).to_have_count(0)
    expect(_edit_link(page, "relationship")).to_be_visible()
    check_a11y(page)
    screenshot(page, "accounts-financial-readonly", viewport)


# --- 5. Bad input -------------------------------------------------------------------------------


def test_financial_edit__bad_credit_limit_is_explained_and_not_saved(page, viewport, users, db):
    """Does a credit limit of "abc" get a message next to the field, keep the input, and save nothing?"""
    customer = make_customer(name="Umbrella", credit_limit="750.00")
    sign_in_as(page, "finance")
    page.goto(_customer_path(customer))
    financial = page.locator("#financial-panel")
    history = page.locator("#history-panel .history > li")
    entries_before = history.count()

    _edit_link(page, "financial").click()
    expect(page.locator("#credit_limit")).to_have_value("750.00")
    before = business_rows(db)
    page.fill("#credit_limit", "abc")
    financial.get_by_role("button", name="Save").click()

    error = page.locator("#credit_limit-error")
    expect(error).to_have_text("Enter a number, like 1250.00.")
    field = page.locator("#credit_limit")
    expect(field).to_have_value("abc")
    expect(field).to_have_attribute("aria-invalid", "true")
    expect(field).to_have_attribute("aria-describedby", re.compile(r"\bcredit_limit-error\b"))
    # Next to the field: in the same field wrapper, right after the input.
    expect(
        page.locator(".field.invalid:has(#credit_limit) > #credit_limit + p.error")
    ).to_have_count(1)
    expect(history).to_have_count(entries_before)
    check_a11y(page)
    screenshot(page, "accounts-financial-invalid", viewport)

    assert business_rows(db) == before
    saved = _fresh(db).get(type(customer), customer.id)
    assert saved.account.credit_limit == Decimal("750.00")
    page.reload()
    expect(financial).to_contain_text("750.00")
    expect(financial.locator("form")).to_have_count(0)


# --- 6. Quick finder ----------------------------------------------------------------------------


def test_quickfind__opens_the_chosen_customer(page, viewport, users):
    """Does typing a few letters in the top bar's finder offer customers, and does choosing one open it?"""
    wanted = make_customer(name="Stark Industries", city="Leeds")
    make_customer(name="Starling Farms", city="York")
    make_customer(name="Wayne Enterprises", city="Bath")
    sign_in_as(page, "operations")
    finder = page.locator("#quickfind-q")
    expect(finder).to_be_visible()
    check_a11y(page)

    finder.fill("star")
    options = page.locator("#quickfind-options a")
    expect(options).to_have_count(2)
    expect(options.first).to_contain_text("Stark Industries")
    expect(page.locator("#quickfind-options")).not_to_contain_text("Wayne")
    check_a11y(page)
    screenshot(page, "accounts-quickfind", viewport)

    page.locator("#quickfind-options").get_by_role(
        "link", name=re.compile("Stark Industries")
    ).click()
    expect(page).to_have_url(re.compile(rf"/accounts/{wanted.id}$"))
    expect(page.locator("h1")).to_have_text("Stark Industries")
    check_a11y(page)

    finder.fill("nothing like it")
    expect(page.locator("#quickfind-options")).to_contain_text("No customer matches")
    expect(options).to_have_count(0)


def test_quickfind__works_from_the_keyboard(page, viewport, users):
    """Can the finder be used without a mouse: arrow into the options, Escape to close?"""
    wanted = make_customer(name="Stark Industries")
    make_customer(name="Starling Farms")
    sign_in_as(page, "sales")
    finder = page.locator("#quickfind-q")
    finder.fill("star")
    options = page.locator("#quickfind-options a")
    expect(options).to_have_count(2)
    check_a11y(page)
    finder.press("ArrowDown")
    expect(options.first).to_be_focused()
    options.first.press("ArrowDown")
    expect(options.nth(1)).to_be_focused()
    options.nth(1).press("ArrowUp")
    expect(options.first).to_be_focused()
    options.first.press("Escape")
    expect(options).to_have_count(0)
    expect(finder).to_be_focused()
    finder.fill("stark")
    expect(options).to_have_count(1)
    finder.press("ArrowDown")
    options.first.press("Enter")
    expect(page).to_have_url(re.compile(rf"/accounts/{wanted.id}$"))
    check_a11y(page)
    screenshot(page, "accounts-quickfind-keyboard", viewport)


# --- 7. Contacts --------------------------------------------------------------------------------


def test_contacts__add_edit_remove_inline(page, viewport, users):
    """Can sales add, edit and remove a contact inside the contacts panel without a reload?"""
    customer = make_customer(name="Hooli", owner=users["sales"])
    sign_in_as(page, "sales")
    page.goto(_customer_path(customer))
    panel = page.locator("#contacts-panel")
    history = page.locator("#history-panel .history > li")
    expect(panel).to_contain_text("No contacts yet.")
    entries = history.count()
    _mark_document(page)

    panel.get_by_role("link", name="Add contact").click()
    expect(panel.locator("form")).to_be_visible()
    expect(panel.get_by_role("link", name="Add contact")).to_have_count(0)
    check_a11y(page)
    panel.get_by_label("Name").fill("Gavin Belson")
    panel.get_by_label("Job title").fill("CEO")
    panel.get_by_label("Email").fill("Gavin@Hooli.example.org")
    panel.get_by_label("Phone").fill("+1 650 555 0100")
    panel.get_by_label("Primary contact").check()
    panel.get_by_role("button", name="Save contact").click()

    contact = panel.locator("ul.contacts > li")
    expect(panel.locator("form.contact-form")).to_have_count(0)
    expect(contact).to_have_count(1)
    expect(contact).to_contain_text("Gavin Belson")
    expect(contact).to_contain_text("CEO")
    expect(contact).to_contain_text("gavin@hooli.example.org")
    expect(contact.locator(".badge")).to_have_text("Primary")
    expect(history).to_have_count(entries + 1)
    expect(history.first).to_contain_text("created a contact")
    check_a11y(page)
    screenshot(page, "accounts-contact-added", viewport)

    contact.get_by_role("link", name="Edit Gavin Belson").click()
    expect(panel.get_by_label("Job title")).to_have_value("CEO")
    check_a11y(page)
    panel.get_by_label("Job title").fill("Chief Innovation Officer")
    panel.get_by_role("button", name="Save contact").click()
    expect(panel.locator("form.contact-form")).to_have_count(0)
    expect(contact).to_contain_text("Chief Innovation Officer")
    expect(history).to_have_count(entries + 2)
    expect(history.first).to_contain_text("changed a contact")
    expect(history.first).to_contain_text("Chief Innovation Officer")
    check_a11y(page)

    page.once("dialog", lambda dialog: dialog.accept())
    contact.get_by_role("button", name="Remove Gavin Belson").click()
    expect(panel).to_contain_text("No contacts yet.")
    expect(contact).to_have_count(0)
    expect(history).to_have_count(entries + 3)
    expect(history.first).to_contain_text("removed a contact")
    _assert_not_reloaded(page)
    check_a11y(page)
    screenshot(page, "accounts-contact-removed", viewport)


def test_contacts__dismissed_confirm_keeps_contact(page, viewport, users):
    """Does dismissing the remove confirmation keep the contact?"""
    from models import Contact, db

    customer = make_customer(name="Pied Piper")
    db.session.add(Contact(customer=customer, name="Richard Hendricks", job_title="CEO"))
    db.session.commit()
    sign_in_as(page, "finance")
    page.goto(_customer_path(customer))
    panel = page.locator("#contacts-panel")
    messages = []

    def dismiss(dialog):
        messages.append(dialog.message)
        dialog.dismiss()

    page.once("dialog", dismiss)
    panel.get_by_role("button", name="Remove Richard Hendricks").click()
    expect(panel).to_contain_text("Richard Hendricks")
    assert messages == ["Remove Richard Hendricks from Pied Piper?"]
    check_a11y(page)
    page.reload()
    expect(panel).to_contain_text("Richard Hendricks")


# --- 8. The README picture ----------------------------------------------------------------------


def _add_contact(page, name: str, job_title: str, email: str, primary: bool = False) -> None:
    panel = page.locator("#contacts-panel")
    panel.get_by_role("link", name="Add contact").click()
    panel.get_by_label("Name").fill(name)
    panel.get_by_label("Job title").fill(job_title)
    panel.get_by_label("Email").fill(email)
    if primary:
        panel.get_by_label("Primary contact").check()
    panel.get_by_role("button", name="Save contact").click()
    expect(panel.locator("ul.contacts")).to_contain_text(name)


def test_readme_screenshot__customer_page(page, viewport, users):
    """Does a customer worked on by sales and finance show contacts and history for the README picture?"""
    if viewport != "desk":
        return  # one picture, at desk width (a skipped test would fail CI)

    sign_in_as(page, "sales")
    page.goto("/accounts/new")
    _fill_new_customer(page, name="Harbourside Coffee Roasters",
                       email="hello@harbourside.example.org", phone="+44 117 496 0123",
                       street="12 Wapping Wharf", postal_code="BS1 4RH", city="Bristol",
                       country="United Kingdom", source="Trade fair 2024")
    page.get_by_role("button", name="Create customer").click()
    expect(page.locator("h1")).to_have_text("Harbourside Coffee Roasters")
    customer_url = page.url

    _add_contact(page, "Imogen Shaw", "Head buyer", "imogen@harbourside.example.org", True)
    _add_contact(page, "Tom Okafor", "Accounts payable", "accounts@harbourside.example.org")
    relationship = page.locator("#relationship-panel")
    _edit_link(page, "relationship").click()
    page.select_option("#lifecycle", "customer")
    page.fill("#tags", "wholesale, specialty, weekly order")
    page.select_option("#rating", "5")
    page.fill("#notes", "Roasts on Tuesdays; deliver before 9am.")
    relationship.get_by_role("button", name="Save").click()
    expect(relationship.locator(".tag")).to_have_count(3)

    page.context.clear_cookies()
    sign_in_as(page, "finance")
    page.goto(customer_url)
    financial = page.locator("#financial-panel")
    _edit_link(page, "financial").click()
    page.fill("#credit_limit", "15000")
    page.select_option("#payment_terms_days", "14")
    page.fill("#tax_id", "GB123456789")
    financial.get_by_role("button", name="Save").click()
    expect(financial).to_contain_text("15,000.00")
    expect(financial).to_contain_text("Net 14 days")

    page.goto(customer_url)  # a fresh page: up-to-date header, no flash, no open form
    expect(page.locator("#contacts-panel ul.contacts > li")).to_have_count(2)
    history = page.locator("#history-panel .history > li")
    expect(history.first).to_contain_text("finance@example.test changed the financial account")
    expect(history.nth(1)).to_contain_text("sales@example.test changed the relationship")
    check_a11y(page)
    # Saved with the other screenshots (git-ignored); copy it to docs/ to refresh the README.
    screenshot(page, "readme-customer", viewport)
    assert (SCREENSHOTS / f"readme-customer-{viewport}.png").stat().st_size > 10_000
