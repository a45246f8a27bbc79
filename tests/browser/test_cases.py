"""Support cases in the browser: open a case for a customer chosen with the type-ahead,
comment in place, request a credit, and approve it as finance.

Runs at desk and phone width; every state it reaches is checked by axe.
"""

import re
from decimal import Decimal

from playwright.sync_api import expect
from sqlalchemy import select

from tests.browser.conftest import check_a11y, screenshot, sign_in_as
from tests.helpers import make_customer


def _fresh(db):
    """The test's own session, ready to read what the server has committed since."""
    db.session.rollback()
    db.session.expire_all()
    return db.session


def _mark_document(page) -> None:
    page.evaluate("window.__tandemNoReload = true")


def _assert_not_reloaded(page) -> None:
    assert page.evaluate("window.__tandemNoReload === true"), "the page was reloaded"


def test_case__open_comment_request_credit_and_approve(page, viewport, users, db):
    """Can sales open a case (type-ahead customer), comment and request a credit in place,
    and finance then approve the credit?"""
    from models import Contact, CreditRequest, SupportCase

    customer = make_customer(name="Harbour Lights Ltd")
    make_customer(name="Harbourside Bakery")
    db.session.add(Contact(customer=customer, name="Dana Ng"))
    db.session.commit()

    # 1. Open the case: pick the customer with the type-ahead, then its contact.
    sign_in_as(page, "sales")
    page.goto("/pipeline/cases/new")
    expect(page.locator("h1")).to_have_text("New case")
    check_a11y(page)
    page.fill("#case-customer-q", "harbour li")
    option = page.locator("#case-customer-options [data-pick-id]")
    expect(option).to_have_count(1)
    expect(option).to_contain_text("Harbour Lights Ltd")
    check_a11y(page)
    option.click()
    expect(page.locator("#case-customer-q")).to_have_value("Harbour Lights Ltd")
    expect(page.locator("#contact_id option", has_text="Dana Ng")).to_have_count(1)
    page.select_option("#contact_id", label="Dana Ng")
    page.fill("#subject", "Invoice shows the wrong address")
    page.fill("#description", "They moved in March.")
    page.select_option("#priority", "high")
    page.get_by_role("button", name="Open case").click()

    expect(page).to_have_url(re.compile(r"/pipeline/cases/\d+$"))
    expect(page.locator("h1")).to_contain_text("Invoice shows the wrong address")
    expect(page.locator("#case-head")).to_contain_text("Harbour Lights Ltd")
    expect(page.locator("#case-head")).to_contain_text("Dana Ng")
    expect(page.locator(".flashes")).to_contain_text("is opened")
    check_a11y(page)
    screenshot(page, "cases-opened", viewport)
    case = _fresh(db).scalars(select(SupportCase)).one()
    assert (case.customer_id, case.contact.name, case.priority) == (customer.id, "Dana Ng", "high")

    # 2. Comment in place: an empty one is refused beside the box, a real one is added.
    _mark_document(page)
    page.get_by_role("button", name="Add comment").click()
    expect(page.locator("#comments-panel .error")).to_have_text("Write a comment.")
    check_a11y(page)
    page.fill("#body", "Called Dana: new address is 3 Quay Street.")
    page.get_by_role("button", name="Add comment").click()
    expect(page.locator("#comments-panel .timeline")).to_contain_text("new address is 3 Quay Street")
    expect(page.locator("#comments-panel .timeline")).to_contain_text("Sam Sales")
    expect(page.locator("#body")).to_have_value("")
    expect(page.locator("#comments-panel .error")).to_have_count(0)
    _assert_not_reloaded(page)
    check_a11y(page)
    screenshot(page, "cases-commented", viewport)

    # 3. Request a credit in place (a bad amount first).
    page.fill("#amount", "-5")
    page.fill("#reason", "Goodwill for the late invoice")
    page.get_by_role("button", name="Request credit").click()
    expect(page.locator("#credits-panel .error")).to_have_text("Enter an amount above zero.")
    expect(page.locator("#reason")).to_have_value("Goodwill for the late invoice")
    check_a11y(page)
    page.fill("#amount", "120.00")
    page.get_by_role("button", name="Request credit").click()
    credit_item = page.locator("#credits-panel ul.credits li")
    expect(credit_item).to_contain_text("EUR 120.00")
    expect(credit_item).to_contain_text("Requested")
    expect(page.locator("#credits-panel").get_by_role("button", name=re.compile("Approve"))).to_have_count(0)
    _assert_not_reloaded(page)
    check_a11y(page)
    screenshot(page, "cases-credit-requested", viewport)
    credit = _fresh(db).scalars(select(CreditRequest)).one()
    assert (credit.amount, credit.status) == (Decimal("120.00"), "requested")

    # 4. Finance approves it with a note.
    case_url = page.url
    page.context.clear_cookies()
    sign_in_as(page, "finance")
    page.goto(case_url)
    check_a11y(page)
    _mark_document(page)
    page.fill(f"#note-{credit.id}", "Fine, goes on the next statement")
    page.locator("#credits-panel").get_by_role("button", name=re.compile("^Approve")).click()
    expect(credit_item).to_contain_text("Approved")
    expect(credit_item).to_contain_text("Fine, goes on the next statement")
    expect(credit_item).to_contain_text("approved by Fay Finance")
    expect(page.locator("#credits-panel").get_by_role("button", name=re.compile("Approve"))).to_have_count(0)
    _assert_not_reloaded(page)
    check_a11y(page)
    screenshot(page, "cases-credit-approved", viewport)
    credit = _fresh(db).get(CreditRequest, credit.id)
    assert credit.status == "approved" and credit.decided_by_id == users["finance"].id


