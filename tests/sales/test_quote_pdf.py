"""The quote PDF: what the customer reads on it (parties, lines, tax per rate, totals),
amounts in the currency's unit, pages and page headers, state marks, and that typed
text stays text and fetches nothing (the safe URL fetcher)."""

import base64
import io
import re
import struct
import zlib
from datetime import date, timedelta
from decimal import Decimal

import pytest
from pypdf import PdfReader

import blueprints.pdf as pdf_module
from blueprints.pdf import SafeFetcher, render_pdf
from models import CompanySettings
from models.customers import Contact
from models.sales import decline_quote, revise_quote
from tests.helpers import business_rows, make_customer
from tests.sales.factories import make_product, make_quote, make_tax_rate

HOSTILE = ('Call before delivery.\n<img src="file:///etc/passwd">\n'
           '<link rel="attachment" href="file:///etc/hostname">\n'
           'http://example.com/x.png')


def _png() -> bytes:
    """A valid 2x2 red PNG."""
    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    raw = b"".join(b"\x00" + b"\xff\x00\x00" * 2 for _ in range(2))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


class RecordingFetcher(SafeFetcher):
    """The real fetcher, noting every URL the renderer asked for."""

    asked: list = []

    def fetch(self, url, headers=None):
        RecordingFetcher.asked.append(url)
        return super().fetch(url, headers)


@pytest.fixture
def recorded(monkeypatch):
    RecordingFetcher.asked = []
    monkeypatch.setattr(pdf_module, "SafeFetcher", RecordingFetcher)
    return RecordingFetcher.asked


def render_quote(app, quote, logo=None) -> PdfReader:
    """The quote's PDF as the app draws it, read back."""
    company = CompanySettings.current()
    with app.test_request_context():
        data = render_pdf("orders/quote_pdf.html", quote=quote, company=company, logo=logo)
    return PdfReader(io.BytesIO(data))


def pages_of(reader: PdfReader) -> list[str]:
    return [page.extract_text() for page in reader.pages]


def text_of(reader: PdfReader) -> str:
    return "\n".join(pages_of(reader))


@pytest.fixture
def billed(db):
    """A customer with a billing address, a tax id and a contact, and our own details."""
    settings = CompanySettings.current()
    settings.name, settings.address = "Tandem Trading Ltd", "5 Dock Road\nBristol BS1 4AA"
    settings.tax_id = "GB123456789"
    db.session.merge(settings)
    customer = make_customer(name="Harbour Cafés GmbH", street="Kaiserstraße 9",
                             postal_code="60311", city="Frankfurt", country="Germany")
    customer.account.billing_address = "Accounts payable\nPostfach 100\n60001 Frankfurt"
    customer.account.tax_id = "DE811223344"
    contact = Contact(customer=customer, name="Jana Köhler", email="jana@harbour.example")
    db.session.add(contact)
    db.session.commit()
    return customer, contact


def _details_quote(db, stages, users, billed):
    customer, contact = billed
    bolt = make_product("BOLT-M8", name="Bolt M8", tax_rate=make_tax_rate("VAT", "20"))
    book = make_product("BOOK-1", name="Manual", kind="service",
                        tax_rate=make_tax_rate("Reduced", "7"))
    return make_quote(db, stages, [(bolt, "40", "2.50", "10"), ("Installation", "1", "150"),
                                   (book, "3", "12.99")],
                      customer=customer, owner=users["sales"], by=users["sales"],
                      contact=contact, valid_until=date.today() + timedelta(days=20),
                      notes="Delivery in two weeks.", terms="Payment 30 days net.")


