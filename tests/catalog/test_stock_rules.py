"""Stock rules (models/stock.py) and quantities (models/types.py), on whichever database
the run uses. After every test the kept stock figures must agree with the moves."""

from decimal import Decimal

import pytest
from sqlalchemy import func, select

from models.stock import (
    ProductStock,
    StockCountLine,
    StockLevel,
    StockMove,
    add_location,
    availability,
    cancel_move,
    complete_move,
    default_stock_location,
    level_drift,
    levels_for,
    location,
    move_stock,
    moving_average,
    receive_stock,
    record_count,
    reserve_stock,
    stock_valuation,
    virtual_location,
)
from models.types import Quantity, parse_quantity
from tests.catalog.test_catalog_rules import make_product, refused
from tests.helpers import business_rows

D = Decimal


@pytest.fixture(autouse=True)
def _no_drift(app, db):
    """Whatever a test did, the committed figures still match a recount from the moves."""
    yield
    db.session.rollback()
    assert level_drift() == []


def shelf(code="WH/SHELF-A"):
    return add_location(code=code, name=code.split("/")[-1].title(), parent=location("WH"))


def totals(product):
    """(on hand, reserved) over all internal locations, read fresh."""
    row = availability([product.id])[product.id]
    return row.on_hand, row.reserved


def level(product, at):
    found = next((lv for lv in levels_for(product.id) if lv.location_id == at.id), None)
    return (found.on_hand, found.reserved) if found else (D(0), D(0))


# --- Quantities --------------------------------------------------------------------------

@pytest.mark.parametrize("text, whole, expected", [
    ("3", True, D("3.000")), (" 12 ", True, D("12")), ("1,000", True, D("1000")),
    ("2.000", True, D("2")), ("0.125", False, D("0.125")), ("2.5", False, D("2.5")),
    ("999999999999.999", False, D("999999999999.999")),
])
def test_parse_quantity__accepts(text, whole, expected):
    """Does parse_quantity accept plain, padded, grouped and 3-decimal quantities?"""
    value = parse_quantity(text, whole=whole)
    assert value == expected and isinstance(value, Decimal)


@pytest.mark.parametrize("text, whole, message", [
    ("-1", False, "above zero"), ("0", False, "above zero"), ("0.000", True, "above zero"),
    ("1.5", True, "whole pieces"), ("0.001", True, "whole pieces"),
    ("1.0005", False, "at most 3 decimals"), ("1e-4", False, "at most 3 decimals"),
    ("abc", False, "Enter a number"), ("12kg", False, "Enter a number"),
    ("NaN", False, "Enter a number"), ("Infinity", False, "Enter a number"),
    ("", False, "Enter a quantity"), ("   ", True, "Enter a quantity"),
    (None, True, "Enter a quantity"), ("1e12", False, "out of range"),
    ("99999999999999999999", True, "out of range"),
])
def test_parse_quantity__refuses(text, whole, message):
    """Are negatives, zero, fractions of whole units, a 4th decimal, junk and huge numbers
    refused with a sentence a person can act on?"""
    with pytest.raises(ValueError, match=message):
        parse_quantity(text, whole=whole)


def test_parse_quantity__zero_only_when_allowed():
    """Is zero accepted with allow_zero (a count of nothing), but a negative still refused?"""
    assert parse_quantity("0", whole=True, allow_zero=True) == 0
    with pytest.raises(ValueError, match="zero or more"):
        parse_quantity("-0.5", whole=False, allow_zero=True)


@pytest.mark.parametrize("bad", [0.5, D("0.0001"), D("1e15"), D("NaN")])
def test_quantity_type__refuses_floats_and_hidden_rounding(bad):
    """Does the Quantity column type refuse a float, a 4th decimal, or an absurd size?"""
    with pytest.raises((TypeError, ValueError)):
        Quantity().process_bind_param(bad, None)


