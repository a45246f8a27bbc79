"""Every view declares who may use it; the wrong role gets 403, nobody gets a login page."""

import pytest

from tests.helpers import make_customer

# Sample values for URL parameters, so every rule can be called.
SAMPLE_ARGS = {"customer_id": 1, "contact_id": 1, "user_id": 1, "filename": "css/app.css",
               "deal_id": 1, "activity_id": 1, "case_id": 1, "credit_id": 1, "campaign_id": 1,
               "contract_id": 1, "stage_id": 1, "comment_id": 1, "request_id": 1,
               "token": "x", "product_id": 1, "supplier_id": 1, "tax_rate_id": 1,
               "location_id": 1, "count_id": 1, "move_id": 1, "order_id": 1, "line_id": 1,
               "receipt_id": 1, "bill_id": 1, "contact_id_": 1, "quote_id": 1,
               "shipment_id": 1, "invoice_id": 1, "payment_id": 1, "entry_id": 1,
               "account_id": 1}


def _endpoints(app):
    for rule in app.url_map.iter_rules():
        yield rule, app.view_functions[rule.endpoint]


def test_every_view__declares_its_roles(app):
    """Does every endpoint but static files carry @roles(...) or @public?"""
    missing = [rule.endpoint for rule, view in _endpoints(app)
               if rule.endpoint != "static" and not hasattr(view, "roles")]
    assert missing == []


def test_public_views__are_only_the_expected_ones(app):
    """Are sign-in, sign-out, the health check and the secret-URL calendar feed the only
    public views?"""
    public = sorted(rule.endpoint for rule, view in _endpoints(app)
                    if getattr(view, "is_public", False))
    assert public == ["auth.login", "auth.logout", "dashboard.healthz", "pipeline.calendar_feed"]


def _protected(app):
    for rule, view in _endpoints(app):
        if rule.endpoint == "static" or getattr(view, "is_public", True):
            continue
        url = rule.build({k: v for k, v in SAMPLE_ARGS.items() if k in rule.arguments})[1]
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule.endpoint, method, url, view.roles


def test_signed_out__every_protected_view_redirects_to_login(app, client, users):
    """Does each protected view send a signed-out visitor to /login?"""
    make_customer()
    client.fetch_csrf()
    for endpoint, method, url, _ in _protected(app):
        response = client.open(url, method=method, data={"csrf_token": client.csrf_token}
                               if method == "POST" else None)
        assert response.status_code == 302, (endpoint, method, response.status_code)
        assert response.headers["Location"].startswith("/login"), endpoint


@pytest.mark.parametrize("role", ["admin", "sales", "finance", "operations"])
def test_wrong_role__gets_403_on_every_view_it_may_not_use(app, client, users, login, role):
    """Is each view refused (403) for a role it does not declare, and open to one it does?"""
    make_customer()
    login(role)
    for endpoint, method, url, allowed in _protected(app):
        response = client.open(url, method=method, data={"csrf_token": client.csrf_token}
                               if method == "POST" else None)
        if role in allowed:
            assert response.status_code != 403, (endpoint, method)
        else:
            assert response.status_code == 403, (endpoint, method, response.status_code)
