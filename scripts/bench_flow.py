"""The in-process half of scripts/bench.py: quote to cash through the real views with
Flask's test client (forms submitted as a browser shows them, CSRF token and one-time
keys included), and WeasyPrint rendering an invoice's HTML bare."""

import random
import time
from datetime import date
from html.parser import HTMLParser
from pathlib import Path
from unittest import mock
from urllib.parse import urlsplit


class Forms(HTMLParser):
    """The forms of a page as a browser would submit them: action and field values."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.forms: list[tuple[str, dict]] = []
        self._select = self._textarea = None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append((a.get("action", ""), {}))
        if not self.forms:
            return
        fields = self.forms[-1][1]
        kind = a.get("type", "text")
        if tag == "input" and a.get("name") and kind not in ("submit", "button", "file"):
            if kind not in ("checkbox", "radio") or "checked" in a:
                fields[a["name"]] = a.get("value", "on" if kind == "checkbox" else "")
        elif tag == "select":
            self._select = a.get("name")
        elif tag == "option" and self._select and (self._select not in fields or "selected" in a):
            fields[self._select] = a.get("value", "")
        elif tag == "textarea":
            self._textarea = a.get("name")
            fields[self._textarea] = ""

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data):
        if self._textarea and self.forms:
            self.forms[-1][1][self._textarea] += data


def form(html: str, action_ends: str) -> tuple[str, dict]:
    """The first form whose action ends with `action_ends`: (action, fields)."""
    for action, fields in Forms(html).forms:
        if urlsplit(action).path.endswith(action_ends):
            return action, dict(fields)
    raise RuntimeError(f"no form posting to …{action_ends} on the page")


class Browser:
    """A test client signed in as one user; every request's (method, wall seconds, CPU
    seconds) goes into `clock`."""

    def __init__(self, app, email: str, password: str, clock: list):
        self.client, self.clock = app.test_client(), clock
        action, fields = form(self.client.get("/login").get_data(as_text=True), "/login")
        fields.update(email=email, password=password)
        if self.client.post(action, data=fields).status_code != 302:
            raise RuntimeError(f"sign-in as {email} failed")

    def open(self, method: str, path: str, data=None, *, expect=200, htmx=False):
        headers = {"HX-Request": "true", "HX-Request-Type": "partial"} if htmx else {}
        started, cpu = time.perf_counter(), time.process_time()
        response = self.client.open(path, method=method, data=data, headers=headers)
        body = response.get_data(as_text=True)
        self.clock.append((method, time.perf_counter() - started, time.process_time() - cpu))
        if response.status_code != expect:
            raise RuntimeError(
                f"{method} {path} answered {response.status_code}, not {expect}: {body[:300]}"
            )
        return response, body

    def get(self, path: str):
        return self.open("GET", path)[1]

    def submit(self, html: str, action_ends: str, expect=302, htmx=False, **values):
        """Submit a form of `html` as shown, with `values` typed in; the redirect's path."""
        action, fields = form(html, action_ends)
        fields.update({k.replace("_dash_", "-"): str(v) for k, v in values.items()})
        response, body = self.open("POST", action, fields, expect=expect, htmx=htmx)
        return urlsplit(response.headers.get("Location", "")).path if expect == 302 else body


def _setup(app, flows: int):
    """Customers (base currency, not on hold, no or the largest credit limits) and the
    stocked products with the most available, read from the database."""
    from sqlalchemy import text

    from models import db
    from models.catalog import Product
    from models.company import CompanySettings
    from models.stock import ProductStock

    with app.app_context():
        base = CompanySettings.current().base_currency
        customers = db.session.scalars(
            text(
                "SELECT customer_id FROM customer_accounts WHERE currency = :c AND "
                "on_hold = false ORDER BY credit_limit = 0 DESC, credit_limit DESC, "
                "customer_id LIMIT 500"
            ),
            {"c": base},
        ).all()
        rows = db.session.execute(
            db.select(Product.sku, ProductStock)
            .join(ProductStock, ProductStock.product_id == Product.id)
            .where(Product.active.is_(True), Product.kind == "stocked")
            .order_by((ProductStock.on_hand - ProductStock.reserved).desc())
            .limit(60)
        ).all()
        stock = {sku: int(level.on_hand - level.reserved) for sku, level in rows}
    stock = {sku: left for sku, left in stock.items() if left >= 1}
    if not customers or sum(stock.values()) < 3 * flows or len(stock) < 3:
        raise RuntimeError("not enough customers or stock for the quote-to-cash flows")
    return customers[: max(20, flows)], stock


