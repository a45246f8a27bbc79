"""The general ledger: the chart of accounts, journal entries and the rules of posting.

Double entry: a journal entry's lines balance (debits = credits, to the cent, in the base
currency). An entry is posted when it is made and is never changed or deleted afterwards
(the model layer refuses it at flush); a mistake is corrected by a reversing entry.
Numbers (JE-YYYY-NNNN) come from the locked document counter inside the posting
transaction, so they are gapless.

Each posted entry also joins a hash chain: it stores SHA-256 over its own content and
the previous entry's hash, so an edit made behind the app's back (in SQL) breaks the
chain where it happened; `check-books` walks it. Posted invoices and credit notes have
chains of their own (models.invoicing). The chain's head is one row per chain, locked by
the posting transaction, so two postings at the same moment queue and the chain stays
a line.

Accounts that postings need are found by `role` ("receivable", "sales", "bank", ...):
people may rename and renumber accounts without breaking the automatic postings. The
receivable and payable accounts are control accounts: every line on them names the
customer or supplier (their sub-ledger), and manual entries may not touch them.

A lock date closes a period: nothing posts on or before it.
"""

import hashlib
import json
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    event,
    func,
    inspect,
    select,
    type_coerce,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from models import db
from models.company import CompanySettings, currency_places
from models.errors import DomainError
from models.sequences import insert_ignore, next_number
from models.transactions import transaction_memo
from models.types import Money, round_money
from models.users import User, utcnow
from models.versioned import Versioned

ACCOUNT_TYPES = ("asset", "liability", "equity", "income", "expense")
TYPE_LABELS = {"asset": "Asset", "liability": "Liability", "equity": "Equity",
               "income": "Income", "expense": "Expense"}
CONTROLS = ("receivable", "payable")
# Debit-normal types: their balance is debits - credits; the others credits - debits.
DEBIT_NORMAL = ("asset", "expense")
LEDGER_ROLES = ("admin", "finance")       # who posts, and who sees the journal
GENESIS = "0" * 64
ZERO = Decimal("0.00")

# The small-business chart loaded on first use: code, name, type, control, role, cash.
# Roles are how automatic postings find their accounts (see the module docstring).
DEFAULT_CHART = [
    ("1000", "Cash", "asset", None, "cash", True),
    ("1100", "Bank account", "asset", None, "bank", True),
    ("1200", "Accounts receivable", "asset", "receivable", "receivable", False),
    ("1300", "Inventory", "asset", None, "inventory", False),
    ("1400", "Input tax (VAT receivable)", "asset", None, "tax_in", False),
    ("1500", "Prepaid expenses", "asset", None, None, False),
    ("1700", "Equipment", "asset", None, None, False),
    ("2000", "Accounts payable", "liability", "payable", "payable", False),
    ("2100", "Goods received not invoiced", "liability", None, "grni", False),
    ("2200", "Output tax (VAT payable)", "liability", None, "tax_out", False),
    ("2300", "Accrued liabilities", "liability", None, None, False),
    ("2400", "Loans", "liability", None, None, False),
    ("3000", "Owner's capital", "equity", None, "capital", False),
    ("3100", "Retained earnings", "equity", None, "retained", False),
    ("4000", "Sales of goods", "income", None, "sales", False),
    ("4100", "Service income", "income", None, "services", False),
    ("4900", "Exchange rate differences", "income", None, "fx", False),
    ("5000", "Cost of goods sold", "expense", None, "cogs", False),
    ("5100", "Purchase price differences", "expense", None, "price_diff", False),
    ("5200", "Inventory adjustments", "expense", None, "stock_adjust", False),
    ("5300", "Purchased services", "expense", None, "purchases", False),
    ("6000", "Rent", "expense", None, None, False),
    ("6100", "Salaries", "expense", None, None, False),
    ("6200", "Utilities", "expense", None, None, False),
    ("6300", "Office supplies", "expense", None, None, False),
    ("6400", "Bank charges", "expense", None, None, False),
    ("6500", "Marketing", "expense", None, None, False),
    ("6900", "Other expenses", "expense", None, None, False),
]
ROLE_LABELS = {
    "cash": "cash", "bank": "the default bank account", "receivable": "receivables",
    "inventory": "inventory", "tax_in": "input tax", "payable": "payables",
    "grni": "goods received not invoiced", "tax_out": "output tax", "capital": "capital",
    "retained": "retained earnings", "sales": "sales of goods", "services": "service income",
    "fx": "exchange differences", "cogs": "cost of goods sold",
    "price_diff": "purchase price differences", "stock_adjust": "inventory adjustments",
    "purchases": "purchased services",
}


