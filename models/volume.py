"""A large, coherent data set for measuring Tandem at scale (`flask --app app seed-volume`).

Five years of a small trading company ending today, built into an empty database:
customers with both facets and their contacts, a pipeline of deals with their stage
history and activities, a catalog with stock, quotes accepted into orders that reserve,
ship and are invoiced, invoices written by hand, credit notes, customer payments
(some late, some never: aging is realistic), purchase orders that are received, billed
and paid, monthly overheads, and about a million journal lines at scale 1.

Speed is the point (scale 1 in a few minutes on two cores), so nothing goes through the
ORM per row. The documents are built as plain objects in one pass over the days, in the
order the app would have posted them, ids computed here, and inserted in batches (see
`_Writer`: each value through its column type's own bind processor, the rows through
the driver's bulk path). Correctness is the other point: each step applies the rule of
the function named in its docstring (the same rows, memos, rounding, numbers and hash
chains), and reuses the models' pure pieces so the two cannot drift apart: line
rounding and totals (`PricedLine`, `DocumentTotals`), what the chains hash
(`JournalEntry.content`, `Invoice.content`, `chain_hash`), moving-average cost. So
`check-books` and `level_drift()` accept the result; tests/test_seed_volume.py runs
both, and posts through the real rules afterwards.

Deterministic: the same scale and seed give the same rows (the dates end today). Not
written, because no person made these records: the audit log, PDFs and mail.
"""

import random
import time
from bisect import bisect_right
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_HALF_UP, Decimal
from itertools import accumulate, count

from flask import current_app
from sqlalchemy import bindparam, func, select, text, update
from werkzeug.security import generate_password_hash

from models import db
from models.activities import Activity
from models.catalog import Product, Supplier, SupplierContact, TaxRate
from models.company import CompanySettings, currency_places
from models.customers import (
    PUBLIC_MAIL_DOMAINS,
    Contact,
    Customer,
    FinancialAccount,
    Relationship,
    email_domain,
    normalize_name,
)
from models.documents import DocumentTotals, PricedLine
from models.invoicing import Invoice, InvoiceLine
from models.ledger import (
    GENESIS,
    Account,
    ChainHead,
    JournalEntry,
    JournalLine,
    chain_hash,
    ensure_chart,
)
from models.payments import Allocation, Payment
from models.pipeline import Campaign, Deal, StageChange, ensure_stages
from models.purchasing import (
    PurchaseLine,
    PurchaseOrder,
    Receipt,
    ReceiptLine,
    VendorBill,
)
from models.sales import Quote, QuoteLine, SalesLine, SalesOrder, Shipment, ShipmentLine
from models.sequences import DocumentCounter, insert_ignore
from models.stock import (
    COST_PLACES,
    Location,
    ProductStock,
    StockLevel,
    StockMove,
    ensure_locations,
    moving_average,
)
from models.types import Money, round_money
from models.users import User

# What scale 1 means; other scales multiply these.
SCALE_ONE = {
    "customers": 20_000, "contacts": 40_000, "deals": 30_000, "activities": 200_000,
    "products": 5_000, "suppliers": 60, "quotes": 50_000, "orders": 40_000,
    "invoices": 100_000,
}
# The fewest of each kind at any scale, so a tiny data set still has a handful of each.
MINIMUM = {"customers": 12, "contacts": 12, "deals": 12, "activities": 24, "products": 12,
           "suppliers": 3, "quotes": 12, "orders": 8, "invoices": 24}
SEED = 7
YEARS = 5
BATCH = 10_000             # rows per executemany
FLUSH_ROWS = 60_000        # journal rows held before they are written
ZERO = Decimal("0.00")
QTY_ZERO = Decimal("0.000")
ONE_RATE = Decimal("1.000000")

# Exchange rates start here (base currency per unit) and wander a little every day.
RATE_START = {"USD": Decimal("0.92"), "GBP": Decimal("1.17"), "SEK": Decimal("0.087"),
              "EUR": Decimal("1")}
TAX_RATES = [("Standard 20%", Decimal("20")), ("Reduced 5%", Decimal("5")),
             ("Zero-rated", Decimal("0"))]
CAMPAIGNS = [("Trade fair spring", "event"), ("Trade fair autumn", "event"),
             ("Newsletter", "email"), ("Website", "web"), ("Partner referrals", "partner"),
             ("Search ads", "ads"), ("Cold calls", "phone"), ("Customer referrals", "referral")]

FIRST_NAMES = ["Anna", "Ben", "Carla", "David", "Elif", "Finn", "Greta", "Hugo", "Ines",
               "Jonas", "Kira", "Luca", "Maya", "Noah", "Olga", "Paul", "Rosa", "Sven",
               "Tara", "Umar", "Vera", "Wim", "Xenia", "Yusuf", "Zoe", "Marta", "Pierre",
               "Sofia", "Jan", "Lena", "Tom", "Ingrid", "Luc", "Nina", "Omar", "Petra",
               "Raul", "Sara", "Theo", "Maria"]
LAST_NAMES = ["Andersen", "Bianchi", "Costa", "Dubois", "Eriksson", "Fischer", "Garcia",
              "Hansen", "Ivanova", "Jansen", "Kowalski", "Larsen", "Martin", "Novak",
              "Olsen", "Peeters", "Richter", "Schmidt", "Tanaka", "Urban", "Virtanen",
              "Weber", "Young", "Zimmermann", "Lopez", "Berg", "Ellis", "Potts", "Rossi",
              "Moreau", "Nagy", "Horvat", "Silva", "Murphy", "Kelly", "Meyer", "Wagner",
              "Svensson", "Nielsen", "Quint"]
NAME_HEADS = ["Acme", "Alpine", "Atlas", "Aurora", "Beacon", "Birch", "Blue Harbour",
              "Bluebird", "Boreal", "Cedar", "Cobalt", "Copper", "Crescent", "Delta",
              "Eastgate", "Ember", "Falcon", "Fjord", "Granite", "Harbour", "Highland",
              "Horizon", "Iron", "Juniper", "Keystone", "Lakeside", "Linden", "Maple",
              "Meridian", "Millbrook", "Nordic", "Northwind", "Oak", "Orchard", "Pioneer",
              "Quarry", "Redwood", "Riverside", "Sable", "Silver", "Stark", "Summit",
              "Sunrise", "Tandem", "Thistle", "Union", "Vantage", "Westfield", "Willow",
              "Zenith"]
NAME_TRADES = ["Tools", "Cafés", "Fisheries", "Traders", "Components", "Logistics",
               "Bakeries", "Hotels", "Engineering", "Garages", "Dental", "Printing",
               "Workshops", "Retail", "Foods", "Breweries", "Clinics", "Offices",
               "Construction", "Textiles", "Pharma", "Labs", "Electric", "Marine",
               "Furniture", "Studios", "Farms", "Motors", "Plastics", "Systems"]
# city, country, legal form, phone prefix, web domain ending
PLACES = [("Berlin", "Germany", "GmbH", "+49 30", "de"),
          ("Munich", "Germany", "GmbH", "+49 89", "de"),
          ("Hamburg", "Germany", "KG", "+49 40", "de"),
          ("London", "United Kingdom", "Ltd", "+44 20", "co.uk"),
          ("Bristol", "United Kingdom", "Ltd", "+44 117", "co.uk"),
          ("Manchester", "United Kingdom", "plc", "+44 161", "co.uk"),
          ("Paris", "France", "SARL", "+33 1", "fr"), ("Lyon", "France", "SA", "+33 4", "fr"),
          ("Milan", "Italy", "Srl", "+39 02", "it"), ("Madrid", "Spain", "SL", "+34 91", "es"),
          ("Valencia", "Spain", "SL", "+34 96", "es"),
          ("Amsterdam", "Netherlands", "BV", "+31 20", "nl"),
          ("Brussels", "Belgium", "NV", "+32 2", "be"),
          ("Vienna", "Austria", "GmbH", "+43 1", "at"),
          ("Zurich", "Switzerland", "AG", "+41 44", "ch"),
          ("Stockholm", "Sweden", "AB", "+46 8", "se"),
          ("Oslo", "Norway", "AS", "+47 22", "no"),
          ("Copenhagen", "Denmark", "ApS", "+45 33", "dk"),
          ("Helsinki", "Finland", "Oy", "+358 9", "fi"),
          ("Warsaw", "Poland", "sp. z o.o.", "+48 22", "pl"),
          ("Dublin", "Ireland", "Ltd", "+353 1", "ie"),
          ("New York", "United States", "Inc.", "+1 212", "com"),
          ("Seattle", "United States", "Inc.", "+1 206", "com")]
STREETS = ["Market Street", "Station Road", "Harbour Road", "Mill Lane", "Hauptstraße",
           "Industrieweg", "Rue de la Paix", "Via Roma", "Calle Mayor", "Kungsgatan",
           "Bridge Street", "Park Avenue", "Church Lane", "Dock Road", "Quay Street"]
JOB_TITLES = ["Purchasing", "Owner", "CFO", "Accounts payable", "Operations manager",
              "Office manager", "Head of facilities", "CEO", "Buyer", "Workshop lead"]
# SKU prefix, name, unit, list price range: what the company stocks ...
STOCKED = [("ESP", "Espresso machine", "pc", 900, 3200), ("GRD", "Coffee grinder", "pc", 250, 900),
           ("SHF", "Steel shelving unit", "pc", 120, 450), ("BIN", "Stackable bins", "box", 15, 60),
           ("TRL", "Workshop trolley", "pc", 250, 800), ("CBL", "Copper cable", "m", 1, 6),
           ("PAP", "Copier paper", "box", 18, 40), ("TON", "Toner cartridge", "pc", 40, 160),
           ("BEAN", "Espresso beans", "kg", 12, 40), ("TOOL", "Tool set", "pc", 60, 400),
           ("LMP", "LED work lamp", "pc", 25, 120), ("CHR", "Office chair", "pc", 150, 600),
           ("DSK", "Standing desk", "pc", 300, 1100), ("FLT", "Water filter", "pc", 20, 70),
           ("GLV", "Safety gloves", "box", 8, 30), ("OIL", "Machine oil", "l", 6, 25)]
# ... and the services it sells
SERVICES = [("INST", "Installation", "h", 60, 120), ("MNT", "Maintenance plan", "pc", 200, 1500),
            ("TRN", "Training", "day", 500, 1400), ("RPR", "Repair service", "h", 70, 130),
            ("CNS", "Consulting", "h", 90, 180), ("SUP", "Support subscription", "pc", 50, 400)]
VARIANTS = ["Basic", "Pro", "Compact", "XL", "Eco", "Heavy-duty", "Mini", "Plus", "Classic",
            "Max", "Lite", "Prime"]
FREE_LINES = ["Delivery and setup", "Site survey", "Extended warranty, two years",
              "Removal of old equipment", "Express delivery", "Custom configuration"]
PLACES_FOR = ["for the new warehouse", "for 3 sites", "for the head office",
              "for the workshop", "restock", "for the spring opening", "for the branches",
              "replacement", "upgrade", "pilot order", "framework agreement"]
LOST_REASONS = ["Chose a cheaper local supplier", "Budget frozen", "Went with the incumbent",
                "No decision this year", "Delivery time too long"]
CARRIERS = ["DHL Freight", "UPS", "DPD", "GLS", "Own van"]
METHODS = ["bank_transfer"] * 8 + ["direct_debit", "card"]
OVERHEADS = [  # supplier, expense account code, monthly net, tax percent, every n months
    ("Harbour Properties Ltd", "6000", Decimal("6500.00"), Decimal("0"), 1),
    ("City Power & Water", "6200", Decimal("780.00"), Decimal("20"), 1),
    ("Brightside Marketing", "6500", Decimal("3200.00"), Decimal("20"), 3),
]


