"""What every blueprint shares: who may call a view, page-or-fragment rendering,
htmx-safe redirects, security headers and error pages.

Conventions (documented in the README):
- Every view carries `@roles(...)` or `@public`; a test walks the URL map for it.
- An htmx request gets a fragment only when `HX-Request` is true and `HX-Request-Type`
  is `partial`; the fragment is a block of the page's own template.
- An invalid form answers 422 with the form re-rendered (htmx 4 swaps 4xx responses).
- An htmx request is never answered with a plain 302: `HX-Location`/`HX-Redirect`.
"""

from functools import wraps
from urllib.parse import urlsplit

from flask import (
    Response,
    abort,
    current_app,
    flash,
    g,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from flask_wtf.csrf import CSRFError, generate_csrf
from jinja2_fragments.flask import render_block, render_blocks
from werkzeug.exceptions import HTTPException
from werkzeug.local import LocalProxy
from werkzeug.routing import IntegerConverter

from models import ROLES, db
from models.errors import DomainError
from models.formkeys import AlreadySubmitted, new_form_key

ALL_ROLES = ROLES

# Only our own scripts and styles; nothing inline, nothing from elsewhere.
CSP = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",
    "form-action 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
])


def public(view):
    """Mark a view as open to anyone, signed in or not (sign-in page, health check)."""
    view.roles = None
    view.is_public = True
    return view


