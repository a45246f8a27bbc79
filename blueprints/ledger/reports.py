"""Financial reports: trial balance, profit and loss, balance sheet, receivable and
payable aging, revenue against the pipeline's forecast and the reconciliation of won
deals. Each is a chart with its numbers in a table beside it, and the same table as a
CSV file (?format=csv). The figures come from models.ledger_reports.

A date or period from the URL is checked here: a bad date, an unknown parameter, a
period that ends before it starts or spans more than MAX_YEARS is a 400 page."""

import csv
import io
from datetime import date, timedelta
from decimal import Decimal

from flask import Response, abort, request

from blueprints.ledger import bp
from blueprints.web import render, roles
from models.catalog_csv import neutralise
from models.company import currency_places
from models.ledger import base_currency
from models.ledger_reports import (
    FLAGS,
    balance_sheet,
    payables_aging,
    profit_and_loss,
    receivables_aging,
    reconciliation,
    revenue_vs_forecast,
    trial_balance,
)
from models.types import round_money

FINANCE = ("admin", "finance")
WITH_SALES = ("admin", "finance", "sales")
EARLIEST, LATEST = date(1900, 1, 1), date(2999, 12, 31)
MAX_YEARS = 20
RECONCILIATION_ROWS = 200  # deals listed on the page; the CSV has them all
AGING_ROWS = 100  # partners on a page of an aging report; its totals and CSV cover all
# How an aging report's partners can be ordered: label, sort key.
AGING_SORTS = {
    "name": ("Name", lambda row: (row.name.lower(), row.partner_id)),
    "total": ("Largest total", lambda row: (-row.total, row.name.lower(), row.partner_id)),
    "overdue": ("Most overdue", lambda row: (-row.overdue, -row.total, row.name.lower(),
                                             row.partner_id)),
}
MONTHS_DEFAULT, MONTHS_MAX = 12, 36
# The reports, in the order of the shared navigation: endpoint, title, who may see it.
REPORTS = [
    ("ledger.trial_balance", "Trial balance", FINANCE),
    ("ledger.profit_and_loss", "Profit and loss", FINANCE),
    ("ledger.balance_sheet", "Balance sheet", FINANCE),
    ("ledger.receivables_aging", "Receivables aging", FINANCE),
    ("ledger.payables_aging", "Payables aging", FINANCE),
    ("ledger.revenue", "Revenue and forecast", WITH_SALES),
    ("ledger.reconciliation", "Deal reconciliation", WITH_SALES),
]


# --- Reading the URL ---------------------------------------------------------------------

def _args(*allowed: str) -> str:
    """Refuse parameters the report does not know, or given twice; the format asked for
    ("html" or "csv")."""
    unknown = set(request.args) - set(allowed) - {"format"}
    if unknown:
        abort(400, f"Unknown parameter: {', '.join(sorted(unknown))[:80]}.")
    for name in request.args:
        if len(request.args.getlist(name)) > 1:
            abort(400, f"Give “{name}” once.")
    wanted = request.args.get("format", "html").strip() or "html"
    if wanted not in ("html", "csv"):
        abort(400, "The format is csv, or leave it out for the page.")
    return wanted


def _date_arg(name: str) -> date | None:
    value = request.args.get(name, "").strip()
    if not value:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        abort(400, f"“{value[:40]}” is not a date; use YYYY-MM-DD.")
    if not EARLIEST <= day <= LATEST:
        abort(400, "Choose dates between 1900 and 2999.")
    return day


def _period() -> tuple[date, date]:
    """from and to (YYYY-MM-DD, both days in): by default this year up to today."""
    today = date.today()
    start, end = _date_arg("from"), _date_arg("to")
    if end is None:
        end = today if start is None or start <= today else date(start.year, 12, 31)
    if start is None:
        start = date(end.year, 1, 1)
    if end < start:
        abort(400, "The period ends before it starts: choose a “to” date on or after the "
                   "“from” date.")
    if end >= _years_after(start, MAX_YEARS):
        abort(400, f"Choose a period of at most {MAX_YEARS} years.")
    return start, end


