"""A page runs as many SQL statements for 100 rows as for 10 (issue #7): no N+1.

Every page that lists rows is rendered at 10 rows and at 100, statements are counted on
the serving app's engine during the request, and the two counts must be equal. The test
also checks that the page really showed 10 and 100 of the rows built for it.

Three ways to get there, on one data set built once for the module:

- **Paged lists** (keyset pages): more than 100 rows are there; the page is asked for at
  ``TANDEM_PER_PAGE`` 10 and 100 (fixed page sizes in a view are raised for the test).
- **Whole lists** (the board, follow-ups, campaigns, locations, reports, dashboards...):
  the rows are built in two steps. The module's fixture builds 10 of each, renders those
  pages and keeps their counts, then builds up to 100; each test renders its page again
  and compares. A dashboard's panels list 8 or 10 rows at most, so dashboards are
  rendered at 3 rows first.
- **A record's page** (a customer with 10 or 100 deals, contracts and contacts; an order,
  an invoice or a purchase order with 10 or 100 lines...): two records built side by side.
  Where a page lists only the latest rows (a customer's 20 invoices and 50 activities, a
  supplier's 20 bills), only a few more than those are built: the payments settling
  those invoices or bills then list 10 and 21 of them.

`test_every_page_is_counted_or_listed_as_no_list` walks the app's URL map, so a new page
is counted here or named as one without a growing list.

Rows in a list point at distinct customers, products, suppliers and deals, so a lazy
load per row cannot hide behind the session's identity map.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from decimal import Decimal
from itertools import count

import pytest
from sqlalchemy import select

from tests.conftest import PASSWORD, TandemClient, _empty_all_tables, make_test_app, sign_in

D = Decimal
SIZES = (10, 100)
BIG = SIZES[-1]
# How many related rows a page lists at most
TIMELINE = 50  # a customer's or deal's activities; a customer's open cases
CUSTOMER_RECENT = 20  # a customer's orders and invoices
SUPPLIER_RECENT = 20  # a supplier's purchase orders and bills
DASHBOARD_SMALL = 3  # fewer rows than a dashboard panel lists


# --- The data -----------------------------------------------------------------------------

_seq = count(1)


class World:
    """The rows every page lists, built through the model rules.

    `rows[family]` holds the ids (and labels) of the rows built for one list, in the
    order built; `grow(n)` builds up to n of each (won_deals holds every won deal, the
    parents' too). `parents` are records with 10 and with 100 related rows each (their
    pages list those, in families named "family@size"), built before the lists grow.
    """

    def __init__(self, db):
        from models.ledger import Account, ensure_chart
        from models.pipeline import Stage, ensure_stages
        from models.stock import ensure_locations
        from models.users import User

        self.db = db
        self.users = {}
        for role in ("admin", "sales", "finance", "operations", "rep2"):
            user = User(
                email=f"{role}@counts.example.org",
                name=f"{role.title()} Counter",
                role="sales" if role == "rep2" else role,
                password_hash=_password_hash(),
            )
            db.session.add(user)
            self.users[role] = user
        ensure_stages()
        ensure_chart()
        ensure_locations()
        db.session.commit()
        self.stages = {s.name: s for s in db.session.scalars(select(Stage))}
        self.expense_account = db.session.scalar(select(Account).where(Account.code == "6000"))
        self.rows: dict[str, list[tuple[int, str]]] = {}  # family: [(id, label)]
        self.parents: dict[int, dict[str, int]] = {}
        self.products: dict[int, list] = {}  # the products on a parent's documents
        self.built = 0
        self.built_at: dict[int, dict[str, int]] = {}  # size: {family: rows built by then}

    def add(self, family: str, row, label: str = "") -> None:
        self.rows.setdefault(family, []).append((row.id, label))

    # The lists: one of everything per index, each row with its own customer, deal,
    # product, supplier...
    def grow(self, n: int) -> None:
        while self.built < n:
            self._build_index(self.built)
            self.db.session.commit()
            self.built += 1

    def _build_index(self, i: int) -> None:
        from models.activities import log_activity
        from models.cases import open_case
        from models.catalog import Supplier, TaxRate, create_product
        from models.customers import Contact, create_customer
        from models.invoicing import (
            add_invoice_line,
            create_invoice,
            credit_invoice,
            invoice_order,
            post_invoice,
        )
        from models.ledger import create_account
        from models.payments import record_payment, record_supplier_payment
        from models.pipeline import Campaign, add_stage
        from models.purchasing import (
            LineInput,
            add_line,
            create_purchase_order,
            receive,
            record_bill,
            record_expense_bill,
            send_order,
        )
        from models.reports import save_campaign
        from models.sales import (
            QuoteLineInput,
            accept_quote,
            add_quote_line,
            create_quote,
            mark_sent,
            ship,
        )
        from models.stock import add_location, location, receive_stock, record_count
        from models.users import User, utcnow

        db, sales, n = self.db, self.users["sales"], next(_seq)
        today = date.today()
        # Every other index takes shortcuts (stock without an order, an invoice by hand);
        # the last one takes none, so the journal's newest entries come from every kind
        # of document at both page sizes (it looks up receipts and shipments once a page).
        shortcut = i % 2 == 1 and i != BIG - 1
        # people, settings and catalogue rows
        user = User(
            email=f"user{n}@counts.example.org",
            name=f"User {n:04d}",
            role="operations",
            password_hash=_password_hash(),
        )
        db.session.add(user)
        db.session.flush()
        self.add("users", user, user.name)
        rate = TaxRate(name=f"Rate {n:04d}", percent=D(i % 25), active=True)
        db.session.add(rate)
        db.session.flush()
        self.add("tax_rates", rate, rate.name)
        self.add(
            "stages",
            add_stage(name=f"Step {n:04d}", position=100 + i, probability=5, followup_days=None),
        )
        self.add(
            "accounts", create_account(code=f"7{n:04d}", name=f"Expense {n:04d}", type="expense")
        )
        place = add_location(code=f"WH/BIN-{n:04d}", name=f"Bin {n}", parent=location("WH"))
        self.add("locations", place)
        supplier = Supplier(currency="EUR", payment_terms_days=30, active=True)
        supplier.set_name(f"Supplier {n:04d}")
        db.session.add(supplier)
        db.session.flush()
        self.add("suppliers", supplier, supplier.name)
        product = create_product(
            sku=f"CNT-{n:04d}",
            name=f"Counted product {n}",
            kind="stocked",
            unit="pc",
            list_price=D("25.00"),
            cost=D("5.00"),
            tax_rate=rate,
            reorder_point=D(1000),
            reorder_qty=D(10),
            preferred_supplier=supplier,
        )
        self.add("products", product, product.sku)
        # supply: an order received and billed, part paid (after a shortcut only sent: the
        # goods taken in without it, a bill without an order); a count at its own bin
        order = create_purchase_order(supplier)
        add_line(order, LineInput(product=product, quantity=D(20), unit_cost=D("5.00")))
        send_order(order)
        self.add("purchases", order)
        due = today + timedelta(days=i % 10)
        if shortcut:
            receive_stock(product, D(20), D("5.00"))
            bill = record_expense_bill(
                supplier,
                supplier_ref=f"B-{n}",
                bill_date=today,
                due_on=due,
                net=D("100.00"),
                tax=D("0.00"),
                account=self.expense_account,
            )
        else:
            receive(order, {order.lines[0].id: D(20)})
            bill = record_bill(
                order,
                supplier_ref=f"B-{n}",
                bill_date=today,
                due_on=due,
                net=D("100.00"),
                tax=D("0.00"),
            )
        self.add("bills", bill)
        self.add(
            "supplier_payments",
            record_supplier_payment(supplier, amount=D("10.00"), payment_date=today),
        )
        self.add("counts", record_count(place, {product: D(1)}, reason="Cycle count"))
        # the relationship: a customer, a contact, a campaign, an open deal, a follow-up,
        # a case
        campaign = save_campaign(
            Campaign(),
            name=f"Campaign {n:04d}",
            channel="web",
            starts_on=None,
            ends_on=None,
            budget=D("100.00"),
        )
        self.add("campaigns", campaign, campaign.name)
        customer = create_customer(
            name=f"Customer {n:04d}",
            email=f"c{n}@counts.example.org",
            owner=sales,
            lifecycle="customer",
            source=f"Source {n}",
        )
        self.add("customers", customer)
        contact = Contact(customer=customer, name=f"Contact {n}", is_primary=True)
        db.session.add(contact)
        db.session.flush()
        open_stages = ("Lead", "Qualified", "Proposal", "Negotiation")
        deal = self._deal(
            customer,
            f"Open deal {n}",
            open_stages[i % 4],
            sales,
            campaign=campaign,
            expected_close=today + timedelta(days=i),
        )
        self.add("deals", deal)
        when = utcnow() + timedelta(hours=6 * (i % 12) - 30)  # overdue, today, upcoming
        self.add(
            "activities",
            log_activity(
                kind=("meeting", "task")[i % 2],
                subject=f"Follow up {n}",
                customer=customer,
                by=sales,
                deal=deal,
                contact=contact,
                when=when,
                assignee=sales,
                done=False,
            ),
        )
        self.add(
            "cases",
            open_case(
                customer=customer,
                subject=f"Case {n}",
                contact=contact,
                assignee=sales,
                priority=("low", "normal", "high", "urgent")[i % 4],
                by=sales,
            ),
        )
        # quote to cash: accepted, shipped, invoiced, partly credited (a draft after a
        # shortcut), partly paid
        issued = today - timedelta(days=(45 + 7 * i) % 90)  # most overdue, some not yet
        if shortcut:  # an invoice written by hand
            invoice = create_invoice(customer)
            add_invoice_line(invoice, QuoteLineInput(product=product, quantity=D(2)))
            post_invoice(invoice, issue_date=issued)
        else:
            won = self._deal(customer, f"Won deal {n}", "Proposal", sales)
            self.add("won_deals", won)
            quote = create_quote(won, by=sales, contact=contact)
            add_quote_line(quote, QuoteLineInput(product=product, quantity=D(2)))
            mark_sent(quote)
            self.add("quotes", quote)
            sold = accept_quote(quote, by=sales, customer_po=f"PO {n}")
            db.session.flush()
            self.add("sales_orders", sold)
            self.add("shipments", ship(sold, {sold.lines[0].id: D(2)}, carrier="Post"))
            invoice = post_invoice(invoice_order(sold), issue_date=issued)
        self.add("invoices", invoice)
        note = credit_invoice(
            invoice, reason="One returned", quantities={invoice.lines[0].id: D(1)}
        )
        self.add("credit_notes", note if shortcut else post_invoice(note))
        self.add("payments", record_payment(customer, amount=D("5.00"), payment_date=today))
        # an order waiting on credit hold
        customer.account.on_hold = True
        customer.account.hold_reason = "Counting"
        held = self._deal(customer, f"Held deal {n}", "Proposal", sales, source=f"Channel {n:04d}")
        self.add("won_deals", held)  # by the order, even on hold
        self.add("sources", held, held.source)
        quote = create_quote(held, by=sales, contact=contact)
        add_quote_line(quote, QuoteLineInput(product=product, quantity=D(1)))
        mark_sent(quote)
        self.add("quotes", quote)
        held_order = accept_quote(quote, by=sales)
        assert held_order.status == "held"
        self.add("held", held_order)
        self.add("sales_orders", held_order)

    # --- records with 10 and 100 related rows -------------------------------------------

    def build_parents(self) -> None:
        for size in SIZES:
            self.parents[size] = {}
            self._customer_with(size)
            self._supply_with(size)
            self._documents_with(size)
            self.db.session.commit()

    def keep(self, size: int, name: str, record) -> None:
        self.parents[size][name] = record.id

    def related(self, size: int, family: str, row, label: str = "") -> None:
        self.rows.setdefault(f"{family}@{size}", []).append((row.id, label))

    def _product(self, tag: str, **fields):
        from models.catalog import create_product

        n = next(_seq)
        return create_product(
            sku=f"{tag}-{n:04d}",
            name=f"Part {n}",
            kind="stocked",
            unit="pc",
            list_price=D("10.00"),
            cost=D("2.00"),
            tax_rate=None,
            **fields,
        )

    def _customer_with(self, size: int) -> None:
        """A customer with `size` contacts, deals and contracts, and as many activities,
        cases, invoices and orders as its page lists (up to 51, 51, 21 and 21); one of its
        deals with as many activities and `size` quotes; a payment that settles part of
        each invoice; a case with `size` comments."""
        from models.activities import log_activity
        from models.cases import add_comment, open_case
        from models.contracts import Contract, save_contract
        from models.customers import Contact, create_customer
        from models.invoicing import add_invoice_line, create_invoice, post_invoice
        from models.payments import record_payment
        from models.sales import (
            QuoteLineInput,
            accept_quote,
            add_quote_line,
            create_quote,
            mark_sent,
        )
        from models.users import utcnow

        db, rep = self.db, self.users["rep2"]
        today = date.today()
        customer = create_customer(name=f"Big customer {size}", owner=rep, lifecycle="customer")
        self.keep(size, "customer", customer)
        deal = self._deal(customer, f"Big deal {size}", "Negotiation", rep)
        self.keep(size, "deal", deal)
        stages = ("Lead", "Qualified", "Proposal", "Negotiation", "Won")
        invoices = []
        for i in range(size):
            n = next(_seq)
            contact = Contact(customer=customer, name=f"Person {n}", is_primary=i == 0)
            db.session.add(contact)
            db.session.flush()
            self.related(size, "contacts", contact)
            contract = save_contract(
                Contract(),
                customer=customer,
                title=f"Contract {n}",
                starts_on=today - timedelta(days=300),
                ends_on=today + timedelta(days=30 + i),
                value=D("500.00"),
            )
            self.related(size, "contracts", contract)
            other = self._deal(customer, f"Deal {n}", stages[i % 5], rep, contract_id=contract.id)
            self.related(size, "deals", other)
            if other.stage.outcome == "won":
                self.add("won_deals", other)
            if i <= TIMELINE:  # the pages list the latest 50 activities and cases
                self.related(
                    size,
                    "activities",
                    log_activity(
                        kind=("call", "email", "meeting", "note", "task")[i % 5],
                        subject=f"Activity {n}",
                        customer=customer,
                        by=rep,
                        deal=other,
                        contact=contact,
                        assignee=rep,
                        done=i % 5 != 4,
                        when=utcnow() - timedelta(hours=i),
                    ),
                )
                call = log_activity(
                    kind="call",
                    subject=f"Deal call {n}",
                    customer=customer,
                    by=rep,
                    deal=deal,
                    contact=contact,
                    when=utcnow() - timedelta(hours=i),
                )
                self.related(size, "activities", call)  # on the customer's timeline too
                self.related(size, "deal_activities", call)
                self.related(
                    size,
                    "cases",
                    open_case(
                        customer=customer,
                        subject=f"Issue {n}",
                        contact=contact,
                        assignee=rep,
                        by=rep,
                    ),
                )
            quote = create_quote(deal, by=rep, contact=contact)
            add_quote_line(
                quote,
                QuoteLineInput(
                    product=None, description=f"Service {n}", quantity=D(1), unit_price=D("30.00")
                ),
            )
            self.related(size, "deal_quotes", quote)
            if i <= CUSTOMER_RECENT:  # the page lists its latest 20 invoices, orders
                invoice = create_invoice(customer)
                add_invoice_line(
                    invoice,
                    QuoteLineInput(
                        product=None,
                        description=f"Fee {n}",
                        quantity=D(1),
                        unit_price=D("40.00"),
                        use_product_tax=False,
                    ),
                )
                # one overdue invoice, the newest (so the page lists it at both sizes: its
                # money strip then finds it among the rows instead of reading it again)
                newest = i == min(size - 1, CUSTOMER_RECENT)
                if newest:
                    invoice.payment_terms_days = 0
                issued = today - timedelta(days=1 if newest else 2 + i)
                invoices.append(post_invoice(invoice, issue_date=issued))
                self.related(size, "invoices", invoice)
                sold = self._deal(customer, f"Order deal {n}", "Proposal", rep)
                self.add("won_deals", sold)  # by the order
                quote = create_quote(sold, by=rep, contact=contact)
                add_quote_line(
                    quote,
                    QuoteLineInput(
                        product=None, description=f"Work {n}", quantity=D(1), unit_price=D("20.00")
                    ),
                )
                mark_sent(quote)
                self.related(size, "orders", accept_quote(quote, by=rep))
        payment = record_payment(
            customer,
            amount=D(len(invoices)),
            payment_date=today,
            allocations={invoice.id: D(1) for invoice in invoices},
        )
        self.keep(size, "payment", payment)
        issue = open_case(customer=customer, subject=f"Long case {size}", by=rep)
        self.keep(size, "case", issue)
        self.related(size, "cases", issue)
        for i in range(size):
            self.related(size, "comments", add_comment(issue, f"Comment {i}", by=rep))

    def _documents_with(self, size: int) -> None:
        """A draft quote, a sales order (partly shipped in size / 5 shipments), its
        invoice (part paid by size / 5 payments) and credit note, each with `size` lines;
        a journal entry and a stock count with `size` lines; a product with `size` moves
        into as many locations, and size / 5 open purchase orders."""
        from models.catalog import Supplier
        from models.customers import create_customer
        from models.invoicing import credit_invoice, invoice_order, post_invoice
        from models.ledger import account_for, create_account, credit, debit, post_entry
        from models.payments import record_payment
        from models.purchasing import LineInput, add_line, create_purchase_order, send_order
        from models.sales import (
            QuoteLineInput,
            accept_quote,
            add_quote_line,
            create_quote,
            mark_sent,
            ship,
        )
        from models.stock import add_location, location, receive_stock, record_count

        sales, today = self.users["sales"], date.today()
        customer = create_customer(
            name=f"Document customer {size}", owner=sales, lifecycle="customer"
        )
        products = self.products[size]  # 10 of each on hand: see _supply_with
        draft = create_quote(
            self._deal(customer, f"Draft deal {size}", "Proposal", sales), by=sales
        )
        sold = self._deal(customer, f"Sold deal {size}", "Proposal", sales)
        self.add("won_deals", sold)  # by the order
        quote = create_quote(sold, by=sales)
        for product in products:
            add_quote_line(draft, QuoteLineInput(product=product, quantity=D(3)))
            add_quote_line(quote, QuoteLineInput(product=product, quantity=D(4)))
        self.keep(size, "quote", draft)
        for line in draft.lines:
            self.related(size, "quote_lines", line)
        mark_sent(quote)
        order = accept_quote(quote, by=sales)
        self.db.session.flush()
        self.keep(size, "order", order)
        for line in order.lines:
            self.related(size, "order_lines", line)
        for first in range(0, size, 5):  # size / 5 shipments of five lines each
            self.related(
                size,
                "shipments",
                ship(order, {line.id: D(2) for line in order.lines[first : first + 5]}),
            )
        invoice = post_invoice(invoice_order(order))
        self.keep(size, "invoice", invoice)
        for line in invoice.lines:
            self.related(size, "invoice_lines", line)
        note = post_invoice(
            credit_invoice(
                invoice, reason="Half back", quantities={line.id: D(1) for line in invoice.lines}
            )
        )
        self.keep(size, "credit_note", note)
        for line in note.lines:
            self.related(size, "note_lines", line)
        for _ in range(size // 5):
            self.related(
                size,
                "invoice_payments",
                record_payment(
                    customer, amount=D(1), payment_date=today, allocations={invoice.id: D(1)}
                ),
            )
        # a journal entry with `size` lines, each on its own account
        postings = []
        for i in range(size):
            n = next(_seq)
            account = create_account(code=f"8{n:04d}", name=f"Entry account {n}", type="expense")
            self.related(size, "entry_accounts", account, account.name)
            postings.append(debit(account, D("1.00"), f"Line {i}"))
        postings.append(credit(account_for("bank"), D(size)))
        self.keep(size, "entry", post_entry(today, postings, memo=f"Spread {size}"))
        # a stock count with `size` lines
        shelf = add_location(
            code=f"WH/COUNT-{size}", name=f"Count shelf {size}", parent=location("WH")
        )
        self.keep(size, "count_location", shelf)
        self.keep(
            size,
            "count",
            record_count(shelf, {product: D(1) for product in products}, reason="Full count"),
        )
        for product in products:
            self.related(size, "count_products", product, product.sku)
        # a product with `size` moves into as many locations, and size / 5 open orders
        product = self._product("MOV", reorder_point=D(0))
        self.keep(size, "product", product)
        for i in range(size):
            n = next(_seq)
            place = add_location(
                code=f"WH/P{size}-{n:04d}", name=f"Place {n}", parent=location("WH")
            )
            self.related(
                size, "product_moves", receive_stock(product, D(1), D("2.00"), to=place), place.code
            )
            if i % 5:
                continue
            supplier = Supplier(currency="EUR", payment_terms_days=30, active=True)
            supplier.set_name(f"Vendor {n:04d}")
            self.db.session.add(supplier)
            self.db.session.flush()
            order = create_purchase_order(supplier)
            add_line(order, LineInput(product=product, quantity=D(5), unit_cost=D("2.00")))
            send_order(order)
            self.related(size, "product_orders", order)

    def _supply_with(self, size: int) -> None:
        """A supplier with as many bills and purchase orders as its page lists (up to 21),
        one payment settling part of each bill; an order to another supplier with `size`
        lines (of products made here: half received, the goods the documents sell),
        billed and part paid by size / 5 payments."""
        from models.catalog import Supplier
        from models.payments import record_supplier_payment
        from models.purchasing import (
            LineInput,
            add_line,
            create_purchase_order,
            receive,
            record_bill,
            record_expense_bill,
            send_order,
        )

        db, today = self.db, date.today()
        supplier, buyer = Supplier(currency="EUR"), Supplier(currency="EUR")
        supplier.set_name(f"Big supplier {size}")
        buyer.set_name(f"Parts supplier {size}")
        db.session.add_all([supplier, buyer])
        db.session.flush()
        self.keep(size, "supplier", supplier)
        bills = []
        for i in range(min(size, SUPPLIER_RECENT + 1)):  # its page lists the latest 20
            order = create_purchase_order(supplier)
            add_line(
                order,
                LineInput(product=None, description=f"Supplies {i}", quantity=D(1), unit_cost=D(3)),
            )
            self.related(size, "supplier_orders", order)
            bill = record_expense_bill(
                supplier,
                supplier_ref=f"R-{size}-{i:03d}",
                bill_date=today,
                net=D("50.00"),
                tax=D("0.00"),
                account=self.expense_account,
            )
            self.related(size, "supplier_bills", bill, bill.supplier_ref)
            bills.append(bill)
        self.keep(
            size,
            "supplier_payment",
            record_supplier_payment(
                supplier,
                amount=D(len(bills)),
                payment_date=today,
                allocations={bill.id: D(1) for bill in bills},
            ),
        )
        products = self.products[size] = [self._product("DOC") for _ in range(size)]
        order = create_purchase_order(buyer)
        for product in products:
            add_line(order, LineInput(product=product, quantity=D(20), unit_cost=D("2.00")))
        send_order(order)
        receive(order, {line.id: D(10) for line in order.lines})
        self.keep(size, "purchase", order)
        for line in order.lines:
            self.related(size, "purchase_lines", line)
        bill = record_bill(
            order, supplier_ref=f"PO-BILL-{size}", bill_date=today, net=D(20 * size), tax=D(0)
        )
        self.keep(size, "bill", bill)
        for _ in range(size // 5):
            self.related(
                size,
                "bill_payments",
                record_supplier_payment(
                    buyer, amount=D(1), payment_date=today, allocations={bill.id: D(1)}
                ),
            )

    def _deal(self, customer, title, stage, owner, **fields):
        from models.pipeline import create_deal

        # made without an owner first: no automatic follow-up task beside our own
        deal = create_deal(
            customer=customer,
            title=title,
            owner=None,
            stage=self.stages[stage],
            amount=D("1000.00"),
            **fields,
        )
        deal.owner = owner
        self.db.session.flush()
        return deal


_HASH = {}


def _password_hash() -> str:
    from werkzeug.security import generate_password_hash

    if "hash" not in _HASH:
        _HASH["hash"] = generate_password_hash(PASSWORD)
    return _HASH["hash"]


# --- The pages ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Page:
    """A page to render. `url(world, size)`; `rows` {family: (marker, most shown)}: the
    page shows the rows of that family whose marker (with {id} or {label}) it contains,
    at most that many (None: all). `paged` pages compare page sizes instead of data,
    `parent` pages two records (`size` picks which)."""

    name: str
    role: str | None
    url: Callable
    rows: dict = field(default_factory=dict)
    mode: str = "grown"  # "grown", "paged" or "parent"
    limits: tuple = ()  # (module, name) of page sizes fixed in a view, set per run
    small: int = SIZES[0]  # the smaller size it is rendered at


def _view_limit(module, name):
    """How many rows a view lists at most (None: a view without such a limit)."""
    from importlib import import_module

    return getattr(import_module(f"blueprints.{module}"), name, None)


def fixed(path):
    return lambda world, size: path


def of(path, name):
    """A parent page: `path` with {id} the id of the size's `name` record."""
    return lambda world, size: path.format(id=world.parents[size][name])