def roles(*allowed: str):
    """Let only signed-in users with one of `allowed` roles call the view (403 otherwise)."""
    unknown = set(allowed) - set(ROLES)
    if unknown or not allowed:
        raise ValueError(f"unknown roles {unknown}")

    def decorate(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            if not current_user.is_authenticated:
                return to_login()
            if current_user.must_change_password and request.endpoint not in (
                "auth.change_password", "auth.logout"):
                return redirect_to(url_for("auth.change_password"))
            if current_user.role not in allowed:
                abort(403)
            return view(*args, **kwargs)

        wrapper.roles = frozenset(allowed)
        wrapper.is_public = False
        return wrapper

    return decorate


# The main menu, in order: (endpoint, label, shown when). None: always; "view": when
# the role may use the view; "admin": to admins, when the view is there.
MENU = (
    ("dashboard.index", "Dashboard", None),
    ("accounts.index", "Customers", None),
    *((endpoint, label, "view") for endpoint, label in (
        ("pipeline.index", "Deals"), ("pipeline.followups", "Follow-ups"),
        ("pipeline.cases", "Cases"), ("pipeline.campaigns", "Campaigns"),
        ("pipeline.reports", "Pipeline reports"), ("orders.quotes", "Quotes"),
        ("orders.sales_orders", "Sales orders"), ("catalog.products", "Products"),
        ("catalog.reorder", "Reorder"), ("orders.purchases", "Purchase orders"),
        ("orders.suppliers", "Suppliers"), ("orders.bills", "Vendor bills"),
        ("catalog.counts", "Stock counts"), ("catalog.moves", "Stock moves"),
        ("catalog.valuation", "Stock value"), ("ledger.invoices", "Invoices"),
        ("ledger.credit_notes", "Credit notes"), ("ledger.payments", "Payments"),
        ("ledger.credit_holds", "Credit holds"), ("ledger.journal", "Journal"),
        ("ledger.accounts", "Chart of accounts"), ("ledger.lock_date", "Lock date"),
        ("ledger.reports", "Financial reports"))),
    ("admin.users", "Users", "admin"),
    ("admin.company", "Company", "admin"),
    ("pipeline.stages", "Pipeline stages", "admin"),
    ("catalog.tax_rates", "Tax rates", "view"),
    ("catalog.locations", "Stock locations", "view"),
    ("auth.change_password", "My password", None),
)


def can(*allowed: str) -> bool:
    """For templates: may the signed-in user do what these roles may?"""
    return current_user.is_authenticated and current_user.role in allowed


def is_htmx() -> bool:
    return request.headers.get("HX-Request") == "true"


def is_partial() -> bool:
    """A fragment is wanted: an htmx request that targets part of the page."""
    return is_htmx() and request.headers.get("HX-Request-Type") == "partial"


def render(template: str, *, block: str | list[str] | None = None, status: int = 200,
           **context) -> Response:
    """The full page, or for an htmx partial request the named block(s) of the same template."""
    if block and is_partial():
        if isinstance(block, list):
            body = render_blocks(template, block, **context)
        else:
            body = render_block(template, block, **context)
        response = make_response(body, status)
        response.headers["Cache-Control"] = "no-store"
        return response
    return make_response(render_template(template, **context), status)


def later(work, *args, **kwargs) -> LocalProxy:
    """`work(*args, **kwargs)` for a template, done the first time the template uses it,
    then kept: an htmx request that renders one block of a page skips the queries of the
    blocks it leaves out."""
    done = []

    def value():
        if not done:
            done.append(work(*args, **kwargs))
        return done[0]

    return LocalProxy(value)


def safe_next(target: str | None) -> str | None:
    """`target` if it is a local path on this site, else None (no open redirects)."""
    if not target:
        return None
    target = target.strip()
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    if "\\" in target or any(ord(ch) < 32 for ch in target):
        return None
    return target


def redirect_to(url: str) -> Response:
    """Redirect a browser (302) or an htmx request (HX-Location / HX-Redirect, never 302)."""
    if is_htmx():
        response = make_response("", 200)
        if request.headers.get("HX-Request-Type") == "partial":
            response.headers["HX-Redirect"] = url
        else:
            response.headers["HX-Location"] = url
        return response
    return redirect(url)


def to_login() -> Response:
    next_path = request.full_path if request.method == "GET" else request.path
    next_path = next_path.rstrip("?")
    target = url_for("auth.login", next=next_path if next_path != "/" else None)
    if is_htmx():
        response = make_response("", 200)
        response.headers["HX-Redirect"] = target
        return response
    return redirect(target)


def refuse(form, error: DomainError) -> tuple[int, str | None]:
    """Show a rule's refusal on its form: next to the field it names (422), or as a
    message over the form (409 stale version, 403, or a rule about the whole form).

    Rolls the session back (nothing of the refused save is kept) and returns the status
    to answer with and the form-level message (None when it went next to a field)."""
    db.session.rollback()
    if error.status == 422 and error.field and hasattr(form, error.field):
        getattr(form, error.field).errors = [error.message]
        return 422, None
    return error.status, error.message


ERROR_TITLES = {
    400: "Bad request",
    403: "Not allowed",
    404: "Not found",
    405: "Method not allowed",
    409: "Changed meanwhile",
    413: "Too large",
    422: "Check your input",
    429: "Too many requests",
    500: "Something went wrong",
}


def url_page(query, key_col, id_col, *, descending: bool, per_page: int | None = None,
             key_of=None):
    """One keyset page of `query` at the cursor the URL carries (?after= or ?before=);
    a broken or tampered cursor is a 400. per_page defaults to TANDEM_PER_PAGE."""
    from models.paging import keyset_page

    if per_page is None:
        per_page = current_app.config.get("TANDEM_PER_PAGE", 25)
    try:
        return keyset_page(query, key_col, id_col, descending=descending,
                           after=request.args.get("after"), before=request.args.get("before"),
                           per_page=per_page, key_of=key_of)
    except ValueError as error:
        abort(400, str(error))


def error_page(status: int, message: str) -> Response:
    title = ERROR_TITLES.get(status, "Error")
    template = "errors/_fragment.html" if is_partial() else "errors/page.html"
    response = make_response(render_template(template, status=status, title=title,
                                             message=message), status)
    if is_partial():
        response.headers["Cache-Control"] = "no-store"
    return response


class BoundedInt(IntegerConverter):
    """<int:...> that only matches ids a database integer column can hold: a larger
    number typed into the address bar is a 404, not an out-of-range error (500)."""

    def __init__(self, map, fixed_digits=0, min=None, max=2**31 - 1, signed=False):
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


ID_PROBE = 2_000_000_001  # an id no table reaches, to cut a built URL around


def id_url(endpoint: str, query: dict | None = None, **arg) -> str:
    """url_for(endpoint, name=id, **query) for a list's rows: the URL is built once a
    request with a stand-in id and the row's id put in its place, not the URL map walked
    for each of hundreds of rows. One integer argument; `query`, the same for every row,
    becomes the query string as url_for makes it."""
    [(name, value)] = arg.items()
    found = g.setdefault("id_urls", {})
    key = (endpoint, name, tuple(query.items()) if query else ())
    if key not in found:
        # the id is in the path, before any query value that could spell the same digits
        head, tail = url_for(endpoint, **{name: ID_PROBE}, **(query or {})).split(
            str(ID_PROBE), 1)
        found[key] = head, tail
    head, tail = found[key]
    return f"{head}{int(value)}{tail}"


def csrf_token() -> str:
    """Flask-WTF's token for the templates, looked up once a request: a list with a form on
    each of its 250 rows would otherwise read the CSRF settings 500 times."""
    if "csrf_token_once" not in g:
        g.csrf_token_once = generate_csrf()
    return g.csrf_token_once


def init_app(app) -> None:
    """Wire the shared behaviour into the app."""
    app.url_map.converters["int"] = BoundedInt
    app.jinja_env.globals.update(can=can, ALL_ROLES=ALL_ROLES, form_key=new_form_key,
                                 id_url=id_url)
    from blueprints.pdf import currency_amount  # amounts to the currency's unit, pages and PDFs

    app.add_template_filter(currency_amount)

    nav_by_role: dict[str, frozenset[str]] = {}
    menu_by_role: dict[tuple[str, str], tuple] = {}

    @app.context_processor
    def inject_nav():
        # Menu entries appear once their view exists and the signed-in role may use it;
        # worked out once per role, since the views do not change after start-up, and
        # so are the menu's links (under the app's mount point): some 25 url_for a page.
        if not current_user.is_authenticated:
            return {"nav_endpoints": frozenset(), "menu": ()}
        role = current_user.role
        if role not in nav_by_role:
            nav_by_role[role] = frozenset(
                endpoint for endpoint, view in app.view_functions.items()
                if role in (getattr(view, "roles", None) or ()))
        key = (role, request.script_root)
        if key not in menu_by_role:
            menu_by_role[key] = tuple(
                (url_for(endpoint), label) for endpoint, label, needs in MENU
                if needs is None or (endpoint in nav_by_role[role]
                                     and (needs == "view" or role == "admin")))
        return {"nav_endpoints": nav_by_role[role], "menu": menu_by_role[key]}

    def current_company():
        from models.company import CompanySettings

        if "company" not in g:
            g.company = CompanySettings.current()
        return g.company

    # Read when a template first uses it, so fragments that never do skip the query.
    company = LocalProxy(current_company)

    @app.context_processor
    def inject_company_and_csrf():
        # csrf_token here, after Flask-WTF's own context processor, so that ours wins
        return {"company": company, "csrf_token": csrf_token}

    @app.after_request
    def end_read_only_transaction(response: Response) -> Response:
        # Once the response is made, not at teardown: a streamed response's context can
        # be torn down after another request's has begun (the test client), and the
        # session the teardown finds is then that other request's. A streamed response
        # (a CSV export) still reads as it is sent: its transaction ends as before.
        from models.transactions import end_read_only

        if not response.is_streamed and db.session.registry.has():
            end_read_only(db.session())
        return response

    @app.after_request
    def security_headers(response: Response) -> Response:
        headers = response.headers
        headers.setdefault("Content-Security-Policy", current_app.config.get("CSP", CSP))
        headers["X-Content-Type-Options"] = "nosniff"
        headers["Referrer-Policy"] = "same-origin"
        headers["X-Frame-Options"] = "DENY"
        headers["Cross-Origin-Opener-Policy"] = "same-origin"
        headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"
        if current_app.config.get("TANDEM_HTTPS"):
            headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
        if request.endpoint != "static":
            response.vary.update(("HX-Request", "HX-Request-Type", "Cookie"))
            headers.setdefault("Cache-Control", "no-store")
        return response

    @app.errorhandler(CSRFError)
    def csrf_error(error):
        db.session.rollback()
        return error_page(400, "This form has expired or was not sent from Tandem. "
                               "Reload the page and try again.")

    @app.errorhandler(AlreadySubmitted)
    def already_submitted(error: AlreadySubmitted):
        # A repeat of a document-creating form (double click, second tab, retry): show
        # what the first submission made instead of making it again.
        db.session.rollback()
        target = safe_next(error.result_url)
        if target is None:
            return error_page(409, "This form was already submitted. Reload the page to "
                                   "see the result.")
        flash("That was already done; here is the result.", "info")
        return redirect_to(target)

    @app.errorhandler(DomainError)
    def domain_error(error: DomainError):
        db.session.rollback()
        return error_page(error.status, error.message)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        db.session.rollback()
        messages = {
            403: "Your role may not open this page.",
            404: "There is nothing at this address. It may have been removed.",
            405: "This address does not accept that kind of request.",
            413: "The upload is too large.",
        }
        return error_page(error.code or 500,
                          messages.get(error.code, error.description or "Error"))

    @app.errorhandler(500)
    def server_error(error):
        db.session.rollback()
        return error_page(500, "Tandem hit an error. It has been logged; try again.")