def _years_after(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28) + timedelta(days=1)


def _as_of() -> date:
    return _date_arg("as_of") or date.today()


def _months() -> int:
    value = request.args.get("months", "").strip()
    if not value:
        return MONTHS_DEFAULT
    if not value.isdigit() or not 1 <= int(value) <= MONTHS_MAX:
        abort(400, f"Choose from 1 to {MONTHS_MAX} months.")
    return int(value)


# --- CSV ---------------------------------------------------------------------------------

def _cell(value, places: int | None) -> str:
    """A CSV cell: amounts as plain numbers (a spreadsheet reads "-12.50" as a number, and
    we write nothing else into them); text that could start a formula neutralised.
    Amounts have `places` decimals, or (None) as many as they carry."""
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return f"{value:f}" if places is None else f"{value:.{places}f}"
    if isinstance(value, int | date):
        return str(value)
    return neutralise(str(value))


def csv_response(name: str, header: list[str], rows, *, places: int | None = 2) -> Response:
    """The table as a CSV download: a UTF-8 byte-order mark (spreadsheets then read the
    accents right), the header, the rows."""
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([neutralise(title) for title in header])
    for row in rows:
        writer.writerow([_cell(value, places) for value in row])
    response = Response(buffer.getvalue(), mimetype="text/csv")
    response.headers["Content-Type"] = "text/csv; charset=utf-8"
    response.headers["Content-Disposition"] = f'attachment; filename="{name}.csv"'
    return response


def _page(template: str, **context) -> Response:
    currency = base_currency()
    return render(template, block="report", reports=REPORTS, currency=currency,
                  places=currency_places(currency), csv_args=_csv_args(), **context)


def _report_args() -> dict:
    """The report's own parameters as given, without the format and the page."""
    return {k: v for k, v in request.args.items() if k not in ("format", "page") and v}


def _csv_args() -> dict:
    """The page's own parameters with format=csv: the link to its table as a file."""
    return {**_report_args(), "format": "csv"}


def _in_currency(row) -> list:
    """A reconciliation row's currency and amounts, each to that currency's unit."""
    places = currency_places(row.currency)
    return [row.currency, *(round_money(getattr(row, name), places) for name in (
        "won", "ordered", "invoiced", "invoiced_gross", "paid", "open"))]


# --- Views -------------------------------------------------------------------------------

@bp.route("/reports/")
@roles(*WITH_SALES)
def reports():
    """The financial reports this role may open, each with what it answers."""
    if _args() == "csv":
        abort(400, "Open a report to download its table as CSV.")
    return render("ledger/reports/index.html", reports=REPORTS)


@bp.route("/reports/trial-balance", endpoint="trial_balance")
@roles(*FINANCE)
def trial_balance_report():
    """Every account's opening balance, debits, credits and closing balance for a period."""
    wanted = _args("from", "to")
    start, end = _period()
    found = trial_balance(start, end)
    if wanted == "csv":
        places = currency_places(base_currency())
        rows = [[r.code, r.name, r.type_label, r.opening_debit, r.opening_credit, r.debit,
                 r.credit, r.closing_debit, r.closing_credit] for r in found.rows]
        rows.append(["", "Total", "", found.opening_debit, found.opening_credit, found.debit,
                     found.credit, found.closing_debit, found.closing_credit])
        return csv_response(f"trial-balance-{start}-to-{end}",
                            ["Code", "Account", "Type", "Opening debit", "Opening credit",
                             "Debit", "Credit", "Closing debit", "Closing credit"],
                            rows, places=places)
    by_type = found.by_type()
    return _page("ledger/reports/trial_balance.html", start=start, end=end, tb=found,
                 by_type=by_type,
                 chart=[(label, [debit, credit]) for label, debit, credit in by_type])



