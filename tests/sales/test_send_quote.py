"""Sending a quote by mail over HTTP, to a real SMTP server on loopback: the message with
its PDF arrives, the quote is sent and the mail logged on the deal; when the server
refuses, is down or mail is not set up, the quote stays a draft with a clear message
and nothing is written; a bad address is refused next to the field."""

import io
import re
import socket
from datetime import date, timedelta

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from models.activities import Activity
from models.customers import Contact
from models.sales import Quote
from tests.helpers import business_rows, count_rows, make_customer
from tests.mailserver import smtp_server  # noqa: F401 - the fixture
from tests.sales.factories import make_product, make_quote, stock

SENDER = "quotes@example.com"


def _quote(db, quote_id) -> Quote:
    db.session.expire_all()
    return db.session.get(Quote, quote_id)


def _error(body: str, field: str) -> str:
    found = re.search(rf'<p class="error" id="{field}-error">([^<]*)</p>', body)
    return found.group(1) if found else ""


def _form_error(body: str) -> str:
    found = re.search(r'<p class="form-error" role="alert">([^<]*)</p>', body)
    return found.group(1) if found else ""


def _mail_to(app, port, **overrides) -> None:
    app.config.update(TANDEM_SMTP_HOST="127.0.0.1", TANDEM_SMTP_PORT=port,
                      TANDEM_SMTP_SECURITY="none", TANDEM_MAIL_FROM=SENDER,
                      TANDEM_SMTP_USER="", TANDEM_SMTP_PASSWORD="")
    app.config.update(overrides)


def _send(client, quote, **fields):
    data = {"version": str(quote.version), "to": "jana@example.com",
            "subject": f"Quote {quote.label}", "message": "Please find our quote attached."}
    data.update(fields)
    return client.post(f"/orders/quotes/{quote.id}/send", data=data)


def _free_port() -> int:
    """A loopback port nothing listens on (bound, then let go)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def quote(db, stages):
    """A draft with one stocked line, addressed to a contact with an @example.com address."""
    customer = make_customer(name="Harbour Cafés", email="office@example.com")
    contact = Contact(customer=customer, name="Jana Buyer", email="jana@example.com",
                      is_primary=True)
    db.session.add(contact)
    db.session.commit()
    product = make_product("W-1", name="Widget")
    stock(product, 10)
    return make_quote(db, stages, [(product, "4")], customer=customer, contact=contact,
                      valid_until=date.today() + timedelta(days=20))


def test_send__form_is_filled_for_the_contact(client, login, db, quote):
    """Does the draft's send form address the contact and name the quote?"""
    login("sales")
    page = client.get(f"/orders/quotes/{quote.id}").get_data(as_text=True)
    form = page[page.index('id="send-form"'):]
    assert 'value="jana@example.com"' in form
    assert f"Quote {quote.label} from" in form
    assert "Dear Jana Buyer," in form


def test_send__mails_the_pdf_marks_sent_and_logs_the_mail(
        app, client, login, db, users, quote, smtp_server):  # noqa: F811
    """Does sending deliver one message to the contact with the quote's PDF attached,
    mark the quote sent and log an email activity on the deal?"""
    _mail_to(app, smtp_server.port)
    login("sales")
    response = _send(client, quote)
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    assert response.headers["Location"].endswith(f"/orders/quotes/{quote.id}")
    sent = _quote(db, quote.id)
    assert sent.status == "sent" and sent.sent_at is not None

    assert len(smtp_server.messages) == 1
    message = smtp_server.messages[0]
    assert smtp_server.envelopes == [(SENDER, ["jana@example.com"])]
    assert message["To"] == "Jana Buyer <jana@example.com>"
    assert message["From"] == SENDER
    assert message["Reply-To"] == users["sales"].email
    assert message["Subject"] == f"Quote {quote.label}"
    assert "Please find our quote attached." in message.get_body(("plain",)).get_content()
    attachments = list(message.iter_attachments())
    assert len(attachments) == 1
    pdf = attachments[0]
    assert pdf.get_filename() == f"{quote.number}.pdf"
    assert pdf.get_content_type() == "application/pdf"
    data = pdf.get_content()
    assert data.startswith(b"%PDF")
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)
    assert quote.number in text and "W-1" in text

    activity = db.session.scalar(select(Activity))
    assert count_rows(db, Activity) == 1
    assert (activity.kind, activity.deal_id, activity.customer_id, activity.created_by_id) \
        == ("email", quote.deal_id, quote.customer_id, users["sales"].id)
    assert activity.subject == f"Quote {quote.label}"
    assert "To jana@example.com" in activity.body and f"{quote.number}.pdf" in activity.body

    page = client.get(f"/orders/quotes/{quote.id}").get_data(as_text=True)
    assert f"{quote.label} was sent to jana@example.com." in page
    assert 'id="send-form"' not in page and 'id="accept-form"' in page


def _stays_draft(client, db, quote, status, *fragments):
    """Post the send form: `status`, the message names all `fragments`, the quote is a
    draft and nothing is written (no activity, no sent date)."""
    before = business_rows(db)
    response = _send(client, quote)
    body = response.get_data(as_text=True)
    assert response.status_code == status, body[:2000]
    message = _form_error(body)
    for fragment in fragments:
        assert fragment in message, (fragment, message)
    assert business_rows(db) == before
    assert _quote(db, quote.id).status == "draft"
    assert count_rows(db, Activity) == 0
    assert 'value="jana@example.com"' in body     # the form keeps what was typed
    return message


