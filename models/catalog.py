"""The catalog: tax rates, suppliers and products.

A product is stocked (it has stock, moves and a moving-average cost) or a service (no
stock). SKUs are unique whatever their case: `sku_key` holds the upper-cased SKU under a
unique constraint, so "ab-1" and "AB-1" cannot both exist even when two people save at
the same moment. Archived products (active False) stay on old documents and out of new
ones.
"""

from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    SmallInteger,
    String,
    Text,
    func,
    select,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models import db
from models.customers import normalize_name
from models.errors import DomainError
from models.transactions import transaction_memo
from models.types import Money, Quantity, round_money
from models.users import utcnow
from models.versioned import Versioned

KINDS = ("stocked", "service")
# unit code -> (label, counted in whole pieces)
UNITS = {
    "pc": ("piece", True), "box": ("box", True), "pack": ("pack", True),
    "kg": ("kilogram", False), "g": ("gram", False), "m": ("metre", False),
    "l": ("litre", False), "h": ("hour", False), "day": ("day", False),
}
CATALOG_ROLES = ("admin", "operations")  # who edits products, suppliers, tax rates
SKU_MAX = 64
NAME_MAX = 200  # products.name is String(200)


def unit_is_whole(unit: str) -> bool:
    return UNITS.get(unit, ("", True))[1]


def sku_key(sku: str) -> str:
    return (sku or "").strip().upper()


