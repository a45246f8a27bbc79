"""`check-books`: every invariant of the books, verified from what is in the database.

Each invariant is a `validate_*()` function that returns a list of readable violations
(empty when it holds) instead of raising, and `VALIDATIONS` runs them all, in the manner
of beancount's ops/validation.py. A message names the document or entry it is about
("JE-2026-0012 does not balance: debits 10.00, credits 9.00"), so finance can go and look.

What is verified:

- the journal: every entry balances, has at least two lines, each line one-sided and not
  negative and dated like its entry; the balances kept per account and month (which the
  reports read) equal the sums of the lines;
- the hash chains (journal, invoice, credit_note): contiguous from 1, each link naming the
  previous one's hash, each hash still equal to SHA-256 over the content, the head row
  at the last link. This is also what proves that *no posted entry, invoice or credit
  note changed*: the content hashed covers everything they say (see `content()` on the
  models), so an UPDATE made behind the app's back, a deleted or re-inserted row shows as
  the first break of its chain;
- the control accounts: receivable and payable lines name their customer (supplier),
  only documents post to them, and per partner and in total they equal the sub-ledgers
  (the open base amounts of invoices, credit notes, payments and vendor bills; see the
  identity in models.payments);
- the documents: a posted invoice's or credit note's stored totals equal its lines; what
  is open on an invoice, credit note, payment or bill equals its total less its
  allocations (a settled one leaves nothing in the base currency either); an invoice's
  credited amount and its lines' credited quantities equal its posted credit notes; an
  order line's invoiced quantity equals its posted invoice lines; an allocation joins
  documents of one partner and currency;
- the numbers: INV, CN, JE, PAY and SPAY are 1..N in each year with N the counter, in the
  year of the document's date;
- the postings: every posted invoice and credit note, payment, vendor bill, shipment with
  a cost, receipt with a stocked value and exchange difference has its one entry, on its
  date, with the amount on the control (or stock) account it should have; every entry
  posted from a document belongs to that document.

Cost: every check is a handful of queries whose result is one row per document or
partner (aggregates are GROUP BYs in the database), never a query per document. Three
checks must look at every row themselves and stream in keyset batches: the chains
(entries and their lines, invoices and theirs: O(entries + lines), one SHA-256 each),
the stored document totals (O(invoice lines); rounding per line happens in Python with
the same code as posting) and receipt values (O(receipt lines)). Memory stays one batch
plus the numbers of one prefix and year and a value per receipt. Measured on 1,000,000
journal lines (200,000 entries) on a 2-core machine: 25 s on SQLite, 22 s on PostgreSQL,
four fifths of it the journal chain (SHA-256 and canonical JSON per entry).

On PostgreSQL the checks read one REPEATABLE READ snapshot, so postings made while they
run cannot look like violations (SQLite's read transaction is a snapshot already).
"""

import re
from collections import defaultdict
from collections.abc import Callable, Iterator
from decimal import Decimal

from sqlalchemy import BigInteger, and_, case, func, literal, or_, select, type_coerce
from sqlalchemy.orm import aliased

from models import db
from models.catalog import Supplier
from models.customers import Customer, FinancialAccount
from models.documents import DocumentTotals, PricedLine
from models.invoicing import Invoice, InvoiceLine
from models.ledger import (
    GENESIS,
    Account,
    AccountBalance,
    ChainHead,
    JournalEntry,
    JournalLine,
    as_date,
    chain_hash,
    month_sums_query,
    sum_money,
)
from models.payments import Allocation, Payment
from models.purchasing import PurchaseOrder, Receipt, ReceiptLine, VendorBill
from models.sales import SalesLine, SalesOrder, Shipment, ShipmentLine
from models.sequences import DocumentCounter
from models.stock import StockMove
from models.types import Money, round_money

ZERO = Decimal("0.00")
BATCH = 1000
# Entries of these sources may post to the receivable and payable control accounts.
CONTROL_SOURCES = ("invoice", "credit_note", "payment", "supplier_payment", "allocation",
                   "bill")
NUMBERED = ("INV", "CN", "JE", "PAY", "SPAY")
_NUMBER = re.compile(r"^([A-Z]+)-(\d{4})-(\d{4,})$")
_LISTED = 10   # missing numbers named in one message before "and N more"


def _money(value) -> str:
    return f"{Decimal(value or 0):,.2f}"


# --- Rows as records -----------------------------------------------------------------------

class _Record:
    """A row's columns as attributes plus its `lines`: enough for a model's content() and
    totals, without building (and caching) ORM objects for a million rows."""

    lines: list


class _Document(_Record, DocumentTotals):
    """An invoice or credit note row whose net, tax and total come from its lines with
    the rounding of models.documents."""


class _Line(PricedLine):
    """An invoice line row; `document` is its _Document (for the currency's places)."""

    document: _Document


class _Reader:
    """Reads the rows of a table as plain objects of a class. Money and Quantity columns
    are selected as their stored integers and made Decimals here through a cache (an
    amount repeats a lot: every journal line has a 0.00 side): over a million lines this
    is several times faster than a Row's type processing, and gives the same Decimals
    (models.types.Money)."""

    def __init__(self, table, cls):
        self.cls, self.names, self.columns, self.money = cls, [], [], []
        for column in table.c:
            self.names.append(column.key)
            if isinstance(column.type, Money):      # Quantity is a Money too
                self.columns.append(type_coerce(column, BigInteger).label(column.key))
                self.money.append((column.key, column.type.scale))
            else:
                self.columns.append(column)
        self.cache: dict = {}

    def make(self, values, **extra):
        fields = dict(zip(self.names, values, strict=True))
        cache = self.cache
        for name, scale in self.money:
            raw = fields[name]
            if raw is not None:
                found = cache.get((raw, scale))
                if found is None:
                    found = Decimal(int(raw)).scaleb(-scale)
                    if len(cache) < 100_000:
                        cache[(raw, scale)] = found
                fields[name] = found
        fields.update(extra)
        record = self.cls.__new__(self.cls)
        record.__dict__ = fields
        return record


