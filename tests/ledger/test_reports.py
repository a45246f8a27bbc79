"""The financial reports, on a known set of postings: trial balance, profit and loss,
balance sheet, receivable and payable aging (today and as of a past day), revenue beside
the weighted forecast, the deal reconciliation; their pages, CSV files, refusals and
roles; and that no report runs a query per account or per customer."""

import csv
import io
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from models.invoicing import Invoice, credit_invoice, post_invoice
from models.ledger import Account, JournalLine, create_account, sum_money
from models.ledger_reports import (
    balance_sheet,
    payables_aging,
    profit_and_loss,
    receivables_aging,
    reconciliation,
    revenue_vs_forecast,
    trial_balance,
)
from models.payments import Payment
from tests.helpers import count_statements, make_customer, make_deal
from tests.ledger.factories import (
    account_by_code,
    expense_bill,
    make_supplier,
    manual_entry,
    pay,
    pay_supplier,
    posted_invoice,
    posted_manual_entry,
    shipped_order,
)

D = Decimal
T = date.today()
START = T - timedelta(days=30)
URL = "/ledger/reports"


def books(db, chart, vat=None):
    """The known postings the figures below are worked out from.

    - Alpha: invoice A 100.00 (T-100, due T-70), invoice B 200.00 + 40.00 tax (T-10,
      due T+20); pays 150.00 on T-5 (A in full, 50.00 of B).
    - Beta: invoice C 50.00 (T-45, due T-31), unpaid.
    - Supplier: utilities bill 80.00 + 16.00 tax (T-20, due T-5); paid 30.00 on T-2.
    - Rent 500.00 from the bank, a manual entry on T-3.
    """
    from tests.ledger.factories import make_tax_rate

    vat = vat or make_tax_rate(percent="20")
    alpha = make_customer(name="Alpha Ltd")
    beta = make_customer(name="Beta GmbH")
    invoice_a = posted_invoice(db, customer=alpha, lines=[("Consulting", "1", "100.00")],
                               issue_date=T - timedelta(days=100), terms=30)
    invoice_b = posted_invoice(db, customer=alpha, lines=[("Workshop", "1", "200.00")],
                               issue_date=T - timedelta(days=10), terms=30, tax_rate=vat)
    invoice_c = posted_invoice(db, customer=beta, lines=[("Support", "1", "50.00")],
                               issue_date=T - timedelta(days=45), terms=14)
    pay(db, alpha, "150.00", on=T - timedelta(days=5))
    supplier = make_supplier("Power Co")
    bill = expense_bill(db, supplier, "80.00", tax="16.00", code="6200",
                        on=T - timedelta(days=20), due_on=T - timedelta(days=5))
    pay_supplier(db, supplier, "30.00", on=T - timedelta(days=2))
    manual_entry(db, [(account_by_code(db, "6000"), "500.00"), (chart["bank"], "-500.00")],
                 on=T - timedelta(days=3), memo="Rent")
    return {"alpha": alpha, "beta": beta, "a": invoice_a, "b": invoice_b, "c": invoice_c,
            "supplier": supplier, "bill": bill}


def control_balance(db, role_account, until):
    """Debits - credits on an account up to the end of `until`."""
    return db.session.scalar(select(sum_money(JournalLine.debit - JournalLine.credit)).where(
        JournalLine.account_id == role_account.id, JournalLine.entry_date <= until))


def read_csv(response):
    """The rows of a CSV response (its byte-order mark checked and dropped)."""
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:])))


# --- Trial balance, profit and loss, balance sheet ---------------------------------------

def test_trial_balance__opening_period_and_closing_per_account_by_code(db, chart):
    """After the known postings, does each account show its opening balance, the period's
    debits and credits and its closing balance, and do debits equal credits?"""
    books(db, chart)
    tb = trial_balance(START, T)
    rows = {row.code: (row.opening, row.debit, row.credit, row.closing) for row in tb.rows}
    assert rows == {
        "1100": (D("0.00"), D("150.00"), D("530.00"), D("-380.00")),
        "1200": (D("150.00"), D("240.00"), D("150.00"), D("240.00")),
        "1400": (D("0.00"), D("16.00"), D("0.00"), D("16.00")),
        "2000": (D("0.00"), D("30.00"), D("96.00"), D("-66.00")),
        "2200": (D("0.00"), D("0.00"), D("40.00"), D("-40.00")),
        "4100": (D("-150.00"), D("0.00"), D("200.00"), D("-350.00")),
        "6000": (D("0.00"), D("500.00"), D("0.00"), D("500.00")),
        "6200": (D("0.00"), D("80.00"), D("0.00"), D("80.00")),
    }
    assert (tb.opening_debit, tb.opening_credit) == (D("150.00"), D("150.00"))
    assert (tb.debit, tb.credit) == (D("1016.00"), D("1016.00"))
    assert (tb.closing_debit, tb.closing_credit) == (D("836.00"), D("836.00"))
    assert tb.balanced


