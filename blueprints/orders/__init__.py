"""Orders: quotes and sales orders (shipments, packing slips) on the customer side;
suppliers and purchase orders (receipts, vendor bills) on the supplier side. One module
of views per area."""

from flask import Blueprint

bp = Blueprint("orders", __name__, url_prefix="/orders")

from blueprints.orders import (  # noqa: E402,F401
    purchases,
    quotes,
    sales,
    suppliers,
)
