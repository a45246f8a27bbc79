"""The purchase order PDF: what it says, pages and page headers, the logo, and that it
fetches nothing but its own files (the safe URL fetcher)."""

import io
import re
import struct
import zlib
from pathlib import Path

import pytest
from pypdf import PdfReader

import blueprints.pdf as pdf_module
from blueprints.pdf import SafeFetcher
from models import CompanySettings
from tests.helpers import business_rows
from tests.orders.factories import make_po, make_product, make_supplier, make_tax_rate

HOSTILE_NOTE = ('Deliver before noon.\n<img src="file:///etc/passwd">\n'
                '<link rel="attachment" href="file:///etc/hostname">\n'
                'http://example.org/x.png')


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


def _reader(response) -> PdfReader:
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    return PdfReader(io.BytesIO(response.data))


def _text(reader: PdfReader) -> str:
    return "\n".join(page.extract_text() for page in reader.pages)


def test_pdf__carries_the_order_details(client, login, db):
    """Does the PDF name the company, the supplier and its address, the PO number, each
    line's SKU, the tax breakdown and the total?"""
    settings = CompanySettings.current()
    settings.name, settings.address = "Tandem Trading Ltd", "5 Dock Road\nBristol BS1"
    db.session.merge(settings)
    db.session.commit()
    supplier = make_supplier("Acme Fasteners", street="1 Mill Lane", postal_code="M1",
                             city="Manchester", tax_id="GB999")
    product = make_product("BOLT-M8", name="Bolt M8", tax_rate=make_tax_rate("VAT", "20"))
    order = make_po(supplier, [(product, "100", "0.25"), ("Pallet delivery", "1", "35")],
                    status="sent", notes="Gate 3")
    login("operations")
    response = client.get(f"/orders/purchases/{order.id}.pdf")
    assert response.headers["Content-Disposition"] == f'inline; filename="{order.number}.pdf"'
    text = _text(_reader(response))
    for expected in (order.number, "Tandem Trading Ltd", "5 Dock Road", "Acme Fasteners",
                     "1 Mill Lane", "M1 Manchester", "GB999", "BOLT-M8", "Bolt M8",
                     "Pallet delivery", "Tax 20% 5.00", "Total EUR 65.00", "Gate 3"):
        assert expected in text, expected


def test_pdf__a_long_order_paginates_with_headers_and_page_numbers(client, login, db):
    """Does a 200-line order run over several pages, each with the table header, the PO
    number and "Page N of M", the totals only once at the end?"""
    product = make_product("LONG-1")
    order = make_po(lines=[(product, "1", "2.00")] * 200, status="sent")
    login("finance")
    reader = _reader(client.get(f"/orders/purchases/{order.id}.pdf"))
    pages = [page.extract_text() for page in reader.pages]
    assert len(pages) >= 3
    for number, text in enumerate(pages, start=1):
        assert "description" in text.lower(), number
        assert "LONG-1" in text, number
        assert order.number in text, number
        assert f"Page {number} of {len(pages)}" in text, number
    assert sum("Total EUR 400.00" in text for text in pages) == 1
    assert "Total EUR 400.00" in pages[-1]
    positions = [int(n) for n in re.findall(r"^(\d+) LONG-1", "\n".join(pages), re.M)]
    assert positions == list(range(1, 201))               # no row lost or split


def test_pdf__logo_is_embedded_from_the_settings(client, login, db, recorded):
    """Is the company logo drawn (an image on page 1), fetched only as a data: URI?"""
    settings = CompanySettings.current()
    settings.logo, settings.logo_type = _png(), "image/png"
    db.session.merge(settings)
    db.session.commit()
    order = make_po(lines=[("Thing", "1", "1")])
    login("operations")
    reader = _reader(client.get(f"/orders/purchases/{order.id}.pdf"))
    assert len(reader.pages[0].images) == 1
    assert recorded and all(url.startswith("data:image/png;base64,") for url in recorded)


def test_pdf__hostile_note_is_text_attaches_and_fetches_nothing(client, login, db, recorded):
    """Is a note with markup and URLs printed as literal text, with no attachment and no
    fetch of any file or web address?"""
    order = make_po(lines=[("Thing", "1", "1")], notes=HOSTILE_NOTE)
    login("operations")
    before = business_rows(db)
    reader = _reader(client.get(f"/orders/purchases/{order.id}.pdf"))
    text = _text(reader)
    assert '<img src="file:///etc/passwd">' in text
    assert '<link rel="attachment" href="file:///etc/hostname">' in text
    assert "http://example.org/x.png" in text
    assert reader.attachments == {}
    names = reader.trailer["/Root"].get("/Names", {})
    assert "/EmbeddedFiles" not in names
    assert recorded == []                      # nothing was even asked for
    assert business_rows(db) == before          # a GET writes nothing


def test_pdf__roles(app, client, login, db):
    """May admin, operations and finance download the PDF, but not sales?"""
    order = make_po(lines=[("Thing", "1", "1")])
    login("sales")
    assert client.get(f"/orders/purchases/{order.id}.pdf").status_code == 403
    for role in ("admin", "operations", "finance"):
        other = app.test_client()
        login(role, other)
        assert other.get(f"/orders/purchases/{order.id}.pdf").status_code == 200, role


# --- The fetcher itself ------------------------------------------------------------------

def test_safe_fetcher__refuses_other_files_and_the_web(app):
    """Are file:///etc/passwd, http and https URLs and a path escaping static/ through ..
    refused, and each recorded?"""
    fetcher = SafeFetcher(app.static_folder)
    static = Path(app.static_folder).resolve()
    escaping = static.as_uri() + "/../app.py"
    refused = ["file:///etc/passwd", "http://example.org/x.png", "https://example.org/a.css",
               escaping, "file://evil.example/etc/passwd", "ftp://example.org/x"]
    for url in refused:
        with pytest.raises(ValueError, match="Refused to fetch"):
            fetcher.fetch(url)
    assert fetcher.refused == refused


def test_safe_fetcher__serves_data_uris_and_static_files(app):
    """Does the fetcher serve a data: URI and a file inside static/?"""
    fetcher = SafeFetcher(app.static_folder)
    response = fetcher.fetch("data:text/plain;base64,aGVsbG8=")
    assert response.read() == b"hello"
    response.close()
    css = Path(app.static_folder).resolve() / "css" / "pdf.css"
    response = fetcher.fetch(css.as_uri())
    assert b"@page" in response.read()
    response.close()
    assert fetcher.refused == []


def test_safe_fetcher__guards_raw_markup_too(app):
    """Even if markup were not escaped, would an <img> of /etc/passwd and an attachment
    link to /etc/hostname be refused, leaving the PDF without attachments?"""
    from weasyprint import HTML

    fetcher = SafeFetcher(app.static_folder)
    html = ('<p>x</p><img src="file:///etc/passwd">'
            '<link rel="attachment" href="file:///etc/hostname">'
            '<img src="http://example.org/x.png">')
    data = HTML(string=html, base_url=Path(app.static_folder).resolve().as_uri() + "/",
                url_fetcher=fetcher).write_pdf()
    reader = PdfReader(io.BytesIO(data))
    assert reader.attachments == {}
    assert "file:///etc/passwd" in fetcher.refused
    assert "file:///etc/hostname" in fetcher.refused
    assert "http://example.org/x.png" in fetcher.refused