class TaxRate(Versioned, db.Model):
    """A sales/purchase tax rate ("VAT 20%"). Its tax posts to the ledger's output or input
    tax account (roles tax_out, tax_in), one line per rate on each document."""

    __tablename__ = "tax_rates"
    __audit__ = True
    __table_args__ = (CheckConstraint("percent >= 0 AND percent <= 100000", name="percent"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(60), unique=True)
    # percent with three decimals (19.000, 7.700), stored as an exact scaled integer
    percent: Mapped[Decimal] = mapped_column(Money(3), default=Decimal("0.000"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    @property
    def audit_subject(self):
        return ("tax_rate", self.id)

    @property
    def label(self) -> str:
        return f"{self.name} ({self.percent.normalize():f}%)"

    def tax_on(self, net: Decimal) -> Decimal:
        """The tax on a net amount, half-up to the cent."""
        return round_money(net * self.percent / 100)


def active_tax_rates() -> list[TaxRate]:
    """The rates a line may take, read once a transaction: a line form offers them when
    it is read and again when the page shows it (rates change in a transaction of their
    own)."""
    return list(transaction_memo(db.session, "active tax rates", lambda: list(
        db.session.scalars(select(TaxRate).where(TaxRate.active.is_(True))
                           .order_by(TaxRate.percent, TaxRate.name)))))


class Supplier(Versioned, db.Model):
    """Someone we buy from. Not a customer: a supplier has a payable side only.

    Attributes:
        payment_terms_days: days after the bill date their bills fall due.
        currency: what they invoice in (ISO 4217).
    """

    __tablename__ = "suppliers"
    __audit__ = True
    __table_args__ = (Index("ix_suppliers_search_name_id", "search_name", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    search_name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(40))
    street: Mapped[str] = mapped_column(String(200), default="")
    postal_code: Mapped[str] = mapped_column(String(20), default="")
    city: Mapped[str] = mapped_column(String(100), default="")
    country: Mapped[str] = mapped_column(String(100), default="")
    tax_id: Mapped[str] = mapped_column(String(64), default="")
    payment_terms_days: Mapped[int] = mapped_column(SmallInteger, default=30)
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    notes: Mapped[str] = mapped_column(Text, default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    contacts: Mapped[list["SupplierContact"]] = relationship(
        back_populates="supplier", cascade="all, delete-orphan",
        order_by="SupplierContact.name")

    @property
    def audit_subject(self):
        return ("supplier", self.id)

    @property
    def address_lines(self) -> list[str]:
        city_line = " ".join(p for p in (self.postal_code, self.city) if p)
        return [line for line in (self.street, city_line, self.country) if line]

    def set_name(self, name: str) -> None:
        name = (name or "").strip()
        if not name:
            raise DomainError("Enter the supplier's name.", field="name")
        self.name = name
        self.search_name = normalize_name(name)


class SupplierContact(db.Model):
    """A person at a supplier."""

    __tablename__ = "supplier_contacts"
    __audit__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    supplier_id: Mapped[int] = mapped_column(ForeignKey("suppliers.id", ondelete="CASCADE"),
                                             index=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(100), default="")
    email: Mapped[str | None] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(40))

    supplier: Mapped[Supplier] = relationship(back_populates="contacts")

    @property
    def audit_subject(self):
        return ("supplier", self.supplier_id)


class Product(Versioned, db.Model):
    """Something we sell or buy.

    Attributes:
        sku: as typed; `sku_key` is its upper-cased form under a unique constraint.
        kind: "stocked" or "service".
        unit: a key of UNITS; whole-piece units refuse fractional quantities.
        list_price: the default selling price (company base currency).
        cost: the unit cost. For a stocked product it is the moving-average cost that
            every receipt updates (`models.stock.receive_stock`); typed only until stock
            exists.
        tax_rate_id: the default tax on sales; None when untaxed.
        reorder_point, reorder_qty: when available falls below the point, suggest buying
            the quantity (0: never suggested).
        allow_backorder: may go below zero on hand (sold before it arrives).
    """

    __tablename__ = "products"
    __audit__ = True
    __table_args__ = (
        CheckConstraint(f"kind IN {KINDS!r}", name="kind"),
        CheckConstraint("list_price >= 0", name="list_price"),
        CheckConstraint("cost >= 0", name="cost"),
        CheckConstraint("reorder_point >= 0 AND reorder_qty >= 0", name="reorder"),
        Index("ix_products_search_name_id", "search_name", "id"),
        Index("ix_products_active_sku_key", "active", "sku_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    sku: Mapped[str] = mapped_column(String(SKU_MAX))
    sku_key: Mapped[str] = mapped_column(String(SKU_MAX), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    search_name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    kind: Mapped[str] = mapped_column(String(8), default="stocked")
    unit: Mapped[str] = mapped_column(String(8), default="pc")
    list_price: Mapped[Decimal] = mapped_column(Money(), default=Decimal("0.00"))
    cost: Mapped[Decimal] = mapped_column(Money(4), default=Decimal("0.0000"))
    tax_rate_id: Mapped[int | None] = mapped_column(
        ForeignKey("tax_rates.id", ondelete="RESTRICT"), index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    reorder_point: Mapped[Decimal] = mapped_column(Quantity(), default=Decimal("0.000"))
    reorder_qty: Mapped[Decimal] = mapped_column(Quantity(), default=Decimal("0.000"))
    preferred_supplier_id: Mapped[int | None] = mapped_column(
        ForeignKey("suppliers.id", ondelete="SET NULL"), index=True)
    allow_backorder: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    tax_rate: Mapped[TaxRate | None] = relationship(lazy="joined")
    preferred_supplier: Mapped[Supplier | None] = relationship(lazy="select")

    def __repr__(self) -> str:
        return f"<Product {self.sku}>"

    @property
    def audit_subject(self):
        return ("product", self.id)

    @property
    def is_stocked(self) -> bool:
        return self.kind == "stocked"

    @property
    def whole_units(self) -> bool:
        return unit_is_whole(self.unit)

    @property
    def unit_label(self) -> str:
        return UNITS.get(self.unit, (self.unit, True))[0]

    @property
    def unit_label_plural(self) -> str:
        label = self.unit_label
        return f"{label}es" if label.endswith(("x", "s")) else f"{label}s"

    def check_quantity(self, quantity: Decimal, field: str = "quantity") -> None:
        """Refuse a fraction of a whole-piece unit."""
        if self.whole_units and quantity != quantity.to_integral_value():
            raise DomainError(f"{self.sku} is counted in whole {self.unit_label_plural}.",
                              field=field)


def product_by_sku(sku: str) -> Product | None:
    return db.session.scalar(select(Product).where(Product.sku_key == sku_key(sku)))


def set_product_fields(product: Product, *, sku: str, name: str, description: str = "",
                       kind: str = "stocked", unit: str = "pc", list_price: Decimal,
                       cost: Decimal, tax_rate: TaxRate | None, active: bool = True,
                       reorder_point: Decimal = Decimal(0), reorder_qty: Decimal = Decimal(0),
                       preferred_supplier: Supplier | None = None,
                       allow_backorder: bool = False) -> Product:
    """Validate and set every typed field of a product (new or existing).

    Raises DomainError naming the field. A stocked product that already has stock keeps
    its moving-average cost (a typed cost would change the value of stock without a
    receipt); its kind cannot become "service" while it has stock or open moves.
    """
    from models.stock import has_stock_history

    sku = (sku or "").strip()
    if not sku:
        raise DomainError("Enter a SKU.", field="sku")
    if len(sku) > SKU_MAX:
        raise DomainError(f"Use at most {SKU_MAX} characters.", field="sku")
    if any(ch.isspace() for ch in sku):
        raise DomainError("A SKU has no spaces.", field="sku")
    other = db.session.scalar(select(Product.id).where(
        Product.sku_key == sku_key(sku), Product.id != (product.id or 0)))
    if other is not None:
        raise DomainError(f"SKU {sku} is already used by another product.", field="sku")
    name = (name or "").strip()
    if not name:
        raise DomainError("Enter a name.", field="name")
    if len(name) > NAME_MAX:
        raise DomainError(f"Use at most {NAME_MAX} characters.", field="name")
    if kind not in KINDS:
        raise DomainError("Choose stocked or service.", field="kind")
    if unit not in UNITS:
        raise DomainError("Choose a unit from the list.", field="unit")
    for field, value in (("list_price", list_price), ("cost", cost)):
        if value is None or value < 0:
            raise DomainError("Enter an amount of zero or more.", field=field)
    for field, value in (("reorder_point", reorder_point), ("reorder_qty", reorder_qty)):
        if value is None or value < 0:
            raise DomainError("Enter a quantity of zero or more.", field=field)
        if unit_is_whole(unit) and value != value.to_integral_value():
            raise DomainError("This unit is counted in whole pieces.", field=field)
    has_history = product.id is not None and has_stock_history(product.id)
    if has_history and kind != product.kind:
        raise DomainError("This product has stock moves; it stays "
                          f"{product.kind}. Archive it and create a new one instead.",
                          field="kind")
    if has_history and unit != product.unit:
        raise DomainError("This product has stock moves in "
                          f"{product.unit_label_plural}; its unit cannot change.", field="unit")
    product.sku = sku
    product.sku_key = sku_key(sku)
    product.name = name
    product.search_name = normalize_name(name)
    product.description = (description or "").strip()
    product.kind = kind
    product.unit = unit
    product.list_price = list_price
    if not (has_history and kind == "stocked"):
        product.cost = cost
    product.tax_rate = tax_rate
    product.active = active
    product.reorder_point = reorder_point if kind == "stocked" else Decimal(0)
    product.reorder_qty = reorder_qty if kind == "stocked" else Decimal(0)
    product.preferred_supplier = preferred_supplier
    product.allow_backorder = allow_backorder and kind == "stocked"
    return product


def create_product(**fields) -> Product:
    product = Product()
    set_product_fields(product, **fields)
    db.session.add(product)
    db.session.flush()
    return product


def product_search_clause(text: str):
    """Products whose SKU starts with, or whose name contains, the typed text."""
    from sqlalchemy import or_

    text = (text or "").strip()
    key = sku_key(text)
    return or_(Product.sku_key.startswith(key, autoescape=True),
               Product.search_name.contains(normalize_name(text), autoescape=True))


def count_products() -> int:
    return db.session.scalar(select(func.count(Product.id))) or 0