def _chained(table, line_table, line_key, where, document=_Record, line=None):
    """Rows of `table` in chain_seq order with their lines (in the models' line order), in
    keyset batches: two queries a batch, whatever the size of the table."""
    seq = table.c.chain_seq
    rows_reader = _Reader(table, document)
    lines_reader = _Reader(line_table, line or _Record)
    key_at = lines_reader.names.index(line_key)
    last = None
    while True:
        query = (select(*rows_reader.columns).where(seq.is_not(None), *where).order_by(seq)
                 .limit(BATCH))
        if last is not None:
            query = query.where(seq > last)
        records = [rows_reader.make(values, lines=[])
                   for values in db.session.execute(query)]
        if not records:
            return
        by_id = {record.id: record for record in records}
        key = line_table.c[line_key]
        line_rows = db.session.execute(
            select(*lines_reader.columns).join(table, table.c.id == key)
            .where(seq.between(records[0].chain_seq, records[-1].chain_seq), *where)
            .order_by(key, *_line_order(line_table)))
        for values in line_rows:
            owner = by_id[values[key_at]]
            owner.lines.append(lines_reader.make(values, document=owner) if line
                               else lines_reader.make(values))
        yield from records
        last = records[-1].chain_seq


def _line_order(line_table):
    if "position" in line_table.c:
        return (line_table.c.position, line_table.c.id)
    return (line_table.c.id,)


# --- The journal ---------------------------------------------------------------------------

def validate_entries_balance() -> list[str]:
    """Every entry balances (never skipped), has at least two lines, each line one-sided
    and not negative, and each line carries its entry's date."""
    line = JournalLine
    wrong_side = or_(line.debit < 0, line.credit < 0,
                     and_(line.debit == 0, line.credit == 0),
                     and_(line.debit != 0, line.credit != 0))
    bad_lines = func.coalesce(func.sum(case((wrong_side, 1), else_=0)), 0)
    other_dates = func.coalesce(func.sum(case((line.entry_date != JournalEntry.entry_date, 1),
                                              else_=0)), 0)
    debits, credits, count = sum_money(line.debit), sum_money(line.credit), func.count(line.id)
    rows = db.session.execute(
        select(JournalEntry.number, debits, credits, count, bad_lines, other_dates)
        .select_from(JournalEntry).outerjoin(line, line.entry_id == JournalEntry.id)
        .group_by(JournalEntry.id, JournalEntry.number, JournalEntry.chain_seq)
        .having(or_(debits != credits, count < 2, bad_lines > 0, other_dates > 0))
        .order_by(JournalEntry.chain_seq))
    errors = []
    for number, debit_total, credit_total, lines, bad, dated in rows:
        if debit_total != credit_total:
            errors.append(f"{number} does not balance: debits {_money(debit_total)}, "
                          f"credits {_money(credit_total)}.")
        if lines < 2:
            errors.append(f"{number} has {lines} line{'' if lines == 1 else 's'}; an entry "
                          "needs at least two.")
        if bad:
            errors.append(f"{number} has {bad} line{'' if bad == 1 else 's'} that is not "
                          "one-sided (a debit or a credit, not negative).")
        if dated:
            errors.append(f"{number} has {dated} line{'' if dated == 1 else 's'} dated "
                          "differently from the entry.")
    return errors


def validate_account_balances() -> list[str]:
    """The balances kept per account and month (what the reports read) equal the sums of
    the journal lines they stand for: one grouped query over each side."""
    def by_month(query) -> dict:
        return {(account_id, as_date(month)): (debit, credit)
                for account_id, month, debit, credit in db.session.execute(query)}

    kept = by_month(select(AccountBalance.account_id, AccountBalance.month,
                           AccountBalance.debit, AccountBalance.credit))
    summed = by_month(month_sums_query())
    codes = dict(db.session.execute(select(Account.id, Account.code)).all())
    errors = []
    for account_id, month in sorted(kept.keys() | summed.keys()):
        have = kept.get((account_id, month), (ZERO, ZERO))
        want = summed.get((account_id, month), (ZERO, ZERO))
        if have != want:
            errors.append(
                f"Account {codes.get(account_id, account_id)} in {month:%Y-%m}: the kept "
                f"balance says debits {_money(have[0])}, credits {_money(have[1])}; its "
                f"lines add up to debits {_money(want[0])}, credits {_money(want[1])} "
                "(rebuild with `flask rebuild-balances`).")
    return errors


def _walk_chain(kind: str, records: Iterator, label: Callable[[object], str],
                posted: Callable[[object], bool], content: Callable[[object], dict]
                ) -> list[str]:
    """The first break of one chain, or its head's disagreement with the last link."""
    expected, prev, last_label = 1, GENESIS, None
    for record in records:
        name = label(record)
        if record.chain_seq != expected:
            missing = (f"link {expected} is missing" if record.chain_seq == expected + 1
                       else f"links {expected} to {record.chain_seq - 1} are missing")
            return [f"{kind} chain breaks at {name}: {missing} before it."]
        if not posted(record):
            return [f"{kind} chain breaks at {name}: it is in the chain but no longer "
                    "posted."]
        if record.prev_hash != prev:
            before = f" ({last_label})" if last_label else ""
            return [f"{kind} chain breaks at {name}: it does not follow the link before "
                    f"it{before}, which changed or was replaced since."]
        if chain_hash(record.prev_hash, content(record)) != record.hash:
            return [f"{kind} chain breaks at {name}: its content changed since posting."]
        prev, last_label, expected = record.hash, name, expected + 1
    head = db.session.get(ChainHead, kind, populate_existing=True)
    links = expected - 1
    head_seq, head_hash = (head.seq, head.last_hash) if head else (0, GENESIS)
    if head_seq != links or head_hash != prev:
        end = f", ending at {last_label}" if last_label else ""
        return [f"{kind} chain's head says {head_seq} link{'' if head_seq == 1 else 's'} but "
                f"the chain has {links}{end}: links after the last one were removed, or "
                "the head was changed."]
    return []


