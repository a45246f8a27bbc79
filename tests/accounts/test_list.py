"""The customer list: search, filters, sorting, keyset pages; and the type-ahead lookup."""

import re
from decimal import Decimal

from models import Customer, FinancialAccount, Relationship
from models.customers import SORTS, customer_list_query, sort_key_of
from models.paging import keyset_page
from tests.helpers import make_customer


def _names(body: str) -> list[str]:
    return re.findall(r'<td data-label="Name"><a href="/accounts/\d+">([^<]+)</a>', body)


def test_list__search_matches_name_ignoring_case_and_punctuation(client, login, db):
    """Does typing "o'brien" find "O'Brien & Sons" and not the others?"""
    login("sales")
    make_customer(name="O'Brien & Sons")
    make_customer(name="Brian Ltd")
    body = client.get("/accounts/?q=o%27brien").get_data(as_text=True)
    assert _names(body) == ["O&#39;Brien &amp; Sons"]


def test_list__search_by_email_and_account_code(client, login, db):
    """Can a customer be found by the start of its email or its exact account code?"""
    login("finance")
    target = make_customer(name="Findable", email="billing@findable.example")
    make_customer(name="Other")
    assert _names(client.get("/accounts/?q=billing@find").get_data(as_text=True)) == ["Findable"]
    code = target.account.account_code.lower()
    assert _names(client.get(f"/accounts/?q={code}").get_data(as_text=True)) == ["Findable"]
    # typed in capitals, and an email's _ and % are themselves, not wildcards
    assert _names(client.get("/accounts/?q=BILLING@Find").get_data(as_text=True)) == ["Findable"]
    assert _names(client.get("/accounts/?q=bill_ng@").get_data(as_text=True)) == []
    assert _names(client.get("/accounts/?q=billing@findable.example.org").get_data(
        as_text=True)) == []


