"""Sign-in, sign-out, sessions that really end, throttling, passwords, cookies."""

import logging

import pytest

from models import LoginAttempt, User, UserSession
from tests.conftest import PASSWORD, TandemClient, make_test_app, sign_in
from tests.helpers import count_rows


def test_sign_in__opens_a_session_and_lands_on_dashboard(client, users, db):
    """Does a right password sign in, store one session row, and go to the dashboard?"""
    response = sign_in(client, "sales@example.test")
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    assert count_rows(db, UserSession) == 1
    assert "Good day, Sam Sales" in client.get("/").get_data(as_text=True)


def test_sign_in__wrong_password_is_refused_with_a_message(client, users, db):
    """Does a wrong password give 422, a message by the field, and no session?"""
    response = sign_in(client, "sales@example.test", "wrong password")
    assert response.status_code == 422
    assert "Email or password is wrong." in response.get_data(as_text=True)
    assert count_rows(db, UserSession) == 0
    assert client.get("/").status_code == 302


def test_sign_in__email_is_case_insensitive(client, users):
    """Can a user sign in typing their email in capitals?"""
    assert sign_in(client, "  SALES@Example.TEST ").status_code == 302


@pytest.mark.parametrize("target,expected", [
    ("/accounts/", "/accounts/"),
    ("/accounts/?q=acme", "/accounts/?q=acme"),
    ("https://evil.example/", "/"),
    ("//evil.example/", "/"),
    ("/\\evil.example", "/"),
    ("javascript:alert(1)", "/"),
    ("http:/evil.example", "/"),
])
def test_sign_in__next_goes_only_to_local_paths(client, users, target, expected):
    """Does "next" redirect only to a path on this site?"""
    client.fetch_csrf()
    response = client.post("/login", data={"email": "sales@example.test",
                                           "password": PASSWORD, "next": target})
    assert response.status_code == 302
    assert response.headers["Location"] == expected


def test_signed_out__pages_redirect_to_login_with_next(client, users):
    """Does a signed-out visit to a page go to /login?next=<that page>?"""
    response = client.get("/accounts/?q=x")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")
    assert "accounts" in response.headers["Location"]


def test_signed_out__htmx_request_gets_hx_redirect_not_302(client, users):
    """Is an htmx request answered with HX-Redirect (never a 302 that lands inside a div)?"""
    response = client.htmx("get", "/accounts/?q=x")
    assert response.status_code == 200
    assert response.headers["HX-Redirect"].startswith("/login")


def test_sign_in__by_htmx_answers_with_hx_location(client, users):
    """Does a boosted (htmx) sign-in answer with HX-Location rather than a 302?"""
    client.fetch_csrf()
    response = client.htmx("post", "/login", partial=False,
                           data={"email": "sales@example.test", "password": PASSWORD})
    assert response.status_code == 200
    assert response.headers["HX-Location"] == "/"


def _replay(app, cookie_value):
    """A fresh browser that presents a copied session cookie."""
    thief = app.test_client()
    thief.set_cookie("tandem_session", cookie_value)
    return thief.get("/")


def test_sign_out__a_copied_cookie_no_longer_works(app, client, users, db):
    """After sign-out, is a copy of the old session cookie refused?"""
    sign_in(client, "sales@example.test")
    stolen = client.get_cookie("tandem_session").value
    assert _replay(app, stolen).status_code == 200
    assert client.post("/logout").status_code == 302
    assert count_rows(db, UserSession) == 0
    replay = _replay(app, stolen)
    assert replay.status_code == 302
    assert replay.headers["Location"].startswith("/login")


def test_password_change__ends_other_sessions_but_keeps_mine(app, users, db):
    """After I change my password, is my other browser signed out while this one goes on?"""
    phone, desk = app.test_client(), app.test_client()
    sign_in(phone, "sales@example.test")
    sign_in(desk, "sales@example.test")
    phone_cookie = phone.get_cookie("tandem_session").value
    response = desk.post("/account/password", data={
        "current": PASSWORD, "password": "a new long password", "confirm": "a new long password"})
    assert response.status_code == 302
    assert desk.get("/").status_code == 200
    assert _replay(app, phone_cookie).status_code == 302
    assert sign_in(app.test_client(), "sales@example.test", "a new long password").status_code == 302