def targets(scale: float) -> dict[str, int]:
    """How many of each kind `scale` asks for: SCALE_ONE x scale, at least MINIMUM."""
    found = {kind: max(MINIMUM[kind], round(number * scale))
             for kind, number in SCALE_ONE.items()}
    found["quotes"] = max(found["quotes"], found["orders"])   # every order has its quote
    return found


def existing_data() -> list[str]:
    """The kinds of business records the database holds already ([] when none)."""
    kinds = [(Customer, "customers"), (Supplier, "suppliers"), (Product, "products"),
             (Deal, "deals"), (Activity, "activities"), (Quote, "quotes"),
             (SalesOrder, "sales orders"), (PurchaseOrder, "purchase orders"),
             (StockMove, "stock moves"), (Invoice, "invoices"), (Payment, "payments"),
             (JournalEntry, "journal entries")]
    return [label for model, label in kinds
            if db.session.scalar(select(model.id).limit(1)) is not None]


class NoProgress:
    """Progress that shows nothing (the default: tests, callers without a terminal)."""

    def __init__(self, label: str, length: int):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> bool:
        return False

    def update(self, n: int) -> None:
        pass


def seed_volume(scale: float, *, users: list[tuple[str, str, str]], password: str,
                seed: int = SEED, progress=NoProgress, echo=lambda text: None) -> None:
    """Build the data set into an empty database, echoing the time each phase took.

    users: (email, role, name) to sign in with `password`; one that exists already is
        kept as it is. progress(label, length): a context manager with update(n) per
        phase (click.progressbar); echo(text): a line per finished phase.
    Refuses (ValueError) when the database already holds business data."""
    found = existing_data()
    if found:
        raise ValueError("This database already holds " + ", ".join(found) + ". "
                         "seed-volume fills an empty database only: create a new one "
                         "and run `flask --app app db upgrade` on it first.")
    phases = _Phases(echo)
    writer = _Writer()
    setup = _setup(users, password)
    _sqlite_synchronous("OFF")
    phases.done("setup (users, chart, stages, locations, taxes, campaigns)", 0)
    world = _World(scale, seed, setup, writer)
    world.plan()
    phases.done("plan (in memory)", 0)
    for label, write in (("customers", world.write_customers),
                         ("suppliers", world.write_suppliers),
                         ("pipeline", world.write_pipeline),
                         ("activities", world.write_activities)):
        with progress(label, world.rows_of(label)) as bar:
            rows = write(bar)
        phases.done(label, rows)
    books = _Books(world)
    with progress("books, day by day", world.days) as bar:
        books.run(bar)
    phases.done("books (journal written as it goes)",
                writer.written["journal_entries"] + writer.written["journal_lines"])
    rows = books.queue_documents()
    with progress("documents", rows) as bar:
        writer.flush(bar)
    books.link_revisions()
    phases.done("documents", rows)
    books.finish()
    phases.done("counters, chain heads, sequences, balances", 0)
    _sqlite_synchronous("NORMAL")
    _analyze()
    phases.done("statistics (ANALYZE)", 0)


class _Phases:
    """The time each phase took, echoed when it ends."""

    def __init__(self, echo):
        self.echo, self.last = echo, time.perf_counter()

    def done(self, label: str, rows: int) -> None:
        now = time.perf_counter()
        written = f"{rows:,} rows in " if rows else ""
        self.echo(f"  {label}: {written}{now - self.last:.1f} s")
        self.last = now


# --- Writing rows ------------------------------------------------------------------------

class _Obj:
    """A row being built: attributes named like its table's columns, plus helpers (its
    lines, its customer) that the writer ignores."""

    def __init__(self, **values):
        self.__dict__.update(values)


class _Line(PricedLine, _Obj):
    """A quote, order, invoice or credit note line: its net, tax and label are the
    models' own (models.documents), so the rounding is the app's."""


class _Bill(_Obj):
    """A vendor bill: what allocations settle on the payable side."""


class _Payment(_Obj):
    """A payment in or out."""


class _Document(DocumentTotals, _Obj):
    """A quote, order, invoice or credit note: totals and tax per rate from its lines,
    as the models compute them."""


def _column_defaults(table) -> dict:
    """What a column gets when a row does not say: its default, as SQLAlchemy would give
    it, or NULL where NULL is allowed (a required column has no entry: a KeyError)."""
    found = {}
    for column in table.c:
        default = column.default
        if default is not None and default.is_callable:
            found[column.key] = default.arg(None)
        elif default is not None and default.is_scalar:
            found[column.key] = default.arg
        elif column.nullable:
            found[column.key] = None
    return found


class _Writer:
    """Rows waiting to be inserted per table, the ids they take, and what was written.

    Ids are given here (the next after the table's largest), so rows can point at each
    other before they are inserted; a flush inserts parents before children (the
    metadata's dependency order) in one transaction.

    Each value goes through its column type's own bind processor, exactly as SQLAlchemy
    would send it (Money as its scaled integer, dates as SQLite stores them), and the
    rows through the driver's fastest path: executemany on SQLite, COPY on PostgreSQL
    (a Core executemany spends more time building parameters than the database spends
    storing them). Triggers fire as for any insert."""

    def __init__(self):
        self.waiting: dict[str, list] = defaultdict(list)
        self.next_id: dict[str, int] = {}
        self.written: dict[str, int] = defaultdict(int)
        self.dialect = db.session.get_bind().dialect

    def new_id(self, model) -> int:
        table = model.__table__
        if table.name not in self.next_id:
            self.next_id[table.name] = (db.session.scalar(select(func.max(table.c.id)))
                                        or 0) + 1
        found = self.next_id[table.name]
        self.next_id[table.name] = found + 1
        return found

    def add(self, model, row) -> None:
        self.waiting[model.__tablename__].append(row)

    def extend(self, model, rows) -> None:
        self.waiting[model.__tablename__].extend(rows)

    def size(self) -> int:
        return sum(len(rows) for rows in self.waiting.values())

    def flush(self, bar=None) -> int:
        """Insert everything waiting and commit; returns the number of rows."""
        done = 0
        cursor = db.session.connection().connection.driver_connection.cursor()
        try:
            for table in db.metadata.sorted_tables:
                rows = self.waiting.pop(table.name, None)
                if not rows:
                    continue
                for start in range(0, len(rows), BATCH):
                    chunk = rows[start:start + BATCH]
                    self._insert(cursor, table, chunk)
                    if bar is not None:
                        bar.update(len(chunk))
                self.written[table.name] += len(rows)
                done += len(rows)
        finally:
            cursor.close()
        db.session.commit()
        return done

    def _insert(self, cursor, table, rows) -> None:
        fill = _column_defaults(table)
        keys = [column.key for column in table.c]
        processors = []
        for index, column in enumerate(table.c):
            process = column.type.dialect_impl(self.dialect).bind_processor(self.dialect)
            if process is not None:
                processors.append((index, _remembered(process) if isinstance(
                    column.type, Money) else process))
        values = []
        for row in rows:
            given = {**fill, **(row if isinstance(row, dict) else row.__dict__)}
            value = [given[key] for key in keys]
            for index, process in processors:
                value[index] = process(value[index])
            values.append(value)
        columns = ", ".join(f'"{key}"' for key in keys)
        if self.dialect.name == "postgresql":
            with cursor.copy(f'COPY "{table.name}" ({columns}) FROM STDIN') as copy:
                for value in values:
                    copy.write_row(value)
        else:
            marks = ", ".join("?" * len(keys))
            cursor.executemany(f'INSERT INTO "{table.name}" ({columns}) VALUES ({marks})',
                               values)


def _remembered(process):
    """A Money column's bind processor that remembers what it gave for each amount: the
    same amounts recur all the time (every journal line has a 0.00 side). Equal Decimals
    scale to the same integer, and an amount with too many decimals equals no valid one,
    so it still reaches the processor and is refused."""
    seen: dict = {}

    def convert(value):
        found = seen.get(value)
        if found is None:
            found = process(value)
            if len(seen) < 200_000:
                seen[value] = found
        return found

    return convert


def _sqlite_synchronous(level: str) -> None:
    """Set SQLite's sync level on the pooled connection the session uses, between
    transactions (SQLite refuses it inside one). OFF for the load only: a crash midway
    means starting again on a new database anyway, as the command refuses a used one."""
    if db.session.get_bind().dialect.name != "sqlite":
        return
    raw = db.engine.raw_connection()
    try:
        raw.driver_connection.execute(f"PRAGMA synchronous={level}")
    finally:
        raw.close()


def _analyze() -> None:
    """Planner statistics for the new tables, as a DBA would gather after a bulk load."""
    db.session.execute(text("ANALYZE"))
    db.session.commit()


# --- Setup through the ORM: small things, with the app's own rules ------------------------

class _Setup:
    """What the ORM set up: users by role, stages, locations, tax rates, campaigns,
    accounts by role and code, the base currency."""


def _setup(users: list[tuple[str, str, str]], password: str) -> _Setup:
    """Company settings (when none are saved), the default chart, stages and locations,
    the tax rates, the campaigns and the users (one password hash for all of them:
    scrypt is slow on purpose, and they share the password anyway)."""
    found = _Setup()
    settings = db.session.get(CompanySettings, 1)
    if settings is None:
        settings = CompanySettings(
            id=1, name="Tandem Volume Supplies Ltd", address="1 Benchmark Way\nBristol BS1 "
            "6AA\nUnited Kingdom", tax_id="GB987654321", base_currency="EUR",
            payment_instructions="Bank transfer to IBAN GB33 BUKB 2020 1555 5555 55, "
                                 "quoting the invoice number.",
            quote_terms="Payment 30 days net. Delivery within two weeks of order.",
            quote_valid_days=30)
        db.session.add(settings)
        db.session.flush()
    found.base = settings.base_currency
    found.quote_terms = settings.quote_terms
    ensure_chart()
    ensure_locations()
    stages = ensure_stages()
    found.open_stages = [stage for stage in stages if stage.outcome == "open"]
    found.won = next(stage for stage in stages if stage.outcome == "won")
    found.lost = next(stage for stage in stages if stage.outcome == "lost")
    found.taxes = {}
    for name, percent in TAX_RATES:
        rate = db.session.scalar(select(TaxRate).where(TaxRate.name == name))
        if rate is None:
            rate = TaxRate(name=name, percent=percent.quantize(Decimal("0.001")))
            db.session.add(rate)
            db.session.flush()
        found.taxes[name] = (rate.id, rate.percent)
    found.campaigns = []
    for name, channel in CAMPAIGNS:
        campaign = db.session.scalar(select(Campaign).where(Campaign.name == name))
        if campaign is None:
            campaign = Campaign(name=name, channel=channel, budget=Decimal("5000.00"))
            db.session.add(campaign)
            db.session.flush()
        found.campaigns.append((campaign.id, name))
    method = current_app.config.get("PASSWORD_HASH_METHOD", "scrypt")
    password_hash = generate_password_hash(password, method=method)
    found.users = defaultdict(list)
    for email, role, name in users:
        user = User.by_email(email)
        if user is None:
            user = User(email=email, role=role, name=name, password_hash=password_hash)
            db.session.add(user)
            db.session.flush()
        found.users[user.role].append(user.id)
    for role in ("sales", "finance", "operations"):
        if not found.users[role]:
            raise ValueError(f"seed-volume needs at least one {role} user.")
    found.accounts = {a.role: a.id for a in db.session.scalars(select(Account)) if a.role}
    found.codes = {a.code: a.id for a in db.session.scalars(select(Account))}
    found.locations = {kind: db.session.scalar(
        select(Location.id).where(Location.kind == kind).order_by(Location.id).limit(1))
        for kind in ("supplier", "customer")}
    found.locations["stock"] = db.session.scalar(
        select(Location.id).where(Location.code == "WH/STOCK"))
    db.session.commit()
    return found


# --- The world: master data and the plan of the pipeline --------------------------------

