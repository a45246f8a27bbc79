"""Every automatic posting, with the balances it leaves: invoices, credit notes, customer
payments (partial, over, foreign currency), shipments, receipts, vendor bills, supplier
payments and stock adjustments; and that a posted entry or invoice is never changed."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select, text

from models.errors import DomainError
from models.invoicing import Invoice, credit_invoice, invoice_order, post_invoice
from models.ledger import Account, JournalEntry
from models.payments import allocations_of, record_supplier_payment
from models.purchasing import receive, record_bill
from models.sales import SalesOrder
from tests.helpers import business_rows, make_customer
from tests.ledger.factories import (
    balance,
    entries,
    make_po,
    make_product,
    make_supplier,
    make_tax_rate,
    pay,
    posted_invoice,
    shipped_order,
)

D = Decimal
YEAR = date.today().year


def assert_balanced(db):
    """Every entry balances, and the whole journal does."""
    for entry in entries(db):
        assert sum(line.debit for line in entry.lines) == sum(
            line.credit for line in entry.lines), entry.number


def test_invoice_from_shipped_order__posts_receivable_income_and_tax(db, stages, chart):
    """Does posting an order's invoice debit the receivable with the gross, credit sales
    with the net and output tax with the tax, and mark the order invoiced?"""
    vat = make_tax_rate(percent="20")
    widget = make_product(cost="4.00", tax_rate=vat)
    order = shipped_order(db, stages, [(widget, "3", "10.00")])
    invoice = posted_invoice(db, order=order)
    assert invoice.number == f"INV-{YEAR}-0001"
    assert (invoice.net_amount, invoice.tax_amount, invoice.total_amount) == (
        D("30.00"), D("6.00"), D("36.00"))
    assert balance(db, "receivable", customer_id=order.customer_id) == D("36.00")
    assert balance(db, "sales") == D("-30.00")
    assert balance(db, "tax_out") == D("-6.00")
    # the shipment posted its cost of goods: 3 x 4.00
    assert balance(db, "cogs") == D("12.00")
    assert balance(db, "inventory") == D("-12.00")
    db.session.refresh(order)
    assert order.status == "invoiced"
    assert [line.invoiced for line in order.lines] == [D("3")]
    assert invoice.state == "open" and invoice.due_date == date.today() + timedelta(days=30)
    assert_balanced(db)


def test_invoice_order__twice_is_refused_and_a_second_post_cannot_bill_again(db, stages,
                                                                           chart):
    """Can the same shipped goods be invoiced twice, by a second draft or by posting a
    stale one?"""
    order = shipped_order(db, stages, [("Installation", "2", "50.00")])
    first = invoice_order(order)
    db.session.commit()
    with pytest.raises(DomainError, match="waiting to be posted"):
        invoice_order(order)
    db.session.rollback()
    post_invoice(first)
    db.session.commit()
    with pytest.raises(DomainError, match="left to invoice"):
        invoice_order(order)


def test_invoice_one_shipment__bills_what_it_carried(db, stages, chart):
    """Does an invoice for one shipment bill only that shipment's quantities?"""
    from models.sales import ship
    from tests.sales.factories import make_order, stock

    widget = make_product()
    stock(widget, "10")
    order = make_order(db, stages, [(widget, "5", "10.00")])
    line = order.lines[0]
    first = ship(order, {line.id: D("2")})
    ship(order, {line.id: D("3")})
    db.session.commit()
    invoice = invoice_order(order, shipment=first)
    assert [item.quantity for item in invoice.lines] == [D("2")]
    post_invoice(invoice)
    db.session.commit()
    with pytest.raises(DomainError, match="already on"):
        invoice_order(order, shipment=first)
    db.session.rollback()
    rest = invoice_order(order)
    assert [item.quantity for item in rest.lines] == [D("3")]


def test_partial_payment__leaves_the_rest_open(db, chart):
    """Does a partial payment credit the receivable, debit the bank and leave the rest
    open on the invoice?"""
    invoice = posted_invoice(db, lines=[("Consulting", "1", "100.00")])
    payment = pay(db, invoice.customer, "40.00")
    db.session.refresh(invoice)
    assert invoice.open_amount == D("60.00") and invoice.state == "partial"
    assert payment.open_amount == D("0.00")
    assert balance(db, "bank") == D("40.00")
    assert balance(db, "receivable", customer_id=invoice.customer_id) == D("60.00")
    assert payment.number == f"PAY-{YEAR}-0001"


