"""Factories for the ledger tests: shipped orders, posted invoices, payments, credit
notes and bills, each made through the model rules and committed; and the balances the
tests assert on.

Other test modules may ADD helpers here; the existing ones keep their signatures.
"""

from datetime import date
from decimal import Decimal

from sqlalchemy import select

from tests.helpers import make_customer  # noqa: F401
from tests.orders.factories import make_po, make_supplier  # noqa: F401
from tests.sales.factories import make_order, make_product, make_tax_rate, stock  # noqa: F401

D = Decimal


def shipped_order(db, stages, lines, *, customer=None, **quote_fields):
    """An accepted order with `lines` [(product or description, qty, price[, discount])]
    shipped in full (stock is put on hand first for stocked products)."""
    from models.sales import ship

    for spec in lines:
        what = spec[0]
        if not isinstance(what, str) and what.is_stocked:
            stock(what, spec[1], cost=str(what.cost or "10.00"))
    order = make_order(db, stages, lines, customer=customer, **quote_fields)
    ship(order, {line.id: line.quantity for line in order.lines})
    db.session.commit()
    return order


def posted_invoice(db, stages=None, lines=(("Consulting", "1", "100.00"),), *, customer=None,
                   order=None, issue_date=None, rate=None, tax_rate=None, terms=None):
    """A posted invoice. From `order` when given (all shipped and not invoiced);
    otherwise written by hand for `customer` with `lines` [(description or product, qty,
    price)] (a tax rate applies to every line when given)."""
    from models.invoicing import add_invoice_line, create_invoice, invoice_order, post_invoice
    from models.sales import QuoteLineInput

    if order is not None:
        invoice = invoice_order(order)
    else:
        customer = customer or make_customer()
        invoice = create_invoice(customer)
        for spec in lines:
            what, quantity, price = spec[:3]
            product = None if isinstance(what, str) else what
            add_invoice_line(invoice, QuoteLineInput(
                product=product, description=what if product is None else "",
                quantity=D(quantity), unit_price=D(price), tax_rate=tax_rate,
                use_product_tax=False))
    if terms is not None:
        invoice.payment_terms_days = terms
    post_invoice(invoice, issue_date=issue_date, exchange_rate=D(rate) if rate else None)
    db.session.commit()
    return invoice


def pay(db, customer, amount, *, on=None, allocations=None, rate=None, currency=None):
    """A recorded customer payment (oldest invoices first unless `allocations`)."""
    from models.payments import record_payment

    payment = record_payment(customer, amount=D(amount), payment_date=on or date.today(),
                             allocations=allocations, currency=currency,
                             exchange_rate=D(rate) if rate else None)
    db.session.commit()
    return payment


def balance(db, role_or_account, *, customer_id=None, supplier_id=None) -> Decimal:
    """Debits - credits on the account with that role (or that Account), optionally for
    one customer's or supplier's lines only."""
    from models.ledger import Account, JournalLine, account_for, sum_money

    db.session.expire_all()
    account = role_or_account if isinstance(role_or_account, Account) else account_for(
        role_or_account)
    query = select(sum_money(JournalLine.debit - JournalLine.credit)).where(
        JournalLine.account_id == account.id)
    if customer_id is not None:
        query = query.where(JournalLine.customer_id == customer_id)
    if supplier_id is not None:
        query = query.where(JournalLine.supplier_id == supplier_id)
    return db.session.scalar(query)


def entries(db, source_type=None):
    from models.ledger import JournalEntry

    query = select(JournalEntry).order_by(JournalEntry.id)
    if source_type is not None:
        query = query.where(JournalEntry.source_type == source_type)
    return list(db.session.scalars(query))


def account_by_code(db, code: str):
    """The chart's account with `code` ("6000")."""
    from models.ledger import Account

    return db.session.scalar(select(Account).where(Account.code == code))


def manual_entry(db, postings, *, on=None, memo="Manual entry", by=None):
    """A posted manual entry: `postings` [(Account, amount)], a positive amount a debit
    and a negative one a credit."""
    from models.ledger import Posting, post_entry

    entry = post_entry(on or date.today(), [Posting(account, D(amount))
                                            for account, amount in postings],
                       memo=memo, by=by)
    db.session.commit()
    return entry


# --- Added for the report tests ----------------------------------------------------------

def expense_bill(db, supplier, net, *, on=None, tax="0.00", code="6000", due_on=None,
                 ref=None):
    """A vendor bill without a purchase order, posted to the account with `code`."""
    from models.purchasing import record_expense_bill

    bill = record_expense_bill(supplier, supplier_ref=ref or f"B-{supplier.id}-{net}",
                               bill_date=on or date.today(), due_on=due_on, net=D(net),
                               tax=D(tax), account=account_by_code(db, code))
    db.session.commit()
    return bill


def pay_supplier(db, supplier, amount, *, on=None, allocations=None):
    """A recorded supplier payment (oldest bills first unless `allocations`)."""
    from models.payments import record_supplier_payment

    payment = record_supplier_payment(supplier, amount=D(amount),
                                      payment_date=on or date.today(), allocations=allocations)
    db.session.commit()
    return payment


