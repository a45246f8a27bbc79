"""The benchmark behind BENCHMARKS.md: `make bench`, or
`python scripts/bench.py [--scale 1] [--db both|sqlite|postgresql]`.

For each database it builds (once per scale, kept under instance/bench/ and as the
PostgreSQL database tandem_bench_<scale>) a data set with `db upgrade` and
`seed-volume --scale S`, runs on a fresh copy of it (so every run starts from the same
data), and measures:

1. pages under load: gunicorn served as the README tells a team, driven by wrk on
   loopback at 16 connections with the session cookies of several signed-in users;
   one run per page class, one mixed run, and /healthz of the same server as the ceiling;
2. the financial reports for a full year over HTTP, one after the other;
3. quote to cash (a quote of three lines, accepted, shipped, invoiced, posted, paid)
   repeated in-process through the real views with the Flask test client;
4. the invoice PDF endpoint (first rendering, then the archived copy) beside WeasyPrint
   rendering the same HTML bare;
5. the peak memory of each gunicorn worker.

A measurement, not a test: nothing asserts a time. Figures go to BENCHMARKS.md beside
their targets and the machine they were measured on.
"""

import argparse
import json
import os
import random
import re
import resource
import signal
import sqlite3
import statistics
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from datetime import date, datetime
from pathlib import Path

from bench_report import PAGES, log, machine, ms, write_report
from bench_serve import Server, sign_in, timed, wrk

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
BIN = Path(sys.executable).parent
BENCH_DIR = ROOT / "instance" / "bench"
PASSWORD = "tandem-demo"
SECRET_KEY = "bench-secret-key-not-for-production"
PG_BASE = os.environ.get("BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/")

# --- Databases ---------------------------------------------------------------------------


def scale_name(scale: float) -> str:
    return f"{scale:g}".replace(".", "_")


def pg_admin():
    import psycopg
    from sqlalchemy.engine import make_url

    url = make_url(PG_BASE).set(drivername="postgresql", database="postgres")
    try:
        return psycopg.connect(url.render_as_string(hide_password=False), autocommit=True)
    except psycopg.OperationalError as error:
        raise SystemExit(
            f"PostgreSQL is not reachable at {PG_BASE} ({error}). Start it, point "
            "BENCH_PG_URL at one, or run with --db sqlite."
        ) from None


def pg_url(name: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(PG_BASE).set(database=name).render_as_string(hide_password=False)


def pg_exists(name: str) -> bool:
    with pg_admin() as conn:
        return (
            conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
            is not None
        )


def pg_recreate(name: str, template: str | None = None) -> None:
    with pg_admin() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))


def flask_cli(url: str, *args: str) -> None:
    env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": SECRET_KEY}
    subprocess.run([str(BIN / "flask"), "--app", "app", *args], cwd=ROOT, env=env, check=True)


def prepare(kind: str, scale: float, seeded: str | None) -> str:
    """Build the data set for `scale` once (or adopt an already seeded one), migrate it,
    and return the URL of a fresh working copy for this run."""
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    name = f"scale-{scale:g}" if kind == "sqlite" else f"tandem_bench_{scale_name(scale)}"
    marker = BENCH_DIR / f"{name}.json"
    built = json.loads(marker.read_text()) if marker.exists() else {}
    if kind == "sqlite":
        path = BENCH_DIR / f"{name}.sqlite3"
        url, exists = f"sqlite:///{path}", path.exists()
    else:
        url, exists = pg_url(name), pg_exists(name)
    if not exists or built.get("scale") != scale:
        started = time.perf_counter()
        marker.unlink(missing_ok=True)
        if kind == "sqlite":
            for stale in BENCH_DIR.glob(f"{name}.sqlite3*"):
                stale.unlink()
            if seeded:
                log(f"[{kind}] copying the seeded {seeded}")
                sqlite_copy(Path(seeded), path)
        else:
            log(f"[{kind}] creating database {name}" + (f" from {seeded}" if seeded else ""))
            pg_recreate(name, template=seeded)
        flask_cli(url, "db", "upgrade")
        if not seeded:
            log(f"[{kind}] seed-volume --scale {scale:g} (once; kept for later runs)")
            flask_cli(url, "seed-volume", "--scale", f"{scale:g}")
        marker.write_text(
            json.dumps(
                {
                    "scale": scale,
                    "built": f"{datetime.now():%F %T}",
                    "seconds": round(time.perf_counter() - started),
                    "from": seeded or "seed-volume",
                }
            )
        )
    else:
        log(f"[{kind}] reusing {name} (scale {scale:g}, built {built['built']})")
        flask_cli(url, "db", "upgrade")
    log(f"[{kind}] making a fresh working copy")
    if kind == "sqlite":
        work = BENCH_DIR / f"{name}.run.sqlite3"
        sqlite_copy(path, work)
        return f"sqlite:///{work}"
    pg_recreate(f"{name}_run", template=name)
    return pg_url(f"{name}_run")


