"""Invoices, credit notes, payments, bills and credit holds through the real app: who may
do what, the happy paths, the PDF read back, mail on a loopback server, every refusal a
clear 4xx with nothing written, and twenty postings at the same moment."""

import io
import re
import threading
from datetime import date, timedelta
from decimal import Decimal

import pytest
from pypdf import PdfReader
from sqlalchemy import func, select

from models import CompanySettings
from models.invoicing import Invoice, InvoicePdf
from models.payments import Payment
from models.sales import SalesOrder
from tests.conftest import PASSWORD, TandemClient, sign_in
from tests.helpers import business_rows, make_customer, statements_of
from tests.ledger.factories import (
    make_product,
    make_tax_rate,
    pay,
    posted_invoice,
    shipped_order,
)
from tests.mailserver import smtp_server  # noqa: F401 - the fixture

D = Decimal
YEAR = date.today().year


def key_in(html: str, form_id: str | None = None) -> str:
    if form_id:
        html = html[html.index(f'id="{form_id}"'):]
    return re.search(r'name="form_key" value="([^"]+)"', html).group(1)


def count(db, model) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model))


def pdf_text(data: bytes) -> str:
    reader = PdfReader(io.BytesIO(data))
    return "\n".join(page.extract_text() for page in reader.pages)


@pytest.fixture
def company(db):
    settings = CompanySettings(id=1, name="Tandem Test Ltd", address="1 High Street\nBristol",
                               tax_id="GB999", base_currency="EUR",
                               payment_instructions="IBAN GB00 TEST 0000 0000 00")
    db.session.add(settings)
    db.session.commit()
    return settings


@pytest.fixture
def order(db, stages, chart, company):
    vat = make_tax_rate(percent="20")
    widget = make_product("W-1", cost="4.00", tax_rate=vat)
    customer = make_customer(name="Acme Tools")
    customer.account.tax_id = "DE123"
    db.session.commit()
    return shipped_order(db, stages, [(widget, "3", "10.00")], customer=customer)


def _invoice_from_order(client, order) -> Invoice:
    page = client.get(f"/orders/sales/{order.id}").get_data(as_text=True)
    response = client.post(f"/ledger/orders/{order.id}/invoice",
                           data={"form_key": key_in(page, "invoice-order-form")})
    assert response.status_code == 302, response.get_data(as_text=True)
    invoice_id = int(response.headers["Location"].rsplit("/", 1)[1])
    from models import db

    return db.session.get(Invoice, invoice_id)


def _post(client, invoice, **fields):
    data = {"version": str(invoice.version), "issue_date": date.today().isoformat()}
    data.update(fields)
    return client.post(f"/ledger/invoices/{invoice.id}/post", data=data)


# --- From a shipped order to a posted invoice and its PDF --------------------------------

def test_order_to_invoice__finance_invoices_posts_and_the_pdf_says_it_all(
        client, login, db, order):
    """Can finance invoice what shipped from the order page, post it, and download a PDF
    with the legal essentials, archived at its first download?"""
    login("finance")
    draft = _invoice_from_order(client, order)
    assert draft.status == "draft" and [line.quantity for line in draft.lines] == [D("3")]
    waiting = client.get(f"/orders/sales/{order.id}").get_data(as_text=True)
    assert f'href="/ledger/invoices/{draft.id}">Open the draft invoice' in waiting
    response = _post(client, draft)
    assert response.status_code == 302
    db.session.expire_all()
    invoice = db.session.get(Invoice, draft.id)
    assert invoice.number == f"INV-{YEAR}-0001" and invoice.total_amount == D("36.00")
    page = client.get(f"/ledger/invoices/{invoice.id}").get_data(as_text=True)
    assert invoice.number in page and "Record a payment" in page
    first = client.get(f"/ledger/invoices/{invoice.id}.pdf")
    assert first.status_code == 200 and first.mimetype == "application/pdf"
    text = pdf_text(first.data)
    for expected in (invoice.number, "Tandem Test Ltd", "Tax id GB999", "Acme Tools",
                     "Tax id DE123", "36.00", "Tax 20% on 30.00", "6.00",
                     "IBAN GB00 TEST", invoice.due_date.strftime("%b %Y")):
        assert expected in text, expected
    assert db.session.get(InvoicePdf, invoice.id) is not None
    again = client.get(f"/ledger/invoices/{invoice.id}.pdf")
    assert again.data == first.data          # the archived legal copy, not a new render
    order_page = client.get(f"/orders/sales/{order.id}").get_data(as_text=True)
    assert invoice.number in order_page and "Invoiced" in order_page
    assert "Open the draft invoice" not in order_page