def base_currency() -> str:
    return CompanySettings.current().base_currency


def base_places() -> int:
    return currency_places(base_currency())


def to_base(amount: Decimal, rate: Decimal) -> Decimal:
    """An amount in a document's currency at `rate` (base per unit), half-up to the base
    currency's unit."""
    return round_money(Decimal(amount) * Decimal(rate), base_places())


# --- Accounts ----------------------------------------------------------------------------

class Account(Versioned, db.Model):
    """An account of the chart.

    Attributes:
        code: unique, "1200"; fixed once the account has postings.
        type: one of ACCOUNT_TYPES.
        control: "receivable" or "payable" for the control accounts of the sub-ledgers;
            None for the rest.
        role: what automatic postings use it for ("sales", "bank", ...), unique; None for
            an account only people post to.
        is_cash: a bank or cash account payments go in and out of.
        active: False hides it from new postings; its history stays.
    """

    __tablename__ = "accounts"
    __audit__ = True
    __table_args__ = (
        CheckConstraint(f"type IN {ACCOUNT_TYPES!r}", name="type"),
        CheckConstraint(f"control IS NULL OR control IN {CONTROLS!r}", name="control"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(10), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    type: Mapped[str] = mapped_column(String(10))
    control: Mapped[str | None] = mapped_column(String(10))
    role: Mapped[str | None] = mapped_column(String(20), unique=True)
    is_cash: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    description: Mapped[str] = mapped_column(String(500), default="")

    def __repr__(self) -> str:
        return f"<Account {self.code} {self.name}>"

    @property
    def audit_subject(self):
        return ("account", self.id)

    @property
    def label(self) -> str:
        return f"{self.code} · {self.name}"

    @property
    def type_label(self) -> str:
        return TYPE_LABELS[self.type]

    @property
    def debit_normal(self) -> bool:
        return self.type in DEBIT_NORMAL


def ensure_chart() -> None:
    """The default chart, when accounts are missing (first run, after a wipe). Safe from
    two transactions at once: each row is an insert that ignores a duplicate."""
    if db.session.scalar(select(func.count(Account.id))) >= len(DEFAULT_CHART):
        return
    now = utcnow()
    for code, name, kind, control, role, cash in DEFAULT_CHART:
        taken = role and db.session.scalar(select(Account.id).where(Account.role == role))
        db.session.execute(insert_ignore(
            Account, code=code, name=name, type=kind, control=control,
            role=None if taken else role, is_cash=cash, active=True, description="",
            version=1, updated_at=now))


def account_for(role: str) -> Account:
    """The account automatic postings use for `role`.

    The accounts with a role are read together, once a transaction: a shipment posts to
    two of them, an invoice to three or more, and the chart changes in a transaction of
    its own."""
    found = transaction_memo(db.session, "role accounts", _role_accounts).get(role)
    if found is None:
        ensure_chart()
        found = db.session.scalar(select(Account).where(Account.role == role))
    if found is None:
        raise DomainError(f"No account is set for {ROLE_LABELS.get(role, role)}; set one "
                          "in the chart of accounts.")
    return found


def _role_accounts() -> dict[str, Account]:
    return {account.role: account for account in db.session.scalars(
        select(Account).where(Account.role.is_not(None)))}


def cash_accounts() -> list[Account]:
    """Bank and cash accounts payments can go through, default bank first."""
    return list(db.session.scalars(
        select(Account).where(Account.is_cash.is_(True), Account.active.is_(True))
        .order_by((Account.role == "bank").desc(), Account.code)))


def has_postings(account_id: int) -> bool:
    return db.session.scalar(
        select(JournalLine.id).where(JournalLine.account_id == account_id).limit(1)) is not None


def create_account(*, code: str, name: str, type: str, is_cash: bool = False,
                   description: str = "") -> Account:
    """An account people post to (control accounts and roles come with the chart)."""
    code, name = (code or "").strip(), (name or "").strip()
    _check_account_fields(code, name, type, is_cash)
    if db.session.scalar(select(Account.id).where(Account.code == code)) is not None:
        raise DomainError(f"Account {code} already exists.", field="code")
    account = Account(code=code, name=name, type=type, is_cash=is_cash, active=True,
                      description=(description or "").strip()[:500])
    db.session.add(account)
    db.session.flush()
    return account


def update_account(account: Account, *, version, code: str, name: str, active: bool,
                   is_cash: bool, description: str = "") -> Account:
    """Rename, renumber (before its first posting) or archive an account."""
    account.check_version(version)
    code, name = (code or "").strip(), (name or "").strip()
    _check_account_fields(code, name, account.type, is_cash)
    if code != account.code:
        if has_postings(account.id):
            raise DomainError("This account has postings; its code stays as it is.",
                              field="code")
        if db.session.scalar(select(Account.id).where(Account.code == code)) is not None:
            raise DomainError(f"Account {code} already exists.", field="code")
    if not active and (account.role or account.control):
        raise DomainError("Automatic postings use this account; it stays active.",
                          field="active")
    account.code, account.name, account.active = code, name, active
    account.is_cash = is_cash
    account.description = (description or "").strip()[:500]
    return account


def _check_account_fields(code: str, name: str, type: str, is_cash: bool) -> None:
    if not code:
        raise DomainError("Enter a code, like 6150.", field="code")
    if len(code) > 10 or not code.replace("-", "").replace(".", "").isalnum():
        raise DomainError("Use up to 10 letters and digits (dots and dashes allowed).",
                          field="code")
    if not name:
        raise DomainError("Enter a name.", field="name")
    if len(name) > 100:
        raise DomainError("Use at most 100 characters.", field="name")
    if type not in ACCOUNT_TYPES:
        raise DomainError("Choose a type.", field="type")
    if is_cash and type != "asset":
        raise DomainError("Only an asset account can be a bank or cash account.",
                          field="is_cash")


# --- The lock date -----------------------------------------------------------------------

def lock_date() -> date | None:
    """The last closed day: nothing posts on or before it (None: nothing is closed)."""
    return CompanySettings.current().lock_date


def check_open(day: date, *, field: str | None = None, what: str = "This") -> None:
    """Refuse a posting dated on or before the lock date."""
    closed = lock_date()
    if closed is not None and day <= closed:
        raise DomainError(f"The books are closed up to {closed:%d %b %Y}. {what} must be "
                          f"dated after that.", field=field)


def set_lock_date(day: date | None, *, by: User) -> date | None:
    """Close the books up to `day`. Only an admin may reopen (move it back); it cannot
    pass today (a day still going on is not closed)."""
    settings = db.session.get(CompanySettings, 1)
    if settings is None:
        settings = CompanySettings.current()
        db.session.add(settings)
    current = settings.lock_date
    if day is not None and day >= date.today():
        raise DomainError("Close a day that has ended: choose a date before today.",
                          field="lock_date")
    reopening = current is not None and (day is None or day < current)
    if reopening and by.role != "admin":
        raise DomainError("Only an admin may reopen a closed period.", field="lock_date")
    settings.lock_date = day
    db.session.flush()
    return day


# --- Hash chains -------------------------------------------------------------------------

class ChainHead(db.Model):
    """The last link of one hash chain ("journal", "invoice", "credit_note")."""

    __tablename__ = "ledger_chains"

    kind: Mapped[str] = mapped_column(String(20), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, default=0)
    last_hash: Mapped[str] = mapped_column(String(64), default=GENESIS)


def advance_chain(kind: str) -> tuple[int, str]:
    """Take the next place in a chain: (its sequence number, the previous hash). The
    head row stays locked until the transaction ends, so chains never fork."""
    table = ChainHead.__table__
    take = (update(table).where(table.c.kind == kind).values(seq=table.c.seq + 1)
            .returning(table.c.seq, table.c.last_hash))
    head = db.session.execute(take).one_or_none()
    if head is None:  # the chain's first link: its head, made once
        db.session.execute(insert_ignore(ChainHead, kind=kind, seq=0, last_hash=GENESIS))
        head = db.session.execute(take).one()
    return head.seq, head.last_hash


def close_link(kind: str, digest: str) -> None:
    table = ChainHead.__table__
    db.session.execute(update(table).where(table.c.kind == kind).values(last_hash=digest))


def chain_hash(prev_hash: str, content: dict) -> str:
    """SHA-256 over the previous hash and the content as canonical JSON."""
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256((prev_hash + "\n" + text).encode("utf-8")).hexdigest()


def amount_text(value: Decimal | None) -> str | None:
    """An amount as fixed text for hashing ("12.50"): the same value hashes the same on
    both databases."""
    return None if value is None else f"{Decimal(value):.2f}"


# --- Journal entries ---------------------------------------------------------------------

SOURCE_LABELS = {
    "manual": "Manual entry", "reversal": "Reversal", "invoice": "Invoice",
    "credit_note": "Credit note", "payment": "Customer payment",
    "supplier_payment": "Supplier payment", "allocation": "Exchange difference",
    "shipment": "Shipment (cost of goods)", "receipt": "Goods receipt",
    "bill": "Vendor bill", "count": "Stock count", "stock_move": "Stock write-off or take-in",
}


class JournalEntry(db.Model):
    """A posted journal entry: balanced lines on one date, never changed.

    Attributes:
        number: JE-YYYY-NNNN, given at posting.
        entry_date: the accounting date (the document's date).
        source_type, source_id: the document it was posted from ("invoice", 12), or
            "manual"/"reversal" with None; reference: that document's number.
        reverses_id: the entry this one reverses; None for the rest.
        chain_seq, prev_hash, hash: its place in the journal's hash chain.
    """

    __tablename__ = "journal_entries"
    __table_args__ = (
        Index("ix_journal_entries_source", "source_type", "source_id"),
        Index("ix_journal_entries_date_id", "entry_date", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    entry_date: Mapped[date] = mapped_column(Date)
    memo: Mapped[str] = mapped_column(String(200), default="")
    source_type: Mapped[str] = mapped_column(String(20), default="manual")
    source_id: Mapped[int | None] = mapped_column(Integer)
    reference: Mapped[str] = mapped_column(String(40), default="")
    reverses_id: Mapped[int | None] = mapped_column(
        ForeignKey("journal_entries.id", ondelete="RESTRICT"), unique=True)
    posted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    posted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id",
                                                                ondelete="SET NULL"))
    chain_seq: Mapped[int] = mapped_column(Integer, unique=True)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))

    lines: Mapped[list["JournalLine"]] = relationship(
        back_populates="entry", order_by="JournalLine.id")
    posted_by: Mapped[User | None] = relationship(lazy="select")
    reverses: Mapped["JournalEntry | None"] = relationship(remote_side=[id], lazy="select")

    def __repr__(self) -> str:
        return f"<JournalEntry {self.number}>"

    @property
    def source_label(self) -> str:
        return SOURCE_LABELS.get(self.source_type, self.source_type)

    @property
    def total(self) -> Decimal:
        return sum((line.debit for line in self.lines), ZERO)

    def content(self) -> dict:
        """What the hash covers: every fact of the entry and its lines."""
        return {
            "number": self.number, "date": self.entry_date.isoformat(), "memo": self.memo,
            "source": [self.source_type, self.source_id, self.reference],
            "reverses": self.reverses_id,
            "lines": [[line.account_id, amount_text(line.debit), amount_text(line.credit),
                       line.customer_id, line.supplier_id, line.memo]
                      for line in self.lines],
        }