def test_payment__settles_oldest_first_and_an_overpayment_stays_as_credit(db, chart):
    """Does a payment pay the oldest invoice first, and is what is left the customer's
    credit (a negative receivable)?"""
    customer = make_customer()
    old = posted_invoice(db, customer=customer, lines=[("A", "1", "50.00")],
                         issue_date=date.today() - timedelta(days=40))
    new = posted_invoice(db, customer=customer, lines=[("B", "1", "30.00")])
    payment = pay(db, customer, "100.00")
    db.session.refresh(old)
    db.session.refresh(new)
    assert (old.state, new.state) == ("paid", "paid")
    assert payment.open_amount == D("20.00")
    assert balance(db, "receivable", customer_id=customer.id) == D("-20.00")
    assert [a.invoice_id for a in allocations_of(payment)] == [old.id, new.id]


def test_payment__allocations_as_typed_are_honoured(db, chart):
    """Can finance choose which invoice a payment settles instead of the oldest?"""
    customer = make_customer()
    old = posted_invoice(db, customer=customer, lines=[("A", "1", "50.00")],
                         issue_date=date.today() - timedelta(days=40))
    new = posted_invoice(db, customer=customer, lines=[("B", "1", "30.00")])
    pay(db, customer, "30.00", allocations={new.id: D("30.00")})
    db.session.refresh(old)
    db.session.refresh(new)
    assert old.open_amount == D("50.00") and new.state == "paid"


@pytest.mark.parametrize("plan, message", [
    ("more_than_payment", "more than the"),
    ("more_than_invoice", "has only"),
    ("draft", "is a draft"),
])
def test_payment__bad_allocations_are_refused_writing_nothing(db, chart, plan, message):
    """Is allocating more than the payment, more than an invoice's open amount, or to a
    draft invoice refused, with nothing written?"""
    from models.invoicing import create_invoice
    from models.payments import record_payment

    invoice = posted_invoice(db, lines=[("A", "1", "50.00")])
    customer = invoice.customer
    draft = create_invoice(customer)
    db.session.commit()
    allocations = {"more_than_payment": {invoice.id: D("60.00")},
                   "more_than_invoice": {invoice.id: D("55.00")},
                   "draft": {draft.id: D("10.00")}}[plan]
    amount = D("50.00") if plan == "more_than_payment" else D("100.00")
    before = business_rows(db)
    with pytest.raises(DomainError, match=message):
        record_payment(customer, amount=amount, payment_date=date.today(),
                       allocations=allocations)
    db.session.rollback()
    assert business_rows(db) == before


def test_credit_note_from_invoice__reverses_income_and_settles_the_invoice(db, chart):
    """Does a credit note for part of an invoice debit income and tax, credit the
    receivable and take its amount off the invoice?"""
    vat = make_tax_rate(percent="20")
    invoice = posted_invoice(db, lines=[("A", "2", "50.00"), ("B", "1", "20.00")],
                             tax_rate=vat)
    first = invoice.lines[0]
    note = credit_invoice(invoice, reason="One arrived broken", quantities={first.id: D("1")})
    post_invoice(note)
    db.session.commit()
    db.session.refresh(invoice)
    assert note.number == f"CN-{YEAR}-0001" and note.total_amount == D("60.00")
    assert invoice.open_amount == D("84.00") and invoice.credited_amount == D("60.00")
    assert invoice.lines[0].credited == D("1")
    assert balance(db, "receivable", customer_id=invoice.customer_id) == D("84.00")
    assert balance(db, "services") == D("-70.00")
    assert balance(db, "tax_out") == D("-14.00")
    assert note.state == "used"


def test_credit_note__whole_invoice_marks_it_credited(db, chart):
    """Is an invoice credited in full shown as credited, with nothing open?"""
    invoice = posted_invoice(db, lines=[("A", "1", "80.00")])
    note = credit_invoice(invoice, reason="Cancelled")
    post_invoice(note)
    db.session.commit()
    db.session.refresh(invoice)
    assert invoice.state == "credited" and invoice.open_amount == 0
    assert balance(db, "receivable", customer_id=invoice.customer_id) == 0


