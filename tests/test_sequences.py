"""Document numbers (models/sequences.py): per prefix and year, gapless, unique under
concurrent writers, on whichever database the run uses."""

import threading

from sqlalchemy import select

from models import db as models_db
from models.purchasing import PurchaseOrder, create_purchase_order
from models.sequences import DocumentCounter, last_number, next_number
from tests.catalog.test_catalog_rules import make_supplier
from tests.conftest import make_test_app

THREADS = 20


def test_next_number__counts_per_prefix_and_year(app, db):
    """Does each prefix and year count on its own from 0001?"""
    assert [next_number("PO", 2026) for _ in range(3)] == [
        "PO-2026-0001", "PO-2026-0002", "PO-2026-0003"]
    assert next_number("PO", 2027) == "PO-2027-0001"
    assert next_number("SH", 2026) == "SH-2026-0001"
    db.session.commit()
    assert (last_number("PO", 2026), last_number("PO", 2027), last_number("XX", 2026)) == (
        3, 1, 0)


def test_next_number__goes_past_four_digits(app, db):
    """After 9999, is the next number 10000 (not a wrap or a clash)?"""
    db.session.add(DocumentCounter(prefix="PO", year=2026, last=9999))
    db.session.commit()
    assert next_number("PO", 2026) == "PO-2026-10000"


def test_next_number__rolled_back_number_is_given_again(app, db):
    """When the document's transaction rolls back, is its number given to the next one
    (no gap)?"""
    assert next_number("PO", 2026) == "PO-2026-0001"
    db.session.commit()
    assert next_number("PO", 2026) == "PO-2026-0002"
    db.session.rollback()
    assert next_number("PO", 2026) == "PO-2026-0002"


def _at_once(work):
    """work(i) in THREADS threads, each a POST request on its own app instance, released
    together and committed; returns ({i: result}, [errors])."""
    models_db.session.commit()
    apps = [make_test_app() for _ in range(THREADS)]
    barrier = threading.Barrier(THREADS)
    results, errors = {}, []

    def run(i):
        try:
            with apps[i].test_request_context("/", method="POST"):
                barrier.wait(timeout=30)
                results[i] = work(i)
                models_db.session.commit()
        except Exception as exc:  # noqa: BLE001 - asserted by the caller
            errors.append(repr(exc))

    threads = [threading.Thread(target=run, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    models_db.session.rollback()
    return results, errors


def test_next_number__twenty_at_once_are_distinct_and_gapless(app, db):
    """Do 20 transactions asking for a number at the same moment get 0001..0020, each
    once, with the counter at 20 (also when the counter row does not exist yet)?"""
    results, errors = _at_once(lambda i: next_number("PO", 2031))
    assert errors == []
    assert sorted(results.values()) == [f"PO-2031-{n:04d}" for n in range(1, THREADS + 1)]
    assert last_number("PO", 2031) == THREADS


def test_next_number__rolled_back_writers_leave_no_gap(app, db):
    """When half of 20 concurrent writers roll back, are the committed numbers still
    0001..0010 with no gap?"""
    def work(i):
        number = next_number("RB", 2031)
        if i % 2:
            models_db.session.rollback()
            return None
        return number

    results, errors = _at_once(work)
    assert errors == []
    kept = sorted(n for n in results.values() if n)
    assert kept == [f"RB-2031-{n:04d}" for n in range(1, THREADS // 2 + 1)]
    assert last_number("RB", 2031) == THREADS // 2


def test_purchase_orders_created_at_once__numbers_unique_and_gapless(app, db):
    """Do 20 purchase orders created at the same moment get 20 distinct, gapless numbers?"""
    supplier_id = make_supplier().id
    from models.catalog import Supplier
    from models.stock import ensure_locations

    ensure_locations()

    def work(i):
        return create_purchase_order(models_db.session.get(Supplier, supplier_id)).number

    results, errors = _at_once(work)
    assert errors == []
    numbers = db.session.scalars(select(PurchaseOrder.number)).all()
    assert sorted(numbers) == sorted(results.values())
    assert sorted(int(n.rsplit("-", 1)[1]) for n in numbers) == list(range(1, THREADS + 1))
