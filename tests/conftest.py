"""Fixtures: a real database (SQLite file, or PostgreSQL when DATABASE_URL says so),
migrated once per run and emptied before each test; the app; clients that carry the
CSRF token like a browser does; and users, one per role.
"""

import os
import re
import tempfile
from pathlib import Path

os.environ.setdefault("TANDEM_ENV", "testing")

import pytest  # noqa: E402
from flask.testing import FlaskClient  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402

TMP = Path(tempfile.mkdtemp(prefix="tandem-tests-"))
DATABASE_URL = os.environ.get("DATABASE_URL") or f"sqlite:///{TMP / 'test.sqlite3'}"
IS_POSTGRES = DATABASE_URL.startswith("postgresql")
PASSWORD = "correct horse battery"


def pytest_report_header(config):
    return f"database: {DATABASE_URL}"


def pytest_sessionfinish(session, exitstatus):
    """Under CI a skipped test is a failure: everything must really run."""
    if os.environ.get("TANDEM_FAIL_ON_SKIP") != "1":
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter else []
    if skipped:
        reporter.write_line(f"FAILED: {len(skipped)} test(s) skipped under CI", red=True)
        session.exitstatus = 1


_CREATED = []


def make_test_app(keep=False, **overrides):
    """An app on the test database; its connections are closed after the test
    unless `keep` (the live server's app lives for the whole run)."""
    from app import create_app

    config = {
        "TESTING": True,
        "TANDEM_ENV": "testing",
        "SECRET_KEY": "test-secret-key",
        "SQLALCHEMY_DATABASE_URI": DATABASE_URL,
        "SERVER_NAME": None,
    }
    config.update(overrides)
    app = create_app(config)
    if not keep:
        _CREATED.append(app)
    return app


@pytest.fixture(autouse=True)
def _close_app_connections():
    """Close every test-made app's pooled connections, so none is left to the GC."""
    yield
    from models import db

    while _CREATED:
        app = _CREATED.pop()
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture(scope="session")
def database_url():
    """A migrated, empty database for the whole run."""
    if IS_POSTGRES:
        engine = create_engine(DATABASE_URL)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        engine.dispose()
    app = make_test_app()
    with app.app_context():
        from flask_migrate import upgrade

        upgrade()
        from models import db

        db.engine.dispose()
    return DATABASE_URL


def _empty_all_tables(db):
    tables = [t.name for t in reversed(db.metadata.sorted_tables)]
    with db.engine.begin() as conn:
        if IS_POSTGRES:
            conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            # A self-reference with ON DELETE RESTRICT (locations.parent_id) is checked
            # row by row on SQLite, even when the whole table goes: unlink first.
            for table in db.metadata.sorted_tables:
                for fk in table.foreign_keys:
                    if fk.column.table is table and fk.parent.nullable:
                        conn.execute(table.update().values({fk.parent.name: None}))
            for name in tables:
                conn.execute(text(f"DELETE FROM {name}"))


class TandemClient(FlaskClient):
    """A test client that sends the CSRF token with every form post, like our pages do."""

    csrf_token: str | None = None

    def fetch_csrf(self, path="/login"):
        page = self.get(path).get_data(as_text=True)
        match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page) or \
            re.search(r'"X-CSRFToken": "([^"]+)"', page)
        assert match, f"no CSRF token on {path}"
        self.csrf_token = match.group(1)
        return self.csrf_token

    def post(self, *args, csrf=True, **kwargs):
        if csrf:
            data = kwargs.get("data", {})
            if isinstance(data, dict) and "csrf_token" not in data:
                if self.csrf_token is None:
                    self.fetch_csrf()
                kwargs["data"] = {**data, "csrf_token": self.csrf_token}
        return super().post(*args, **kwargs)

    def open(self, *args, **kwargs):
        response = super().open(*args, **kwargs)
        # End the test body's own transaction: its snapshot predates what the request
        # wrote (on SQLite a later write from it would fail), and the test should read
        # what the request left, as a next request would.
        from flask import has_app_context

        if has_app_context():
            from models import db

            db.session.commit()
        return response

    def htmx(self, method, path, partial=True, **kwargs):
        """A request as htmx sends it (partial: it targets part of the page)."""
        headers = kwargs.pop("headers", {})
        headers.update({"HX-Request": "true",
                        "HX-Request-Type": "partial" if partial else "full"})
        return getattr(self, method)(path, headers=headers, **kwargs)


@pytest.fixture
def app(database_url):
    """The app that serves the test's requests.

    The test body runs in the app context of a second app instance on the same
    database: a request then always pushes its own fresh context (its own `g` and
    session), exactly as in production, instead of reusing the test's.
    """
    app = make_test_app()
    app.test_client_class = TandemClient
    body = make_test_app()
    with body.app_context():
        from models import db

        _empty_all_tables(db)
        yield app
        db.session.remove()


@pytest.fixture
def db(app):
    from models import db

    return db


@pytest.fixture
def client(app):
    return app.test_client()


_HASH = {}


@pytest.fixture
def users(app, db):
    """One user per role, password PASSWORD (hashed once per run: scrypt is slow on purpose)."""
    from werkzeug.security import generate_password_hash

    from models import User

    if "hash" not in _HASH:
        _HASH["hash"] = generate_password_hash(PASSWORD)
    made = {}
    for role, name in [("admin", "Ada Admin"), ("sales", "Sam Sales"),
                       ("finance", "Fay Finance"), ("operations", "Otto Ops")]:
        user = User(email=f"{role}@example.test", name=name, role=role,
                    password_hash=_HASH["hash"])
        db.session.add(user)
        made[role] = user
    db.session.commit()
    return made


def sign_in(client, email, password=PASSWORD):
    client.csrf_token = None
    response = client.post("/login", data={"email": email, "password": password})
    # The token belongs to the session, which signing in keeps: fetch it from a page
    # the client may open now.
    client.fetch_csrf("/account/password" if response.status_code == 302 else "/login")
    return response


@pytest.fixture
def login(client, users):
    """login("sales") signs the client in as that role's user and returns the user."""

    def _login(role, a_client=None):
        c = a_client or client
        response = sign_in(c, users[role].email)
        assert response.status_code == 302, response.get_data(as_text=True)
        return users[role]

    return _login
