"""The demo data set's CRM side: stages, campaigns, deals across the pipeline, activities,
support cases with a credit request, and contracts (one due for renewal).

Everything goes through the same rules the app uses (create_deal, move_deal), so the demo
is what a team would have after a few weeks of real use.
"""

from datetime import timedelta
from decimal import Decimal

from sqlalchemy import select

from models import Activity, Campaign, CaseComment, Contract, CreditRequest, SupportCase, db
from models.pipeline import create_deal, ensure_stages, move_deal
from models.users import utcnow

# customer name, title, stage, amount, days to close, campaign
DEALS = [
    ("Acme Tools GmbH", "Workshop fit-out 2027", "Qualified", "18500.00", 40, "Trade fair 2026"),
    ("Acme Tools GmbH", "Spare parts contract", "Won", "6200.00", -20, "Trade fair 2026"),
    ("Bluebird Cafés Ltd", "Espresso machines for 3 sites", "Proposal", "12900.00", 25,
     "Spring mailing"),
    ("Fjord Fisheries AS", "Cold-room shelving", "Negotiation", "27400.00", 12, "Website"),
    ("Maria Lopez", "Home office set", "Lead", "1850.00", 60, "Website"),
    ("Initech", "Printer fleet", "Lead", "9600.00", 75, None),
    ("Stark Components", "Assembly line tools", "Proposal", "48000.00", 30, "Trade fair 2026"),
    ("Café Noir SARL", "Grinder replacement", "Lost", "2300.00", -5, "Spring mailing"),
    ("Globex Corporation", "Pilot order", "Qualified", "4100.00", 50, "Website"),
]


def load_demo_pipeline(users: dict, customers: dict) -> None:
    """Add the CRM demo data; `users` by role, `customers` by name."""
    stages = {s.name: s for s in ensure_stages()}
    today = utcnow().date()
    campaigns = {
        "Trade fair 2026": Campaign(name="Trade fair 2026", channel="event",
                                    starts_on=today - timedelta(days=120),
                                    ends_on=today - timedelta(days=110),
                                    budget=Decimal("8000.00")),
        "Spring mailing": Campaign(name="Spring mailing", channel="email",
                                   starts_on=today - timedelta(days=200),
                                   ends_on=today - timedelta(days=170),
                                   budget=Decimal("1200.00")),
        "Website": Campaign(name="Website", channel="web"),
    }
    db.session.add_all(campaigns.values())
    db.session.flush()
    sales = users["sales"]
    for name, title, stage_name, amount, days, campaign in DEALS:
        customer = customers[name]
        owner = customer.relationship_facet.owner or sales
        deal = create_deal(customer=customer, title=title, owner=owner, stage=stages["Lead"],
                           amount=Decimal(amount), by=owner,
                           expected_close=today + timedelta(days=days),
                           campaign=campaigns.get(campaign) if campaign else None)
        if stage_name != "Lead":
            db.session.flush()
            move_deal(deal, stages[stage_name], by=users["admin"], version=deal.version,
                      lost_reason="Chose a cheaper local supplier" if stage_name == "Lost"
                      else None)
        db.session.flush()
        if stage_name in ("Proposal", "Negotiation"):
            db.session.add(Activity(
                kind="call", subject=f"Call about {title}", body="Went through the proposal.",
                customer_id=customer.id, deal_id=deal.id, assignee_id=owner.id,
                created_by_id=owner.id, done=True, done_at=utcnow() - timedelta(days=2)))
    acme = customers["Acme Tools GmbH"]
    db.session.add_all([
        Activity(kind="meeting", subject="Site visit at Acme", customer_id=acme.id,
                 assignee_id=sales.id, created_by_id=sales.id,
                 due_at=utcnow() + timedelta(days=2, hours=3)),
        Activity(kind="task", subject="Send revised price list to Bluebird",
                 customer_id=customers["Bluebird Cafés Ltd"].id, assignee_id=sales.id,
                 created_by_id=sales.id, due_at=utcnow() - timedelta(days=1)),
    ])
    case = SupportCase(customer=customers["Bluebird Cafés Ltd"], subject="Machine leaks water",
                       description="The espresso machine at the Clifton site leaks since "
                                   "Monday.", priority="high", status="open",
                       assignee_id=users["operations"].id, created_by_id=sales.id)
    db.session.add(case)
    db.session.flush()
    db.session.add(CaseComment(case_id=case.id, author_id=users["operations"].id,
                               body="Technician booked for Thursday."))
    db.session.add(CreditRequest(case_id=case.id, customer_id=case.customer_id,
                                 amount=Decimal("150.00"), currency="EUR",
                                 reason="Two days without coffee at one site",
                                 requested_by_id=sales.id))
    db.session.add_all([
        Contract(customer=acme, title="Maintenance 2026", starts_on=today - timedelta(days=320),
                 ends_on=today + timedelta(days=45), value=Decimal("4800.00"),
                 currency=acme.account.currency),
        Contract(customer=customers["Stark Components"], title="Tool service plan",
                 starts_on=today - timedelta(days=30), ends_on=today + timedelta(days=335),
                 value=Decimal("12000.00"), currency="EUR"),
    ])
    db.session.flush()