class JournalLine(db.Model):
    """One debit or credit of an entry.

    Attributes:
        debit, credit: in the base currency; one of them is zero.
        customer_id / supplier_id: whose sub-ledger the line belongs to (required on the
            receivable / payable control accounts); None elsewhere.
        entry_date: the entry's date, kept on the line for fast reports by account and
            period.
    """

    __tablename__ = "journal_lines"
    __table_args__ = (
        CheckConstraint("debit >= 0 AND credit >= 0", name="amounts"),
        CheckConstraint("(debit = 0) <> (credit = 0)", name="one_side"),
        # covering: balances by account and period read the index alone
        Index("ix_journal_lines_account_date", "account_id", "entry_date", "debit", "credit"),
        Index("ix_journal_lines_customer", "customer_id", "account_id"),
        Index("ix_journal_lines_supplier", "supplier_id", "account_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("journal_entries.id",
                                                     ondelete="RESTRICT"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="RESTRICT"))
    debit: Mapped[Decimal] = mapped_column(Money(), default=ZERO)
    credit: Mapped[Decimal] = mapped_column(Money(), default=ZERO)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id",
                                                               ondelete="RESTRICT"))
    supplier_id: Mapped[int | None] = mapped_column(ForeignKey("suppliers.id",
                                                               ondelete="RESTRICT"))
    memo: Mapped[str] = mapped_column(String(200), default="")
    entry_date: Mapped[date] = mapped_column(Date)

    entry: Mapped[JournalEntry] = relationship(back_populates="lines")
    account: Mapped[Account] = relationship(lazy="joined")