def _when(day: date, seconds: int = 0) -> datetime:
    """A moment of a working day in UTC: 08:00 plus `seconds`."""
    return datetime(day.year, day.month, day.day, 8, tzinfo=UTC) + timedelta(seconds=seconds)


class _World:
    """Everything decided before the books run: customers, suppliers, products, deals,
    quotes (with their lines and, when accepted, when they ship and are invoiced),
    activities; and the day each hand-written invoice is due to be written."""

    def __init__(self, scale: float, seed: int, setup: _Setup, writer: _Writer):
        self.rng = random.Random(seed)
        self.n = targets(scale)
        self.setup, self.writer = setup, writer
        self.today = date.today()
        self.first = self.today - timedelta(days=365 * YEARS)
        self.days = (self.today - self.first).days + 1
        self.base = setup.base
        # customers abroad pay in dollars or pounds; suppliers abroad bill in pounds or kronor
        self.customer_currencies = [c for c in ("USD", "GBP") if c != self.base]
        self.supplier_currencies = [c for c in ("GBP", "SEK") if c != self.base]
        self.rates = {currency: self._rate_walk(RATE_START[currency])
                      for currency in ("USD", "GBP", "SEK") if currency != self.base}
        self.reps = setup.users["sales"]

    # helpers

    def rate(self, currency: str, day: date) -> Decimal:
        """Base currency per unit of `currency` on `day` (1 for the base)."""
        if currency == self.base:
            return ONE_RATE
        return self.rates[currency][(day - self.first).days]

    def _rate_walk(self, start: Decimal) -> list[Decimal]:
        """A rate a day, kept within 15% of `start`, in Decimal throughout (the random
        step is drawn as a float and taken to six places)."""
        unit = Decimal("0.000001")
        low, high = ((start * Decimal(f)).quantize(unit) for f in ("0.85", "1.15"))
        value, rates = start, []
        for _ in range(self.days):
            step = Decimal(f"{self.rng.gauss(0, 0.003):.6f}")
            value = min(max((value * (1 + step)).quantize(unit), low), high)
            rates.append(value)
        return rates

    def day_between(self, start: date, end: date) -> date:
        return start + timedelta(days=self.rng.randint(0, max((end - start).days, 0)))

    def pick(self, people, days, day: date):
        """One of `people` (sorted by when they arrived, `days`) already there on `day`;
        the earliest ones when nobody was yet."""
        known = bisect_right(days, day) or min(len(people), 3)
        return people[self.rng.randrange(known)]

    def rows_of(self, phase: str) -> int:
        """How many rows a writing phase inserts (the length of its progress bar)."""
        return {"customers": len(self.customers) * 3 + len(self.contacts),
                "suppliers": (len(self.suppliers) + len(self.overheads)) * 2,
                "pipeline": len(self.deals) + len(self.stage_changes),
                "activities": self.n["activities"]}[phase]

    # the plan

    def plan(self) -> None:
        self._plan_customers()
        self._plan_suppliers()
        self._plan_products()
        self._plan_deals()
        self._plan_quotes()
        self._plan_stock_levels()
        self._plan_hand_invoices()
        self._plan_stage_paths()

    def _plan_customers(self) -> None:
        """Customers arrive over the years (a quarter were there before), ids in order of
        arrival; most buy, some are prospects and leads. Contacts: one primary per
        company, the rest spread over companies."""
        rng, n = self.rng, self.n["customers"]
        start = self.first - timedelta(days=365)
        arrivals = sorted(self.day_between(start, self.first) if rng.random() < 0.25 else
                          self.day_between(self.first, self.today - timedelta(days=30))
                          for _ in range(n))
        names = set()
        self.customers, self.contacts = [], []
        for created in arrivals:
            city, country, form, phone, tld = rng.choice(PLACES)
            person = rng.random() < 0.15
            if person:
                first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
                name = f"{first} {last}"
            else:
                name = f"{rng.choice(NAME_HEADS)} {rng.choice(NAME_TRADES)} {form}"
                if name in names:
                    name = f"{name.removesuffix(' ' + form)} {city} {form}"
                if name in names:
                    name = f"{name} {len(names)}"
                names.add(name)
            customer_id = self.writer.new_id(Customer)
            slug = "".join(ch for ch in normalize_name(name).replace(" ", "-")
                           if ch.isalnum() or ch == "-")
            email = (f"{slug}.{customer_id}@example.com" if person
                     else f"info@{slug}.example.{tld}")
            roll = rng.random()
            lifecycle = ("customer" if roll < 0.6 else "former" if roll < 0.68 else
                         "prospect" if roll < 0.86 else "lead")
            buyer = lifecycle in ("customer", "former")
            roll = rng.random()
            abroad = self.customer_currencies
            currency = (self.base if not buyer or roll < 0.9 or not abroad
                        else abroad[0] if roll < 0.96 else abroad[-1])
            street = f"{rng.randint(1, 250)} {rng.choice(STREETS)}"
            postal = f"{rng.randint(10000, 99999)}"
            customer = _Obj(
                id=customer_id, name=name, kind="person" if person else "company",
                email=email, phone=f"{phone} {rng.randint(100000, 9999999)}",
                street=street, postal_code=postal, city=city, country=country,
                search_name=normalize_name(name), created_at=_when(created, 3600),
                email_domain=None if email_domain(email) in PUBLIC_MAIL_DOMAINS
                else email_domain(email))
            customer.created = created
            customer.lifecycle, customer.buyer = lifecycle, buyer
            customer.owner_id = rng.choice(self.reps) if rng.random() < 0.95 else None
            customer.currency = currency
            customer.terms = rng.choice((14, 30, 30, 30, 30, 45, 60))
            customer.tax_id = "" if person else f"{tld[-2:].upper()}{rng.randint(10**8, 10**9)}"
            customer.credit_limit = (ZERO if person or rng.random() < 0.3 else
                                     Decimal(rng.choice((5, 10, 25, 50, 100, 250)) * 1000))
            customer.on_hold = buyer and rng.random() < 0.01
            customer.address_lines = [street, f"{postal} {city}", country]
            customer.contact_ids, customer.deals = [], []
            customer.domain = email.split("@")[1]
            self.customers.append(customer)
        companies = [c for c in self.customers if c.kind == "company"] or self.customers
        owners = companies[:self.n["contacts"]]
        owners += [rng.choice(companies) for _ in range(self.n["contacts"] - len(owners))]
        for customer in owners:
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            contact = _Obj(id=self.writer.new_id(Contact), customer_id=customer.id,
                           name=f"{first} {last}", job_title=rng.choice(JOB_TITLES),
                           email=f"{first}.{last}@{customer.domain}".lower(),
                           phone=customer.phone[:-2] + f"{rng.randint(10, 99)}",
                           is_primary=not customer.contact_ids)
            customer.contact_ids.append(contact.id)
            self.contacts.append(contact)
        self.buyers = [c for c in self.customers if c.buyer] or self.customers
        self.buyer_days = [c.created for c in self.buyers]
        self.others = [c for c in self.customers if not c.buyer] or self.customers
        self.other_days = [c.created for c in self.others]

    def _plan_suppliers(self) -> None:
        """Suppliers of goods (some abroad), and the three that bill the overheads."""
        rng = self.rng
        self.suppliers = []
        for number in range(self.n["suppliers"]):
            city, country, form, phone, tld = rng.choice(PLACES)
            roll, abroad = rng.random(), self.supplier_currencies
            currency = (self.base if roll < 0.7 or not abroad
                        else abroad[0] if roll < 0.9 else abroad[-1])
            name = (f"{NAME_HEADS[number % len(NAME_HEADS)]} "
                    f"{rng.choice(('Wholesale', 'Supply', 'Industries', 'Trading'))} "
                    f"{form}")
            if number >= len(NAME_HEADS):
                name = f"{name} {number}"
            self.suppliers.append(self._supplier(name, city, country, currency,
                                                 rng.choice((30, 30, 45, 60)), tld))
        self.overheads = [self._supplier(name, "Bristol", "United Kingdom", self.base, 14,
                                         "co.uk") for name, *_ in OVERHEADS]

    def _supplier(self, name, city, country, currency, terms, tld):
        slug = normalize_name(name).split(" ")[0]
        return _Obj(id=self.writer.new_id(Supplier), name=name, search_name=normalize_name(name),
                    email=f"orders@{slug}.example.{tld}", city=city, country=country,
                    currency=currency, payment_terms_days=terms,
                    created_at=_when(self.first - timedelta(days=60)),
                    prefix=slug[:3].upper(), bills=0)

    def _plan_products(self) -> None:
        """Stocked goods (most of the catalog) and services, each with a tax rate; the
        goods with a preferred supplier and a buying price."""
        rng, n = self.rng, self.n["products"]
        stocked = max(1, round(n * 0.7))
        taxes = self.setup.taxes
        self.products = []
        for index in range(n):
            prefix, kind_name, unit, low, high = (
                STOCKED[index % len(STOCKED)] if index < stocked
                else SERVICES[index % len(SERVICES)])
            price = Decimal(rng.randint(low * 100, high * 100)) / 100
            tax = ("Standard 20%" if rng.random() < 0.85 else
                   "Reduced 5%" if rng.random() < 0.65 else "Zero-rated")
            is_stocked = index < stocked
            variant = rng.choice(VARIANTS)
            product = _Obj(
                id=self.writer.new_id(Product), sku=f"{prefix}-{index + 1:05d}",
                name=f"{kind_name} {variant} {rng.randint(10, 990)}",
                kind="stocked" if is_stocked else "service", unit=unit,
                list_price=price.quantize(Decimal("0.01")), tax_rate_id=taxes[tax][0],
                preferred_supplier_id=None, description=f"{kind_name}, {variant.lower()}.",
                created_at=_when(self.first - timedelta(days=30)))
            product.sku_key = product.sku
            product.search_name = normalize_name(product.name)
            product.tax_percent = taxes[tax][1]
            product.is_stocked = is_stocked
            product.whole = unit in ("pc", "box", "pack")
            product.cost = (price * Decimal(rng.uniform(0.45, 0.7))).quantize(COST_PLACES) \
                if is_stocked else Decimal("0.0000")
            product.buy = product.cost                      # its supplier's usual price
            product.supplier = rng.choice(self.suppliers) if is_stocked else None
            if product.supplier is not None:
                product.preferred_supplier_id = product.supplier.id
            product.on_hand = product.reserved = product.on_order = QTY_ZERO
            product.demand = product.largest = QTY_ZERO
            product.moved = False
            self.products.append(product)
        self.goods = [p for p in self.products if p.is_stocked]
        self.services = [p for p in self.products if not p.is_stocked] or self.goods
        # a few bestsellers, a long tail: weights falling with the rank
        self.goods_weights = list(accumulate(1 / (rank + 1) ** 0.8
                                             for rank in range(len(self.goods))))
        rng.shuffle(self.goods)

    def quantity(self, product) -> Decimal:
        """A quantity a customer would order of `product`, in its unit."""
        rng = self.rng
        if product is None or product.unit in ("pc", "box", "pack"):
            return Decimal(rng.choice((1, 1, 1, 2, 2, 3, 4, 5, 6, 10, 12)))
        if product.unit in ("h",):
            return Decimal(rng.choice((1, 2, 2, 3, 4, 6, 8, 16)))
        if product.unit == "day":
            return Decimal(rng.choice((1, 1, 2, 3, 5)))
        return Decimal(rng.randint(5, 400)) / 10          # kg, m, l: to the tenth

    def priced_lines(self, document, day: date, count_: int) -> list:
        """`count_` lines for a quote or a hand invoice dated `day`: mostly goods (none on
        an invoice written by hand: goods are invoiced from their orders), some
        services, some described lines; list prices, in the document's currency at the
        day's rate."""
        rng = self.rng
        lines, used = [], set()
        for _ in range(count_):
            roll = rng.random()
            if roll < (0.72 if document.goods else 0):
                product = rng.choices(self.goods, cum_weights=self.goods_weights)[0]
            elif roll < 0.92:
                product = rng.choice(self.services)
            else:
                product = None
            if product is not None and product.id in used:
                continue
            if product is not None:
                used.add(product.id)
                price = product.list_price
                tax_id, tax = product.tax_rate_id, product.tax_percent
                description = ""
            else:
                price = Decimal(rng.randint(2000, 90000)) / 100
                tax_id, tax = self.setup.taxes["Standard 20%"]
                description = rng.choice(FREE_LINES)
            if document.currency != self.base:
                price = round_money(price / self.rate(document.currency, day))
            lines.append(_Line(
                document=document, position=len(lines) + 1, product=product,
                product_id=product.id if product else None, description=description,
                quantity=self.quantity(product), unit_price=price,
                discount_percent=Decimal(rng.choice((0, 0, 0, 0, 0, 2.5, 5, 5, 10, 15)))
                .quantize(Decimal("0.01")), tax_rate_id=tax_id, tax_percent=tax))
        return lines

    def _plan_deals(self) -> None:
        """Deals over the five years: most won (by accepting quotes), some lost, the
        recent ones still open on the board. The won ones get the orders, one or more
        each, accepted within a year of the first."""
        rng, n = self.rng, self.n["deals"]
        won, lost = round(n * 0.55), round(n * 0.15)
        outcomes = ["won"] * won + ["lost"] * lost + ["open"] * (n - won - lost)
        latest = self.today - timedelta(days=45)
        plans = []
        for outcome in outcomes:
            if outcome == "open":
                created = self.day_between(self.today - timedelta(days=120),
                                           self.today - timedelta(days=1))
            else:
                created = self.day_between(self.first, latest)
            plans.append((created, outcome))
        plans.sort(key=lambda plan: plan[0])
        self.deals = []
        for created, outcome in plans:
            if outcome == "won" or rng.random() < 0.4:
                customer = self.pick(self.buyers, self.buyer_days, created)
            else:
                customer = self.pick(self.others, self.other_days, created)
            category = rng.choice(STOCKED + SERVICES)[1]
            campaign_id, source = ((None, "Existing customer") if rng.random() < 0.3
                                   else rng.choice(self.setup.campaigns))
            deal = _Obj(id=self.writer.new_id(Deal), customer_id=customer.id,
                        title=f"{category} {rng.choice(PLACES_FOR)}",
                        owner_id=customer.owner_id or rng.choice(self.reps),
                        currency=customer.currency, campaign_id=campaign_id,
                        source=source, created_at=_when(created, 1800))
            deal.created, deal.outcome, deal.customer = created, outcome, customer
            deal.accepts, deal.quotes = [], []
            deal.lost_on = min(self.today, created + timedelta(days=rng.randint(25, 60)))
            customer.deals.append(deal)
            self.deals.append(deal)
        won_deals = [deal for deal in self.deals if deal.outcome == "won"]
        orders = self.n["orders"]
        if orders < len(won_deals):
            counts = [0] * len(won_deals)
            for index in rng.sample(range(len(won_deals)), orders):
                counts[index] = 1
        else:
            counts = [1] * len(won_deals)
            for _ in range(orders - len(won_deals)):
                counts[rng.randrange(len(won_deals))] += 1
        for deal, orders_of_deal in zip(won_deals, counts, strict=True):
            first = min(deal.created + timedelta(days=rng.randint(7, 40)), self.today)
            deal.won_on = first
            limit = min(self.today, first + timedelta(days=330))
            accepts = [first] if orders_of_deal else []
            for _ in range(orders_of_deal - 1):
                following = accepts[-1] + timedelta(days=rng.randint(7, 75))
                accepts.append(following if following <= limit
                               else self.day_between(accepts[-1], limit))
            deal.accepts = accepts

    def _plan_quotes(self) -> None:
        """Quotes, with their lines: the accepted one of each order (written while the
        deal was open, valid until it was accepted; some revised once first), quotes
        on the open and lost deals, and quotes on won deals that were never accepted,
        until the count is reached. Then numbers (Q-YYYY-NNNN, in order of issue) and
        ids; and for each accepted quote, when it ships (some in two parts) and when
        each shipment is invoiced."""
        rng = self.rng
        quotes, extras = [], []
        for deal in self.deals:
            if deal.outcome == "won":
                for index, accept in enumerate(deal.accepts):
                    if index == 0:
                        issued = max(deal.created, accept - timedelta(days=rng.randint(1, 20)))
                    else:
                        issued = self.day_between(max(deal.created,
                                                      accept - timedelta(days=360)),
                                                  deal.won_on)
                    valid = min(max(issued + timedelta(days=30),
                                    accept + timedelta(days=rng.randint(0, 14))),
                                issued + timedelta(days=366))
                    quote = self._quote(deal, issued, valid, "accepted")
                    quote.accept_on = accept
                    quotes.append(quote)
                    earlier = issued - timedelta(days=rng.randint(3, 12))
                    if rng.random() < 0.08 and earlier >= deal.created:
                        quotes.append(self._revised(quote, earlier))
                extras.append(("won", deal))
            elif deal.outcome == "lost":
                extras.append(("lost", deal))
            else:
                extras.append(("open", deal))
        rng.shuffle(extras)
        wanted = self.n["quotes"] - len(quotes)
        for kind, deal in extras * 3:
            if wanted <= 0:
                break
            made = self._extra_quote(kind, deal)
            quotes += made
            wanted -= len(made)
        while wanted < 0:       # a tiny scale: revisions went over the count
            revised = next(q for q in quotes if q.status == "superseded")
            revised.superseded.revises, revised.superseded.revision = None, 1
            quotes.remove(revised)
            wanted += 1
        quotes.sort(key=lambda q: (q.issued_on, q.revision))
        numbers: dict[int, int] = defaultdict(int)
        for quote in quotes:
            quote.id = self.writer.new_id(Quote)
            if quote.revises is None:
                numbers[quote.issued_on.year] += 1
                quote.number = f"Q-{quote.issued_on.year}-{numbers[quote.issued_on.year]:04d}"
        for quote in quotes:
            if quote.revises is not None:
                quote.number, quote.revises_id = quote.revises.number, quote.revises.id
            for line in quote.lines:
                line.id, line.quote_id = self.writer.new_id(QuoteLine), quote.id
        self.quote_numbers = dict(numbers)
        self.quotes = quotes
        self.accepted = sorted((q for q in quotes if q.status == "accepted"),
                               key=lambda q: (q.accept_on, q.id))
        self.order_invoices = 0
        for quote in self.accepted:
            quote.shipping = self._shipping(quote)
            self.order_invoices += sum(1 for _, _, invoiced in quote.shipping
                                       if invoiced <= self.today)
            for line in quote.lines:
                if line.product is not None and line.product.is_stocked:
                    line.product.demand += line.quantity
                    line.product.largest = max(line.product.largest, line.quantity)
        for deal in self.deals:
            taken = [q for q in deal.quotes if q.status == "accepted"]
            last = max(taken, key=lambda q: (q.accept_on, q.id), default=None)
            deal.amount = (last.net if last is not None else
                           max((q.net for q in deal.quotes), default=None)
                           or Decimal(rng.randint(500, 50000)))

    def _quote(self, deal, issued: date, valid: date, status: str):
        """create_quote and add_quote_line (and mark_sent unless a draft): to the primary
        contact, in the customer's currency, with one to six lines."""
        rng = self.rng
        customer = deal.customer
        quote = _Document(
            revision=1, deal_id=deal.id, customer_id=customer.id,
            contact_id=customer.contact_ids[0] if customer.contact_ids else None,
            status=status, currency=customer.currency, issued_on=issued, valid_until=valid,
            terms=self.setup.quote_terms, created_at=_when(issued, 5400),
            created_by_id=deal.owner_id, customer_po="", revises_id=None,
            superseded_by_id=None,
            sent_at=None if status == "draft" else _when(issued, 7200))
        quote.goods, quote.deal, quote.customer = True, deal, customer
        quote.revises = quote.superseded = quote.accept_on = None
        quote.lines = self.priced_lines(quote, issued, rng.choice((1, 2, 3, 3, 3, 4, 4, 5, 5, 6)))
        if status == "accepted":
            quote.customer_po = f"PO-{rng.randint(1000, 99999)}"
            quote.accepted_at = None          # set when it is accepted
        deal.quotes.append(quote)
        return quote

    def _revised(self, quote, earlier: date):
        """The first version of `quote`, superseded by it (revise_quote): the same lines,
        a smaller discount."""
        first = _Document(**{key: value for key, value in quote.__dict__.items()
                             if key != "lines"})
        first.status, first.issued_on = "superseded", earlier
        first.valid_until = earlier + timedelta(days=30)
        first.created_at, first.sent_at = _when(earlier, 5400), _when(earlier, 7200)
        first.customer_po = ""
        first.lines = [_Line(**{**line.__dict__, "document": first,
                                "discount_percent": max(line.discount_percent - 5, ZERO)})
                       for line in quote.lines]
        first.superseded = quote
        quote.revision, quote.revises = 2, first
        quote.deal.quotes.append(first)
        return first

    def _extra_quote(self, kind: str, deal) -> list:
        """Quotes that did not make an order: sent (and perhaps expired) on the open
        deals past the first stage, drafts on some, declined on some lost deals, and
        sent but never accepted on won deals."""
        rng = self.rng
        if kind == "won":
            issued = self.day_between(deal.created, deal.won_on)
            return [self._quote(deal, issued, issued + timedelta(days=30), "sent")]
        if kind == "lost":
            issued = self.day_between(deal.created, deal.lost_on - timedelta(days=3))
            quote = self._quote(deal, issued, issued + timedelta(days=30), "declined")
            quote.declined_at = _when(self.day_between(issued, deal.lost_on), 3600)
            quote.decline_reason = rng.choice(LOST_REASONS)
            return [quote]
        issued = self.day_between(deal.created, self.today)
        status = "draft" if rng.random() < 0.3 else "sent"
        return [self._quote(deal, issued, issued + timedelta(days=30), status)]

    def _shipping(self, quote) -> list[tuple[date, dict, date]]:
        """[(day shipped, {line position: quantity}, day invoiced)] for an accepted quote's
        order: days after acceptance, in two parts for some orders; what falls after
        today has not happened yet."""
        rng = self.rng
        first = quote.accept_on + timedelta(days=rng.randint(1, 6))
        everything = {line.position: line.quantity for line in quote.lines}
        parts = [everything]
        if rng.random() < 0.12:
            one, two = {}, {}
            for line in quote.lines:
                if line.quantity >= 2:
                    half = (line.quantity / 2).quantize(
                        Decimal(1) if line.product is None or line.product.whole
                        or line.product.unit in ("h", "day") else Decimal("0.1"), ROUND_DOWN)
                    one[line.position], two[line.position] = half, line.quantity - half
                else:
                    (one if rng.random() < 0.5 else two)[line.position] = line.quantity
            if one and two:
                parts = [one, two]
        found, day = [], first
        for part in parts:
            if day > self.today:
                break
            invoiced = day if rng.random() < 0.9 else day + timedelta(days=rng.randint(1, 3))
            found.append((day, part, invoiced))
            day = day + timedelta(days=rng.randint(4, 25))
        return found

    def _plan_stock_levels(self) -> None:
        """Reorder point and quantity from each product's demand over the years, as a
        buyer would set them: a quarter's demand on hand, and never less than the
        largest order seen; half a year's bought at a time, at least twice that order.
        (Tighter, and the slow sellers would be bought in a rush for most orders.)"""
        for product in self.goods:
            yearly = product.demand / YEARS
            largest = product.largest.to_integral_value(rounding=ROUND_CEILING)
            product.reorder_point = max(
                Decimal(1), largest, (yearly / 4).to_integral_value(rounding=ROUND_CEILING))
            product.reorder_qty = max(
                Decimal(2), 2 * largest, (yearly / 2).to_integral_value(rounding=ROUND_CEILING))

    def _plan_hand_invoices(self) -> None:
        """The invoices written by hand (services, described lines), as many as the count
        still needs after the orders' invoices, on working days for the buying
        customers there by then."""
        wanted = max(self.n["invoices"] - self.order_invoices, 0)
        self.hand_invoices = defaultdict(list)
        for _ in range(wanted):
            day = self.day_between(self.first + timedelta(days=7), self.today)
            if day.weekday() > 4:
                day -= timedelta(days=day.weekday() - 4)
            self.hand_invoices[day].append(self.pick(self.buyers, self.buyer_days, day))

    # writing the master data and the pipeline

    def write_customers(self, bar) -> int:
        """Customers with both facets (create_customer) and their contacts."""
        for customer in self.customers:
            self.writer.add(Customer, customer)
            self.writer.add(Relationship, {
                "customer_id": customer.id, "owner_id": customer.owner_id,
                "lifecycle": customer.lifecycle,
                "source": "Trade fair" if customer.lifecycle != "lead" else "Website",
                "tags": "", "rating": self.rng.choice((None, None, 3, 4, 5)), "notes": ""})
            self.writer.add(FinancialAccount, {
                "customer_id": customer.id, "account_code": f"C{customer.id:05d}",
                "billing_address": "", "tax_id": customer.tax_id,
                "currency": customer.currency, "payment_terms_days": customer.terms,
                "credit_limit": customer.credit_limit, "on_hold": customer.on_hold,
                "hold_reason": "Invoices over 90 days" if customer.on_hold else ""})
        self.writer.extend(Contact, self.contacts)
        return self.writer.flush(bar)

    def write_suppliers(self, bar) -> int:
        for supplier in self.suppliers + self.overheads:
            self.writer.add(Supplier, supplier)
            first, last = self.rng.choice(FIRST_NAMES), self.rng.choice(LAST_NAMES)
            self.writer.add(SupplierContact, {
                "id": self.writer.new_id(SupplierContact), "supplier_id": supplier.id,
                "name": f"{first} {last}", "role": "Account manager", "email": supplier.email,
                "phone": None})
        return self.writer.flush(bar)

    def _plan_stage_paths(self) -> None:
        """Every move the deals made (create_deal, move_deal, accept_quote): created in
        the first stage, through the open stages, to won on the first acceptance or to
        lost with a reason; and where each stands today. Entering a stage with
        follow-up days gave the owner a task (kept for the activities)."""
        rng, setup = self.rng, self.setup
        self.stage_changes, self.follow_ups = [], []
        for deal in self.deals:
            path = [(setup.open_stages[0], deal.created)]
            if deal.outcome == "won":
                end, steps = deal.won_on, rng.randint(1, len(setup.open_stages) - 1 or 1)
            elif deal.outcome == "lost":
                end, steps = deal.lost_on, rng.randint(0, len(setup.open_stages) - 1)
            else:
                end, steps = self.today, rng.randint(0, len(setup.open_stages) - 1)
            day = deal.created
            for stage in setup.open_stages[1:1 + steps]:
                day = self.day_between(day, end)
                path.append((stage, day))
            if deal.outcome != "open":
                path.append((setup.won if deal.outcome == "won" else setup.lost, end))
            previous = None
            for index, (stage, day) in enumerate(path):
                at = _when(day, 36000 + index * 60)
                self.stage_changes.append({
                    "id": self.writer.new_id(StageChange), "deal_id": deal.id,
                    "from_stage_id": previous, "to_stage_id": stage.id, "at": at,
                    "by_id": deal.owner_id})
                previous = stage.id
                if stage.followup_days is not None:
                    self.follow_ups.append((deal, stage, at))
            stage, day = path[-1]
            deal.stage_id = stage.id
            deal.stage_entered_at = _when(day, 36000 + 60 * (len(path) - 1))
            deal.expected_close = (end if deal.outcome != "open"
                                   else self.today + timedelta(days=rng.randint(5, 90)))
            deal.won_at = deal.stage_entered_at if deal.outcome == "won" else None
            deal.lost_at = deal.stage_entered_at if deal.outcome == "lost" else None
            deal.lost_reason = rng.choice(LOST_REASONS) if deal.outcome == "lost" else ""

    def write_pipeline(self, bar) -> int:
        """The deals as they stand today and their stage history."""
        self.writer.extend(Deal, self.deals)
        self.writer.extend(StageChange, self.stage_changes)
        return self.writer.flush(bar)

    def write_activities(self, bar) -> int:
        """The follow-up tasks the stage moves made (done once their day passed), and
        calls, emails, meetings, notes and tasks on customers up to the count: what is
        done in the past, tasks open (some overdue) and meetings ahead near today."""
        rng = self.rng
        now = _when(self.today, 0)
        total = self.n["activities"]
        made = 0
        for deal, stage, at in self.follow_ups[:total]:
            due = at + timedelta(days=stage.followup_days)
            done = due < now - timedelta(days=1)
            self.writer.add(Activity, {
                "id": self.writer.new_id(Activity), "kind": "task",
                "subject": f"Follow up: {deal.title}"[:200], "body": f"Entered {stage.name}.",
                "due_at": due, "assignee_id": deal.owner_id, "done": done,
                "done_at": due - timedelta(hours=rng.randint(1, 30)) if done else None,
                "customer_id": deal.customer_id, "deal_id": deal.id, "contact_id": None,
                "created_by_id": None, "created_at": at})
            made += 1
        kinds = ["call"] * 35 + ["email"] * 30 + ["meeting"] * 10 + ["note"] * 10 + ["task"] * 15
        subjects = {"call": "Call about {}", "email": "Sent details on {}",
                    "meeting": "Visit: {}", "note": "Note on {}", "task": "Prepare offer: {}"}
        while made < total:
            customer = self.rng.choice(self.customers)
            kind = rng.choice(kinds)
            deal = rng.choice(customer.deals) if customer.deals and rng.random() < 0.5 else None
            start = max(customer.created, self.first)
            created = _when(self.day_between(start, self.today), rng.randint(0, 32000))
            topic = deal.title if deal is not None else customer.name
            owner = (deal.owner_id if deal is not None else customer.owner_id) \
                or rng.choice(self.reps)
            due = done_at = None
            done = kind not in ("task", "meeting")
            if kind in ("task", "meeting"):
                due = created + timedelta(days=rng.randint(1, 14))
                done = due < now and rng.random() < 0.85
            if done:
                done_at = due or created
            self.writer.add(Activity, {
                "id": self.writer.new_id(Activity), "kind": kind,
                "subject": subjects[kind].format(topic)[:200], "body": "",
                "due_at": due, "assignee_id": owner, "done": done, "done_at": done_at,
                "customer_id": customer.id, "deal_id": deal.id if deal else None,
                "contact_id": (customer.contact_ids[0] if customer.contact_ids
                               and rng.random() < 0.5 else None),
                "created_by_id": owner, "created_at": created})
            made += 1
            if made % BATCH == 0:
                self.writer.flush(bar)
        self.writer.flush(bar)
        return made


