"""Pipeline reports: weighted forecast, win rate, sales cycle, stage conversion and won
value by source, each a chart with its numbers beside it."""

from datetime import date

from flask import abort, request

from blueprints.pipeline import bp
from blueprints.web import render, roles
from models import CompanySettings
from models.reports import (
    sales_cycle,
    stage_conversion,
    weighted_forecast,
    win_rate,
    won_by_source,
)

REPORT_ROLES = ("admin", "sales", "finance")
PERIOD_PARAMS = {"from", "to"}
EARLIEST, LATEST = date(1900, 1, 1), date(2999, 12, 31)


def default_period(today: date) -> tuple[date, date]:
    """The last 12 months: from the day after the same date a year ago, to today."""
    try:
        start = today.replace(year=today.year - 1)
    except ValueError:  # 29 February
        start = today.replace(year=today.year - 1, day=28)
    return date.fromordinal(start.toordinal() + 1), today


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
    """The report period from the URL (from, to: YYYY-MM-DD), by default the last 12 months."""
    unknown = set(request.args) - PERIOD_PARAMS
    if unknown:
        abort(400, f"Unknown parameter: {', '.join(sorted(unknown))}.")
    default_start, default_end = default_period(date.today())
    start = _date_arg("from") or default_start
    end = _date_arg("to") or default_end
    if start > end:
        abort(400, "The period must start before it ends.")
    return start, end


def _short(label: str, size: int = 15) -> str:
    """A label short enough for the chart's label column (the table beside has it whole)."""
    return label if len(label) <= size else label[: size - 1] + "…"


@bp.route("/reports")
@roles(*REPORT_ROLES)
def reports():
    """Forecast, win rate, sales cycle, conversion and won value by source for a period."""
    start, end = _period()
    forecast = weighted_forecast()
    rate = win_rate(start, end)
    cycle, cycle_by_month = sales_cycle(start, end)
    conversion = stage_conversion(start, end)
    sources = won_by_source(start, end)
    return render(
        "pipeline/reports.html", start=start, end=end,
        currency=CompanySettings.current().base_currency,
        forecast=forecast, rate=rate, cycle=cycle, cycle_by_month=cycle_by_month,
        conversion=conversion, sources=sources,
        charts={
            "forecast": [(row.label, row.weighted) for row in forecast],
            "rate": [("Won", rate.won), ("Lost", rate.lost)],
            "cycle": [(row.label, row.average_days) for row in cycle_by_month],
            "conversion": [(_short(row.label), row.percent or 0) for row in conversion],
            "sources": [(_short(row.label), row.won_value) for row in sources],
        })
