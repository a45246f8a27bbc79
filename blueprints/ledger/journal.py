"""The journal, the chart of accounts and the lock date: finance's view of the books.

Posted entries are only read here; the one way to change the books is a new entry (a
manual entry, or the reversal of one), posted through models.ledger.post_entry, which
refuses an entry that does not balance, falls in a closed period, or touches an archived
or control account. Every GET only reads: the default chart is loaded by a POST (a
button, or the first account added), never by opening a page.

Lists page by keyset on (date, id), newest first. models.paging encodes datetimes in its
cursors, not dates, so the date column is sorted through `_DayKey`, which binds the
cursor's datetime back as its day.
"""

from datetime import date, datetime, time
from decimal import Decimal

from flask import abort, flash, request, url_for
from flask_login import current_user
from sqlalchemy import Date, func, or_, select, type_coerce
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.exc import StaleDataError
from sqlalchemy.types import TypeDecorator

from blueprints.forms import choices
from blueprints.ledger import bp
from blueprints.ledger.journal_forms import (
    MAX_LINES,
    EditAccountForm,
    JournalEntryForm,
    LockDateForm,
    NewAccountForm,
    ReverseForm,
)
from blueprints.web import redirect_to, refuse, render, roles, url_page
from models import AuditEntry, db
from models.catalog import Supplier
from models.customers import Customer
from models.errors import DomainError
from models.formkeys import claim_form_key, settle_form_key
from models.ledger import (
    ACCOUNT_TYPES,
    LEDGER_ROLES,
    ROLE_LABELS,
    SOURCE_LABELS,
    TYPE_LABELS,
    ZERO,
    Account,
    JournalEntry,
    JournalLine,
    Posting,
    account_balance,
    create_account,
    ensure_chart,
    post_entry,
    reversal_of,
    reverse_entry,
    set_lock_date,
    sum_money,
    update_account,
)
from models.ledger import lock_date as closed_until
from models.purchasing import Receipt
from models.sales import Shipment

JOURNAL_PARAMS = {"source_type", "from", "to", "q", "after", "before"}
ACCOUNT_PARAMS = {"from", "to", "after", "before"}
MAX_ID = 2**31 - 1
MAX_SEARCH = 100
STALE = ("This was changed by someone else a moment ago. Reload to see their change, "
         "then make yours again.")
# The pages of the documents entries are posted from, by source type: (endpoint, the
# argument that carries source_id). Shipments and receipts link to their order instead.
DOCUMENT_PAGES = {
    "invoice": ("ledger.invoice", "invoice_id"),
    "credit_note": ("ledger.credit_note", "invoice_id"),
    "payment": ("ledger.payment", "payment_id"),
    "supplier_payment": ("ledger.payment", "payment_id"),
    "bill": ("ledger.bill", "bill_id"),
}


# --- Shared pieces -----------------------------------------------------------------------

class _DayKey(TypeDecorator):
    """A Date column as a keyset sort key: cursors carry a datetime at midnight, bound
    back to the SQL as the day it names (anything else is refused: a 400)."""

    impl = Date
    cache_ok = True

    @property
    def python_type(self):
        return datetime

    def process_bind_param(self, value, dialect):
        if isinstance(value, datetime):
            return value.date()
        if value is None or isinstance(value, date):
            return value
        raise TypeError("not a day")


def _by_day(column):
    return type_coerce(column, _DayKey())


def _day_key(day: date) -> datetime:
    return datetime.combine(day, time.min)


def _only_args(allowed: set[str]) -> None:
    unknown = set(request.args) - allowed
    if unknown:
        abort(400, f"Unknown filter: {', '.join(sorted(unknown))}.")


def _day_arg(name: str) -> date | None:
    """A date filter from the URL (2026-03-31), None when blank; 400 otherwise."""
    value = request.args.get(name, "").strip()
    if not value:
        return None
    try:
        if len(value) != 10:
            raise ValueError
        return date.fromisoformat(value)
    except ValueError:
        abort(400, f"The {name} date is not a date like 2026-03-31.")


def _entry_or_404(entry_id: int) -> JournalEntry:
    return db.session.get(JournalEntry, entry_id) or abort(404)


def _account_or_404(account_id: int) -> Account:
    return db.session.get(Account, account_id) or abort(404)


