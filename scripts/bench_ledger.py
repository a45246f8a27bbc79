"""Measure the financial reports at scale: `python scripts/bench_ledger.py [N]`.

Builds about N journal lines (default 1,000,000) over five years by bulk insert in a
throw-away SQLite file (or the DATABASE_URL you give): sales (receivable / income /
tax), customer payments, supplier bills and payments, and expenses, on the default
chart with 500 customers and 20 suppliers. Then times through the real app, signed in
as finance, the trial balance (this year, and all five years), profit and loss (this
year), the balance sheet (today), the journal's first page and an account's ledger, 5
runs each, printing the median and the worst. The entries are inserted as rows, not
posted through the rules (no hash chain): a measurement to read, not books to check,
and nothing asserts a time.
"""

import os
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("TANDEM_ENV", "testing")

CUSTOMERS, SUPPLIERS, YEARS = 500, 20, 5


def build(lines_wanted: int) -> None:
    from werkzeug.security import generate_password_hash

    from models import Account, JournalEntry, JournalLine, Supplier, User, db
    from models.customers import create_customer
    from models.ledger import ensure_chart
    from models.users import utcnow

    started = time.perf_counter()
    db.session.add(User(email="bench@example.org", name="Bench", role="finance",
                        password_hash=generate_password_hash("bench-password")))
    ensure_chart()
    customers = [create_customer(name=f"Customer {n:04d}").id for n in range(CUSTOMERS)]
    suppliers = []
    for n in range(SUPPLIERS):
        supplier = Supplier(currency="EUR")
        supplier.set_name(f"Supplier {n:02d}")
        db.session.add(supplier)
        db.session.flush()
        suppliers.append(supplier.id)
    db.session.commit()
    role = {a.role: a.id for a in db.session.scalars(db.select(Account)) if a.role}
    rent = db.session.scalar(db.select(Account.id).where(Account.code == "6000"))
    first = date.today() - timedelta(days=365 * YEARS)
    days = 365 * YEARS
    # each pattern: (source type, [(account id, debit?, share of the amount, partner)])
    patterns = [
        ("invoice", [("receivable", True, "1.20", "c"), ("sales", False, "1.00", None),
                     ("tax_out", False, "0.20", None)]),
        ("payment", [("bank", True, "1.20", None), ("receivable", False, "1.20", "c")]),
        ("bill", [("purchases", True, "1.00", None), ("tax_in", True, "0.20", None),
                  ("payable", False, "1.20", "s")]),
        ("supplier_payment", [("payable", True, "1.20", "s"), ("bank", False, "1.20", None)]),
        ("manual", [(rent, True, "1.00", None), ("bank", False, "1.00", None)]),
    ]
    now = utcnow()
    entries_per_batch = 5000
    made_lines, number = 0, 0
    while made_lines < lines_wanted:
        entry_rows, line_specs = [], []
        for _ in range(entries_per_batch):
            kind, legs = patterns[number % len(patterns)]
            day = first + timedelta(days=(number * 7919) % days)
            amount = Decimal(100 + (number * 37) % 9000)
            number += 1
            entry_rows.append({
                "number": f"JE-B-{number:09d}", "entry_date": day, "memo": kind,
                "source_type": kind, "source_id": None, "reference": "", "reverses_id": None,
                "posted_at": now, "posted_by_id": None, "chain_seq": number,
                "prev_hash": "0" * 64, "hash": "0" * 64})
            line_specs.append((day, amount, legs))
            made_lines += len(legs)
        ids = db.session.execute(JournalEntry.__table__.insert().returning(
            JournalEntry.__table__.c.id), entry_rows).scalars().all()
        rows = []
        for entry_id, (day, amount, legs) in zip(ids, line_specs, strict=True):
            for account, is_debit, share, partner in legs:
                value = (amount * Decimal(share)).quantize(Decimal("0.01"))
                rows.append({
                    "entry_id": entry_id,
                    "account_id": role[account] if isinstance(account, str) else account,
                    "debit": value if is_debit else Decimal("0.00"),
                    "credit": Decimal("0.00") if is_debit else value,
                    "customer_id": customers[entry_id % CUSTOMERS] if partner == "c" else None,
                    "supplier_id": suppliers[entry_id % SUPPLIERS] if partner == "s" else None,
                    "memo": "", "entry_date": day})
        db.session.execute(JournalLine.__table__.insert(), rows)
        db.session.commit()
    print(f"built {made_lines:,} journal lines in {number:,} entries in "
          f"{time.perf_counter() - started:.1f} s")


def main(n: int) -> None:
    from flask_migrate import upgrade

    from app import create_app
    from models import JournalLine, db

    url = os.environ.get("DATABASE_URL") or f"sqlite:///{tempfile.mkdtemp()}/bench.sqlite3"
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench", "TESTING": True})
    with app.app_context():
        upgrade()
        if db.session.scalar(db.select(db.func.count()).select_from(JournalLine)) < n:
            build(n)
        if db.engine.dialect.name == "postgresql":
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("VACUUM ANALYZE journal_lines")
        else:
            with db.engine.connect() as conn:
                conn.exec_driver_sql("ANALYZE")
        bank = db.session.scalar(db.select(db.text("id")).select_from(db.text("accounts"))
                                 .where(db.text("role = 'bank'")))
        db.session.remove()

    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    client.post("/login", data={"email": "bench@example.org", "password": "bench-password",
                                "csrf_token": token})
    today = date.today()
    year = today.replace(month=1, day=1).isoformat()
    start = (today - timedelta(days=365 * YEARS)).isoformat()
    cases = {
        "trial balance, this year": f"/ledger/reports/trial-balance?from={year}",
        "trial balance, five years": f"/ledger/reports/trial-balance?from={start}",
        "profit and loss, this year": f"/ledger/reports/profit-and-loss?from={year}",
        "balance sheet, today": "/ledger/reports/balance-sheet",
        "revenue vs forecast, 12 months": "/ledger/reports/revenue",
        "journal, first page": "/ledger/journal",
        "bank account ledger, first page": f"/ledger/accounts/{bank}",
    }
    print(f"{'request':<34}{'median ms':>10}{'worst ms':>10}")
    for label, path in cases.items():
        times = []
        for _ in range(5):
            started = time.perf_counter()
            response = client.get(path)
            response.get_data()
            times.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, (path, response.status_code)
        print(f"{label:<34}{statistics.median(times):>10.1f}{max(times):>10.1f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
