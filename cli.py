"""Command-line tools: `flask --app app demo`, `create-user`, `renewals`, `check-books`,
`export-beancount`, `rebuild-balances`, `seed-volume`."""

import sys

import click
from flask import current_app
from sqlalchemy import select

from models import CompanySettings, Contact, User, db
from models.customers import create_customer
from models.errors import DomainError
from models.users import ROLES, create_user

DEMO_PASSWORD = "tandem-demo"
DEMO_USERS = [
    ("admin@tandem.test", "admin", "Ada Admin"),
    ("sales@tandem.test", "sales", "Sam Sales"),
    ("finance@tandem.test", "finance", "Fay Finance"),
    ("ops@tandem.test", "operations", "Otto Ops"),
]


def init_app(app) -> None:
    app.cli.add_command(create_user_command)
    app.cli.add_command(demo_command)
    app.cli.add_command(renewals_command)
    app.cli.add_command(check_books_command)
    app.cli.add_command(export_beancount_command)
    app.cli.add_command(rebuild_balances_command)
    app.cli.add_command(seed_volume_command)


@click.command("create-user")
@click.argument("email")
@click.option("--role", required=True, type=click.Choice(ROLES))
@click.option("--name", default="", help="How the user is shown (default: from the email).")
def create_user_command(email: str, role: str, name: str) -> None:
    """Add a user. The password is asked for, or read from standard input."""
    if sys.stdin.isatty():
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    else:
        password = sys.stdin.readline().rstrip("\n")
    try:
        user = create_user(email, role, password, name=name)
    except DomainError as error:
        db.session.rollback()
        raise click.ClickException(error.message) from None
    db.session.commit()
    click.echo(f"Created {user.email} ({user.role}).")


# name, kind, email, phone, city, country, lifecycle, owner, credit limit, on hold, contacts
DEMO_CUSTOMERS = [
    ("Acme Tools GmbH", "company", "info@acme-tools.example.de", "+49 30 1234567", "Berlin",
     "Germany", "customer", "sales", "25000.00", False,
     [("Jana Richter", "Purchasing", "jana.richter@acme-tools.example.de")]),
    ("Bluebird Cafés Ltd", "company", "orders@bluebird.example.co.uk", "+44 20 7946 0000",
     "London", "United Kingdom", "customer", "sales", "8000.00", False,
     [("Tom Ellis", "Owner", "tom@bluebird.example.co.uk")]),
    ("Northwind Traders", "company", "ap@northwind.example.com", "+1 206 555 0100", "Seattle",
     "United States", "customer", "admin", "50000.00", True,
     [("Nancy Davolio", "Accounts payable", "nancy@northwind.example.com"),
      ("Andrew Fuller", "VP Sales", "andrew@northwind.example.com")]),
    ("Maria Lopez", "person", "maria.lopez@gmail.com", "+34 600 123 456", "Valencia", "Spain",
     "prospect", "sales", "0.00", False, []),
    ("Fjord Fisheries AS", "company", "post@fjordfish.example.no", "+47 22 00 00 00", "Bergen",
     "Norway", "prospect", "sales", "15000.00", False,
     [("Ingrid Berg", "CFO", "ingrid@fjordfish.example.no")]),
    ("Globex Corporation", "company", "hello@globex.example.com", "+1 555 0199", "Springfield",
     "United States", "lead", None, "0.00", False, []),
    ("Initech", "company", "office@initech.example.com", "+1 555 0142", "Austin",
     "United States", "lead", "sales", "0.00", False,
     [("Bill Lumbergh", "Director", "bill@initech.example.com")]),
    ("Umbrella Pharma SA", "company", "compta@umbrella.example.fr", "+33 1 23 45 67 89",
     "Lyon", "France", "former", "admin", "10000.00", False, []),
    ("Café Noir SARL", "company", "bonjour@cafenoir.example.fr", "+33 4 11 22 33 44",
     "Marseille", "France", "customer", "sales", "5000.00", False,
     [("Luc Martin", "Gérant", "luc@cafenoir.example.fr")]),
    ("Stark Components", "company", "buy@stark.example.com", "+1 212 555 0111", "New York",
     "United States", "customer", "sales", "100000.00", False,
     [("Pepper Potts", "CEO", "pepper@stark.example.com")]),
]