def source_links(entries) -> dict[int, tuple[str, dict]]:
    """{entry id: (endpoint, url arguments)} of the document each entry was posted from,
    for the entries that have one. The template links only endpoints the user may use
    (and that exist): `link[0] in nav_endpoints`."""
    shipment_ids = {e.source_id for e in entries if e.source_type == "shipment" and e.source_id}
    receipt_ids = {e.source_id for e in entries if e.source_type == "receipt" and e.source_id}
    shipped = dict(db.session.execute(
        select(Shipment.id, Shipment.order_id).where(Shipment.id.in_(shipment_ids))).all()) \
        if shipment_ids else {}
    received = dict(db.session.execute(
        select(Receipt.id, Receipt.order_id).where(Receipt.id.in_(receipt_ids))).all()) \
        if receipt_ids else {}
    links = {}
    for entry in entries:
        if entry.source_id is None:
            continue
        if entry.source_type in DOCUMENT_PAGES:
            endpoint, arg = DOCUMENT_PAGES[entry.source_type]
            links[entry.id] = (endpoint, {arg: entry.source_id})
        elif entry.source_type == "shipment" and entry.source_id in shipped:
            links[entry.id] = ("orders.sales_order", {"order_id": shipped[entry.source_id]})
        elif entry.source_type == "receipt" and entry.source_id in received:
            links[entry.id] = ("orders.purchase", {"order_id": received[entry.source_id]})
    return links


def _partner_names(lines) -> tuple[dict[int, str], dict[int, str]]:
    """({customer id: name}, {supplier id: name}) of the partners on `lines`."""
    customer_ids = {line.customer_id for line in lines if line.customer_id}
    supplier_ids = {line.supplier_id for line in lines if line.supplier_id}
    customers = dict(db.session.execute(
        select(Customer.id, Customer.name).where(Customer.id.in_(customer_ids))).all()) \
        if customer_ids else {}
    suppliers = dict(db.session.execute(
        select(Supplier.id, Supplier.name).where(Supplier.id.in_(supplier_ids))).all()) \
        if supplier_ids else {}
    return customers, suppliers


# --- The journal -------------------------------------------------------------------------

def _journal_filters() -> dict:
    """The journal's filters from the URL: whitelisted names and values, else 400."""
    _only_args(JOURNAL_PARAMS)
    source_type = request.args.get("source_type", "")
    if source_type and source_type not in SOURCE_LABELS:
        abort(400, "Unknown source filter.")
    q = request.args.get("q", "").strip()
    if len(q) > MAX_SEARCH or any(ord(ch) < 32 for ch in q):
        abort(400, f"Search for at most {MAX_SEARCH} characters of plain text.")
    return {"source_type": source_type, "from": _day_arg("from"), "to": _day_arg("to"),
            "q": q}


@bp.route("/journal")
@roles(*LEDGER_ROLES)
def journal():
    """Journal entries, newest first, each with its source document and total: filtered
    by source, a date range, and a search in number, reference and memo."""
    filters = _journal_filters()
    query = select(JournalEntry)
    if filters["source_type"]:
        query = query.where(JournalEntry.source_type == filters["source_type"])
    if filters["from"]:
        query = query.where(JournalEntry.entry_date >= filters["from"])
    if filters["to"]:
        query = query.where(JournalEntry.entry_date <= filters["to"])
    if filters["q"]:
        needle = filters["q"].lower()
        query = query.where(or_(
            *(func.lower(column).contains(needle, autoescape=True)
              for column in (JournalEntry.number, JournalEntry.reference, JournalEntry.memo))))
    page = url_page(query, _by_day(JournalEntry.entry_date), JournalEntry.id, descending=True,
                    key_of=lambda entry: _day_key(entry.entry_date))
    totals = {}
    if page.items:
        totals = dict(db.session.execute(
            select(JournalLine.entry_id, sum_money(JournalLine.debit))
            .where(JournalLine.entry_id.in_([entry.id for entry in page.items]))
            .group_by(JournalLine.entry_id)).all())
    shown = {key: value.isoformat() if isinstance(value, date) else value
             for key, value in filters.items()}
    return render("ledger/journal.html", block="results", page=page, filters=shown,
                  totals=totals, links=source_links(page.items), sources=SOURCE_LABELS)


