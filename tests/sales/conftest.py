import pytest

from models.pipeline import ensure_stages


@pytest.fixture
def stages(db):
    """The standard stages, by name."""
    made = {s.name: s for s in ensure_stages()}
    db.session.commit()
    return made
