"""Views of the ledger: reports (being written)."""

from blueprints.ledger import bp  # noqa: F401
