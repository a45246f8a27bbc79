"""People who sign in: users with one role each, their sessions, and sign-in throttling.

Sessions are rows, not just a signed cookie: signing out, changing a password or
disabling a user deletes the rows, so a copied cookie replayed later finds nothing.
Throttling counters are rows too, so every worker and host sees the same counts.
"""

import hashlib
import secrets
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import ClassVar

from flask import current_app, has_app_context
from flask_login import UserMixin
from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    String,
    bindparam,
    func,
    select,
)
from sqlalchemy.orm import Mapped, mapped_column
from werkzeug.security import check_password_hash, generate_password_hash

from models import db
from models.errors import DomainError

ROLES = ("admin", "sales", "finance", "operations")
ROLE_LABELS = {
    "admin": "Admin",
    "sales": "Sales",
    "finance": "Finance",
    "operations": "Operations",
}
MIN_PASSWORD = 8
MAX_PASSWORD = 256

# Throttling: this many failures for one email (or 4x for one address) within the
# window locks further attempts until the oldest counted failure leaves the window.
MAX_FAILURES = 5
MAX_FAILURES_PER_IP = 20
THROTTLE_WINDOW = timedelta(minutes=15)


def utcnow() -> datetime:
    """Now, timezone-aware in UTC (stored naive-compatible by the DateTime(timezone))."""
    return datetime.now(UTC)