@dataclass
class Posting:
    """A line to post: an amount on an account, debit (positive) or credit (negative),
    in the base currency."""

    account: Account
    amount: Decimal
    memo: str = ""
    customer_id: int | None = None
    supplier_id: int | None = None


def debit(account: Account, amount: Decimal, memo: str = "", **partner) -> Posting:
    return Posting(account, Decimal(amount), memo, **partner)


def credit(account: Account, amount: Decimal, memo: str = "", **partner) -> Posting:
    return Posting(account, -Decimal(amount), memo, **partner)


def post_entry(entry_date: date, postings: list[Posting], *, memo: str = "",
               source_type: str = "manual", source_id: int | None = None,
               reference: str = "", by: User | None = None,
               reverses: JournalEntry | None = None) -> JournalEntry:
    """Post a balanced entry: numbered, chained, never changed afterwards.

    Lines with a zero amount are dropped; lines on the same account, partner and memo
    are kept apart (each is a fact of the document). Refused, with nothing written,
    when it does not balance, is dated in a closed period, uses an archived account,
    leaves a control-account line without its customer or supplier, or (a manual entry)
    touches a control account."""
    if entry_date is None:
        raise DomainError("Enter the entry's date.", field="entry_date")
    check_open(entry_date, field="entry_date", what="The entry")
    places = base_places()
    unit = Decimal(1).scaleb(-places)
    lines = [p for p in postings if p.amount != 0]
    if not lines:
        raise DomainError("An entry needs at least one amount.")
    debits = sum((p.amount for p in lines if p.amount > 0), ZERO)
    credits = -sum((p.amount for p in lines if p.amount < 0), ZERO)
    for posting in lines:
        if posting.amount != posting.amount.quantize(unit):
            raise DomainError(f"{posting.account.code}: amounts have at most {places} "
                              "decimals.")
        account = posting.account
        if not account.active:
            raise DomainError(f"{account.label} is archived; choose an active account.")
        if account.control and source_type in ("manual",):
            raise DomainError(f"{account.label} is a control account kept by invoices, "
                              "payments and bills; a manual entry cannot post to it.")
        if account.control == "receivable" and posting.customer_id is None:
            raise DomainError(f"{account.label} is a control account: name the customer.")
        if account.control == "payable" and posting.supplier_id is None:
            raise DomainError(f"{account.label} is a control account: name the supplier.")
    if debits != credits:
        raise DomainError(f"The entry does not balance: debits {debits:,.{places}f}, "
                          f"credits {credits:,.{places}f} (difference "
                          f"{debits - credits:,.{places}f}).")
    number = next_number("JE", entry_date.year)
    seq, prev = advance_chain("journal")
    entry = JournalEntry(number=number, entry_date=entry_date, memo=(memo or "")[:200],
                         source_type=source_type, source_id=source_id,
                         reference=(reference or "")[:40],
                         reverses_id=reverses.id if reverses is not None else None,
                         posted_at=utcnow(), posted_by_id=by.id if by else None,
                         chain_seq=seq, prev_hash=prev, hash="")
    for posting in lines:
        entry.lines.append(JournalLine(
            account=posting.account, account_id=posting.account.id,
            debit=posting.amount if posting.amount > 0 else ZERO,
            credit=-posting.amount if posting.amount < 0 else ZERO,
            customer_id=posting.customer_id, supplier_id=posting.supplier_id,
            memo=(posting.memo or "")[:200], entry_date=entry_date))
    entry.hash = chain_hash(prev, entry.content())
    db.session.add(entry)
    close_link("journal", entry.hash)
    db.session.flush()
    _add_to_balances(entry_date, entry.lines)
    return entry


