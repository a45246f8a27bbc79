"""Measure the product list at scale: `python scripts/bench_products.py [N]`.

Builds N products (default 50,000; four in five stocked, with a stock row) by bulk insert
in a throw-away SQLite file (or the DATABASE_URL you give), then times through the real
app the list's first page, a deep page reached by keyset cursor, a SKU-prefix search, a
search inside names, the below-reorder filter, the SKU type-ahead and the CSV export,
20 runs each (3 for the export), and prints the median and the worst. A measurement to
read, not a test: nothing asserts a time.
"""

import os
import statistics
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("TANDEM_ENV", "testing")

WORDS = ["bolt", "nut", "washer", "screw", "bracket", "hinge", "cable", "panel", "valve",
         "spring", "gasket", "bearing", "clamp", "rivet", "pin", "seal"]


def build(n: int) -> None:
    from werkzeug.security import generate_password_hash

    from models import Product, ProductStock, User, db
    from models.users import utcnow

    started = time.perf_counter()
    db.session.add(User(email="bench@example.org", name="Bench", role="operations",
                        password_hash=generate_password_hash("bench-password")))
    db.session.commit()
    now = utcnow()
    batch = 5000
    for start in range(0, n, batch):
        rows = []
        for i in range(start, min(start + batch, n)):
            word = WORDS[i % len(WORDS)]
            stocked = i % 5 != 0
            name = f"{word.capitalize()} {i:06d} steel"
            rows.append({
                "sku": f"{word[:3].upper()}-{i:06d}", "sku_key": f"{word[:3].upper()}-{i:06d}",
                "name": name, "search_name": name.lower(), "description": "",
                "kind": "stocked" if stocked else "service", "unit": "pc",
                "list_price": Decimal(i % 500) + Decimal("0.99"), "cost": Decimal("1.2500"),
                "tax_rate_id": None, "active": i % 50 != 0,
                "reorder_point": Decimal(10 if stocked and i % 3 == 0 else 0),
                "reorder_qty": Decimal(50 if stocked and i % 3 == 0 else 0),
                "preferred_supplier_id": None, "allow_backorder": False,
                "created_at": now, "updated_at": now, "version": 1})
        ids = db.session.execute(Product.__table__.insert().returning(Product.id),
                                 rows).scalars().all()
        db.session.execute(ProductStock.__table__.insert(), [
            {"product_id": pid, "on_hand": Decimal(pid % 40), "reserved": Decimal(pid % 7)}
            for pid, row in zip(ids, rows, strict=True) if row["kind"] == "stocked"])
        db.session.commit()
    print(f"built {n} products in {time.perf_counter() - started:.1f} s")


def main(n: int) -> None:
    from flask_migrate import upgrade

    from app import create_app
    from models import Product, db

    url = os.environ.get("DATABASE_URL") or f"sqlite:///{tempfile.mkdtemp()}/bench.sqlite3"
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench", "TESTING": True})
    with app.app_context():
        upgrade()
        if db.session.scalar(db.select(db.func.count()).select_from(Product)) < n:
            build(n)
        db.session.remove()

    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    client.post("/login", data={"email": "bench@example.org", "password": "bench-password",
                                "csrf_token": token})
    deep = client.get("/catalog/products").get_data(as_text=True)
    nxt = "/catalog/products"
    for _ in range(min(200, n // 50 - 1)):  # walk pages in to find a deep cursor
        nxt = deep.split('" rel="next"')[0].rsplit('href="', 1)[1].replace("&amp;", "&")
        deep = client.get(nxt).get_data(as_text=True)
    cases = {
        "first page": ("/catalog/products", 20),
        f"page {min(200, n // 50 - 1) + 1} (keyset)": (nxt, 20),
        "search SKU prefix 'BOL-0001'": ("/catalog/products?q=BOL-0001", 20),
        "search inside names '12345'": ("/catalog/products?q=12345", 20),
        "below reorder point": ("/catalog/products?below=1", 20),
        "archived + stocked": ("/catalog/products?active=archived&kind=stocked", 20),
        "type-ahead 'was'": ("/catalog/products/lookup?q=was", 20),
        f"CSV export ({n} rows)": ("/catalog/products.csv?active=all", 3),
    }
    print(f"{'request':<34}{'median ms':>10}{'worst ms':>10}")
    for label, (path, runs) in cases.items():
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            response = client.get(path)
            response.get_data()
            times.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, (path, response.status_code)
        print(f"{label:<34}{statistics.median(times):>10.1f}{max(times):>10.1f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 50_000)