def test_trial_balance__month_balances_agree_with_the_lines_at_any_boundary(db, chart):
    """Entries on month ends and firsts across a leap February and a year end: for
    periods that start and end mid-month, on a first, on a last, inside one month and
    over none, do the trial balance, P&L and balance sheet (which read the kept month
    balances plus the lines of partial months) equal sums over the lines themselves?"""
    days = [date(2023, 12, 31), date(2024, 1, 1), date(2024, 1, 15), date(2024, 1, 31),
            date(2024, 2, 1), date(2024, 2, 29), date(2024, 3, 1), date(2024, 3, 17),
            date(2024, 12, 31), date(2025, 1, 1)]
    for n, day in enumerate(days, start=1):
        posted_manual_entry(db, "6000", "1100", f"{n}.01", on=day)
        posted_manual_entry(db, "1100", "4100", f"{n * 10}.10", on=day)

    def lines(lo, hi) -> dict:
        """{code: (debits, credits)} summed over the lines from `lo` to `hi`."""
        where = [JournalLine.entry_date <= hi] + ([JournalLine.entry_date >= lo] if lo else [])
        return {code: (debit, credit) for code, debit, credit in db.session.execute(
            select(Account.code, sum_money(JournalLine.debit), sum_money(JournalLine.credit))
            .join(Account, Account.id == JournalLine.account_id).where(*where)
            .group_by(Account.code))}

    periods = [(date(2024, 1, 1), date(2024, 12, 31)), (date(2024, 1, 15), date(2024, 3, 1)),
               (date(2024, 1, 16), date(2024, 2, 28)), (date(2024, 2, 1), date(2024, 2, 29)),
               (date(2024, 2, 2), date(2024, 2, 28)), (date(2023, 12, 31), date(2025, 1, 1)),
               (date(2024, 3, 2), date(2024, 12, 30)), (date(2024, 4, 1), date(2024, 4, 30))]
    for start, end in periods:
        opening, period = lines(None, start - timedelta(days=1)), lines(start, end)
        tb = {row.code: (row.opening, row.debit, row.credit) for row in
              trial_balance(start, end).rows}
        none = (D("0.00"), D("0.00"))
        assert tb == {code: (opening.get(code, none)[0] - opening.get(code, none)[1],
                             *period.get(code, none))
                      for code in opening.keys() | period.keys()}, (start, end)
        pl = profit_and_loss(start, end)
        assert [(r.code, r.amount) for r in pl.income + pl.expense] == [
            (code, abs(period[code][0] - period[code][1]))
            for code in ("4100", "6000") if code in period], (start, end)
        sheet = balance_sheet(end)
        closing = lines(None, end)
        assert [(r.code, r.amount) for r in sheet.assets] == [
            ("1100", closing["1100"][0] - closing["1100"][1])], end
        assert sheet.profit_to_date == (closing["4100"][1] - closing["4100"][0]
                                        - closing["6000"][0] + closing["6000"][1]), end


def test_trial_balance__a_period_before_any_posting_is_empty(db, chart):
    """Does a period that ends before the first posting list no account at all?"""
    books(db, chart)
    assert trial_balance(T - timedelta(days=400), T - timedelta(days=200)).rows == []


def test_profit_and_loss__net_is_the_period_movement_of_income_and_expenses(db, chart):
    """Is income shown positive, expenses positive, and the net profit what the income
    and expense accounts moved in the period (and only in the period)?"""
    books(db, chart)
    pl = profit_and_loss(START, T)
    assert [(r.code, r.amount) for r in pl.income] == [("4100", D("200.00"))]
    assert [(r.code, r.amount) for r in pl.expense] == [("6000", D("500.00")),
                                                         ("6200", D("80.00"))]
    assert (pl.income_total, pl.expense_total, pl.net_profit) == (
        D("200.00"), D("580.00"), D("-380.00"))
    moved = sum((r.credit - r.debit for r in trial_balance(START, T).rows
                 if r.type in ("income", "expense")), D(0))
    assert pl.net_profit == moved
    earlier = profit_and_loss(T - timedelta(days=120), START - timedelta(days=1))
    assert earlier.net_profit == D("150.00")   # invoices A and C