@bp.route("/journal/<int:entry_id>", endpoint="entry")
@roles(*LEDGER_ROLES)
def show_entry(entry_id: int):
    """A posted entry: its lines with accounts and partners, totals, who posted it, its
    hash, its source document, what reverses it or what it reverses; a manual entry not
    yet reversed can be reversed here."""
    return _entry_page(_entry_or_404(entry_id))


def _entry_page(entry: JournalEntry, *, form: ReverseForm | None = None, status: int = 200,
                message: str | None = None):
    lines = list(entry.lines)
    customers, suppliers = _partner_names(lines)
    reversal = reversal_of(entry)
    if form is None:
        form = ReverseForm(formdata=None, entry_date=max(date.today(), entry.entry_date))
    return render("ledger/entry.html", status=status, entry=entry, lines=lines,
                  customers=customers, suppliers=suppliers,
                  debits=sum((line.debit for line in lines), ZERO),
                  credits=sum((line.credit for line in lines), ZERO),
                  link=source_links([entry]).get(entry.id), reversal=reversal,
                  may_reverse=entry.source_type == "manual" and reversal is None,
                  form=form, message=message)


@bp.route("/journal/<int:entry_id>/reverse", endpoint="reverse_entry", methods=["POST"])
@roles(*LEDGER_ROLES)
def reverse(entry_id: int):
    """Reverse a manual entry with a new entry on the other side, dated and explained."""
    entry = _entry_or_404(entry_id)
    form = ReverseForm()
    status, message = 422, None
    if form.validate():
        try:
            reversal = reverse_entry(entry, on=form.entry_date.data, reason=form.reason.data,
                                     by=current_user)
            db.session.commit()
        except IntegrityError:
            # another reversal of the same entry committed first (unique reverses_id)
            db.session.rollback()
            message = f"{entry.number} was already reversed."
        except DomainError as error:
            status, message = refuse(form, error)
        else:
            flash(f"{entry.number} is reversed by {reversal.number}.", "success")
            return redirect_to(url_for("ledger.entry", entry_id=reversal.id))
    return _entry_page(_entry_or_404(entry_id), form=form, status=status, message=message)


# --- A manual entry ----------------------------------------------------------------------

def _posting_accounts() -> list[Account]:
    """The accounts people post to by hand: active, not a control account."""
    return list(db.session.scalars(
        select(Account).where(Account.active.is_(True), Account.control.is_(None))
        .order_by(Account.code)))


def _typed(field) -> str:
    return (field.raw_data[0] if field.raw_data else "").strip()


def _amount(field) -> Decimal | None:
    """A line's parsed amount, None when blank, junk or negative."""
    value = field.data
    return value if value is not None and value >= 0 else None


def _totals(form: JournalEntryForm) -> dict:
    """The running totals of what was typed (amounts that parse)."""
    debits = sum((_amount(row.form.debit) or ZERO for row in form.lines), ZERO)
    credits = sum((_amount(row.form.credit) or ZERO for row in form.lines), ZERO)
    return {"debits": debits, "credits": credits, "difference": debits - credits}


def _read_lines(form: JournalEntryForm) -> list[Posting] | None:
    """The validated form's lines as postings; None when a line has a problem (the
    message is put next to its field). Empty lines are ignored."""
    postings, ok = [], True
    for row in form.lines:
        line = row.form
        account_text = (line.account_id.data or "").strip()
        typed = [account_text, _typed(line.debit), _typed(line.credit), _typed(line.memo)]
        if not any(typed):
            continue
        if line.debit.errors or line.credit.errors or line.memo.errors:
            ok = False
            continue
        account = None
        if account_text.isdigit() and len(account_text) < 10:
            account = db.session.get(Account, int(account_text))
        debit, credit = line.debit.data or ZERO, line.credit.data or ZERO
        if account is None:
            line.account_id.errors.append("Choose an account." if not account_text
                                          else "Choose an account from the list.")
            ok = False
        elif account.control:
            # not offered; post_entry refuses it too, this puts the message on the line
            line.account_id.errors.append(f"{account.label} is kept by invoices, payments "
                                          "and bills; choose another account.")
            ok = False
        elif not account.active:
            line.account_id.errors.append(f"{account.label} is archived; choose an active "
                                          "account.")
            ok = False
        elif debit and credit:
            line.credit.errors.append("Enter either a debit or a credit, not both.")
            ok = False
        elif not debit and not credit:
            line.debit.errors.append("Enter a debit or a credit.")
            ok = False
        else:
            postings.append(Posting(account, debit - credit, (line.memo.data or "").strip()))
    return postings if ok else None


