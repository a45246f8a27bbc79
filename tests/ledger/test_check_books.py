"""check-books: clean books pass; an edit made behind the app's back (in SQL) is reported
naming the document or entry it touched; the command exits 1 listing violations, 0 when
the books are in order."""

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select, text

from models.books_check import VALIDATIONS, check_books
from models.ledger import Account, JournalEntry, JournalLine, chain_hash
from models.payments import Allocation
from tests.helpers import make_customer
from tests.ledger.factories import (
    make_tax_rate,
    pay,
    posted_credit_note,
    posted_invoice,
    posted_manual_entry,
    realistic_books,
)

D = Decimal
YEAR = date.today().year


@pytest.fixture
def books(db, chart):
    """Small books: two customers' invoices with tax, a partial payment, a credit note,
    a manual entry between them, and an overpayment."""
    vat = make_tax_rate(percent="20")
    one, two = make_customer(), make_customer()
    made = {"one": one, "two": two}
    made["first"] = posted_invoice(db, customer=one, tax_rate=vat,
                                   lines=[("Consulting", "2", "100.00"), ("Travel", "1", "30.00")])
    made["manual"] = posted_manual_entry(db, "6300", "1000", "10.00", memo="Stamps")
    made["payment"] = pay(db, one, "100.00")
    made["note"] = posted_credit_note(db, made["first"], {made["first"].lines[1].id: D("1")})
    made["second"] = posted_invoice(db, customer=two, lines=[("Repair", "1", "80.00")])
    made["over"] = pay(db, two, "90.00")
    db.session.expire_all()
    return made


def tamper(db, sql, **params):
    """An edit made directly in SQL, as someone with database access could."""
    db.session.execute(text(sql), params)
    db.session.commit()


def receivable_line(db, entry_id):
    return db.session.scalar(select(JournalLine).join(Account).where(
        JournalLine.entry_id == entry_id, Account.control == "receivable"))


def test_check_books__clean_after_realistic_postings(db, stages, chart):
    """After a month of orders, invoices, payments, credit notes, FX, purchases, bills, a
    count and a reversed manual entry, does every validation pass?"""
    realistic_books(db, stages)
    assert check_books() == []
    for validation in VALIDATIONS:
        assert validation() == [], validation.__name__


def test_check_books__empty_books_are_in_order(db):
    """Does a database with nothing posted pass?"""
    assert check_books() == []


def test_check_books__changed_line_amount_breaks_balance_chain_and_subledger(db, books):
    """A receivable line raised by 1.00 in SQL: is the entry reported as unbalanced, the
    journal chain as broken there, and the customer's receivable as off?"""
    invoice = books["first"]
    line = receivable_line(db, invoice.entry_id)
    number, debit = invoice.entry.number, line.debit
    tamper(db, "UPDATE journal_lines SET debit = debit + 100 WHERE id = :id", id=line.id)
    errors = check_books()
    assert f"{number} does not balance: debits {debit + 1:,.2f}, credits {debit:,.2f}." \
        in errors
    assert f"journal chain breaks at {number}: its content changed since posting." in errors
    assert any(e.startswith(f"Receivable of {books['one'].name}") for e in errors)
    assert any(e.startswith(f"{invoice.number}: its entry {number} puts") for e in errors)


def test_check_books__changed_invoice_line_price_breaks_the_invoice_chain(db, books):
    """An invoice line's price changed in SQL: is the invoice chain broken at that invoice
    and its stored totals found to differ from its lines?"""
    invoice = books["first"]
    tamper(db, "UPDATE invoice_lines SET unit_price = unit_price + 100 WHERE id = :id",
           id=invoice.lines[0].id)
    errors = check_books()
    assert f"invoice chain breaks at {invoice.number}: its content changed since posting." \
        in errors
    assert any(e.startswith(f"{invoice.number}: the stored totals") for e in errors)
    assert not any("credit_note chain" in e or "journal chain" in e for e in errors)


def test_check_books__changed_open_amount_is_reported(db, books):
    """A paid invoice's open amount raised in SQL (the settlement is outside the hash): is
    the invoice named, and the customer's sub-ledger found off the control account?"""
    invoice = books["second"]
    tamper(db, "UPDATE invoices SET open_amount = 5000, open_base = 5000 WHERE id = :id",
           id=invoice.id)
    errors = check_books()
    assert f"{invoice.number}: 50.00 is open, but its total 80.00 less allocations 80.00 " \
           "leaves 0.00." in errors
    assert any(e.startswith(f"Receivable of {books['two'].name}") for e in errors)
    assert not any("chain" in e for e in errors)


