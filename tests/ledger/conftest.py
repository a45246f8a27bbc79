import pytest

from models.pipeline import ensure_stages


@pytest.fixture
def stages(db):
    """The standard pipeline stages, by name."""
    made = {s.name: s for s in ensure_stages()}
    db.session.commit()
    return made


@pytest.fixture
def chart(db):
    """The default chart of accounts, by role: {"receivable": Account, ...}."""
    from sqlalchemy import select

    from models.ledger import Account, ensure_chart

    ensure_chart()
    db.session.commit()
    return {a.role: a for a in db.session.scalars(select(Account)) if a.role}