def test_balance_sheet__assets_equal_liabilities_plus_equity(db, chart):
    """Today and on an earlier day, do assets equal liabilities plus equity, with the
    profit and loss to date as a line of equity?"""
    books(db, chart)
    sheet = balance_sheet(T)
    assert {r.code: r.amount for r in sheet.assets} == {
        "1100": D("-380.00"), "1200": D("240.00"), "1400": D("16.00")}
    assert {r.code: r.amount for r in sheet.liabilities} == {
        "2000": D("66.00"), "2200": D("40.00")}
    assert [(r.name, r.amount) for r in sheet.equity] == [
        ("Profit and loss to date", D("-230.00"))]
    assert sheet.assets_total == D("-124.00")
    assert sheet.assets_total == sheet.liabilities_total + sheet.equity_total
    before = balance_sheet(T - timedelta(days=50))
    assert before.assets_total == D("100.00") == before.profit_to_date
    assert before.balanced


def test_balance_sheet__capital_and_a_loan_keep_the_identity(db, chart):
    """With owner's capital, a loan and equipment bought, do both sides still agree?"""
    loan, equipment = account_by_code(db, "2400"), account_by_code(db, "1700")
    manual_entry(db, [(chart["bank"], "10000.00"), (chart["capital"], "-10000.00")])
    manual_entry(db, [(chart["bank"], "2500.00"), (loan, "-2500.00")])
    manual_entry(db, [(equipment, "4000.00"), (chart["bank"], "-4000.00")])
    sheet = balance_sheet(T)
    assert sheet.assets_total == D("12500.00")
    assert (sheet.liabilities_total, sheet.equity_total) == (D("2500.00"), D("10000.00"))
    assert sheet.balanced


# --- Aging -------------------------------------------------------------------------------

def test_receivables_aging__buckets_by_days_past_due(db, chart):
    """Today: is Alpha's open 190.00 current and Beta's 50.00 in 31-60, and does the
    total equal the receivable account?"""
    found = books(db, chart)
    aging = receivables_aging(T)
    rows = {row.name: row for row in aging.rows}
    assert set(rows) == {"Alpha Ltd", "Beta GmbH"}
    assert rows["Alpha Ltd"].buckets["Current"] == D("190.00")
    assert rows["Alpha Ltd"].total == D("190.00") and rows["Alpha Ltd"].overdue == 0
    assert rows["Beta GmbH"].buckets["31–60"] == D("50.00")
    assert aging.totals == {"Current": D("190.00"), "1–30": D("0.00"), "31–60": D("50.00"),
                            "61–90": D("0.00"), "Over 90": D("0.00")}
    assert aging.total == control_balance(db, chart["receivable"], T) == D("240.00")
    db.session.refresh(found["b"])
    assert rows["Alpha Ltd"].total == found["b"].open_base


def test_receivables_aging__as_of_a_past_day_ignores_later_payments(db, chart):
    """As of T-6, before Alpha paid: is invoice A 64 days past due (61-90), B current,
    C 25 days past due (1-30), and the total the receivable account on that day?"""
    books(db, chart)
    day = T - timedelta(days=6)
    aging = receivables_aging(day)
    rows = {row.name: row for row in aging.rows}
    assert rows["Alpha Ltd"].buckets["61–90"] == D("100.00")
    assert rows["Alpha Ltd"].buckets["Current"] == D("240.00")
    assert rows["Beta GmbH"].buckets["1–30"] == D("50.00")
    assert aging.total == D("390.00") == control_balance(db, chart["receivable"], day)
    # before anything was invoiced there is nothing to age
    assert receivables_aging(T - timedelta(days=101)).rows == []


def test_receivables_aging__credits_sit_in_their_own_column(db, chart):
    """Are an unallocated payment and an unused credit note shown as negative credit (not
    aged), taken off the total, which matches the open documents and the ledger?"""
    gamma = make_customer(name="Gamma SA")
    invoice = posted_invoice(db, customer=gamma, lines=[("Job", "1", "300.00")],
                             issue_date=T - timedelta(days=40), terms=0)
    pay(db, gamma, "300.00", on=T - timedelta(days=4))
    note = credit_invoice(invoice, reason="Goodwill", quantities={invoice.lines[0].id: D("0.1")})
    post_invoice(note, issue_date=T - timedelta(days=1))   # the invoice is paid: all credit
    db.session.commit()
    pay(db, gamma, "70.00", on=T - timedelta(days=1))       # nothing open: all credit
    [row] = receivables_aging(T).rows
    assert row.credit == D("-100.00")                        # 30.00 note + 70.00 payment
    assert all(amount == 0 for amount in row.buckets.values())
    assert row.total == D("-100.00") == control_balance(db, chart["receivable"], T)
    # the day before the note and the overpayment, nothing was open; before the
    # payment, the whole invoice was, 35 days past due
    assert receivables_aging(T - timedelta(days=2)).rows == []
    [earlier] = receivables_aging(T - timedelta(days=5)).rows
    assert earlier.buckets["31–60"] == earlier.total == D("300.00")