# --- The supply side ----------------------------------------------------------------------

# sku, name, kind, unit, list price, cost, tax, reorder point, reorder qty, supplier, stock
PRODUCTS = [
    ("ESP-200", "Espresso machine, two groups", "stocked", "pc", "2450.00", "1380.00",
     "Standard 20%", 2, 4, "Caffè Tecnica Srl", 5),
    ("GRD-60", "Coffee grinder 60 mm", "stocked", "pc", "690.00", "355.00",
     "Standard 20%", 3, 6, "Caffè Tecnica Srl", 2),
    ("SHF-180", "Steel shelving unit 180 cm", "stocked", "pc", "289.00", "142.50",
     "Standard 20%", 10, 20, "Northern Steel Ltd", 34),
    ("SHF-BIN", "Shelf bin, stackable", "stocked", "box", "39.90", "14.20",
     "Standard 20%", 20, 50, "Northern Steel Ltd", 12),
    ("TRL-900", "Workshop trolley 900 kg", "stocked", "pc", "540.00", "298.00",
     "Standard 20%", 2, 5, "Northern Steel Ltd", 7),
    ("CBL-CU", "Copper cable 2.5 mm², by the metre", "stocked", "m", "1.85", "0.7420",
     "Standard 20%", 200, 500, "Northern Steel Ltd", 640.5),
    ("PAP-A4", "Copier paper A4, box of 5 reams", "stocked", "box", "24.50", "11.90",
     "Standard 20%", 40, 100, "Nordic Paper AB", 65),
    ("PAP-REC", "Recycled paper A4, box of 5 reams", "stocked", "box", "26.90", "13.40",
     "Standard 20%", 20, 60, "Nordic Paper AB", 8),
    ("TON-HP", "Toner cartridge, black", "stocked", "pc", "89.00", "41.00",
     "Standard 20%", 12, 24, "Nordic Paper AB", 30),
    ("BEAN-1", "Espresso beans, house blend", "stocked", "kg", "21.00", "9.8500",
     "Reduced 5%", 25, 60, "Caffè Tecnica Srl", 48.25),
    ("SVC-INST", "Installation, per hour", "service", "h", "85.00", "0", "Standard 20%",
     0, 0, None, 0),
    ("SVC-MAINT", "Annual maintenance plan", "service", "pc", "480.00", "0", "Standard 20%",
     0, 0, None, 0),
    ("OLD-GRD", "Grinder 50 mm (discontinued)", "stocked", "pc", "520.00", "300.00",
     "Standard 20%", 0, 0, "Caffè Tecnica Srl", 0),
]

SUPPLIERS = [
    # name, email, city, country, currency, terms, contact
    ("Caffè Tecnica Srl", "ordini@caffetecnica.example.org", "Milano", "Italy", "EUR", 30,
     ("Giulia Bianchi", "Export sales")),
    ("Northern Steel Ltd", "orders@northernsteel.example.org", "Sheffield", "United Kingdom",
     "GBP", 45, ("Tom Hardy", "Account manager")),
    ("Nordic Paper AB", "order@nordicpaper.example.org", "Göteborg", "Sweden", "SEK", 30,
     ("Karin Lund", "Customer service")),
]
RATES = {"EUR": "1", "GBP": "1.170000", "SEK": "0.087000"}