def sqlite_copy(source: Path, target: Path) -> None:
    for stale in target.parent.glob(target.name + "*"):
        stale.unlink()
    src, dst = sqlite3.connect(source), sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()


# --- What to visit -----------------------------------------------------------------------


def sample(url: str, n: int = 60) -> dict:
    """Random ids and search words from the database, and the users to sign in."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    rng = random.Random(7)

    def column(sql: str) -> list:
        return [row[0] for row in conn.execute(text(sql + f" ORDER BY random() LIMIT {n}"))]

    with engine.connect() as conn:
        found = {
            "customer": column("SELECT id FROM customers"),
            "deal": column("SELECT id FROM deals"),
            "quote": column("SELECT id FROM quotes"),
            "order": column("SELECT id FROM sales_orders"),
            "invoice": column("SELECT id FROM invoices WHERE kind = 'invoice'"),
            "names": column("SELECT name FROM customers"),
            "products": column("SELECT name FROM products WHERE active = true"),
            "skus": column("SELECT sku FROM products WHERE active = true"),
        }
        users = conn.execute(
            text(
                "SELECT email, role FROM users WHERE is_enabled = true "
                "AND email LIKE '%@tandem.test' ORDER BY email"
            )
        ).all()
        found["counts"] = {
            t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar()
            for t in (
                "customers",
                "deals",
                "products",
                "quotes",
                "sales_orders",
                "invoices",
                "journal_lines",
                "users",
            )
        }
        last = conn.execute(text("SELECT max(entry_date) FROM journal_lines")).scalar()
    engine.dispose()
    by_role: dict[str, list[str]] = {}
    for email, role in users:
        if len(by_role.setdefault(role, [])) < 6:
            by_role[role].append(email)
    found["users"] = by_role

    def word(text: str) -> str:
        """A word of four letters or more from `text` (what someone would search for)."""
        return rng.choice(re.findall(r"[A-Za-z]{4,}", text) or [text[:3]])

    found["searches"] = [word(t) for t in found["names"]] or ["a"]
    found["product_words"] = [word(t) for t in found["products"]] or ["a"]
    found["lookups"] = [t[:3] for t in found["names"]]
    found["sku_lookups"] = [s[:3] for s in found["skus"]]
    year = date.fromisoformat(str(last)[:10]).year if last else date.today().year
    found["year"] = year - 1 if year == date.today().year and year - 1 > 2000 else year
    return found


def page_paths(s: dict) -> dict[str, list[str]]:
    q = urllib.parse.quote
    return {
        "customers": ["/accounts/"],
        "customer_search": [f"/accounts/?q={q(w)}" for w in s["searches"]],
        "customer": [f"/accounts/{i}" for i in s["customer"]],
        "board": ["/pipeline/"],
        "deal": [f"/pipeline/deals/{i}" for i in s["deal"]],
        "product_search": [f"/catalog/products?q={q(w)}" for w in s["product_words"]],
        "quote": [f"/orders/quotes/{i}" for i in s["quote"]],
        "order": [f"/orders/sales/{i}" for i in s["order"]],
        "invoice": [f"/ledger/invoices/{i}" for i in s["invoice"]],
        "followups": ["/pipeline/activities"],
        "dashboard": ["/"],
        "customer_lookup": [f"/accounts/lookup?q={q(w)}" for w in s["lookups"]],
        "product_lookup": [
            f"/catalog/products/lookup?q={q(w)}" for w in s["lookups"][::2] + s["sku_lookups"][::2]
        ],
    }


def pairs_for(
    key: str, paths: list[str], cookies: dict[str, list[str]], n: int = 120
) -> list[tuple[str, str]]:
    """(path, cookie) pairs for one page class: its paths in turn, each with a user of a
    role that opens it, so consecutive requests come from different people."""
    people = [c for role in PAGES[key][2] for c in cookies.get(role, [])]
    if not paths or not people:
        return []
    return [(paths[i % len(paths)], people[i % len(people)]) for i in range(max(n, len(paths)))]


def reports_for(year: int) -> list[tuple[str, str]]:
    period = f"from={year}-01-01&to={year}-12-31"
    return [
        ("Trial balance", f"/ledger/reports/trial-balance?{period}"),
        ("Profit and loss", f"/ledger/reports/profit-and-loss?{period}"),
        ("Balance sheet", f"/ledger/reports/balance-sheet?as_of={year}-12-31"),
        ("Receivables aging", f"/ledger/reports/aging?as_of={year}-12-31"),
        ("Revenue against forecast", "/ledger/reports/revenue?months=12"),
        ("Reconciliation", f"/ledger/reports/reconciliation?{period}"),
    ]


# --- One database ------------------------------------------------------------------------


def make_app(url: str):
    os.environ.update(DATABASE_URL=url, SECRET_KEY=SECRET_KEY)
    os.environ.pop("TANDEM_ENV", None)
    from app import create_app

    return create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": SECRET_KEY})


def dispose(app) -> None:
    from models import db

    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def bench_database(kind: str, args) -> dict:
    from bench_flow import quote_to_cash

    seeded = args.seeded_sqlite if kind == "sqlite" else args.seeded_pg
    url = prepare(kind, args.scale, seeded)
    found: dict = {"kind": kind}
    app, server = make_app(url), None
    try:
        log(f"[{kind}] quote to cash in-process, {args.flows} flows")
        found["flow"] = quote_to_cash(app, args.flows, log)
        dispose(app)
        s = sample(url)
        found.update(counts=s["counts"], year=s["year"])
        log(f"[{kind}] gunicorn --workers {args.workers}")
        server = Server(url, SECRET_KEY, args.workers, BENCH_DIR / f"gunicorn-{kind}.log")
        cookies = {
            role: [sign_in(server.base, email, PASSWORD) for email in emails]
            for role, emails in s["users"].items()
            if any(role in roles for _, _, roles in PAGES.values())
        }
        found["users"] = {role: len(some) for role, some in cookies.items()}
        log(f"[{kind}] signed in: " + ", ".join(f"{n} {k}" for k, n in found["users"].items()))
        found.update(under_load(kind, server, s, cookies, args))
        finance = cookies["finance"][0]
        found["reports"] = []
        for title, path in reports_for(s["year"]):
            times = timed(server.base, path, finance, args.report_runs)
            found["reports"].append((title, path, times))
            log(f"[{kind}] {title}: median {ms(statistics.median(times))}, worst {ms(max(times))}")
        found["pdf"] = time_pdfs(kind, app, url, server, s, finance)
        found["memory"] = server.memory()
        log(f"[{kind}] workers' peak RSS: " + ", ".join(f"{m[1]:.0f} MB" for m in found["memory"]))
    finally:
        if server is not None:
            server.stop()
        dispose(app)
    return found


def children_cpu() -> float:
    """User and system CPU of this process's finished children: while wrk runs, it is the
    only child that finishes (gunicorn is reaped only when stopped), so the difference
    around a wrk run is wrk's own CPU on the cores it shares with the server."""
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def under_load(kind: str, server: Server, s: dict, cookies: dict, args) -> dict:
    """wrk against /healthz, each page class, and the weighted mix of them all."""
    pairs = {key: pairs_for(key, paths, cookies) for key, paths in page_paths(s).items()}
    for some in pairs.values():  # every page class answers 200 before the load
        for path, cookie in some[:3]:
            timed(server.base, path, cookie, 1)
    rng = random.Random(3)
    keys = [k for k in PAGES if pairs[k]]
    picks = rng.choices(keys, weights=[PAGES[k][1] for k in keys], k=3000)
    mixed = [rng.choice(pairs[k]) for k in picks]
    c, seconds = args.connections, args.page_seconds
    log(f"[{kind}] warming up every worker for {args.warmup} s")
    wrk(server.base, mixed, args.warmup, c)
    found = {"load": os.getloadavg()[0], "pages": {}}

    def run(label: str, some: list, seconds: int) -> dict:
        # CPU from the start until the workers are idle again, over every request they
        # served: those wrk completed, and one left queued on each of its connections
        server.settle()
        before, load = server.cpu_seconds(), children_cpu()
        r = wrk(server.base, some, seconds, c)
        r["wrk_cpu"] = (children_cpu() - load) / max(r["requests"], 1)
        server.settle()
        r["cpu"] = (server.cpu_seconds() - before) / (r["requests"] + c)
        log(
            f"[{kind}] {label}: {r['rps']:,.1f} req/s, median {ms(r['p50'])}, p95 "
            f"{ms(r['p95'])}, p99 {ms(r['p99'])}; {ms(r['cpu'])} CPU a request"
        )
        return r

    found["healthz"] = run("/healthz", [("/healthz", "")], seconds)
    for key, some in pairs.items():
        found["pages"][key] = run(PAGES[key][0], some, seconds)
    found["mixed"] = run("mixed", mixed, args.seconds)
    found["load_after"] = os.getloadavg()[0]
    return found


