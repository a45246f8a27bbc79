"""Many people saving at once: no "database is locked", no lost write, on both databases."""

import threading

from sqlalchemy import func, select

from models import Customer
from tests.conftest import PASSWORD, TandemClient, sign_in
from tests.helpers import form_of, make_customer

WORKERS = 8
SAVES_EACH = 5


def _clients(app, n):
    clients = []
    for _ in range(n):
        client = app.test_client()
        assert isinstance(client, TandemClient)
        sign_in(client, "sales@example.test", PASSWORD)
        clients.append(client)
    return clients


def _together(clients, work):
    """Run work(index, client) in one thread per client, released at the same moment.

    Returns the exceptions the threads raised (none expected)."""
    barrier = threading.Barrier(len(clients))
    errors = []

    def run(index, client):
        try:
            barrier.wait()
            work(index, client)
        except Exception as exc:  # collected and asserted by the caller
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return errors


def test_parallel_creates__all_land_without_lock_errors(app, db, users):
    """Do 8 users creating 5 customers each at the same moment all succeed?"""
    statuses = []

    def work(index, client):
        for n in range(SAVES_EACH):
            response = client.post("/accounts/new", data={
                "name": f"Parallel {index}-{n}", "kind": "company", "lifecycle": "lead",
                "owner_id": "", "confirm_duplicates": "yes"})
            statuses.append(response.status_code)

    assert _together(_clients(app, WORKERS), work) == []
    assert statuses == [302] * (WORKERS * SAVES_EACH)
    total = db.session.scalar(select(func.count()).select_from(Customer))
    assert total == WORKERS * SAVES_EACH
    codes = {c.account.account_code for c in db.session.scalars(select(Customer)).unique()}
    assert len(codes) == total


def test_parallel_edits_of_one_panel__exactly_one_wins(app, db, users):
    """When 8 people save the same panel loaded at the same version, does one win and
    the others get a clear 409, never a silent overwrite or a 500?"""
    customer = make_customer()
    loaded = form_of(customer, "relationship")
    url = f"/accounts/{customer.id}/relationship"
    statuses = []

    def work(index, client):
        response = client.post(url, data=loaded | {"notes": f"writer {index}"})
        statuses.append(response.status_code)

    assert _together(_clients(app, WORKERS), work) == []
    assert sorted(statuses) == [302] + [409] * (WORKERS - 1)
    db.session.expire_all()
    facet = db.session.get(Customer, customer.id).relationship_facet
    assert facet.version == loaded["version"] + 1
    assert facet.notes.startswith("writer ")