def validate_journal_chain() -> list[str]:
    """The journal's hash chain is whole: no posted entry changed, went missing or was
    slipped in."""
    records = _chained(JournalEntry.__table__, JournalLine.__table__, "entry_id", ())
    return _walk_chain("journal", records, lambda r: r.number, lambda r: True,
                       lambda r: JournalEntry.content(r))


def _validate_document_chain(kind: str) -> list[str]:
    table = Invoice.__table__
    records = _chained(table, InvoiceLine.__table__, "invoice_id", (table.c.kind == kind,))
    errors = _walk_chain(kind, records, lambda r: r.number or f"draft {r.id}",
                         lambda r: r.status == "posted", lambda r: Invoice.content(r))
    unchained = db.session.scalars(select(Invoice.number).where(
        Invoice.kind == kind, Invoice.status == "posted", Invoice.chain_seq.is_(None))
        .order_by(Invoice.id).limit(_LISTED))
    errors += [f"{number} is posted but not in the {kind} chain." for number in unchained]
    return errors


def validate_invoice_chain() -> list[str]:
    """The posted invoices' hash chain is whole: none changed after posting."""
    return _validate_document_chain("invoice")


def validate_credit_note_chain() -> list[str]:
    """The posted credit notes' hash chain is whole: none changed after posting."""
    return _validate_document_chain("credit_note")


# --- Control accounts and sub-ledgers --------------------------------------------------------

def validate_control_lines() -> list[str]:
    """A line on the receivable names its customer (and no supplier), one on the payable
    its supplier (and no customer); and only documents post to control accounts."""
    line = JournalLine
    rows = db.session.execute(
        select(JournalEntry.number, JournalEntry.source_type, Account.code, Account.control,
               line.customer_id, line.supplier_id)
        .join(line, line.entry_id == JournalEntry.id).join(Account, Account.id == line.account_id)
        .where(Account.control.is_not(None), or_(
            JournalEntry.source_type.not_in(CONTROL_SOURCES),
            and_(Account.control == "receivable",
                 or_(line.customer_id.is_(None), line.supplier_id.is_not(None))),
            and_(Account.control == "payable",
                 or_(line.supplier_id.is_(None), line.customer_id.is_not(None)))))
        .order_by(JournalEntry.chain_seq, line.id))
    errors = []
    for number, source, code, control, customer_id, supplier_id in rows:
        if source not in CONTROL_SOURCES:
            errors.append(f"{number} ({source}) posts to {control} control account {code}; "
                          "only invoices, credit notes, payments, bills and exchange "
                          "differences may.")
        elif control == "receivable" and (customer_id is None or supplier_id is not None):
            errors.append(f"{number} has a line on receivable control account {code} that "
                          "does not name its customer (or names a supplier).")
        elif control == "payable":
            errors.append(f"{number} has a line on payable control account {code} that "
                          "does not name its supplier (or names a customer).")
    return errors


def _control_balances(control: str, partner) -> dict:
    """{partner id: debits - credits} on the control accounts of one kind."""
    rows = db.session.execute(
        select(partner, sum_money(JournalLine.debit - JournalLine.credit))
        .join(Account, Account.id == JournalLine.account_id)
        .where(Account.control == control).group_by(partner))
    return {partner_id: amount for partner_id, amount in rows}


def _compare(side: str, ledger: dict, documents: dict, name: Callable[[list], dict]
             ) -> list[str]:
    ids = sorted((set(ledger) | set(documents)) - {None})
    wrong = [i for i in ids if ledger.get(i, ZERO) != documents.get(i, ZERO)]
    names = name(wrong) if wrong else {}
    errors = [f"{side} of {names.get(i, f'#{i}')}: the control account says "
              f"{_money(ledger.get(i, ZERO))}, its open documents "
              f"{_money(documents.get(i, ZERO))} (difference "
              f"{_money(ledger.get(i, ZERO) - documents.get(i, ZERO))})."
              for i in wrong]
    ledger_total = sum(ledger.values(), ZERO)
    documents_total = sum(documents.values(), ZERO)
    if ledger_total != documents_total:
        errors.append(f"{side} in total: the control accounts say {_money(ledger_total)}, "
                      f"the open documents {_money(documents_total)} (difference "
                      f"{_money(ledger_total - documents_total)}).")
    return errors


def _customer_names(ids: list) -> dict:
    rows = db.session.execute(
        select(Customer.id, Customer.name, FinancialAccount.account_code)
        .outerjoin(FinancialAccount, FinancialAccount.customer_id == Customer.id)
        .where(Customer.id.in_(ids)))
    return {i: f"{name} ({code})" if code else name for i, name, code in rows}


def _supplier_names(ids: list) -> dict:
    return dict(db.session.execute(select(Supplier.id, Supplier.name)
                                   .where(Supplier.id.in_(ids))).all())


