"""A property of the whole ledger: whatever sequence of invoices, shipments, payments,
credit notes, purchases, bills and supplier payments the rules accept, in the base
currency or in USD at any rates, check-books stays clean."""

from datetime import date, timedelta
from decimal import Decimal

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from models.books_check import check_books
from models.errors import DomainError
from models.invoicing import (
    Invoice,
    add_invoice_line,
    create_invoice,
    credit_invoice,
    invoice_order,
    post_invoice,
)
from models.ledger import account_for, credit, debit, ensure_chart, post_entry, reverse_entry
from models.payments import (
    allocate_credit,
    open_bills,
    open_credits,
    open_invoices,
    record_payment,
    record_supplier_payment,
)
from models.pipeline import ensure_stages
from models.purchasing import receive, record_bill
from models.sales import QuoteLineInput, ship
from tests.helpers import make_customer
from tests.ledger.factories import make_po, make_product, make_supplier, make_tax_rate
from tests.sales.factories import make_order, stock

D = Decimal
TODAY = date.today()

money = st.decimals(min_value=D("0.01"), max_value=D("600.00"), places=2)
rates = st.decimals(min_value=D("0.5"), max_value=D("1.8"), places=6)
quantities = st.sampled_from(["1", "2", "3", "0.5", "1.25", "0.333", "7"])
whole = st.sampled_from(["1", "2", "3", "5"])
discounts = st.sampled_from(["0", "0", "10", "12.5", "33.33"])
taxes = st.sampled_from([None, "0", "7.7", "19", "20"])
days_back = st.integers(min_value=0, max_value=10)
pick = st.integers(min_value=0, max_value=50)       # which existing document, modulo
fractions = st.sampled_from(["0.25", "0.5", "1", "1"])

OPERATIONS = st.one_of(
    # an invoice written by hand for customer 0 or 1, or the USD customer (2) at a rate
    st.tuples(st.just("invoice"), st.integers(0, 2), rates, taxes, days_back,
              st.lists(st.tuples(quantities, money, discounts), min_size=1, max_size=3)),
    # an order shipped (all or part) and invoiced
    st.tuples(st.just("ship"), st.integers(0, 1), st.booleans(),
              st.lists(st.tuples(whole, money, discounts), min_size=1, max_size=2)),
    # a payment, oldest invoices first or all on the newest; what is left over stays as
    # credit
    st.tuples(st.just("pay"), st.integers(0, 2), money, rates, days_back, st.booleans()),
    # a credit note for part (or all) of an invoice (in USD at a rate of its own)
    st.tuples(st.just("credit"), pick, fractions, rates),
    # a customer's open credit used against their open invoices
    st.tuples(st.just("use_credit"), st.integers(0, 2)),
    # a purchase received (at once, or billed between two receipts) and billed
    st.tuples(st.just("purchase"), st.integers(0, 1), rates, st.booleans(), whole, money,
              st.sampled_from(["-0.05", "0", "0", "0.1"]), st.sampled_from(["0", "20"])),
    # a supplier paid, oldest bills first
    st.tuples(st.just("pay_supplier"), st.integers(0, 1), money, rates),
    # a manual entry, sometimes reversed
    st.tuples(st.just("manual"), money, st.booleans()),
)


def empty_books(db):
    """Every table emptied, as tests/conftest.py's _empty_all_tables does between tests,
    but by DELETE on PostgreSQL too: TRUNCATE of every table costs over a second there,
    paid once per example."""
    db.session.remove()
    with db.engine.begin() as conn:
        # self-references with ON DELETE RESTRICT (a reversal, a credit note's invoice)
        # are unlinked first
        for table in db.metadata.sorted_tables:
            for fk in table.foreign_keys:
                if fk.column.table is table and fk.parent.nullable:
                    conn.execute(table.update().values({fk.parent.name: None}))
        for table in reversed(db.metadata.sorted_tables):
            conn.execute(table.delete())