STOCK_LIMIT = ("blueprints.catalog.stock", "MAX_PER_PAGE")

PAGED = [
    Page("customers", "sales", fixed("/accounts/"), {"*": ("/accounts/{id}", None)}),
    Page(
        "cases",
        "sales",
        fixed("/pipeline/cases"),
        {"*": ("/pipeline/cases/{id}", None)},
        limits=(("blueprints.pipeline.cases", "MAX_PER_PAGE"),),
    ),
    Page(
        "products",
        "operations",
        fixed("/catalog/products"),
        {"*": ("/catalog/products/{id}", None)},
        limits=(("blueprints.catalog.products", "PER_PAGE"),),
    ),
    Page(
        "stock-moves",
        "operations",
        fixed("/catalog/moves"),
        {"*": ('<td data-label="Product">', None)},
        limits=(STOCK_LIMIT,),
    ),
    Page(
        "stock-counts",
        "operations",
        fixed("/catalog/counts"),
        {"*": ("/catalog/counts/{id}", None)},
        limits=(STOCK_LIMIT,),
    ),
    Page(
        "suppliers",
        "operations",
        fixed("/orders/suppliers"),
        {"*": ("/orders/suppliers/{id}", None)},
    ),
    Page(
        "purchase-orders",
        "operations",
        fixed("/orders/purchases"),
        {"*": ("/orders/purchases/{id}", None)},
    ),
    Page("bills", "finance", fixed("/orders/bills"), {"*": ("/ledger/bills/{id}", None)}),
    Page("quotes", "sales", fixed("/orders/quotes"), {"*": ("/orders/quotes/{id}", None)}),
    Page("sales-orders", "sales", fixed("/orders/sales"), {"*": ("/orders/sales/{id}", None)}),
    Page("invoices", "finance", fixed("/ledger/invoices"), {"*": ("/ledger/invoices/{id}", None)}),
    Page(
        "credit-notes",
        "finance",
        fixed("/ledger/credit-notes"),
        {"*": ("/ledger/credit-notes/{id}", None)},
    ),
    Page("payments", "finance", fixed("/ledger/payments"), {"*": ("/ledger/payments/{id}", None)}),
    Page(
        "payments-received",
        "finance",
        fixed("/ledger/payments?direction=in"),
        {"*": ("/ledger/payments/{id}", None)},
    ),
    Page(
        "supplier-payments",
        "finance",
        fixed("/ledger/payments?direction=out"),
        {"*": ("/ledger/payments/{id}", None)},
    ),
    Page("journal", "finance", fixed("/ledger/journal"), {"*": ("/ledger/journal/{id}", None)}),
    Page(
        "account-ledger",
        "finance",
        lambda world, size: f"/ledger/accounts/{world.bank_id}",
        {"*": ("/ledger/journal/{id}", None)},
    ),
    # the agings list AGING_ROWS partners a page (more than 100 owe by then)
    Page(
        "receivables-aging",
        "finance",
        fixed("/ledger/reports/aging"),
        {"*": ('id="aging-{id}"', None)},
        limits=(("blueprints.ledger.reports", "AGING_ROWS"),),
    ),
    Page(
        "payables-aging",
        "finance",
        fixed("/ledger/reports/payables-aging"),
        {"*": ('id="aging-{id}"', None)},
        limits=(("blueprints.ledger.reports", "AGING_ROWS"),),
    ),
]
PAGED = [replace(page, mode="paged") for page in PAGED]