@bp.route("/reports/profit-and-loss", endpoint="profit_and_loss")
@roles(*FINANCE)
def profit_and_loss_report():
    """Income and expenses of a period by account, and the net profit or loss."""
    wanted = _args("from", "to")
    start, end = _period()
    found = profit_and_loss(start, end)
    if wanted == "csv":
        rows = [["Income", r.code, r.name, r.amount] for r in found.income]
        rows.append(["Income", "", "Total income", found.income_total])
        rows += [["Expenses", r.code, r.name, r.amount] for r in found.expense]
        rows.append(["Expenses", "", "Total expenses", found.expense_total])
        rows.append(["", "", "Net profit", found.net_profit])
        return csv_response(f"profit-and-loss-{start}-to-{end}",
                            ["Section", "Code", "Account", "Amount"], rows,
                            places=currency_places(base_currency()))
    return _page("ledger/reports/profit_and_loss.html", start=start, end=end, pl=found,
                 chart=[("Income", [found.income_total]), ("Expenses", [found.expense_total]),
                        ("Net profit", [found.net_profit])])


@bp.route("/reports/balance-sheet", endpoint="balance_sheet")
@roles(*FINANCE)
def balance_sheet_report():
    """Assets, liabilities and equity at the end of a day; the two sides agree."""
    wanted = _args("as_of")
    as_of = _as_of()
    found = balance_sheet(as_of)
    if wanted == "csv":
        rows = []
        for section, items, total in (("Assets", found.assets, found.assets_total),
                                      ("Liabilities", found.liabilities,
                                       found.liabilities_total),
                                      ("Equity", found.equity, found.equity_total)):
            rows += [[section, r.code, r.name, r.amount] for r in items]
            rows.append([section, "", f"Total {section.lower()}", total])
        rows.append(["", "", "Total liabilities and equity", found.liabilities_and_equity])
        return csv_response(f"balance-sheet-{as_of}", ["Section", "Code", "Account",
                                                       "Balance"], rows,
                            places=currency_places(base_currency()))
    return _page("ledger/reports/balance_sheet.html", as_of=as_of, bs=found,
                 chart=[("Assets", [found.assets_total]),
                        ("Liabilities", [found.liabilities_total]),
                        ("Equity", [found.equity_total])])