def validate_receivable_subledger() -> list[str]:
    """Per customer and in total, the receivable control accounts (debits - credits)
    equal the open base amounts of posted invoices, less those of posted credit notes
    and of the customer's payments."""
    ledger = _control_balances("receivable", JournalLine.customer_id)
    documents: dict = defaultdict(lambda: ZERO)
    for customer_id, kind, amount in db.session.execute(
            select(Invoice.customer_id, Invoice.kind, sum_money(Invoice.open_base))
            .where(Invoice.status == "posted").group_by(Invoice.customer_id, Invoice.kind)):
        documents[customer_id] += amount if kind == "invoice" else -amount
    for customer_id, amount in db.session.execute(
            select(Payment.customer_id, sum_money(Payment.open_base))
            .where(Payment.direction == "in").group_by(Payment.customer_id)):
        documents[customer_id] -= amount
    return _compare("Receivable", ledger, dict(documents), _customer_names)


def validate_payable_subledger() -> list[str]:
    """Per supplier and in total, the payable control accounts (credits - debits) equal
    the open base amounts of vendor bills (not cancelled) less those of payments to the
    supplier not yet allocated."""
    ledger = {i: -amount for i, amount in
              _control_balances("payable", JournalLine.supplier_id).items()}
    documents: dict = defaultdict(lambda: ZERO)
    for supplier_id, amount in db.session.execute(
            select(VendorBill.supplier_id, sum_money(VendorBill.open_base))
            .where(VendorBill.status != "cancelled").group_by(VendorBill.supplier_id)):
        documents[supplier_id] += amount
    for supplier_id, amount in db.session.execute(
            select(Payment.supplier_id, sum_money(Payment.open_base))
            .where(Payment.direction == "out").group_by(Payment.supplier_id)):
        documents[supplier_id] -= amount
    return _compare("Payable", ledger, dict(documents), _supplier_names)


# --- Documents -----------------------------------------------------------------------------

def validate_document_totals() -> list[str]:
    """A posted invoice's or credit note's stored net, tax and total equal its lines
    (rounded per line as at posting)."""
    table = Invoice.__table__
    errors = []
    records = (record for kind in ("invoice", "credit_note") for record in _chained(
        table, InvoiceLine.__table__, "invoice_id",
        (table.c.kind == kind, table.c.status == "posted"), document=_Document, line=_Line))
    for record in records:
        stored = (record.net_amount, record.tax_amount, record.total_amount)
        if stored != (record.net, record.tax, record.total):
            errors.append(f"{record.number}: the stored totals (net {_money(stored[0])}, tax "
                          f"{_money(stored[1])}, total {_money(stored[2])}) differ from its "
                          f"lines (net {_money(record.net)}, tax {_money(record.tax)}, "
                          f"total {_money(record.total)}).")
    return errors


def _allocated(key, base) -> object:
    """Per document on one side of the allocations: (id, amount, base amount)."""
    return (select(key.label("document_id"), sum_money(Allocation.amount).label("amount"),
                   sum_money(base).label("base"))
            .where(key.is_not(None)).group_by(key).subquery())


def _open_errors(name: str, total, total_base, open_amount, open_base, amount, base
                 ) -> list[str]:
    amount, base = amount or ZERO, base or ZERO
    errors = []
    if open_amount != total - amount:
        errors.append(f"{name}: {_money(open_amount)} is open, but its total "
                      f"{_money(total)} less allocations {_money(amount)} leaves "
                      f"{_money(total - amount)}.")
    if open_base != total_base - base:
        errors.append(f"{name}: {_money(open_base)} is open in the base currency, but "
                      f"{_money(total_base)} less allocations {_money(base)} leaves "
                      f"{_money(total_base - base)}.")
    elif open_amount == 0 and open_base != 0:
        errors.append(f"{name} is settled but leaves {_money(open_base)} in the base "
                      "currency.")
    return errors


def validate_open_amounts() -> list[str]:
    """What is open on a document is its total less its allocations: an invoice's and a
    bill's as the target (base_target), a credit note's and a payment's as the source
    (base_source); nothing open means nothing left in the base currency either."""
    errors = []
    sides = (
        ("invoice", Allocation.invoice_id, Allocation.base_target),
        ("credit_note", Allocation.credit_note_id, Allocation.base_source),
    )
    for kind, key, base in sides:
        done = _allocated(key, base)
        for row in db.session.execute(
                select(Invoice.number, Invoice.total_amount, Invoice.total_base,
                       Invoice.open_amount, Invoice.open_base, done.c.amount, done.c.base)
                .outerjoin(done, done.c.document_id == Invoice.id)
                .where(Invoice.kind == kind, Invoice.status == "posted")
                .order_by(Invoice.id)):
            errors += _open_errors(*row)
    done = _allocated(Allocation.payment_id, Allocation.base_source)
    for row in db.session.execute(
            select(Payment.number, Payment.amount, Payment.amount_base, Payment.open_amount,
                   Payment.open_base, done.c.amount, done.c.base)
            .outerjoin(done, done.c.document_id == Payment.id).order_by(Payment.id)):
        errors += _open_errors(*row)
    done = _allocated(Allocation.bill_id, Allocation.base_target)
    for ref, supplier, status, *figures in db.session.execute(
            select(VendorBill.supplier_ref, Supplier.name, VendorBill.status,
                   VendorBill.total, VendorBill.total_base, VendorBill.open_amount,
                   VendorBill.open_base, done.c.amount, done.c.base)
            .join(Supplier, Supplier.id == VendorBill.supplier_id)
            .outerjoin(done, done.c.document_id == VendorBill.id).order_by(VendorBill.id)):
        name = f"Bill {ref} from {supplier}"
        errors += _open_errors(name, *figures)
        open_amount = figures[2]
        if status != "cancelled" and (status == "paid") != (open_amount == 0):
            errors.append(f"{name} is {status} with {_money(open_amount)} open.")
    return errors