def test_credit_note__larger_than_the_invoice_is_refused(db, chart):
    """Is a credit note for more than is left to credit refused, writing nothing?"""
    invoice = posted_invoice(db, lines=[("A", "2", "50.00")])
    line = invoice.lines[0]
    with pytest.raises(DomainError, match="left to credit"):
        credit_invoice(invoice, reason="x", quantities={line.id: D("3")})
    db.session.rollback()
    first = credit_invoice(invoice, reason="x", quantities={line.id: D("2")})
    second = credit_invoice(invoice, reason="again", quantities={line.id: D("2")})
    post_invoice(first)
    db.session.commit()
    before = business_rows(db)
    with pytest.raises(DomainError, match="left to credit"):
        post_invoice(second)
    db.session.rollback()
    assert business_rows(db) == before


def test_credit_note_from_approved_credit_request__becomes_customer_credit(db, chart,
                                                                          users):
    """Does a support case's approved credit become a posted credit note whose amount
    is the customer's credit, usable against their next invoice?"""
    from models.cases import decide_credit, open_case, request_credit
    from models.invoicing import credit_from_request
    from models.payments import allocate_credit

    customer = make_customer()
    case = open_case(customer=customer, subject="Late delivery", by=users["sales"])
    request = request_credit(case, amount=D("25.00"), reason="Goodwill", by=users["sales"])
    decide_credit(request, approve=True, note="ok", version=request.version,
                  by=users["finance"])
    db.session.commit()
    note = credit_from_request(request)
    post_invoice(note)
    db.session.commit()
    assert note.total_amount == D("25.00") and note.open_amount == D("25.00")
    assert balance(db, "receivable", customer_id=customer.id) == D("-25.00")
    with pytest.raises(DomainError, match="already on"):
        credit_from_request(request)
    db.session.rollback()
    invoice = posted_invoice(db, customer=customer, lines=[("A", "1", "100.00")])
    allocate_credit(note, {invoice.id: D("25.00")})
    db.session.commit()
    db.session.refresh(invoice)
    assert invoice.open_amount == D("75.00")


def test_foreign_currency__exchange_difference_keeps_the_control_account_equal(db, chart):
    """A USD invoice booked at 0.90 and paid at 0.95: is the gain posted, and does the
    customer's receivable end at zero in the base currency too?"""
    customer = make_customer(currency="USD")
    invoice = posted_invoice(db, customer=customer, lines=[("A", "1", "100.00")],
                             rate="0.90")
    assert invoice.total_base == D("90.00")
    pay(db, customer, "100.00", rate="0.95")
    db.session.refresh(invoice)
    assert invoice.open_amount == 0 and invoice.open_base == 0
    assert balance(db, "receivable", customer_id=customer.id) == 0
    assert balance(db, "fx") == D("-5.00")   # a gain: a credit on exchange differences
    assert balance(db, "bank") == D("95.00")


def test_foreign_currency__rate_is_required_and_base_currency_takes_none(db, chart):
    """Is a USD invoice without a rate refused, and a rate other than 1 refused in EUR?"""
    from models.invoicing import add_invoice_line, create_invoice
    from models.sales import QuoteLineInput

    usd = create_invoice(make_customer(currency="USD"))
    add_invoice_line(usd, QuoteLineInput(product=None, description="A", quantity=D(1),
                                         unit_price=D(10), use_product_tax=False))
    with pytest.raises(DomainError, match="exchange rate"):
        post_invoice(usd)
    db.session.rollback()
    eur = create_invoice(make_customer())
    add_invoice_line(eur, QuoteLineInput(product=None, description="A", quantity=D(1),
                                         unit_price=D(10), use_product_tax=False))
    with pytest.raises(DomainError, match="rate is 1"):
        post_invoice(eur, exchange_rate=D("1.1"))


def test_receipt_and_bill__clear_grni_and_post_the_payable(db, chart):
    """Does a receipt put goods in inventory against GRNI, and the bill clear GRNI, add
    input tax and the payable, with the price difference on its own account?"""
    supplier = make_supplier()
    bolt = make_product(cost="2.00")
    order = make_po(supplier, [(bolt, "10", "2.00")], status="received")
    assert balance(db, "inventory") == D("20.00")
    assert balance(db, "grni") == D("-20.00")
    bill = record_bill(order, supplier_ref="B-1", bill_date=date.today(), net=D("21.00"),
                       tax=D("4.20"))
    db.session.commit()
    assert balance(db, "grni") == 0
    assert balance(db, "tax_in") == D("4.20")
    assert balance(db, "price_diff") == D("1.00")
    assert balance(db, "payable", supplier_id=supplier.id) == D("-25.20")
    assert bill.open_amount == D("25.20") and bill.entry_id is not None