# --- The books: every document, day by day, posted as the app posts it ---------------------

class _Numbers:
    """Document counters per prefix and year (models.sequences.next_number), continued
    from what the database holds."""

    def __init__(self):
        self.last = {(prefix, year): last for prefix, year, last in db.session.execute(
            select(DocumentCounter.prefix, DocumentCounter.year, DocumentCounter.last))}

    def next(self, prefix: str, year: int) -> str:
        found = self.last.get((prefix, year), 0) + 1
        self.last[(prefix, year)] = found
        return f"{prefix}-{year}-{found:04d}"

    def save(self) -> None:
        table = DocumentCounter.__table__
        for (prefix, year), last in sorted(self.last.items()):
            db.session.execute(insert_ignore(DocumentCounter, prefix=prefix, year=year,
                                             last=0))
            db.session.execute(update(table).where(table.c.prefix == prefix,
                                                   table.c.year == year).values(last=last))


class _Chain:
    """One hash chain's head (models.ledger.advance_chain / close_link)."""

    def __init__(self, kind: str):
        head = db.session.get(ChainHead, kind)
        self.kind = kind
        self.seq, self.last = (head.seq, head.last_hash) if head else (0, GENESIS)

    def link(self) -> tuple[int, str]:
        self.seq += 1
        return self.seq, self.last

    def save(self) -> None:
        db.session.execute(insert_ignore(ChainHead, kind=self.kind, seq=0, last_hash=GENESIS))
        table = ChainHead.__table__
        db.session.execute(update(table).where(table.c.kind == self.kind)
                           .values(seq=self.seq, last_hash=self.last))


