"""Quote to order in the browser: at desk width a quote of three lines built from a deal
(totals follow each change in place), its PDF, sending it through a loopback mail server,
acceptance into a sales order and a partial shipment; on a phone, a rep sees an order's
delivery from the deal and builds a three-line quote with lines shown as cards.

Every page a test reaches is checked by axe.
"""

import io
from decimal import Decimal

from playwright.sync_api import expect
from pypdf import PdfReader
from sqlalchemy import select

from tests.browser.conftest import check_a11y, screenshot, sign_in_as
from tests.helpers import make_customer, make_deal
from tests.mailserver import smtp_server  # noqa: F401  (the fixture)
from tests.sales.factories import make_order, make_product, make_tax_rate, stock

PHONE_WIDTH = 390
CONTACT_EMAIL = "jana.koehler@example.com"


def _fresh(db):
    """The test's own session, ready to read what the server has committed since."""
    db.session.rollback()
    db.session.expire_all()
    return db.session


def _stages(db) -> dict:
    from models.pipeline import ensure_stages

    stages = {s.name: s for s in ensure_stages()}
    db.session.commit()
    return stages


def _customer_with_contact(db, name: str):
    """A customer whose primary contact has an address the quote mail can go to."""
    from models.customers import Contact

    customer = make_customer(name=name)
    db.session.add(Contact(customer=customer, name="Jana Köhler", email=CONTACT_EMAIL,
                           is_primary=True))
    db.session.commit()
    return customer


def _seed_quotable(db, owner, title: str):
    """A Proposal deal of `owner`'s, two stocked products at 20% tax with 10 on hand
    each, and that tax rate (for the service line)."""
    vat = make_tax_rate("VAT 20%", "20")
    for sku, name in (("DSK-100", "Standing desk"), ("CHR-200", "Task chair")):
        stock(make_product(sku, name=name, cost="12.00", tax_rate=vat), "10", "12.00")
    deal = make_deal(db, _stages(db), title=title, stage="Proposal", owner=owner,
                     customer=_customer_with_contact(db, "Harbour Offices Ltd"))
    return deal, vat