def test_receivables_aging__today_agrees_with_open_base_in_a_foreign_currency(db, chart):
    """A USD invoice booked at 0.90, part paid at 0.95: is its aged amount the invoice's
    open base amount, and the ledger's receivable for the customer?"""
    delta = make_customer(name="Delta Inc", currency="USD")
    invoice = posted_invoice(db, customer=delta, lines=[("A", "1", "100.00")], rate="0.90")
    pay(db, delta, "40.00", rate="0.95", currency="USD")
    db.session.refresh(invoice)
    [row] = receivables_aging(T).rows
    assert row.total == invoice.open_base == D("54.00")
    assert row.total == control_balance(db, chart["receivable"], T)
    documents = sum(i.open_base if i.kind == "invoice" else -i.open_base
                    for i in db.session.scalars(select(Invoice)))
    documents -= sum(p.open_base for p in db.session.scalars(select(Payment)))
    assert row.total == documents


def test_payables_aging__bills_less_payments_as_of_a_day(db, chart):
    """Does the utilities bill show 66.00 five days past due today, 96.00 before the
    payment, and current before its due date?"""
    found = books(db, chart)
    [row] = payables_aging(T).rows
    assert row.name == "Power Co" and row.buckets["1–30"] == D("66.00")
    assert row.total == D("66.00") == -control_balance(db, account_by_code(db, "2000"), T)
    db.session.refresh(found["bill"])
    assert row.total == found["bill"].open_base
    [before] = payables_aging(T - timedelta(days=3)).rows
    assert before.buckets["1–30"] == D("96.00")
    [early] = payables_aging(T - timedelta(days=10)).rows
    assert early.buckets["Current"] == D("96.00")
    pay_supplier(db, found["supplier"], "100.00")          # 66.00 settles, 34.00 on account
    [after] = payables_aging(T).rows
    assert after.credit == D("-34.00") and after.total == D("-34.00")


# --- Revenue and forecast ----------------------------------------------------------------

def test_revenue_vs_forecast__actual_by_month_and_the_weighted_pipeline(db, chart, stages):
    """Is revenue per month what was invoiced less credited (exchange gains left out),
    and is the forecast the open deals' weighted amounts by expected close month?"""
    found = books(db, chart)
    note = credit_invoice(found["b"], reason="Discount",
                          quantities={found["b"].lines[0].id: D("0.25")})
    post_invoice(note)
    db.session.commit()
    usd = make_customer(currency="USD")
    posted_invoice(db, customer=usd, lines=[("A", "1", "100.00")], rate="0.90")
    pay(db, usd, "100.00", rate="0.95", currency="USD")   # 5.00 exchange gain, not revenue
    next_month = (T.replace(day=1) + timedelta(days=32)).replace(day=1)
    make_deal(db, stages, stage="Proposal", amount="1000.00", expected_close=T)
    make_deal(db, stages, stage="Negotiation", amount="200.00", expected_close=next_month)
    make_deal(db, stages, stage="Lead", amount="999.00")
    report = revenue_vs_forecast(12)
    expected = {}
    for day, amount in ((T - timedelta(days=100), "100.00"), (T - timedelta(days=10), "200.00"),
                        (T - timedelta(days=45), "50.00"), (T, "-50.00"), (T, "90.00")):
        key = f"{day:%Y-%m}"
        expected[key] = expected.get(key, D(0)) + D(amount)
    actual = {m.label: m.actual for m in report.months if m.actual}
    assert actual == expected
    assert report.actual_total == D("390.00")
    months = {m.label: m for m in report.months}
    assert months[f"{T:%Y-%m}"].weighted == D("500.00")
    assert months[f"{next_month:%Y-%m}"].weighted == D("150.00")
    assert months[f"{next_month:%Y-%m}"].actual is None
    assert len(report.months) == 23
    [undated] = report.rest
    assert (undated.label, undated.deals, undated.weighted) == (
        "No expected close", 1, D("99.90"))


# --- Reconciliation ----------------------------------------------------------------------