# --- Added for check-books, the beancount export and the property test ------------------

def posted_credit_note(db, invoice, quantities=None, *, reason="Returned", issue_date=None):
    """A posted credit note for `invoice`: {invoice line id: quantity}, or all of it."""
    from models.invoicing import credit_invoice, post_invoice

    note = credit_invoice(invoice, reason=reason, quantities=quantities)
    post_invoice(note, issue_date=issue_date)
    db.session.commit()
    return note


def received_and_billed(db, supplier, lines, *, ref, net, tax="0.00", on=None, rate=None):
    """A purchase order received in full and billed at `net` + `tax` (posted)."""
    from models.purchasing import record_bill

    order = make_po(supplier, lines, status="received", rate=rate)
    bill = record_bill(order, supplier_ref=ref, bill_date=on or date.today(), net=D(net),
                       tax=D(tax), exchange_rate=D(rate) if rate else None)
    db.session.commit()
    return bill


def paid_to_supplier(db, supplier, amount, *, on=None, rate=None, allocations=None):
    """A recorded supplier payment (oldest bills first unless `allocations`)."""
    from models.payments import record_supplier_payment

    payment = record_supplier_payment(supplier, amount=D(amount),
                                      payment_date=on or date.today(),
                                      exchange_rate=D(rate) if rate else None,
                                      allocations=allocations)
    db.session.commit()
    return payment


def posted_manual_entry(db, debit_code, credit_code, amount, *, memo="", on=None):
    """A posted manual entry between two accounts of the chart (by code)."""
    from models.ledger import Account, credit, debit, post_entry

    accounts = {a.code: a for a in db.session.scalars(select(Account))}
    entry = post_entry(on or date.today(), [debit(accounts[debit_code], D(amount)),
                                            credit(accounts[credit_code], D(amount))],
                       memo=memo)
    db.session.commit()
    return entry


def realistic_books(db, stages):
    """A month of a small company's books, each posted through the rules: an order shipped
    and invoiced, invoices by hand with tax, partial and over payments, a credit note, a
    USD invoice paid in two parts at other rates, a purchase received and billed above its
    cost, a rent bill, supplier payments, a stock count and a manual entry with its
    reversal. Returns the documents by name."""
    from datetime import timedelta

    from models.ledger import Account, reverse_entry
    from models.purchasing import record_expense_bill
    from models.stock import default_stock_location, record_count

    today = date.today()
    days = [today - timedelta(days=n) for n in (20, 15, 10, 5, 2)]
    vat = make_tax_rate(percent="20")
    widget = make_product(cost="4.00", tax_rate=vat)
    made = {}
    made["order"] = shipped_order(db, stages, [(widget, "3", "10.00"),
                                               ("Installation", "1", "50.00")])
    made["order_invoice"] = posted_invoice(db, order=made["order"], issue_date=days[0])
    alice = make_customer(name='Alice "Ace" Café \\ Co')
    made["alice"] = alice
    made["invoice"] = posted_invoice(db, customer=alice, tax_rate=vat, issue_date=days[0],
                                     lines=[("Consulting", "2", "120.00"),
                                            ("Travel", "1", "33.33")])
    made["partial"] = pay(db, alice, "100.00", on=days[1])
    made["credit_note"] = posted_credit_note(db, made["invoice"],
                                      {made["invoice"].lines[1].id: D("1")},
                                      issue_date=days[2])
    made["overpayment"] = pay(db, made["order"].customer, "200.00", on=days[2])
    usd = make_customer(currency="USD")
    made["usd"] = usd
    made["usd_invoice"] = posted_invoice(db, customer=usd, rate="0.912345", issue_date=days[1],
                                         lines=[("Licence", "3", "333.33")])
    made["usd_first"] = pay(db, usd, "400.00", rate="0.95", currency="USD", on=days[2])
    made["usd_rest"] = pay(db, usd, "599.99", rate="0.87", currency="USD", on=days[3])
    supplier = make_supplier()
    made["supplier"] = supplier
    bolt = make_product(cost="2.00")
    made["bill"] = received_and_billed(db, supplier, [(bolt, "10", "2.00"), ("Freight", "1", "15.00")],
                             ref="B-1001", net="36.00", tax="7.20", on=days[2])
    made["rent"] = record_expense_bill(
        supplier, supplier_ref="R-3", bill_date=days[3], net=D("800.00"), tax=D("0.00"),
        account=db.session.scalar(select(Account).where(Account.code == "6000")))
    db.session.commit()
    made["supplier_payment"] = paid_to_supplier(db, supplier, "500.00", on=days[4])
    record_count(default_stock_location(), {bolt: D("9")}, reason="Spot check")
    db.session.commit()
    made["manual"] = posted_manual_entry(db, "6300", "1000", "12.34", on=days[3],
                                  memo='Stamps "first class" \\ post office\n\treceipt kept')
    made["reversal"] = reverse_entry(made["manual"], on=days[4], reason="Paid by the owner")
    db.session.commit()
    return made