@click.command("demo")
def demo_command() -> None:
    """Load the demo data set once (users, company, customers); later runs change nothing."""
    from decimal import Decimal

    if db.session.scalar(select(User).where(User.email == DEMO_USERS[0][0])) is None:
        users = {}
        for email, role, name in DEMO_USERS:
            users[role] = create_user(email, role, DEMO_PASSWORD, name=name)
        company = CompanySettings(
            id=1, name="Tandem Demo Supplies Ltd", address="12 Market Street\nBristol BS1 4DJ\n"
            "United Kingdom", tax_id="GB123456789", base_currency="EUR",
            payment_instructions="Bank transfer to IBAN GB33 BUKB 2020 1555 5555 55, "
                                 "quoting the invoice number.")
        db.session.add(company)
        db.session.flush()
        customers = {}
        for (name, kind, email, phone, city, country, lifecycle, owner, limit, hold,
             contacts) in DEMO_CUSTOMERS:
            customer = create_customer(name=name, kind=kind, email=email, phone=phone,
                                       city=city, country=country, lifecycle=lifecycle,
                                       owner=users.get(owner) if owner else None,
                                       source="Trade fair" if lifecycle != "lead" else "Website")
            customers[name] = customer
            customer.account.credit_limit = Decimal(limit)
            customer.account.on_hold = hold
            if hold:
                customer.account.hold_reason = "Two invoices over 60 days"
            for index, (contact_name, title, contact_email) in enumerate(contacts):
                db.session.add(Contact(customer=customer, name=contact_name, job_title=title,
                                       email=contact_email, is_primary=index == 0))
        db.session.flush()
        from demo import load_demo_pipeline

        load_demo_pipeline(users, customers)
        db.session.commit()
        click.echo("Demo data loaded.")
    else:
        click.echo("Demo data is already there.")
    from models.catalog import Product

    if db.session.scalar(select(Product.id).limit(1)) is None:
        from demo import load_demo_catalog

        users = {user.role: user for user in db.session.scalars(
            select(User).where(User.email.in_([email for email, _, _ in DEMO_USERS])))}
        load_demo_catalog(users)
        db.session.commit()
        click.echo("Demo catalog, stock and purchase orders loaded.")
    from models.sales import Quote

    if db.session.scalar(select(Quote.id).limit(1)) is None:
        from demo import load_demo_sales

        users = {user.role: user for user in db.session.scalars(
            select(User).where(User.email.in_([email for email, _, _ in DEMO_USERS])))}
        load_demo_sales(users)
        db.session.commit()
        click.echo("Demo quotes and sales orders loaded.")
    from models.invoicing import Invoice

    if db.session.scalar(select(Invoice.id).limit(1)) is None:
        from demo import load_demo_ledger

        users = {user.role: user for user in db.session.scalars(
            select(User).where(User.email.in_([email for email, _, _ in DEMO_USERS])))}
        load_demo_ledger(users)
        db.session.commit()
        click.echo("Demo invoices, payments, bills and journal entries loaded.")
    click.echo(f"Sign in with any of these (password: {DEMO_PASSWORD}; demo data only):")
    for email, role, _ in DEMO_USERS:
        click.echo(f"  {email:<24} {role}")
    current_app.logger.debug("demo done")


@click.command("renewals")
@click.option("--today", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="The day to open renewals for, YYYY-MM-DD (default: today).")
def renewals_command(today) -> None:
    """Open the renewal deals of contracts whose notice period has begun (once each)."""
    from datetime import date

    from models.contracts import open_renewals

    day = today.date() if today else date.today()
    try:
        opened = open_renewals(day)
    except DomainError as error:
        db.session.rollback()
        raise click.ClickException(error.message) from None
    db.session.commit()
    if not opened:
        click.echo(f"No renewal is due on {day.isoformat()}.")
        return
    click.echo(f"Opened {len(opened)} renewal deal{'s' if len(opened) != 1 else ''}:")
    for deal in opened:
        owner = deal.owner.name if deal.owner else "unassigned"
        click.echo(f"  #{deal.id} {deal.title} · {deal.customer.name} · {deal.currency} "
                   f"{deal.amount:,.2f} · closes {deal.expected_close.isoformat()} · {owner}")


@click.command("check-books")
def check_books_command() -> None:
    """Verify every invariant of the books; exit 1 listing each violation found."""
    from models.books_check import check_books, summary

    errors = check_books()
    if errors:
        click.echo(f"The books have {len(errors)} problem{'s' if len(errors) != 1 else ''}:")
        for error in errors:
            click.echo(f"  - {error}")
        raise SystemExit(1)
    singular = {"entries": "entry", "lines": "line", "invoices": "invoice",
                "credit notes": "credit note", "payments": "payment", "bills": "bill"}
    click.echo("The books are in order: " + ", ".join(
        f"{count} {singular[what] if count == 1 else what}"
        for what, count in summary().items()) + ".")