def test_send__server_refuses_keeps_the_draft(app, client, login, db, quote,
                                              smtp_server):  # noqa: F811
    """When the server refuses the recipient, is the answer a 502 that quotes the
    server's reply and says the quote is still a draft, nothing written?"""
    _mail_to(app, smtp_server.port)
    smtp_server.refuse("550 5.1.1 No such user here")
    login("sales")
    _stays_draft(client, db, quote, 502, "The mail server refused the message",
                 "550", "No such user here", "The quote is still a draft; nothing was sent.")
    assert smtp_server.messages == []


def test_send__server_refuses_the_data_keeps_the_draft(app, client, login, db, quote,
                                                       smtp_server):  # noqa: F811
    """When the server refuses the message itself (after the recipient), is it the same
    clear 502 and still a draft?"""
    _mail_to(app, smtp_server.port)
    smtp_server.refuse("554 5.6.0 Message rejected as spam", at="data")
    login("sales")
    _stays_draft(client, db, quote, 502, "Message rejected as spam",
                 "The quote is still a draft")
    assert smtp_server.messages == []


def test_send__server_down_keeps_the_draft(app, client, login, db, quote):
    """When nothing listens at the configured port, is it a 502 naming the server it
    could not reach, the quote still a draft?"""
    port = _free_port()
    _mail_to(app, port)
    login("sales")
    _stays_draft(client, db, quote, 502, f"The mail server at 127.0.0.1:{port} could not "
                 "be reached", "The quote is still a draft; nothing was sent.")


@pytest.mark.parametrize("unset", ["TANDEM_SMTP_HOST", "TANDEM_MAIL_FROM"])
def test_send__mail_not_set_up_keeps_the_draft(app, client, login, db, quote, unset):
    """Without a mail server or sender configured, does sending say mail is not set up
    and leave the quote a draft?"""
    _mail_to(app, _free_port(), **{unset: ""})
    login("sales")
    _stays_draft(client, db, quote, 502, "Mail is not set up",
                 "The quote is still a draft")


@pytest.mark.parametrize(("to", "message"), [
    ("", "Enter the address to send the quote to."),
    ("not-an-address", "Enter an email address like name@example.com."),
    ("jana@", "Enter an email address like name@example.com."),
    ("jana@example.com\r\nBcc: spy@example.com", "Enter an email address like"),
    ("jana@example.com, spy@example.com", "Enter an email address like"),
    ("a" * 250 + "@example.com", "Field cannot be longer than 254 characters."),
])
def test_send__invalid_address_is_422_next_to_the_field(
        app, client, login, db, quote, smtp_server, to, message):  # noqa: F811
    """Is a missing, malformed or header-injecting address refused next to the To field,
    nothing sent and nothing written?"""
    _mail_to(app, smtp_server.port)
    login("sales")
    before = business_rows(db)
    response = _send(client, quote, to=to)
    assert response.status_code == 422
    assert message in _error(response.get_data(as_text=True), "to")
    assert business_rows(db) == before
    assert smtp_server.messages == []


@pytest.mark.parametrize(("fields", "field", "message"), [
    ({"subject": ""}, "subject", "Enter a subject."),
    ({"subject": "s" * 201}, "subject", "Use at most 200 characters."),
    ({"message": "m" * 5001}, "message", "Use at most 5,000 characters."),
])
def test_send__bad_subject_or_message_is_422_next_to_the_field(
        app, client, login, db, quote, smtp_server, fields, field, message):  # noqa: F811
    """Is an empty or over-long subject or message refused next to its field, nothing
    sent?"""
    _mail_to(app, smtp_server.port)
    login("sales")
    before = business_rows(db)
    response = _send(client, quote, **fields)
    assert response.status_code == 422
    assert _error(response.get_data(as_text=True), field) == message
    assert business_rows(db) == before
    assert smtp_server.messages == []


def test_send__stale_version_is_409_and_sends_nothing(
        app, client, login, db, quote, smtp_server):  # noqa: F811
    """Is a send from a page loaded before the quote changed a 409, no mail sent?"""
    _mail_to(app, smtp_server.port)
    loaded = quote.version
    quote.notes = "Changed by a colleague"
    db.session.commit()
    login("sales")
    before = business_rows(db)
    response = _send(client, quote, version=str(loaded))
    assert response.status_code == 409
    assert "after you opened it" in response.get_data(as_text=True)
    assert business_rows(db) == before
    assert smtp_server.messages == []


def test_send__a_quote_without_lines_is_refused_before_mailing(
        app, client, login, db, stages, quote, smtp_server):  # noqa: F811
    """Is an empty draft refused with a message, nothing mailed or written?"""
    _mail_to(app, smtp_server.port)
    empty = make_quote(db, stages, deal=quote.deal, contact=quote.contact)
    login("sales")
    before = business_rows(db)
    response = _send(client, empty)
    assert response.status_code == 422
    assert _form_error(response.get_data(as_text=True)) == \
        "Add at least one line before sending the quote."
    assert business_rows(db) == before
    assert smtp_server.messages == []


def test_send__a_line_break_in_the_subject_injects_no_header(
        app, client, login, db, quote, smtp_server):  # noqa: F811
    """Is a subject carrying a line break and a Bcc: header (crafted; a browser's
    one-line field cannot type it) refused with the quote still a draft and nothing
    sent to anyone?"""
    _mail_to(app, smtp_server.port)
    login("sales")
    before = business_rows(db)
    response = _send(client, quote, subject="Quote\r\nBcc: spy@example.com")
    # refused by the form (422) or by the mail module (502); either way nothing leaves
    assert response.status_code in (422, 502)
    assert "line break" in response.get_data(as_text=True) or \
        _error(response.get_data(as_text=True), "subject")
    assert business_rows(db) == before
    assert smtp_server.messages == [] and smtp_server.envelopes == []
