"""The ledger: the ERP's consequence side. Invoices and credit notes, payments and
allocations (customers and suppliers), vendor bills without an order, the journal and
the chart of accounts, the lock date, credit holds, and the financial reports. One
module of views per area; the rules are in models.invoicing, models.payments,
models.ledger, models.postings and models.receivables."""

from flask import Blueprint

bp = Blueprint("ledger", __name__, url_prefix="/ledger")

from blueprints.ledger import (  # noqa: E402,F401
    invoices,
    journal,
    payments,
    reports,
)
