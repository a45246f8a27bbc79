"""Values worked out once per database transaction and shared by everything in it.

A record page asks for a customer's standing for its money strip and again for its
credit warnings; a memo answers the second from the first. What a memo holds is
dropped whenever the session flushes, commits or rolls back, and it is not used while
the session holds changes not flushed yet, so nothing read through it is older than the
data it was read from.
"""

from sqlalchemy import event
from sqlalchemy.orm import Session

KEY = "tandem.memo"
TRANSACTION_KEY = "tandem.transaction_memo"


def memo(session: Session, key, compute):
    """compute() once per transaction for `key`."""
    if session.new or session.dirty or session.deleted:
        return compute()
    found = session.info.setdefault(KEY, {})
    if key not in found:
        found[key] = compute()
    return found[key]


def transaction_memo(session: Session, key, compute):
    """compute() once per transaction for `key`, kept across flushes: for rows a
    transaction reads again and again but does not change (the default stock locations
    each line of a shipment moves between)."""
    found = session.info.setdefault(TRANSACTION_KEY, {})
    if key not in found:
        found[key] = compute()
    return found[key]


def _forget(session: Session, *args) -> None:
    session.info.pop(KEY, None)


def _forget_all(session: Session, *args) -> None:
    session.info.pop(KEY, None)
    session.info.pop(TRANSACTION_KEY, None)


event.listen(Session, "after_flush", _forget)
for _name in ("after_commit", "after_soft_rollback"):
    event.listen(Session, _name, _forget_all)


@event.listens_for(Session, "do_orm_execute")
def _forget_on_write(state) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        _forget(state.session)