@click.command("rebuild-balances")
def rebuild_balances_command() -> None:
    """Recompute the balances kept per account and month from the journal lines (after a
    bulk load, or when `check-books` finds them off). The lines are not touched."""
    from models.ledger import rebuild_account_balances

    rows = rebuild_account_balances()
    db.session.commit()
    click.echo(f"Rebuilt {rows} account-month balance{'s' if rows != 1 else ''}.")


@click.command("export-beancount")
@click.argument("path", type=click.Path(dir_okay=False, writable=True))
def export_beancount_command(path: str) -> None:
    """Write the whole ledger to PATH as a beancount file (check it with bean-check)."""
    from models.beancount_export import write_beancount

    written = write_beancount(path)
    click.echo(f"Wrote {written} transaction{'s' if written != 1 else ''} to {path}.")


# The demo's sign-ins, and a few more people per role for a team-sized data set.
VOLUME_USERS = DEMO_USERS + [
    ("admin2@tandem.test", "admin", "Alex Admin"),
    ("finance2@tandem.test", "finance", "Flo Finance"),
    ("ops2@tandem.test", "operations", "Olga Ops"),
] + [(f"rep{n:02d}@tandem.test", "sales", f"{first} (rep {n:02d})") for n, first in enumerate(
    ["Ana", "Bram", "Chloé", "Dev", "Emil", "Farah", "Gus", "Hana", "Ivo", "Jules"], start=1)]


@click.command("seed-volume")
@click.option("--scale", type=click.FloatRange(min=0, min_open=True, max=10), default=1.0,
              show_default=True,
              help="Multiplies the counts: 1 is 20,000 customers, 100,000 invoices and about "
                   "a million journal lines; 0.1 is a tenth of that.")
@click.option("--seed", type=int, default=None,
              help="The random seed (default: a fixed one). The same scale and seed give the "
                   "same data; the dates always end today.")
def seed_volume_command(scale: float, seed: int | None) -> None:
    """Fill an EMPTY database with a large synthetic data set, for benchmarks.

    Five years ending today: customers with contacts, deals and activities, a stocked
    catalog, quotes accepted into orders that ship, invoices, payments (some overdue),
    credit notes, purchase orders, supplier bills and payments, all posted as the app
    posts them, so `check-books` accepts the books. Adds users with the demo password.
    Refuses a database that holds any business data already: create a new one and run
    `flask --app app db upgrade` first. Never on a real server.
    """
    import time

    from models.volume import SEED, seed_volume

    started = time.perf_counter()
    click.echo(f"Seeding scale {scale:g} into {db.engine.url.render_as_string()}:")
    try:
        seed_volume(scale, seed=SEED if seed is None else seed, users=VOLUME_USERS,
                    password=DEMO_PASSWORD, echo=click.echo,
                    progress=lambda label, length: click.progressbar(
                        length=length, label=f"  {label}", file=sys.stderr))
    except ValueError as error:
        db.session.rollback()
        raise click.ClickException(str(error)) from None
    click.echo(f"Done in {time.perf_counter() - started:.1f} s.")
    _echo_volume_counts()
    click.echo(f"Sign in with any of these (password: {DEMO_PASSWORD}; generated data only):")
    for email, role, _ in VOLUME_USERS:
        click.echo(f"  {email:<24} {role}")


def _echo_volume_counts() -> None:
    from sqlalchemy import func

    from models import (
        Activity,
        Customer,
        Deal,
        Invoice,
        JournalLine,
        Payment,
        Product,
        Quote,
        SalesOrder,
        Shipment,
    )

    counted = [(Customer, "customers"), (Contact, "contacts"), (Deal, "deals"),
               (Activity, "activities"), (Product, "products"), (Quote, "quotes"),
               (SalesOrder, "sales orders"), (Shipment, "shipments"),
               (Invoice, "invoices and credit notes"), (Payment, "payments"),
               (JournalLine, "journal lines")]
    click.echo("Rows: " + ", ".join(
        f"{db.session.scalar(select(func.count()).select_from(model)):,} {label}"
        for model, label in counted) + ".")
