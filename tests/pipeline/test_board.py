"""The deal board: columns per open stage with totals summed in SQL, filters kept in the
URL, and moves (htmx or a plain form) that re-render the board, refused when they must be."""

import html
import re
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import event, select

from models import Activity, Campaign, Deal, StageChange
from models.pipeline import (
    board_totals,
    deal_filter_clauses,
)
from tests.helpers import business_rows, make_customer, make_deal, walk_show_more


def _column(body: str, stage_name: str) -> str:
    """The HTML of one board column, found by its data-stage attribute."""
    match = re.search(rf'<section class="column"[^>]*data-stage="{stage_name}">(.*?)</section>',
                      body, re.S)
    assert match, f"no column {stage_name}"
    return match.group(1)




# --- The board ---------------------------------------------------------------------------


def test_board__shows_a_column_per_open_stage_with_count_total_and_weighted(
        client, login, db, users, stages):
    """Does each open stage get a column with its count, total and weighted total?"""
    me = login("sales")
    make_deal(db, stages, title="Alpha", owner=me, stage="Qualified", amount="1000.00")
    make_deal(db, stages, title="Beta", owner=me, stage="Qualified", amount="3000.00",
          probability_override=50)
    make_deal(db, stages, title="Gamma", owner=me, stage="Proposal", amount="200.00")
    make_deal(db, stages, title="Closed", owner=me, stage="Won", amount="999.00")
    body = client.get("/pipeline/").get_data(as_text=True)
    assert [m for m in re.findall(r'data-stage="([^"]+)"', body)] == \
        ["Lead", "Qualified", "Proposal", "Negotiation"]
    qualified = _column(body, "Qualified")
    assert "2 deals" in qualified
    assert "EUR 4,000.00" in qualified
    assert "weighted EUR 1,750.00" in qualified  # 1000 x 25% + 3000 x 50%
    proposal = _column(body, "Proposal")
    assert "1 deal<" in proposal and "EUR 200.00" in proposal and "weighted EUR 100.00" in proposal
    assert "0 deals" in _column(body, "Lead")
    assert "Closed" not in body  # won deals leave the board
    assert "Drop here: Won" in body and "Drop here: Lost" in body


def test_board__each_card_offers_the_other_stages_to_move_to(client, login, db, users,
                                                             stages):
    """Does every card's Move to… list each stage but its own (the options are rendered
    once a column), with a stage's name escaped?"""
    me = login("sales")
    stages["Lead"].name = "Lead <new>"
    db.session.commit()
    for title, stage in (("One", "Lead"), ("Two", "Lead"), ("Three", "Proposal")):
        make_deal(db, stages, title=title, owner=me, stage=stage)
    body = client.get("/pipeline/").get_data(as_text=True)
    cards = dict(re.findall(r'data-title="([^"]+)".*?<select[^>]*>(.*?)</select>', body, re.S))
    offered = {title: [html.unescape(name) for name in re.findall(r">([^<]*)</option>", options)]
               for title, options in cards.items()}
    everyone = ["Lead <new>", "Qualified", "Proposal", "Negotiation", "Won", "Lost"]
    assert offered["One"] == offered["Two"] == [s for s in everyone if s != "Lead <new>"]
    assert offered["Three"] == [s for s in everyone if s != "Proposal"]
    assert "Lead &lt;new&gt;</option>" in body and "Lead <new></option>" not in body


def test_board__card_shows_title_customer_owner_amount_and_close(client, login, db, users,
                                                                 stages):
    """Does a card show the title, customer, owner, amount and expected close?"""
    me = login("sales")
    customer = make_customer(name="Harbour Lights")
    make_deal(db, stages, title="Fleet renewal", owner=me, customer=customer, amount="12500.50",
          expected_close=date(2026, 12, 15))
    body = client.get("/pipeline/").get_data(as_text=True)
    card = re.search(r'<li class="card".*?</li>', body, re.S).group(0)
    for text in ("Fleet renewal", "Harbour Lights", "Sam Sales", "EUR 12,500.50", "2026-12-15"):
        assert text in card
    assert 'data-movable' in card and "Move to…" in card