def validate_credited() -> list[str]:
    """An invoice's credited amount is the total of its posted credit notes, each line's
    credited quantity what their lines took back; an order line's invoiced quantity is
    what its posted invoices billed."""
    note = aliased(Invoice)
    notes = (select(note.invoice_id.label("invoice_id"),
                    sum_money(note.total_amount).label("amount"))
             .where(note.kind == "credit_note", note.status == "posted",
                    note.invoice_id.is_not(None))
             .group_by(note.invoice_id).subquery())
    errors = [f"{number}: credited {_money(credited)}, but its posted credit notes come to "
              f"{_money(amount or ZERO)}."
              for number, credited, amount in db.session.execute(
                  select(Invoice.number, Invoice.credited_amount, notes.c.amount)
                  .outerjoin(notes, notes.c.invoice_id == Invoice.id)
                  .where(Invoice.kind == "invoice", Invoice.status == "posted",
                         Invoice.credited_amount != func.coalesce(notes.c.amount, 0))
                  .order_by(Invoice.id))]
    taken = aliased(InvoiceLine)
    back = (select(taken.source_line_id.label("line_id"),
                   func.sum(taken.quantity).label("quantity"))
            .join(note, note.id == taken.invoice_id)
            .where(note.status == "posted", taken.source_line_id.is_not(None))
            .group_by(taken.source_line_id).subquery())
    for number, position, credited, quantity in db.session.execute(
            select(Invoice.number, InvoiceLine.position, InvoiceLine.credited,
                   back.c.quantity)
            .join(Invoice, Invoice.id == InvoiceLine.invoice_id)
            .outerjoin(back, back.c.line_id == InvoiceLine.id)
            .where(Invoice.kind == "invoice", Invoice.status == "posted",
                   InvoiceLine.credited != func.coalesce(back.c.quantity, 0))
            .order_by(Invoice.id, InvoiceLine.position)):
        errors.append(f"{number} line {position}: {credited.normalize():f} credited, but its "
                      f"posted credit notes took back {_quantity(quantity)}.")
    billed = (select(InvoiceLine.sales_line_id.label("line_id"),
                     func.sum(InvoiceLine.quantity).label("quantity"))
              .join(Invoice, Invoice.id == InvoiceLine.invoice_id)
              .where(Invoice.kind == "invoice", Invoice.status == "posted",
                     InvoiceLine.sales_line_id.is_not(None))
              .group_by(InvoiceLine.sales_line_id).subquery())
    for number, position, invoiced, quantity in db.session.execute(
            select(SalesOrder.number, SalesLine.position, SalesLine.invoiced,
                   billed.c.quantity)
            .join(SalesOrder, SalesOrder.id == SalesLine.order_id)
            .outerjoin(billed, billed.c.line_id == SalesLine.id)
            .where(SalesLine.invoiced != func.coalesce(billed.c.quantity, 0))
            .order_by(SalesOrder.id, SalesLine.position)):
        errors.append(f"{number} line {position}: {invoiced.normalize():f} invoiced, but its "
                      f"posted invoices billed {_quantity(quantity)}.")
    return errors


def _quantity(value) -> str:
    return f"{Decimal(value or 0).normalize():f}"


def validate_allocations() -> list[str]:
    """An allocation settles a posted invoice with a payment received or a posted credit
    note of the same customer, or a bill with a payment to the same supplier, in one
    currency."""
    target, note = aliased(Invoice), aliased(Invoice)
    source_partner = func.coalesce(Payment.customer_id, note.customer_id)
    source_currency = func.coalesce(Payment.currency, note.currency)
    source_number = func.coalesce(Payment.number, note.number)
    invoices = db.session.execute(
        select(source_number, target.number).select_from(Allocation)
        .join(target, target.id == Allocation.invoice_id)
        .outerjoin(Payment, Payment.id == Allocation.payment_id)
        .outerjoin(note, note.id == Allocation.credit_note_id)
        .where(or_(target.kind != "invoice", target.status != "posted",
                   and_(Payment.id.is_not(None), Payment.direction != "in"),
                   and_(note.id.is_not(None), or_(note.kind != "credit_note",
                                                  note.status != "posted")),
                   source_partner != target.customer_id,
                   source_currency != target.currency))
        .order_by(Allocation.id))
    bills = db.session.execute(
        select(source_number, VendorBill.supplier_ref).select_from(Allocation)
        .join(VendorBill, VendorBill.id == Allocation.bill_id)
        .outerjoin(Payment, Payment.id == Allocation.payment_id)
        .outerjoin(note, note.id == Allocation.credit_note_id)
        .where(or_(Payment.id.is_(None), Payment.direction != "out",
                   Payment.supplier_id != VendorBill.supplier_id,
                   Payment.currency != VendorBill.currency))
        .order_by(Allocation.id))
    return ([f"The allocation of {source} to {number} does not join a posted invoice with "
             "a payment or posted credit note of the same customer and currency."
             for source, number in invoices]
            + [f"The allocation of {source} to bill {ref} does not join the bill with a "
               "payment to the same supplier in its currency." for source, ref in bills])


# --- Numbers -------------------------------------------------------------------------------

def _stream(query) -> Iterator:
    yield from db.session.execute(query.execution_options(yield_per=BATCH * 10))