@bp.route("/journal/new", methods=["GET", "POST"])
@roles(*LEDGER_ROLES)
def new_entry():
    """A manual journal entry: a date, a memo and balanced lines on accounts people post
    to. "Add a line" gives one more row and keeps what was typed. A repeat of the form
    (double click, retry) lands on the entry the first one posted."""
    form = JournalEntryForm()
    status, message, totals = 200, None, None
    if request.method == "GET":
        _only_args(set())
        form.entry_date.data = date.today()
    elif "add_line" in request.form:
        if len(form.lines) < MAX_LINES:
            form.lines.append_entry()
        else:
            message = f"An entry has at most {MAX_LINES} lines."
        totals = _totals(form)
    else:
        status = 422
        valid = form.validate()
        totals = _totals(form)
        postings = _read_lines(form)
        if valid and postings is not None:
            # claimed outside the try: AlreadySubmitted must reach the app's handler
            key = request.form.get("form_key")
            claim_form_key(key, "journal_entry", by=current_user)
            try:
                entry = post_entry(form.entry_date.data, postings,
                                   memo=(form.memo.data or "").strip(), by=current_user)
            except DomainError as error:
                status, message = refuse(form, error)      # the claim rolls back too
            else:
                url = url_for("ledger.entry", entry_id=entry.id)
                settle_form_key(key, url)
                db.session.commit()
                flash(f"{entry.number} is posted.", "success")
                return redirect_to(url)
    accounts = _posting_accounts()
    options = choices([("", "Choose an account")]
                      + [(str(account.id), account.label) for account in accounts])
    for row in form.lines:
        row.form.account_id.choices = options
    return render("ledger/journal_new.html", block="entry_form", status=status, form=form,
                  message=message, totals=totals, has_accounts=bool(accounts),
                  closed=closed_until(), max_lines=MAX_LINES)


# --- The chart of accounts ---------------------------------------------------------------

def _natural(account: Account, raw: Decimal) -> Decimal:
    """A balance on the account's normal side (debits - credits for assets and expenses,
    credits - debits for the rest): positive is the usual case."""
    return raw if account.debit_normal else -raw


@bp.route("/accounts")
@roles(*LEDGER_ROLES)
def accounts():
    """The chart of accounts by type: code, name, what automatic postings use each for,
    cash and archived flags, and each balance (with a total per type)."""
    _only_args(set())
    found = list(db.session.scalars(select(Account).order_by(Account.code, Account.id)))
    raw = dict(db.session.execute(
        select(JournalLine.account_id, sum_money(JournalLine.debit - JournalLine.credit))
        .group_by(JournalLine.account_id)).all())
    balances = {account.id: _natural(account, raw.get(account.id, ZERO)) for account in found}
    groups = []
    for kind in ACCOUNT_TYPES:
        members = [account for account in found if account.type == kind]
        groups.append((kind, TYPE_LABELS[kind], members,
                       sum((balances[account.id] for account in members), ZERO)))
    return render("ledger/accounts.html", groups=groups, balances=balances,
                  empty=not found, role_labels=ROLE_LABELS)


@bp.route("/accounts/defaults", methods=["POST"])
@roles(*LEDGER_ROLES)
def load_chart():
    """Load the default small-business chart (accounts already there are kept)."""
    ensure_chart()
    db.session.commit()
    flash("The default chart of accounts is loaded.", "success")
    return redirect_to(url_for("ledger.accounts"))


@bp.route("/accounts/<int:account_id>", endpoint="account")
@roles(*LEDGER_ROLES)
def show_account(account_id: int):
    """An account: its balance, and its lines newest first (date, entry, memo, partner,
    debit, credit), optionally from/to a date, with the totals of that range."""
    account = _account_or_404(account_id)
    _only_args(ACCOUNT_PARAMS)
    start, end = _day_arg("from"), _day_arg("to")
    conditions = [JournalLine.account_id == account.id]
    if start:
        conditions.append(JournalLine.entry_date >= start)
    if end:
        conditions.append(JournalLine.entry_date <= end)
    query = select(JournalLine).where(*conditions).options(joinedload(JournalLine.entry))
    page = url_page(query, _by_day(JournalLine.entry_date), JournalLine.id, descending=True,
                    key_of=lambda line: _day_key(line.entry_date))
    movement = None
    if start or end:
        debits, credits = db.session.execute(
            select(sum_money(JournalLine.debit), sum_money(JournalLine.credit))
            .where(*conditions)).one()
        movement = {"debits": debits, "credits": credits}
    customers, suppliers = _partner_names(page.items)
    filters = {"account_id": account.id, "from": start.isoformat() if start else "",
               "to": end.isoformat() if end else ""}
    return render("ledger/account.html", block="results", account=account, page=page,
                  filters=filters, movement=movement,
                  balance=_natural(account, account_balance(account.id)),
                  customers=customers, suppliers=suppliers, role_labels=ROLE_LABELS,
                  history=AuditEntry.for_subject("account", account.id))