# --- Balances per account and month ------------------------------------------------------

class AccountBalance(db.Model):
    """The sum of an account's journal lines in one month, kept in step by `post_entry`
    (in the posting transaction), so reports read a few hundred of these rows instead of
    every line before their period. Derived data: `rebuild_account_balances` recomputes
    it from the lines and `check-books` compares the two.

    Attributes:
        month: the first day of the month.
        debit, credit: the month's debits and credits in the base currency.
    """

    __tablename__ = "account_balances"

    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="RESTRICT"),
                                            primary_key=True)
    month: Mapped[date] = mapped_column(Date, primary_key=True)
    debit: Mapped[Decimal] = mapped_column(Money(), default=ZERO)
    credit: Mapped[Decimal] = mapped_column(Money(), default=ZERO)


def month_of(day: date) -> date:
    return day.replace(day=1)


def _add_to_balances(entry_date: date, lines) -> None:
    """Add an entry's lines to their accounts' month: one upsert (one row per account,
    so no row is hit twice by the statement). The posting already holds the journal's
    chain head, so postings reach this row one at a time."""
    sums: dict[int, list[Decimal]] = {}
    for line in lines:
        found = sums.setdefault(line.account_id, [ZERO, ZERO])
        found[0] += line.debit
        found[1] += line.credit
    month = month_of(entry_date)
    insert = (pg_insert if db.engine.dialect.name == "postgresql" else sqlite_insert)(
        AccountBalance)
    rows = [{"account_id": account_id, "month": month, "debit": debit, "credit": credit}
            for account_id, (debit, credit) in sums.items()]
    table = AccountBalance.__table__
    db.session.execute(insert.values(rows).on_conflict_do_update(
        index_elements=[table.c.account_id, table.c.month],
        set_={"debit": table.c.debit + insert.excluded.debit,
              "credit": table.c.credit + insert.excluded.credit}))