GROWN = [
    Page("deal-board", "sales", fixed("/pipeline/"), {"deals": ("/pipeline/deals/{id}", None)}),
    Page(
        "deal-board-all-owners",
        "admin",
        fixed("/pipeline/?owner=all"),
        {"deals": ("/pipeline/deals/{id}", None)},
    ),
    Page(
        "follow-ups",
        "sales",
        fixed("/pipeline/activities"),
        {"activities": ('id="followup-{id}"', None)},
    ),
    Page(
        "calendar-feed",
        None,
        lambda world, size: f"/pipeline/calendar/{world.token}.ics",
        {"activities": ("tandem-activity-{id}@", None)},
    ),
    Page("campaigns", "sales", fixed("/pipeline/campaigns"), {"campaigns": ("{label}", None)}),
    Page("pipeline-reports", "sales", fixed("/pipeline/reports"), {"sources": ("{label}", None)}),
    Page("stages", "admin", fixed("/pipeline/stages"), {"stages": ('id="stage-{id}"', None)}),
    Page(
        "locations",
        "operations",
        fixed("/catalog/locations"),
        {"locations": ("/catalog/locations/{id}/edit", None)},
    ),
    Page(
        "reorder", "operations", fixed("/catalog/reorder"), {"products": ('id="pick-{id}"', None)}
    ),
    Page(
        "stock-value",
        "finance",
        fixed("/catalog/valuation"),
        {"products": ("/catalog/products/{id}", None)},
    ),
    Page(
        "stock-value-csv",
        "finance",
        fixed("/catalog/valuation.csv"),
        {"products": ("{label}", None)},
    ),
    Page(
        "products-csv",
        "operations",
        fixed("/catalog/products.csv"),
        {"products": ("{label}", None)},
    ),
    Page("tax-rates", "operations", fixed("/catalog/tax-rates"), {"tax_rates": ("{label}", None)}),
    Page("users", "admin", fixed("/admin/users"), {"users": ("/admin/users/{id}", None)}),
    Page(
        "chart-of-accounts",
        "finance",
        fixed("/ledger/accounts"),
        {"accounts": ("/ledger/accounts/{id}", None)},
    ),
    Page(
        "credit-holds",
        "finance",
        fixed("/ledger/credit-holds"),
        {"held": ("/orders/sales/{id}#credit-hold", None)},
    ),
    Page(
        "reconciliation",
        "finance",
        fixed("/ledger/reports/reconciliation"),
        {
            "won_deals": (
                "/pipeline/deals/{id}",
                _view_limit("ledger.reports", "RECONCILIATION_ROWS"),
            )
        },
    ),
    Page("trial-balance", "finance", fixed("/ledger/reports/trial-balance")),
    Page("profit-and-loss", "finance", fixed("/ledger/reports/profit-and-loss")),
    Page("balance-sheet", "finance", fixed("/ledger/reports/balance-sheet")),
    Page("revenue", "finance", fixed("/ledger/reports/revenue")),
    # a dashboard's panels list 8 or 10 rows at most: a few rows against 100
    Page(
        "dashboard-sales",
        "sales",
        fixed("/"),
        {"deals": ("/pipeline/deals/{id}", 10)},
        small=DASHBOARD_SMALL,
    ),
    Page(
        "dashboard-admin",
        "admin",
        fixed("/"),
        {"deals": ("/pipeline/deals/{id}", 10)},
        small=DASHBOARD_SMALL,
    ),
    Page(
        "dashboard-finance",
        "finance",
        fixed("/"),
        {"held": ("/orders/sales/{id}", 8)},
        small=DASHBOARD_SMALL,
    ),
    Page(
        "dashboard-operations",
        "operations",
        fixed("/"),
        {"products": ("/catalog/products/{id}", 8)},
        small=DASHBOARD_SMALL,
    ),
]

