"""seed-volume: a large data set whose rows are the posting rules' own, so check-books and
the stock recount accept it, at the counts the scale asks for; deterministic; refused on
a database that holds data; and the app carries on from it with its own rules."""

from datetime import date
from decimal import Decimal

from sqlalchemy import func, select

from cli import DEMO_PASSWORD
from models import (
    Activity,
    ChainHead,
    Contact,
    Customer,
    Deal,
    FinancialAccount,
    Invoice,
    JournalEntry,
    JournalLine,
    Payment,
    Product,
    Quote,
    SalesOrder,
    Shipment,
    StockMove,
    VendorBill,
)
from models.books_check import check_books
from models.customers import create_customer
from models.invoicing import add_invoice_line, create_invoice, post_invoice
from models.payments import record_payment
from models.sales import QuoteLineInput
from models.sequences import last_number
from models.stock import level_drift
from models.volume import targets
from tests.conftest import _empty_all_tables, sign_in
from tests.helpers import make_customer

SCALE = 0.01


def seed(app, db, *args, scale=SCALE):
    """Run the command as a terminal would, then read what it committed."""
    result = app.test_cli_runner().invoke(args=["seed-volume", "--scale", str(scale), *args])
    db.session.commit()
    return result


def count(db, model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def test_seed_volume__books_in_order_at_the_scaled_counts(app, db):
    """Does `seed-volume --scale 0.01` build scale x the scale-1 counts of each kind, with
    stock figures equal to a recount of the moves and books `check-books` finds in order?"""
    result = seed(app, db)
    assert result.exit_code == 0, result.output
    assert "Sign in with any of these" in result.output and "rep01@tandem.test" in result.output
    wanted = targets(SCALE)
    assert wanted["customers"] == 200 and wanted["invoices"] == 1000
    counted = {"customers": Customer, "contacts": Contact, "deals": Deal,
               "activities": Activity, "products": Product, "quotes": Quote,
               "orders": SalesOrder}
    assert {kind: count(db, model) for kind, model in counted.items()} == {
        kind: wanted[kind] for kind in counted}
    assert count(db, FinancialAccount) == wanted["customers"]
    assert count(db, Invoice, Invoice.kind == "invoice", Invoice.status == "posted") == 1000
    # payments: most invoices are paid once, a few in two parts, some not (yet)
    assert 850 <= count(db, Payment, Payment.direction == "in") <= 1000
    # about a million journal lines at scale 1
    assert 8_000 <= count(db, JournalLine) <= 13_000
    for kind, model, *where in [
            ("credit notes", Invoice, Invoice.kind == "credit_note"),
            ("shipments", Shipment),
            ("supplier bills", VendorBill, VendorBill.order_id.is_not(None)),
            ("overhead bills", VendorBill, VendorBill.order_id.is_(None)),
            ("supplier payments", Payment, Payment.direction == "out"),
            ("exchange differences", JournalEntry, JournalEntry.source_type == "allocation"),
            ("invoices in dollars", Invoice, Invoice.currency == "USD"),
            ("overdue invoices", Invoice, Invoice.kind == "invoice", Invoice.open_amount > 0,
             Invoice.due_date < date.today()),
            ("orders still to ship", StockMove, StockMove.state == "reserved")]:
        assert count(db, model, *where) > 0, kind
    assert level_drift() == []
    result = app.test_cli_runner().invoke(args=["check-books"])
    assert result.exit_code == 0, result.output
    assert "The books are in order" in result.output


def test_seed_volume__same_seed_same_data(app, db):
    """Do two runs with the same scale and seed build the same books: the same hash chain
    heads? (At the smallest scale: it runs twice.)"""
    def heads():
        found = {head.kind: (head.seq, head.last_hash)
                 for head in db.session.scalars(select(ChainHead))}
        db.session.commit()      # end the read, so the tables can be emptied
        return found

    assert seed(app, db, scale=0.001).exit_code == 0
    first = heads()
    _empty_all_tables(db)
    result = seed(app, db, scale=0.001)
    assert result.exit_code == 0, result.output
    assert heads() == first


def test_seed_volume__refuses_a_database_with_data(app, db):
    """Is a database that already holds customers refused, with what it holds named and
    nothing written?"""
    make_customer()
    db.session.commit()
    result = seed(app, db)
    assert result.exit_code != 0
    assert "already holds customers" in result.output
    assert count(db, Customer) == 1 and count(db, Product) == 0


def test_seed_volume__the_app_carries_on_from_it(app, db, client):
    """Can a demo user sign in with the demo password, and does an invoice and a payment
    posted afterwards through the app's own rules take the next numbers and chain links
    (and a new customer the next id), leaving the books in order?"""
    assert seed(app, db).exit_code == 0
    assert sign_in(client, "finance@tandem.test", DEMO_PASSWORD).status_code == 302
    year = date.today().year
    invoices, payments = last_number("INV", year), last_number("PAY", year)
    customer = create_customer(name="Arrived after the seed")
    invoice = create_invoice(customer)
    add_invoice_line(invoice, QuoteLineInput(
        product=None, description="First order", quantity=Decimal(1),
        unit_price=Decimal("100.00"), use_product_tax=False))
    post_invoice(invoice)
    payment = record_payment(customer, amount=Decimal("100.00"), payment_date=date.today())
    db.session.commit()
    assert invoice.number == f"INV-{year}-{invoices + 1:04d}"
    assert payment.number == f"PAY-{year}-{payments + 1:04d}"
    assert invoice.open_amount == 0
    assert check_books() == []
