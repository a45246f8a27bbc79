"""Views of the ledger: journal (being written)."""

from blueprints.ledger import bp  # noqa: F401