def time_pdfs(kind, app, url, server, s: dict, cookie: str, n: int = 8) -> dict:
    """First and archived download of posted invoices never downloaded, and WeasyPrint
    rendering each one's HTML bare, one after the other. Every worker renders quote PDFs
    first, so that its one-time font and stylesheet set-up is not counted as an invoice's."""
    from concurrent.futures import ThreadPoolExecutor

    from bench_flow import bare_pdf
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as conn:
        ids = conn.scalars(
            text(
                "SELECT i.id FROM invoices i LEFT JOIN invoice_pdfs p ON p.invoice_id = i.id "
                "WHERE i.kind = 'invoice' AND i.status = 'posted' AND p.invoice_id IS NULL "
                f"ORDER BY random() LIMIT {n + 1}"
            )
        ).all()
    engine.dispose()
    quotes = [f"/orders/quotes/{i}.pdf" for i in s["quote"][: 4 * server.count]]
    with ThreadPoolExecutor(server.count) as pool:
        list(pool.map(lambda path: timed(server.base, path, cookie, 1), quotes))
    bare_pdf(app, ids.pop())  # the same set-up in this process
    first, second, bare = [], [], []
    for invoice_id in ids:
        first += timed(server.base, f"/ledger/invoices/{invoice_id}.pdf", cookie, 1)
        second += timed(server.base, f"/ledger/invoices/{invoice_id}.pdf", cookie, 1)
        bare.append(bare_pdf(app, invoice_id)[0])
    log(
        f"[{kind}] invoice PDF: first {ms(statistics.median(first))}, archived "
        f"{ms(statistics.median(second))}, bare WeasyPrint {ms(statistics.median(bare))}"
    )
    return {"first": first, "second": second, "bare": bare}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--db", choices=("both", "sqlite", "postgresql"), default="both")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--seconds", type=int, default=30, help="the mixed run")
    parser.add_argument("--page-seconds", type=int, default=8, help="each page class run")
    parser.add_argument("--warmup", type=int, default=10, help="seconds of load first")
    parser.add_argument("--report-runs", type=int, default=5)
    parser.add_argument("--flows", type=int, default=200)
    parser.add_argument(
        "--seeded-sqlite", help="build from this SQLite file seeded at --scale (copied)"
    )
    parser.add_argument(
        "--seeded-pg", help="build from this PostgreSQL database seeded at --scale (copied)"
    )
    parser.add_argument("--out", type=Path, default=ROOT / "BENCHMARKS.md")
    args = parser.parse_args()
    args.databases = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    # a TERM (a CI timeout, kill) unwinds like Ctrl-C, so gunicorn is stopped on the way out
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    info = machine(args)
    if "postgresql" in args.databases:
        with pg_admin() as conn:
            info["PostgreSQL"] = conn.execute("SHOW server_version").fetchone()[0]
    log("machine: " + "; ".join(f"{k} {v}" for k, v in info.items()))
    results = [bench_database(kind, args) for kind in args.databases]
    write_report(args.out, info, args, results)
    log(f"wrote {args.out}")


if __name__ == "__main__":
    main()