def test_bill_before_everything_arrives__grni_clears_when_the_rest_arrives(db, chart):
    """Billed for 10 when 4 arrived: does GRNI come back to zero once the other 6 do?"""
    supplier = make_supplier()
    bolt = make_product(cost="2.00")
    order = make_po(supplier, [(bolt, "10", "2.00")], status="sent")
    line = order.lines[0]
    receive(order, {line.id: D("4")})
    db.session.commit()
    record_bill(order, supplier_ref="B-2", bill_date=date.today(), net=D("20.00"),
                tax=D("0.00"))
    db.session.commit()
    assert balance(db, "grni") == D("12.00")   # billed, not yet received
    receive(order, {line.id: D("6")})
    db.session.commit()
    assert balance(db, "grni") == 0
    assert balance(db, "inventory") == D("20.00")


def test_supplier_payment__settles_the_bill(db, chart):
    """Does paying a supplier debit the payable, credit the bank and mark the bill paid?"""
    supplier = make_supplier()
    order = make_po(supplier, [("Freight", "1", "50.00")], status="received")
    bill = record_bill(order, supplier_ref="F-9", bill_date=date.today(), net=D("50.00"),
                       tax=D("10.00"))
    db.session.commit()
    assert balance(db, "purchases") == D("50.00")
    payment = record_supplier_payment(supplier, amount=D("60.00"), payment_date=date.today())
    db.session.commit()
    db.session.refresh(bill)
    assert bill.status == "paid" and bill.open_amount == 0
    assert balance(db, "payable", supplier_id=supplier.id) == 0
    assert balance(db, "bank") == D("-60.00")
    assert payment.number == f"SPAY-{YEAR}-0001"


def test_expense_bill__without_an_order_posts_to_its_account(db, chart):
    """Does a bill without a purchase order post to the expense account chosen?"""
    from models.purchasing import record_expense_bill

    supplier = make_supplier()
    rent = db.session.scalar(select(Account).where(Account.code == "6000"))
    record_expense_bill(supplier, supplier_ref="R-12", bill_date=date.today(),
                        net=D("1000.00"), tax=D("0.00"), account=rent)
    db.session.commit()
    assert balance(db, rent) == D("1000.00")
    assert balance(db, "payable", supplier_id=supplier.id) == D("-1000.00")


def test_stock_count__posts_the_difference_as_an_adjustment(db, chart):
    """Does a count that finds 2 fewer post their cost from inventory to adjustments?"""
    from models.stock import default_stock_location, record_count
    from tests.sales.factories import stock

    bolt = make_product(cost="3.00")
    stock(bolt, "10", cost="3.00")
    record_count(default_stock_location(), {bolt: D("8")}, reason="Year-end count")
    db.session.commit()
    [entry] = entries(db, "count")
    assert balance(db, "stock_adjust") == D("6.00")
    assert sum(line.credit for line in entry.lines) == D("6.00")


def test_manual_entry__must_balance_and_stay_off_control_accounts(db, chart, users):
    """Is an unbalanced manual entry refused, and one touching the receivable too?"""
    from models.ledger import credit, debit, post_entry

    rent, bank = db.session.scalar(select(Account).where(Account.code == "6000")), chart["bank"]
    before = business_rows(db)
    with pytest.raises(DomainError, match="does not balance"):
        post_entry(date.today(), [debit(rent, D("100")), credit(bank, D("90"))])
    db.session.rollback()
    with pytest.raises(DomainError, match="control account"):
        post_entry(date.today(), [debit(chart["receivable"], D("100"), customer_id=None),
                                  credit(bank, D("100"))])
    db.session.rollback()
    assert business_rows(db) == before
    entry = post_entry(date.today(), [debit(rent, D("100")), credit(bank, D("100"))],
                       memo="December rent", by=users["finance"])
    db.session.commit()
    assert entry.number == f"JE-{YEAR}-0001"