PARENT = [
    Page(
        "customer-page",
        "sales",
        of("/accounts/{id}", "customer"),
        {
            "contacts": ('id="contact-{id}"', None),
            "deals": ("/pipeline/deals/{id}", None),
            "activities": ('id="activity-{id}"', TIMELINE),
            "cases": ("/pipeline/cases/{id}", TIMELINE),
            "contracts": ('id="contract-{id}"', None),
            "invoices": ('id="customer-invoice-{id}"', CUSTOMER_RECENT),
            "orders": ('id="customer-order-{id}"', CUSTOMER_RECENT),
        },
    ),
    Page(
        "customer-timeline",
        "sales",
        of("/pipeline/activities/timeline?customer_id={id}", "customer"),
        {"activities": ('id="activity-{id}"', TIMELINE)},
    ),
    Page(
        "customer-payment-form",
        "finance",
        of("/ledger/payments/new?customer_id={id}", "customer"),
        {"invoices": ('id="alloc-row-{id}"', None)},
    ),
    Page(
        "deal-page",
        "sales",
        of("/pipeline/deals/{id}", "deal"),
        {
            "deal_activities": ('id="activity-{id}"', TIMELINE),
            "deal_quotes": ("/orders/quotes/{id}", None),
        },
    ),
    Page(
        "case-page",
        "sales",
        of("/pipeline/cases/{id}", "case"),
        {"comments": ('id="comment-{id}"', None)},
    ),
    Page(
        "payment-page",
        "finance",
        of("/ledger/payments/{id}", "payment"),
        {"invoices": ("/ledger/invoices/{id}", None)},
    ),
    Page(
        "quote-page",
        "sales",
        of("/orders/quotes/{id}", "quote"),
        {"quote_lines": ('id="line-{id}"', None)},
    ),
    Page(
        "sales-order-page",
        "sales",
        of("/orders/sales/{id}", "order"),
        {"order_lines": ('id="so-line-{id}"', None), "shipments": ('id="shipment-{id}"', None)},
    ),
    Page(
        "ship-form",
        "operations",
        of("/orders/sales/{id}/ship", "order"),
        {"order_lines": ('id="ship-line-{id}"', None)},
    ),
    Page(
        "invoice-page",
        "finance",
        of("/ledger/invoices/{id}", "invoice"),
        {
            "invoice_lines": ('id="line-{id}"', None),
            "invoice_payments": ("/ledger/payments/{id}", None),
        },
    ),
    Page(
        "credit-form",
        "finance",
        of("/ledger/invoices/{id}/credit", "invoice"),
        {"invoice_lines": ('id="qty-{id}"', None)},
    ),
    Page(
        "credit-note-page",
        "finance",
        of("/ledger/credit-notes/{id}", "credit_note"),
        {"note_lines": ('id="line-{id}"', None)},
    ),
    Page(
        "journal-entry",
        "finance",
        of("/ledger/journal/{id}", "entry"),
        {"entry_accounts": ("{label}", None)},
    ),
    Page(
        "stock-count",
        "operations",
        of("/catalog/counts/{id}", "count"),
        {"count_products": ("{label}", None)},
    ),
    Page(
        "count-sheet",
        "operations",
        of("/catalog/counts/new?location_id={id}", "count_location"),
        {"count_products": ("{label}", None)},
    ),
    Page(
        "product-page",
        "operations",
        of("/catalog/products/{id}", "product"),
        {"product_moves": ("{label}", None), "product_orders": ("/orders/purchases/{id}", None)},
    ),
    Page(
        "product-move-form",
        "operations",
        of("/catalog/products/{id}/move", "product"),
        {"product_moves": ("{label}", None)},
    ),
    Page(
        "supplier-page",
        "operations",
        of("/orders/suppliers/{id}", "supplier"),
        {
            "supplier_orders": ("/orders/purchases/{id}", SUPPLIER_RECENT),
            "supplier_bills": ("{label}", SUPPLIER_RECENT),
        },
    ),
    Page(
        "supplier-payment-page",
        "finance",
        of("/ledger/payments/{id}", "supplier_payment"),
        {"supplier_bills": ("/ledger/bills/{id}", None)},
    ),
    Page(
        "supplier-payment-form",
        "finance",
        of("/ledger/supplier-payments/new?supplier_id={id}", "supplier"),
        {"supplier_bills": ('id="alloc-row-{id}"', None)},
    ),
    Page(
        "purchase-order-page",
        "operations",
        of("/orders/purchases/{id}", "purchase"),
        {"purchase_lines": ('id="line-{id}"', None)},
    ),
    Page(
        "receive-form",
        "operations",
        of("/orders/purchases/{id}/receive", "purchase"),
        {"purchase_lines": ('id="receive-line-{id}"', None)},
    ),
    Page(
        "bill-page",
        "finance",
        of("/ledger/bills/{id}", "bill"),
        {"bill_payments": ("/ledger/payments/{id}", None)},
    ),
]
PARENT = [replace(page, mode="parent") for page in PARENT]