def _aging_view(found, *, endpoint: str, title: str, partner: str, credit_label: str,
                wanted: str):
    sort = request.args.get("sort", "").strip() or "name"
    if sort not in AGING_SORTS:
        abort(400, "Sort by name, total or overdue.")
    rows = sorted(found.rows, key=AGING_SORTS[sort][1])
    if wanted == "csv":
        lines = [[r.name, *r.buckets.values(), r.credit, r.total] for r in rows]
        lines.append(["Total", *found.totals.values(), found.credit, found.total])
        return csv_response(f"{found.kind}s-aging-{found.as_of}",
                            [partner, *found.labels, credit_label, "Total"], lines,
                            places=currency_places(base_currency()))
    # Thousands of customers owe something at once: the page lists them a hundred at a
    # time (the totals, the chart and the CSV cover them all).
    pages = max(1, -(-len(rows) // AGING_ROWS))
    page = _page_number(pages)
    first = (page - 1) * AGING_ROWS
    chart = [(label, [amount]) for label, amount in found.totals.items()]
    chart.append((credit_label, [found.credit]))
    return _page("ledger/reports/aging.html", aging=found, as_of=found.as_of,
                 endpoint=endpoint, title=title, partner=partner,
                 credit_label=credit_label, chart=chart, shown=rows[first:first + AGING_ROWS],
                 first=first, page=page, pages=pages, sort=sort, sorts=AGING_SORTS,
                 page_args=_report_args())


def _page_number(pages: int) -> int:
    """The ?page= asked for, 1 when none: 400 when it is not a page of the report."""
    value = request.args.get("page", "").strip()
    if not value:
        return 1
    if not (value.isascii() and value.isdigit()) or not 1 <= int(value) <= pages:
        abort(400, f"The page is a number from 1 to {pages:,}.")
    return int(value)


@bp.route("/reports/aging", endpoint="receivables_aging")
@roles(*FINANCE)
def receivables_aging_report():
    """What each customer owes as of a day, by days past due, with their unused credit."""
    wanted = _args("as_of", "sort", "page")
    return _aging_view(receivables_aging(_as_of()), endpoint="ledger.receivables_aging",
                       title="Receivables aging", partner="Customer",
                       credit_label="Unapplied credit", wanted=wanted)



@bp.route("/reports/payables-aging", endpoint="payables_aging")
@roles(*FINANCE)
def payables_aging_report():
    """What is owed to each supplier as of a day, by days past due, less payments on
    account."""
    wanted = _args("as_of", "sort", "page")
    return _aging_view(payables_aging(_as_of()), endpoint="ledger.payables_aging",
                       title="Payables aging", partner="Supplier",
                       credit_label="Paid on account", wanted=wanted)



@bp.route("/reports/revenue")
@roles(*WITH_SALES)
def revenue():
    """Actual revenue month by month beside the pipeline's weighted forecast."""
    wanted = _args("months")
    months = _months()
    found = revenue_vs_forecast(months)
    if wanted == "csv":
        rows = [[m.label, m.actual, m.weighted, m.pipeline, m.deals] for m in found.months]
        rows += [[r.label, None, r.weighted, r.pipeline, r.deals] for r in found.rest]
        return csv_response(f"revenue-and-forecast-{date.today()}",
                            ["Month", "Actual revenue", "Weighted forecast", "Pipeline",
                             "Open deals"], rows, places=currency_places(base_currency()))
    return _page("ledger/reports/revenue.html", found=found, months=months,
                 months_max=MONTHS_MAX,
                 chart=[(m.label, [m.actual or Decimal(0), m.weighted or Decimal(0)])
                        for m in found.months])


@bp.route("/reports/reconciliation", endpoint="reconciliation")
@roles(*WITH_SALES)
def reconciliation_report():
    """Won deals followed through orders, invoices and payments, with what disagrees
    flagged; per deal and per month won."""
    wanted = _args("from", "to", "by")
    by = request.args.get("by", "deal").strip() or "deal"
    if by not in ("deal", "month"):
        abort(400, "Choose by=deal or by=month.")
    start, end = _period()
    found = reconciliation(start, end)
    if wanted == "csv":
        header = ["Currency", "Won", "Ordered", "Invoiced (net)", "Invoiced (gross)",
                  "Paid", "Open"]
        if by == "month":
            rows = [[m.label, m.deals, *_in_currency(m), m.flagged] for m in found.months]
            return csv_response(f"reconciliation-by-month-{start}-to-{end}",
                                ["Month won", "Deals", *header, "Deals flagged"], rows,
                                places=None)
        rows = [[d.deal_id, d.title, d.customer, d.won_on, *_in_currency(d),
                 "; ".join(d.flag_labels)] for d in found.deals]
        return csv_response(f"reconciliation-{start}-to-{end}",
                            ["Deal", "Title", "Customer", "Won on", *header, "Flags"], rows,
                            places=None)
    charts = {currency: [(m.label, [m.won, m.invoiced, m.paid])
                         for m in found.months if m.currency == currency]
              for currency in found.currencies}
    # A year is thousands of deals: the page lists what needs a look (flagged first,
    # then the latest won), the CSV all of them.
    shown = sorted(found.deals, key=lambda d: (not d.flags, -d.won_on.toordinal(),
                                               -d.deal_id))[:RECONCILIATION_ROWS]
    return _page("ledger/reports/reconciliation.html", start=start, end=end, rec=found,
                 flags=FLAGS, charts=charts, shown=shown)