def test_board__totals_are_grouped_per_currency(client, login, db, users, stages):
    """Are a column's totals given per currency when its deals differ in currency?"""
    me = login("sales")
    make_deal(db, stages, owner=me, amount="100.00", customer=make_customer(currency="EUR"))
    make_deal(db, stages, owner=me, amount="40.00", customer=make_customer(currency="USD"))
    qualified = _column(client.get("/pipeline/").get_data(as_text=True), "Qualified")
    assert "2 deals" in qualified
    assert "EUR 100.00" in qualified and "weighted EUR 25.00" in qualified
    assert "USD 40.00" in qualified and "weighted USD 10.00" in qualified


def test_board_totals__are_summed_in_sql_with_half_up_rounding(app, db, users, stages):
    """Do the SQL sums equal the sum of each deal's weighted amount, rounded half-up?"""
    customer = make_customer()
    amounts = ["0.01", "0.03", "10.05", "99.99", "1234.57"]
    deals = [make_deal(db, stages, customer=customer, amount=a, probability_override=50)
             for a in amounts]
    totals = board_totals([])[stages["Qualified"].id]
    assert totals.count == 5
    currency, amount, weighted = totals.totals[0]
    assert currency == "EUR"
    assert amount == sum(Decimal(a) for a in amounts)
    assert weighted == sum(d.weighted_amount for d in deals)
    assert weighted == Decimal("0.01") + Decimal("0.02") + Decimal("5.03") + \
        Decimal("50.00") + Decimal("617.29")


def test_board_totals__one_query_however_many_deals(app, db, users, stages):
    """Are the column sums one SQL query, not one per deal?"""
    customer = make_customer()
    for n in range(12):
        make_deal(db, stages, customer=customer, title=f"D{n}", amount="10.00")
    statements = []

    def count(conn, cursor, statement, *args):
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        board_totals([])
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    assert len(statements) == 1
    assert "sum(" in statements[0].lower() and "group by" in statements[0].lower()


def test_board__finance_sees_it_without_move_controls(client, login, db, users, stages):
    """May finance read the board, with no drag, no Move to… and no New deal?"""
    make_deal(db, stages, title="Visible", owner=users["sales"])
    login("finance")
    response = client.get("/pipeline/")
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Visible" in body  # finance sees everyone's deals by default
    assert "data-movable" not in body and "Move to…" not in body
    assert "New deal" not in body and 'data-can-move="false"' in body
    assert "lost-dialog" not in body


def test_board__no_stages_yet_says_so(client, login, users):
    """Does an empty pipeline say there are no stages, and point an admin to set them up?"""
    login("admin")
    body = client.get("/pipeline/").get_data(as_text=True)
    assert "no pipeline stages yet" in body and "/pipeline/stages" in body


# --- Filters -----------------------------------------------------------------------------


def test_filters__owner_defaults_to_mine_for_sales_and_all_for_admin(app, client, login, db,
                                                                       users, stages):
    """Does a sales rep see their own deals by default, and an admin everyone's?"""
    make_deal(db, stages, title="Sams deal", owner=users["sales"])
    make_deal(db, stages, title="Adas deal", owner=users["admin"])
    make_deal(db, stages, title="Nobodys deal", owner=None)
    login("sales")
    body = client.get("/pipeline/").get_data(as_text=True)
    assert "Sams deal" in body and "Adas deal" not in body and "Nobodys deal" not in body
    body = client.get("/pipeline/?owner=all").get_data(as_text=True)
    assert "Sams deal" in body and "Adas deal" in body and "Nobodys deal" in body
    body = client.get("/pipeline/?owner=none").get_data(as_text=True)
    assert "Nobodys deal" in body and "Sams deal" not in body
    body = client.get(f"/pipeline/?owner={users['admin'].id}").get_data(as_text=True)
    assert "Adas deal" in body and "Sams deal" not in body
    admin_client = app.test_client()
    login("admin", admin_client)
    body = admin_client.get("/pipeline/").get_data(as_text=True)
    assert "Sams deal" in body and "Adas deal" in body and "Nobodys deal" in body


