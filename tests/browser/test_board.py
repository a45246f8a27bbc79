"""The deal board in the browser: drag a card between columns at desk width (totals update
without a reload), mark a deal lost through the reason dialog, move a deal with the
"Move to…" control at phone width, and create a deal with the customer picker.

Every state reached is checked by axe.
"""

import re
from decimal import Decimal

from playwright.sync_api import expect
from sqlalchemy import select

from tests.browser.conftest import check_a11y, screenshot, sign_in_as
from tests.helpers import make_customer


def _fresh(db):
    """The test's own session, ready to read what the server has committed since."""
    db.session.rollback()
    db.session.expire_all()
    return db.session


def _setup(db, users):
    """The standard stages and two of Sam's deals: one in Qualified, one in Proposal."""
    from models.pipeline import create_deal, ensure_stages

    stages = {s.name: s for s in ensure_stages()}
    db.session.commit()
    mover = create_deal(customer=make_customer(name="Northwind Traders"), title="Fleet renewal",
                        owner=users["sales"], stage=stages["Qualified"],
                        amount=Decimal("1000.00"))
    create_deal(customer=make_customer(name="Harbour Lights"), title="Harbour lamps",
                owner=users["sales"], stage=stages["Proposal"], amount=Decimal("200.00"))
    db.session.commit()
    return stages, mover


def _column(page, name: str):
    return page.locator(f'section.column[data-stage="{name}"]')


def _mark_document(page) -> None:
    page.evaluate("window.__tandemNoReload = true")


def _assert_not_reloaded(page) -> None:
    assert page.evaluate("window.__tandemNoReload === true"), "the page was reloaded"


def _drag(page, source, target) -> None:
    """Drag with real pointer events, in steps, as a hand would (Sortable needs them)."""
    start = source.bounding_box()
    end = target.bounding_box()
    page.mouse.move(start["x"] + start["width"] / 2, start["y"] + start["height"] / 2)
    page.mouse.down()
    page.mouse.move(start["x"] + start["width"] / 2 + 10, start["y"] + start["height"] / 2 + 5,
                    steps=5)
    page.mouse.move(end["x"] + end["width"] / 2, end["y"] + min(end["height"] / 2, 40),
                    steps=25)
    page.mouse.up()


def test_board__drag_to_another_column_updates_both_totals(page, viewport, users, db):
    """At desk width, does dragging a deal from Qualified to Proposal save the move and
    change both columns' totals without a reload?"""
    if viewport != "desk":
        return  # no drag at phone width: the Move to… control is tested there
    from models import Deal

    stages, mover = _setup(db, users)
    sign_in_as(page, "sales")
    page.goto("/pipeline/")
    qualified, proposal = _column(page, "Qualified"), _column(page, "Proposal")
    expect(qualified.locator(".column-total")).to_contain_text("1 deal")
    expect(qualified.locator(".column-total")).to_contain_text("EUR 1,000.00")
    expect(qualified.locator(".column-total")).to_contain_text("weighted EUR 250.00")
    expect(proposal.locator(".column-total")).to_contain_text("1 deal")
    expect(proposal.locator(".column-total")).to_contain_text("EUR 200.00")
    check_a11y(page)
    page.wait_for_function("document.getElementById('board').dataset.dragReady === 'true'")

    _mark_document(page)
    card = page.locator(f"#deal-{mover.id}")
    _drag(page, card.locator(".card-customer"), proposal.locator("ol.cards"))

    expect(page.locator(".board-status")).to_contain_text("“Fleet renewal” moved to Proposal.")
    expect(qualified.locator(".column-total")).to_contain_text("0 deals")
    expect(qualified.locator(".column-total")).not_to_contain_text("EUR")
    expect(proposal.locator(".column-total")).to_contain_text("2 deals")
    expect(proposal.locator(".column-total")).to_contain_text("EUR 1,200.00")
    expect(proposal.locator(".column-total")).to_contain_text("weighted EUR 600.00")
    expect(proposal.locator(f"#deal-{mover.id}")).to_be_visible()
    _assert_not_reloaded(page)
    assert page.url.endswith("/pipeline/")  # a move is not a page to go back to
    assert page.evaluate("window.scrollY") == 0  # and it does not jump
    check_a11y(page)
    screenshot(page, "pipeline-board-dragged", viewport)
    assert _fresh(db).get(Deal, mover.id).stage_id == stages["Proposal"].id

    # The board is live again after the swap: a second drag works too.
    page.wait_for_function("document.getElementById('board').dataset.dragReady === 'true'")
    _drag(page, page.locator(f"#deal-{mover.id} .card-customer"),
          _column(page, "Negotiation").locator("ol.cards"))
    expect(_column(page, "Negotiation").locator(".column-total")).to_contain_text("1 deal")
    assert _fresh(db).get(Deal, mover.id).stage_id == stages["Negotiation"].id


