"""Small factories and checks shared by the tests."""

from decimal import Decimal
from itertools import count

from sqlalchemy import inspect, select, text

_seq = count(1)


def make_customer(**overrides):
    """A saved customer with both facets; any field can be overridden."""
    from models import db
    from models.customers import create_customer

    n = next(_seq)
    facts = {"name": f"Customer {n}", "email": f"c{n}@customer{n}.example.org", "city": "Bristol"}
    credit_limit = overrides.pop("credit_limit", None)
    on_hold = overrides.pop("on_hold", None)
    facts.update(overrides)
    customer = create_customer(**facts)
    if credit_limit is not None:
        customer.account.credit_limit = Decimal(credit_limit)
    if on_hold is not None:
        customer.account.on_hold = on_hold
    db.session.commit()
    return customer


def snapshot(db) -> dict:
    """Every row of every table, to prove a refused request wrote nothing."""
    db.session.expire_all()
    state = {}
    with db.engine.connect() as conn:
        for table in inspect(conn).get_table_names():
            if table == "alembic_version":
                continue
            rows = conn.execute(text(f"SELECT * FROM {table}")).all()
            state[table] = sorted(tuple(map(repr, row)) for row in rows)
    return state


def count_rows(db, model) -> int:
    from sqlalchemy import func

    return db.session.scalar(select(func.count()).select_from(model))


def form_of(customer, which: str) -> dict:
    """The current values of a facet form, as the page would post them."""
    if which == "identity":
        return {"version": customer.version, "name": customer.name, "kind": customer.kind,
                "email": customer.email or "", "phone": customer.phone or "",
                "street": customer.street, "postal_code": customer.postal_code,
                "city": customer.city, "country": customer.country}
    if which == "relationship":
        facet = customer.relationship_facet
        return {"version": facet.version, "owner_id": str(facet.owner_id or ""),
                "lifecycle": facet.lifecycle, "source": facet.source, "tags": facet.tags,
                "rating": str(facet.rating or ""), "notes": facet.notes}
    account = customer.account
    data = {"version": account.version, "account_code": account.account_code,
            "billing_address": account.billing_address, "tax_id": account.tax_id,
            "currency": account.currency, "payment_terms_days": account.payment_terms_days,
            "credit_limit": str(account.credit_limit), "hold_reason": account.hold_reason}
    if account.on_hold:
        data["on_hold"] = "y"
    return data


def business_rows(db) -> dict:
    """`snapshot` without sign-in bookkeeping (attempts, sessions), which every request
    may touch: what a refused form must leave unchanged."""
    state = snapshot(db)
    for bookkeeping in ("login_attempts", "user_sessions"):
        state.pop(bookkeeping, None)
    return state


def make_deal(db, stages, *, title="Deal", owner=None, stage="Qualified", amount="1000.00",
              customer=None, **extra):
    """A saved deal in the named stage (`stages`: the tests/pipeline `stages` fixture)."""
    from models.pipeline import create_deal

    deal = create_deal(customer=customer or make_customer(), title=title, owner=owner,
                       stage=stages[stage], amount=Decimal(amount), **extra)
    db.session.commit()
    return deal


def form_key(page: str | None = None) -> str:
    """The one-time form key of the first form on `page` (rendered HTML), as a browser
    would post it; without a page, a fresh key, as an unseen form would carry."""
    import re

    from models.formkeys import new_form_key

    if page is None:
        return new_form_key()
    return re.search(r'name="form_key" value="([^"]+)"', page).group(1)


def statements_of(engine, run) -> tuple[list[str], object]:
    """(the SQL statements `run()` sends through `engine`, whitespace collapsed, and what
    `run()` returned)."""
    from sqlalchemy import event

    seen = []

    def record(conn, cursor, statement, parameters, context, executemany):
        seen.append(" ".join(statement.split()))

    event.listen(engine, "before_cursor_execute", record)
    try:
        result = run()
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return seen, result


def count_statements(engine, run) -> int:
    """How many SQL statements `run()` sends through `engine` (transaction control such
    as SQLite's BEGIN left out: it depends on what ran before, not on the page)."""
    seen, _ = statements_of(engine, run)
    return len([s for s in seen if not s.upper().startswith(("BEGIN", "COMMIT", "ROLLBACK"))])


def walk_show_more(client, link, found_in, next_link_in, leaves_out: str):
    """Follow a list's "Show more" links as htmx asks them, from `link` until none is
    left: (what `found_in(fragment)` found in each answer, in order; the number of
    requests). Each answer must be a fragment: no page, nothing of `leaves_out`."""
    seen, rounds = [], 0
    while link:
        response = client.htmx("get", link)
        assert response.status_code == 200
        fragment = response.get_data(as_text=True)
        assert "<html" not in fragment and leaves_out not in fragment
        seen += found_in(fragment)
        link = next_link_in(fragment)
        rounds += 1
    return seen, rounds
