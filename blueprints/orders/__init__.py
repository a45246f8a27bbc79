"""Orders: suppliers and purchase orders (receipts, vendor bills, the PO PDF) now; quotes
and sales orders come with the quote-to-order work. One module of views per area."""

from flask import Blueprint

bp = Blueprint("orders", __name__, url_prefix="/orders")

from blueprints.orders import (  # noqa: E402,F401
    purchases,
    suppliers,
)