def test_lock_date__nothing_posts_on_or_before_it(db, chart, users):
    """With the books closed up to yesterday, are an invoice, a payment and a manual
    entry dated yesterday refused?"""
    from models.ledger import credit, debit, post_entry, set_lock_date

    invoice = posted_invoice(db, lines=[("A", "1", "10.00")])
    yesterday = date.today() - timedelta(days=1)
    set_lock_date(yesterday, by=users["finance"])
    db.session.commit()
    with pytest.raises(DomainError, match="closed up to"):
        pay(db, invoice.customer, "10.00", on=yesterday)
    db.session.rollback()
    with pytest.raises(DomainError, match="closed up to"):
        post_entry(yesterday, [debit(chart["bank"], D(1)), credit(chart["cash"], D(1))])
    db.session.rollback()
    with pytest.raises(DomainError, match="Only an admin may reopen"):
        set_lock_date(None, by=users["finance"])
    db.session.rollback()
    set_lock_date(None, by=users["admin"])


def test_reverse_entry__swaps_every_line_once(db, chart, users):
    """Does reversing a manual entry post its mirror, refuse a second reversal, and
    refuse reversing a document's entry?"""
    from models.ledger import credit, debit, post_entry, reverse_entry

    entry = post_entry(date.today(), [debit(chart["cash"], D("5")), credit(chart["bank"],
                                                                          D("5"))])
    mirror = reverse_entry(entry, on=date.today(), reason="Wrong account", by=users["finance"])
    db.session.commit()
    assert mirror.reverses_id == entry.id
    assert balance(db, "cash") == 0 and balance(db, "bank") == 0
    with pytest.raises(DomainError, match="already reversed"):
        reverse_entry(entry, on=date.today(), reason="again")
    db.session.rollback()
    invoice = posted_invoice(db, lines=[("A", "1", "10.00")])
    with pytest.raises(DomainError, match="correct the document"):
        reverse_entry(invoice.entry, on=date.today(), reason="no")


def test_posted_entry__is_never_updated_or_deleted(db, chart):
    """Does the model refuse changing or deleting a posted entry or one of its lines?"""
    invoice = posted_invoice(db, lines=[("A", "1", "10.00")])
    entry = db.session.get(JournalEntry, invoice.entry_id)
    entry.memo = "changed"
    with pytest.raises(DomainError, match="never changed"):
        db.session.flush()
    db.session.rollback()
    line = entry.lines[0]
    line.debit = D("11.00")
    with pytest.raises(DomainError, match="never changed"):
        db.session.flush()
    db.session.rollback()
    db.session.delete(db.session.get(JournalEntry, invoice.entry_id))
    with pytest.raises(DomainError, match="never deleted"):
        db.session.flush()


def test_posted_invoice__is_never_edited_or_deleted(db, chart):
    """Does the model refuse editing a posted invoice's content or lines, or deleting
    it, while its settlement still moves?"""
    from models.invoicing import delete_draft

    invoice = posted_invoice(db, lines=[("A", "1", "10.00")])
    invoice.notes = "changed after posting"
    with pytest.raises(DomainError, match="cannot be changed"):
        db.session.flush()
    db.session.rollback()
    invoice = db.session.get(Invoice, invoice.id)
    invoice.lines[0].unit_price = D("1.00")
    with pytest.raises(DomainError, match="cannot be changed"):
        db.session.flush()
    db.session.rollback()
    with pytest.raises(DomainError):
        delete_draft(db.session.get(Invoice, invoice.id))
    db.session.rollback()
    db.session.delete(db.session.get(Invoice, invoice.id))
    with pytest.raises(DomainError, match="never deleted"):
        db.session.flush()


def test_invoice_numbers__are_given_at_posting_in_posting_order(db, chart):
    """Do drafts have no number, and do numbers follow the posting order, not creation?"""
    from models.invoicing import add_invoice_line, create_invoice
    from models.sales import QuoteLineInput

    customer = make_customer()
    first, second = create_invoice(customer), create_invoice(customer)
    for draft in (first, second):
        add_invoice_line(draft, QuoteLineInput(product=None, description="x", quantity=D(1),
                                               unit_price=D(5), use_product_tax=False))
    db.session.commit()
    assert first.number is None and second.number is None
    post_invoice(second)
    post_invoice(first)
    db.session.commit()
    assert (second.number, first.number) == (f"INV-{YEAR}-0001", f"INV-{YEAR}-0002")