# --- Rendering and counting ---------------------------------------------------------------


def _marker_regex(marker: str):
    head, _, tail = marker.partition("{id}")
    return re.compile(re.escape(head) + r"([0-9]+)" + re.escape(tail) + r"(?![0-9])")


def shown(world, page: Page, html: str, size: int) -> dict[str, int]:
    """{family: how many of its rows the page shows}."""
    found = {}
    for family, (marker, _) in page.rows.items():
        if family == "*":  # a paged list: every row the marker finds
            found[family] = (
                html.count(marker)
                if "{" not in marker
                else len(set(_marker_regex(marker).findall(html)))
            )
            continue
        rows = world.rows[f"{family}@{size}" if page.mode == "parent" else family]
        if "{id}" in marker:
            ids = {int(i) for i in _marker_regex(marker).findall(html)}
            found[family] = sum(1 for ident, _ in rows if ident in ids)
        else:
            found[family] = sum(1 for _, label in rows if marker.format(label=label) in html)
    return found


def expected(world, page: Page, size: int) -> dict[str, int]:
    wanted = {}
    for family, (_, most) in page.rows.items():
        if family == "*":
            wanted[family] = size
            continue
        if page.mode == "parent":
            built = len(world.rows[f"{family}@{size}"])
        else:  # the family's rows when the page was rendered at that size
            built = world.built_at[size][family]
        wanted[family] = built if most is None else min(built, most)
    return wanted