def month_sums_query():
    """(account_id, month, debit, credit) summed from the journal lines: what
    account_balances must hold."""
    if db.engine.dialect.name == "postgresql":
        month = func.cast(func.date_trunc("month", JournalLine.entry_date), Date)
    else:
        month = func.date(JournalLine.entry_date, "start of month")
    return (select(JournalLine.account_id, month.label("month"),
                   sum_money(JournalLine.debit), sum_money(JournalLine.credit))
            .group_by(JournalLine.account_id, month))


def rebuild_account_balances() -> int:
    """Recompute account_balances from the journal lines (after a bulk load, or to
    repair drift `check-books` found); returns the number of rows."""
    db.session.execute(AccountBalance.__table__.delete())
    rows = [{"account_id": account_id, "month": as_date(month), "debit": debit,
             "credit": credit}
            for account_id, month, debit, credit in db.session.execute(month_sums_query())]
    if rows:
        db.session.execute(AccountBalance.__table__.insert(), rows)
    return len(rows)


def as_date(value) -> date:
    """SQLite's date() answers text; PostgreSQL a date."""
    return value if isinstance(value, date) else date.fromisoformat(value)


def reversal_of(entry: JournalEntry) -> JournalEntry | None:
    return db.session.scalar(select(JournalEntry).where(JournalEntry.reverses_id == entry.id))