def _type_choices():
    return choices([("", "Choose a type")] + list(TYPE_LABELS.items()))


@bp.route("/accounts/new", methods=["GET", "POST"])
@roles(*LEDGER_ROLES)
def new_account():
    """Add an account people post to (asset, liability, equity, income or expense)."""
    form = NewAccountForm()
    form.type.choices = _type_choices()
    status, message = 200, None
    if request.method == "GET":
        _only_args(set())
    else:
        status = 422
        if form.validate():
            try:
                ensure_chart()      # the defaults first, so a new code cannot take theirs
                account = create_account(code=form.code.data, name=form.name.data,
                                         type=form.type.data, is_cash=bool(form.is_cash.data),
                                         description=form.description.data or "")
                db.session.commit()
            except IntegrityError:
                db.session.rollback()
                form.code.errors = [f"Account {form.code.data.strip()} already exists."]
            except DomainError as error:
                status, message = refuse(form, error)
            else:
                flash(f"Account {account.label} is added.", "success")
                return redirect_to(url_for("ledger.account", account_id=account.id))
    return render("ledger/account_form.html", status=status, form=form, account=None,
                  message=message, history=[])


@bp.route("/accounts/<int:account_id>/edit", methods=["GET", "POST"])
@roles(*LEDGER_ROLES)
def edit_account(account_id: int):
    """Rename an account, renumber it before its first posting, mark it a bank or cash
    account, or archive it (version-checked: a stale save says who changed it)."""
    account = _account_or_404(account_id)
    status, message = 200, None
    if request.method == "GET":
        _only_args(set())
        form = EditAccountForm(obj=account)
        form.version.data = account.version
    else:
        form = EditAccountForm()
        status = 422
        if form.validate():
            try:
                update_account(account, version=form.version.data, code=form.code.data,
                               name=form.name.data, active=bool(form.active.data),
                               is_cash=bool(form.is_cash.data),
                               description=form.description.data or "")
                db.session.commit()
            except StaleDataError:
                db.session.rollback()
                status, message = 409, STALE
            except IntegrityError:
                db.session.rollback()
                form.code.errors = [f"Account {form.code.data.strip()} already exists."]
            except DomainError as error:
                status, message = refuse(form, error)
            else:
                flash(f"Account {account.label} is saved.", "success")
                return redirect_to(url_for("ledger.account", account_id=account.id))
        account = _account_or_404(account_id)
    return render("ledger/account_form.html", status=status, form=form, account=account,
                  message=message, history=AuditEntry.for_subject("account", account.id))


# --- The lock date -----------------------------------------------------------------------

@bp.route("/lock-date", endpoint="lock_date", methods=["GET", "POST"])
@roles(*LEDGER_ROLES)
def lock_date_page():
    """The day the books are closed up to, and a form to close a later one (only an
    admin may move it back and reopen a period)."""
    form = LockDateForm()
    status, message = 200, None
    if request.method == "GET":
        _only_args(set())
        form.lock_date.data = closed_until()
    else:
        status = 422
        if form.validate():
            try:
                day = set_lock_date(form.lock_date.data, by=current_user)
                db.session.commit()
            except DomainError as error:
                status, message = refuse(form, error)
            else:
                flash(f"The books are closed up to {day:%d %b %Y}." if day else
                      "Every period is open again.", "success")
                return redirect_to(url_for("ledger.lock_date"))
    changes = [entry for entry in AuditEntry.for_subject("company", 1)
               if any(name == "lock_date" for name, _, _ in entry.change_list)][:10]
    return render("ledger/lock_date.html", status=status, form=form, current=closed_until(),
                  message=message, changes=changes, may_reopen=current_user.role == "admin")