def render(world, page: Page, size: int, monkeypatch=None) -> tuple[int, dict[str, int]]:
    """(statements the request ran, rows shown) for the page at `size`."""
    from tests.helpers import count_statements

    if page.mode == "paged":
        world.serve.config["TANDEM_PER_PAGE"] = size
        for module, name in page.limits:
            monkeypatch.setattr(f"{module}.{name}", size)
    client = world.clients[page.role]
    url = page.url(world, size)
    answers = []

    def fetch():  # the whole body: a streamed one runs its queries as it is read
        response = client.get(url)
        response.get_data()
        answers.append(response)

    statements = count_statements(world.engine, fetch)
    response = answers[0]
    text = response.get_data(as_text=True)
    assert response.status_code == 200, f"{url}: {response.status_code}\n{text[:2000]}"
    return statements, shown(world, page, text, size)


# --- The data set, once for the module ---------------------------------------------------


@pytest.fixture(scope="module")
def world(database_url):
    """Records with 10 and 100 related rows, and 10 rows for every list (3 first, for the
    dashboards): those lists are rendered and their statement counts kept; then the lists
    grow to 100 rows."""
    from models import db
    from models.activities import new_calendar_token
    from models.ledger import account_for

    # My follow-ups lists each group's first rows and a board column its first cards (and
    # more on request): here all of them, so the page shows every row the lists grow by.
    limits = pytest.MonkeyPatch()
    limits.setattr("models.activities.FOLLOWUP_FIRST", BIG)
    limits.setattr("models.pipeline.BOARD_CARDS", BIG)
    serve = make_test_app(keep=True, TANDEM_PER_PAGE=BIG)
    serve.test_client_class = TandemClient
    body = make_test_app(keep=True)
    with body.app_context():
        _empty_all_tables(db)
        built = World(db)
        built.token = new_calendar_token(built.users["sales"])
        built.bank_id = account_for("bank").id
        db.session.commit()
        built.serve = serve
        with serve.app_context():
            built.engine = db.engine
        built.clients = {None: serve.test_client()}
        for role in ("admin", "sales", "finance", "operations"):
            client = serve.test_client()
            assert sign_in(client, built.users[role].email).status_code == 302
            built.clients[role] = client
        built.build_parents()
        built.first = {}
        for small in sorted({page.small for page in GROWN}):
            built.grow(small)
            built.built_at[small] = {family: len(rows) for family, rows in built.rows.items()}
            for page in GROWN:
                if page.small != small:
                    continue
                try:
                    built.first[page.name] = render(built, page, small)
                except Exception as error:  # reported by the page's own test
                    built.first[page.name] = error
        built.grow(BIG)
        built.built_at[BIG] = {family: len(rows) for family, rows in built.rows.items()}
        yield built
        db.session.remove()
        _empty_all_tables(db)
    for app in (serve, body):
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
    limits.undo()