def test_hash_chain__links_each_posted_document_to_the_one_before(db, chart):
    """Does each posted invoice carry the previous one's hash, and does an edit behind
    the app's back change what its content hashes to?"""
    from models.ledger import chain_hash

    first = posted_invoice(db, lines=[("A", "1", "10.00")])
    second = posted_invoice(db, lines=[("B", "1", "20.00")])
    assert second.prev_hash == first.hash
    assert chain_hash(first.prev_hash, first.content()) == first.hash
    db.session.execute(text("UPDATE invoice_lines SET unit_price = 100 WHERE invoice_id = :i"),
                       {"i": first.id})
    db.session.commit()
    db.session.expire_all()
    tampered = db.session.get(Invoice, first.id)
    assert chain_hash(tampered.prev_hash, tampered.content()) != tampered.hash


def test_credit_control__over_the_limit_the_order_waits_for_finance(db, stages, chart,
                                                                    users):
    """With receivables near the limit, is a new order made on credit hold (stock
    reserved, nothing ships), and does release confirm it and tell the rep?"""
    from models.activities import Activity
    from models.sales import decide_credit_hold, ship
    from tests.sales.factories import make_order

    customer = make_customer(credit_limit="1000.00")
    posted_invoice(db, customer=customer, lines=[("Old work", "1", "900.00")])
    order = make_order(db, stages, [("Service", "1", "200.00")], customer=customer)
    assert order.status == "held" and "over the credit limit" in order.credit_hold_reason
    with pytest.raises(DomainError, match="credit hold"):
        ship(order, {order.lines[0].id: D("1")})
    db.session.rollback()
    order = db.session.get(SalesOrder, order.id)
    decide_credit_hold(order, release=True, note="Paid by phone", by=users["finance"])
    db.session.commit()
    assert order.status == "confirmed" and order.credit_decision == "released"
    note = db.session.scalar(select(Activity).where(Activity.deal_id == order.deal_id,
                                                    Activity.kind == "note"))
    assert "released" in note.subject and "Paid by phone" in note.body


def test_credit_control__on_hold_customer_order_waits_and_rejection_cancels(db, stages,
                                                                           chart, users):
    """Is an on-hold customer's order held, and does rejecting it cancel it and free its
    stock?"""
    from models.sales import decide_credit_hold
    from models.stock import ProductStock
    from tests.sales.factories import make_order, stock

    widget = make_product()
    stock(widget, "5")
    customer = make_customer(on_hold=True)
    order = make_order(db, stages, [(widget, "2", "10.00")], customer=customer)
    assert order.status == "held"
    assert db.session.get(ProductStock, widget.id).reserved == D("2")
    with pytest.raises(DomainError, match="Say why"):
        decide_credit_hold(order, release=False, note="", by=users["finance"])
    db.session.rollback()
    order = db.session.get(SalesOrder, order.id)
    decide_credit_hold(order, release=False, note="Unpaid since March", by=users["finance"])
    db.session.commit()
    db.session.expire_all()
    assert order.status == "cancelled"
    assert db.session.get(ProductStock, widget.id).reserved == 0


def test_control_accounts__equal_their_sub_ledgers(db, chart):
    """After invoices, a credit note and payments for two customers, does each
    customer's receivable in the ledger equal their open documents?"""
    from models.payments import Payment

    one, two = make_customer(), make_customer()
    a = posted_invoice(db, customer=one, lines=[("A", "3", "33.33")])
    posted_invoice(db, customer=two, lines=[("B", "1", "10.00")])
    note = credit_invoice(a, reason="x", quantities={a.lines[0].id: D("1")})
    post_invoice(note)
    db.session.commit()
    pay(db, one, "150.00")
    for customer in (one, two):
        db.session.expire_all()
        documents = sum((i.open_base if i.kind == "invoice" else -i.open_base)
                        for i in db.session.scalars(select(Invoice).where(
                            Invoice.customer_id == customer.id, Invoice.status == "posted")))
        documents -= sum(p.open_base for p in db.session.scalars(select(Payment).where(
            Payment.customer_id == customer.id)))
        assert balance(db, "receivable", customer_id=customer.id) == documents