def test_board__mark_lost_with_a_reason_through_the_dialog(page, viewport, users, db):
    """Does a move to Lost (drag at desk width, Move to… at phone width) ask for the reason
    in a dialog, refuse an empty one there, and save a given one?"""
    from models import Deal

    stages, mover = _setup(db, users)
    sign_in_as(page, "sales")
    page.goto("/pipeline/")
    card = page.locator(f"#deal-{mover.id}")
    dialog = page.locator("#lost-dialog")
    expect(dialog).to_be_hidden()
    _mark_document(page)
    if viewport == "desk":
        page.wait_for_function("document.getElementById('board').dataset.dragReady === 'true'")
        _drag(page, card.locator(".card-customer"), page.locator(".drop-zone.lost"))
    else:
        card.get_by_label("Move to…").select_option(label="Lost")
        card.get_by_role("button", name="Move").click()
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("Mark “Fleet renewal” lost")
    expect(page.locator("#lost-reason")).to_be_focused()
    check_a11y(page)

    dialog.get_by_role("button", name="Mark lost").click()  # no reason given
    expect(dialog.locator(".error")).to_have_text("Say why the deal was lost.")
    expect(dialog).to_be_visible()
    assert _fresh(db).get(Deal, mover.id).lost_at is None
    check_a11y(page)
    screenshot(page, "pipeline-board-lost-reason", viewport)

    page.fill("#lost-reason", "Chose a cheaper supplier")
    dialog.get_by_role("button", name="Mark lost").click()
    expect(page.locator(".board-status")).to_contain_text("“Fleet renewal” moved to Lost.")
    expect(dialog).to_be_hidden()
    expect(page.locator(f"#deal-{mover.id}")).to_have_count(0)
    expect(_column(page, "Qualified").locator(".column-total")).to_contain_text("0 deals")
    _assert_not_reloaded(page)
    check_a11y(page)
    deal = _fresh(db).get(Deal, mover.id)
    assert deal.stage_id == stages["Lost"].id and deal.lost_reason == "Chose a cheaper supplier"


def test_board__cancelled_lost_dialog_leaves_the_deal(page, viewport, users, db):
    """Does cancelling the lost dialog leave the deal where it was, card and all?"""
    from models import Deal

    stages, mover = _setup(db, users)
    sign_in_as(page, "sales")
    page.goto("/pipeline/")
    card = page.locator(f"#deal-{mover.id}")
    if viewport == "desk":
        page.wait_for_function("document.getElementById('board').dataset.dragReady === 'true'")
        _drag(page, card.locator(".card-customer"), page.locator(".drop-zone.lost"))
    else:
        card.get_by_label("Move to…").select_option(label="Lost")
        card.get_by_role("button", name="Move").click()
    dialog = page.locator("#lost-dialog")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    expect(_column(page, "Qualified").locator(f"#deal-{mover.id}")).to_be_visible()
    check_a11y(page)
    assert _fresh(db).get(Deal, mover.id).stage_id == stages["Qualified"].id