def _no_horizontal_scroll(page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE_WIDTH + 1, f"the page scrolls sideways: {width}px wide"


def _mark_document(page) -> None:
    page.evaluate("window.__tandemNoReload = true")


def _assert_in_place(page, url: str) -> None:
    """The last change was swapped into this document: no navigation, no reload."""
    assert page.url == url, f"navigated to {page.url}"
    assert page.evaluate("window.__tandemNoReload === true"), "the page was reloaded"


def _type_sku(page, sku: str) -> None:
    """Type the start of a SKU, wait for the catalog's suggestion, then take it."""
    field = page.locator("#sku")
    field.press_sequentially(sku[:3], delay=30)
    expect(page.locator(f'#sku-options option[value="{sku}"]')).to_have_count(1)
    field.fill(sku)


def _add_line(page, *, sku="", description="", quantity="1", price="", discount="",
              tax_rate_id=None) -> None:
    if sku:
        _type_sku(page, sku)
    if description:
        page.fill("#description", description)
    page.fill("#quantity", quantity)
    if price:
        page.fill("#unit_price", price)
    if discount:
        page.fill("#discount_percent", discount)
    if tax_rate_id is not None:
        page.select_option("#tax_rate_id", value=str(tax_rate_id))
    page.get_by_role("button", name="Add line").click()


def _expect_totals(page, currency: str, net: str, total: str) -> None:
    expect(page.locator("#quote-net")).to_have_text(f"{currency} {net}")
    expect(page.locator("#quote-total")).to_have_text(f"{currency} {total}")


def _expect_sent(page) -> None:
    """The quote went out. Its lines were changed in place just before, so this also
    proves the page's forms carry the quote's current version: a stale one is refused
    as "changed by someone else" (409), which the failure then quotes."""
    try:
        expect(page.locator("#quote-status")).to_have_text("Sent")
    except AssertionError as error:
        said = page.locator("main [role=alert]").all_inner_texts()
        raise AssertionError(f"the quote is not sent; the page says {said}") from error


def _start_quote(page, deal) -> None:
    """From the deal page, the "New quote" button: lands on the new draft."""
    page.goto(f"/pipeline/deals/{deal.id}")
    panel = page.locator("#quotes-orders")
    expect(panel).to_contain_text("No quote yet.")
    check_a11y(page)
    panel.get_by_role("button", name="New quote").click()
    expect(page.locator("#quote-status")).to_have_text("Draft")


def _pdf_text(page, href: str) -> str:
    response = page.request.get(href)
    assert response.ok and response.headers["content-type"] == "application/pdf"
    return _text_of(response.body())


def _text_of(data: bytes) -> str:
    return "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(data)).pages)


def _use_mail_server(monkeypatch, live_app, relay) -> None:
    """Point the live server's mail at the loopback relay (put back after the test)."""
    for key, value in {"TANDEM_SMTP_HOST": "127.0.0.1", "TANDEM_SMTP_PORT": relay.port,
                       "TANDEM_SMTP_SECURITY": "none", "TANDEM_SMTP_USER": "",
                       "TANDEM_MAIL_FROM": "Tandem Trading <quotes@tandem.example.com>"}.items():
        monkeypatch.setitem(live_app.config, key, value)


def test_desk__quote_from_a_deal_to_a_partial_shipment(page, viewport, users, db, live_app,
                                                      smtp_server, monkeypatch):  # noqa: F811
    """Can an admin build a three-line quote from a deal with the totals following each
    change in place, get its PDF, mail it, record the acceptance and ship part of the
    order, and see that on the order and the deal?"""
    if viewport != "desk":
        return  # the phone flows are the tests below
    from models.pipeline import Deal
    from models.sales import Quote, SalesOrder

    _use_mail_server(monkeypatch, live_app, smtp_server)
    deal, vat = _seed_quotable(db, users["sales"], "Office fit-out")
    currency = deal.customer.account.currency
    sign_in_as(page, "admin")
    _start_quote(page, deal)
    _expect_totals(page, currency, "0.00", "0.00")
    url = page.url
    _mark_document(page)

    _add_line(page, sku="DSK-100", quantity="4")
    _expect_totals(page, currency, "100.00", "120.00")
    _assert_in_place(page, url)
    _add_line(page, sku="CHR-200", quantity="2", discount="10")
    _expect_totals(page, currency, "145.00", "174.00")
    _assert_in_place(page, url)
    _add_line(page, description="Installation and setup", quantity="1", price="120.00",
              tax_rate_id=vat.id)
    _expect_totals(page, currency, "265.00", "318.00")
    _assert_in_place(page, url)
    rows = page.locator("#lines tbody tr")
    expect(rows).to_have_count(3)
    expect(rows.nth(1).locator("td.line-net")).to_have_text("45.00")
    expect(rows.nth(2)).to_contain_text("Installation and setup")
    check_a11y(page)

    page.get_by_role("link", name="Edit line 1").click()
    expect(page.locator("#line-form h3")).to_have_text("Edit line")
    expect(page.locator("#quantity")).to_have_value("4")
    check_a11y(page)
    page.fill("#quantity", "6")
    page.get_by_role("button", name="Save line").click()
    _expect_totals(page, currency, "315.00", "378.00")
    expect(rows.first.locator("td.line-net")).to_have_text("150.00")
    _assert_in_place(page, url)
    screenshot(page, "quote-lines", viewport)

    quote = _fresh(db).scalars(select(Quote)).one()
    assert quote.total == Decimal("378.00") and len(quote.lines) == 3
    pdf = _pdf_text(page, page.locator("#quote-pdf").get_attribute("href"))
    assert quote.number in pdf and "378.00" in pdf

    expect(page.locator("#to")).to_have_value(CONTACT_EMAIL)
    page.get_by_role("button", name="Send quote").click()
    _expect_sent(page)
    expect(page.locator("main")).to_contain_text(f"was sent to {CONTACT_EMAIL}")
    check_a11y(page)
    assert len(smtp_server.messages) == 1
    mail = smtp_server.messages[0]
    assert CONTACT_EMAIL in mail["To"] and quote.number in mail["Subject"]
    attachments = list(mail.iter_attachments())
    assert [(a.get_filename(), a.get_content_type()) for a in attachments] == \
        [(f"{quote.number}.pdf", "application/pdf")]
    assert quote.number in _text_of(attachments[0].get_content())

    page.fill("#customer_po", "PO-7781")
    page.get_by_role("button", name="Accept and create the order").click()
    expect(page.locator("#so-status")).to_have_text("Confirmed")
    expect(page.locator("#details")).to_contain_text("PO-7781")
    check_a11y(page)
    order = _fresh(db).scalars(select(SalesOrder)).one()
    expect(page.get_by_role("heading", level=1)).to_contain_text(order.number)
    assert db.session.get(Deal, deal.id).stage.outcome == "won"

    page.get_by_role("link", name="Ship", exact=True).click()
    desks = order.lines[0]
    expect(page.locator(f"#qty-{desks.id}")).to_have_value("6")
    check_a11y(page)
    page.fill(f"#qty-{desks.id}", "3")
    page.fill("#carrier", "DHL Express")
    page.fill("#tracking", "JD014600003")
    page.get_by_role("button", name="Record the shipment").click()
    expect(page.locator("#so-status")).to_have_text("Partially shipped")
    expect(page.locator("#so-delivery")).to_have_text("Shipped 6 of 9")
    shipments = page.locator("#shipments")
    expect(shipments).to_contain_text("JD014600003")
    slip = shipments.get_by_role("link", name="Packing slip")
    expect(slip).to_have_count(1)
    check_a11y(page)
    screenshot(page, "order-partly-shipped", viewport)
    shipment = _fresh(db).get(SalesOrder, order.id).shipments[0]
    assert shipment.number in _pdf_text(page, slip.get_attribute("href"))

    page.goto(f"/pipeline/deals/{deal.id}")
    expect(page.locator(f"#deal-order-{order.id}")).to_contain_text("Shipped 6 of 9")
    check_a11y(page)


def test_phone__rep_sees_the_orders_delivery_from_the_deal(page, viewport, users, db):
    """On a phone, does the rep's deal page say how much of its order has shipped and
    with which tracking reference, without scrolling sideways?"""
    if viewport != "phone":
        return  # the desk flow above shows the deal after shipping too
    from models import db as models_db
    from models.sales import ship

    product = make_product("ESP-200", name="Espresso machine, two groups", cost="1380.00")
    stock(product, "10", "1380.00")
    order = make_order(db, _stages(db), [(product, "5")], owner=users["sales"],
                       customer=make_customer(name="Harbour Cafés"))
    ship(order, {order.lines[0].id: Decimal(2)}, carrier="DHL", tracking="JD0146000999")
    models_db.session.commit()

    sign_in_as(page, "sales")
    page.goto(f"/pipeline/deals/{order.deal_id}")
    entry = page.locator(f"#deal-order-{order.id}")
    expect(entry).to_contain_text(order.number)
    expect(entry).to_contain_text("Partially shipped")
    expect(entry.locator(".delivery")).to_have_text("Shipped 2 of 5")
    expect(entry.locator(".tracking")).to_have_text("JD0146000999")
    _no_horizontal_scroll(page)
    check_a11y(page)
    screenshot(page, "deal-delivery", viewport)


def test_phone__rep_builds_a_three_line_quote(page, viewport, users, db):
    """On a phone, can a rep build a three-line quote with lines shown as cards, thumb-
    sized buttons and no sideways scrolling, and mark it sent?"""
    if viewport != "phone":
        return  # the desk build is the first test
    from models.sales import Quote

    deal, vat = _seed_quotable(db, users["sales"], "Café refit")
    currency = deal.customer.account.currency
    sign_in_as(page, "sales")
    _start_quote(page, deal)
    _no_horizontal_scroll(page)
    check_a11y(page)

    add = page.get_by_role("button", name="Add line")
    box = add.bounding_box()
    assert box["height"] >= 44, f"the Add line button is {box['height']}px tall"
    _add_line(page, sku="DSK-100", quantity="1")
    _expect_totals(page, currency, "25.00", "30.00")
    _add_line(page, sku="CHR-200", quantity="4", discount="5")
    _expect_totals(page, currency, "120.00", "144.00")
    _add_line(page, description="Delivery to site", quantity="1", price="40",
              tax_rate_id=vat.id)
    _expect_totals(page, currency, "160.00", "192.00")

    table = page.locator("table.quote-lines-table")
    expect(table.locator("thead")).to_be_hidden()
    rows = table.locator("tbody tr")
    expect(rows).to_have_count(3)
    for i in range(3):
        assert rows.nth(i).evaluate("r => getComputedStyle(r).display") == "block"
        assert rows.nth(i).bounding_box()["width"] <= PHONE_WIDTH
    _no_horizontal_scroll(page)
    check_a11y(page)
    screenshot(page, "quote-phone", viewport)

    page.get_by_role("button", name="Mark as sent without mail").click()
    _expect_sent(page)
    _no_horizontal_scroll(page)
    check_a11y(page)
    quote = _fresh(db).scalars(select(Quote)).one()
    assert quote.status == "sent" and quote.total == Decimal("192.00")
