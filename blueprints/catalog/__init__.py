"""The supply side's catalog and stock: products, tax rates, CSV import and export,
locations, stock moves and counts, stock valuation, and the reorder screen. One module
of views per area."""

from flask import Blueprint

bp = Blueprint("catalog", __name__, url_prefix="/catalog")

from blueprints.catalog import (  # noqa: E402,F401
    products,
    reorder,
    stock,
    taxes,
    transfer,
)