def test_filters__close_month_campaign_and_source(client, login, db, users, stages):
    """Do the close month, campaign and source filters narrow the board?"""
    login("admin")
    fair = Campaign(name="Spring fair", channel="event")
    db.session.add(fair)
    db.session.commit()
    make_deal(db, stages, title="November close", expected_close=date(2026, 11, 30))
    make_deal(db, stages, title="December close", expected_close=date(2026, 12, 1))
    make_deal(db, stages, title="From the fair", campaign=fair)
    make_deal(db, stages, title="Referred", source="Referral by Acme")
    body = client.get("/pipeline/?month=2026-11").get_data(as_text=True)
    assert "November close" in body and "December close" not in body
    assert "From the fair" not in body
    body = client.get(f"/pipeline/?campaign={fair.id}").get_data(as_text=True)
    assert "From the fair" in body and "November close" not in body
    body = client.get("/pipeline/?source=referral").get_data(as_text=True)
    assert "Referred" in body and "From the fair" not in body
    body = client.get("/pipeline/?source=50%25").get_data(as_text=True)  # a LIKE wildcard
    assert "Referred" not in body


def test_filters__narrow_the_column_totals_too(client, login, db, users, stages):
    """Do the column totals count only the deals the filters show?"""
    make_deal(db, stages, owner=users["sales"], amount="100.00")
    make_deal(db, stages, owner=users["admin"], amount="900.00")
    login("sales")
    qualified = _column(client.get("/pipeline/").get_data(as_text=True), "Qualified")
    assert "1 deal<" in qualified and "EUR 100.00" in qualified
    qualified = _column(client.get("/pipeline/?owner=all").get_data(as_text=True), "Qualified")
    assert "2 deals" in qualified and "EUR 1,000.00" in qualified


@pytest.mark.parametrize("query", [
    "owner=everyone", "owner=1 OR 1=1", "owner=999999", "owner=-1", "month=2026-13",
    "month=26-01", "month=2026-1", "month=0000-00", "campaign=abc", "campaign=999999",
    "source=" + "x" * 101, "source=%01", "colour=red", "sort=title", "owner=%C2%B2",
    "owner=99999999999", "campaign=%D9%A1",
])
def test_filters__unknown_values_are_400(client, login, db, users, stages, query):
    """Is a filter outside the whitelist a 400, never a 500?"""
    login("sales")
    response = client.get(f"/pipeline/?{query}")
    assert response.status_code == 400


def test_filters__htmx_request_gets_only_the_board(client, login, db, users, stages):
    """Does an htmx filter request get the board block, not the page?"""
    login("admin")
    make_deal(db, stages, title="Fragmentary")
    response = client.htmx("get", "/pipeline/?owner=all")
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<html" not in body and body.lstrip().startswith('<section id="board"')
    assert "Fragmentary" in body


def test_board__a_long_column_shows_the_soonest_closing_and_counts_them_all(
        client, login, db, users, stages, monkeypatch):
    """With more deals in a stage than a column shows: are the soonest closing shown (no
    date last), does the count and total still cover every deal, and does the column say
    how many of how many it shows?"""
    monkeypatch.setattr("models.pipeline.BOARD_CARDS", 3)
    me = login("sales")
    customer = make_customer()
    for n, day in enumerate([None, date(2026, 5, 1), date(2026, 3, 1), date(2026, 4, 1),
                             date(2026, 6, 1)]):
        make_deal(db, stages, title=f"Deal {n}", owner=me, customer=customer,
                  expected_close=day, amount="100.00")
    make_deal(db, stages, title="Elsewhere", owner=me, customer=customer, stage="Proposal")
    body = client.get("/pipeline/").get_data(as_text=True)
    column = _column(body, "Qualified")
    assert re.findall(r'class="card-title"><a [^>]*>([^<]+)<', column) == [
        "Deal 2", "Deal 3", "Deal 1"]
    assert "5 deals" in column and "EUR 500.00" in column
    assert "Show more" in column
    proposal = _column(body, "Proposal")
    assert "Elsewhere" in proposal and "Show more" not in proposal


