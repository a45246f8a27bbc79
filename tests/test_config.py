"""Configuration from the environment, and the SQLite settings a team relies on."""

import pytest
from sqlalchemy import text

from tests.conftest import IS_POSTGRES


def test_secret_key__required_outside_development(monkeypatch):
    """Does the app refuse to start in production without SECRET_KEY?"""
    from app import create_app

    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.setenv("TANDEM_ENV", "production")
    with pytest.raises(RuntimeError, match="SECRET_KEY is not set"):
        create_app()


def test_secret_key__from_environment(monkeypatch):
    """Is SECRET_KEY taken from the environment in production?"""
    from app import create_app

    monkeypatch.setenv("TANDEM_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "from-the-environment")
    app = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://"})
    assert app.config["SECRET_KEY"] == "from-the-environment"


def test_database_url__defaults_to_sqlite_in_instance(monkeypatch):
    """Without DATABASE_URL, is the database a SQLite file under instance/?"""
    from app import create_app

    monkeypatch.delenv("DATABASE_URL", raising=False)
    app = create_app({"SECRET_KEY": "x"})
    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    assert uri.startswith("sqlite:///") and uri.endswith("instance/tandem.sqlite3")


def test_database__enforces_foreign_keys_and_sqlite_uses_wal(app, db):
    """Are foreign keys enforced (both databases), and does SQLite use WAL and wait when busy?"""
    from sqlalchemy.exc import IntegrityError

    with db.engine.connect() as conn:
        with pytest.raises(IntegrityError):
            conn.execute(text("INSERT INTO contacts (customer_id, name, job_title, is_primary, "
                              "version, updated_at) VALUES (424242, 'x', '', false, 1, "
                              "CURRENT_TIMESTAMP)"))
        conn.rollback()
        if not IS_POSTGRES:
            assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert conn.execute(text("PRAGMA busy_timeout")).scalar() >= 5000
