"""Tandem: the application factory.

`flask --app app ...` finds `app = create_app()` below; tests call `create_app({...})`
with their own settings. Nothing touches the database at import time.
"""

import os
import secrets
from pathlib import Path

from flask import Flask, request
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import event
from sqlalchemy.engine import Engine

from models import db

ROOT = Path(__file__).resolve().parent
login_manager = LoginManager()
csrf = CSRFProtect()
migrate = Migrate()



def load_config(app: Flask, overrides: dict | None) -> None:
    """Settings from the environment (DATABASE_URL, SECRET_KEY, TANDEM_*), then overrides."""
    overrides = overrides or {}
    env = overrides.get("TANDEM_ENV", os.environ.get("TANDEM_ENV", "production"))
    instance = Path(app.instance_path)
    instance.mkdir(parents=True, exist_ok=True)
    app.config.update(
        TANDEM_ENV=env,
        SQLALCHEMY_DATABASE_URI=os.environ.get(
            "DATABASE_URL", f"sqlite:///{instance / 'tandem.sqlite3'}"
        ),
        SQLALCHEMY_ENGINE_OPTIONS={"pool_pre_ping": True},
        # A page left open all day must still post: the CSRF token has no time limit.
        WTF_CSRF_TIME_LIMIT=None,
        WTF_CSRF_HEADERS=["X-CSRFToken"],
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_NAME="tandem_session",
        REMEMBER_COOKIE_HTTPONLY=True,
        MAX_CONTENT_LENGTH=25 * 1024 * 1024,
        PASSWORD_HASH_METHOD=os.environ.get("TANDEM_PASSWORD_HASH", "scrypt"),
        TANDEM_HTTPS=os.environ.get("TANDEM_HTTPS", "") in ("1", "true", "yes"),
        TANDEM_PER_PAGE=25,
        # Outgoing mail (quotes, invoices): an SMTP relay; unset host = mail is off.
        TANDEM_SMTP_HOST=os.environ.get("TANDEM_SMTP_HOST", ""),
        TANDEM_SMTP_PORT=int(os.environ.get("TANDEM_SMTP_PORT", "0") or 0),
        TANDEM_SMTP_USER=os.environ.get("TANDEM_SMTP_USER", ""),
        TANDEM_SMTP_PASSWORD=os.environ.get("TANDEM_SMTP_PASSWORD", ""),
        # starttls (default), ssl (implicit TLS) or none (a relay on loopback)
        TANDEM_SMTP_SECURITY=os.environ.get("TANDEM_SMTP_SECURITY", "starttls"),
        TANDEM_MAIL_FROM=os.environ.get("TANDEM_MAIL_FROM", ""),
    )
    secret = os.environ.get("SECRET_KEY") or overrides.get("SECRET_KEY")
    if not secret:
        if env not in ("development", "demo", "testing"):
            raise RuntimeError(
                "SECRET_KEY is not set. Set it in the environment (a long random string), "
                "or set TANDEM_ENV=development for a local trial."
            )
        # Development: a random key kept in instance/ so sign-ins survive a restart.
        key_file = instance / "dev-secret-key"
        if not key_file.exists():
            key_file.write_text(secrets.token_hex(32))
        secret = key_file.read_text().strip()
    app.config["SECRET_KEY"] = secret
    app.config.update(overrides)
    if app.config["TANDEM_HTTPS"]:
        app.config.update(SESSION_COOKIE_SECURE=True, REMEMBER_COOKIE_SECURE=True)


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record):
    """SQLite: WAL, foreign keys, a busy timeout, and transactions we begin ourselves."""
    import sqlite3

    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    # Let SQLAlchemy's "begin" event below emit BEGIN, not the sqlite3 module.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


@event.listens_for(Engine, "begin")
def _sqlite_begin(conn):
    """A request that may write (POST) takes the write lock up front (BEGIN IMMEDIATE)
    and waits for it up to the busy timeout, so two users saving at once queue instead of
    failing with "database is locked". Reads (GET) and the CLI stay deferred: with WAL they
    never wait on a writer and never block one."""
    if conn.dialect.name != "sqlite":
        return
    from flask import has_request_context

    if has_request_context() and request.method not in ("GET", "HEAD", "OPTIONS"):
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        conn.exec_driver_sql("BEGIN")


def create_app(config: dict | None = None) -> Flask:
    """Build the app: settings, extensions, blueprints, security headers, CLI."""
    app = Flask(__name__, instance_path=str(ROOT / "instance"))
    load_config(app, config)

    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"), render_as_batch=True)
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.session_protection = None  # sessions are server-side rows instead

    from models.users import UserSession

    @login_manager.user_loader
    def load_user(token):
        return UserSession.load_user(token)

    from blueprints import web

    web.init_app(app)

    from blueprints.accounts import bp as accounts_bp
    from blueprints.admin import bp as admin_bp
    from blueprints.auth import bp as auth_bp
    from blueprints.catalog import bp as catalog_bp
    from blueprints.dashboard import bp as dashboard_bp
    from blueprints.ledger import bp as ledger_bp
    from blueprints.orders import bp as orders_bp
    from blueprints.pipeline import bp as pipeline_bp

    app.register_blueprint(auth_bp)
    app.register_blueprint(dashboard_bp)
    app.register_blueprint(accounts_bp)
    app.register_blueprint(admin_bp)
    app.register_blueprint(pipeline_bp)
    app.register_blueprint(catalog_bp)
    app.register_blueprint(orders_bp)
    app.register_blueprint(ledger_bp)

    import cli

    cli.init_app(app)
    return app


app = create_app()