def test_invoice_pdf__a_long_invoice_paginates_with_page_numbers(client, login, db, chart,
                                                               company):
    """Does a 120-line invoice run over several pages, each numbered "Page N of M"?"""
    lines = [(f"Service item {n}", "1", "10.00") for n in range(120)]
    invoice = posted_invoice(db, lines=lines)
    login("finance")
    reader = PdfReader(io.BytesIO(client.get(f"/ledger/invoices/{invoice.id}.pdf").data))
    assert len(reader.pages) > 1
    last = reader.pages[-1].extract_text()
    assert f"Page {len(reader.pages)} of {len(reader.pages)}" in last
    assert "1,200.00" in last


def test_roles__sales_sees_invoices_but_posts_nothing(client, login, db, order):
    """May sales read an invoice and its PDF, but not post, pay or credit?"""
    invoice = posted_invoice(db, order=order)
    login("sales")
    page = client.get(f"/ledger/invoices/{invoice.id}")
    assert page.status_code == 200
    assert "Record a payment" not in page.get_data(as_text=True)
    assert client.get(f"/ledger/invoices/{invoice.id}.pdf").status_code == 200
    for url in (f"/ledger/invoices/{invoice.id}/post", f"/ledger/invoices/{invoice.id}/credit",
                "/ledger/payments/new", f"/ledger/orders/{order.id}/invoice"):
        assert client.post(url, data={}).status_code == 403, url
    assert client.get("/ledger/payments").status_code == 403


def test_post__refusals_are_clear_and_write_nothing(client, login, db, chart, company):
    """Are a future date, a posted invoice posted again, and a foreign invoice without a
    rate refused next to the field, writing nothing?"""
    from models.invoicing import add_invoice_line, create_invoice
    from models.sales import QuoteLineInput

    usd = create_invoice(make_customer(currency="USD"))
    add_invoice_line(usd, QuoteLineInput(product=None, description="Work", quantity=D(1),
                                         unit_price=D(100), use_product_tax=False))
    db.session.commit()
    login("finance")
    before = business_rows(db)
    future = _post(client, usd, issue_date=(date.today() + timedelta(days=3)).isoformat())
    assert future.status_code == 422 and "today or earlier" in future.get_data(as_text=True)
    norate = _post(client, usd)
    assert norate.status_code == 422
    assert "Enter the exchange rate: EUR per 1 USD" in norate.get_data(as_text=True)
    junk = _post(client, usd, exchange_rate="1e99999")
    assert junk.status_code == 422
    assert business_rows(db) == before
    assert _post(client, usd, exchange_rate="0.9").status_code == 302
    db.session.expire_all()
    posted = db.session.get(Invoice, usd.id)
    assert posted.total_base == D("90.00")
    again = _post(client, posted)
    assert again.status_code == 422 and "already posted" in again.get_data(as_text=True)