def _more_link(html: str) -> str | None:
    match = re.search(r'class="card-more"><a class="button small" href="([^"]+)"', html)
    return match.group(1).replace("&amp;", "&") if match else None


def _card_titles(html: str) -> list[str]:
    return re.findall(r'class="card-title"><a [^>]*>([^<]+)<', html)


@pytest.mark.parametrize(("per_more", "rounds_needed"), [(3, 2), (2, 3)])
def test_board__show_more_walks_a_column_to_its_end(client, login, db, users, stages,
                                                    monkeypatch, per_more, rounds_needed):
    """Does "Show more" (as htmx asks it) bring a column's next cards in the column's
    order (soonest close, same dates by id, no date last), each once, with a link to the
    rest until there is none, keeping the board's filters, whether it goes on from a
    dated card or an undated one?"""
    monkeypatch.setattr("models.pipeline.BOARD_CARDS", 2)
    monkeypatch.setattr("models.pipeline.BOARD_MORE", per_more)
    monkeypatch.setattr("blueprints.pipeline.board.BOARD_MORE", per_more)
    me = login("sales")
    customer = make_customer()
    days = [date(2026, 5, 1), None, date(2026, 3, 1), date(2026, 5, 1), None,
            date(2026, 4, 1), date(2026, 5, 1), None]
    made = [make_deal(db, stages, title=f"Deal {n}", owner=me, customer=customer,
                      expected_close=day, amount="10.00", source="fair" if n != 7 else "")
            for n, day in enumerate(days)]
    make_deal(db, stages, title="Not mine", owner=users["admin"], customer=customer,
              expected_close=date(2026, 1, 1), source="fair")
    expected = [d.title for d in sorted(
        (d for d in made if d.source == "fair"),
        key=lambda d: (d.expected_close is None, d.expected_close or date.min, d.id))]
    body = client.get("/pipeline/?source=fair").get_data(as_text=True)
    column = _column(body, "Qualified")
    seen = _card_titles(column)
    more = _more_link(column)
    assert "source=fair" in more

    def cards_with_forms(fragment):
        assert 'name="stage_id"' in fragment  # each card keeps its Move to… form
        return _card_titles(fragment)

    rest, rounds = walk_show_more(client, more, cards_with_forms, _more_link, 'id="board"')
    seen += rest
    # 2 first, then 3 and 2 (the second from a dated card); or 2, 2 and 1, the last
    # from an undated one
    assert seen == expected and rounds == rounds_needed


def test_board__show_more_without_js_is_a_page_of_that_column(client, login, db, stages,
                                                              monkeypatch):
    """Without htmx, does "Show more" open a page of the column's next cards, with the
    way back to the board?"""
    monkeypatch.setattr("models.pipeline.BOARD_CARDS", 1)
    me = login("sales")
    for n in range(3):
        make_deal(db, stages, title=f"Deal {n}", owner=me, expected_close=date(2026, 3, n + 1))
    more = _more_link(_column(client.get("/pipeline/").get_data(as_text=True), "Qualified"))
    response = client.get(more)
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<h1>Deals: Qualified</h1>" in body and 'href="/pipeline/"' in body
    assert _card_titles(body) == ["Deal 1", "Deal 2"] and _more_link(body) is None


