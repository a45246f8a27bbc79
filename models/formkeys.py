"""One-time form keys: a form that creates a document carries a random key, and the
transaction that creates the document claims it first.

The key is the primary key of `form_keys`, so a double click, a second tab or a retried
request that posts the same form again cannot create a second document: the repeat finds
the key claimed and is sent to what the first one made. Claiming is an
`INSERT ... ON CONFLICT DO NOTHING`: on PostgreSQL a second transaction inserting the
same key waits until the first commits (then inserts nothing) or rolls back (then
inserts and goes on); on SQLite every POST holds the write lock from its start. Keys live
in the database, so two workers or two hosts behave like one. Nothing is written when a
form is shown: the key is only random text until a submission claims it.
"""

import re
import secrets
from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, String, select, update
from sqlalchemy.orm import Mapped, mapped_column

from models import db
from models.errors import DomainError
from models.sequences import insert_ignore
from models.users import User, utcnow

KEY_PATTERN = re.compile(r"[A-Za-z0-9_-]{20,64}")


class FormKey(db.Model):
    """A claimed form key and what its submission made (a URL to send repeats to)."""

    __tablename__ = "form_keys"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(40))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    result_url: Mapped[str] = mapped_column(String(300), default="")


class AlreadySubmitted(DomainError):
    """The form was submitted before; `result_url` is what that submission made."""

    status = 409

    def __init__(self, result_url: str):
        super().__init__("This form was already submitted; here is what it made.")
        self.result_url = result_url


def new_form_key() -> str:
    """A fresh random key for a form about to be shown."""
    return secrets.token_urlsafe(24)


def claim_form_key(key: str | None, purpose: str, *, by: User | None = None) -> None:
    """Claim `key` for this transaction. Raises AlreadySubmitted when it was claimed by
    an earlier submission that committed, and DomainError when it is missing or malformed
    (a form from before keys, or tampering): the user reloads the form."""
    key = (key or "").strip()
    if not KEY_PATTERN.fullmatch(key):
        raise DomainError("This form has expired. Reload the page and submit it again.")
    # RETURNING says whether this statement inserted the row (a driver's rowcount for
    # ON CONFLICT DO NOTHING is not reliable: psycopg reports -1)
    claimed = db.session.execute(insert_ignore(
        FormKey, key=key, purpose=purpose, user_id=by.id if by else None,
        created_at=utcnow(), result_url="").returning(FormKey.__table__.c.key)).first()
    if claimed is not None:
        return
    found = db.session.scalar(select(FormKey).where(FormKey.key == key))
    if found is None or found.purpose != purpose:
        raise DomainError("This form has expired. Reload the page and submit it again.")
    raise AlreadySubmitted(found.result_url)


def settle_form_key(key: str, result_url: str) -> None:
    """Record what the submission made, so a repeat lands on it."""
    db.session.execute(update(FormKey).where(FormKey.key == key.strip())
                       .values(result_url=result_url[:300]))