def test_posted_invoice__editing_is_refused_offering_a_credit_note(client, login, db, chart,
                                                                 company):
    """Is changing a posted invoice's details or lines refused with a pointer to a credit
    note, and deleting it too?"""
    invoice = posted_invoice(db, lines=[("Work", "1", "50.00")])
    login("finance")
    before = business_rows(db)
    header = client.post(f"/ledger/invoices/{invoice.id}/header", data={
        "version": str(invoice.version), "notes": "x", "customer_po": "",
        "payment_terms_days": "30"})
    assert header.status_code == 422 and "credit note" in header.get_data(as_text=True)
    line = client.post(f"/ledger/invoices/{invoice.id}/lines/{invoice.lines[0].id}/delete")
    assert line.status_code == 422 and "credit note" in line.get_data(as_text=True)
    gone = client.post(f"/ledger/invoices/{invoice.id}/delete")
    assert gone.status_code == 422
    assert business_rows(db) == before


def test_posted_invoice__page_reads_no_menus_for_the_draft_forms_it_hides(app, client, login,
                                                                        db, chart, company):
    """Does a posted invoice's page skip the draft's forms (no tax rates or income accounts
    read for a line form it does not show), while a draft's page still offers them?"""
    posted = posted_invoice(db, lines=[("Work", "1", "50.00")])
    login("finance")
    with app.app_context():
        engine = db.engine
    seen, page = statements_of(engine, lambda: client.get(f"/ledger/invoices/{posted.id}"))
    assert page.status_code == 200 and posted.number in page.get_data(as_text=True)
    assert seen and not [s for s in seen if "FROM tax_rates" in s or "FROM accounts" in s]
    assert 'id="line-form"' not in page.get_data(as_text=True)

    new = client.get("/ledger/invoices/new").get_data(as_text=True)
    made = client.post("/ledger/invoices/new", data={
        "customer_id": str(posted.customer_id), "form_key": key_in(new)})
    draft = client.get(made.headers["Location"]).get_data(as_text=True)
    assert 'id="line-form"' in draft and 'name="tax_rate_id"' in draft


def test_manual_invoice__pick_customer_add_lines_post(client, login, db, chart, company):
    """Can finance write an invoice by hand: pick the customer, add a described line and
    a product line, then post it?"""
    customer = make_customer(name="Walk-in Ltd")
    product = make_product("SVC-1", kind="service")
    login("finance")
    page = client.get("/ledger/invoices/new").get_data(as_text=True)
    response = client.post("/ledger/invoices/new", data={
        "customer_id": str(customer.id), "form_key": key_in(page)})
    assert response.status_code == 302
    invoice_id = int(response.headers["Location"].rsplit("/", 1)[1])
    url = f"/ledger/invoices/{invoice_id}"
    bad = client.post(f"{url}/lines", data={"description": "Setup", "quantity": "1,5",
                                           "unit_price": "100"})
    assert bad.status_code == 422 and "Use a point for decimals" in bad.get_data(as_text=True)
    assert client.post(f"{url}/lines", data={"description": "Setup fee", "quantity": "1",
                                             "unit_price": "100.00"}).status_code == 302
    assert client.post(f"{url}/lines", data={"sku": "SVC-1", "quantity": "2"}
                       ).status_code == 302
    db.session.expire_all()
    invoice = db.session.get(Invoice, invoice_id)
    assert len(invoice.lines) == 2 and invoice.lines[1].product_id == product.id
    assert _post(client, invoice).status_code == 302
    db.session.expire_all()
    assert db.session.get(Invoice, invoice_id).total_amount == D("150.00")


def test_draft_quantity__cannot_bill_more_than_shipped(client, login, db, order):
    """Is raising a draft line above what shipped and is not invoiced refused next to it?"""
    login("finance")
    draft = _invoice_from_order(client, order)
    line = draft.lines[0]
    response = client.post(f"/ledger/invoices/{draft.id}/lines/{line.id}",
                           data={"quantity": "4"})
    assert response.status_code == 422 and "At most 3" in response.get_data(as_text=True)
    assert client.post(f"/ledger/invoices/{draft.id}/lines/{line.id}",
                       data={"quantity": "2"}).status_code == 302
    db.session.expire_all()
    assert db.session.get(Invoice, draft.id).lines[0].quantity == D("2")


# --- Payments ----------------------------------------------------------------------------