@pytest.mark.parametrize("query", [
    "column={q}",  # no cursor
    "after=WzEsMV0",  # no column
    "column={q}&after=broken",
    "column={q}&after=WyJub3QgYSBkYXkiLDFd",  # a cursor whose date is not one
    "column={q}&after=WzEsMV0",  # a cursor whose date is a number
    "column=999999&after=W251bGwsMV0",  # no such stage
    "column=abc&after=W251bGwsMV0",
    "column={q}&after=W251bGwsMV0&owner=nobody",
])
def test_board__a_broken_show_more_link_is_a_400(client, login, db, stages, query):
    """Is a "Show more" request with a missing, broken or tampered part a 400, for htmx
    and without?"""
    login("sales")
    query = query.format(q=stages["Qualified"].id)
    assert client.get(f"/pipeline/?column={stages['Qualified'].id}&after=W251bGwsMV0"
                      ).status_code == 200  # the same, whole: answered
    for response in (client.get(f"/pipeline/?{query}"),
                     client.htmx("get", f"/pipeline/?{query}")):
        assert response.status_code == 400, query


def test_board__show_more_is_refused_on_a_closed_column(client, login, db, stages):
    """Is "Show more" on the won or lost stage (not a board column) a 400?"""
    login("sales")
    won = stages["Won"]
    assert client.get(f"/pipeline/?column={won.id}&after=W251bGwsMV0").status_code == 400


def test_deal_filter_clauses__month_covers_the_whole_month(app, db, users, stages):
    """Does the close-month filter take the first to the last day of the month, no more?"""
    for day in (date(2026, 1, 31), date(2026, 2, 1), date(2026, 2, 28), date(2026, 3, 1)):
        make_deal(db, stages, title=day.isoformat(), expected_close=day)
    clauses = deal_filter_clauses(close_month=date(2026, 2, 14))
    titles = db.session.scalars(select(Deal.title).where(*clauses)).all()
    assert sorted(titles) == ["2026-02-01", "2026-02-28"]


# --- Moves -------------------------------------------------------------------------------


def _move(client, deal, stage, *, version=None, reason=None, htmx=True, query=""):
    data = {"stage_id": str(stage.id) if hasattr(stage, "id") else stage,
            "version": str(deal.version if version is None else version)}
    if reason is not None:
        data["lost_reason"] = reason
    url = f"/pipeline/deals/{deal.id}/move{query}"
    if htmx:
        return client.htmx("post", url, data=data)
    return client.post(url, data=data)


def test_move__htmx_rerenders_the_board_with_new_totals(client, login, db, users, stages):
    """Does an htmx move answer with the board block, the card and totals in the new column?"""
    me = login("sales")
    deal = make_deal(db, stages, title="Mover", owner=me, amount="1000.00")
    response = _move(client, deal, stages["Proposal"])
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<html" not in body and 'id="board"' in body
    # the message goes to the live region outside the board, so it is announced
    status = re.search(r'<div id="board-status"[^>]*>(.*?)</div>', body, re.S)
    assert 'hx-swap-oob="innerHTML"' in status.group(0)
    assert "“Mover” moved to Proposal." in status.group(1)
    assert "Mover" in _column(body, "Proposal") and "Mover" not in _column(body, "Qualified")
    assert "weighted EUR 500.00" in _column(body, "Proposal")
    assert "0 deals" in _column(body, "Qualified")
    db.session.expire_all()
    assert db.session.get(Deal, deal.id).stage_id == stages["Proposal"].id
    changes = db.session.scalars(select(StageChange).where(StageChange.deal_id == deal.id)
                                 .order_by(StageChange.id)).all()
    assert [(c.from_stage_id, c.to_stage_id) for c in changes] == [
        (None, stages["Qualified"].id), (stages["Qualified"].id, stages["Proposal"].id)]
    assert changes[-1].by_id == me.id


def test_move__keeps_the_filters_of_the_board(client, login, db, users, stages):
    """Is the board re-rendered after a move with the filters it was loaded with?"""
    me = login("admin")
    deal = make_deal(db, stages, title="Mine", owner=me)
    make_deal(db, stages, title="Someone elses", owner=users["sales"])
    body = _move(client, deal, stages["Proposal"], query="?owner=mine").get_data(as_text=True)
    assert "Mine" in body and "Someone elses" not in body
    assert f"/pipeline/deals/{deal.id}/move?owner=mine" in body