def load_demo_catalog(users: dict) -> None:
    """Add the supply-side demo data through the same rules the app uses: tax rates,
    suppliers, locations, products, stock received on purchase orders (one partly), a
    draft and a sent order, a vendor bill and a stock count."""
    from models.catalog import Supplier, SupplierContact, TaxRate, create_product
    from models.purchasing import (
        LineInput,
        create_purchase_order,
        draft_orders_from_reorder,
        receive,
        record_bill,
        send_order,
    )
    from models.stock import add_location, ensure_locations, location, move_stock, record_count

    ops = users.get("operations")
    today = utcnow().date()
    taxes = {}
    for name, percent in (("Standard 20%", "20"), ("Reduced 5%", "5"), ("Zero-rated", "0")):
        taxes[name] = TaxRate(name=name, percent=Decimal(percent))
        db.session.add(taxes[name])
    suppliers = {}
    for name, email, city, country, currency, terms, (person, role) in SUPPLIERS:
        supplier = Supplier(email=email, city=city, country=country, currency=currency,
                            payment_terms_days=terms)
        supplier.set_name(name)
        supplier.contacts.append(SupplierContact(name=person, role=role, email=email))
        db.session.add(supplier)
        suppliers[name] = supplier
    db.session.flush()
    ensure_locations()
    shelf_a = add_location(code="WH/SHELF-A", name="Shelf A", parent=location("WH"))
    add_location(code="WH/SHELF-B", name="Shelf B", parent=location("WH"))
    products = {}
    for (sku, name, kind, unit, price, cost, tax, point, qty, supplier, _) in PRODUCTS:
        products[sku] = create_product(
            sku=sku, name=name, kind=kind, unit=unit, list_price=Decimal(price),
            cost=Decimal(cost), tax_rate=taxes[tax], reorder_point=Decimal(point),
            reorder_qty=Decimal(qty), preferred_supplier=suppliers.get(supplier),
            description=f"{name}. Demo catalogue item.")
    products["OLD-GRD"].active = False

    # The opening stock arrived on one order per supplier, received and billed.
    for supplier_name, supplier in suppliers.items():
        lines = [LineInput(product=products[sku], quantity=Decimal(str(stock)),
                           unit_cost=Decimal(cost) / Decimal(RATES[supplier.currency]))
                 for (sku, _, kind, _, _, cost, _, _, _, s_name, stock) in PRODUCTS
                 if s_name == supplier_name and stock]
        lines = [LineInput(product=line.product, quantity=line.quantity,
                           unit_cost=line.unit_cost.quantize(Decimal("0.0001")))
                 for line in lines]
        order = create_purchase_order(supplier, by=ops, lines=lines,
                                      exchange_rate=Decimal(RATES[supplier.currency]),
                                      expected_on=today - timedelta(days=30),
                                      notes="Opening stock.")
        send_order(order)
        receive(order, {line.id: line.quantity for line in order.lines}, by=ops,
                received_on=today - timedelta(days=28))
        record_bill(order, supplier_ref=f"{supplier_name[:3].upper()}-{order.id:04d}",
                    bill_date=today - timedelta(days=27), net=order.received_net,
                    tax=order.received_tax, by=users.get("finance"))
    # Some stock lives on shelf A; a count found two bins missing.
    move_stock(products["SHF-BIN"], Decimal(4), location("WH/STOCK"), shelf_a, by=ops,
               reason="Pick face refill")
    record_count(shelf_a, {products["SHF-BIN"]: Decimal(2)}, reason="Monthly count", by=ops)
    # A sent order, partly received; and the reorder screen's draft for what runs low.
    order = create_purchase_order(suppliers["Caffè Tecnica Srl"], by=ops,
                                  expected_on=today + timedelta(days=5),
                                  lines=[LineInput(product=products["GRD-60"],
                                                   quantity=Decimal(6)),
                                         LineInput(product=products["BEAN-1"],
                                                   quantity=Decimal("20"))])
    send_order(order)
    receive(order, {order.lines[1].id: Decimal("12.5")}, by=ops)
    draft_orders_from_reorder([products["PAP-REC"].id], by=ops)
    db.session.flush()