def reverse_entry(entry: JournalEntry, *, on: date, reason: str,
                  by: User | None = None) -> JournalEntry:
    """A new entry with every line on the other side, dated `on`. Only manual entries
    (and not reversals) are reversed this way; a document's entry is corrected by the
    document's own counterpart (a credit note for an invoice)."""
    reason = (reason or "").strip()
    if not reason:
        raise DomainError("Say why the entry is reversed.", field="reason")
    if len(reason) > 150:
        raise DomainError("Use at most 150 characters.", field="reason")
    if entry.source_type != "manual":
        raise DomainError(f"This entry was posted from {entry.reference or 'a document'}; "
                          "correct the document instead (a credit note for an invoice).")
    if reversal_of(entry) is not None:
        raise DomainError(f"{entry.number} was already reversed.")
    if on is None:
        raise DomainError("Enter the date of the reversal.", field="entry_date")
    if on < entry.entry_date:
        raise DomainError("A reversal cannot be dated before the entry it reverses.",
                          field="entry_date")
    postings = [Posting(line.account, line.credit - line.debit, line.memo,
                        customer_id=line.customer_id, supplier_id=line.supplier_id)
                for line in entry.lines]
    return post_entry(on, postings, memo=f"Reversal of {entry.number}: {reason}",
                      source_type="reversal", reference=entry.number, by=by,
                      reverses=entry)


# --- Posted history is never changed -----------------------------------------------------

@event.listens_for(Session, "before_flush")
def _refuse_changing_the_books(session, flush_context, instances):
    """A posted journal entry and its lines are never updated or deleted."""
    for obj in session.dirty:
        if isinstance(obj, JournalEntry | JournalLine) and session.is_modified(obj):
            raise DomainError("A posted journal entry is never changed; reverse it with a "
                              "new entry.")
    for obj in session.deleted:
        if isinstance(obj, JournalEntry | JournalLine):
            raise DomainError("A posted journal entry is never deleted; reverse it with a "
                              "new entry.")


def changed_columns(obj) -> set[str]:
    """The mapped columns of `obj` that carry an unsaved change."""
    state = inspect(obj)
    return {attr.key for attr in state.mapper.column_attrs
            if state.attrs[attr.key].history.has_changes()}


# --- Reading -----------------------------------------------------------------------------

def account_balance(account_id: int, *, until: date | None = None) -> Decimal:
    """Debits - credits on an account (up to and including `until`)."""
    query = select(sum_money(JournalLine.debit - JournalLine.credit)).where(
        JournalLine.account_id == account_id)
    if until is not None:
        query = query.where(JournalLine.entry_date <= until)
    return db.session.scalar(query)


def sum_money(expression):
    """SUM of a Money expression as a Decimal (0.00 over no rows), exact on both
    databases: the sum runs on the stored integers."""
    raw = func.coalesce(func.sum(type_coerce(expression, BigInteger)), 0)
    return type_coerce(raw, Money())