def _compare(world, page, few, many):
    """The page showed the rows built at both sizes, with as many statements."""
    (few_count, few_rows), (many_count, many_rows) = few, many
    assert (few_rows, many_rows) == (
        expected(world, page, page.small),
        expected(world, page, BIG),
    ), "not the rows built"
    assert many_count == few_count, (
        f"{page.name}: {few_count} statements for {page.small} rows, {many_count} for {BIG}"
    )


@pytest.mark.parametrize("page", GROWN, ids=lambda page: page.name)
def test_list_runs_the_same_statements_for_10_and_100_rows(world, page):
    """Does the page run as many SQL statements once its list has grown from 10 rows to
    100, and does it show them all (or as many as it promises)?"""
    few = world.first[page.name]
    if isinstance(few, Exception):
        raise few
    _compare(world, page, few, render(world, page, BIG))


@pytest.mark.parametrize("page", PAGED, ids=lambda page: page.name)
def test_paged_list_runs_the_same_statements_for_10_and_100_rows_a_page(world, page, monkeypatch):
    """With more than 100 rows there, does a page of 100 run as many SQL statements as a
    page of 10?"""
    _compare(
        world,
        page,
        render(world, page, SIZES[0], monkeypatch),
        render(world, page, BIG, monkeypatch),
    )