def test_board__phone_move_to_control_moves_the_deal(page, viewport, users, db):
    """At phone width, is the board a stacked list, and does "Move to…" move a deal and
    update the totals without a reload?"""
    if viewport != "phone":
        return  # at desk width the drag test covers moving
    from models import Deal

    stages, mover = _setup(db, users)
    sign_in_as(page, "sales")
    page.goto("/pipeline/")
    qualified, proposal = _column(page, "Qualified"), _column(page, "Proposal")
    # stacked: one column under the other, each as wide as the screen allows
    q_box, p_box = qualified.bounding_box(), proposal.bounding_box()
    assert p_box["y"] > q_box["y"] + q_box["height"] - 1
    assert q_box["width"] > 300
    expect(page.locator(".closing-zones")).to_be_hidden()
    check_a11y(page)
    screenshot(page, "pipeline-board", viewport)

    _mark_document(page)
    card = page.locator(f"#deal-{mover.id}")
    card.get_by_label("Move to…").select_option(label="Proposal")
    card.get_by_role("button", name="Move").click()
    expect(page.locator(".board-status")).to_contain_text("“Fleet renewal” moved to Proposal.")
    expect(qualified.locator(".column-total")).to_contain_text("0 deals")
    expect(proposal.locator(".column-total")).to_contain_text("2 deals")
    expect(proposal.locator(".column-total")).to_contain_text("EUR 1,200.00")
    expect(proposal.locator(f"#deal-{mover.id}")).to_be_visible()
    _assert_not_reloaded(page)
    assert page.url.endswith("/pipeline/")
    check_a11y(page)
    screenshot(page, "pipeline-board-moved", viewport)
    assert _fresh(db).get(Deal, mover.id).stage_id == stages["Proposal"].id


def test_board__show_more_in_place_then_move_a_card_it_brought(page, viewport, users, db):
    """With more deals in a column than it shows first, does "Show more" add the rest to
    the column without a reload, and can a card it brought be moved (dragged at desk
    width, Move to… at phone width)?"""
    from datetime import date, timedelta

    from models import Deal
    from models.pipeline import BOARD_CARDS, create_deal, ensure_stages

    stages = {s.name: s for s in ensure_stages()}
    customer = make_customer(name="Northwind Traders")
    deals = [create_deal(customer=customer, title=f"Deal {n:02d}", owner=users["sales"],
                         stage=stages["Qualified"], amount=Decimal("100.00"),
                         expected_close=date(2027, 1, 1) + timedelta(days=n))
             for n in range(BOARD_CARDS + 3)]
    db.session.commit()
    sign_in_as(page, "sales")
    page.goto("/pipeline/")
    qualified, proposal = _column(page, "Qualified"), _column(page, "Proposal")
    expect(qualified.locator("li.card")).to_have_count(BOARD_CARDS)
    expect(qualified.locator(".column-total")).to_contain_text(f"{BOARD_CARDS + 3} deals")
    _mark_document(page)
    qualified.get_by_role("link", name=re.compile("Show more")).click()
    expect(qualified.locator("li.card")).to_have_count(BOARD_CARDS + 3)
    expect(qualified.locator(".card-more")).to_have_count(0)
    expect(qualified.locator(".card-title")).to_have_text([d.title for d in deals])
    _assert_not_reloaded(page)
    check_a11y(page)
    screenshot(page, "pipeline-board-more", viewport)
    last = deals[-1]
    card = page.locator(f"#deal-{last.id}")
    if viewport == "desk":
        # a screen tall enough to hold the long column and the one it goes to, as a
        # hand would drag it (Sortable's fallback drag does not scroll the page)
        page.set_viewport_size({"width": page.viewport_size["width"], "height": 3200})
        page.wait_for_function(
            "document.getElementById('board').dataset.dragReady === 'true'")
        _drag(page, card.locator(".card-customer"), proposal.locator("ol.cards"))
    else:
        card.get_by_label("Move to…").select_option(label="Proposal")
        card.get_by_role("button", name="Move").click()
    expect(page.locator(".board-status")).to_contain_text(f"“{last.title}” moved to Proposal.")
    expect(proposal.locator(f"#deal-{last.id}")).to_be_visible()
    _assert_not_reloaded(page)
    assert _fresh(db).get(Deal, last.id).stage_id == stages["Proposal"].id


