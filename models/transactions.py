"""What a database transaction did, and what it remembers until it ends.

One set of session hooks notes when a transaction writes (a flush, or an INSERT, UPDATE
or DELETE run through the session) and when it ends (commit or rollback). Two things
follow from it:

- **Memos.** A record page asks for a customer's standing for its money strip and again
  for its credit warnings; `memo` answers the second from the first. A memo is dropped
  at every write and at the end of the transaction, and is not used while the session
  holds changes not flushed yet, so nothing read through it is older than the data.
  `transaction_memo` lasts until the end of the transaction, across writes: for rows a
  transaction reads again and again but never changes itself (the default stock
  locations each line of a shipment moves between).
- **How a read-only request ends: COMMIT, not ROLLBACK.** The two are the same for the
  data, but psycopg forgets every prepared statement on a ROLLBACK (the rolled-back work
  might have dropped what they refer to). Ending every page with ROLLBACK meant
  PostgreSQL parsed and planned every statement of every request afresh: 1-3 ms for the
  joined loads of a quote or an order. A transaction that wrote is rolled back as before.
"""

from sqlalchemy import event
from sqlalchemy.orm import Session

WROTE = "tandem.wrote"
MEMO = "tandem.memo"
TRANSACTION_MEMO = "tandem.transaction_memo"
KEPT = "tandem.kept"


def memo(session: Session, key, compute):
    """compute() once for `key` until the transaction writes or ends."""
    if session.new or session.dirty or session.deleted:
        return compute()
    found = session.info.setdefault(MEMO, {})
    if key not in found:
        found[key] = compute()
    return found[key]


def transaction_memo(session: Session, key, compute):
    """compute() once for `key` until the transaction ends, whatever it writes."""
    found = session.info.setdefault(TRANSACTION_MEMO, {})
    if key not in found:
        found[key] = compute()
    return found[key]


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


def _wrote(session: Session) -> None:
    session.info[WROTE] = True
    session.info.pop(MEMO, None)


@event.listens_for(Session, "after_flush")
def _flushed(session: Session, *args) -> None:
    _wrote(session)


@event.listens_for(Session, "do_orm_execute")
def _executed(state) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        _wrote(state.session)


def holds_earlier_reads(session: Session) -> bool:
    """Whether the session may hold objects as an earlier transaction read them: a
    commit that did not expire them (expire_on_commit off, as a test's stale read does)
    happened."""
    return session.info.get(KEPT, False)


def _ended(session: Session, *args) -> None:
    for key in (WROTE, MEMO, TRANSACTION_MEMO):
        session.info.pop(key, None)


@event.listens_for(Session, "after_commit")
def _committed(session: Session) -> None:
    _ended(session)
    if not session.expire_on_commit:
        session.info[KEPT] = True


event.listen(Session, "after_soft_rollback", _ended)