def as_utc(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes: treat them as the UTC they were stored as."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_new_password(password: str) -> None:
    """Refuse a password that is too short or too long; no composition rules."""
    if len(password or "") < MIN_PASSWORD:
        raise DomainError(f"Use at least {MIN_PASSWORD} characters.", field="password")
    if len(password) > MAX_PASSWORD:
        raise DomainError(f"Use at most {MAX_PASSWORD} characters.", field="password")


class User(UserMixin, db.Model):
    """Someone who signs in.

    Attributes:
        email: the sign-in name, stored lower-case, unique.
        name: how the user is shown to others.
        role: one of ROLES.
        password_hash: scrypt (werkzeug's default KDF), never the password.
        is_enabled: False when an admin disabled the user; no sign-in, no sessions.
        must_change_password: True after an admin set a temporary password.
    """

    __tablename__ = "users"
    __audit__ = True
    __audit_secret__ = frozenset({"password_hash"})
    __table_args__ = (CheckConstraint(f"role IN {ROLES!r}", name="role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(256))
    is_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # The secret in this user's calendar feed URL; None until they ask for a feed.
    calendar_token: Mapped[str | None] = mapped_column(String(64), unique=True)

    # Set by the session loader: which session this request belongs to.
    _session_token: ClassVar[str | None] = None

    def __repr__(self) -> str:
        return f"<User {self.email} ({self.role})>"

    @property
    def audit_subject(self):
        return ("user", self.id)

    @property
    def is_active(self) -> bool:
        return bool(self.is_enabled)

    @property
    def role_label(self) -> str:
        return ROLE_LABELS.get(self.role, self.role)

    def get_id(self) -> str | None:
        # Flask-Login keeps this in the cookie: the session token, not the user id.
        return self._session_token

    def has_role(self, *roles: str) -> bool:
        return self.role in roles

    def set_password(self, password: str, temporary: bool = False) -> None:
        """Hash and store a new password; a temporary one must be changed at next sign-in."""
        check_new_password(password)
        method = "scrypt"
        if has_app_context():
            method = current_app.config.get("PASSWORD_HASH_METHOD", method)
        self.password_hash = generate_password_hash(password, method=method)
        self.must_change_password = temporary

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password or "")

    def end_all_sessions(self) -> None:
        """Sign the user out everywhere: every session row goes."""
        db.session.execute(db.delete(UserSession).where(UserSession.user_id == self.id))

    @classmethod
    def by_email(cls, email: str) -> "User | None":
        return db.session.scalar(select(cls).where(cls.email == normalize_email(email)))


def normalize_email(email: str) -> str:
    return (email or "").strip().lower()


def create_user(email: str, role: str, password: str, name: str = "", temporary=False) -> User:
    """A new user with one role; refuses a duplicate email or an unknown role."""
    email = normalize_email(email)
    if role not in ROLES:
        raise DomainError(f"Choose one of: {', '.join(ROLES)}.", field="role")
    if not email or "@" not in email:
        raise DomainError("Enter an email address.", field="email")
    if User.by_email(email) is not None:
        raise DomainError("A user with this email already exists.", field="email")
    user = User(email=email, role=role, name=name.strip() or email.split("@")[0])
    user.set_password(password, temporary=temporary)
    db.session.add(user)
    db.session.flush()
    return user


class UserSession(db.Model):
    """One signed-in browser. The cookie carries the token; we keep only its hash."""

    __tablename__ = "user_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    user_agent: Mapped[str] = mapped_column(String(200), default="")

    @classmethod
    def start(cls, user: User, user_agent: str = "") -> str:
        """Open a session for `user`; returns the token to put in the cookie."""
        token = secrets.token_urlsafe(32)
        db.session.add(cls(token_hash=_hash_token(token), user_id=user.id,
                           user_agent=(user_agent or "")[:200]))
        user._session_token = token
        return token

    @classmethod
    def end(cls, token: str | None) -> None:
        if token:
            db.session.execute(db.delete(cls).where(cls.token_hash == _hash_token(token)))

    @classmethod
    def load_user(cls, token: str | None) -> User | None:
        """The enabled user whose live session this token is, or None.

        The company's settings come in the same row: every page shows them, and this
        way CompanySettings.current() finds them loaded instead of reading them again."""
        if not token:
            return None
        row = db.session.execute(_user_by_token(), {"token_hash": _hash_token(token)}).first()
        if row is None:
            return None
        user, company = row
        if company is not None:
            company.keep()
        user._session_token = token
        return user


@cache
def _user_by_token():
    """Every signed-in request runs this: built once, the token hash its parameter."""
    from models.company import CompanySettings

    return (select(User, CompanySettings)
            .join(UserSession, UserSession.user_id == User.id)
            .outerjoin(CompanySettings, CompanySettings.id == 1)
            .where(UserSession.token_hash == bindparam("token_hash"),
                   User.is_enabled.is_(True)))


class LoginAttempt(db.Model):
    """A sign-in attempt, kept for throttling and as the security log."""

    __tablename__ = "login_attempts"
    __table_args__ = (
        Index("ix_login_attempts_email_at", "email", "at"),
        Index("ix_login_attempts_ip_at", "ip", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254))
    ip: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    succeeded: Mapped[bool] = mapped_column(Boolean, default=False)


# A real hash to compare against when the email is unknown, so timing says nothing.
_DUMMY_HASH = generate_password_hash("not-a-real-password", method="scrypt")


def _locked_until(column, value, limit: int, now: datetime) -> datetime | None:
    since = now - THROTTLE_WINDOW
    last_success = db.session.scalar(
        select(func.max(LoginAttempt.at)).where(column == value, LoginAttempt.succeeded.is_(True))
    )
    if last_success is not None and as_utc(last_success) > since:
        since = as_utc(last_success)
    failures = db.session.scalars(
        select(LoginAttempt.at)
        .where(column == value, LoginAttempt.succeeded.is_(False), LoginAttempt.at > since)
        .order_by(LoginAttempt.at.desc())
        .limit(limit)
    ).all()
    if len(failures) < limit:
        return None
    return as_utc(failures[-1]) + THROTTLE_WINDOW


def authenticate(email: str, password: str, ip: str) -> User:
    """Check a sign-in, record the attempt, and return the user or raise DomainError.

    The caller commits, so that a failure is recorded too.
    """
    email = normalize_email(email)[:254]
    ip = (ip or "unknown")[:64]
    now = utcnow()
    until = _locked_until(LoginAttempt.email, email, MAX_FAILURES, now) or _locked_until(
        LoginAttempt.ip, ip, MAX_FAILURES_PER_IP, now
    )
    if until is not None:
        minutes = max(1, int((until - now).total_seconds() // 60) + 1)
        current_app.logger.warning("sign-in throttled for %s from %s", email, ip)
        raise DomainError(
            f"Too many failed sign-ins. Try again in {minutes} minute"
            f"{'s' if minutes != 1 else ''}, or ask an admin to reset your password."
        )
    user = User.by_email(email)
    if user is None:
        check_password_hash(_DUMMY_HASH, password or "")
        ok = False
    else:
        ok = user.check_password(password) and user.is_enabled
    db.session.add(LoginAttempt(email=email, ip=ip, at=now, succeeded=ok))
    if not ok:
        current_app.logger.warning("failed sign-in for %s from %s", email, ip)
        if user is not None and user.check_password(password) and not user.is_enabled:
            raise DomainError("This user is disabled. Ask an admin.")
        raise DomainError("Email or password is wrong.")
    return user


def _enabled_admins() -> int:
    return db.session.scalar(
        select(func.count()).select_from(User)
        .where(User.role == "admin", User.is_enabled.is_(True))
    ) or 0


def change_role(user: User, role: str) -> None:
    """Give `user` another role; the last enabled admin keeps theirs."""
    if role not in ROLES:
        raise DomainError(f"Choose one of: {', '.join(ROLES)}.", field="role")
    if user.role == "admin" and role != "admin" and user.is_enabled and _enabled_admins() <= 1:
        raise DomainError("This is the last admin: make another admin first.", field="role")
    user.role = role


def disable_user(user: User) -> None:
    """Stop `user` signing in and end every session they have."""
    if user.role == "admin" and user.is_enabled and _enabled_admins() <= 1:
        raise DomainError("This is the last admin: make another admin first.")
    user.is_enabled = False
    user.end_all_sessions()


def enable_user(user: User) -> None:
    user.is_enabled = True


def set_temporary_password(user: User, password: str) -> None:
    """An admin's reset: the user must choose a new password at next sign-in."""
    user.set_password(password, temporary=True)
    user.end_all_sessions()