def _payment_form(client, customer, invoice=None):
    url = f"/ledger/payments/new?customer_id={customer.id}"
    if invoice is not None:
        url += f"&invoice_id={invoice.id}"
    page = client.get(url).get_data(as_text=True)
    return {"customer_id": str(customer.id), "payment_date": date.today().isoformat(),
            "account_id": re.search(r'<option (?:selected )?value="(\d+)"', page[
                page.index('id="account_id"'):]).group(1),
            "method": "bank_transfer", "form_key": key_in(page)}, page


def test_payment__recorded_oldest_first_and_a_double_submit_records_one(client, login, db,
                                                                      chart, company):
    """Does a payment typed with no allocations settle the oldest invoice first, and does
    posting the same form twice record one payment?"""
    customer = make_customer()
    old = posted_invoice(db, customer=customer, lines=[("A", "1", "40.00")],
                         issue_date=date.today() - timedelta(days=45))
    new = posted_invoice(db, customer=customer, lines=[("B", "1", "60.00")])
    login("finance")
    data, page = _payment_form(client, customer)
    assert old.number in page and new.number in page
    data["amount"] = "50.00"
    first = client.post("/ledger/payments/new", data=data)
    second = client.post("/ledger/payments/new", data=data)
    assert first.status_code == 302 and second.status_code == 302
    assert second.headers["Location"] == first.headers["Location"]
    assert count(db, Payment) == 1
    db.session.expire_all()
    assert db.session.get(Invoice, old.id).open_amount == 0
    assert db.session.get(Invoice, new.id).open_amount == D("50.00")


def test_payment__over_allocation_is_refused_next_to_the_invoice(client, login, db, chart,
                                                               company):
    """Is allocating more than an invoice's open amount, or more than the payment,
    answered next to the field with nothing written?"""
    invoice = posted_invoice(db, lines=[("A", "1", "40.00")])
    login("finance")
    data, _ = _payment_form(client, invoice.customer, invoice)
    before = business_rows(db)
    too_much = client.post("/ledger/payments/new", data=data | {
        "amount": "100.00", f"alloc-{invoice.id}": "45.00"})
    body = too_much.get_data(as_text=True)
    assert too_much.status_code == 422 and "has only EUR 40.00 open" in body
    over = client.post("/ledger/payments/new", data=data | {
        "amount": "30.00", f"alloc-{invoice.id}": "40.00"})
    assert over.status_code == 422 and "more than the" in over.get_data(as_text=True)
    junk = client.post("/ledger/payments/new", data=data | {"amount": "lots"})
    assert junk.status_code == 422 and "Enter a number" in junk.get_data(as_text=True)
    assert business_rows(db) == before


def test_payment__overpayment_becomes_credit_used_later(client, login, db, chart, company):
    """Does an overpayment show as the customer's credit, and can finance use it on the
    next invoice from the payment page?"""
    customer = make_customer()
    posted_invoice(db, customer=customer, lines=[("A", "1", "40.00")])
    payment = pay(db, customer, "100.00")
    assert payment.open_amount == D("60.00")
    later = posted_invoice(db, customer=customer, lines=[("B", "1", "25.00")])
    login("finance")
    page = client.get(f"/ledger/payments/{payment.id}").get_data(as_text=True)
    assert later.number in page
    response = client.post(f"/ledger/payments/{payment.id}/allocate",
                           data={f"alloc-{later.id}": "25.00"})
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Invoice, later.id).state == "paid"
    assert db.session.get(Payment, payment.id).open_amount == D("35.00")


# --- Credit notes ------------------------------------------------------------------------

