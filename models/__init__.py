"""The data and the business rules on it, one module a domain.

Blueprints import from here (`from models import db, Customer`); nothing in this
package imports from `blueprints`, so the CLI, tests and views share one set of rules.
"""

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

# Stable constraint names, so Alembic's batch mode on SQLite can find them again.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Trigram (pg_trgm GIN) indexes for searching inside names, and a pattern index for
# emails by their start: PostgreSQL only, made by the migrations and not by the models,
# so schema comparisons leave them out (on SQLite, matching inside 20,000 names is a few
# milliseconds' scan, and emails are found by a range on their plain index).
POSTGRES_ONLY_INDEXES = frozenset({
    "ix_customers_search_name_trgm", "ix_customers_email_trgm",
    "ix_customer_accounts_code_trgm", "ix_products_search_name_trgm",
    "ix_customers_email_prefix",
})


def include_in_schema_compare(obj, name, type_, reflected, compare_to) -> bool:
    """Alembic's include_object: everything but the PostgreSQL-only indexes."""
    return not (type_ == "index" and name in POSTGRES_ONLY_INDEXES)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)

from models.activities import Activity  # noqa: E402
from models.audit import AuditEntry  # noqa: E402
from models.cases import CaseComment, CreditRequest, SupportCase  # noqa: E402
from models.catalog import Product, Supplier, SupplierContact, TaxRate  # noqa: E402
from models.company import CompanySettings  # noqa: E402
from models.contracts import Contract  # noqa: E402
from models.customers import (  # noqa: E402
    Contact,
    Customer,
    FinancialAccount,
    Relationship,
)
from models.errors import Conflict, DomainError, NotAllowed  # noqa: E402
from models.formkeys import FormKey  # noqa: E402
from models.invoicing import Invoice, InvoiceLine, InvoicePdf  # noqa: E402
from models.ledger import (  # noqa: E402
    Account,
    AccountBalance,
    ChainHead,
    JournalEntry,
    JournalLine,
)
from models.payments import Allocation, Payment  # noqa: E402
from models.pipeline import Campaign, Deal, Stage, StageChange  # noqa: E402
from models.purchasing import (  # noqa: E402
    PurchaseLine,
    PurchaseOrder,
    Receipt,
    ReceiptLine,
    VendorBill,
)
from models.sales import (  # noqa: E402
    Quote,
    QuoteLine,
    SalesLine,
    SalesOrder,
    Shipment,
    ShipmentLine,
)
from models.sequences import DocumentCounter  # noqa: E402
from models.stock import (  # noqa: E402
    Location,
    ProductStock,
    StockCount,
    StockCountLine,
    StockLevel,
    StockMove,
)
from models.types import Money  # noqa: E402
from models.users import ROLES, LoginAttempt, User, UserSession  # noqa: E402

__all__ = [
    "db",
    "Base",
    "DomainError",
    "Conflict",
    "NotAllowed",
    "Money",
    "ROLES",
    "User",
    "UserSession",
    "LoginAttempt",
    "AuditEntry",
    "CompanySettings",
    "Customer",
    "Relationship",
    "FinancialAccount",
    "Contact",
    "Contract",
    "Campaign",
    "Deal",
    "Stage",
    "StageChange",
    "Activity",
    "SupportCase",
    "CaseComment",
    "CreditRequest",
    "TaxRate",
    "Supplier",
    "SupplierContact",
    "Product",
    "Location",
    "StockMove",
    "StockLevel",
    "ProductStock",
    "StockCount",
    "StockCountLine",
    "DocumentCounter",
    "PurchaseOrder",
    "PurchaseLine",
    "Receipt",
    "ReceiptLine",
    "VendorBill",
    "FormKey",
    "Quote",
    "QuoteLine",
    "SalesOrder",
    "SalesLine",
    "Shipment",
    "ShipmentLine",
    "Account",
    "AccountBalance",
    "ChainHead",
    "JournalEntry",
    "JournalLine",
    "Invoice",
    "InvoiceLine",
    "InvoicePdf",
    "Payment",
    "Allocation",
]