def _debit(account: int, amount: Decimal, memo: str = "", customer=None, supplier=None):
    return (account, amount, memo, customer, supplier)


def _credit(account: int, amount: Decimal, memo: str = "", customer=None, supplier=None):
    return (account, -amount, memo, customer, supplier)


class _Books:
    """The documents of five years, built in the order the app would have made them,
    with the state each rule keeps (stock per product, what is open on each document),
    and the journal written as it goes."""

    def __init__(self, world: _World):
        self.world, self.rng, self.writer = world, world.rng, world.writer
        self.setup, self.today = world.setup, world.today
        self.role = world.setup.accounts
        self.places = currency_places(world.base)
        self.numbers = _Numbers()
        self.chains = {kind: _Chain(kind) for kind in ("journal", "invoice", "credit_note")}
        self.finance = world.setup.users["finance"]
        self.ops = world.setup.users["operations"]
        self.ticks = count()
        # what happens on a later day
        self.acceptances = defaultdict(list)
        for quote in world.accepted:
            self.acceptances[quote.accept_on].append(quote)
        self.receipts_due = defaultdict(list)
        self.shipments_due = defaultdict(list)
        self.invoices_due = defaultdict(list)
        self.credits_due = defaultdict(list)
        self.payments_due = defaultdict(lambda: defaultdict(list))
        self.bills_due = defaultdict(list)
        self.bill_payments_due = defaultdict(list)
        # the documents, written once the days are done (their settlement moves till then)
        self.orders, self.moves, self.shipments, self.purchases = [], [], [], []
        self.receipts, self.bills, self.invoices, self.payments = [], [], [], []
        self.allocations = []

    def to_base(self, amount: Decimal, rate: Decimal) -> Decimal:
        """models.ledger.to_base, with the base currency's places read once."""
        return round_money(amount * rate, self.places)

    def at(self, day: date) -> datetime:
        """The next moment on `day`: a few seconds after the last thing done."""
        return _when(day, 5 * next(self.ticks) % 36000)

    def run(self, bar) -> None:
        day = self.world.first
        self._opening(day)
        while day <= self.today:
            self._day(day)
            if self.writer.size() >= FLUSH_ROWS:
                self.writer.flush()
            bar.update(1)
            day += timedelta(days=1)
        self.writer.flush()

    def _day(self, day: date) -> None:
        """One day's work, in an order the app allows: goods in, orders, shipments,
        invoices, credit notes, money in, bills, money out, the month's overheads."""
        self.ticks = count()
        if day.weekday() == 0:
            self._reorder(day)
        for order in self.receipts_due.pop(day, ()):
            self._receive(order, day)
        for quote in self.acceptances.pop(day, ()):
            self._accept(quote, day)
        for order, quantities, invoiced in self.shipments_due.pop(day, ()):
            self._ship(order, quantities, invoiced, day)
        for order, shipment in self.invoices_due.pop(day, ()):
            self._invoice_shipment(order, shipment, day)
        for customer in self.world.hand_invoices.pop(day, ()):
            self._hand_invoice(customer, day)
        for invoice, write_off in self.credits_due.pop(day, ()):
            self._credit(invoice, day, write_off)
        due = self.payments_due.pop(day, {})
        for customer_id in sorted(due):
            self._customer_payment(due[customer_id], day)
        for order in self.bills_due.pop(day, ()):
            self._bill(order, day)
        for bill in self.bill_payments_due.pop(day, ()):
            self._pay_bill(bill, day)
        if (day + timedelta(days=1)).day == 1:
            self._month_end(day)

    def later(self, agenda, day: date, item) -> None:
        """Put `item` on `agenda` for `day`, unless that is after today (not yet)."""
        if day <= self.today:
            agenda[day].append(item)

    # the journal

    def post(self, day: date, postings, *, memo: str, source_type: str = "manual",
             source_id: int | None = None, reference: str = "", by: int | None = None) -> int:
        """models.ledger.post_entry: zero lines dropped, refused unless it balances,
        numbered JE-YYYY-NNNN, chained, lines kept in their order; returns its id."""
        lines = [posting for posting in postings if posting[1] != 0]
        debits = sum((p[1] for p in lines if p[1] > 0), ZERO)
        credits = -sum((p[1] for p in lines if p[1] < 0), ZERO)
        if not lines or debits != credits:
            raise RuntimeError(f"seed-volume built an entry that does not balance: {memo}")
        chain = self.chains["journal"]
        seq, prev = chain.link()
        entry = _Obj(id=self.writer.new_id(JournalEntry),
                     number=self.numbers.next("JE", day.year), entry_date=day,
                     memo=memo[:200], source_type=source_type, source_id=source_id,
                     reference=reference[:40], reverses_id=None, posted_at=self.at(day),
                     posted_by_id=by, chain_seq=seq, prev_hash=prev)
        entry.lines = [_Obj(id=self.writer.new_id(JournalLine), entry_id=entry.id,
                            account_id=account, debit=amount if amount > 0 else ZERO,
                            credit=-amount if amount < 0 else ZERO, customer_id=customer,
                            supplier_id=supplier, memo=line_memo[:200], entry_date=day)
                       for account, amount, line_memo, customer, supplier in lines]
        entry.hash = chain_hash(prev, JournalEntry.content(entry))
        chain.last = entry.hash
        self.writer.add(JournalEntry, entry)
        self.writer.extend(JournalLine, entry.lines)
        return entry.id

    # purchasing and stock

    def _opening(self, day: date) -> None:
        """The owner's capital paid in, and the opening stock: one order per supplier for
        everything it supplies, received the first day."""
        bank, capital = self.role["bank"], self.role["capital"]
        self.post(day, [_debit(bank, Decimal("250000.00"), "Opening balance"),
                        _credit(capital, Decimal("250000.00"), "Capital paid in")],
                  memo="Opening balances", by=self.rng.choice(self.finance))
        by_supplier = defaultdict(list)
        for product in self.world.goods:
            by_supplier[product.supplier.id].append(
                (product, product.reorder_point + product.reorder_qty))
        for supplier in self.world.suppliers:
            if by_supplier[supplier.id]:
                self._purchase(supplier, by_supplier[supplier.id], day, day, "Opening stock.")

    def _reorder(self, day: date) -> None:
        """The weekly reorder run (reorder_suggestions, draft_orders_from_reorder): what
        runs low, with what is already on order, is ordered from its preferred
        supplier; the goods arrive some days later."""
        by_supplier = defaultdict(list)
        for product in self.world.goods:
            level = product.on_hand - product.reserved + product.on_order
            if level < product.reorder_point:
                quantity = max(product.reorder_qty, product.reorder_point - level)
                by_supplier[product.supplier.id].append(
                    (product, quantity.to_integral_value(rounding=ROUND_CEILING)))
        for supplier in self.world.suppliers:
            if by_supplier[supplier.id]:
                arrives = day + timedelta(days=self.rng.randint(2, 10))
                self._purchase(supplier, by_supplier[supplier.id], day, arrives,
                               "From the reorder list.")

    def _purchase(self, supplier, wanted, day: date, arrives: date, notes: str):
        """create_purchase_order + add_line + send_order in the supplier's currency at the
        day's rate, at their usual price give or take a little; some with freight. The
        receipt is booked for `arrives`."""
        rng = self.rng
        rate = self.world.rate(supplier.currency, day)
        order = _Obj(id=self.writer.new_id(PurchaseOrder),
                     number=self.numbers.next("PO", day.year), supplier_id=supplier.id,
                     status="sent", currency=supplier.currency, exchange_rate=rate,
                     expected_on=arrives, location_id=self.setup.locations["stock"],
                     notes=notes, created_at=self.at(day),
                     created_by_id=rng.choice(self.ops), sent_at=self.at(day))
        order.supplier, order.bill, order.lines = supplier, None, []
        for product, quantity in wanted:
            cost = product.buy * Decimal(rng.uniform(0.95, 1.08)) / rate
            order.lines.append(_Obj(
                id=self.writer.new_id(PurchaseLine), order_id=order.id,
                position=len(order.lines) + 1, product_id=product.id, description="",
                quantity=quantity, received=QTY_ZERO, unit_cost=round_money(cost, 4),
                tax_rate_id=product.tax_rate_id, tax_percent=product.tax_percent,
                product=product))
            product.on_order += quantity
        if rng.random() < 0.2:
            tax_id, tax = self.setup.taxes["Standard 20%"]
            order.lines.append(_Obj(
                id=self.writer.new_id(PurchaseLine), order_id=order.id,
                position=len(order.lines) + 1, product_id=None,
                description="Freight and packing", quantity=Decimal("1.000"),
                received=QTY_ZERO, unit_cost=Decimal(rng.randint(2000, 18000)) / 100,
                tax_rate_id=tax_id, tax_percent=tax, product=None))
        self.purchases.append(order)
        if arrives == day:
            self._receive(order, day)
        else:
            self.later(self.receipts_due, arrives, order)
        return order

    def _receive(self, order, day: date) -> None:
        """receive (everything outstanding) and post_receipt: a done move per stocked line
        at the line's cost x the order's rate, the moving-average cost updated, the
        stocked value debited to inventory against GRNI. The bill follows."""
        stock, supplier_location = (self.setup.locations["stock"],
                                    self.setup.locations["supplier"])
        by = self.rng.choice(self.ops)
        receipt = _Obj(id=self.writer.new_id(Receipt), order_id=order.id, received_on=day,
                       location_id=stock, note="", created_at=self.at(day),
                       received_by_id=by)
        value = ZERO
        for line in order.lines:
            quantity = line.quantity - line.received
            move_id = None
            product = line.product
            if product is not None:
                unit_cost = (line.unit_cost * order.exchange_rate).quantize(
                    COST_PLACES, rounding=ROUND_HALF_UP)
                product.cost = moving_average(product.on_hand, product.cost, quantity,
                                              unit_cost)
                move = self._move(product, quantity, supplier_location, stock, "done",
                                  unit_cost, "receipt", receipt.id, order.number, day, by)
                move_id = move.id
                product.on_hand += quantity
                product.on_order -= quantity
                value += round_money(quantity * unit_cost)
            line.received += quantity
            self.receipts.append((ReceiptLine, _Obj(
                id=self.writer.new_id(ReceiptLine), receipt_id=receipt.id, line_id=line.id,
                quantity=quantity, move_id=move_id)))
        self.receipts.append((Receipt, receipt))
        order.status = "billed" if order.bill is not None else "received"
        if value > 0:
            supplier = order.supplier
            self.post(day, [
                _debit(self.role["inventory"], value, f"{order.number} receipt {receipt.id}"),
                _credit(self.role["grni"], value, f"{order.number} · {supplier.name}")],
                memo=f"Goods received on {order.number} · {supplier.name}",
                source_type="receipt", source_id=receipt.id, reference=order.number, by=by)
        self.later(self.bills_due, day + timedelta(days=self.rng.randint(0, 6)), order)

    def _move(self, product, quantity, source: int, target: int, state: str, unit_cost,
              source_type: str, source_id: int, reference: str, day: date, by: int):
        """A stock move (models.stock._new_move), done at once or reserved."""
        moment = self.at(day)
        move = _Obj(id=self.writer.new_id(StockMove), product_id=product.id,
                    quantity=quantity, from_location_id=source, to_location_id=target,
                    state=state, unit_cost=unit_cost, source_type=source_type,
                    source_id=source_id, reference=reference[:40], reason="",
                    created_at=moment, created_by_id=by,
                    done_at=moment if state == "done" else None)
        product.moved = True
        self.moves.append(move)
        return move

    def _bill(self, order, day: date) -> None:
        """record_bill and post_bill: the supplier bills what arrived at the order's
        prices (now and then a little more or less: a purchase price difference), at
        the order's rate; GRNI cleared at the order's cost, freight to purchased
        services, input tax, the payable. Paid around its due date, some late."""
        rng = self.rng
        supplier = order.supplier
        net = sum((round_money(line.received * line.unit_cost) for line in order.lines), ZERO)
        tax = sum((round_money(round_money(line.received * line.unit_cost)
                               * line.tax_percent / 100) for line in order.lines), ZERO)
        if rng.random() < 0.1:
            net = max(net + round_money(net * Decimal(rng.uniform(-0.02, 0.03))), ZERO)
        if net + tax <= 0:
            return
        supplier.bills += 1
        reference = f"{supplier.prefix}-{supplier.bills:05d}"
        rate = order.exchange_rate
        total = net + tax
        bill = _Bill(id=self.writer.new_id(VendorBill), supplier_id=supplier.id,
                    order_id=order.id, supplier_ref=reference, supplier_ref_key=reference.upper(),
                    bill_date=day, due_on=day + timedelta(days=supplier.payment_terms_days),
                    currency=order.currency, net=net, tax=tax, total=total, status="open",
                    notes="", exchange_rate=rate, total_base=self.to_base(total, rate),
                    open_amount=total, last_paid_on=None, account_id=None,
                    created_at=self.at(day), created_by_id=rng.choice(self.finance))
        bill.open_base = bill.total_base
        bill.supplier = supplier
        order.bill = bill
        if all(line.received >= line.quantity for line in order.lines):
            order.status = "billed"
        grni = services = ZERO
        for line in order.lines:
            quantity = max(line.quantity, line.received)
            if line.product is not None:
                unit = (line.unit_cost * rate).quantize(COST_PLACES, rounding=ROUND_HALF_UP)
                grni += round_money(quantity * unit)
            else:
                services += self.to_base(round_money(quantity * line.unit_cost), rate)
        payable, tax_base = bill.total_base, self.to_base(tax, rate)
        bill.entry_id = self.post(day, [
            _debit(self.role["grni"], grni, order.number),
            _debit(self.role["purchases"], services, order.number),
            _debit(self.role["price_diff"], payable - tax_base - grni - services,
                   f"Billed vs ordered cost, {order.number}"),
            _debit(self.role["tax_in"], tax_base, f"Input tax, bill {reference}"),
            _credit(self.role["payable"], payable, f"Bill {reference}", supplier=supplier.id)],
            memo=f"Bill {reference} · {supplier.name}", source_type="bill",
            source_id=bill.id, reference=reference, by=bill.created_by_id)
        self._settle_later(bill)

    def _settle_later(self, bill) -> None:
        self.bills.append(bill)
        roll = self.rng.random()
        if roll < 0.04:
            return                           # disputed: stays open
        shift = self.rng.randint(-8, 5) if roll < 0.85 else self.rng.randint(10, 60)
        self.later(self.bill_payments_due,
                   max(bill.due_on + timedelta(days=shift), bill.bill_date + timedelta(days=1)),
                   bill)

    def _month_end(self, day: date) -> None:
        """The month's overheads: rent and utilities billed (and marketing each quarter)
        by record_expense_bill, salaries and bank charges as manual entries."""
        rng = self.rng
        finance = rng.choice(self.finance)
        for supplier, (_, code, net, percent, every) in zip(self.world.overheads, OVERHEADS,
                                                           strict=True):
            if day.month % every:
                continue
            reference = f"{supplier.prefix}-{day:%Y%m}"
            tax = round_money(net * percent / 100)
            total = net + tax
            bill = _Bill(id=self.writer.new_id(VendorBill), supplier_id=supplier.id,
                        order_id=None, supplier_ref=reference,
                        supplier_ref_key=reference.upper(), bill_date=day,
                        due_on=day + timedelta(days=supplier.payment_terms_days),
                        currency=supplier.currency, net=net, tax=tax, total=total,
                        status="open", notes="", exchange_rate=ONE_RATE, total_base=total,
                        open_amount=total, open_base=total, last_paid_on=None,
                        account_id=self.setup.codes[code], created_at=self.at(day),
                        created_by_id=finance)
            bill.supplier = supplier
            memo = f"Bill {reference} · {supplier.name}"
            bill.entry_id = self.post(day, [
                _debit(bill.account_id, total - tax, memo),
                _debit(self.role["tax_in"], tax, f"Input tax, bill {reference}"),
                _credit(self.role["payable"], total, f"Bill {reference}",
                        supplier=supplier.id)],
                memo=memo, source_type="bill", source_id=bill.id, reference=reference,
                by=finance)
            self._settle_later(bill)
        bank = self.role["bank"]
        payroll = Decimal(rng.randint(3_800_000, 4_600_000)) / 100
        self.post(day, [_debit(self.setup.codes["6100"], payroll, "Payroll"),
                        _credit(bank, payroll, "Payroll run")],
                  memo=f"Salaries for {day:%B %Y}", by=finance)
        charges = Decimal(rng.randint(4_000, 16_000)) / 100
        self.post(day, [_debit(self.setup.codes["6400"], charges, "Account fees"),
                        _credit(bank, charges, "Bank statement")],
                  memo=f"Bank charges {day:%B %Y}", by=finance)

    def _pay_bill(self, bill, day: date) -> None:
        """record_supplier_payment of what is open on the bill, at the day's rate,
        allocated to it (an exchange difference when the rate moved)."""
        if bill.open_amount <= 0:
            return
        supplier = bill.supplier
        rate = self.world.rate(bill.currency, day)
        payment = self._payment("out", supplier.id, None, bill.open_amount, bill.currency,
                                rate, day, f"SEPA {self.rng.randint(10000, 99999)}")
        bank_memo = f"{payment.number} {payment.reference}".strip()
        payment.entry_id = self.post(day, [
            _debit(self.role["payable"], payment.amount_base, payment.number,
                   supplier=supplier.id),
            _credit(payment.account_id, payment.amount_base, bank_memo)],
            memo=f"{payment.number} · {supplier.name}", source_type="supplier_payment",
            source_id=payment.id, reference=payment.number, by=payment.created_by_id)
        self._allocate(payment, bill, payment.amount, day)

    # selling

    def _accept(self, quote, day: date) -> None:
        """accept_quote: the sales order with the quote's lines, stock reserved for each
        stocked line (what is short first bought in a rush, received the same day: no
        backorders), the deal won (planned with the deal). Its shipments are booked."""
        short = defaultdict(list)
        needed = defaultdict(lambda: QTY_ZERO)
        for line in quote.lines:
            if line.product is not None and line.product.is_stocked:
                needed[line.product.id] += line.quantity
        for line in quote.lines:
            product = line.product
            if product is None or not product.is_stocked or product.id not in needed:
                continue
            missing = needed.pop(product.id) - (product.on_hand - product.reserved)
            if missing > 0:
                short[product.supplier.id].append(
                    (product, (missing + product.reorder_qty).to_integral_value(
                        rounding=ROUND_CEILING)))
        customer = quote.customer
        number = self.numbers.next("SO", day.year)
        for supplier in self.world.suppliers:
            if short[supplier.id]:
                self._purchase(supplier, short[supplier.id], day, day, f"Rush order for {number}.")
        by = quote.deal.owner_id
        order = _Document(id=self.writer.new_id(SalesOrder), number=number,
                          quote_id=quote.id, deal_id=quote.deal_id, customer_id=customer.id,
                          status="confirmed", currency=quote.currency,
                          customer_po=quote.customer_po, ordered_on=day,
                          ship_to="\n".join(customer.address_lines),
                          created_at=self.at(day), created_by_id=by, customer=customer)
        quote.accepted_at = order.created_at
        order.lines = []
        for line in quote.lines:
            sales_line = _Line(
                id=self.writer.new_id(SalesLine), document=order, order_id=order.id,
                position=line.position, quote_line_id=line.id, product=line.product,
                product_id=line.product_id, description=line.description,
                quantity=line.quantity, unit_price=line.unit_price,
                discount_percent=line.discount_percent, tax_rate_id=line.tax_rate_id,
                tax_percent=line.tax_percent, shipped=QTY_ZERO, invoiced=QTY_ZERO)
            sales_line.reserved_move = None
            if sales_line.is_stocked:
                product = line.product
                sales_line.reserved_move = self._move(
                    product, line.quantity, self.setup.locations["stock"],
                    self.setup.locations["customer"], "reserved", product.cost,
                    "sales_line", sales_line.id, number, day, by)
                product.reserved += line.quantity
            order.lines.append(sales_line)
        self.orders.append(order)
        for shipped, quantities, invoiced in quote.shipping:
            self.later(self.shipments_due, shipped, (order, quantities, invoiced))

    def _ship(self, order, quantities: dict, invoiced: date, day: date) -> None:
        """ship and post_shipment: each stocked line's reservation becomes a done move to
        the customer at the current cost (split when part of it ships), the line's cost
        rounded, the order partial or shipped, cost of goods sold against inventory.
        The shipment's invoice is booked."""
        rng = self.rng
        by = rng.choice(self.ops)
        shipment = _Obj(id=self.writer.new_id(Shipment),
                        number=self.numbers.next("SH", day.year), order_id=order.id,
                        shipped_on=day, carrier=rng.choice(CARRIERS),
                        tracking=f"{rng.randint(10**11, 10**12 - 1)}", note="",
                        created_at=self.at(day), created_by_id=by)
        shipment.lines = []
        for line in order.lines:
            quantity = quantities.get(line.position)
            if not quantity:
                continue
            cost = ZERO
            if line.is_stocked:
                product, move = line.product, line.reserved_move
                if quantity < move.quantity:
                    line.reserved_move = self._move(
                        product, move.quantity - quantity, move.from_location_id,
                        move.to_location_id, "reserved", move.unit_cost, move.source_type,
                        move.source_id, move.reference, day, by)
                    move.quantity = quantity
                else:
                    line.reserved_move = None
                move.unit_cost, move.reference = product.cost, shipment.number
                move.state, move.done_at = "done", self.at(day)
                product.reserved -= quantity
                product.on_hand -= quantity
                cost = quantity * move.unit_cost
            shipment.lines.append(_Obj(id=self.writer.new_id(ShipmentLine),
                                       shipment_id=shipment.id, line_id=line.id,
                                       quantity=quantity, cost=round_money(cost)))
            line.shipped += quantity
        order.status = ("shipped" if all(line.shipped >= line.quantity for line in order.lines)
                        else "partial")
        self.shipments.append(shipment)
        cost = sum((line.cost for line in shipment.lines), ZERO)
        if cost > 0:
            self.post(day, [
                _debit(self.role["cogs"], cost, f"{shipment.number} · {order.number}"),
                _credit(self.role["inventory"], cost, shipment.number)],
                memo=f"{shipment.number} · cost of goods shipped for {order.number}",
                source_type="shipment", source_id=shipment.id, reference=shipment.number,
                by=by)
        self.later(self.invoices_due, invoiced, (order, shipment))

    def _invoice(self, kind: str, customer, day: date, **fields):
        """A draft invoice or credit note in the customer's currency and terms
        (create_invoice, invoice_order, credit_invoice); `fields` say the rest."""
        draft = {"id": self.writer.new_id(Invoice), "kind": kind, "status": "draft",
                 "customer_id": customer.id, "order_id": None, "shipment_id": None,
                 "deal_id": None, "invoice_id": None, "credit_request_id": None,
                 "currency": customer.currency, "payment_terms_days": customer.terms,
                 "customer_po": "", "notes": "", "reason": "", "credited_amount": ZERO,
                 "last_paid_on": None, "created_at": self.at(day),
                 "created_by_id": self.rng.choice(self.finance), "customer": customer,
                 "goods": False, "lines": []}
        return _Document(**{**draft, **fields})

    def _invoice_shipment(self, order, shipment, day: date) -> None:
        """invoice_order(shipment=...) and post_invoice: what the shipment carried and is
        not invoiced yet, at the order's prices."""
        invoice = self._invoice("invoice", order.customer, day, order_id=order.id,
                                shipment_id=shipment.id, deal_id=order.deal_id,
                                customer_po=order.customer_po)
        carried = {line.line_id: line.quantity for line in shipment.lines}
        for line in order.lines:
            quantity = min(carried.get(line.id, QTY_ZERO), line.shipped - line.invoiced)
            if quantity <= 0:
                continue
            invoice.lines.append(self._invoice_line(invoice, line, quantity,
                                                    sales_line_id=line.id))
            line.invoiced += quantity
        self._post_invoice(invoice, day, order=order)

    def _invoice_line(self, invoice, source, quantity: Decimal, **links):
        """An invoice or credit note line copied from an order line or invoice line; goods
        to sales of goods, the rest to service income (income_account)."""
        account = (self.role["sales"] if source.product is not None
                   and source.product.is_stocked else self.role["services"])
        return _Line(id=self.writer.new_id(InvoiceLine), document=invoice,
                     invoice_id=invoice.id, position=len(invoice.lines) + 1,
                     product=source.product, product_id=source.product_id,
                     description=source.description, quantity=quantity,
                     unit_price=source.unit_price, discount_percent=source.discount_percent,
                     tax_rate_id=source.tax_rate_id, tax_percent=source.tax_percent,
                     account_id=getattr(source, "account_id", account), credited=QTY_ZERO,
                     sales_line_id=links.get("sales_line_id"),
                     source_line_id=links.get("source_line_id"))

    def _hand_invoice(self, customer, day: date) -> None:
        """create_invoice, add_invoice_line and post_invoice: services and described
        lines, billed by hand."""
        invoice = self._invoice("invoice", customer, day)
        for line in self.world.priced_lines(invoice, day,
                                            self.rng.choice((1, 2, 3, 3, 4, 4, 5, 6))):
            invoice.lines.append(self._invoice_line(invoice, line, line.quantity))
        self._post_invoice(invoice, day)

    def _post_invoice(self, invoice, day: date, order=None) -> None:
        """post_invoice: the number, the billing snapshot, the due date, the entry
        (receivable against income per line and output tax per rate, in the base
        currency), the kind's hash chain; then the order's status, or the credit
        note's settlement. An invoice's fate (paid on time, late, in two parts, never;
        sometimes credited) is booked."""
        customer = invoice.customer
        credit_note = invoice.kind == "credit_note"
        rate = (invoice.exchange_rate if credit_note
                else self.world.rate(invoice.currency, day))
        number = self.numbers.next("CN" if credit_note else "INV", day.year)
        sign = -1 if credit_note else 1
        postings, receivable = [], ZERO
        for line in invoice.lines:
            amount = self.to_base(line.net, rate)
            receivable += amount
            postings.append(_credit(line.account_id, sign * amount, line.label[:200]))
        for label, _net, tax in invoice.tax_breakdown:
            amount = self.to_base(tax, rate)
            receivable += amount
            postings.append(_credit(self.role["tax_out"], sign * amount, f"Tax {label}"))
        postings.insert(0, _debit(self.role["receivable"], sign * receivable, number,
                                  customer=customer.id))
        by = invoice.created_by_id
        entry_id = self.post(day, postings, memo=f"{number} · {customer.name}",
                             source_type=invoice.kind, source_id=invoice.id,
                             reference=number, by=by)
        chain = self.chains[invoice.kind]
        seq, prev = chain.link()
        total = invoice.total
        moment = self.at(day)
        invoice.__dict__.update(
            number=number, exchange_rate=rate, issue_date=day,
            due_date=day + timedelta(days=invoice.payment_terms_days) if not credit_note
            else day,
            bill_to="\n".join([customer.name] + customer.address_lines),
            customer_tax_id=customer.tax_id, net_amount=invoice.net,
            tax_amount=invoice.tax, total_amount=total, total_base=receivable,
            entry_id=entry_id, posted_at=moment, posted_by_id=by, open_amount=total,
            open_base=receivable, chain_seq=seq, prev_hash=prev, status="posted",
            sent_at=moment + timedelta(minutes=5) if self.rng.random() < 0.7 else None)
        invoice.hash = chain_hash(prev, Invoice.content(invoice))
        chain.last = invoice.hash
        self.invoices.append(invoice)
        if credit_note:
            target = invoice.credited_invoice
            if target.open_amount > 0:
                self._allocate(invoice, target, min(invoice.open_amount, target.open_amount),
                               day)
            return
        if order is not None and order.status == "shipped" and all(
                line.invoiced >= line.quantity for line in order.lines):
            order.status = "invoiced"
        self._fate(invoice, day)

    def _fate(self, invoice, day: date) -> None:
        """Most invoices are paid around their due date, some late, a few in two parts;
        a few are never paid and written off with a credit note after half a year (so
        what is overdue is mostly recent, as in a real ledger); some get a credit note
        for returned or damaged goods."""
        rng = self.rng
        due = invoice.due_date
        if rng.random() < 0.02:
            self.later(self.credits_due, day + timedelta(days=rng.randint(3, 45)),
                       (invoice, False))
        roll = rng.random()
        if roll < 0.05:
            self.later(self.credits_due, due + timedelta(days=rng.randint(150, 210)),
                       (invoice, True))
            return
        if roll < 0.07:                                      # in two parts
            first = day + timedelta(days=rng.randint(5, invoice.payment_terms_days + 10))
            self._pay_on(invoice, first, "half")
            self._pay_on(invoice, max(first, due) + timedelta(days=rng.randint(5, 40)), "rest")
            return
        late = roll < 0.22
        shift = rng.randint(20, 120) if late else rng.randint(-20, 8)
        self._pay_on(invoice, max(due + timedelta(days=shift), day + timedelta(days=1)), "rest")

    def _pay_on(self, invoice, day: date, part: str) -> None:
        """Book `part` ("half", or the "rest") of the invoice to be paid on `day`."""
        if day <= self.today:
            self.payments_due[day][invoice.customer_id].append((invoice, part))

    def _credit(self, invoice, day: date, write_off: bool) -> None:
        """credit_invoice and post_invoice: all of what is left on the invoice (a write-off,
        or a third of the other credit notes), else one unit of one line; refused, as
        the app refuses it, when it would credit more than is left."""
        rng = self.rng
        lines = [line for line in invoice.lines if line.quantity - line.credited > 0]
        if not lines or (write_off and invoice.open_amount <= 0):
            return
        reason = ("Written off: not collectable" if write_off else
                  rng.choice(("Goods returned", "Damaged in transit",
                              "Goodwill for a late delivery", "Billed twice by mistake")))
        if write_off or rng.random() < 0.33:
            wanted = {line.id: line.quantity - line.credited for line in lines}
        else:
            line = rng.choice(lines)
            wanted = {line.id: min(Decimal(1), line.quantity - line.credited)}
        note = self._invoice("credit_note", invoice.customer, day, order_id=invoice.order_id,
                             deal_id=invoice.deal_id, invoice_id=invoice.id,
                             exchange_rate=invoice.exchange_rate, payment_terms_days=0,
                             customer_po=invoice.customer_po, reason=reason)
        note.credited_invoice = invoice
        for line in invoice.lines:
            if line.id in wanted:
                note.lines.append(self._invoice_line(note, line, wanted[line.id],
                                                     source_line_id=line.id))
        if not 0 < note.total <= invoice.total_amount - invoice.credited_amount:
            return
        for line in invoice.lines:
            line.credited += wanted.get(line.id, QTY_ZERO)
        invoice.credited_amount += note.total
        self._post_invoice(note, day)

    # money

    def _payment(self, direction: str, supplier_id, customer_id, amount: Decimal,
                 currency: str, rate: Decimal, day: date, reference: str):
        """A payment in or out (models.payments._record): numbered PAY or SPAY, through
        the bank (now and then the cash box), fully open until allocated."""
        base = self.to_base(amount, rate)
        cash = direction == "in" and self.rng.random() < 0.01
        payment = _Payment(id=self.writer.new_id(Payment), direction=direction,
                       number=self.numbers.next("PAY" if direction == "in" else "SPAY",
                                                day.year),
                       customer_id=customer_id, supplier_id=supplier_id, payment_date=day,
                       currency=currency, exchange_rate=rate, amount=amount,
                       amount_base=base, open_amount=amount, open_base=base,
                       method="cash" if cash else self.rng.choice(METHODS),
                       reference=reference, notes="",
                       account_id=self.role["cash" if cash else "bank"],
                       created_at=self.at(day), created_by_id=self.rng.choice(self.finance))
        self.payments.append(payment)
        return payment

    def _customer_payment(self, due: list, day: date) -> None:
        """record_payment with the split typed: one remittance for the customer's
        invoices due to be paid today (half of one, or what is open), now and then a
        little more than that (left as the customer's credit); each allocation posts
        its exchange difference when the rate moved."""
        plan: dict[int, tuple] = {}
        for invoice, part in due:
            left = invoice.open_amount - plan.get(invoice.id, (None, ZERO))[1]
            amount = (round_money(left / 2, currency_places(invoice.currency))
                      if part == "half" else left)
            if amount > 0:
                plan[invoice.id] = (invoice, plan.get(invoice.id, (None, ZERO))[1] + amount)
        if not plan:
            return
        invoice = next(iter(plan.values()))[0]
        customer = invoice.customer
        total = sum((amount for _, amount in plan.values()), ZERO)
        if self.rng.random() < 0.02:
            total += round_money(total * Decimal("0.05"))
        rate = self.world.rate(customer.currency, day)
        payment = self._payment("in", None, customer.id, total, customer.currency, rate, day,
                                f"REM-{self.rng.randint(100000, 999999)}")
        bank_memo = f"{payment.number} {payment.reference}".strip()
        payment.entry_id = self.post(day, [
            _debit(payment.account_id, payment.amount_base, bank_memo),
            _credit(self.role["receivable"], payment.amount_base, payment.number,
                    customer=customer.id)],
            memo=f"{payment.number} · {customer.name}", source_type="payment",
            source_id=payment.id, reference=payment.number, by=payment.created_by_id)
        for invoice_id in sorted(plan):
            target, amount = plan[invoice_id]
            self._allocate(payment, target, amount, day)

    def _allocate(self, source, target, amount: Decimal, day: date) -> None:
        """models.payments.allocate: each side gives up its own base amount (all of what
        is left when the amount is all that is open), the difference posted as an
        exchange gain or loss on the partner's control account."""
        bill = isinstance(target, _Bill)
        base_target = (target.open_base if amount == target.open_amount
                       else self.to_base(amount, target.exchange_rate))
        base_source = (source.open_base if amount == source.open_amount
                       else self.to_base(amount, source.exchange_rate))
        paid = source.payment_date if isinstance(source, _Payment) else None
        allocation = _Obj(id=self.writer.new_id(Allocation),
                          invoice_id=None if bill else target.id,
                          bill_id=target.id if bill else None,
                          payment_id=source.id if paid else None,
                          credit_note_id=None if paid else source.id, amount=amount,
                          base_target=base_target, base_source=base_source,
                          allocated_on=day, entry_id=None, created_at=self.at(day),
                          created_by_id=self.rng.choice(self.finance))
        target.open_amount -= amount
        target.open_base -= base_target
        source.open_amount -= amount
        source.open_base -= base_source
        if paid:
            target.last_paid_on = max(filter(None, (target.last_paid_on, paid)))
        if bill:
            target.status = "paid" if target.open_amount <= 0 else "open"
        difference = base_source - base_target
        if difference:
            fx = self.role["fx"]
            if bill:
                supplier = target.supplier_id
                postings = [_credit(self.role["payable"], difference,
                                    f"{target.supplier_ref} / {source.number}",
                                    supplier=supplier),
                            _debit(fx, difference, f"Exchange difference {target.currency}")]
                reference = source.number
            else:
                postings = [_debit(self.role["receivable"], difference,
                                   f"{target.number} / {source.number}",
                                   customer=target.customer_id),
                            _credit(fx, difference, f"Exchange difference {target.currency}")]
                reference = target.number
            allocation.entry_id = self.post(day, postings,
                                            memo=f"Exchange difference on {reference}",
                                            source_type="allocation", reference=reference,
                                            by=allocation.created_by_id)
        self.allocations.append(allocation)

    # the end

    def queue_documents(self) -> int:
        """Everything that changed while the days ran, as it stands today, queued for
        the writer; returns the number of rows. The catalog goes here too, with the
        cost each product ended at; the stock figures are the sums of the moves."""
        writer, world = self.writer, self.world
        stock = self.setup.locations["stock"]
        for product in world.products:
            writer.add(Product, product)
            if product.moved:
                figures = {"product_id": product.id, "on_hand": product.on_hand,
                           "reserved": product.reserved}
                writer.add(ProductStock, figures)
                writer.add(StockLevel, {**figures, "location_id": stock})
        for quote in world.quotes:
            writer.add(Quote, quote)
            writer.extend(QuoteLine, quote.lines)
        for order in self.orders:
            writer.add(SalesOrder, order)
            writer.extend(SalesLine, order.lines)
        writer.extend(StockMove, self.moves)
        for shipment in self.shipments:
            writer.add(Shipment, shipment)
            writer.extend(ShipmentLine, shipment.lines)
        for order in self.purchases:
            writer.add(PurchaseOrder, order)
            writer.extend(PurchaseLine, order.lines)
        for model, row in self.receipts:
            writer.add(model, row)
        writer.extend(VendorBill, self.bills)
        for invoice in self.invoices:
            writer.add(Invoice, invoice)
            writer.extend(InvoiceLine, invoice.lines)
        writer.extend(Payment, self.payments)
        writer.extend(Allocation, self.allocations)
        return writer.size()

    def link_revisions(self) -> None:
        """Each revised quote points at its revision (revise_quote sets it after the
        new one exists: the two rows point at each other)."""
        pairs = [{"quote": q.id, "newer": q.superseded.id} for q in self.world.quotes
                 if q.status == "superseded"]
        if pairs:
            table = Quote.__table__
            db.session.execute(update(table).where(table.c.id == bindparam("quote"))
                               .values(superseded_by_id=bindparam("newer")), pairs)
        db.session.commit()

    def finish(self) -> None:
        """The counters at the last number given, the chain heads at the last link, the
        quote counters, PostgreSQL's id sequences past the ids given here, and the
        monthly balances rebuilt from the lines (when the ledger keeps them)."""
        for year, last in self.world.quote_numbers.items():
            self.numbers.last[("Q", year)] = max(self.numbers.last.get(("Q", year), 0), last)
        self.numbers.save()
        for chain in self.chains.values():
            chain.save()
        if db.session.get_bind().dialect.name == "postgresql":
            for name in sorted(self.writer.next_id):
                db.session.execute(text(
                    f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                    f"(SELECT max(id) FROM {name}))"))
        from models import ledger

        if hasattr(ledger, "rebuild_account_balances"):
            ledger.rebuild_account_balances()
        db.session.commit()