class World:
    """What one example works with: customers (two in EUR, one in USD), suppliers (EUR,
    USD), a tax rate per percent, stocked products."""

    def __init__(self, db, stages):
        self.db, self.stages = db, stages
        self.customers = [make_customer(), make_customer(), make_customer(currency="USD")]
        self.suppliers = [make_supplier(), make_supplier(currency="USD")]
        self.taxes = {percent: make_tax_rate(percent=percent)
                      for percent in ("0", "7.7", "19", "20")}
        self.products = [make_product(cost="3.30"), make_product(cost="12.00")]

    def rate_for(self, currency, rate):
        return None if currency == "EUR" else rate

    def invoice(self, who, rate, tax, back, lines):
        customer = self.customers[who]
        invoice = create_invoice(customer)
        for quantity, price, discount in lines:
            add_invoice_line(invoice, QuoteLineInput(
                product=None, description="Work", quantity=D(quantity), unit_price=price,
                discount_percent=D(discount),
                tax_rate=self.taxes[tax] if tax else None, use_product_tax=False))
        post_invoice(invoice, issue_date=TODAY - timedelta(days=back),
                     exchange_rate=self.rate_for(customer.account.currency, rate))

    def ship(self, who, everything, lines):
        specs = []
        for index, (quantity, price, discount) in enumerate(lines):
            product = self.products[index % len(self.products)]
            stock(product, quantity, cost=str(product.cost))
            specs.append((product, quantity, str(price), discount))
        order = make_order(self.db, self.stages, specs, customer=self.customers[who])
        first = order.lines[0]
        wanted = ({line.id: line.quantity for line in order.lines} if everything
                  else {first.id: D(1)})
        ship(order, wanted)
        post_invoice(invoice_order(order))

    def pay(self, who, amount, rate, back, newest):
        customer = self.customers[who]
        currency = customer.account.currency
        plan = None
        if newest:
            targets = open_invoices(customer.id, currency)
            plan = {targets[-1].id: min(amount, targets[-1].open_amount)} if targets else {}
        record_payment(customer, amount=amount, payment_date=TODAY - timedelta(days=back),
                       currency=currency, exchange_rate=self.rate_for(currency, rate),
                       allocations=plan)

    def credit(self, which, fraction, rate):
        invoices = list(self.db.session.scalars(
            select(Invoice).where(Invoice.kind == "invoice", Invoice.status == "posted")
            .order_by(Invoice.id)).unique())
        if not invoices:
            return
        invoice = invoices[which % len(invoices)]
        wanted = {}
        for line in invoice.lines:
            quantity = (line.creditable * D(fraction)).quantize(D("0.001"))
            if line.product is not None:
                quantity = quantity.to_integral_value()
            if quantity > 0:
                wanted[line.id] = quantity
        if wanted:
            note = credit_invoice(invoice, reason="Returned", quantities=wanted)
            post_invoice(note, exchange_rate=self.rate_for(invoice.currency, rate))

    def use_credit(self, who):
        customer = self.customers[who]
        credits = open_credits(customer.id)
        for source in credits:
            targets = open_invoices(customer.id, source.currency)
            plan, left = {}, source.open_amount
            for target in targets:
                take = min(left, target.open_amount)
                if take > 0:
                    plan[target.id] = take
                    left -= take
            if plan:
                allocate_credit(source, plan)
                return

    def purchase(self, which, rate, split, quantity, cost, variance, tax):
        supplier = self.suppliers[which]
        product = self.products[0]
        order = make_po(supplier, [(product, quantity, str(cost)), ("Freight", "1", "9.99")],
                        status="sent", rate=self.rate_for(supplier.currency, rate))
        goods, freight = order.lines
        if split and goods.quantity > 1:
            receive(order, {goods.id: D(1), freight.id: D(1)})
            rest = {goods.id: goods.quantity - 1}
        else:
            receive(order, {goods.id: goods.quantity, freight.id: D(1)})
            rest = None
        ordered = goods.quantity * goods.unit_cost + freight.quantity * freight.unit_cost
        net = (ordered * (1 + D(variance))).quantize(D("0.01"))
        record_bill(order, supplier_ref=f"B-{order.number}", bill_date=TODAY, net=net,
                    tax=(net * D(tax) / 100).quantize(D("0.01")))
        if rest:
            receive(order, rest)

    def manual(self, amount, reverse):
        entry = post_entry(TODAY, [debit(account_for("cash"), amount, "Float"),
                                   credit(account_for("bank"), amount, "Float")],
                           memo="Cash float")
        if reverse:
            reverse_entry(entry, on=TODAY, reason="Not needed")

    def pay_supplier(self, which, amount, rate):
        supplier = self.suppliers[which]
        if not open_bills(supplier.id):
            amount = min(amount, D("50.00"))        # a payment on account now and then
        record_supplier_payment(supplier, amount=amount, payment_date=TODAY,
                                exchange_rate=self.rate_for(supplier.currency, rate))


@settings(max_examples=25, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                 HealthCheck.too_slow])
@given(operations=st.lists(OPERATIONS, min_size=1, max_size=7))
def test_check_books__stays_clean_whatever_the_rules_accept(db, operations):
    """After any sequence of invoices, shipments, payments (partial, over, in USD at
    other rates), credit notes, credit used, purchases, bills and supplier payments, does
    check-books find nothing wrong?"""
    empty_books(db)                  # each example starts from empty books
    stages = {stage.name: stage for stage in ensure_stages()}
    ensure_chart()
    db.session.commit()
    world = World(db, stages)
    refused = []
    for name, *arguments in operations:
        try:
            getattr(world, name)(*arguments)
            db.session.commit()
        except DomainError as error:     # a refusal writes nothing; the books stay as they were
            db.session.rollback()
            refused.append((name, error.message))
            event(f"refused {name}: {error.message[:60]}")
        else:
            event(f"done {name}")   # seen with --hypothesis-show-statistics
    assert check_books() == [], (operations, refused)
