"""How a request's transaction ends when it wrote nothing: COMMIT, not ROLLBACK.

The two are the same for the data, but psycopg forgets every prepared statement on a
ROLLBACK (the rolled-back work might have dropped what they refer to). A page only reads,
and ending each one with ROLLBACK meant PostgreSQL parsed and planned every statement of
every request afresh: 1-3 ms for the joined loads of a quote or an order. A session that
flushed, or ran an INSERT, UPDATE or DELETE of its own, is still rolled back as before.
"""

from sqlalchemy import event
from sqlalchemy.orm import Session

WROTE = "tandem.wrote"


def end_read_only(session: Session) -> None:
    """Commit the session's transaction if it is open and wrote nothing (no flush, no
    write statement, no change waiting); otherwise leave it to be rolled back."""
    if (not session.in_transaction() or session.info.get(WROTE)
            or session.new or session.dirty or session.deleted):
        return
    try:
        session.commit()
    except Exception:  # a commit that fails has nothing to keep: roll back as before
        session.rollback()


@event.listens_for(Session, "after_flush")
def _flushed(session: Session, *args) -> None:
    session.info[WROTE] = True


@event.listens_for(Session, "do_orm_execute")
def _wrote(state) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        state.session.info[WROTE] = True


def _ended(session: Session, *args) -> None:
    session.info.pop(WROTE, None)


for _name in ("after_commit", "after_soft_rollback"):
    event.listen(Session, _name, _ended)