def load_demo_sales(users: dict) -> None:
    """Quotes and orders on the demo deals, through the same rules the app uses: a sent
    quote, a draft, and a revised quote accepted into an order that has partly shipped."""
    from models.catalog import product_by_sku
    from models.pipeline import Deal
    from models.sales import (
        QuoteLineInput,
        accept_quote,
        add_quote_line,
        create_quote,
        mark_sent,
        revise_quote,
        ship,
    )

    def deal(title: str) -> Deal:
        return db.session.scalar(select(Deal).where(Deal.title == title))

    def quote(on: Deal, lines, *, send: bool):
        made = create_quote(on, by=on.owner,
                            contact=next((c for c in on.customer.contacts if c.is_primary),
                                         None),
                            notes="Prices include delivery to one site.",
                            terms="Payment 30 days net. Delivery within two weeks of order. "
                                  "Two years' warranty on machines.")
        for sku, quantity, price, discount in lines:
            product = product_by_sku(sku) if sku[0] != "*" else None
            add_quote_line(made, QuoteLineInput(
                product=product, description=sku[1:] if product is None else "",
                quantity=Decimal(quantity), unit_price=Decimal(price) if price else None,
                discount_percent=Decimal(discount), use_product_tax=product is not None))
        if send:
            mark_sent(made)
        return made

    espresso = deal("Espresso machines for 3 sites")
    if espresso is None:
        return
    quote(espresso, [("ESP-200", "3", None, "5"), ("GRD-60", "3", None, "0"),
                     ("*Installation and barista training", "1", "450.00", "0")], send=True)
    quote(deal("Assembly line tools"), [("TRL-900", "4", None, "0"),
                                        ("SHF-180", "10", None, "7.5")], send=False)
    shelving = deal("Cold-room shelving")
    first = quote(shelving, [("SHF-180", "20", None, "0"), ("SHF-BIN", "8", None, "0")],
                  send=True)
    second = revise_quote(first, by=shelving.owner)
    second.lines[0].discount_percent = Decimal("10")
    mark_sent(second)
    order = accept_quote(second, by=shelving.owner, customer_po="FF-PO-4471")
    db.session.flush()
    ship(order, {order.lines[0].id: Decimal(12)}, by=users.get("operations"),
         carrier="DHL Freight", tracking="JD014600006281234567")


# --- The books ---------------------------------------------------------------------------