def test_reconciliation__flags_what_disagrees_per_deal_and_month(db, chart, stages):
    """Of four won deals, is the shipped-not-invoiced one flagged, the one with an overdue
    invoice flagged, the one won without an order flagged, the paid one clean, and do the
    months add them up per currency?"""
    shipped = shipped_order(db, stages, [("Install", "2", "50.00")])
    late = shipped_order(db, stages, [("Audit", "1", "300.00")])
    posted_invoice(db, order=late, issue_date=T - timedelta(days=1), terms=0)
    pay(db, late.customer, "120.00")
    clean = shipped_order(db, stages, [("Training", "4", "25.00", "10")])
    posted_invoice(db, order=clean)
    pay(db, clean.customer, "90.00")
    bare = make_deal(db, stages, stage="Won", amount="500.00", title="Handshake deal")
    make_deal(db, stages, stage="Won", amount="300.00",
              customer=make_customer(currency="USD"))
    make_deal(db, stages, stage="Proposal", amount="700.00")   # open: not in the report
    report = reconciliation(T - timedelta(days=1), T + timedelta(days=1))
    deals = {d.deal_id: d for d in report.deals}
    assert len(deals) == 5
    one = deals[shipped.deal_id]
    assert (one.won, one.ordered, one.invoiced, one.paid) == (
        D("100.00"), D("100.00"), D("0.00"), D("0.00"))
    assert one.flags == ["not_invoiced", "invoiced_vs_ordered"]
    two = deals[late.deal_id]
    assert (two.won, two.ordered, two.invoiced, two.invoiced_gross, two.paid, two.open) == (
        D("300.00"), D("300.00"), D("300.00"), D("300.00"), D("120.00"), D("180.00"))
    assert two.flags == ["overdue"]
    three = deals[clean.deal_id]
    assert (three.won, three.ordered, three.invoiced, three.paid) == (
        D("90.00"), D("90.00"), D("90.00"), D("90.00"))
    assert three.flags == []
    four = deals[bare.id]
    assert four.flags == ["won_vs_ordered"] and four.ordered == 0
    assert report.currencies == ["EUR", "USD"]
    [eur] = [m for m in report.months if m.currency == "EUR"]
    assert (eur.deals, eur.won, eur.invoiced, eur.paid, eur.flagged) == (
        4, D("990.00"), D("390.00"), D("210.00"), 3)
    assert reconciliation(T - timedelta(days=60), T - timedelta(days=30)).deals == []


def test_reconciliation__credit_note_lowers_invoiced(db, chart, stages):
    """Does a credit note on a deal's invoice take its amount off invoiced, so the deal
    is flagged as invoiced differing from ordered?"""
    order = shipped_order(db, stages, [("Install", "2", "50.00")])
    invoice = posted_invoice(db, order=order)
    note = credit_invoice(invoice, reason="Broken", quantities={invoice.lines[0].id: D("1")})
    post_invoice(note)
    db.session.commit()
    [deal] = reconciliation(T - timedelta(days=1), T + timedelta(days=1)).deals
    assert (deal.invoiced, deal.paid, deal.open) == (D("50.00"), D("0.00"), D("50.00"))
    assert deal.flags == ["invoiced_vs_ordered"]


# --- No query per account or customer ----------------------------------------------------

def _post_to_new_accounts(db, chart, how_many):
    bank = chart["bank"]
    for n in range(how_many):
        extra = create_account(code=f"7{n:03d}", name=f"Expense {n}", type="expense")
        db.session.commit()
        manual_entry(db, [(extra, "1.00"), (bank, "-1.00")])


def test_trial_balance__query_count_does_not_grow_with_accounts(db, chart):
    """Does the trial balance run as many SQL statements for 30 accounts as for 3?"""
    manual_entry(db, [(account_by_code(db, "6000"), "10.00"), (chart["bank"], "-10.00")])
    manual_entry(db, [(chart["cash"], "5.00"), (chart["bank"], "-5.00")])
    few = count_statements(db.engine, lambda: trial_balance(START, T))
    assert len(trial_balance(START, T).rows) == 3
    _post_to_new_accounts(db, chart, 27)
    many = count_statements(db.engine, lambda: trial_balance(START, T))
    assert len(trial_balance(START, T).rows) == 30
    assert many == few
    for report in (lambda: profit_and_loss(START, T), lambda: balance_sheet(T)):
        assert count_statements(db.engine, report) == few


def test_aging__query_count_does_not_grow_with_customers(db, chart):
    """Does the receivables aging run as many SQL statements for 12 customers as for 2?"""
    def invoices(n):
        for _ in range(n):
            posted_invoice(db, lines=[("A", "1", "10.00")], issue_date=T - timedelta(days=40))

    invoices(2)
    few = count_statements(db.engine, lambda: receivables_aging(T))
    invoices(10)
    many = count_statements(db.engine, lambda: receivables_aging(T))
    assert len(receivables_aging(T).rows) == 12
    assert many == few


def test_trial_balance_page__query_count_does_not_grow_with_accounts(app, db, chart,
                                                                     client, login):
    """Through the page (its template included), 30 accounts cost the same number of
    statements as 3?"""
    from models import db as database

    with app.app_context():
        engine = database.engine
    login("finance")
    manual_entry(db, [(account_by_code(db, "6000"), "10.00"), (chart["bank"], "-10.00")])
    manual_entry(db, [(chart["cash"], "5.00"), (chart["bank"], "-5.00")])
    client.get(f"{URL}/trial-balance")
    few = count_statements(engine, lambda: client.get(f"{URL}/trial-balance"))
    _post_to_new_accounts(db, chart, 27)
    page = []
    many = count_statements(engine, lambda: page.append(client.get(f"{URL}/trial-balance")))
    assert page[0].status_code == 200 and "Expense 26" in page[0].get_data(as_text=True)
    assert many == few


