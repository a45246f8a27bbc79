"""CSRF, security headers, no state change through GET, whitelisted sorting and filters."""

import re

import pytest

from models import Customer
from tests.helpers import count_rows, form_of, make_customer, snapshot


def test_csrf__a_post_without_token_is_refused_and_changes_nothing(client, login, db):
    """Is a form post without the CSRF token a 400 that writes nothing?"""
    login("sales")
    before = snapshot(db)
    response = client.post("/accounts/new", csrf=False, data={
        "name": "Sneaky Ltd", "kind": "company", "lifecycle": "lead", "owner_id": ""})
    assert response.status_code == 400
    assert "expired or was not sent from Tandem" in response.get_data(as_text=True)
    assert snapshot(db) == before


def test_csrf__the_htmx_header_is_accepted(client, login, db):
    """Does a post carrying the token only in the X-CSRFToken header (as htmx does) pass?"""
    login("sales")
    customer = make_customer()
    data = form_of(customer, "relationship") | {"notes": "via htmx"}
    response = client.htmx("post", f"/accounts/{customer.id}/relationship", csrf=False,
                           data=data, headers={"X-CSRFToken": client.csrf_token})
    assert response.status_code == 200
    db.session.expire_all()
    assert db.session.get(Customer, customer.id).relationship_facet.notes == "via htmx"


def test_csrf__a_wrong_token_in_the_header_is_refused(client, login, db):
    """Is an htmx post with a forged token refused with 400 and nothing written?"""
    login("sales")
    customer = make_customer()
    before = snapshot(db)
    response = client.htmx("post", f"/accounts/{customer.id}/relationship", csrf=False,
                           data=form_of(customer, "relationship"),
                           headers={"X-CSRFToken": "forged"})
    assert response.status_code == 400
    assert snapshot(db) == before


def test_csrf__token_has_no_time_limit(app):
    """Does a page left open all day still post (no CSRF time limit)?"""
    assert app.config["WTF_CSRF_TIME_LIMIT"] is None


def _get_urls(app):
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint == "static":
            continue
        from tests.test_roles import SAMPLE_ARGS as args

        yield rule.build({k: v for k, v in args.items() if k in rule.arguments})[1]


def _prepare(db, users):
    from models import Contact

    customer = make_customer(name="Crawl Co")
    db.session.add(Contact(customer=customer, name="Pat"))
    db.session.commit()


def test_security_headers__on_every_page(app, client, users, login, db):
    """Does every GET route answer with CSP, nosniff and a referrer policy?"""
    _prepare(db, users)
    login("admin")
    seen = 0
    for url in list(_get_urls(app)) + ["/login", "/nowhere", "/static/css/app.css"]:
        response = client.get(url)
        csp = response.headers.get("Content-Security-Policy", "")
        assert "script-src 'self'" in csp and "style-src 'self'" in csp, url
        assert "object-src 'none'" in csp and "base-uri 'none'" in csp, url
        assert "frame-ancestors 'none'" in csp, url
        assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp, url
        assert response.headers["X-Content-Type-Options"] == "nosniff", url
        assert response.headers["Referrer-Policy"] == "same-origin", url
        response.close()
        seen += 1
    assert seen > 10


def test_pages__carry_no_inline_script_or_style(app, client, users, login, db):
    """Is there no inline <script> or style attribute the CSP would block?"""
    _prepare(db, users)
    login("admin")
    for url in _get_urls(app):
        body = client.get(url).get_data(as_text=True)
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", body), url
        assert " style=" not in body, url
        assert "cdn" not in body.lower(), url


def test_get__never_changes_state(app, client, users, login, db):
    """Does visiting every GET route (as admin, with htmx or without) write nothing?"""
    _prepare(db, users)
    login("admin")
    before = snapshot(db)
    for url in _get_urls(app):
        client.get(url)
        client.htmx("get", url)
    assert snapshot(db) == before


@pytest.mark.parametrize("query", [
    "sort=password_hash", "sort=name;DROP TABLE customers", "owner=1 OR 1=1",
    "lifecycle=vip", "hold=maybe", "colour=red", "after=not-a-cursor", "before=%%%",
])
def test_customer_list__unknown_sort_or_filter_is_400(client, login, db, query):
    """Is a sort or filter outside the whitelist answered 400, never run?"""
    login("sales")
    make_customer()
    response = client.get(f"/accounts/?{query}")
    assert response.status_code == 400
    assert count_rows(db, Customer) == 1


@pytest.mark.parametrize("sort", ["name", "newest", "credit_limit", "code"])
@pytest.mark.parametrize("key", ['"text"', "12", '["d","1e40"]', '["d","x"]', "true", "null"])
def test_customer_list__forged_cursor_is_400(client, login, db, sort, key):
    """Is a hand-made page cursor with a key of the wrong kind a 400, never a 500?"""
    import base64

    login("sales")
    make_customer()
    cursor = base64.urlsafe_b64encode(f"[{key},1]".encode()).decode().rstrip("=")
    response = client.get(f"/accounts/?sort={sort}&after={cursor}")
    assert response.status_code in (200, 400)
    if response.status_code == 400:
        assert "page link is broken" in response.get_data(as_text=True)


def test_fragments__vary_on_htmx_headers_and_are_not_cached(client, login, db):
    """Do fragments say Vary: HX-Request, HX-Request-Type and Cache-Control: no-store?"""
    login("sales")
    make_customer(name="Fragment Co")
    response = client.htmx("get", "/accounts/?q=fragment")
    body = response.get_data(as_text=True)
    assert "<html" not in body and "Fragment Co" in body
    assert "HX-Request" in response.headers["Vary"]
    assert "HX-Request-Type" in response.headers["Vary"]
    assert response.headers["Cache-Control"] == "no-store"
    full = client.htmx("get", "/accounts/?q=fragment", partial=False)
    assert "<html" in full.get_data(as_text=True)