def test_quantity__sums_exactly_in_sql(app, db):
    """Do quantities of 0.1, 0.2 and 0.001 summed in SQL over thousands of rows come out
    exact (a float column would drift on SQLite)?"""
    product = make_product(unit="kg")
    source, target = virtual_location("supplier"), default_stock_location()
    rows = 3000
    values = [D("0.1"), D("0.2"), D("0.001")]
    db.session.execute(StockMove.__table__.insert(), [
        {"product_id": product.id, "quantity": values[i % 3], "from_location_id": source.id,
         "to_location_id": target.id, "state": "cancelled", "unit_cost": D("0"),
         "source_type": "test", "reference": "", "reason": ""} for i in range(rows)])
    db.session.commit()
    total = db.session.scalar(select(func.sum(StockMove.quantity)))
    assert isinstance(total, Decimal)
    assert total == D("301.000")
    assert sum([0.1, 0.2, 0.001] * (rows // 3)) != 301.0


# --- Receipts and the moving average -----------------------------------------------------

def test_receive__updates_on_hand_per_location_and_totals(app, db):
    """Does a receipt raise on hand at its location and in the product's totals only?"""
    product = make_product()
    stock, other = default_stock_location(), shelf()
    move = receive_stock(product, D("5"), D("2.00"))
    receive_stock(product, D("3"), D("2.00"), to=other)
    db.session.commit()
    assert (move.state, move.from_location.kind, move.to_location_id) == (
        "done", "supplier", stock.id)
    assert move.done_at is not None
    assert level(product, stock) == (D(5), D(0))
    assert level(product, other) == (D(3), D(0))
    assert totals(product) == (D(8), D(0))


def test_receive__refuses_non_internal_target_and_negative_cost(app, db):
    """Is a receipt into a virtual location, or at a negative cost, refused?"""
    product = make_product()
    with refused("location_id", "holds stock"):
        receive_stock(product, D("1"), D("1"), to=virtual_location("customer"))
    with refused("unit_cost", "zero or more"):
        receive_stock(product, D("1"), D("-0.01"))
    with refused("quantity", "above zero"):
        receive_stock(product, D("0"), D("1"))
    with refused("quantity", "whole pieces"):
        receive_stock(product, D("1.5"), D("1"))


def test_receive__moving_average_over_several_receipts(app, db):
    """Is the cost the moving average after each receipt, half-up to 4 decimals?"""
    product = make_product(cost=D("0"))
    steps = [
        # received, unit cost, expected cost after it (worked by hand from the stored cost)
        (D("10"), D("2.0000"), D("2.0000")),  # first receipt: its own cost
        (D("3"), D("2.3333"), D("2.0769")),   # (20 + 6.9999) / 13 = 2.0769153...
        (D("7"), D("1.5000"), D("1.8750")),   # (13 x 2.0769 + 10.5) / 20 = 1.874985
        (D("20"), D("1.8751"), D("1.8751")),  # (37.5 + 37.502) / 40 = 1.87505: half-up
    ]
    for received, unit_cost, expected in steps:
        receive_stock(product, received, unit_cost)
        db.session.commit()
        assert product.cost == expected
    assert totals(product) == (D(40), D(0))


def test_moving_average__rounds_half_up():
    """Is an average of exactly half a 1/100 cent rounded up (1.00005 -> 1.0001)?"""
    assert moving_average(D("3"), D("1.0000"), D("1"), D("1.0002")) == D("1.0001")
    assert moving_average(D("1"), D("0.0001"), D("1"), D("0.0000")) == D("0.0001")


def test_receive__at_zero_on_hand_takes_the_receipts_cost(app, db):
    """When everything was shipped (on hand 0), does the next receipt set the cost to its own?"""
    product = make_product()
    receive_stock(product, D("4"), D("10.00"))
    move_stock(product, D("4"), default_stock_location(), virtual_location("customer"))
    receive_stock(product, D("1"), D("3.3333"))
    db.session.commit()
    assert product.cost == D("3.3333")
    assert totals(product) == (D(1), D(0))


def test_receive__at_negative_on_hand_takes_the_receipts_cost(app, db):
    """For a backordered product (on hand below zero), does a receipt set the cost to its own
    instead of averaging with a negative quantity?"""
    product = make_product(allow_backorder=True)
    receive_stock(product, D("1"), D("10.00"))
    move_stock(product, D("3"), default_stock_location(), virtual_location("customer"))
    assert totals(product) == (D(-2), D(0))
    receive_stock(product, D("5"), D("4.00"))
    db.session.commit()
    assert product.cost == D("4.0000")
    assert totals(product) == (D(3), D(0))


def test_receive__cost_with_more_decimals_is_rounded_on_the_move(app, db):
    """Is a base-currency cost with more than 4 decimals rounded half-up on the move?"""
    product = make_product()
    move = receive_stock(product, D("2"), D("1.00005"))
    db.session.commit()
    assert move.unit_cost == D("1.0001")
    assert product.cost == D("1.0001")


def test_receive__average_uses_the_cost_the_move_records(app, db):
    """Is a cost with more than 4 decimals rounded once, so the average is computed from
    the cost the move records (and a replay of the moves agrees)?"""
    product = make_product()
    receive_stock(product, D("2"), D("1.0000"))
    move = receive_stock(product, D("2"), D("0.50005"))
    db.session.commit()
    assert move.unit_cost == D("0.5001")
    # (2 x 1 + 2 x 0.5001) / 4 = 0.75005 -> 0.7501 (the unrounded 0.50005 gives 0.7500)
    assert product.cost == D("0.7501")


def test_receive__whole_unit_message_names_the_unit(app, db):
    """Is a fraction of a box refused as "counted in whole boxes"?"""
    product = make_product(sku="BOX-1", unit="box")
    with refused("quantity", "BOX-1 is counted in whole boxes."):
        receive_stock(product, D("1.5"), D("1"))


# --- Moves -------------------------------------------------------------------------------

def test_move__transfer_between_internal_locations_keeps_totals(app, db):
    """Does a transfer move stock between shelves, keep the totals and the cost?"""
    product = make_product()
    stock, other = default_stock_location(), shelf()
    receive_stock(product, D("10"), D("2.50"))
    move = move_stock(product, D("4"), stock, other, reason="re-shelving")
    db.session.commit()
    assert (move.state, move.unit_cost, move.reason) == ("done", D("2.5000"), "re-shelving")
    assert level(product, stock) == (D(6), D(0))
    assert level(product, other) == (D(4), D(0))
    assert totals(product) == (D(10), D(0))
    assert product.cost == D("2.5000")


def test_move__below_zero_is_refused_and_writes_nothing(app, db):
    """Is moving more than is on hand at the source refused, with nothing written?"""
    product = make_product(sku="LOW-1")
    stock, other = default_stock_location(), shelf()
    receive_stock(product, D("2"), D("1.00"))
    db.session.commit()
    before = business_rows(db)
    with refused("quantity", "Only 2 pc of LOW-1 on hand at WH/STOCK"):
        move_stock(product, D("3"), stock, other)
    db.session.rollback()
    assert business_rows(db) == before


def test_move__below_zero_is_allowed_for_a_backorder_product(app, db):
    """Does a product that allows backorders go below zero on hand?"""
    product = make_product(allow_backorder=True)
    move_stock(product, D("3"), default_stock_location(), virtual_location("customer"))
    db.session.commit()
    assert totals(product) == (D(-3), D(0))
    assert level(product, default_stock_location()) == (D(-3), D(0))


def test_move__same_or_grouping_location_is_refused(app, db):
    """Are a move to the same location and one to a view location (WH) refused?"""
    product = make_product()
    stock = default_stock_location()
    receive_stock(product, D("2"), D("1.00"))
    with refused("to_location_id", "two different locations"):
        move_stock(product, D("1"), stock, stock)
    with refused("to_location_id", "only groups locations"):
        move_stock(product, D("1"), stock, location("WH"))


def test_move__adjustment_out_leaves_totals_lower(app, db):
    """Does a move out to the adjustment location lower on hand and totals?"""
    product = make_product()
    receive_stock(product, D("5"), D("1.00"))
    move_stock(product, D("2"), default_stock_location(), virtual_location("adjustment"),
               reason="broken")
    db.session.commit()
    assert totals(product) == (D(3), D(0))


# --- Reservations ------------------------------------------------------------------------

def test_reserve__takes_from_the_location_with_most_available_first(app, db):
    """Does a reservation take from the location with the most available, then the next?"""
    product = make_product()
    stock, a, b = default_stock_location(), shelf("WH/A"), shelf("WH/B")
    receive_stock(product, D("3"), D("1.00"))
    receive_stock(product, D("8"), D("1.00"), to=a)
    receive_stock(product, D("5"), D("1.00"), to=b)
    moves, rest = reserve_stock(product, D("10"), source_type="order", source_id=7,
                                reference="SO-1")
    db.session.commit()
    assert rest == 0
    assert [(m.from_location_id, m.quantity, m.state) for m in moves] == [
        (a.id, D(8), "reserved"), (b.id, D(2), "reserved")]
    assert all(m.to_location.kind == "customer" and m.source_id == 7 for m in moves)
    assert level(product, a) == (D(8), D(8))
    assert level(product, b) == (D(5), D(2))
    assert level(product, stock) == (D(3), D(0))
    assert totals(product) == (D(16), D(10))


def test_reserve__towards_an_internal_location_never_takes_from_it(app, db):
    """Reserving towards a stock location (a transfer) takes only from the others, and
    a product held only there reserves nothing instead of failing?"""
    product = make_product()
    stock, a = default_stock_location(), shelf("WH/A")
    receive_stock(product, D("5"), D("1.00"))
    moves, rest = reserve_stock(product, D("2"), to=stock, source_type="transfer",
                                source_id=None)
    assert (moves, rest) == ([], D(2))
    receive_stock(product, D("3"), D("1.00"), to=a)
    moves, rest = reserve_stock(product, D("2"), to=stock, source_type="transfer",
                                source_id=None)
    db.session.commit()
    assert [(m.from_location_id, m.to_location_id, m.quantity) for m in moves] == [
        (a.id, stock.id, D(2))] and rest == 0


def test_reserve__partial_returns_the_unreserved_rest(app, db):
    """With partial allowed, is what is available reserved and the rest returned?"""
    product = make_product()
    receive_stock(product, D("4"), D("1.00"))
    moves, rest = reserve_stock(product, D("6"), source_type="order", source_id=1)
    db.session.commit()
    assert [m.quantity for m in moves] == [D(4)]
    assert rest == D(2)
    assert totals(product) == (D(4), D(4))
    more, rest = reserve_stock(product, D("1"), source_type="order", source_id=2)
    assert (more, rest) == ([], D(1))


def test_reserve__not_partial_is_refused_when_short_and_writes_nothing(app, db):
    """With partial False, is a reservation larger than available refused, writing nothing?"""
    product = make_product(sku="SHORT-1")
    receive_stock(product, D("4"), D("1.00"))
    reserve_stock(product, D("1"), source_type="order", source_id=1)
    db.session.commit()
    before = business_rows(db)
    with refused("quantity", "Only 3 pc of SHORT-1 available"):
        reserve_stock(product, D("4"), source_type="order", source_id=2, partial=False)
    db.session.rollback()
    assert business_rows(db) == before
    moves, rest = reserve_stock(product, D("3"), source_type="order", source_id=2,
                                partial=False)
    assert rest == 0 and sum(m.quantity for m in moves) == 3


def test_reserve__backorder_product_reserves_only_what_is_available(app, db):
    """Does a backorder product reserve only what is on hand, the rest left to wait?"""
    product = make_product(allow_backorder=True)
    receive_stock(product, D("2"), D("1.00"))
    moves, rest = reserve_stock(product, D("5"), source_type="order", source_id=1)
    db.session.commit()
    assert sum(m.quantity for m in moves) == 2 and rest == 3
    assert totals(product) == (D(2), D(2))


def test_reserve__inactive_location_is_not_used(app, db):
    """Is stock at an archived location left out of reservations?"""
    product = make_product()
    closed = shelf("WH/CLOSED")
    receive_stock(product, D("5"), D("1.00"), to=closed)
    receive_stock(product, D("1"), D("1.00"))
    closed.active = False
    moves, rest = reserve_stock(product, D("3"), source_type="order", source_id=1)
    db.session.commit()
    assert [m.from_location_id for m in moves] == [default_stock_location().id]
    assert rest == 2


@pytest.mark.parametrize("quantity, message", [(D("0"), "above zero"),
                                               (D("-1"), "above zero"),
                                               (D("1.5"), "whole pieces")])
def test_reserve__bad_quantity_is_refused(app, db, quantity, message):
    """Is a zero, negative or fractional-piece reservation refused?"""
    product = make_product()
    with refused("quantity", message):
        reserve_stock(product, quantity, source_type="order", source_id=1)


# --- Completing and cancelling -----------------------------------------------------------

def _reserved(product, quantity, on_hand="10", cost="2.00"):
    receive_stock(product, D(on_hand), D(cost))
    (move,), rest = reserve_stock(product, D(quantity), source_type="order", source_id=1)
    db_commit()
    return move


def db_commit():
    from models import db

    db.session.commit()


def test_complete__full_move_ships_and_releases_the_reservation(app, db):
    """Does completing a reserved move take it off on hand and reserved, at current cost?"""
    product = make_product()
    move = _reserved(product, "4")
    complete_move(move)
    db.session.commit()
    assert (move.state, move.quantity, move.unit_cost) == ("done", D(4), D("2.0000"))
    assert totals(product) == (D(6), D(0))


def test_complete__split_keeps_the_rest_reserved(app, db):
    """Does completing part of a reserved move ship that part and keep the rest reserved in
    a new move?"""
    product = make_product()
    move = _reserved(product, "4")
    complete_move(move, D("1"))
    db.session.commit()
    assert (move.state, move.quantity) == ("done", D(1))
    rest = db.session.scalars(select(StockMove).where(StockMove.state == "reserved")).one()
    assert (rest.quantity, rest.source_id, rest.from_location_id) == (
        D(3), 1, move.from_location_id)
    assert totals(product) == (D(9), D(3))
    complete_move(rest)
    db.session.commit()
    assert totals(product) == (D(6), D(0))


def test_complete__at_the_cost_when_shipped(app, db):
    """Is a move completed at the cost current when it ships, not when it was reserved?"""
    product = make_product()
    move = _reserved(product, "4", on_hand="10", cost="2.00")
    receive_stock(product, D("10"), D("4.00"))
    complete_move(move)
    db.session.commit()
    assert move.unit_cost == D("3.0000")


@pytest.mark.parametrize("quantity", [D("0"), D("5"), D("-1")])
def test_complete__quantity_outside_the_move_is_refused(app, db, quantity):
    """Is completing zero, a negative, or more than the move's quantity refused?"""
    product = make_product()
    move = _reserved(product, "4")
    with refused("quantity", "from 0 to 4"):
        complete_move(move, quantity)


def test_complete__a_done_move_is_refused(app, db):
    """Is completing an already done move refused?"""
    product = make_product()
    move = _reserved(product, "2")
    complete_move(move)
    db.session.commit()
    with refused(None, "already done"):
        complete_move(move)


def test_cancel__releases_the_reservation(app, db):
    """Does cancelling a reserved move give its quantity back to available?"""
    product = make_product()
    move = _reserved(product, "4")
    cancel_move(move)
    db.session.commit()
    assert move.state == "cancelled"
    assert totals(product) == (D(10), D(0))
    assert cancel_move(move).state == "cancelled"  # twice is harmless


def test_cancel__a_done_move_is_refused(app, db):
    """Is cancelling a done move refused (a correction is a new move)?"""
    product = make_product()
    move = receive_stock(product, D("1"), D("1.00"))
    db.session.commit()
    with refused(None, "cannot be cancelled"):
        cancel_move(move)


# --- History is never rewritten ----------------------------------------------------------

@pytest.mark.parametrize("field, value", [("quantity", D("99")), ("reason", "oops"),
                                          ("unit_cost", D("0.0001")), ("state", "cancelled"),
                                          ("state", "reserved"), ("state", "draft")])
def test_done_move__cannot_be_edited(app, db, field, value):
    """Is any change to a done move refused at flush?"""
    product = make_product()
    move = receive_stock(product, D("3"), D("1.00"))
    db.session.commit()
    setattr(move, field, value)
    with refused(None, "never changed"):
        db.session.flush()
    db.session.rollback()
    assert db.session.get(StockMove, move.id).quantity == D(3)


def test_done_move__cannot_be_deleted(app, db):
    """Is deleting a done move refused at flush?"""
    product = make_product()
    move = receive_stock(product, D("3"), D("1.00"))
    db.session.commit()
    db.session.delete(move)
    with refused(None, "never deleted"):
        db.session.flush()
    db.session.rollback()
    move = db.session.get(StockMove, move.id)
    move.state = "draft"  # disguised as a draft first
    db.session.delete(move)
    with refused(None, "never deleted"):
        db.session.flush()


def test_reserved_move__cannot_be_deleted(app, db):
    """Is deleting a reserved move (which holds stock) refused at flush?"""
    product = make_product()
    move = _reserved(product, "2")
    db.session.delete(move)
    with refused(None, "never deleted"):
        db.session.flush()


def test_cancelled_move__cannot_be_revived_or_deleted(app, db):
    """Is a cancelled move kept as history: never set back to reserved, never deleted?"""
    product = make_product()
    move = _reserved(product, "2")
    cancel_move(move)
    db.session.commit()
    move.state = "reserved"
    with refused(None, "never changed"):
        db.session.flush()
    db.session.rollback()
    db.session.delete(db.session.get(StockMove, move.id))
    with refused(None, "never deleted"):
        db.session.flush()


# --- Counts ------------------------------------------------------------------------------

def test_count__adjusts_up_and_down_and_keeps_expected_and_counted(app, db, users):
    """Does a count store expected and counted per product and make an adjustment move for
    each difference, up and down, with the reason?"""
    more, less, same = (make_product(sku=s) for s in ("CNT-A", "CNT-B", "CNT-C"))
    stock = default_stock_location()
    for product in (more, less, same):
        receive_stock(product, D("5"), D("2.00"))
    count = record_count(stock, {more: D("7"), less: D("2"), same: D("5")},
                         reason="year-end count", by=users["operations"])
    db.session.commit()
    lines = {line.product.sku: line for line in count.lines}
    assert {sku: (line.expected, line.counted, line.difference)
            for sku, line in lines.items()} == {
        "CNT-A": (D(5), D(7), D(2)), "CNT-B": (D(5), D(2), D(-3)), "CNT-C": (D(5), D(5), D(0))}
    up = db.session.get(StockMove, lines["CNT-A"].move_id)
    down = db.session.get(StockMove, lines["CNT-B"].move_id)
    assert (up.from_location.kind, up.to_location_id, up.quantity) == ("adjustment", stock.id,
                                                                       D(2))
    assert (down.from_location_id, down.to_location.kind, down.quantity) == (
        stock.id, "adjustment", D(3))
    assert up.reason == down.reason == "year-end count"
    assert up.source_type == "count" and up.source_id == count.id
    assert lines["CNT-C"].move_id is None
    assert [totals(p)[0] for p in (more, less, same)] == [D(7), D(2), D(5)]
    assert count.counted_by_id == users["operations"].id


def test_count__of_a_product_never_stocked_there(app, db):
    """Does counting a product at a shelf it never was on add it there from zero?"""
    product = make_product(unit="kg")
    other = shelf()
    count = record_count(other, {product: D("1.250")}, reason="found")
    db.session.commit()
    assert (count.lines[0].expected, count.lines[0].counted) == (D(0), D("1.25"))
    assert level(product, other) == (D("1.25"), D(0))


@pytest.mark.parametrize("reason", ["", "   "])
def test_count__requires_a_reason(app, db, reason):
    """Is a count without a reason refused, writing nothing?"""
    product = make_product()
    before = business_rows(db)
    with refused("reason", "Say why"):
        record_count(default_stock_location(), {product: D("1")}, reason=reason)
    db.session.rollback()
    assert business_rows(db) == before


def test_count__refuses_bad_input(app, db):
    """Are a count at a virtual location, an empty count, a negative and a fractional
    piece count refused?"""
    product = make_product()
    stock = default_stock_location()
    db.session.commit()
    with refused("location_id", "holds stock"):
        record_count(virtual_location("adjustment"), {product: D("1")}, reason="x")
    with refused(None, "at least one"):
        record_count(stock, {}, reason="x")
    with refused(None, "zero or more"):
        record_count(stock, {product: D("-1")}, reason="x")
    db.session.rollback()
    with refused(f"count-{product.id}", "whole pieces"):
        record_count(stock, {product: D("1.5")}, reason="x")
    db.session.rollback()
    assert db.session.scalar(select(func.count(StockCountLine.id))) == 0


# --- Valuation and drift -----------------------------------------------------------------

def test_valuation__per_product_half_up_and_total(app, db):
    """Is each product valued on hand x cost half-up to the cent, and the total their sum?"""
    a = make_product(sku="VAL-A")
    b = make_product(sku="VAL-B", unit="kg")
    make_product(sku="VAL-C")  # nothing on hand: not listed
    receive_stock(a, D("1"), D("2.1250"))     # 2.125 -> 2.13 (half-even would say 2.12)
    receive_stock(b, D("0.5"), D("0.0100"))   # 0.005 -> 0.01 (half-even would say 0.00)
    db.session.commit()
    rows, total = stock_valuation()
    assert [(r.product.sku, r.on_hand, r.value) for r in rows] == [
        ("VAL-A", D(1), D("2.13")), ("VAL-B", D("0.5"), D("0.01"))]
    assert total == D("2.14")


def test_level_drift__is_empty_after_a_mixed_scenario(app, db):
    """After receipts, transfers, reservations, a split, a cancel and a count, do the kept
    figures equal a recount from the moves?"""
    product = make_product(unit="kg")
    stock, other = default_stock_location(), shelf()
    receive_stock(product, D("10.5"), D("1.00"))
    move_stock(product, D("2.25"), stock, other)
    moves, _ = reserve_stock(product, D("9"), source_type="order", source_id=1)
    complete_move(moves[0], D("1.125"))
    cancel_move(moves[-1])
    record_count(other, {product: D("2")}, reason="spot check")
    db.session.commit()
    assert level_drift() == []
    on_hand = db.session.scalar(select(ProductStock.on_hand))
    assert on_hand == D("10.5") - D("1.125") - D("0.25")


def test_level_drift__reports_a_corrupted_level(app, db):
    """Does level_drift name the product and location whose kept figure is wrong?"""
    product = make_product()
    stock = default_stock_location()
    receive_stock(product, D("4"), D("1.00"))
    db.session.commit()
    row = db.session.get(StockLevel, (product.id, stock.id))
    row.on_hand = D("5.000")
    db.session.flush()
    problems = level_drift()
    assert problems == [f"product {product.id} at location {stock.id}: moves say on hand "
                        "4.000 reserved 0.000, kept 5.000 / 0.000"]
    totals_row = db.session.get(ProductStock, product.id)
    totals_row.reserved = D("1.000")
    db.session.flush()
    assert level_drift()[-1] == (f"product {product.id} totals: moves say 4.000 / 0.000, "
                                 "kept 4.000 / 1.000")
    db.session.rollback()  # not kept: the autouse check sees the true figures again