# --- Pages and CSV -----------------------------------------------------------------------

PAGES = ["/", "/trial-balance", "/profit-and-loss", "/balance-sheet", "/aging",
         "/payables-aging", "/revenue", "/reconciliation"]


def test_report_pages__render_with_charts_and_no_inline_style(db, chart, stages, client,
                                                              login):
    """With postings and deals in place, does every report page answer 200 with an
    accessible SVG chart, the shared navigation and nothing inline the CSP would block?"""
    books(db, chart)
    shipped_order(db, stages, [("Install", "2", "50.00")])
    login("finance")
    for path in PAGES:
        response = client.get(URL + path)
        body = response.get_data(as_text=True)
        assert response.status_code == 200, path
        assert 'aria-label="Financial reports"' in body, path
        assert " style=" not in body and "<script>" not in body, path
        if path != "/":
            assert 'role="img"' in body and "<title id=" in body, path
            assert "ledger-reports.css" in body, path


def test_report_pages__htmx_partial_gets_the_report_block(db, chart, client, login):
    """Does an htmx partial request get only the report block, not the whole page?"""
    books(db, chart)
    login("finance")
    response = client.htmx("get", f"{URL}/trial-balance")
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and body.lstrip().startswith('<div id="report"')
    assert "<html" not in body and "4100 · Service income" in body


def test_trial_balance_page__figures_and_csv(db, chart, client, login):
    """Does the page show that debits equal credits, and does its CSV parse back into the
    same figures with a total row?"""
    books(db, chart)
    login("finance")
    query = f"from={START}&to={T}"
    page = client.get(f"{URL}/trial-balance?{query}").get_data(as_text=True)
    assert "Debits equal credits: 1,016.00 each" in page
    response = client.get(f"{URL}/trial-balance?{query}&format=csv")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="trial-balance-{START}-to-{T}.csv"')
    rows = read_csv(response)
    assert rows[0] == ["Code", "Account", "Type", "Opening debit", "Opening credit", "Debit",
                       "Credit", "Closing debit", "Closing credit"]
    by_code = {row[0]: row for row in rows[1:]}
    assert by_code["1200"] == ["1200", "Accounts receivable", "Asset", "150.00", "0.00",
                               "240.00", "150.00", "240.00", "0.00"]
    assert by_code["1100"][7:] == ["0.00", "380.00"]
    assert rows[-1] == ["", "Total", "", "150.00", "150.00", "1016.00", "1016.00", "836.00",
                        "836.00"]


def test_report_csv__each_report_parses_back(db, chart, stages, client, login):
    """Do the P&L, balance sheet, aging, payables, revenue and reconciliation CSV files
    carry the figures of their pages?"""
    books(db, chart)
    login("finance")
    page = client.get(f"{URL}/profit-and-loss?from={START}&to={T}").get_data(as_text=True)
    assert 'Net loss <span class="neg">380.00</span>' in page
    pl = read_csv(client.get(f"{URL}/profit-and-loss?from={START}&to={T}&format=csv"))
    assert pl[-1] == ["", "", "Net profit", "-380.00"]
    bs = read_csv(client.get(f"{URL}/balance-sheet?as_of={T}&format=csv"))
    assert ["Equity", "", "Profit and loss to date", "-230.00"] in bs
    assert ["Assets", "", "Total assets", "-124.00"] in bs
    assert bs[-1] == ["", "", "Total liabilities and equity", "-124.00"]
    aging = read_csv(client.get(f"{URL}/aging?as_of={T - timedelta(days=6)}&format=csv"))
    assert aging[0] == ["Customer", "Current", "1–30", "31–60", "61–90", "Over 90",
                        "Unapplied credit", "Total"]
    assert aging[1] == ["Alpha Ltd", "240.00", "0.00", "0.00", "100.00", "0.00", "0.00",
                        "340.00"]
    assert aging[-1][0] == "Total" and aging[-1][-1] == "390.00"
    payables = read_csv(client.get(f"{URL}/payables-aging?format=csv"))
    assert payables[1][0] == "Power Co" and payables[1][-1] == "66.00"
    revenue = read_csv(client.get(f"{URL}/revenue?months=6&format=csv"))
    assert revenue[0][:3] == ["Month", "Actual revenue", "Weighted forecast"]
    assert len(revenue) == 1 + 11
    shipped_order(db, stages, [("Install", "2", "50.00")])
    around = f"from={T - timedelta(days=1)}&to={T + timedelta(days=1)}"
    rec = read_csv(client.get(f"{URL}/reconciliation?{around}&format=csv"))
    assert rec[1][4:] == ["EUR", "100.00", "100.00", "0.00", "0.00", "0.00", "0.00",
                          "Shipped but not invoiced; Invoiced differs from ordered"]
    months = read_csv(client.get(f"{URL}/reconciliation?{around}&format=csv&by=month"))
    assert months[1][1:3] == ["1", "EUR"] and months[1][-1] == "1"