def validate_numbering() -> list[str]:
    """INV, CN, JE, PAY and SPAY numbers are gapless: in each year the numbers used are
    exactly 1..N, N is the document counter, and a document's number carries the year
    of its date."""
    used: dict = defaultdict(set)   # (prefix, year) -> {n}
    errors = []
    sources = (
        (select(Invoice.number, Invoice.issue_date,
                case((Invoice.kind == "invoice", literal("INV")), else_=literal("CN")))
         .where(Invoice.number.is_not(None))),
        select(JournalEntry.number, JournalEntry.entry_date, literal("JE")),
        select(Payment.number, Payment.payment_date,
               case((Payment.direction == "in", literal("PAY")), else_=literal("SPAY"))),
    )
    for query in sources:
        for number, day, prefix in _stream(query):
            match = _NUMBER.match(number or "")
            if match is None or match.group(1) != prefix:
                errors.append(f"{number} is not a {prefix}-YYYY-NNNN number.")
                continue
            year, n = int(match.group(2)), int(match.group(3))
            if day is not None and day.year != year:
                errors.append(f"{number} is dated {day.isoformat()}, outside its "
                              "number's year.")
            used[(prefix, year)].add(n)
    counters = {(prefix, year): last for prefix, year, last in db.session.execute(
        select(DocumentCounter.prefix, DocumentCounter.year, DocumentCounter.last)
        .where(DocumentCounter.prefix.in_(NUMBERED)))}
    for prefix, year in sorted(set(used) | set(counters)):
        numbers = used.get((prefix, year), set())
        counter = counters.get((prefix, year))
        top = max(numbers, default=0)
        last = counter if counter is not None else 0
        missing = [n for n in range(1, max(top, last) + 1) if n not in numbers]
        if missing:
            names = ", ".join(f"{prefix}-{year}-{n:04d}" for n in missing[:_LISTED])
            more = f" and {len(missing) - _LISTED} more" if len(missing) > _LISTED else ""
            errors.append(f"{prefix} numbers for {year} have gaps: {names}{more} "
                          f"{'is' if len(missing) == 1 else 'are'} missing.")
        if counter is None:
            errors.append(f"{prefix} numbers for {year} are used but there is no counter "
                          "for that year.")
        elif counter != top:
            errors.append(f"The {prefix} counter for {year} is at {counter}, but the last "
                          f"number used is {top}.")
    return errors


# --- Postings ------------------------------------------------------------------------------

def _control_sums(control: str, partner):
    """Per entry: debits - credits on control accounts of one kind, and the lowest and
    highest partner named."""
    return (select(JournalLine.entry_id.label("entry_id"),
                   sum_money(JournalLine.debit - JournalLine.credit).label("amount"),
                   func.min(partner).label("lo"), func.max(partner).label("hi"))
            .join(Account, Account.id == JournalLine.account_id)
            .where(Account.control == control).group_by(JournalLine.entry_id).subquery())


def _entry_errors(name: str, entry, source: tuple[str, int], day) -> list[str]:
    """What is wrong with the entry a document points at: missing, another document's,
    or on another date."""
    number, source_type, source_id, entry_date = entry
    if number is None:
        return [f"{name} has no journal entry."]
    if (source_type, source_id) != source:
        return [f"{name} points at {number}, which was posted from another document."]
    if day is not None and entry_date != day:
        return [f"{name}: its entry {number} is dated {entry_date.isoformat()}, the document "
                f"{day.isoformat()}."]
    return []


def _partner_errors(name: str, number: str, what: str, expected, amount, lo, hi,
                    partner) -> list[str]:
    if amount != expected:
        return [f"{name}: its entry {number} puts {_money(amount or ZERO)} on the {what}, "
                f"not {_money(expected)}."]
    if (lo, hi) != (partner, partner):
        return [f"{name}: its entry {number} puts the {what} on another partner's account."]
    return []


def validate_invoice_entries() -> list[str]:
    """Every posted invoice (credit note) has its entry, posted from it on its date,
    debiting (crediting) the customer's receivable with its total in the base currency."""
    recv = _control_sums("receivable", JournalLine.customer_id)
    errors = []
    for row in db.session.execute(
            select(Invoice.number, Invoice.id, Invoice.kind, Invoice.customer_id,
                   Invoice.issue_date, Invoice.total_base, JournalEntry.number,
                   JournalEntry.source_type, JournalEntry.source_id, JournalEntry.entry_date,
                   recv.c.amount, recv.c.lo, recv.c.hi)
            .outerjoin(JournalEntry, JournalEntry.id == Invoice.entry_id)
            .outerjoin(recv, recv.c.entry_id == Invoice.entry_id)
            .where(Invoice.status == "posted").order_by(Invoice.id)):
        (name, doc_id, kind, customer_id, day, total_base, *entry, amount, lo, hi) = row
        found = _entry_errors(name, entry, (kind, doc_id), day)
        if not found:
            sign = 1 if kind == "invoice" else -1
            found = _partner_errors(name, entry[0], "receivable", sign * total_base, amount,
                                    lo, hi, customer_id)
        errors += found
    errors += _orphans(("invoice", "credit_note"), Invoice)
    return errors


def validate_payment_entries() -> list[str]:
    """Every payment has its entry on its date: its base amount into (out of) its bank or
    cash account and off the customer's receivable (the supplier's payable)."""
    recv = _control_sums("receivable", JournalLine.customer_id)
    pay = _control_sums("payable", JournalLine.supplier_id)
    cash = (select(JournalLine.entry_id.label("entry_id"),
                   JournalLine.account_id.label("account_id"),
                   sum_money(JournalLine.debit - JournalLine.credit).label("amount"))
            .where(JournalLine.entry_id.in_(select(Payment.entry_id)))
            .group_by(JournalLine.entry_id, JournalLine.account_id).subquery())
    errors = []
    for row in db.session.execute(
            select(Payment.number, Payment.id, Payment.direction, Payment.customer_id,
                   Payment.supplier_id, Payment.payment_date, Payment.amount_base,
                   JournalEntry.number, JournalEntry.source_type, JournalEntry.source_id,
                   JournalEntry.entry_date, recv.c.amount, recv.c.lo, recv.c.hi,
                   pay.c.amount, pay.c.lo, pay.c.hi, cash.c.amount)
            .outerjoin(JournalEntry, JournalEntry.id == Payment.entry_id)
            .outerjoin(recv, recv.c.entry_id == Payment.entry_id)
            .outerjoin(pay, pay.c.entry_id == Payment.entry_id)
            .outerjoin(cash, and_(cash.c.entry_id == Payment.entry_id,
                                  cash.c.account_id == Payment.account_id))
            .order_by(Payment.id)):
        (name, doc_id, direction, customer_id, supplier_id, day, base, *entry,
         r_amount, r_lo, r_hi, p_amount, p_lo, p_hi, cash_amount) = row
        source_type = "payment" if direction == "in" else "supplier_payment"
        found = _entry_errors(name, entry, (source_type, doc_id), day)
        if not found:
            if direction == "in":
                found = _partner_errors(name, entry[0], "receivable", -base, r_amount, r_lo,
                                        r_hi, customer_id)
            else:
                found = _partner_errors(name, entry[0], "payable", base, p_amount, p_lo,
                                        p_hi, supplier_id)
            expected = base if direction == "in" else -base
            if not found and cash_amount != expected:
                found = [f"{name}: its entry {entry[0]} moves {_money(cash_amount or ZERO)} "
                         f"on its bank or cash account, not {_money(expected)}."]
        errors += found
    errors += _orphans(("payment", "supplier_payment"), Payment)
    return errors