@pytest.mark.parametrize("page", PARENT, ids=lambda page: page.name)
def test_record_page_runs_the_same_statements_for_10_and_100_related_rows(world, page):
    """Does a record with 100 related rows (a customer's deals, an order's lines...) cost
    the page as many SQL statements as one with 10?"""
    _compare(world, page, render(world, page, SIZES[0]), render(world, page, BIG))


# Pages that list nothing that grows (or only a few rows, or as a PDF), and why.
NOT_LISTS = {
    "static": "files",
    "dashboard.healthz": "a status",
    "auth.login": "a form",
    "auth.change_password": "a form",
    "accounts.create": "a form",
    "accounts.edit_identity": "one panel as a form",
    "accounts.edit_relationship": "one panel as a form",
    "accounts.edit_financial": "one panel as a form",
    "accounts.new_contact": "a form",
    "accounts.edit_contact": "a form",
    "accounts.duplicates": "at most a few likely duplicates (the search code's own tests)",
    "accounts.lookup_customers": "type-ahead, at most 8 (the search code's own tests)",
    "admin.create": "a form",
    "admin.show": "one user",
    "admin.company": "a form",
    "admin.logo": "an image",
    "pipeline.new_deal": "a form",
    "pipeline.edit_deal": "a form",
    "pipeline.new_activity": "a form",
    "pipeline.calendar": "the feed's address",
    "pipeline.new_campaign": "a form",
    "pipeline.edit_campaign": "a form",
    "pipeline.new_case": "a form",
    "pipeline.new_contract": "a form",
    "pipeline.edit_contract": "a form",
    "catalog.new_product": "a form",
    "catalog.edit_product": "a form",
    "catalog.import_products": "an upload form",
    "catalog.lookup": "type-ahead, at most 20 (the search code's own tests)",
    "catalog.new_location": "a form",
    "catalog.edit_location": "a form",
    "catalog.new_tax_rate": "a form",
    "catalog.edit_tax_rate": "a form",
    "orders.new_purchase": "a form",
    "orders.new_supplier": "a form",
    "orders.edit_supplier": "a form",
    "orders.edit_purchase_line": "one line as a form",
    "orders.edit_quote_line": "one line as a form",
    "orders.bill_order": "a form",
    # PDFs of the pages above, from the same rows (not rendered here: seconds a page)
    "orders.purchase_pdf": "the purchase order's lines as a PDF",
    "orders.quote_pdf": "the quote's lines as a PDF",
    "orders.packing_slip": "one shipment's lines as a PDF",
    "ledger.invoice_pdf": "the invoice's lines as a PDF",
    "ledger.credit_note_pdf": "the credit note's lines as a PDF",
    "ledger.new_invoice": "a form",
    "ledger.new_bill": "a form",
    "ledger.new_entry": "a form",
    "ledger.new_account": "a form",
    "ledger.edit_account": "a form",
    "ledger.lock_date": "a form",
    "ledger.credit_request_note": "a form for one credit request",
    "ledger.money_strip": "one customer's figures",
    "ledger.reports": "links to the reports",
}


def test_every_page_is_counted_or_listed_as_no_list():
    """Walking the app's URL map: is every page that answers GET either counted above or
    named here as one that lists nothing growing? (A new list page fails this until it
    is added to PAGED, GROWN or PARENT.)"""
    from collections import defaultdict
    from types import SimpleNamespace

    app = make_test_app()
    any_id = defaultdict(lambda: 1)
    stub = SimpleNamespace(parents={size: any_id for size in SIZES}, token="t" * 43, bank_id=1)
    adapter = app.url_map.bind("localhost")
    counted = {
        adapter.match(page.url(stub, BIG).partition("?")[0], method="GET")[0]
        for page in PAGED + GROWN + PARENT
    }
    pages = {rule.endpoint for rule in app.url_map.iter_rules() if "GET" in rule.methods}
    assert pages - counted - set(NOT_LISTS) == set()
    assert counted & set(NOT_LISTS) == set()