def quote_to_cash(app, flows: int, log) -> dict:
    """A deal's quote with three lines, sent, accepted, shipped, invoiced, posted and paid,
    `flows` times; server time per flow (and its pages and posts apart)."""
    rng = random.Random(11)
    customers, stock = _setup(app, flows)
    clock: list = []
    sales, ops, finance = (
        Browser(app, f"{who}@tandem.test", "tandem-demo", clock)
        for who in ("sales", "ops", "finance")
    )
    totals, pages, posts, cpu = [], [], [], []
    today = date.today().isoformat()
    for n in range(flows):
        customer = rng.choice(customers)
        html = sales.get(f"/pipeline/deals/new?customer_id={customer}")
        deal = sales.submit(html, "/pipeline/deals/new", title=f"Bench flow {n}", amount="0")
        left = sorted(s for s, units in stock.items() if units >= 1)
        if len(left) < 3:
            raise RuntimeError(f"stocked products ran out after {n} quote-to-cash flows")
        skus = rng.sample(left, 3)
        for sku in skus:
            stock[sku] -= 1
        clock.clear()  # the flow starts on the deal page
        quote = sales.submit(sales.get(deal), "/orders/quotes/new")
        html = sales.get(quote)
        for sku in skus:
            html = sales.submit(html, "/lines", expect=200, htmx=True, sku=sku, quantity="1")
        sales.submit(html, "/mark-sent")
        order = sales.submit(sales.get(quote), "/accept", customer_po=f"PO-B{n}")
        ops.submit(ops.get(order + "/ship"), "/ship", carrier="DHL", tracking=f"T{n}")
        invoice = finance.submit(finance.get(order), "/invoice")
        finance.submit(finance.get(invoice), "/post", issue_date=today)
        invoice_id = invoice.rsplit("/", 1)[1]
        finance.submit(
            finance.get(f"/ledger/payments/new?customer_id={customer}&invoice_id={invoice_id}"),
            "/payments/new",
            method="bank_transfer",
            reference=f"B{n}",
        )
        cpu.append(sum(c for _, _, c in clock))
        totals.append(sum(t for _, t, _ in clock))
        pages.append(sum(t for m, t, _ in clock if m == "GET"))
        posts.append(sum(t for m, t, _ in clock if m == "POST"))
        if (n + 1) % 50 == 0 or n + 1 == flows:
            log(f"  quote to cash: {n + 1}/{flows} flows, last {totals[-1] * 1000:.0f} ms")
    return {
        "n": flows,
        "totals": totals,
        "pages": pages,
        "posts": posts,
        "cpu": cpu,
        "requests": len(clock),
    }


def bare_pdf(app, invoice_id: int) -> tuple[float, int]:
    """Seconds and bytes for WeasyPrint rendering the invoice's HTML (the app's own
    template and context) with the app's stylesheet, and nothing else."""
    from flask import render_template
    from weasyprint import CSS, HTML

    from blueprints.ledger import invoices as views
    from models import db
    from models.invoicing import Invoice

    captured = {}

    def capture(template, **context):
        captured.update(template=template, context=context)
        return b""

    with app.test_request_context("/"), mock.patch.object(views, "render_pdf", capture):
        views.render_document_pdf(db.session.get(Invoice, invoice_id))
        html = render_template(captured["template"], **captured["context"])
        static = Path(app.static_folder).resolve()
    if "css" not in _bare:
        _bare["css"] = CSS(string=(static / "css" / "pdf.css").read_text(encoding="utf-8"))
    started = time.perf_counter()
    data = HTML(string=html, base_url=static.as_uri() + "/").write_pdf(stylesheets=[_bare["css"]])
    return time.perf_counter() - started, len(data)


_bare: dict = {}