def test_aging_page__pages_and_orders_the_customers_totals_cover_all(db, chart, client,
                                                                    login, monkeypatch):
    """With more customers owing than a page holds, does the aging page list one page of
    them (by name, largest total or most overdue), page on with the order kept, and still
    total and chart every customer, while the CSV lists them all?"""
    from blueprints.ledger import reports

    monkeypatch.setattr(reports, "AGING_ROWS", 2)
    books(db, chart)  # today Alpha owes 190.00, not yet due; Beta 50.00, overdue
    gamma = make_customer(name="Gamma AG")
    posted_invoice(db, customer=gamma, lines=[("Parts", "1", "500.00")], issue_date=T,
                   terms=30)
    login("finance")

    def names(body):
        table = body[body.index('aria-describedby="aging-shown"'):]
        return [n for n in ("Alpha Ltd", "Beta GmbH", "Gamma AG") if n in table]

    first = client.get(f"{URL}/aging").get_data(as_text=True)
    assert names(first) == ["Alpha Ltd", "Beta GmbH"]
    assert "Customers 1–2 of 3; the CSV file has them all." in first
    assert "Total, all 3 customers" in first and "740.00" in first
    assert 'rel="next"' in first and 'rel="prev"' not in first
    second = client.get(f"{URL}/aging?page=2").get_data(as_text=True)
    assert names(second) == ["Gamma AG"] and "Customers 3–3 of 3" in second
    assert 'rel="prev"' in second and 'rel="next"' not in second
    largest = client.get(f"{URL}/aging?sort=total").get_data(as_text=True)
    assert largest.index("Gamma AG") < largest.index("Alpha Ltd")
    assert "Beta GmbH" not in largest[largest.index('aria-describedby="aging-shown"'):]
    assert 'href="/ledger/reports/aging?sort=total&amp;page=2"' in largest
    overdue = client.get(f"{URL}/aging?sort=overdue").get_data(as_text=True)
    assert names(overdue) == ["Beta GmbH", "Gamma AG"]
    assert overdue.index("Beta GmbH") < overdue.index("Gamma AG")
    rows = read_csv(client.get(f"{URL}/aging?sort=total&page=2&format=csv"))
    assert [row[0] for row in rows[1:]] == ["Gamma AG", "Alpha Ltd", "Beta GmbH", "Total"]


def test_report_csv__cells_cannot_start_a_formula(db, chart, client, login):
    """Is a customer named like a formula neutralised in the CSV, while a negative
    amount stays a plain number?"""
    evil = make_customer(name='=HYPERLINK("http://x.example","click")')
    pay(db, evil, "25.00")
    login("finance")
    rows = read_csv(client.get(f"{URL}/aging?format=csv"))
    assert rows[1][0] == "'" + '=HYPERLINK("http://x.example","click")'
    assert rows[1][-2:] == ["-25.00", "-25.00"]


def test_reconciliation_page__sales_sees_the_flags(db, chart, stages, client, login):
    """May sales open the reconciliation and revenue pages, and see a shipped-but-not-
    invoiced deal and an overdue one flagged?"""
    shipped_order(db, stages, [("Install", "2", "50.00")])
    late = shipped_order(db, stages, [("Audit", "1", "300.00")])
    posted_invoice(db, order=late, issue_date=T - timedelta(days=1), terms=0)
    login("sales")
    around = f"from={T - timedelta(days=1)}&to={T + timedelta(days=1)}"
    body = client.get(f"{URL}/reconciliation?{around}").get_data(as_text=True)
    assert "Shipped but not invoiced" in body and ">Overdue<" in body
    assert "2 deals won, 2 flagged." in body
    assert client.get(f"{URL}/revenue").status_code == 200
    index = client.get(f"{URL}/").get_data(as_text=True)
    assert "Deal reconciliation" in index and "Trial balance" not in index


@pytest.mark.parametrize("path", PAGES[1:6])
def test_finance_reports__sales_is_refused(client, login, path):
    """Is sales refused (403) the trial balance, P&L, balance sheet and both agings?"""
    login("sales")
    assert client.get(URL + path).status_code == 403


