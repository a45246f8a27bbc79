"""Stock and purchasing under concurrent writers, on whichever database the run uses.

Each writer is its own app instance (like a gunicorn worker, with its own connection
pool) inside a POST request context, so it runs its transaction exactly as a request
does: BEGIN IMMEDIATE on SQLite, READ COMMITTED with row locks on PostgreSQL. Threads
are released together by a barrier; nobody retries.

The "stale" tests interleave two requests deterministically in one thread: the first
has read the record before the second commits, as a view that loads an order before the
lock is granted does on PostgreSQL. They pass only if the rules re-read what they change
under the lock.
"""

import threading
from contextlib import contextmanager
from decimal import Decimal

from sqlalchemy import func, select

from models import DomainError
from models import db as models_db
from models.catalog import Product
from models.formkeys import new_form_key
from models.purchasing import PurchaseLine, PurchaseOrder, Receipt, receive
from models.stock import (
    ProductStock,
    StockMove,
    cancel_move,
    complete_move,
    default_stock_location,
    ensure_locations,
    level_drift,
    moving_average,
    receive_stock,
    reserve_stock,
    stock_valuation,
)
from models.types import round_money
from tests.catalog.test_catalog_rules import make_product
from tests.conftest import IS_POSTGRES, make_test_app
from tests.orders.test_purchasing_rules import make_order

D = Decimal
WORKERS = 8


def together(n, work, *, loaded=None):
    """Run work(i) in n threads, each in a POST request of its own app, released at once
    and committed when it returns; a DomainError rolls back and is the thread's result.

    loaded(i): runs first in the same request (what a view reads before calling the
    rule); on PostgreSQL every thread finishes it before any calls the rule. (On SQLite
    the first statement takes the write lock, so a second barrier would only deadlock:
    there the requests simply queue.)

    Returns ({i: result}, [unexpected exceptions]).
    """
    models_db.session.commit()  # the test's own transaction must not hold a snapshot
    apps = [make_test_app() for _ in range(n)]
    start, after_load = threading.Barrier(n), threading.Barrier(n)
    results, errors = {}, []

    def run(i):
        try:
            with apps[i].test_request_context("/", method="POST"):
                start.wait(timeout=30)
                state = loaded(i) if loaded else None
                if loaded and IS_POSTGRES:
                    after_load.wait(timeout=30)
                try:
                    results[i] = work(i, state) if loaded else work(i)
                    models_db.session.commit()
                except DomainError as refusal:
                    models_db.session.rollback()
                    results[i] = refusal
        except Exception as exc:  # noqa: BLE001 - asserted by the caller
            errors.append(repr(exc))

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a writer never finished"
    models_db.session.rollback()  # read what the writers committed
    return results, errors


@contextmanager
def other_request():
    """A second request, on another app instance, committed when the block ends."""
    with make_test_app().test_request_context("/", method="POST"):
        yield models_db.session
        models_db.session.commit()


@contextmanager
def read_earlier(db):
    """This session's objects stay as they were read while others commit (its
    transaction ends, nothing is expired: what a stale read in a view looks like)."""
    session = db.session()
    session.expire_on_commit = False
    try:
        db.session.commit()
        yield
    finally:
        session.expire_on_commit = True


def replay(db, product_id):
    """(on hand, reserved, cost) recomputed from the product's moves in id order, checking
    on the way that no reservation took more than was available when it was made."""
    on_hand = reserved = D(0)
    cost = D("0.0000")
    for move in db.session.scalars(select(StockMove).where(
            StockMove.product_id == product_id).order_by(StockMove.id)):
        into = move.to_location.kind == "internal"
        out_of = move.from_location.kind == "internal"
        if move.state == "done":
            if move.from_location.kind == "supplier" and into:
                cost = moving_average(on_hand, cost, move.quantity, move.unit_cost)
            on_hand += move.quantity * (into - out_of)
        elif move.state == "reserved":
            assert move.quantity <= on_hand - reserved, "reserved more than was available"
            reserved += move.quantity
    return on_hand, reserved, cost


def fresh(db, model, key):
    db.session.expire_all()
    return db.session.get(model, key)


# --- Threads -----------------------------------------------------------------------------