def test_move__plain_form_redirects_to_the_board(client, login, db, users, stages):
    """Without JavaScript, does the Move to… form move the deal and return to the board?"""
    me = login("sales")
    deal = make_deal(db, stages, owner=me)
    response = _move(client, deal, stages["Negotiation"], htmx=False, query="?month=2026-11")
    assert response.status_code == 302
    assert response.headers["Location"] == "/pipeline/?month=2026-11"
    db.session.expire_all()
    assert db.session.get(Deal, deal.id).stage.name == "Negotiation"


def test_move__to_won_just_moves(client, login, db, users, stages):
    """Does a move to Won need nothing more, set won_at and take the card off the board?"""
    me = login("sales")
    deal = make_deal(db, stages, title="Winner", owner=me)
    body = _move(client, deal, stages["Won"]).get_data(as_text=True)
    assert "“Winner” moved to Won." in body
    assert 'id="deal-' not in body
    db.session.expire_all()
    assert db.session.get(Deal, deal.id).won_at is not None


def test_move__to_lost_with_a_reason(client, login, db, users, stages):
    """Does a move to Lost with a reason store the reason and the lost time?"""
    me = login("sales")
    deal = make_deal(db, stages, owner=me)
    response = _move(client, deal, stages["Lost"], reason="Went with a competitor")
    assert response.status_code == 200
    db.session.expire_all()
    saved = db.session.get(Deal, deal.id)
    assert saved.lost_reason == "Went with a competitor" and saved.lost_at is not None


@pytest.mark.parametrize("reason", [None, "", "   "])
def test_move__to_lost_without_reason_is_422_in_the_dialog(client, login, db, users, stages,
                                                            reason):
    """Is a move to Lost without a reason a 422, shown in the open dialog, nothing written?"""
    me = login("sales")
    deal = make_deal(db, stages, owner=me)
    before = business_rows(db)
    response = _move(client, deal, stages["Lost"], reason=reason)
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    dialog = re.search(r'<dialog id="lost-dialog".*?</dialog>', body, re.S).group(0)
    assert " open data-reopen" in dialog
    assert "Say why the deal was lost." in dialog
    assert f"/pipeline/deals/{deal.id}/move" in dialog
    assert f'name="version" value="{deal.version}"' in dialog
    assert business_rows(db) == before


def test_move__lost_reason_too_long_is_422(client, login, db, users, stages):
    """Is a lost reason over 500 characters refused in the dialog?"""
    me = login("sales")
    deal = make_deal(db, stages, owner=me)
    before = business_rows(db)
    response = _move(client, deal, stages["Lost"], reason="x" * 501)
    assert response.status_code == 422
    assert "Use at most 500 characters." in response.get_data(as_text=True)
    assert business_rows(db) == before


def test_move__stale_version_is_409_and_the_board_says_so(client, login, db, users, stages):
    """Is a move based on an old version refused (409) with a message on the board?"""
    me = login("sales")
    deal = make_deal(db, stages, title="Contested", owner=me)
    loaded_version = deal.version
    deal.amount = Decimal("2000.00")  # someone else saves meanwhile
    db.session.commit()
    before = business_rows(db)
    response = _move(client, deal, stages["Proposal"], version=loaded_version)
    body = response.get_data(as_text=True)
    assert response.status_code == 409
    assert 'id="board"' in body and "changed by" in body and "after you opened it" in body
    assert "Contested" in _column(body, "Qualified")
    assert business_rows(db) == before


def test_move__another_reps_deal_is_403(client, login, db, users, stages):
    """May a sales rep not move another rep's deal (403 with a message, nothing written)?"""
    deal = make_deal(db, stages, title="Adas", owner=users["admin"])
    login("sales")
    before = business_rows(db)
    response = _move(client, deal, stages["Proposal"], query="?owner=all")
    body = response.get_data(as_text=True)
    assert response.status_code == 403
    assert "Only the owner of “Adas” or an admin may move it." in body
    assert business_rows(db) == before
    # ...and the board gives no control to try
    card = re.search(rf'<li class="card" id="deal-{deal.id}".*?</li>',
                     client.get("/pipeline/?owner=all").get_data(as_text=True), re.S).group(0)
    assert "data-movable" not in card and "Move to" not in card