def test_case_queue__filters_by_customer_with_the_type_ahead(page, viewport, users, db):
    """Does picking a customer in the queue's type-ahead narrow the list in place and put it in the URL?"""
    from models.cases import open_case

    acme, other = make_customer(name="Acme Widgets"), make_customer(name="Bristol Bakery")
    open_case(customer=acme, subject="Acme cannot log in")
    open_case(customer=other, subject="Bakery wants a refund", priority="urgent")
    db.session.commit()
    sign_in_as(page, "operations")
    page.goto("/pipeline/cases")
    rows = page.locator("#results tbody tr")
    expect(rows).to_have_count(2)
    check_a11y(page)
    _mark_document(page)
    page.fill("#case-customer-filter-q", "acme")
    page.locator("#case-customer-filter-options [data-pick-id]").first.click()
    expect(rows).to_have_count(1)
    expect(page.locator("#results")).to_contain_text("Acme cannot log in")
    expect(page).to_have_url(re.compile(rf"customer_id={acme.id}"))
    _assert_not_reloaded(page)
    check_a11y(page)
    screenshot(page, "cases-queue", viewport)


def test_pipeline_pages__reports_campaigns_and_contracts_pass_axe(page, viewport, users, db):
    """Do the reports, campaigns, campaign form and contract form render with data and pass axe?"""
    from datetime import date, timedelta

    from models import Campaign
    from models.contracts import Contract, save_contract
    from models.pipeline import create_deal, ensure_stages

    stages = {s.name: s for s in ensure_stages()}
    customer = make_customer(name="Report Customer")
    fair = Campaign(name="Spring Fair", channel="event", budget=Decimal("500.00"))
    db.session.add(fair)
    db.session.flush()
    create_deal(customer=customer, title="Open one", owner=None, stage=stages["Proposal"],
                amount=Decimal("1000.00"), expected_close=date.today() + timedelta(days=40),
                campaign=fair)
    create_deal(customer=customer, title="Won one", owner=None, stage=stages["Won"],
                amount=Decimal("250.00"), source="Referral")
    save_contract(Contract(), customer=customer, title="Support", starts_on=date(2025, 1, 1),
                  ends_on=date(2030, 1, 1), value=Decimal("1200.00"))
    db.session.commit()
    sign_in_as(page, "admin")

    page.goto("/pipeline/reports")
    expect(page.locator("h1")).to_have_text("Pipeline reports")
    expect(page.locator("svg[role=img]")).to_have_count(5)
    expect(page.locator("#forecast table")).to_contain_text("500.00")
    check_a11y(page)
    screenshot(page, "pipeline-reports", viewport)

    page.goto("/pipeline/campaigns")
    expect(page.locator("table.list")).to_contain_text("Spring Fair")
    expect(page.locator("table.list")).to_contain_text("EUR 1,000.00")
    check_a11y(page)
    screenshot(page, "pipeline-campaigns", viewport)

    page.get_by_role("link", name="New campaign").click()
    page.fill("#name", "spring fair")
    page.fill("#budget", "-3")
    page.get_by_role("button", name="Add campaign").click()
    expect(page.locator("#budget-error")).to_have_text("Enter zero or more.")
    expect(page.locator("#name")).to_have_value("spring fair")
    check_a11y(page)
    page.fill("#budget", "300")
    page.get_by_role("button", name="Add campaign").click()
    expect(page.locator("#name-error")).to_have_text("Another campaign has this name.")
    check_a11y(page)
    screenshot(page, "pipeline-campaign-invalid", viewport)

    page.goto(f"/pipeline/contracts/new?customer_id={customer.id}")
    page.fill("#title", "Hosting")
    page.fill("#starts_on", "2026-01-01")
    page.fill("#ends_on", "2025-01-01")
    page.fill("#value", "100")
    page.get_by_role("button", name="Add contract").click()
    expect(page.locator("#ends_on-error")).to_have_text("The contract must end after it starts.")
    check_a11y(page)
    screenshot(page, "pipeline-contract-invalid", viewport)
    page.fill("#ends_on", "2027-01-01")
    page.get_by_role("button", name="Add contract").click()
    expect(page).to_have_url(re.compile(rf"/accounts/{customer.id}$"))