def test_credit_note__from_some_lines_via_the_form(client, login, db, chart, company):
    """Can finance credit one of two lines, with too much refused next to the line?"""
    invoice = posted_invoice(db, lines=[("A", "2", "50.00"), ("B", "1", "30.00")])
    first, second = invoice.lines
    login("finance")
    page = client.get(f"/ledger/invoices/{invoice.id}/credit").get_data(as_text=True)
    data = {"form_key": key_in(page), "reason": "Returned", f"qty-{first.id}": "3",
            f"qty-{second.id}": ""}
    refused = client.post(f"/ledger/invoices/{invoice.id}/credit", data=data)
    assert refused.status_code == 422
    assert "Only 2" in refused.get_data(as_text=True)
    page = client.get(f"/ledger/invoices/{invoice.id}/credit").get_data(as_text=True)
    made = client.post(f"/ledger/invoices/{invoice.id}/credit", data=data | {
        "form_key": key_in(page), f"qty-{first.id}": "1"})
    assert made.status_code == 302 and "/ledger/credit-notes/" in made.headers["Location"]
    note_id = int(made.headers["Location"].rsplit("/", 1)[1])
    note = db.session.get(Invoice, note_id)
    assert _post(client, note).status_code == 302
    db.session.expire_all()
    assert db.session.get(Invoice, note_id).number == f"CN-{YEAR}-0001"
    assert db.session.get(Invoice, invoice.id).open_amount == D("80.00")
    pdf = client.get(f"/ledger/credit-notes/{note_id}.pdf")
    assert "Credit note" in pdf_text(pdf.data) and invoice.number in pdf_text(pdf.data)


def test_credit_note__from_an_approved_case_credit(client, login, db, chart, company, users):
    """Does finance turn a support case's approved credit into a credit note in two
    clicks, and is a second one for the same request refused?"""
    from models.cases import decide_credit, open_case, request_credit

    customer = make_customer()
    case = open_case(customer=customer, subject="Broken", by=users["sales"])
    request = request_credit(case, amount=D("15.00"), reason="Goodwill", by=users["sales"])
    decide_credit(request, approve=True, note="", version=request.version, by=users["finance"])
    db.session.commit()
    login("finance")
    url = f"/ledger/credit-requests/{request.id}/credit-note"
    page = client.get(url).get_data(as_text=True)
    made = client.post(url, data={"form_key": key_in(page), "tax_rate_id": "none"})
    assert made.status_code == 302
    note = db.session.get(Invoice, int(made.headers["Location"].rsplit("/", 1)[1]))
    assert note.total == D("15.00") and note.credit_request_id == request.id
    page = client.get(url).get_data(as_text=True)
    again = client.post(url, data={"form_key": key_in(page), "tax_rate_id": "none"})
    assert again.status_code == 422 and "already on" in again.get_data(as_text=True)


# --- Mail --------------------------------------------------------------------------------

def test_send__mails_the_pdf_and_logs_it(app, client, login, db, chart, company,
                                        smtp_server):  # noqa: F811
    """Does sending a posted invoice deliver its PDF through SMTP and log it?"""
    app.config.update(TANDEM_SMTP_HOST="127.0.0.1", TANDEM_SMTP_PORT=smtp_server.port,
                      TANDEM_SMTP_SECURITY="none", TANDEM_MAIL_FROM="billing@tandem.example")
    invoice = posted_invoice(db, lines=[("Work", "1", "80.00")])
    login("finance")
    response = client.post(f"/ledger/invoices/{invoice.id}/send", data={
        "version": str(invoice.version), "to": "ap@customer.example.org",
        "subject": f"Invoice {invoice.number}", "message": "Please pay."})
    assert response.status_code == 302, response.get_data(as_text=True)
    [message] = smtp_server.messages
    [attachment] = list(message.iter_attachments())
    assert attachment.get_filename() == f"{invoice.number}.pdf"
    assert invoice.number in pdf_text(attachment.get_content())
    db.session.expire_all()
    assert db.session.get(Invoice, invoice.id).sent_at is not None