def test_move__unassigned_deal_may_be_moved_by_any_rep(client, login, db, users, stages):
    """May a sales rep move an unassigned deal?"""
    deal = make_deal(db, stages, owner=None)
    login("sales")
    assert _move(client, deal, stages["Proposal"], query="?owner=none").status_code == 200


@pytest.mark.parametrize("role", ["finance", "operations"])
def test_move__finance_and_operations_are_403(client, login, db, users, stages, role):
    """Are finance and operations refused a move (403), nothing written?"""
    deal = make_deal(db, stages, owner=users["sales"])
    login(role)
    before = business_rows(db)
    assert _move(client, deal, stages["Proposal"]).status_code == 403
    assert business_rows(db) == before


@pytest.mark.parametrize("stage_id", ["999999", "abc", "", "-1", "1e3", "9" * 40, "²", "٣"])
def test_move__unknown_stage_is_422_never_500(client, login, db, users, stages, stage_id):
    """Is a move to a stage that does not exist refused (422), nothing written?"""
    me = login("sales")
    deal = make_deal(db, stages, owner=me)
    before = business_rows(db)
    response = _move(client, deal, stage_id)
    assert response.status_code == 422
    assert "Choose a stage from the list." in response.get_data(as_text=True)
    assert business_rows(db) == before


@pytest.mark.parametrize("deal_id", ["999", "99999999999999"])
def test_move__unknown_deal_is_404(client, login, db, users, stages, deal_id):
    """Is a move of a deal that does not exist (or could not) a 404?"""
    login("sales")
    response = client.post(f"/pipeline/deals/{deal_id}/move",
                           data={"stage_id": stages["Lead"].id, "version": "1"})
    assert response.status_code == 404


def test_move__bad_filter_in_the_url_is_400(client, login, db, users, stages):
    """Is a move whose board URL carries a forged filter a 400, nothing written?"""
    me = login("sales")
    deal = make_deal(db, stages, owner=me)
    before = business_rows(db)
    assert _move(client, deal, stages["Proposal"], query="?owner=evil").status_code == 400
    assert business_rows(db) == before


def test_move__without_csrf_is_refused(client, login, db, users, stages):
    """Is a move without the CSRF token refused, nothing written?"""
    me = login("sales")
    deal = make_deal(db, stages, owner=me)
    before = business_rows(db)
    response = client.post(f"/pipeline/deals/{deal.id}/move", csrf=False,
                           data={"stage_id": stages["Proposal"].id, "version": deal.version})
    assert response.status_code == 400
    assert business_rows(db) == before


def test_move__into_a_stage_with_followup_days_makes_a_task(client, login, db, users, stages):
    """Does a move on the board into Proposal (7 days) give the owner a follow-up task?"""
    me = login("sales")
    deal = make_deal(db, stages, title="Chase me", owner=me, stage="Lead")
    _move(client, deal, stages["Proposal"])
    tasks = db.session.scalars(select(Activity).where(Activity.deal_id == deal.id)).all()
    assert [(t.kind, t.assignee_id, t.subject) for t in tasks] == [
        ("task", me.id, "Follow up: Chase me")]


def test_board__html_in_titles_and_names_is_escaped(client, login, db, users, stages):
    """Is HTML in a deal title or customer name shown escaped on the board?"""
    me = login("sales")
    make_deal(db, stages, title="<b>bold</b>", owner=me,
          customer=make_customer(name="<img src=x onerror=alert(1)>"))
    body = client.get("/pipeline/").get_data(as_text=True)
    assert "<b>bold</b>" not in body and "&lt;b&gt;bold&lt;/b&gt;" in body
    assert "<img src=x" not in body and "&lt;img src=x onerror=alert(1)&gt;" in body