def test_password_change__wrong_current_or_short_is_refused(client, users, db):
    """Are a wrong current password and a 7-character one refused with messages, unchanged?"""
    sign_in(client, "sales@example.test")
    old_hash = users["sales"].password_hash
    response = client.post("/account/password", data={
        "current": "not it", "password": "long enough pw", "confirm": "long enough pw"})
    assert response.status_code == 422
    assert "not your current password" in response.get_data(as_text=True)
    response = client.post("/account/password", data={
        "current": PASSWORD, "password": "short12", "confirm": "short12"})
    assert response.status_code == 422
    assert "Use 8 to 256 characters" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(User, users["sales"].id).password_hash == old_hash


def test_disable_user__ends_their_sessions(app, client, users, db, login):
    """When an admin disables a user, is that user's live session refused at once?"""
    victim = app.test_client()
    sign_in(victim, "sales@example.test")
    cookie = victim.get_cookie("tandem_session").value
    login("admin")
    response = client.post(f"/admin/users/{users['sales'].id}/disable")
    assert response.status_code == 302
    assert _replay(app, cookie).status_code == 302
    assert sign_in(app.test_client(), "sales@example.test").status_code == 422


def test_throttle__locks_after_five_failures_and_logs(client, users, db, caplog):
    """After five wrong passwords, is even the right one refused with a clear message?"""
    caplog.set_level(logging.WARNING)
    for _ in range(5):
        assert sign_in(client, "sales@example.test", "wrong").status_code == 422
    response = sign_in(client, "sales@example.test")
    assert response.status_code == 429
    assert "Too many failed sign-ins" in response.get_data(as_text=True)
    assert any("throttled" in r.getMessage() for r in caplog.records)
    assert any("failed sign-in" in r.getMessage() for r in caplog.records)
    assert count_rows(db, UserSession) == 0


def test_throttle__is_shared_between_two_workers(users, db):
    """Do two app processes (workers) count failures together, through the database?"""
    worker_a, worker_b = make_test_app(), make_test_app()
    for app in (worker_a, worker_b):
        app.test_client_class = TandemClient
    a, b = worker_a.test_client(), worker_b.test_client()
    for _ in range(3):
        sign_in(a, "finance@example.test", "wrong")
    for _ in range(2):
        sign_in(b, "finance@example.test", "wrong")
    assert sign_in(a, "finance@example.test").status_code == 429
    assert sign_in(b, "finance@example.test").status_code == 429
    assert count_rows(db, LoginAttempt) == 5


def test_throttle__other_users_are_not_locked(client, users):
    """Does one user's lock leave other users able to sign in?"""
    for _ in range(5):
        sign_in(client, "sales@example.test", "wrong")
    assert sign_in(client, "finance@example.test").status_code == 302


def test_session_cookie__httponly_and_samesite(client, users):
    """Is the session cookie HttpOnly and SameSite=Lax (and not Secure over plain HTTP)?"""
    response = sign_in(client, "sales@example.test")
    cookie = [v for k, v in response.headers.items() if k == "Set-Cookie"
              and v.startswith("tandem_session=")][-1]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Secure" not in cookie


def test_https_config__secure_cookie_and_hsts(users, db):
    """With TANDEM_HTTPS on, is the cookie Secure and HSTS sent?"""
    app = make_test_app(TANDEM_HTTPS=True, SESSION_COOKIE_SECURE=True)
    app.test_client_class = TandemClient
    client = app.test_client()
    response = client.get("/login", base_url="https://localhost")
    assert "max-age=31536000" in response.headers["Strict-Transport-Security"]
    cookie = response.headers["Set-Cookie"]
    assert "Secure" in cookie


def test_temporary_password__must_be_changed_first(client, users, db, login):
    """After an admin sets a temporary password, does the user have to change it first?"""
    login("admin")
    client.post(f"/admin/users/{users['sales'].id}/password",
                data={"password": "temporary-123"})
    client.post("/logout")
    response = sign_in(client, "sales@example.test", "temporary-123")
    assert response.headers["Location"] == "/account/password"
    assert client.get("/accounts/").headers["Location"] == "/account/password"
    client.post("/account/password", data={"current": "temporary-123",
                                           "password": "my own password",
                                           "confirm": "my own password"})
    assert client.get("/accounts/").status_code == 200


def test_password_hash__uses_scrypt(users, db, app):
    """Are passwords stored with a modern KDF (scrypt), never in clear?"""
    user = users["sales"]
    user.set_password("some password here")
    assert user.password_hash.startswith("scrypt:")
    assert "some password here" not in user.password_hash