def test_quote_pdf__carries_parties_lines_tax_per_rate_and_totals(app, db, stages, users,
                                                                  billed):
    """Does the PDF name us, bill the customer at the billing address with its tax id
    and contact, give number, dates, currency and rep, each line, the tax per rate and
    the totals, with notes and terms?"""
    quote = _details_quote(db, stages, users, billed)
    text = text_of(render_quote(app, quote))
    flat = " ".join(text.split())
    for expected in (quote.label, "Tandem Trading Ltd", "5 Dock Road", "Bristol BS1 4AA",
                     "GB123456789", "Harbour Cafés GmbH", "Attn. Jana Köhler",
                     "Accounts payable", "Postfach 100", "Tax id DE811223344",
                     "Sam Sales", "sales@example.test", "Currency EUR",
                     f"Date {quote.issued_on.day} {quote.issued_on:%b %Y}",
                     f"Valid until {quote.valid_until.day} {quote.valid_until:%b %Y}",
                     "1 BOLT-M8 · Bolt M8 40 pc 2.50 10% 20% 90.00",
                     "2 Installation 1 150.00 0% 150.00",
                     "3 BOOK-1 · Manual 3 pc 12.99 7% 38.97",
                     "Net 278.97", "Tax 0% on 150.00 0.00", "Tax 7% on 38.97 2.73",
                     "Tax 20% on 90.00 18.00", "Total EUR 299.70",
                     "Delivery in two weeks.", "Payment 30 days net."):
        assert expected in flat, expected
    assert "Kaiserstraße" not in flat            # billed at the billing address only
    assert "Draft" in flat                        # not sent yet


def test_quote_pdf__main_address_when_no_billing_address_and_no_discount_column(
        app, db, stages):
    """Without a billing address is the customer's own address printed; without any
    discount is there no Discount column?"""
    customer = make_customer(name="Plain Ltd", street="1 Mill Lane", postal_code="M1 1AA",
                             city="Manchester", country="United Kingdom")
    quote = make_quote(db, stages, [("Consulting", "2", "80")], customer=customer)
    flat = " ".join(text_of(render_quote(app, quote)).split())
    for expected in ("Plain Ltd", "1 Mill Lane", "M1 1AA Manchester", "United Kingdom",
                     "1 Consulting 2 80.00 0% 160.00", "Total EUR 160.00"):
        assert expected in flat, expected
    assert "discount" not in flat.lower()
    assert "Attn." not in flat


def test_quote_pdf__yen_amounts_have_no_decimals(app, db, stages):
    """Is a JPY quote printed in whole yen (1,500 not 1,500.00), tax and total too?"""
    customer = make_customer(name="Kyoto Works", currency="JPY")
    rate = make_tax_rate("JP", "10")
    tea = make_product("TEA-1", name="Sencha", tax_rate=rate)
    quote = make_quote(db, stages, [(tea, "2", "1500"), ("Shipping", "1", "1200")],
                       customer=customer)
    flat = " ".join(text_of(render_quote(app, quote)).split())
    for expected in ("1 TEA-1 · Sencha 2 pc 1,500 10% 3,000", "2 Shipping 1 1,200 0% 1,200",
                     "Net 4,200", "Tax 10% on 3,000 300", "Total JPY 4,500",
                     "Currency JPY"):
        assert expected in flat, expected
    assert not re.search(r"\d\.\d\d\b", flat)        # no decimals anywhere


def test_quote_pdf__long_quote_paginates_with_header_and_page_numbers(app, db, stages):
    """Does a 200-line quote run over at least four pages, each with the lines' header,
    the quote number and "Page N of M", and the total once, on the last page?"""
    product = make_product("LONG-1", name="Long item")
    quote = make_quote(db, stages, [(product, "1", "2.00")] * 200)
    pages = pages_of(render_quote(app, quote))
    assert len(pages) >= 4
    assert f"Page 1 of {len(pages)}" in pages[0]
    for number, text in enumerate(pages, start=1):
        assert "unit price" in text.lower(), number
        assert quote.label in text, number
        assert f"Page {number} of {len(pages)}" in text, number
    assert "description" in pages[-1].lower() and "LONG-1" in pages[-1]
    assert sum("Total EUR 400.00" in text for text in pages) == 1
    assert "Total EUR 400.00" in pages[-1]
    positions = [int(n) for n in re.findall(r"^(\d+) LONG-1", "\n".join(pages), re.M)]
    assert positions == list(range(1, 201))                 # no row lost or split