def test_send__a_refusing_server_sends_nothing_and_says_why(app, client, login, db, chart,
                                                           company, smtp_server):  # noqa: F811
    """When the server refuses the recipient, is the answer a clear 502 and the invoice
    not marked sent?"""
    app.config.update(TANDEM_SMTP_HOST="127.0.0.1", TANDEM_SMTP_PORT=smtp_server.port,
                      TANDEM_SMTP_SECURITY="none", TANDEM_MAIL_FROM="billing@tandem.example")
    invoice = posted_invoice(db, lines=[("Work", "1", "80.00")])
    smtp_server.refuse("550 5.1.1 No such user")
    login("finance")
    response = client.post(f"/ledger/invoices/{invoice.id}/send", data={
        "version": str(invoice.version), "to": "nobody@customer.example.org",
        "subject": "Invoice", "message": ""})
    assert response.status_code == 502 and "No such user" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Invoice, invoice.id).sent_at is None


# --- Credit holds and what sales see -----------------------------------------------------

def test_credit_hold__finance_releases_and_the_rep_sees_it_on_the_deal(client, login, db,
                                                                     stages, chart, users):
    """Is an order over the limit shown on hold with why, released by finance (not by
    sales), and does the deal page then show finance's note?"""
    from tests.sales.factories import make_order

    customer = make_customer(credit_limit="100.00")
    order = make_order(db, stages, [("Service", "1", "200.00")], customer=customer,
                       owner=users["sales"])
    assert order.status == "held"
    login("sales")
    page = client.get(f"/orders/sales/{order.id}").get_data(as_text=True)
    assert "On credit hold" in page and "over the credit limit" in page
    assert client.post(f"/ledger/credit-holds/{order.id}",
                       data={"decision": "release", "version": str(order.version)}
                       ).status_code == 403
    client.post("/logout")
    login("finance")
    assert order.number in client.get("/ledger/credit-holds").get_data(as_text=True)
    response = client.post(f"/ledger/credit-holds/{order.id}", data={
        "decision": "release", "version": str(order.version), "note": "Prepaid by card"})
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(SalesOrder, order.id).status == "confirmed"
    client.post("/logout")
    login("sales")
    deal_page = client.get(f"/pipeline/deals/{order.deal_id}").get_data(as_text=True)
    assert "credit hold released" in deal_page and "Prepaid by card" in deal_page


def test_credit_hold__reject_needs_a_note(client, login, db, stages, chart):
    """Is rejecting without a note refused, leaving the order on hold?"""
    from tests.sales.factories import make_order

    order = make_order(db, stages, [("Service", "1", "10.00")],
                       customer=make_customer(on_hold=True))
    login("finance")
    client.post(f"/ledger/credit-holds/{order.id}",
                data={"decision": "reject", "version": str(order.version), "note": ""})
    db.session.expire_all()
    assert db.session.get(SalesOrder, order.id).status == "held"


def test_dashboard__my_customers_longest_overdue_first(client, login, db, chart, users):
    """Does a rep's dashboard list their customers with invoices past due, the longest
    overdue first, each with what is overdue (all its late invoices), and leave out
    others' customers, invoices not yet due and paid ones?"""
    me = users["sales"]
    today = date.today()
    made = {}
    for name, days_late in (("Recent Ltd", 5), ("Oldest Ltd", 90), ("Middle Ltd", 30)):
        made[name] = make_customer(name=name, owner=me)
        posted_invoice(db, customer=made[name], issue_date=today - timedelta(days=days_late),
                       terms=0)
    posted_invoice(db, lines=(("Consulting", "1", "50.00"),), customer=made["Recent Ltd"],
                   issue_date=today - timedelta(days=2), terms=0)
    posted_invoice(db, customer=make_customer(name="Not Mine Ltd", owner=users["admin"]),
                   issue_date=today - timedelta(days=200), terms=0)
    posted_invoice(db, customer=make_customer(name="Not Yet Due Ltd", owner=me),
                   issue_date=today, terms=30)
    paid = make_customer(name="Paid Up Ltd", owner=me)
    posted_invoice(db, customer=paid, issue_date=today - timedelta(days=120), terms=0)
    pay(db, paid, "100.00")
    login("sales")
    body = client.get("/").get_data(as_text=True)
    panel = body.split('id="overdue-customers"')[1].split("</ul>")[0]
    assert re.findall(r'>([A-Za-z ]+ Ltd)</a>', panel) == ["Oldest Ltd", "Middle Ltd",
                                                           "Recent Ltd"]
    assert "150.00" in panel.split("Recent Ltd")[1]  # both its late invoices
    client.post("/logout")
    login("admin")
    body = client.get("/").get_data(as_text=True)
    panel = body.split('id="overdue-customers"')[1].split("</ul>")[0]
    assert re.findall(r'>([A-Za-z ]+ Ltd)</a>', panel)[0] == "Not Mine Ltd"