def test_board__stale_move_shows_the_conflict(page, viewport, users, db):
    """When a deal changed after the board was loaded, is the move refused with a message
    on the board?"""
    from models import Deal

    stages, mover = _setup(db, users)
    sign_in_as(page, "sales")
    page.goto("/pipeline/")
    deal = _fresh(db).get(Deal, mover.id)
    deal.title = "Fleet renewal (revised)"
    db.session.commit()
    card = page.locator(f"#deal-{mover.id}")
    card.get_by_label("Move to…").select_option(label="Proposal")
    card.get_by_role("button", name="Move").click()
    expect(page.locator(".board-error")).to_contain_text("after you opened it")
    expect(_column(page, "Qualified")).to_contain_text("Fleet renewal (revised)")
    check_a11y(page)
    assert _fresh(db).get(Deal, mover.id).stage_id == stages["Qualified"].id


def test_new_deal__created_with_the_customer_picker(page, viewport, users, db):
    """Can sales create a deal, choosing the customer by typing, and see its currency?"""
    from models import Deal
    from models.pipeline import ensure_stages

    ensure_stages()
    db.session.commit()
    make_customer(name="Zephyr Cycles", currency="GBP")
    sign_in_as(page, "sales")
    page.goto("/pipeline/")
    page.get_by_role("link", name="New deal").click()
    expect(page.locator("h1")).to_have_text("New deal")
    check_a11y(page)
    page.fill("#deal-customer-q", "zeph")
    page.get_by_role("button", name=re.compile("Zephyr Cycles")).click()
    expect(page.locator("#deal-currency")).to_contain_text("In GBP")
    page.fill("#title", "Spring fleet")
    page.fill("#amount", "4,200.00")
    page.fill("#expected_close", "2026-12-15")
    check_a11y(page)
    screenshot(page, "pipeline-deal-new", viewport)
    page.get_by_role("button", name="Create deal").click()
    expect(page).to_have_url(re.compile(r"/pipeline/deals/\d+$"))
    expect(page.locator("h1")).to_have_text("Spring fleet")
    expect(page.locator(".deal-amount")).to_have_text("GBP 4,200.00")
    check_a11y(page)
    screenshot(page, "pipeline-deal", viewport)
    deal = _fresh(db).scalar(select(Deal))
    assert (deal.title, deal.amount, deal.currency) == ("Spring fleet", Decimal("4200.00"), "GBP")


def test_stages__load_the_standard_ones_and_edit_one(page, viewport, users, db):
    """Can an admin load the standard stages and change one's follow-up days, on an
    accessible page?"""
    from models import Stage

    sign_in_as(page, "admin")
    page.goto("/pipeline/stages")
    check_a11y(page)
    page.get_by_role("button", name="Load the standard stages").click()
    expect(page.locator(".flashes")).to_contain_text("The standard stages are loaded.")
    expect(page.get_by_role("button", name="Load the standard stages")).to_have_count(0)
    check_a11y(page)
    proposal = _fresh(db).scalar(select(Stage).where(Stage.name == "Proposal"))
    page.fill(f"#s{proposal.id}-followup_days", "400")
    page.get_by_role("button", name="Save Proposal").click()
    expect(page.locator(f"#stage-{proposal.id} .error")).to_have_text("Enter 0 to 365 days.")
    check_a11y(page)
    page.fill(f"#s{proposal.id}-followup_days", "14")
    page.get_by_role("button", name="Save Proposal").click()
    expect(page.locator(".flashes")).to_contain_text("Proposal is saved.")
    check_a11y(page)
    screenshot(page, "pipeline-stages", viewport)
    assert _fresh(db).get(Stage, proposal.id).followup_days == 14
