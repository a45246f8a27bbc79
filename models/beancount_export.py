"""The whole ledger as a beancount file, so an outside tool can check the books.

`flask --app app export-beancount PATH` writes it; `bean-check PATH` then verifies that
every transaction balances and posts only to open accounts, and beancount's balances
equal our trial balance (tests/ledger/test_beancount.py runs both).

The file is:

- `option "title"` (the company) and `option "operating_currency"` (the base currency);
- an `open` directive per account of the chart, dated on its first posting (an account
  nobody posted to yet on the ledger's first day), named from its type, code and name:
  `Assets:1200-Accounts-Receivable`. The receivable and payable control accounts get a
  sub-account per customer (its account code, `:C00042`) or supplier (`:S00007`), so the
  sub-ledgers show in beancount too: the parent's balance is their sum;
- one transaction per journal entry, `2026-03-01 * "JE-2026-0001" "memo"`, with the
  entry's number, source, reference, reversed entry and chain hash as metadata, and one
  posting per line in the base currency (debits positive, credits negative), the line's
  memo as the posting's metadata.

Output is deterministic: accounts by name, entries by date then posting order, lines
in their order. Entries stream from one query in batches, so a million lines never sit
in memory at once.
"""

import re
import unicodedata
from collections.abc import Iterator
from datetime import date
from itertools import groupby
from typing import TextIO

from sqlalchemy import BigInteger, func, select, type_coerce
from sqlalchemy.orm import aliased

from models import db
from models.company import CompanySettings
from models.customers import FinancialAccount
from models.ledger import Account, JournalEntry, JournalLine

ROOTS = {"asset": "Assets", "liability": "Liabilities", "equity": "Equity",
         "income": "Income", "expense": "Expenses"}
EPOCH = date(1970, 1, 1)   # opens accounts when the ledger has no entry yet
BATCH = 5000


# backslashes and quotes escaped, line breaks and tabs as C escapes (beancount unescapes
# them), other control characters as spaces
_ESCAPES = {code: " " for code in range(32)} | {
    ord("\\"): "\\\\", ord('"'): '\\"', ord("\n"): "\\n", ord("\r"): "\\r",
    ord("\t"): "\\t"}


def quote(text: str | None) -> str:
    """A beancount string literal of `text`."""
    return '"' + (text or "").translate(_ESCAPES) + '"'


def amount(units: int, scale: int) -> str:
    """A stored Money integer (`units` of 10**-scale) as beancount number text, exactly."""
    sign = "-" if units < 0 else ""
    whole, part = divmod(abs(units), 10 ** scale)
    return f"{sign}{whole}.{part:0{scale}d}" if scale else f"{sign}{whole}"


def component(text: str, fallback: str) -> str:
    """One valid account component from free text: ASCII letters and digits in words
    joined by dashes, each word with a capital ("1200 Accounts receivable" ->
    "1200-Accounts-Receivable"); `fallback` when nothing is left."""
    ascii_text = unicodedata.normalize("NFKD", text or "").encode("ascii", "ignore").decode()
    words = re.findall(r"[A-Za-z0-9]+", ascii_text.replace("'", ""))
    name = "-".join(word[0].upper() + word[1:] for word in words)
    return name or fallback


def _unique(names: dict, suffix) -> dict:
    """Make the values of {key: name} unique by appending `suffix(key)` to repeats."""
    seen: dict[str, int] = {}
    for name in names.values():
        seen[name] = seen.get(name, 0) + 1
    return {key: name if seen[name] == 1 else f"{name}-{suffix(key)}"
            for key, name in names.items()}


def account_names() -> dict[int, str]:
    """{account id: beancount account name} for the whole chart."""
    accounts = db.session.execute(select(Account.id, Account.code, Account.name,
                                         Account.type).order_by(Account.code))
    names = {account_id: f"{ROOTS[kind]}:{component(f'{code} {name}', f'A{account_id}')}"
             for account_id, code, name, kind in accounts}
    return _unique(names, lambda account_id: f"A{account_id}")


def _partner_components() -> tuple[dict[int, str], dict[int, str]]:
    """Sub-account components: {customer id: its account code}, {supplier id: S00007}
    for the partners named on control-account lines."""
    customer_ids = select(JournalLine.customer_id).where(JournalLine.customer_id.is_not(None))
    codes = db.session.execute(
        select(FinancialAccount.customer_id, FinancialAccount.account_code)
        .where(FinancialAccount.customer_id.in_(customer_ids.distinct())))
    customers = _unique({customer_id: component(code, f"C{customer_id:05d}")
                         for customer_id, code in codes}, lambda i: f"C{i}")
    supplier_ids = db.session.scalars(
        select(JournalLine.supplier_id).where(JournalLine.supplier_id.is_not(None)).distinct())
    suppliers = {supplier_id: f"S{supplier_id:05d}" for supplier_id in supplier_ids}
    return customers, suppliers