def test_parallel_receipts_of_a_new_product__none_lost(app, db):
    """Do 8 receipts of a never-stocked product at the same moment (locations not yet
    created either) all land, with the cost the moving average of their order?"""
    product = make_product(sku="PAR-1")
    db.session.commit()
    pid = product.id
    quantities = [D(i + 1) for i in range(WORKERS)]
    costs = [D("1.0000") + D("0.3700") * i for i in range(WORKERS)]

    def work(i):
        found = models_db.session.get(Product, pid)
        return receive_stock(found, quantities[i], costs[i]).id

    results, errors = together(WORKERS, work)
    assert errors == []
    assert len(set(results.values())) == WORKERS
    totals = fresh(db, ProductStock, pid)
    product = fresh(db, Product, pid)
    assert (totals.on_hand, totals.reserved) == (sum(quantities), D(0))
    assert level_drift() == []
    assert min(costs) <= product.cost <= max(costs)
    on_hand, _, cost = replay(db, pid)
    assert (on_hand, cost) == (totals.on_hand, product.cost)
    rows, total = stock_valuation()
    assert total == round_money(on_hand * cost) == rows[0].value


def test_parallel_receipts_on_separate_orders__all_received(app, db):
    """Do 8 purchase orders for one product received at the same moment each end
    "received", with every unit on hand and the cost their moving average?"""
    product = make_product(sku="PAR-2")
    ensure_locations()
    costs = [D("2.5000") + D("0.1111") * i for i in range(WORKERS)]
    orders = [make_order((product, str(i + 2), str(costs[i]))) for i in range(WORKERS)]
    ids = [(o.id, o.lines[0].id) for o in orders]
    pid = product.id

    def work(i):
        order_id, line_id = ids[i]
        order = models_db.session.get(PurchaseOrder, order_id)
        return receive(order, {line_id: D(i + 2)}).id

    results, errors = together(WORKERS, work)
    assert errors == []
    assert sorted(results) == list(range(WORKERS))
    db.session.expire_all()
    assert [db.session.get(PurchaseOrder, o).status for o, _ in ids] == ["received"] * WORKERS
    totals = fresh(db, ProductStock, pid)
    assert totals.on_hand == sum(D(i + 2) for i in range(WORKERS))
    assert level_drift() == []
    product = db.session.get(Product, pid)
    assert min(costs) <= product.cost <= max(costs)
    assert replay(db, pid) == (totals.on_hand, D(0), product.cost)
    _, total = stock_valuation()
    assert total == round_money(totals.on_hand * product.cost)


def test_receipts_and_counts_of_two_products_in_opposite_orders__no_deadlock(app, db):
    """When receipts list two products in opposite orders and a count covers both, all at
    the same moment, does every one land (none killed as a deadlock), figures matching?"""
    from models.stock import record_count

    a, b = make_product(sku="PAIR-A"), make_product(sku="PAIR-B")
    ensure_locations()
    orders = [make_order(*((a, "2", "1.0000"), (b, "3", "1.0000"))[::1 if i % 2 else -1])
              for i in range(WORKERS - 2)]
    ids = [(o.id, {ln.id: ln.quantity for ln in o.lines}) for o in orders]
    pids = (a.id, b.id)

    def work(i):
        if i >= len(ids):  # the last two count both products
            found = [models_db.session.get(Product, pid) for pid in pids[::1 if i % 2 else -1]]
            return record_count(default_stock_location(), {p: D(i) for p in found},
                                reason="spot check").id
        order_id, quantities = ids[i]
        return receive(models_db.session.get(PurchaseOrder, order_id), quantities).id

    results, errors = together(WORKERS, work)
    assert errors == []
    assert not any(isinstance(r, DomainError) for r in results.values())
    assert level_drift() == []
    for pid in pids:
        on_hand, _, _ = replay(db, pid)
        assert fresh(db, ProductStock, pid).on_hand == on_hand


