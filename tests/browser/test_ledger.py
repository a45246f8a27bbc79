"""The books in the browser: finance invoices a shipped order (dated back, so it is
overdue), downloads its PDF and records the customer's payment; the sales rep sees the
overdue badge on the deal before the payment and not after. At desk width and on a
phone (390 x 844); every page reached is checked by axe."""

import io
from datetime import date, timedelta
from decimal import Decimal

from playwright.sync_api import expect
from pypdf import PdfReader
from sqlalchemy import select

from tests.browser.conftest import check_a11y, screenshot, sign_in_as
from tests.helpers import make_customer
from tests.ledger.factories import make_product, make_tax_rate, shipped_order

PHONE_WIDTH = 390


def _stages(db) -> dict:
    from models.pipeline import ensure_stages

    stages = {s.name: s for s in ensure_stages()}
    db.session.commit()
    return stages


def _sign_out(page) -> None:
    page.locator("summary", has_text="Menu").click()
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/login**")


def _no_horizontal_scroll(page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE_WIDTH + 1, f"the page scrolls sideways: {width}px wide"


def test_invoice_pay_and_the_overdue_badge_goes(page, viewport, users, db):
    """Can finance post a shipped order's invoice (dated 40 days back), get its PDF and
    record the payment, while the rep sees the deal's overdue badge before and not
    after?"""
    from models.invoicing import Invoice
    from models.ledger import ensure_chart

    ensure_chart()
    vat = make_tax_rate("VAT 20%", "20")
    desk = make_product("DSK-100", name="Standing desk", cost="120.00", tax_rate=vat)
    customer = make_customer(name="Harbour Offices Ltd", owner=users["sales"])
    order = shipped_order(db, _stages(db), [(desk, "2", "400.00")], customer=customer,
                          owner=users["sales"])
    deal_id = order.deal_id

    sign_in_as(page, "finance")
    page.goto(f"/orders/sales/{order.id}")
    page.get_by_role("button", name="Invoice what has shipped").click()
    expect(page.locator("#invoice-state")).to_have_text("Draft")
    check_a11y(page)
    page.fill("#issue_date", (date.today() - timedelta(days=40)).isoformat())
    page.get_by_role("button", name="Post EUR 960.00").click()
    expect(page.locator("#invoice-state")).to_contain_text("Overdue")
    check_a11y(page)
    if viewport == "phone":
        _no_horizontal_scroll(page)
    screenshot(page, "invoice-posted", viewport)
    db.session.rollback()
    invoice = db.session.scalars(select(Invoice)).one()
    response = page.request.get(page.locator("#invoice-pdf").get_attribute("href"))
    assert response.ok and response.headers["content-type"] == "application/pdf"
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(response.body())).pages)
    assert invoice.number in text and "960.00" in text and "Harbour Offices Ltd" in text
    _sign_out(page)

    sign_in_as(page, "sales")
    page.goto(f"/pipeline/deals/{deal_id}")
    expect(page.locator("#deal-overdue")).to_be_visible()
    expect(page.locator("#strip-overdue")).to_contain_text("960.00")
    check_a11y(page)
    if viewport == "phone":
        _no_horizontal_scroll(page)
    _sign_out(page)

    sign_in_as(page, "finance")
    page.goto(f"/ledger/invoices/{invoice.id}")
    page.get_by_role("link", name="Record a payment").click()
    expect(page.locator("#amount")).to_have_value("960.00")
    check_a11y(page)
    page.fill("#reference", "Harbour remittance 42")
    page.get_by_role("button", name="Record the payment").click()
    expect(page.locator("main")).to_contain_text("is recorded")
    expect(page.locator("#payment-open")).to_have_text("EUR 0.00")
    page.goto(f"/ledger/invoices/{invoice.id}")
    expect(page.locator("#invoice-state")).to_have_text("Paid")
    _sign_out(page)

    sign_in_as(page, "sales")
    page.goto(f"/pipeline/deals/{deal_id}")
    expect(page.locator("#strip-overdue")).to_contain_text("Nothing overdue")
    expect(page.locator("#deal-overdue")).to_have_count(0)
    expect(page.locator("#strip-payment")).to_contain_text("960.00")
    check_a11y(page)
    screenshot(page, "deal-paid", viewport)
    db.session.rollback()
    assert db.session.get(Invoice, invoice.id).open_amount == Decimal("0.00")