def _namer(names, customers, suppliers, controls):
    """posting_account(account id, customer id, supplier id) -> beancount account: the
    partner's sub-account on a control account, the account itself elsewhere."""
    def posting_account(account_id, customer_id, supplier_id) -> str:
        name = names[account_id]
        control = controls.get(account_id)
        if control == "receivable" and customer_id is not None:
            return f"{name}:{customers.get(customer_id, f'C{customer_id:05d}')}"
        if control == "payable" and supplier_id is not None:
            return f"{name}:{suppliers[supplier_id]}"
        return name

    return posting_account


def _opens(names, posting_account) -> dict[str, date]:
    """{beancount account: the day it opens}: its first posting (a control account's
    first posting to any partner), or the ledger's first day for one without postings."""
    first = db.session.scalar(select(func.min(JournalEntry.entry_date))) or EPOCH
    opens = dict.fromkeys(names.values(), first)
    used: dict[str, date] = {}
    for account_id, customer_id, supplier_id, day in db.session.execute(
            select(JournalLine.account_id, JournalLine.customer_id, JournalLine.supplier_id,
                   func.min(JournalLine.entry_date))
            .group_by(JournalLine.account_id, JournalLine.customer_id,
                      JournalLine.supplier_id)):
        for name in (posting_account(account_id, customer_id, supplier_id),
                     names[account_id]):
            used[name] = min(day, used.get(name, day))
    opens.update(used)
    return opens


def _entries() -> Iterator[tuple]:
    """(entry row, its line rows) in date then posting order, from one streamed query."""
    reversed_entry = aliased(JournalEntry)
    rows = db.session.execute(
        select(JournalEntry.id, JournalEntry.number, JournalEntry.entry_date,
               JournalEntry.memo, JournalEntry.source_type, JournalEntry.source_id,
               JournalEntry.reference, JournalEntry.hash,
               reversed_entry.number.label("reverses"),
               JournalLine.account_id, JournalLine.customer_id, JournalLine.supplier_id,
               # the stored integers: exact, and formatted without Decimal arithmetic
               type_coerce(JournalLine.debit - JournalLine.credit, BigInteger).label("units"),
               JournalLine.memo.label("line_memo"))
        .join(JournalLine, JournalLine.entry_id == JournalEntry.id)
        .outerjoin(reversed_entry, reversed_entry.id == JournalEntry.reverses_id)
        .order_by(JournalEntry.entry_date, JournalEntry.chain_seq, JournalLine.id)
        .execution_options(yield_per=BATCH))
    for _entry_id, lines in groupby(rows, key=lambda row: row.id):
        lines = list(lines)
        yield lines[0], lines


def export_beancount(out: TextIO) -> int:
    """Write the ledger to `out` as beancount text; returns how many transactions."""
    settings = CompanySettings.current()
    currency = settings.base_currency
    scale = JournalLine.debit.type.scale
    names = account_names()
    controls = dict(db.session.execute(
        select(Account.id, Account.control).where(Account.control.is_not(None))).all())
    customers, suppliers = _partner_components()
    posting_account = _namer(names, customers, suppliers, controls)
    out.write(f"; The books of {' '.join(settings.name.split())}, exported by Tandem.\n")
    out.write(f"option \"title\" {quote(settings.name)}\n")
    out.write(f"option \"operating_currency\" \"{currency}\"\n\n")
    titles = {names[account_id]: title for account_id, title in db.session.execute(
        select(Account.id, Account.name))}
    for name, day in sorted(_opens(names, posting_account).items()):
        out.write(f"{day.isoformat()} open {name} {currency}\n")
        if name in titles:
            out.write(f"  name: {quote(titles[name])}\n")
    count = 0
    for entry, lines in _entries():
        count += 1
        out.write(f"\n{entry.entry_date.isoformat()} * {quote(entry.number)} "
                  f"{quote(entry.memo)}\n")
        out.write(f"  number: {quote(entry.number)}\n")
        out.write(f"  source: {quote(entry.source_type)}\n")
        if entry.source_id is not None:
            out.write(f"  source_id: {entry.source_id}\n")
        if entry.reference:
            out.write(f"  reference: {quote(entry.reference)}\n")
        if entry.reverses:
            out.write(f"  reverses: {quote(entry.reverses)}\n")
        out.write(f"  hash: {quote(entry.hash)}\n")
        for line in lines:
            account = posting_account(line.account_id, line.customer_id, line.supplier_id)
            out.write(f"  {account}  {amount(line.units, scale)} {currency}\n")
            if line.line_memo:
                out.write(f"    memo: {quote(line.line_memo)}\n")
    return count


def write_beancount(path: str) -> int:
    """Export the ledger to the file at `path` (replaced); returns how many transactions."""
    with open(path, "w", encoding="utf-8", newline="\n") as out:
        return export_beancount(out)