def test_receipts_and_reservations_at_once__never_reserve_what_is_not_there(app, db):
    """With receipts and reservations of one product at the same moment, does each
    reservation take exactly what was available when it ran, and do the figures match
    the moves?"""
    product = make_product(sku="PAR-3")
    receive_stock(product, D("10"), D("1.0000"))
    db.session.commit()
    pid = product.id

    def work(i):
        found = models_db.session.get(Product, pid)
        if i % 2 == 0:
            receive_stock(found, D("5"), D("1.0000") + D(i))
            return ("received", D(5))
        moves, rest = reserve_stock(found, D("6"), source_type="order", source_id=i)
        return ("reserved", sum((m.quantity for m in moves), D(0)), rest)

    results, errors = together(WORKERS, work)
    assert errors == []
    totals = fresh(db, ProductStock, pid)
    reserved = [r[1] for r in results.values() if r[0] == "reserved"]
    assert all(r[1] + r[2] == 6 for r in results.values() if r[0] == "reserved")
    assert totals.on_hand == D(10) + D(5) * (WORKERS // 2)
    assert totals.reserved == sum(reserved)
    assert totals.available >= 0
    assert level_drift() == []
    # replay asserts that no reservation exceeded what was available at its turn
    on_hand, held, _ = replay(db, pid)
    assert (on_hand, held) == (totals.on_hand, totals.reserved)
    # and each took all it asked for, or everything that was left at its turn
    available, taken = D(0), {}
    for move in db.session.scalars(select(StockMove).where(
            StockMove.product_id == pid).order_by(StockMove.id)):
        if move.state == "done":
            available += move.quantity
        else:
            assert move.source_id not in taken  # one location: one move a reservation
            taken[move.source_id] = (move.quantity, min(D(6), available))
            available -= move.quantity
    assert len(taken) == len([q for q in reserved if q])
    assert all(got == expected for got, expected in taken.values()), taken


def test_parallel_receipts_of_one_line__sum_and_status_right(app, db):
    """When 8 people receive 1 unit of the same 6-unit line at once, after each loaded the
    order, do exactly 6 land (the rest refused as more than ordered) and the order end
    "received"?"""
    product = make_product(sku="PAR-4")
    ensure_locations()
    order = make_order((product, "6", "3.0000"))
    order_id, line_id, pid = order.id, order.lines[0].id, product.id

    def loaded(i):
        found = models_db.session.get(PurchaseOrder, order_id)
        assert found.lines[0].received >= 0  # the view shows the lines
        return found

    def work(i, found):
        return receive(found, {line_id: D("1")}).id

    results, errors = together(WORKERS, work, loaded=loaded)
    assert errors == []
    refused = [r for r in results.values() if isinstance(r, DomainError)]
    assert len(refused) == WORKERS - 6
    assert all("more than ordered" in r.message or "has been received" in r.message
               for r in refused)
    db.session.expire_all()
    line = db.session.get(PurchaseLine, line_id)
    assert (line.received, line.order.status, len(line.order.receipts)) == (
        D(6), "received", 6)
    assert fresh(db, ProductStock, pid).on_hand == D(6)
    assert level_drift() == []


def test_complete_and_cancel_of_one_move_at_once__exactly_one_wins(app, db):
    """When one person ships a reserved move while another cancels it, does exactly one
    succeed (the other told why), for each of 4 moves?"""
    product = make_product(sku="PAR-5")
    receive_stock(product, D("8"), D("1.0000"))
    moves, _ = reserve_stock(product, D("2"), source_type="order", source_id=1)
    for source_id in (2, 3, 4):
        moves += reserve_stock(product, D("2"), source_type="order", source_id=source_id)[0]
    db.session.commit()
    move_ids = [m.id for m in moves]
    pid = product.id

    def loaded(i):
        return models_db.session.get(StockMove, move_ids[i // 2])

    def work(i, move):
        return (complete_move if i % 2 == 0 else cancel_move)(move).state

    results, errors = together(2 * len(move_ids), work, loaded=loaded)
    assert errors == []
    db.session.expire_all()
    for n, move_id in enumerate(move_ids):
        pair = [results[2 * n], results[2 * n + 1]]
        winners = [r for r in pair if not isinstance(r, DomainError)]
        assert len(winners) == 1, pair
        assert db.session.get(StockMove, move_id).state == winners[0]
    done = sum(1 for mid in move_ids if db.session.get(StockMove, mid).state == "done")
    totals = fresh(db, ProductStock, pid)
    assert (totals.on_hand, totals.reserved) == (D(8) - 2 * done, D(0))
    assert level_drift() == []


def test_http_receipts_of_one_line_at_once__exactly_what_was_ordered(app, db, users):
    """When 8 signed-in people post a receipt of 1 unit of the same 6-unit line at the same
    moment (each from their own page: their own form keys), do 6 succeed, 2 get a 422
    saying why, and the order end "received"?"""
    from datetime import date

    from tests.conftest import sign_in

    product = make_product(sku="HTTP-1")
    stock = default_stock_location()
    order = make_order((product, "6", "3.0000"))
    url = f"/orders/purchases/{order.id}/receive"
    data = {f"qty-{order.lines[0].id}": "1", "location_id": str(stock.id),
            "received_on": date.today().isoformat(), "note": ""}
    clients = []
    for _ in range(WORKERS):
        client = app.test_client()
        sign_in(client, users["operations"].email)
        clients.append(client)
    db.session.commit()
    barrier, statuses, errors = threading.Barrier(WORKERS), [], []

    def run(client):
        try:
            barrier.wait(timeout=30)
            response = client.post(url, data=data | {"form_key": new_form_key()})
            statuses.append((response.status_code, response.get_data(as_text=True)))
        except Exception as exc:  # noqa: BLE001 - asserted below
            errors.append(repr(exc))

    threads = [threading.Thread(target=run, args=(c,)) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    codes = sorted(code for code, _ in statuses)
    assert codes == [302] * 6 + [422] * (WORKERS - 6)
    assert all("more than ordered" in body or "has been received" in body
               for code, body in statuses if code == 422)
    db.session.rollback()
    order = db.session.get(PurchaseOrder, order.id)
    assert (order.lines[0].received, order.status) == (D(6), "received")
    assert fresh(db, ProductStock, product.id).on_hand == D(6)
    assert level_drift() == []


def test_http_one_receipt_form_posted_8_times_at_once__received_once(app, db, users):
    """When one receipt form (one form key) is posted by 8 requests at the same moment (a
    double click, retries), is it received once and every request sent to the order?"""
    from datetime import date

    from tests.conftest import sign_in

    product = make_product(sku="HTTP-KEY")
    stock = default_stock_location()
    order = make_order((product, "6", "3.0000"))
    url = f"/orders/purchases/{order.id}/receive"
    data = {f"qty-{order.lines[0].id}": "2", "location_id": str(stock.id),
            "received_on": date.today().isoformat(), "note": "", "form_key": new_form_key()}
    clients = []
    for _ in range(WORKERS):
        client = app.test_client()
        sign_in(client, users["operations"].email)
        clients.append(client)
    db.session.commit()
    barrier, answers, errors = threading.Barrier(WORKERS), [], []

    def run(client):
        try:
            barrier.wait(timeout=30)
            response = client.post(url, data=data)
            answers.append((response.status_code, response.headers.get("Location"),
                            response.get_data(as_text=True)[:1000]))
        except Exception as exc:  # noqa: BLE001 - asserted below
            errors.append(repr(exc))

    threads = [threading.Thread(target=run, args=(c,)) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    assert len(answers) == WORKERS
    for status, location, body in answers:
        assert status == 302, (status, body)
        assert location.endswith(url.removesuffix("/receive")), location
    db.session.rollback()
    order = db.session.get(PurchaseOrder, order.id)
    assert (order.lines[0].received, order.status) == (D(2), "partial")
    assert db.session.scalar(select(func.count(Receipt.id))) == 1
    assert fresh(db, ProductStock, product.id).on_hand == D(2)
    assert level_drift() == []


# --- Stale reads, interleaved deterministically ------------------------------------------

def test_stale_order__receipt_counts_what_another_received_meanwhile(app, db):
    """If an order's lines were read before another receipt of the same line committed,
    does receive still add to what that receipt recorded (no lost update)?"""
    product = make_product(sku="STALE-1")
    ensure_locations()
    order = make_order((product, "5", "1.0000"))
    line_id = order.lines[0].id
    assert order.lines[0].received == 0
    with read_earlier(db):
        with other_request() as session:
            receive(session.get(PurchaseOrder, order.id), {line_id: D("2")})
        receive(order, {line_id: D("2")})
        db.session.commit()
    db.session.expire_all()
    line = db.session.get(PurchaseLine, line_id)
    assert (line.received, line.order.status) == (D(4), "partial")
    assert level_drift() == []


def test_stale_order__over_receipt_judged_on_what_really_arrived(app, db):
    """If another receipt filled the line after this one read it, is "more than ordered"
    still caught?"""
    product = make_product(sku="STALE-2")
    ensure_locations()
    order = make_order((product, "5", "1.0000"))
    line_id = order.lines[0].id
    assert order.lines[0].received == 0
    with read_earlier(db):
        with other_request() as session:
            receive(session.get(PurchaseOrder, order.id), {line_id: D("4")})
        try:
            receive(order, {line_id: D("2")})
            outcome = "accepted"
        except DomainError as refusal:
            outcome = refusal.message
        db.session.rollback()
    assert "more than ordered (5 ordered, 4 already received)" in outcome
    db.session.expire_all()
    assert db.session.get(PurchaseLine, line_id).received == D(4)


def test_stale_product__moving_average_uses_the_cost_committed_meanwhile(app, db):
    """If the product was read before another receipt changed its cost, is the next
    receipt averaged with the new on hand and cost?"""
    product = make_product(sku="STALE-3")
    receive_stock(product, D("10"), D("1.0000"))
    db.session.commit()
    assert product.cost == D("1.0000")
    with read_earlier(db):
        with other_request() as session:
            receive_stock(session.get(Product, product.id), D("10"), D("3.0000"))
        receive_stock(product, D("20"), D("4.0000"))
        db.session.commit()
    product = fresh(db, Product, product.id)
    assert product.cost == D("3.0000")  # (20 x 2.0000 + 20 x 4.0000) / 40
    assert fresh(db, ProductStock, product.id).on_hand == D(40)
    assert level_drift() == []


def test_stale_levels__reservation_sees_stock_that_arrived_meanwhile(app, db):
    """If the levels were read before a receipt committed, does a reservation still see
    (and take) the stock that arrived?"""
    from models.stock import levels_for

    product = make_product(sku="STALE-4")
    receive_stock(product, D("1"), D("1.0000"))
    db.session.commit()
    assert [lv.on_hand for lv in levels_for(product.id)] == [D(1)]
    with read_earlier(db):
        with other_request() as session:
            receive_stock(session.get(Product, product.id), D("4"), D("1.0000"))
        moves, rest = reserve_stock(product, D("5"), source_type="order", source_id=1)
        db.session.commit()
    assert (sum(m.quantity for m in moves), rest) == (D(5), D(0))
    assert level_drift() == []


def test_stale_order__cancel_after_a_receipt_is_refused(app, db):
    """If the order was read before someone received goods on it, is cancelling it refused
    (not a crash on the stale version, not a cancelled order with goods in stock)?"""
    from models.purchasing import cancel_order

    product = make_product(sku="STALE-6")
    ensure_locations()
    order = make_order((product, "5", "1.0000"))
    line_id, version = order.lines[0].id, order.version
    assert order.receipts == [] and order.status == "sent"  # what the page showed
    with read_earlier(db):
        with other_request() as session:
            receive(session.get(PurchaseOrder, order.id), {line_id: D("1")})
        try:
            cancel_order(order, reason="not needed")
            outcome = "cancelled"
        except DomainError as refusal:
            outcome = refusal.message
        db.session.rollback()
    assert "cannot be cancelled" in outcome
    order = fresh(db, PurchaseOrder, order.id)
    assert (order.status, order.version > version) == ("partial", True)


def test_stale_move__cancel_after_it_was_shipped_is_refused(app, db):
    """If a reserved move was read before someone else shipped it, is cancelling it
    refused instead of quietly doing nothing?"""
    product = make_product(sku="STALE-5")
    receive_stock(product, D("3"), D("1.0000"))
    (move,), _ = reserve_stock(product, D("2"), source_type="order", source_id=1)
    db.session.commit()
    assert move.state == "reserved"
    with read_earlier(db):
        with other_request() as session:
            complete_move(session.get(StockMove, move.id))
        try:
            cancel_move(move)
            outcome = f"returned a {move.state} move"
        except DomainError as refusal:
            outcome = refusal.message
        db.session.rollback()
    assert "done" in outcome and "cannot be cancelled" in outcome
    assert fresh(db, StockMove, move.id).state == "done"
    assert level_drift() == []
