"""The audit log: every create, update and delete of a business record.

Models opt in with `__audit__ = True` and say whose history a change belongs to with an
`audit_subject` property (a contact's change shows on its customer's page). The log is
written by a flush hook, inside the same transaction as the change, so a change and its
log entry commit or roll back together and no view can forget to log.
"""

import json
from datetime import date, datetime
from decimal import Decimal
from functools import cache

from flask import has_request_context
from flask_login import current_user
from sqlalchemy import (
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    bindparam,
    event,
    inspect,
    select,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from models import db
from models.users import User, utcnow

# Bookkeeping columns whose changes are noise in a history.
_SKIP = frozenset({"version", "updated_at", "updated_by_id", "created_at", "created_by_id",
                   "search_name", "email_domain", "sku_key", "supplier_ref_key"})


class AuditEntry(db.Model):
    """One change to one record.

    Attributes:
        at: when (UTC).
        user_id: who; None when the change came from the CLI or the user was removed.
        actor: the user's email at the time, or "system".
        action: "create", "update" or "delete".
        entity_type, entity_id: the record changed (table name and primary key).
        subject_type, subject_id: whose history shows it (e.g. the customer).
        changes: JSON {field: [old, new]}; secrets show as "(changed)".
    """

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_subject", "subject_type", "subject_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    actor: Mapped[str] = mapped_column(String(254))
    action: Mapped[str] = mapped_column(String(8))
    entity_type: Mapped[str] = mapped_column(String(64))
    entity_id: Mapped[int] = mapped_column(Integer)
    subject_type: Mapped[str] = mapped_column(String(64))
    subject_id: Mapped[int] = mapped_column(Integer)
    changes: Mapped[str] = mapped_column(Text, default="{}")

    @property
    def change_list(self) -> list[tuple[str, object, object]]:
        """[(field, old, new)] for display."""
        return [(k, v[0], v[1]) for k, v in json.loads(self.changes or "{}").items()]

    @classmethod
    def for_subject(cls, subject_type: str, subject_id: int, limit: int = 50):
        return db.session.scalars(_for_subject(), {"type": subject_type, "id": subject_id,
                                                   "limit": limit}).all()


@cache
def _for_subject():
    # every record page's history runs it: built once, its values bound at each run
    return (select(AuditEntry)
            .where(AuditEntry.subject_type == bindparam("type"),
                   AuditEntry.subject_id == bindparam("id"))
            .order_by(AuditEntry.id.desc()).limit(bindparam("limit")))


def _plain(value):
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat(sep=" ", timespec="minutes")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bytes):
        return f"({len(value)} bytes)"
    return value


def _actor() -> tuple[int | None, str]:
    if has_request_context() and getattr(current_user, "is_authenticated", False):
        return current_user.id, current_user.email
    return None, "system"


def _entry(obj, action: str) -> dict | None:
    state = inspect(obj)
    mapper = state.mapper
    secret = getattr(obj, "__audit_secret__", frozenset())
    skip = _SKIP | getattr(obj, "__audit_skip__", frozenset())
    changes = {}
    for column in mapper.column_attrs:
        key = column.key
        if key in skip:
            continue
        hist = state.attrs[key].history
        if action == "create":
            new = getattr(obj, key)
            if new is None or key == "id":
                continue
            changes[key] = [None, "(set)" if key in secret else _plain(new)]
        elif action == "delete":
            old = getattr(obj, key)
            if old is None or key == "id":
                continue
            changes[key] = ["(set)" if key in secret else _plain(old), None]
        elif hist.has_changes():
            old = hist.deleted[0] if hist.deleted else None
            new = hist.added[0] if hist.added else None
            if old == new:
                continue
            if key in secret:
                changes[key] = ["(changed)", "(changed)"]
            else:
                changes[key] = [_plain(old), _plain(new)]
    if action == "update" and not changes:
        return None
    subject_type, subject_id = obj.audit_subject
    user_id, actor = _actor()
    return {
        "at": utcnow(),
        "user_id": user_id,
        "actor": actor,
        "action": action,
        "entity_type": mapper.local_table.name,
        "entity_id": mapper.primary_key_from_instance(obj)[0],
        "subject_type": subject_type,
        "subject_id": subject_id,
        "changes": json.dumps(changes, sort_keys=True, default=str),
    }


@event.listens_for(Session, "after_flush")
def _write_audit(session, flush_context):
    rows = []
    for action, objects in (("create", session.new), ("update", session.dirty),
                            ("delete", session.deleted)):
        for obj in objects:
            if not getattr(obj, "__audit__", False):
                continue
            if action == "update" and not session.is_modified(obj, include_collections=False):
                continue
            row = _entry(obj, action)
            if row is not None:
                rows.append(row)
    if rows:
        session.connection().execute(AuditEntry.__table__.insert(), rows)


__all__ = ["AuditEntry", "User"]