def test_check_books__deleted_allocation_leaves_both_documents_off(db, books):
    """An allocation deleted in SQL: are the invoice and the payment it joined reported?"""
    payment, invoice = books["payment"], books["first"]
    allocation = db.session.scalar(select(Allocation).where(
        Allocation.payment_id == payment.id))
    tamper(db, "DELETE FROM allocations WHERE id = :id", id=allocation.id)
    errors = check_books()
    assert f"{invoice.number}: 140.00 is open, but its total 276.00 less allocations 36.00 " \
           "leaves 240.00." in errors
    assert any(e.startswith(f"{payment.number}: 0.00 is open, but its total 100.00")
               for e in errors), errors


def test_check_books__renumbered_invoice_leaves_a_gap(db, books):
    """An invoice renumbered in SQL: is the number now missing named, the counter found
    behind, and the chain broken at the renumbered invoice?"""
    first = books["first"]
    tamper(db, "UPDATE invoices SET number = :new WHERE id = :id",
           new=f"INV-{YEAR}-0009", id=first.id)
    errors = check_books()
    assert f"INV numbers for {YEAR} have gaps: INV-{YEAR}-0001, INV-{YEAR}-0003, " \
           f"INV-{YEAR}-0004, INV-{YEAR}-0005, INV-{YEAR}-0006, INV-{YEAR}-0007, " \
           f"INV-{YEAR}-0008 are missing." in errors
    assert f"The INV counter for {YEAR} is at 2, but the last number used is 9." in errors
    assert f"invoice chain breaks at INV-{YEAR}-0009: its content changed since posting." \
        in errors


def test_check_books__deleted_entry_is_missing_from_the_chain(db, books):
    """A manual entry deleted in SQL (lines first): is the chain broken at the next entry
    with the link missing before it, and its number reported missing?"""
    manual = books["manual"]
    seq, number = manual.chain_seq, manual.number
    following = db.session.scalar(select(JournalEntry.number).where(
        JournalEntry.chain_seq == seq + 1))
    accounts = {line.account_id for line in manual.lines}
    tamper(db, "DELETE FROM journal_lines WHERE entry_id = :id", id=manual.id)
    tamper(db, "DELETE FROM journal_entries WHERE id = :id", id=manual.id)
    errors = check_books()
    kept = [e for e in errors if "the kept balance says" in e]
    assert len(kept) == len(accounts)
    assert [e for e in errors if e not in kept] == [
        f"journal chain breaks at {following}: link {seq} is missing before it.",
        f"JE numbers for {YEAR} have gaps: {number} is missing."]


def test_check_books__kept_month_balance_off_is_named_and_rebuilt(app, db, books):
    """A month's kept balance raised in SQL: is that account and month named, with both
    figures, and does `flask rebuild-balances` put it right from the lines?"""
    from models.ledger import AccountBalance

    row = db.session.scalars(select(AccountBalance).order_by(AccountBalance.account_id)).first()
    code = db.session.get(Account, row.account_id).code
    month, debit = row.month, row.debit
    tamper(db, "UPDATE account_balances SET debit = debit + 100 WHERE account_id = :a "
           "AND month = :m", a=row.account_id, m=row.month)
    errors = check_books()
    assert len(errors) == 1
    assert errors[0].startswith(
        f"Account {code} in {month:%Y-%m}: the kept balance says debits {debit + 1:,.2f}, ")
    assert f"its lines add up to debits {debit:,.2f}" in errors[0]
    rebuilt = app.test_cli_runner().invoke(args=["rebuild-balances"])
    assert rebuilt.exit_code == 0, rebuilt.output
    count = db.session.scalar(select(func.count()).select_from(AccountBalance))
    assert rebuilt.output == f"Rebuilt {count} account-month balances.\n"
    assert check_books() == []


