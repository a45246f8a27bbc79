"""Pipeline reports: each number checked against a hand computation — the weighted forecast
to the cent (rounded half-up per deal), win rate, sales cycle days, stage conversion and
won value by source — and the page: charts with their tables, the period in the URL."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from models import Campaign, Stage, StageChange
from models.pipeline import create_deal, ensure_stages, move_deal
from models.reports import (
    sales_cycle,
    stage_conversion,
    weighted_forecast,
    win_rate,
    won_by_source,
)
from tests.helpers import make_customer

YEAR = (date(2025, 1, 1), date(2025, 12, 31))


def at(*parts) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def _stages(db) -> dict[str, Stage]:
    return {s.name: s for s in ensure_stages()}


def _deal(db, stage, amount="100.00", *, created=None, won=None, lost=None, expected=None,
          override=None, campaign=None, source="", customer=None):
    """A deal in `stage` with the given timestamps (a lost one is put there directly)."""
    stages = _stages(db)
    deal = create_deal(customer=customer or make_customer(), title="Deal", owner=None,
                       stage=stage if stage.outcome != "lost" else stages["Lead"],
                       amount=Decimal(amount), expected_close=expected,
                       probability_override=override, campaign=campaign, source=source)
    if stage.outcome == "lost":
        deal.stage = stage
        deal.lost_at = lost
    if created:
        deal.created_at = created
    if won:
        deal.won_at = won
    db.session.commit()
    return deal


# --- Weighted forecast -------------------------------------------------------------------

def test_forecast__weighted_per_deal_half_up_by_month(app, db):
    """Is the forecast amount x probability rounded half-up per deal, summed by close month?"""
    s = _stages(db)
    customer = make_customer()
    d = lambda *a, **k: _deal(db, *a, customer=customer, **k)  # noqa: E731
    d(s["Lead"], "1000.00", expected=date(2025, 4, 15))         # 10%: 100.00
    d(s["Qualified"], "333.33", expected=date(2025, 4, 30))     # 25%: 83.3325 -> 83.33
    d(s["Proposal"], "0.10", expected=date(2025, 5, 1))         # 50%: 0.05
    d(s["Proposal"], "0.01", expected=date(2025, 5, 20))        # 50%: 0.005 -> 0.01
    d(s["Proposal"], "0.03", expected=date(2025, 5, 31))        # 50%: 0.015 -> 0.02
    d(s["Negotiation"], "199.99", override=33)                  # 33%: 65.9967 -> 66.00
    d(s["Won"], "5000.00", expected=date(2025, 4, 1))           # closed: not forecast
    d(s["Lost"], "7000.00", expected=date(2025, 4, 1))          # closed: not forecast
    rows = [(r.label, r.deals, r.amount, r.weighted) for r in weighted_forecast()]
    assert rows == [
        ("2025-04", 2, Decimal("1333.33"), Decimal("183.33")),
        ("2025-05", 3, Decimal("0.14"), Decimal("0.08")),  # not 0.07: rounded per deal
        ("No date", 1, Decimal("199.99"), Decimal("66.00")),
    ]
    assert all(isinstance(r[3], Decimal) for r in rows)


def test_forecast__matches_the_deal_property(app, db):
    """Does the SQL forecast agree with Deal.weighted_amount, deal by deal, for awkward amounts?"""
    s = _stages(db)
    deals = [_deal(db, s["Qualified"], amount, expected=date(2026, 1, 1), override=p)
             for amount, p in [("0.02", 25), ("12345.67", 33), ("999999.99", 99), ("0.01", 50),
                               ("10.10", None), ("3.30", 15)]]
    (row,) = weighted_forecast()
    assert row.weighted == sum(d.weighted_amount for d in deals)


# --- Win rate ----------------------------------------------------------------------------

def test_win_rate__won_over_won_plus_lost_in_the_period(app, db):
    """Is the win rate won / (won + lost) of deals closed inside the period, edges included?"""
    s = _stages(db)
    _deal(db, s["Won"], won=at(2025, 1, 1, 0, 0))
    _deal(db, s["Won"], won=at(2025, 6, 15, 12, 0))
    _deal(db, s["Won"], won=at(2025, 12, 31, 23, 59))
    _deal(db, s["Won"], won=at(2024, 12, 31, 23, 59))   # before
    _deal(db, s["Lost"], lost=at(2025, 3, 1, 9, 0))
    _deal(db, s["Lost"], lost=at(2025, 12, 31, 23, 0))
    _deal(db, s["Lost"], lost=at(2026, 1, 1, 0, 0))      # after
    _deal(db, s["Proposal"])                             # still open
    rate = win_rate(*YEAR)
    assert (rate.won, rate.lost, rate.percent) == (3, 2, Decimal("60.0"))
    assert win_rate(date(2025, 1, 1), date(2025, 3, 1)).percent == Decimal("50.0")
    assert win_rate(date(2025, 1, 1), date(2025, 6, 30)).percent == Decimal("66.7")
    assert win_rate(date(2030, 1, 1), date(2030, 12, 31)).percent is None


# --- Sales cycle -------------------------------------------------------------------------

def test_sales_cycle__average_days_from_created_to_won(app, db):
    """Is the cycle the average of calendar days from creation to win, overall and by month won?"""
    s = _stages(db)
    _deal(db, s["Won"], created=at(2025, 1, 1, 10, 0), won=at(2025, 1, 11, 9, 0))    # 10 days
    _deal(db, s["Won"], created=at(2025, 2, 1, 8, 0), won=at(2025, 2, 4, 18, 0))     # 3 days
    _deal(db, s["Won"], created=at(2025, 1, 20, 12, 0), won=at(2025, 2, 28, 12, 0))  # 39 days
    _deal(db, s["Won"], created=at(2024, 1, 1), won=at(2024, 12, 1))                 # outside
    _deal(db, s["Lost"], created=at(2025, 1, 1), lost=at(2025, 5, 1))                # lost
    overall, by_month = sales_cycle(*YEAR)
    assert (overall.deals, overall.average_days) == (3, Decimal("17.3"))  # 52 / 3
    assert [(r.label, r.deals, r.average_days) for r in by_month] == [
        ("2025-01", 1, Decimal("10.0")), ("2025-02", 2, Decimal("21.0"))]
    empty, months = sales_cycle(date(2030, 1, 1), date(2030, 1, 31))
    assert (empty.deals, months) == (0, [])


# --- Conversion --------------------------------------------------------------------------

def test_conversion__share_of_deals_reaching_the_next_stage(app, db, users):
    """Of the deals that reached each stage (entered it or went beyond), what share reached the next?"""
    s = _stages(db)
    admin = users["admin"]
    created = at(2025, 6, 1)

    def path(*names, lost=False):
        deal = _deal(db, s[names[0]], created=created)
        for name in names[1:]:
            move_deal(deal, s[name], by=admin, version=deal.version)
            db.session.commit()
        if lost:
            move_deal(deal, s["Lost"], by=admin, version=deal.version, lost_reason="Price")
            db.session.commit()
        return deal

    path("Lead")                                                  # A: reached Lead
    path("Lead", "Qualified")                                     # B: up to Qualified
    path("Lead", "Qualified", "Proposal", lost=True)              # C: up to Proposal, lost
    path("Lead", "Proposal")                                      # D: skipped Qualified
    path("Lead", "Qualified", "Proposal", "Negotiation", "Won")   # E: all the way
    _deal(db, s["Won"], created=created)                          # F: created as won
    path("Lead", lost=True)                                       # G: lost at once
    _deal(db, s["Proposal"], created=at(2024, 6, 1))              # H: created before the period
    rows = [(r.label, r.reached, r.advanced, r.percent) for r in stage_conversion(*YEAR)]
    assert rows == [
        ("Lead → Qualified", 7, 5, Decimal("71.4")),
        ("Qualified → Proposal", 5, 4, Decimal("80.0")),
        ("Proposal → Negotiation", 4, 2, Decimal("50.0")),
        ("Negotiation → Won", 2, 2, Decimal("100.0")),
    ]
    assert db.session.query(StageChange).count() >= 14


def test_conversion__empty_period_has_no_percentages(app, db):
    """With no deals in the period, is every step shown with nothing reached (no division by zero)?"""
    _stages(db)
    rows = stage_conversion(date(2030, 1, 1), date(2030, 12, 31))
    assert len(rows) == 4 and all(r.reached == 0 and r.percent is None for r in rows)


# --- Won by source -----------------------------------------------------------------------

def test_won_by_source__campaign_then_source_then_unattributed(app, db):
    """Is won value summed by campaign, else by typed source, else 'not attributed', largest first?"""
    s = _stages(db)
    fair = Campaign(name="Spring Fair", channel="event", budget=Decimal("0"))
    db.session.add(fair)
    db.session.commit()
    inside, outside = at(2025, 5, 5), at(2026, 2, 1)
    _deal(db, s["Won"], "1000.00", won=inside, campaign=fair)
    _deal(db, s["Won"], "250.50", won=inside, campaign=fair, source="Ignored, campaign wins")
    _deal(db, s["Won"], "400.00", won=inside, source="Referral")
    _deal(db, s["Won"], "99.99", won=inside)
    _deal(db, s["Won"], "0.01", won=inside, source="   ")
    _deal(db, s["Won"], "5000.00", won=outside, campaign=fair)
    _deal(db, s["Proposal"], "800.00", campaign=fair)
    rows = [(r.label, r.deals, r.won_value) for r in won_by_source(*YEAR)]
    assert rows == [("Campaign: Spring Fair", 2, Decimal("1250.50")),
                    ("Source: Referral", 1, Decimal("400.00")),
                    ("Not attributed", 2, Decimal("100.00"))]


# --- The page ----------------------------------------------------------------------------

def test_reports_page__charts_with_numbers_beside_them(client, login, db):
    """Does the page show each report as an accessible SVG chart with its table and the currency?"""
    login("finance")
    s = _stages(db)
    today = date.today()
    _deal(db, s["Proposal"], "1000.00", expected=date(2031, 7, 1))
    _deal(db, s["Won"], "300.00", source="Referral")
    _deal(db, s["Lost"], lost=datetime.now(UTC))
    response = client.get("/pipeline/reports")
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert body.count('role="img"') == 5
    for title in ("Weighted forecast by month (EUR): 2031-07 500.00", "Won and lost deals: Won 1, Lost 1",
                  "Conversion between stages", "Won value by source (EUR): Source: Referr… 300.00",
                  "Average days to win by month"):
        assert title in body, title
    assert "Amounts in EUR" in body and "50.0%" in body
    default_start = (today.replace(year=today.year - 1) if not (today.month == 2 and today.day == 29)
                     else today.replace(year=today.year - 1, day=28)) + timedelta(days=1)
    assert f'value="{default_start.isoformat()}"' in body
    assert f'value="{today.isoformat()}"' in body
    assert 'href="/static/css/reports.css"' in body


def test_reports_page__period_from_the_url(client, login, db):
    """Does ?from=&to= choose the period the win rate counts?"""
    login("sales")
    s = _stages(db)
    _deal(db, s["Won"], won=at(2020, 5, 1))
    inside = client.get("/pipeline/reports?from=2020-01-01&to=2020-12-31").get_data(as_text=True)
    assert "Won and lost deals: Won 1, Lost 0" in inside and 'value="2020-01-01"' in inside
    outside = client.get("/pipeline/reports?from=2021-01-01&to=2021-12-31").get_data(as_text=True)
    assert "No deal was won or lost in this period." in outside


@pytest.mark.parametrize("query", [
    "from=yesterday", "to=2025-02-30", "from=2025-13-01", "from=2025-06-01&to=2025-01-01",
    "from=0001-01-01", "to=9999-12-31", "colour=red", "from=" + "9" * 500,
])
def test_reports_page__bad_period_is_400(client, login, db, query):
    """Is a malformed, impossible, out-of-range or reversed period, or an unknown parameter, a 400?"""
    login("admin")
    response = client.get(f"/pipeline/reports?{query}")
    assert response.status_code == 400


@pytest.mark.parametrize("role,status", [("admin", 200), ("sales", 200), ("finance", 200),
                                         ("operations", 403)])
def test_reports_page__roles(client, login, db, role, status):
    """May admin, sales and finance read the reports, and is operations refused?"""
    login(role)
    assert client.get("/pipeline/reports").status_code == status