def test_overdue__badges_and_filter_show_it_and_vanish_once_paid(client, login, db, stages,
                                                               chart, users):
    """Does an overdue invoice put a badge on the deal, the customer page, the list
    filter and the rep's dashboard, and do they all go once it is paid?"""
    customer = make_customer(name="Late Payer", owner=users["sales"])
    order = shipped_order(db, stages, [("Service", "1", "100.00")], customer=customer,
                          owner=users["sales"])
    invoice = posted_invoice(db, order=order, issue_date=date.today() - timedelta(days=40))
    login("sales")
    assert "deal-overdue" in client.get(f"/pipeline/deals/{order.deal_id}").get_data(
        as_text=True)
    assert "overdue-badge" in client.get(f"/accounts/{customer.id}").get_data(as_text=True)
    listed = client.get("/accounts/?overdue=yes").get_data(as_text=True)
    assert "Late Payer" in listed
    dashboard = client.get("/").get_data(as_text=True)
    assert "overdue-customers" in dashboard and "Late Payer" in dashboard
    assert client.get("/accounts/?overdue=maybe").status_code == 400
    strip = client.htmx("get", f"/ledger/customers/{customer.id}/money-strip")
    assert strip.status_code == 200 and invoice.number in strip.get_data(as_text=True)
    pay(db, customer, "100.00")
    assert "deal-overdue" not in client.get(f"/pipeline/deals/{order.deal_id}").get_data(
        as_text=True)
    assert "Late Payer" not in client.get("/accounts/?overdue=yes").get_data(as_text=True)


# --- Bills -------------------------------------------------------------------------------

def test_expense_bill__recorded_posted_and_paid(client, login, db, chart, company):
    """Can finance record a bill without an order (rent) and pay it from the bill page?"""
    from models.ledger import Account
    from models.purchasing import VendorBill
    from tests.ledger.factories import make_supplier

    supplier = make_supplier("Landlord Ltd")
    rent = db.session.scalar(select(Account).where(Account.code == "6000"))
    login("finance")
    page = client.get("/ledger/bills/new").get_data(as_text=True)
    data = {"form_key": key_in(page), "supplier_id": str(supplier.id), "supplier_ref": "R-1",
            "bill_date": date.today().isoformat(), "account_id": str(rent.id),
            "net": "1000.00", "tax": "0.00"}
    bad = client.post("/ledger/bills/new", data=data | {"net": "-5"})
    assert bad.status_code == 422
    made = client.post("/ledger/bills/new", data=data)
    assert made.status_code == 302
    bill = db.session.scalar(select(VendorBill))
    assert bill.entry_id is not None and bill.open_amount == D("1000.00")
    page = client.get(f"/ledger/supplier-payments/new?supplier_id={supplier.id}&bill_id={bill.id}"
                      ).get_data(as_text=True)
    account_id = re.search(r'<option (?:selected )?value="(\d+)"',
                           page[page.index('id="account_id"'):]).group(1)
    paid = client.post("/ledger/supplier-payments/new", data={
        "supplier_id": str(supplier.id), "payment_date": date.today().isoformat(),
        "amount": "1000.00", "account_id": account_id, "method": "bank_transfer",
        "form_key": key_in(page)})
    assert paid.status_code == 302
    db.session.expire_all()
    assert db.session.get(VendorBill, bill.id).status == "paid"