def test_check_books__rehashed_entry_breaks_the_chain_at_the_next_one(db, books):
    """An entry's memo changed in SQL and its hash recomputed to match: is the chain broken
    at the entry after it, naming the one that changed?"""
    manual = books["manual"]
    tamper(db, "UPDATE journal_entries SET memo = 'Nothing to see' WHERE id = :id",
           id=manual.id)
    db.session.expire_all()
    entry = db.session.get(JournalEntry, manual.id)
    tamper(db, "UPDATE journal_entries SET hash = :h WHERE id = :id",
           h=chain_hash(entry.prev_hash, entry.content()), id=manual.id)
    following = db.session.scalar(select(JournalEntry).where(
        JournalEntry.chain_seq == manual.chain_seq + 1))
    errors = check_books()
    assert errors == [f"journal chain breaks at {following.number}: it does not follow the "
                      f"link before it ({manual.number}), which changed or was replaced "
                      "since."]


def test_check_books__line_moved_to_another_customer(db, books):
    """A receivable line moved to another customer in SQL: are both customers' receivables
    reported against their documents?"""
    invoice = books["second"]
    line = receivable_line(db, invoice.entry_id)
    tamper(db, "UPDATE journal_lines SET customer_id = :other WHERE id = :id",
           other=books["one"].id, id=line.id)
    errors = check_books()
    for customer in (books["one"], books["two"]):
        assert any(e.startswith(f"Receivable of {customer.name} ({customer.account.account_code})")
                   for e in errors), errors
    assert any("puts the receivable on another partner's account" in e for e in errors)


def test_check_books__removed_last_links_show_at_the_head(db, books):
    """The chain head says more links than there are: is it reported?"""
    tamper(db, "UPDATE ledger_chains SET seq = seq + 1 WHERE kind = 'credit_note'")
    errors = check_books()
    assert errors == [f"credit_note chain's head says 2 links but the chain has 1, ending at "
                      f"{books['note'].number}: links after the last one were removed, or the "
                      "head was changed."]


def test_check_books__posted_invoice_turned_draft_is_out_of_the_chain(db, books):
    """A posted invoice set back to draft in SQL: does the chain say so at that invoice?"""
    invoice = books["second"]
    tamper(db, "UPDATE invoices SET status = 'draft' WHERE id = :id", id=invoice.id)
    errors = check_books()
    assert f"invoice chain breaks at {invoice.number}: it is in the chain but no longer " \
           "posted." in errors


def test_check_books__shipment_without_its_entry(db, stages, chart):
    """A shipment's cost-of-goods entry removed in SQL: is the shipment named?"""
    from tests.ledger.factories import make_product, shipped_order

    order = shipped_order(db, stages, [(make_product(cost="4.00"), "2", "10.00")])
    shipment = order.shipments[0]
    entry = db.session.scalar(select(JournalEntry).where(JournalEntry.source_type == "shipment"))
    tamper(db, "DELETE FROM journal_lines WHERE entry_id = :id", id=entry.id)
    tamper(db, "DELETE FROM journal_entries WHERE id = :id", id=entry.id)
    errors = check_books()
    assert f"{shipment.number} has no journal entry for its value 8.00." in errors


def test_check_books_command__exits_0_when_clean_and_1_listing_violations(app, db, books):
    """Does `flask check-books` print the all-clear and exit 0, and after an edit in SQL
    exit 1 printing the violation?"""
    runner = app.test_cli_runner()
    clean = runner.invoke(args=["check-books"])
    assert clean.exit_code == 0, clean.output
    assert clean.output.startswith("The books are in order: ")
    assert "2 invoices, 1 credit note, 2 payments" in clean.output
    manual = books["manual"]
    tamper(db, "UPDATE journal_lines SET memo = 'x' WHERE entry_id = :id", id=manual.id)
    broken = runner.invoke(args=["check-books"])
    assert broken.exit_code == 1
    assert "The books have 1 problem:" in broken.output
    assert f"journal chain breaks at {manual.number}: its content changed since posting." \
        in broken.output


def test_check_books_command__demo_data_is_in_order(app, db, tmp_path):
    """Does the demo data set pass check-books, and its export bean-check?"""
    import subprocess
    import sys
    from pathlib import Path

    runner = app.test_cli_runner()
    assert runner.invoke(args=["demo"]).exit_code == 0
    checked = runner.invoke(args=["check-books"])
    assert checked.exit_code == 0, checked.output
    path = tmp_path / "demo.beancount"
    assert runner.invoke(args=["export-beancount", str(path)]).exit_code == 0
    bean_check = Path(sys.executable).parent / "bean-check"
    result = subprocess.run([str(bean_check), str(path)], capture_output=True, text=True,
                            check=False)
    assert result.returncode == 0, result.stdout + result.stderr