def test_list__email_search_is_served_by_an_index(db):
    """Can the search's "email starts with" part be answered from an index, not by
    reading every email (a range of the email index on SQLite, the pattern index on
    PostgreSQL, whatever the collation)?"""
    from sqlalchemy import text

    from tests.conftest import IS_POSTGRES

    make_customer(name="Findable", email="billing@findable.example")
    query = customer_list_query(q="billing@")
    dialect = db.session.get_bind().dialect
    sql = str(query.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
    if IS_POSTGRES:
        db.session.execute(text("SET LOCAL enable_seqscan = off"))
        plan = "\n".join(db.session.scalars(text("EXPLAIN " + sql)))
        assert "ix_customers_email_prefix" in plan
    else:
        plan = "\n".join(row[-1] for row in db.session.execute(text("EXPLAIN QUERY PLAN " + sql)))
        assert re.search(r"INDEX ix_customers_email \(email>\? AND email<\?\)", plan), plan
    db.session.rollback()


def test_list__like_wildcards_are_literal(client, login, db):
    """Is a typed % or _ searched as itself, not as a wildcard?"""
    login("sales")
    make_customer(name="100% Organic")
    make_customer(name="Plain")
    assert _names(client.get("/accounts/?q=%25").get_data(as_text=True)) == []
    assert _names(client.get("/accounts/?q=100%25").get_data(as_text=True)) == ["100% Organic"]


def test_list__filters_owner_lifecycle_and_hold(client, login, db, users):
    """Do the owner, lifecycle and on-hold filters each narrow the list?"""
    me = login("sales")
    make_customer(name="Mine Lead", owner=me, lifecycle="lead")
    make_customer(name="Mine Customer", owner=me, lifecycle="customer", on_hold=True)
    make_customer(name="Admin's", owner=users["admin"], lifecycle="customer")
    make_customer(name="Orphan")
    get = lambda q: _names(client.get(f"/accounts/?{q}").get_data(as_text=True))  # noqa: E731
    assert get("owner=mine") == ["Mine Customer", "Mine Lead"]
    assert get(f"owner={users['admin'].id}") == ["Admin&#39;s"]
    assert get("owner=none") == ["Orphan"]
    assert get("lifecycle=customer") == ["Admin&#39;s", "Mine Customer"]
    assert get("hold=yes") == ["Mine Customer"]
    assert get("owner=mine&hold=no") == ["Mine Lead"]


def test_list__sorts_by_whitelisted_columns(client, login, db):
    """Do the sort options order the rows as they say?"""
    login("finance")
    make_customer(name="Bravo", credit_limit="300.00")
    make_customer(name="alpha", credit_limit="100.00")
    make_customer(name="Charlie", credit_limit="200.00")
    get = lambda q: _names(client.get(f"/accounts/?{q}").get_data(as_text=True))  # noqa: E731
    assert get("sort=name") == ["alpha", "Bravo", "Charlie"]
    assert get("sort=-name") == ["Charlie", "Bravo", "alpha"]
    assert get("sort=newest") == ["Charlie", "alpha", "Bravo"]
    assert get("sort=-credit_limit") == ["Bravo", "Charlie", "alpha"]
    assert get("sort=credit_limit") == ["alpha", "Charlie", "Bravo"]


def test_list__pages_forward_and_back_without_gaps_or_repeats(client, login, db, app):
    """Do next/previous links walk every customer exactly once, with ties on the key?"""
    app.config["TANDEM_PER_PAGE"] = 4
    login("sales")
    for i in range(11):
        make_customer(name=f"Same Name {i % 3}")  # many equal sort keys: the id breaks ties
    seen, url, pages = [], "/accounts/", []
    while url:
        body = client.get(url).get_data(as_text=True)
        ids = re.findall(r'<td data-label="Name"><a href="/accounts/(\d+)"', body)
        pages.append(ids)
        seen += ids
        match = re.search(r'<a href="([^"]+)" rel="next">', body)
        url = match.group(1).replace("&amp;", "&") if match else None
    assert len(seen) == len(set(seen)) == 11
    assert [len(p) for p in pages] == [4, 4, 3]
    body = client.get(url or re.search(r'<a href="([^"]+)" rel="prev">', body).group(1)
                      .replace("&amp;", "&")).get_data(as_text=True)
    assert re.findall(r'<td data-label="Name"><a href="/accounts/(\d+)"', body) == pages[1]
    first = client.get("/accounts/").get_data(as_text=True)
    assert 'rel="prev"' not in first


def test_keyset__every_sort_walks_all_rows(app, db):
    """For every sort option, does paging forward visit each customer once in order?"""
    for i, limit in enumerate(["5.00", "5.00", "1.00", "9.99", "0.00", "5.00", "2.50"]):
        make_customer(name=f"Name {7 - i}", credit_limit=limit)
    for sort, (column, descending) in SORTS.items():
        seen, cursor = [], None
        while True:
            page = keyset_page(customer_list_query(), column, Customer.id,
                               descending=descending, after=cursor, per_page=3,
                               key_of=sort_key_of(sort))
            seen += page.items
            cursor = page.next_cursor
            if not cursor:
                break
        assert len({c.id for c in seen}) == 7, sort
        keys = [sort_key_of(sort)(c) for c in seen]
        assert keys == sorted(keys, reverse=descending), sort


def test_list__htmx_search_returns_the_results_fragment(client, login, db):
    """Does the live search get only the results section back?"""
    login("sales")
    make_customer(name="Fragmentary")
    body = client.htmx("get", "/accounts/?q=frag").get_data(as_text=True)
    assert body.lstrip().startswith('<section id="results"')
    assert "Fragmentary" in body


def test_list__empty_result_says_so(client, login, db):
    """Does a search with no match say so, with the query escaped?"""
    login("sales")
    body = client.get("/accounts/?q=%3Cb%3Enothing").get_data(as_text=True)
    assert "No customer matches “&lt;b&gt;nothing”" in body


def test_lookup__prefix_matches_first_and_at_most_eight(client, login, db):
    """Does the type-ahead list prefix matches before others, eight at most?"""
    login("operations")
    make_customer(name="Zeta Acme")
    for i in range(9):
        make_customer(name=f"Acme {i}")
    body = client.htmx("get", "/accounts/lookup?q=acme").get_data(as_text=True)
    names = re.findall(r'data-pick-text="([^"]+)"', body)
    assert len(names) == 8
    assert names[0] == "Acme 0" and "Zeta Acme" not in names
    body = client.htmx("get", "/accounts/lookup?q=zeta").get_data(as_text=True)
    assert re.findall(r'data-pick-text="([^"]+)"', body) == ["Zeta Acme"]
    assert "No customer matches" in client.get("/accounts/lookup?q=qqq").get_data(as_text=True)


def test_list__statement_count_does_not_grow_with_rows(client, login, db, app):
    """Does the list page run the same number of SQL statements for 5 rows as for 25?"""
    from sqlalchemy import event

    login("sales")
    counts = {}
    for n in (5, 25):
        db.session.execute(Relationship.__table__.delete())
        db.session.execute(FinancialAccount.__table__.delete())
        db.session.execute(Customer.__table__.delete())
        db.session.commit()
        for i in range(n):
            make_customer(name=f"Row {i}", credit_limit=Decimal("1.00"))
        statements = []
        with app.app_context():
            from models import db as app_db

            engine = app_db.engine

        def count(*args, statements=statements):
            statements.append(1)

        event.listen(engine, "before_cursor_execute", count)
        try:
            assert len(_names(client.get("/accounts/").get_data(as_text=True))) == n
        finally:
            event.remove(engine, "before_cursor_execute", count)
        counts[n] = len(statements)
    assert counts[5] == counts[25]


def test_list__shows_last_contacted_from_activities(client, login, db, users):
    """Does the list show when we last called, emailed or met each customer (not tasks)?"""
    from datetime import UTC, datetime

    from models import Activity

    login("sales")
    called = make_customer(name="Called Co")
    tasked = make_customer(name="Tasked Co")
    db.session.add_all([
        Activity(kind="call", subject="Call", customer_id=called.id, done=True,
                 done_at=datetime(2026, 3, 4, 10, 0, tzinfo=UTC)),
        Activity(kind="call", subject="Older call", customer_id=called.id, done=True,
                 done_at=datetime(2026, 1, 2, 10, 0, tzinfo=UTC)),
        Activity(kind="task", subject="Todo", customer_id=tasked.id, done=True,
                 done_at=datetime(2026, 5, 6, 10, 0, tzinfo=UTC)),
    ])
    db.session.commit()
    body = client.get("/accounts/").get_data(as_text=True)
    rows = dict(re.findall(r'>([A-Za-z ]+ Co)</a>.*?data-label="Last contact">(.*?)</td>', body,
                           re.S))
    assert "2026-03-04" in rows["Called Co"]
    assert "Not yet" in rows["Tasked Co"]
    page = client.get(f"/accounts/{called.id}").get_data(as_text=True)
    assert "2026-03-04" in page.split("Last contact")[1][:200]