def validate_bill_entries() -> list[str]:
    """Every vendor bill has its entry on its date, crediting the supplier's payable with
    its total in the base currency."""
    pay = _control_sums("payable", JournalLine.supplier_id)
    errors = []
    for row in db.session.execute(
            select(VendorBill.supplier_ref, Supplier.name, VendorBill.id,
                   VendorBill.supplier_id, VendorBill.bill_date, VendorBill.total_base,
                   JournalEntry.number, JournalEntry.source_type, JournalEntry.source_id,
                   JournalEntry.entry_date, pay.c.amount, pay.c.lo, pay.c.hi)
            .join(Supplier, Supplier.id == VendorBill.supplier_id)
            .outerjoin(JournalEntry, JournalEntry.id == VendorBill.entry_id)
            .outerjoin(pay, pay.c.entry_id == VendorBill.entry_id)
            .order_by(VendorBill.id)):
        ref, supplier, doc_id, supplier_id, day, total_base, *entry, amount, lo, hi = row
        name = f"Bill {ref} from {supplier}"
        found = _entry_errors(name, entry, ("bill", doc_id), day)
        if not found:
            found = _partner_errors(name, entry[0], "payable", -total_base, amount, lo, hi,
                                    supplier_id)
        errors += found
    errors += _orphans(("bill",), VendorBill)
    return errors


def _orphans(source_types: tuple, model) -> list[str]:
    """Entries posted from a document of `model` that the document does not point at."""
    rows = db.session.execute(
        select(JournalEntry.number, JournalEntry.source_type, JournalEntry.source_id)
        .outerjoin(model, model.id == JournalEntry.source_id)
        .where(JournalEntry.source_type.in_(source_types),
               or_(model.id.is_(None), model.entry_id.is_(None),
                   model.entry_id != JournalEntry.id))
        .order_by(JournalEntry.chain_seq))
    return [f"{number} was posted from {source_type} {source_id}, which is not that "
            "document's entry." for number, source_type, source_id in rows]


def _posted_from(source_type: str):
    """Per source document: debits, how many entries, the first entry's number and date."""
    return (select(JournalEntry.source_id.label("source_id"),
                   sum_money(JournalLine.debit).label("amount"),
                   func.count(func.distinct(JournalEntry.id)).label("entries"),
                   func.min(JournalEntry.number).label("number"),
                   func.min(JournalEntry.entry_date).label("entry_date"))
            .join(JournalLine, JournalLine.entry_id == JournalEntry.id)
            .where(JournalEntry.source_type == source_type)
            .group_by(JournalEntry.source_id).subquery())


def _stock_errors(name: str, value, day, amount, entries, number, entry_date) -> list[str]:
    value = value or ZERO
    if value > 0 and not entries:
        return [f"{name} has no journal entry for its value {_money(value)}."]
    if entries and entries > 1:
        return [f"{name} was posted {entries} times."]
    if entries and amount != value:
        return [f"{name}: its entry {number} posts {_money(amount)}, not its value "
                f"{_money(value)}."]
    if entries and entry_date != day:
        return [f"{name}: its entry {number} is dated {entry_date.isoformat()}, the "
                f"document {day.isoformat()}."]
    return []


def validate_stock_entries() -> list[str]:
    """Every shipment with a cost has its one cost-of-goods entry for that cost, every
    receipt with a stocked value its one inventory entry for that value, each on the
    document's date; an entry posted from a shipment or receipt names one that exists."""
    errors = []
    cost = (select(ShipmentLine.shipment_id.label("shipment_id"),
                   sum_money(ShipmentLine.cost).label("cost"))
            .group_by(ShipmentLine.shipment_id).subquery())
    posted = _posted_from("shipment")
    for number, day, value, *entry in db.session.execute(
            select(Shipment.number, Shipment.shipped_on, cost.c.cost, posted.c.amount,
                   posted.c.entries, posted.c.number, posted.c.entry_date)
            .outerjoin(cost, cost.c.shipment_id == Shipment.id)
            .outerjoin(posted, posted.c.source_id == Shipment.id).order_by(Shipment.id)):
        errors += _stock_errors(number, value, day, *entry)
    values: dict = defaultdict(lambda: ZERO)
    for receipt_id, quantity, unit_cost in _stream(
            select(ReceiptLine.receipt_id, StockMove.quantity, StockMove.unit_cost)
            .join(StockMove, StockMove.id == ReceiptLine.move_id)):
        values[receipt_id] += round_money(quantity * unit_cost)   # as StockMove.value
    posted = _posted_from("receipt")
    for receipt_id, order, day, *entry in db.session.execute(
            select(Receipt.id, PurchaseOrder.number, Receipt.received_on, posted.c.amount,
                   posted.c.entries, posted.c.number, posted.c.entry_date)
            .join(PurchaseOrder, PurchaseOrder.id == Receipt.order_id)
            .outerjoin(posted, posted.c.source_id == Receipt.id).order_by(Receipt.id)):
        errors += _stock_errors(f"Receipt {receipt_id} of {order}", values.get(receipt_id),
                                day, *entry)
    for model, source_type in ((Shipment, "shipment"), (Receipt, "receipt")):
        errors += [f"{number} was posted from {source_type} {source_id}, which does not "
                   "exist." for number, source_id in db.session.execute(
                       select(JournalEntry.number, JournalEntry.source_id)
                       .outerjoin(model, model.id == JournalEntry.source_id)
                       .where(JournalEntry.source_type == source_type, model.id.is_(None))
                       .order_by(JournalEntry.chain_seq))]
    return errors


