"""The shared view helpers that stand in for Flask's own on hot paths: id_url must build
exactly what url_for builds, and the templates' csrf_token must be the token Flask-WTF
checks."""

import re

import pytest
from flask import url_for
from flask_wtf.csrf import generate_csrf

from blueprints.web import ID_PROBE, csrf_token, id_url


@pytest.mark.parametrize("endpoint, name", [
    ("accounts.show", "customer_id"),
    ("pipeline.deal", "deal_id"),
    ("pipeline.toggle_activity", "activity_id"),
    ("orders.quote", "quote_id"),
])
@pytest.mark.parametrize("value", [1, 42, 2_000_000_000, 2**31 - 1])
def test_id_url__same_as_url_for(app, endpoint, name, value):
    """Is id_url(endpoint, name=id) the URL url_for builds, for small and the largest ids,
    under a mount prefix too, and twice in a row (from the request's cache)?"""
    for base in ("http://localhost/", "http://localhost/tandem/"):
        with app.test_request_context("/", base_url=base):
            expected = url_for(endpoint, **{name: value})
            assert id_url(endpoint, **{name: value}) == expected
            assert id_url(endpoint, **{name: str(value)}) == expected
            assert str(ID_PROBE) not in id_url(endpoint, **{name: value})


@pytest.mark.parametrize("query", [
    {"owner": "all"},
    {"owner": "7", "campaign": "2000000001", "q": "a&b c/ü"},
])
def test_id_url__with_a_query_same_as_url_for(app, query):
    """With the same query arguments on every row (the board's filters), is id_url still
    what url_for builds, even where a query value spells the stand-in id?"""
    with app.test_request_context("/", base_url="http://localhost/tandem/"):
        for deal_id in (5, 2**31 - 1):
            expected = url_for("pipeline.move", deal_id=deal_id, **query)
            assert id_url("pipeline.move", query, deal_id=deal_id) == expected
        assert id_url("pipeline.move", deal_id=5) == url_for("pipeline.move", deal_id=5)


def test_csrf_token__the_token_flask_wtf_checks(app, client, login):
    """Is the templates' csrf_token Flask-WTF's token for the session, and do the forms on
    a list of many rows carry it (one value for the whole page)?"""
    with app.test_request_context("/"):
        assert csrf_token() == generate_csrf() == csrf_token()
    login("sales")
    body = client.get("/pipeline/activities").get_data(as_text=True)
    tokens = set(re.findall(r'name="csrf_token" value="([^"]+)"', body))
    header = re.search(r'"X-CSRFToken": "([^"]+)"', body).group(1)
    assert tokens == {header}