# --- Twenty postings at once -------------------------------------------------------------

def _signed_in(app, email, n) -> list[TandemClient]:
    clients = []
    for _ in range(n):
        client = app.test_client()
        sign_in(client, email, PASSWORD)
        clients.append(client)
    return clients


def test_parallel__twenty_invoices_posted_at_once_get_gapless_numbers(app, db, chart, users,
                                                                     company):
    """When twenty users post twenty drafts at the same moment, does each get a number,
    are the numbers 1..20 with no gap or repeat, and do the hash chain and the journal
    stay one line?"""
    from models.invoicing import add_invoice_line, create_invoice
    from models.ledger import JournalEntry
    from models.sales import QuoteLineInput

    app.config["PROPAGATE_EXCEPTIONS"] = False
    drafts = []
    for n in range(20):
        draft = create_invoice(make_customer())
        add_invoice_line(draft, QuoteLineInput(product=None, description=f"Job {n}",
                                               quantity=D(1), unit_price=D(10 + n),
                                               use_product_tax=False))
        drafts.append(draft)
    db.session.commit()
    targets = [(d.id, d.version) for d in drafts]
    clients = _signed_in(app, users["finance"].email, 20)
    db.session.commit()
    barrier = threading.Barrier(20)
    statuses, errors = [None] * 20, []

    def run(i):
        try:
            barrier.wait(timeout=60)
            invoice_id, version = targets[i]
            response = clients[i].post(f"/ledger/invoices/{invoice_id}/post", data={
                "version": str(version), "issue_date": date.today().isoformat()})
            statuses[i] = response.status_code
        except Exception as exc:  # noqa: BLE001 - asserted below
            errors.append(repr(exc))

    threads = [threading.Thread(target=run, args=(i,)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=180)
    assert not errors and statuses == [302] * 20, (statuses, errors)
    db.session.expire_all()
    numbers = sorted(db.session.scalars(select(Invoice.number)))
    assert numbers == [f"INV-{YEAR}-{n:04d}" for n in range(1, 21)]
    seqs = sorted(db.session.scalars(select(Invoice.chain_seq)))
    assert seqs == list(range(1, 21))
    assert sorted(db.session.scalars(select(JournalEntry.chain_seq))) == list(range(1, 21))


def test_customer_page__draft_totals_from_their_lines_in_the_same_statements(
        app, client, login, db, company, stages):
    """Does the customer page show a draft's total (from its lines) and a posted one's
    (stored), reading the drafts' lines in one statement however many drafts there are?"""
    from models.invoicing import add_invoice_line, create_invoice
    from models.sales import QuoteLineInput
    from tests.helpers import count_statements

    customer = make_customer(name="Drafty")
    posted_invoice(db, customer=customer, lines=(("Audit", "1", "70.00"),))

    def draft(price):
        invoice = create_invoice(customer)
        add_invoice_line(invoice, QuoteLineInput(
            product=None, description="Fee", quantity=D(2), unit_price=D(price),
            use_product_tax=False))
        db.session.commit()
        return invoice

    first = draft("12.50")
    login("finance")
    page = f"/accounts/{customer.id}"
    with app.app_context():  # the serving app's engine
        engine = db.engine
    client.get(page)
    one = count_statements(engine, lambda: client.get(page))
    draft("30.00")
    draft("41.00")
    html = client.get(page).get_data(as_text=True)
    assert count_statements(engine, lambda: client.get(page)) == one > 5
    rows = re.findall(r'id="customer-invoice-\d+">(.*?)</tr>', html, re.S)
    totals = sorted(re.search(r'data-label="Total" class="num">(.*?)</td>', row).group(1)
                    .strip() for row in rows)
    assert totals == ["EUR 25.00", "EUR 60.00", "EUR 70.00", "EUR 82.00"]
    assert f'id="customer-invoice-{first.id}"' in html
