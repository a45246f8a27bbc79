"""export-beancount: the ledger as a beancount file that beancount itself accepts, whose
balances equal our trial balance, sub-ledgers included."""

import subprocess
import sys
from collections import defaultdict
from decimal import Decimal
from io import StringIO
from pathlib import Path

from beancount import loader
from beancount.core import data
from sqlalchemy import select

from models.beancount_export import (
    account_names,
    amount,
    component,
    export_beancount,
    quote,
)
from models.ledger import Account, JournalEntry, JournalLine, sum_money
from tests.ledger.factories import realistic_books

BEAN_CHECK = Path(sys.executable).parent / "bean-check"


def export(app, tmp_path) -> Path:
    """The ledger exported through the command, as finance would run it."""
    path = tmp_path / "books.beancount"
    result = app.test_cli_runner().invoke(args=["export-beancount", str(path)])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Wrote ")
    return path


def beancount_balances(entries) -> dict[str, Decimal]:
    """Units per beancount account, summed over every posting."""
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for entry in entries:
        if isinstance(entry, data.Transaction):
            for posting in entry.postings:
                assert posting.units.currency == "EUR"
                totals[posting.account] += posting.units.number
    return totals


def test_export_beancount__bean_check_accepts_it_and_balances_equal_the_trial_balance(
        app, db, stages, chart, tmp_path):
    """After a month of postings (a USD invoice and a credit note among them), does
    beancount load the export without errors, bean-check exit 0, and does every account's
    balance (and every customer's and supplier's) equal the ledger's?"""
    made = realistic_books(db, stages)
    path = export(app, tmp_path)
    entries, errors, options = loader.load_file(str(path))
    assert errors == []
    assert options["title"] == "My Company"
    assert options["operating_currency"] == ["EUR"]
    checked = subprocess.run([str(BEAN_CHECK), str(path)], capture_output=True, text=True,
                             check=False)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    transactions = [e for e in entries if isinstance(e, data.Transaction)]
    assert len(transactions) == len(db.session.scalars(select(JournalEntry.id)).all())

    exported = beancount_balances(entries)
    names = account_names()
    ledger = dict(db.session.execute(
        select(JournalLine.account_id, sum_money(JournalLine.debit - JournalLine.credit))
        .group_by(JournalLine.account_id)).all())
    for account_id, name in names.items():
        in_beancount = sum((amount for account, amount in exported.items()
                            if account == name or account.startswith(name + ":")), Decimal(0))
        assert in_beancount == ledger.get(account_id, Decimal(0)), name
    assert sum(exported.values()) == 0

    receivable = names[chart["receivable"].id]
    for customer in (made["alice"], made["usd"], made["order"].customer):
        sub_account = f"{receivable}:{customer.account.account_code}"
        owed = db.session.scalar(select(sum_money(JournalLine.debit - JournalLine.credit))
                                 .where(JournalLine.account_id == chart["receivable"].id,
                                        JournalLine.customer_id == customer.id))
        assert exported[sub_account] == owed, sub_account
    supplier = made["supplier"]
    payable = f"{names[chart['payable'].id]}:S{supplier.id:05d}"
    assert exported[payable] == Decimal("-343.20")   # 43.20 + 800.00 billed, 500.00 paid


def test_export_beancount__carries_numbers_memos_and_metadata_exactly(app, db, stages, chart,
                                                                      tmp_path):
    """Do quotes, backslashes and accents in memos and names survive the export, and does
    each transaction carry its entry's number, source, reference and hash?"""
    made = realistic_books(db, stages)
    entries, errors, _ = loader.load_file(str(export(app, tmp_path)))
    assert errors == []
    by_number = {e.meta["number"]: e for e in entries if isinstance(e, data.Transaction)}
    for entry in db.session.scalars(select(JournalEntry)):
        exported = by_number[entry.number]
        assert (exported.date, exported.payee, exported.narration) == (
            entry.entry_date, entry.number, entry.memo)
        assert exported.meta["source"] == entry.source_type
        assert exported.meta["hash"] == entry.hash
        assert [p.meta.get("memo", "") for p in exported.postings] == [
            line.memo for line in entry.lines]
    manual = by_number[made["manual"].number]
    assert manual.narration == 'Stamps "first class" \\ post office\n\treceipt kept'
    reversal = by_number[made["reversal"].number]
    assert reversal.meta["reverses"] == made["manual"].number
    invoice = by_number[made["invoice"].entry.number]
    assert invoice.meta["reference"] == made["invoice"].number
    assert invoice.meta["source_id"] == made["invoice"].id
    assert 'Alice "Ace" Café \\ Co' in invoice.narration


def test_export_beancount__is_deterministic_and_opens_accounts_before_use(db, stages, chart):
    """Does exporting twice give the same text, with every account of the chart opened
    on or before its first posting?"""
    realistic_books(db, stages)
    first, second = StringIO(), StringIO()
    export_beancount(first)
    export_beancount(second)
    assert first.getvalue() == second.getvalue()
    entries, errors, _ = loader.load_string(first.getvalue())
    assert errors == []
    opened = {e.account: e.date for e in entries if isinstance(e, data.Open)}
    assert set(account_names().values()) <= set(opened)
    for entry in entries:
        if isinstance(entry, data.Transaction):
            for posting in entry.postings:
                assert opened[posting.account] <= entry.date
    assert "Assets:1200-Accounts-Receivable" in opened
    assert "Liabilities:2200-Output-Tax-VAT-Payable" in opened
    assert "Equity:3000-Owners-Capital" in opened


def test_export_beancount__empty_ledger_is_a_valid_file(db, chart):
    """Is the export of books with nothing posted still a file beancount accepts?"""
    out = StringIO()
    assert export_beancount(out) == 0
    entries, errors, _ = loader.load_string(out.getvalue())
    assert errors == []
    assert len([e for e in entries if isinstance(e, data.Open)]) == len(
        db.session.scalars(select(Account.id)).all())


def test_component_quote_and_amount__make_valid_beancount_text(db):
    """Are account components made of capitalised ASCII words, strings escaped, and stored
    amounts written exactly?"""
    assert component("1200 Accounts receivable", "x") == "1200-Accounts-Receivable"
    assert component("6150.1 Café & bar (staff)", "x") == "6150-1-Cafe-Bar-Staff"
    assert component("c-42", "x") == "C-42"
    assert component("—", "A7") == "A7"
    assert quote('say "hi"\\\n') == '"say \\"hi\\"\\\\\\n"'
    assert quote("a\x00b\tc") == '"a b\\tc"'
    assert [amount(u, 2) for u in (-3000, 5, 0, 123456789)] == [
        "-30.00", "0.05", "0.00", "1234567.89"]
    assert amount(-7, 0) == "-7"
