"""The packing slip: where the box goes, which order it belongs to, per line what was
ordered, what is in this box, shipped so far and still to come (as of that shipment,
however late it is printed), no prices, pages, and typed text that stays text."""

import io
import re
from decimal import Decimal

import pytest
from pypdf import PdfReader

import blueprints.pdf as pdf_module
from blueprints.pdf import SafeFetcher, render_pdf
from models import CompanySettings
from models.sales import ship
from tests.helpers import make_customer
from tests.sales.factories import make_order, make_product, stock

HOSTILE = '<img src="file:///etc/passwd">'


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


def render_slip(app, shipment) -> PdfReader:
    """The shipment's packing slip as the app draws it, read back."""
    company = CompanySettings.current()
    with app.test_request_context():
        data = render_pdf("orders/packing_slip_pdf.html", shipment=shipment,
                          order=shipment.order, company=company, logo=None)
    return PdfReader(io.BytesIO(data))


def flat_text(reader: PdfReader) -> str:
    return " ".join("\n".join(page.extract_text() for page in reader.pages).split())


@pytest.fixture
def two_shipments(db, stages):
    """An order of 10 widgets and an installation, shipped as 4 widgets, then 3 widgets
    with the installation."""
    settings = CompanySettings.current()
    settings.name = "Tandem Trading Ltd"
    db.session.merge(settings)
    widget = make_product("W-1", name="Widget", cost="4.00")
    stock(widget, 20, "4.00")
    customer = make_customer(name="Harbour Cafés GmbH", street="Kaiserstraße 9",
                             postal_code="60311", city="Frankfurt", country="Germany")
    order = make_order(db, stages, [(widget, "10", "25.00"), ("Installation", "1", "180")],
                       customer=customer, customer_po="PO-77")
    first = ship(order, {order.lines[0].id: Decimal(4)}, carrier="DHL Express",
                 tracking="JD0001234")
    db.session.commit()
    second = ship(order, {order.lines[0].id: Decimal(3), order.lines[1].id: Decimal(1)},
                  carrier="UPS", tracking="1Z999")
    db.session.commit()
    return order, first, second


def test_packing_slip__says_where_it_goes_and_what_is_in_the_box(app, db, two_shipments):
    """Does the slip name the customer and ship-to address, the shipment, our order and
    their PO, the date, carrier and tracking, and per line ordered / this shipment /
    shipped to date / still to come?"""
    order, first, second = two_shipments
    text = flat_text(render_slip(app, second))
    for expected in ("Packing slip", second.number, "Tandem Trading Ltd",
                     "Harbour Cafés GmbH", "Kaiserstraße 9", "60311 Frankfurt", "Germany",
                     f"Our order {order.number}", "Your order PO-77",
                     f"Shipped {second.shipped_on.day} {second.shipped_on:%b %Y}",
                     "Carrier UPS", "Tracking 1Z999",
                     "1 W-1 · Widget pc 10 3 7 3", "2 Installation 1 1 1 0"):
        assert expected in text, expected
    assert first.number not in text and "JD0001234" not in text


def test_packing_slip__figures_are_as_of_its_shipment(app, db, two_shipments):
    """Printed again after the second shipment, does the first slip still show what
    that box held and what was then still to come?"""
    order, first, _ = two_shipments
    text = flat_text(render_slip(app, first))
    assert "1 W-1 · Widget pc 10 4 4 6" in text
    assert "2 Installation 1 – 0 1" in text             # not in this box
    assert "Carrier DHL Express" in text and "Tracking JD0001234" in text


def test_packing_slip__shows_no_prices(app, db, two_shipments):
    """Is the slip free of prices, amounts and currency?"""
    _, _, second = two_shipments
    text = flat_text(render_slip(app, second))
    for price in ("25.00", "180.00", "250.00", "EUR", "Total", "Net"):
        assert price not in text, price
    assert not re.search(r"\d\.\d\d\b", text)


def test_packing_slip__long_shipment_paginates(app, db, stages):
    """Does a 120-line shipment run over several pages, each with the column header, the
    shipment number and "Page N of M", every line once?"""
    order = make_order(db, stages, [(f"Part {n}", "2", "1") for n in range(1, 121)])
    shipment = ship(order, {line.id: Decimal(1) for line in order.lines})
    db.session.commit()
    reader = render_slip(app, shipment)
    pages = [page.extract_text() for page in reader.pages]
    assert len(pages) >= 3
    for number, text in enumerate(pages, start=1):
        assert "this shipment" in " ".join(text.lower().split()), number
        assert shipment.number in text, number
        assert f"Page {number} of {len(pages)}" in text, number
    rows = re.findall(r"^(\d+) Part (\d+) 2 1 1 1$", "\n".join(pages), re.M)
    assert [int(position) for position, _ in rows] == list(range(1, 121))


def test_packing_slip__typed_text_is_text_and_fetches_nothing(app, db, stages, recorded):
    """Are markup in the shipment note, carrier and ship-to printed literally, with no
    attachment and nothing fetched?"""
    widget = make_product("W-2", name="Widget")
    stock(widget, 5)
    order = make_order(db, stages, [(widget, "2", "25.00")])
    order.ship_to = f"{HOSTILE}\nhttp://example.com/x.png"
    note = '<link rel="attachment" href="file:///etc/hostname">'
    shipment = ship(order, {order.lines[0].id: Decimal(2)}, carrier=HOSTILE, note=note)
    db.session.commit()
    reader = render_slip(app, shipment)
    text = "\n".join(page.extract_text() for page in reader.pages)
    assert text.count(HOSTILE) == 2
    assert note in text
    assert "http://example.com/x.png" in text
    assert reader.attachments == {}
    assert "/EmbeddedFiles" not in reader.trailer["/Root"].get("/Names", {})
    assert recorded == []


def test_packing_slip__served_to_operations(client, login, db, two_shipments):
    """Does operations get the slip as an inline PDF named after the shipment?"""
    _, first, _ = two_shipments
    login("operations")
    response = client.get(f"/orders/shipments/{first.id}.pdf")
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"] == f'inline; filename="{first.number}.pdf"'
    text = flat_text(PdfReader(io.BytesIO(response.data)))
    assert "1 W-1 · Widget pc 10 4 4 6" in text
