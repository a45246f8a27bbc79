"""Measure the customer list at scale: `python scripts/bench_customers.py [N]`.

Builds N customers (default 100,000) with both facets in a throw-away SQLite file (or the
DATABASE_URL you give), then times the list's first page, a deep page reached by keyset
cursor, a search, a filter and the type-ahead through the real app, 20 runs each, and
prints the median and the worst. A measurement to read, not a test: nothing asserts a time.
"""

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("TANDEM_ENV", "testing")


def main(n: int) -> None:
    from flask_migrate import upgrade
    from werkzeug.security import generate_password_hash

    from app import create_app
    from models import Customer, FinancialAccount, Relationship, User, db

    url = os.environ.get("DATABASE_URL") or f"sqlite:///{tempfile.mkdtemp()}/bench.sqlite3"
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench", "TESTING": True})
    with app.app_context():
        upgrade()
        if db.session.scalar(db.select(db.func.count()).select_from(Customer)) < n:
            started = time.perf_counter()
            user = User(email="bench@example.org", name="Bench", role="sales",
                        password_hash=generate_password_hash("bench-password"))
            db.session.add(user)
            db.session.commit()
            batch = 5000
            for start in range(0, n, batch):
                rows = range(start, min(start + batch, n))
                ids = db.session.execute(Customer.__table__.insert().returning(Customer.id), [
                    {"name": f"Customer {i:06d} Ltd", "kind": "company",
                     "email": f"info@c{i}.example.org", "search_name": f"customer {i:06d} ltd",
                     "email_domain": f"c{i}.example.org", "street": "", "postal_code": "",
                     "city": "Bristol", "country": "", "version": 1} for i in rows]).scalars().all()
                db.session.execute(Relationship.__table__.insert(), [
                    {"customer_id": cid, "owner_id": user.id if cid % 7 == 0 else None,
                     "lifecycle": ("lead", "prospect", "customer", "former")[cid % 4],
                     "source": "", "tags": "", "notes": "", "version": 1} for cid in ids])
                db.session.execute(FinancialAccount.__table__.insert(), [
                    {"customer_id": cid, "account_code": f"C{cid:06d}", "currency": "EUR",
                     "payment_terms_days": 30, "credit_limit": (cid % 100) * 100,
                     "on_hold": cid % 50 == 0, "billing_address": "", "tax_id": "",
                     "hold_reason": "", "version": 1} for cid in ids])
                db.session.commit()
            print(f"built {n} customers in {time.perf_counter() - started:.1f} s")
        db.session.remove()

    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    client.post("/login", data={"email": "bench@example.org", "password": "bench-password",
                                "csrf_token": token})
    deep = client.get("/accounts/?sort=name").get_data(as_text=True)
    for _ in range(200):  # walk 200 pages in to find a deep cursor
        nxt = deep.split('" rel="next"')[0].rsplit('href="', 1)[1].replace("&amp;", "&")
        deep = client.get(nxt).get_data(as_text=True)
    cases = {
        "first page": "/accounts/",
        "page 201 (keyset)": nxt,
        "search 'customer 0999'": "/accounts/?q=customer+0999",
        "lifecycle + on hold": "/accounts/?lifecycle=lead&hold=yes",
        "sorted by credit limit": "/accounts/?sort=-credit_limit",
        "type-ahead 'customer 05'": "/accounts/lookup?q=customer+05",
    }
    print(f"{'request':<28}{'median ms':>10}{'worst ms':>10}")
    for label, path in cases.items():
        times = []
        for _ in range(20):
            started = time.perf_counter()
            response = client.get(path)
            times.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, (path, response.status_code)
        print(f"{label:<28}{statistics.median(times):>10.1f}{max(times):>10.1f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