@pytest.mark.parametrize("path", PAGES)
def test_reports__operations_is_refused(client, login, path):
    """Is operations refused (403) every financial report, the page and its CSV?"""
    login("operations")
    assert client.get(URL + path).status_code == 403
    assert client.get(URL + path + "?format=csv").status_code == 403


@pytest.mark.parametrize("query, message", [
    ("/trial-balance?from=2026-13-01", "is not a date"),
    ("/trial-balance?to=yesterday", "is not a date"),
    ("/trial-balance?from=2020-02-01&to=2020-01-31", "ends before it starts"),
    ("/profit-and-loss?from=1990-01-01&to=2015-01-01", "at most 20 years"),
    ("/profit-and-loss?from=1800-01-01&to=1800-12-31", "between 1900 and 2999"),
    ("/trial-balance?colour=red", "Unknown parameter: colour"),
    ("/trial-balance?from=2024-01-01&from=2024-02-01", "once"),
    ("/trial-balance?format=pdf", "format is csv"),
    ("/balance-sheet?as_of=2025-02-30", "is not a date"),
    ("/balance-sheet?from=2025-01-01", "Unknown parameter: from"),
    ("/aging?as_of=tomorrow", "is not a date"),
    ("/payables-aging?as_of=99999-01-01", "is not a date"),
    ("/aging?sort=colour", "Sort by name, total or overdue"),
    ("/aging?page=0", "page is a number from 1 to 1"),
    ("/aging?page=2", "page is a number from 1 to 1"),
    ("/payables-aging?page=one", "page is a number from 1 to 1"),
    ("/revenue?months=0", "from 1 to 36"),
    ("/revenue?months=abc", "from 1 to 36"),
    ("/revenue?months=1e3", "from 1 to 36"),
    ("/reconciliation?by=week", "by=deal or by=month"),
    ("/reconciliation?to=2010-01-01&from=2011-01-01&format=csv", "ends before it starts"),
    ("/?from=2024-01-01", "Unknown parameter"),
    ("/?format=csv", "Open a report"),
])
def test_reports__bad_input_is_a_clear_400(client, login, query, message):
    """Is a bad date, an unknown or repeated parameter, a reversed or too long period,
    or a bad format a 400 page that says what is wrong (never a 500)?"""
    login("finance")
    response = client.get(URL + query)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)


def test_reports__a_period_of_twenty_years_is_accepted(db, chart, client, login):
    """Is a period just under 20 years (and an as-of date far back) still answered?"""
    login("finance")
    assert client.get(f"{URL}/trial-balance?from=2006-01-02&to=2026-01-01").status_code == 200
    assert client.get(f"{URL}/balance-sheet?as_of=1901-01-01").status_code == 200


def test_reports__default_period_is_this_year_to_today(db, chart, client, login):
    """Without dates, is the trial balance for this year up to today, and only `to` given
    the year of that date?"""
    login("finance")
    body = client.get(f"{URL}/trial-balance").get_data(as_text=True)
    assert f"{date(T.year, 1, 1).isoformat()} to {T.isoformat()}" in body
    body = client.get(f"{URL}/trial-balance?to=2020-06-30").get_data(as_text=True)
    assert "2020-01-01 to 2020-06-30" in body


def test_reconciliation__won_day_is_the_utc_day(db, chart, stages):
    """Is a deal won just before midnight UTC counted on that day, not the next?"""
    deal = make_deal(db, stages, stage="Won", amount="10.00")
    deal.won_at = datetime(2024, 3, 31, 23, 59, tzinfo=UTC)
    db.session.commit()
    [found] = reconciliation(date(2024, 3, 31), date(2024, 3, 31)).deals
    assert found.won_on == date(2024, 3, 31)
    assert reconciliation(date(2024, 4, 1), date(2024, 4, 30)).deals == []


@given(quantity=st.decimals("0.001", "99999.999", places=3),
       price=st.decimals("0.00", "999999.99", places=2),
       discount=st.decimals("0.00", "100.00", places=2), places=st.sampled_from([0, 2]))
def test_reconciliation__integer_line_net_equals_the_documents_rounding(
        quantity, price, discount, places):
    """Does the reconciliation's integer line net (from the stored thousandths, cents and
    hundredths of a percent) equal the order line's own Decimal net, rounded half-up to
    the cent or to the yen?"""
    from models.documents import HUNDRED
    from models.ledger_reports import _line_net_cents
    from models.types import round_money

    expected = round_money(quantity * price * (HUNDRED - discount) / HUNDRED, places)
    cents = _line_net_cents(int(quantity * 1000), int(price * 100), int(discount * 100),
                            places)
    assert Decimal(cents).scaleb(-2) == expected
