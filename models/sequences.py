"""Document numbers (PO-2026-0001): one counter row per prefix and year, taken under a
row lock inside the transaction that creates the document.

The counter is incremented with a single `UPDATE ... SET next = next + 1` after the row
exists, so two transactions that want a number at the same moment queue on the row lock
(PostgreSQL) or on the write lock every POST takes first (SQLite, BEGIN IMMEDIATE). If
the document's transaction rolls back, so does the counter: the numbers stay gapless.
"""

from sqlalchemy import Integer, String, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Mapped, mapped_column

from models import db


class DocumentCounter(db.Model):
    """The last number given for one prefix in one year."""

    __tablename__ = "document_counters"

    prefix: Mapped[str] = mapped_column(String(8), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last: Mapped[int] = mapped_column(Integer, default=0)


def insert_ignore(model, **values):
    """INSERT that does nothing when the row (by its unique key) is already there."""
    table = model.__table__
    if db.session.get_bind().dialect.name == "postgresql":
        return pg_insert(table).values(**values).on_conflict_do_nothing()
    return sqlite_insert(table).values(**values).on_conflict_do_nothing()


def next_number(prefix: str, year: int) -> str:
    """The next number for `prefix` in `year`, like "PO-2026-0001" (four digits and up)."""
    counter = DocumentCounter.__table__
    take = (update(counter).where(counter.c.prefix == prefix, counter.c.year == year)
            .values(last=counter.c.last + 1).returning(counter.c.last))
    last = db.session.execute(take).scalar_one_or_none()
    if last is None:  # the year's first: the row, made once whoever gets there first
        db.session.execute(insert_ignore(DocumentCounter, prefix=prefix, year=year, last=0))
        last = db.session.execute(take).scalar_one()
    return f"{prefix}-{year}-{last:04d}"


def last_number(prefix: str, year: int) -> int:
    """How many numbers were given for `prefix` in `year` (0 when none)."""
    return db.session.scalar(select(DocumentCounter.last).where(
        DocumentCounter.prefix == prefix, DocumentCounter.year == year)) or 0