def validate_exchange_entries() -> list[str]:
    """An allocation whose two sides gave up different base amounts has its exchange
    entry moving the partner's control account by the difference; one without a
    difference has none; every exchange entry belongs to an allocation."""
    recv = _control_sums("receivable", JournalLine.customer_id)
    pay = _control_sums("payable", JournalLine.supplier_id)
    target, note = aliased(Invoice), aliased(Invoice)
    errors = []
    for row in db.session.execute(
            select(target.number, target.customer_id, VendorBill.supplier_ref,
                   VendorBill.supplier_id, Payment.number, note.number,
                   Allocation.base_source, Allocation.base_target, JournalEntry.number,
                   JournalEntry.source_type, recv.c.amount, recv.c.lo, recv.c.hi,
                   pay.c.amount, pay.c.lo, pay.c.hi).select_from(Allocation)
            .outerjoin(target, target.id == Allocation.invoice_id)
            .outerjoin(VendorBill, VendorBill.id == Allocation.bill_id)
            .outerjoin(Payment, Payment.id == Allocation.payment_id)
            .outerjoin(note, note.id == Allocation.credit_note_id)
            .outerjoin(JournalEntry, JournalEntry.id == Allocation.entry_id)
            .outerjoin(recv, recv.c.entry_id == Allocation.entry_id)
            .outerjoin(pay, pay.c.entry_id == Allocation.entry_id)
            .order_by(Allocation.id)):
        (inv, customer_id, ref, supplier_id, pay_number, cn, base_source, base_target,
         number, source_type, r_amount, r_lo, r_hi, p_amount, p_lo, p_hi) = row
        name = (f"The allocation of {pay_number or cn} to "
                f"{inv if inv is not None else f'bill {ref}'}")
        difference = base_source - base_target
        if number is None:
            if difference:
                errors.append(f"{name} has an exchange difference of {_money(difference)} "
                              "and no entry for it.")
        elif source_type != "allocation":
            errors.append(f"{name} points at {number}, which is not an exchange entry.")
        elif inv is not None:
            errors += _partner_errors(name, number, "receivable", difference, r_amount,
                                      r_lo, r_hi, customer_id)
        else:
            errors += _partner_errors(name, number, "payable",
                                      -difference, p_amount, p_lo, p_hi, supplier_id)
    claimed = (select(Allocation.entry_id, func.count().label("allocations"))
               .where(Allocation.entry_id.is_not(None)).group_by(Allocation.entry_id)
               .subquery())
    for number, count in db.session.execute(
            select(JournalEntry.number, claimed.c.allocations)
            .outerjoin(claimed, claimed.c.entry_id == JournalEntry.id)
            .where(JournalEntry.source_type == "allocation",
                   func.coalesce(claimed.c.allocations, 0) != 1)
            .order_by(JournalEntry.chain_seq)):
        errors.append(f"{number} is an exchange entry that {count or 'no'} allocation"
                      f"{'s' if count else ''} refer{'' if count == 1 else 's'} to.")
    return errors


# --- Running them --------------------------------------------------------------------------

VALIDATIONS: list[Callable[[], list[str]]] = [
    validate_entries_balance,
    validate_account_balances,
    validate_journal_chain,
    validate_invoice_chain,
    validate_credit_note_chain,
    validate_control_lines,
    validate_receivable_subledger,
    validate_payable_subledger,
    validate_document_totals,
    validate_open_amounts,
    validate_credited,
    validate_allocations,
    validate_numbering,
    validate_invoice_entries,
    validate_payment_entries,
    validate_bill_entries,
    validate_stock_entries,
    validate_exchange_entries,
]


def check_books(validations=None) -> list[str]:
    """Run every validation (or those given) and return all violations, [] when the
    books are in order. Reads only. When no transaction is open it reads in one of its
    own (REPEATABLE READ on PostgreSQL) and rolls it back at the end, so call it with
    nothing pending in the session."""
    session = db.session()
    began = not session.in_transaction()
    if began and session.get_bind().dialect.name == "postgresql":
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
    try:
        errors = []
        for validation in validations or VALIDATIONS:
            errors += validation()
        return errors
    finally:
        if began:
            session.rollback()


def summary() -> dict[str, int]:
    """What the books hold, for the all-clear message."""
    invoices = dict(db.session.execute(
        select(Invoice.kind, func.count()).where(Invoice.status == "posted")
        .group_by(Invoice.kind)).all())
    return {
        "entries": db.session.scalar(select(func.count()).select_from(JournalEntry)),
        "lines": db.session.scalar(select(func.count()).select_from(JournalLine)),
        "invoices": invoices.get("invoice", 0),
        "credit notes": invoices.get("credit_note", 0),
        "payments": db.session.scalar(select(func.count()).select_from(Payment)),
        "bills": db.session.scalar(select(func.count()).select_from(VendorBill)),
    }