def _superseded(db, stages):
    quote = make_quote(db, stages, [("Thing", "1", "5")], status="sent")
    newer = revise_quote(quote)
    db.session.commit()
    return quote, [f"Superseded by {newer.label}"]


def _declined(db, stages):
    quote = make_quote(db, stages, [("Thing", "1", "5")], status="sent")
    decline_quote(quote, reason="Too dear")
    db.session.commit()
    return quote, ["Declined", "no longer on offer"]


def _expired(db, stages):
    quote = make_quote(db, stages, [("Thing", "1", "5")], status="sent")
    quote.valid_until = date.today() - timedelta(days=2)
    db.session.commit()
    when = quote.valid_until
    return quote, ["Expired", f"Expired on {when.day} {when:%b %Y}"]


def _draft(db, stages):
    return make_quote(db, stages, [("Thing", "1", "5")]), ["Draft", "not yet an offer"]


@pytest.mark.parametrize("make", [_draft, _superseded, _declined, _expired],
                         ids=["draft", "superseded", "declined", "expired"])
def test_quote_pdf__marks_quotes_that_are_not_on_offer(app, db, stages, make):
    """Is a draft, superseded, declined or expired quote marked so on the PDF, without the
    acceptance block for the no-longer-valid ones?"""
    quote, marks = make(db, stages)
    flat = " ".join(text_of(render_quote(app, quote)).split())
    for mark in marks:
        assert mark in flat, mark
    assert ("To accept it" in flat) == (quote.state == "draft")


def test_quote_pdf__sent_quote_carries_no_mark(app, db, stages):
    """Is a current sent quote printed clean: no state mark, with how to accept it?"""
    quote = make_quote(db, stages, [("Thing", "1", "5")], status="sent")
    flat = " ".join(text_of(render_quote(app, quote)).split())
    for word in ("Draft", "Superseded", "Declined", "Expired"):
        assert word not in flat, word
    assert f"To accept it, reply to us quoting {quote.label}" in flat


def test_quote_pdf__logo_is_embedded_from_a_data_uri_only(app, db, stages, recorded):
    """Is the logo drawn (one image on page 1) and is a data: URI all that was fetched?"""
    quote = make_quote(db, stages, [("Thing", "1", "5")])
    logo = "data:image/png;base64," + base64.b64encode(_png()).decode("ascii")
    reader = render_quote(app, quote, logo=logo)
    assert len(reader.pages[0].images) == 1
    assert recorded and all(url.startswith("data:image/png;base64,") for url in recorded)


def test_quote_pdf__hostile_notes_and_terms_are_text_and_fetch_nothing(app, db, stages,
                                                                       recorded):
    """Are markup and URLs typed into notes, terms and a line printed as literal text,
    with no attachment, no embedded file and no fetch of anything?"""
    quote = make_quote(db, stages, [('<img src="file:///etc/passwd">', "1", "5")],
                       notes=HOSTILE, terms=HOSTILE)
    before = business_rows(db)
    reader = render_quote(app, quote)
    text = text_of(reader)
    assert text.count('<img src="file:///etc/passwd">') == 3
    assert text.count('<link rel="attachment" href="file:///etc/hostname">') == 2
    assert text.count("http://example.com/x.png") == 2
    assert reader.attachments == {}
    assert "/EmbeddedFiles" not in reader.trailer["/Root"].get("/Names", {})
    assert recorded == []                        # nothing was even asked for
    assert business_rows(db) == before            # drawing a PDF writes nothing


def test_quote_pdf__served_to_sales(client, login, db, stages):
    """Does sales get the quote as an inline PDF named after the quote, with its total?"""
    quote = make_quote(db, stages, [("Thing", "2", "5")])
    login("sales")
    response = client.get(f"/orders/quotes/{quote.id}.pdf")
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"] == \
        f'inline; filename="{quote.file_label}.pdf"'
    reader = PdfReader(io.BytesIO(response.data))
    assert "Total EUR 10.00" in text_of(reader)
    assert Decimal("10.00") == quote.total
