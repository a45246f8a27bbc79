"""Optimistic concurrency for records people edit in forms.

A form carries the version it was loaded at. `check_version` refuses a save based on an
older one with who changed it and when; the mapper's version column also guards the
UPDATE itself (UPDATE ... WHERE version = n), so two saves racing past the check still
cannot both land.
"""

from datetime import datetime

from flask import has_request_context
from flask_login import current_user
from sqlalchemy import DateTime, ForeignKey, Integer, event
from sqlalchemy.orm import Mapped, Session, declared_attr, mapped_column, relationship

from models.errors import Conflict
from models.users import User, as_utc, utcnow


class Versioned:
    """Mixin: `version`, `updated_at`, `updated_by` and the stale-save check."""

    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    @declared_attr
    def updated_by_id(cls) -> Mapped[int | None]:
        return mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)

    @declared_attr
    def updated_by(cls) -> Mapped[User | None]:
        return relationship(User, foreign_keys=[cls.updated_by_id], lazy="select")

    @declared_attr.directive
    def __mapper_args__(cls):
        return {"version_id_col": cls.version}

    def check_version(self, expected: int | str | None) -> None:
        """Raise Conflict unless the form was loaded at the current version."""
        try:
            expected = int(expected)
        except (TypeError, ValueError):
            expected = -1
        if expected != self.version:
            who = self.updated_by.name if self.updated_by else "someone"
            when = as_utc(self.updated_at).strftime("%Y-%m-%d %H:%M UTC")
            raise Conflict(
                f"This was changed by {who} at {when} after you opened it. "
                "Reload to see their change, then make yours again."
            )


@event.listens_for(Session, "before_flush")
def _stamp(session, flush_context, instances):
    user_id = None
    if has_request_context() and getattr(current_user, "is_authenticated", False):
        user_id = current_user.id
    for obj in list(session.new) + list(session.dirty):
        if isinstance(obj, Versioned) and (obj in session.new or session.is_modified(obj)):
            obj.updated_at = utcnow()
            obj.updated_by_id = user_id