def load_demo_ledger(users: dict) -> None:
    """Invoices, payments, a credit note, bills and journal entries through the same rules
    the app uses: an opening balance, the shelving order invoiced, Acme partly paid and
    overdue, Northwind's two invoices over 60 days (why it is on hold) and its new order
    waiting on credit hold, a paid invoice, a credit note, a supplier paid, this month's
    rent billed and salaries booked."""
    from models.catalog import Supplier, product_by_sku
    from models.customers import Customer
    from models.invoicing import (
        add_invoice_line,
        create_invoice,
        credit_invoice,
        invoice_order,
        post_invoice,
    )
    from models.ledger import Account, account_for, credit, debit, ensure_chart, post_entry
    from models.payments import record_payment, record_supplier_payment
    from models.pipeline import Stage, create_deal
    from models.purchasing import VendorBill, record_expense_bill
    from models.sales import (
        QuoteLineInput,
        SalesOrder,
        accept_quote,
        add_quote_line,
        create_quote,
        mark_sent,
    )

    finance = users.get("finance")
    today = utcnow().date()
    ensure_chart()

    def customer(name: str) -> Customer:
        return db.session.scalar(select(Customer).where(Customer.name == name))

    def invoice(name: str, lines, days_ago: int):
        made = create_invoice(customer(name), by=finance)
        for description, quantity, price, tax in lines:
            add_invoice_line(made, QuoteLineInput(
                product=None, description=description, quantity=Decimal(quantity),
                unit_price=Decimal(price), tax_rate=tax, use_product_tax=False))
        return post_invoice(made, issue_date=today - timedelta(days=days_ago), by=finance)

    from models.catalog import TaxRate

    vat = db.session.scalar(select(TaxRate).where(TaxRate.name == "Standard 20%"))
    post_entry(today - timedelta(days=120), [
        debit(account_for("bank"), Decimal("60000.00"), "Opening balance"),
        credit(account_for("capital"), Decimal("60000.00"), "Capital paid in")],
        memo="Opening balances", by=finance)
    northwind_old = invoice("Northwind Traders", [("Trolleys TRL-900, 10 pc", "10", "840.00",
                                                   vat)], 100)
    invoice("Northwind Traders", [("Shelving installation", "1", "3150.00", vat)], 92)
    acme = invoice("Acme Tools GmbH", [("Spare parts contract: first delivery", "1",
                                        "6200.00", vat)], 75)
    noir = invoice("Café Noir SARL", [("Annual maintenance plan", "1", "480.00", vat)], 50)
    bluebird = invoice("Bluebird Cafés Ltd", [("Service visit, Clifton site", "1", "640.00",
                                               vat)], 20)
    invoice("Stark Components", [("Tool service plan, first quarter", "1", "3000.00", vat)],
            10)
    record_payment(acme.customer, amount=Decimal("3000.00"),
                   payment_date=today - timedelta(days=30), reference="ACME-REM-118",
                   by=finance)
    record_payment(bluebird.customer, amount=bluebird.total_amount,
                   payment_date=today - timedelta(days=5), reference="BB-7731", by=finance)
    # a goodwill credit of a quarter of Café Noir's maintenance plan
    note = credit_invoice(noir, reason="Two service visits missed in the spring",
                          quantities={noir.lines[0].id: Decimal("0.25")}, by=finance)
    post_invoice(note, issue_date=today - timedelta(days=40), by=finance)
    record_payment(noir.customer, amount=noir.total_amount - note.total_amount,
                   payment_date=today - timedelta(days=35), method="card", by=finance)
    # the shelving order's first shipment, invoiced today
    shelving = db.session.scalar(select(SalesOrder).where(SalesOrder.customer_po == "FF-PO-4471"))
    if shelving is not None:
        post_invoice(invoice_order(shelving, by=finance), by=finance)
    # suppliers: the espresso machines' supplier paid, this month's rent billed
    tecnica = db.session.scalar(select(Supplier).where(Supplier.name == "Caffè Tecnica Srl"))
    bill = db.session.scalar(select(VendorBill).where(VendorBill.supplier_id == tecnica.id))
    if bill is not None:
        record_supplier_payment(tecnica, amount=bill.open_amount,
                                payment_date=today - timedelta(days=3),
                                reference="SEPA 2211", by=finance)
    landlord = Supplier(email="accounts@harbourproperties.example.org", city="Bristol",
                        country="United Kingdom", currency="EUR", payment_terms_days=7)
    landlord.set_name("Harbour Properties Ltd")
    db.session.add(landlord)
    db.session.flush()
    rent = db.session.scalar(select(Account).where(Account.code == "6000"))
    record_expense_bill(landlord, supplier_ref=f"RENT-{today:%Y%m}",
                        bill_date=today - timedelta(days=2), net=Decimal("1800.00"),
                        tax=Decimal("0.00"), account=rent, by=finance,
                        notes="Warehouse and office rent for the month.")
    salaries = db.session.scalar(select(Account).where(Account.code == "6100"))
    post_entry(today - timedelta(days=1), [
        debit(salaries, Decimal("9500.00"), "Payroll"),
        credit(account_for("bank"), Decimal("9500.00"), "Payroll run")],
        memo="Salaries for the month", by=finance)
    # Northwind, on hold for the invoices above, orders again: the order waits for finance
    northwind = northwind_old.customer
    deal = create_deal(customer=northwind, title="Replacement trolleys",
                       owner=northwind.relationship_facet.owner or users["sales"],
                       stage=Stage.ordered()[2], amount=Decimal("1680.00"),
                       expected_close=today + timedelta(days=10))
    quote = create_quote(deal, by=deal.owner)
    add_quote_line(quote, QuoteLineInput(product=product_by_sku("TRL-900"),
                                         quantity=Decimal(2)))
    mark_sent(quote)
    accept_quote(quote, by=deal.owner, customer_po="NW-88120")
    db.session.flush()

