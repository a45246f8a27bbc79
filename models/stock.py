"""Stock: locations, moves, and the figures derived from them.

Every change of stock is a `StockMove` of a product from one location to another:
draft -> reserved -> done, or cancelled. A done move is never edited or deleted (the
model layer refuses it); a mistake is corrected by a new move. Locations are the
warehouse and its sub-locations ("internal", they hold stock), a "view" that groups
them, and virtual supplier, customer and adjustment locations that stock comes from and
goes to.

On hand and reserved per product and location are derived from the moves and kept,
in the same transaction, in `StockLevel` (one row per product and internal location)
and `ProductStock` (the product's totals over internal locations), so lists and checks
read one row instead of summing history; `level_drift()` recomputes them from the moves
and reports any difference. Every stock operation on a product first locks its
`ProductStock` row (SELECT ... FOR UPDATE on PostgreSQL; on SQLite every write
transaction already holds the database's write lock), so two receipts, or a receipt and a
reservation, of the same product at the same moment queue instead of corrupting the
figures.

Costing is moving average: each receipt sets the product's unit cost to
(on hand x cost + received x unit cost) / (on hand + received), half-up to 1/100 of a
cent; stock leaves at the current cost.
"""

from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from functools import cache

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    bindparam,
    event,
    func,
    inspect,
    select,
)
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from models import db
from models.catalog import Product
from models.errors import DomainError
from models.sequences import insert_ignore
from models.transactions import transaction_memo
from models.types import Money, Quantity, round_money
from models.users import User, utcnow
from models.versioned import Versioned

LOCATION_KINDS = ("view", "internal", "supplier", "customer", "adjustment")
VIRTUAL_KINDS = ("supplier", "customer", "adjustment")
MOVE_STATES = ("draft", "reserved", "done", "cancelled")
STOCK_ROLES = ("admin", "operations")  # who moves, counts and receives stock
ZERO = Decimal("0.000")
COST_PLACES = Decimal("0.0001")

# code, name, kind, parent code: created on first use (and by the demo)
DEFAULT_LOCATIONS = [
    ("WH", "Main warehouse", "view", None),
    ("WH/STOCK", "Stock", "internal", "WH"),
    ("SUPPLIERS", "Suppliers", "supplier", None),
    ("CUSTOMERS", "Customers", "customer", None),
    ("ADJUST", "Inventory adjustment", "adjustment", None),
]


class Location(Versioned, db.Model):
    """A place stock is in, comes from or goes to.

    Attributes:
        code: short unique path, "WH/STOCK", "WH/SHELF-A"; shown on documents.
        kind: one of LOCATION_KINDS; only "internal" locations hold stock.
        parent_id: the location it is part of (a warehouse for its sub-locations).
    """

    __tablename__ = "locations"
    __audit__ = True
    __table_args__ = (CheckConstraint(f"kind IN {LOCATION_KINDS!r}", name="kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(12), default="internal")
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("locations.id",
                                                             ondelete="RESTRICT"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    parent: Mapped["Location | None"] = relationship(remote_side=[id], lazy="joined",
                                                     join_depth=2)

    def __repr__(self) -> str:
        return f"<Location {self.code}>"

    @property
    def audit_subject(self):
        return ("location", self.id)

    @property
    def is_internal(self) -> bool:
        return self.kind == "internal"

    @property
    def label(self) -> str:
        return f"{self.code} · {self.name}"


def ensure_locations() -> None:
    """The default locations, when they are missing (first run, after a wipe). Safe to
    run from two transactions at once: each row is an insert that ignores a duplicate.
    Checked once a transaction."""
    transaction_memo(db.session(), "default-locations", _ensure_locations)


def _ensure_locations() -> None:
    if db.session.scalar(select(func.count(Location.id)).where(
            Location.code.in_([code for code, *_ in DEFAULT_LOCATIONS]))) == len(DEFAULT_LOCATIONS):
        return
    for code, name, kind, parent_code in DEFAULT_LOCATIONS:
        parent_id = None
        if parent_code:
            parent_id = db.session.scalar(select(Location.id).where(Location.code == parent_code))
        db.session.execute(insert_ignore(Location, code=code, name=name, kind=kind,
                                         parent_id=parent_id, active=True, version=1,
                                         updated_at=utcnow()))


def location(code: str) -> Location:
    """A location by code (the defaults are created on first use); read once a
    transaction."""
    return transaction_memo(db.session(), ("location", code), lambda: _location(code))


def _location(code: str) -> Location:
    ensure_locations()
    found = db.session.scalar(select(Location).where(Location.code == code))
    if found is None:
        raise DomainError(f"There is no location {code}.")
    return found


def virtual_location(kind: str) -> Location:
    """The supplier, customer or adjustment location; read once a transaction."""
    return transaction_memo(db.session(), ("virtual-location", kind),
                            lambda: _virtual_location(kind))


def _virtual_location(kind: str) -> Location:
    ensure_locations()
    found = db.session.scalar(select(Location).where(Location.kind == kind)
                              .order_by(Location.id).limit(1))
    if found is None:  # pragma: no cover - ensure_locations made it
        raise DomainError(f"There is no {kind} location.")
    return found


def default_stock_location() -> Location:
    """Where receipts go unless the user picks another: WH/STOCK, else the first
    active internal location; read once a transaction."""
    return transaction_memo(db.session(), "default-stock-location", _default_stock_location)


def _default_stock_location() -> Location:
    ensure_locations()
    found = db.session.scalar(select(Location).where(
        Location.code == "WH/STOCK", Location.active.is_(True))) or db.session.scalar(
        select(Location).where(Location.kind == "internal", Location.active.is_(True))
        .order_by(Location.id).limit(1))
    if found is None:
        raise DomainError("No stock location is active; restore one on the locations page.",
                          field="location_id")
    return found


def internal_locations(active_only: bool = True) -> list[Location]:
    ensure_locations()
    query = select(Location).where(Location.kind == "internal")
    if active_only:
        query = query.where(Location.active.is_(True))
    return list(db.session.scalars(query.order_by(Location.code)))


def add_location(*, code: str, name: str, parent: Location | None = None) -> Location:
    """A new internal location (a shelf, a bin, a second warehouse's stock)."""
    code = (code or "").strip().upper()
    if not code:
        raise DomainError("Enter a code.", field="code")
    if len(code) > 40 or any(ch.isspace() for ch in code):
        raise DomainError("Use up to 40 characters without spaces.", field="code")
    if db.session.scalar(select(Location.id).where(Location.code == code)) is not None:
        raise DomainError(f"Location {code} already exists.", field="code")
    name = (name or "").strip()
    if not name:
        raise DomainError("Enter a name.", field="name")
    if parent is not None and parent.kind not in ("view", "internal"):
        raise DomainError("A sub-location belongs to a warehouse or another internal "
                          "location.", field="parent_id")
    found = Location(code=code, name=name, kind="internal", parent=parent)
    db.session.add(found)
    db.session.flush()
    return found


def update_location(found: Location, *, name: str, active: bool, version) -> Location:
    """Rename a location, or archive or restore it (version-checked).

    Only a location that holds stock (internal) can be archived, and only when nothing is
    on hand or reserved there: move its stock elsewhere first."""
    found.check_version(version)
    name = (name or "").strip()
    if not name:
        raise DomainError("Enter a name.", field="name")
    if len(name) > 100:
        raise DomainError("Use at most 100 characters.", field="name")
    if not active and found.active:
        if not found.is_internal:
            raise DomainError(f"{found.code} is needed by Tandem; only locations that hold "
                              "stock can be archived.", field="active")
        held = db.session.scalar(select(func.count()).select_from(StockLevel).where(
            StockLevel.location_id == found.id,
            (StockLevel.on_hand != 0) | (StockLevel.reserved != 0)))
        if held:
            raise DomainError(f"{found.code} still holds {held} product"
                              f"{'s' if held != 1 else ''}; move the stock elsewhere before "
                              "archiving it.", field="active")
    found.name = name
    found.active = bool(active)
    return found


class StockMove(db.Model):
    """A quantity of one product going from one location to another.

    Attributes:
        quantity: always above zero; the direction is from -> to.
        state: draft, reserved (held for a document, not yet moved), done, cancelled.
        unit_cost: cost per unit in the base currency when it moved (done moves).
        source_type, source_id: the document that caused it ("receipt", 12); reference:
            its human number ("PO-2026-0003").
        reason: why, for adjustments and corrections.
    """

    __tablename__ = "stock_moves"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity"),
        CheckConstraint(f"state IN {MOVE_STATES!r}", name="state"),
        CheckConstraint("from_location_id <> to_location_id", name="direction"),
        Index("ix_stock_moves_product_id_id", "product_id", "id"),
        Index("ix_stock_moves_source", "source_type", "source_id"),
        Index("ix_stock_moves_state_product", "state", "product_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="RESTRICT"))
    quantity: Mapped[Decimal] = mapped_column(Quantity())
    from_location_id: Mapped[int] = mapped_column(ForeignKey("locations.id",
                                                             ondelete="RESTRICT"))
    to_location_id: Mapped[int] = mapped_column(ForeignKey("locations.id",
                                                           ondelete="RESTRICT"))
    # active_history: setting the state of a loaded-then-expired move still records the
    # state it had, which the history guard below needs
    state: Mapped[str] = mapped_column(String(10), default="draft", active_history=True)
    unit_cost: Mapped[Decimal] = mapped_column(Money(4), default=Decimal("0.0000"))
    source_type: Mapped[str] = mapped_column(String(20), default="manual")
    source_id: Mapped[int | None] = mapped_column(Integer)
    reference: Mapped[str] = mapped_column(String(40), default="")
    reason: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id",
                                                                 ondelete="SET NULL"))
    done_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    product: Mapped[Product] = relationship(lazy="joined")
    from_location: Mapped[Location] = relationship(foreign_keys=[from_location_id],
                                                   lazy="joined")
    to_location: Mapped[Location] = relationship(foreign_keys=[to_location_id], lazy="joined")
    created_by: Mapped[User | None] = relationship(lazy="select")

    def __repr__(self) -> str:
        return f"<StockMove {self.id} {self.quantity} {self.state}>"

    @property
    def value(self) -> Decimal:
        return round_money(self.quantity * self.unit_cost)


@event.listens_for(Session, "before_flush")
def _refuse_changing_history(session, flush_context, instances):
    """A done or cancelled move is history: never edited, never deleted."""
    for obj in session.dirty:
        if isinstance(obj, StockMove) and session.is_modified(obj):
            committed = inspect(obj).attrs.state.history.deleted
            was = committed[0] if committed else obj.state
            if was in ("done", "cancelled"):
                raise DomainError("A done or cancelled stock move is never changed; "
                                  "correct it with a new move.")
    for obj in session.deleted:
        if isinstance(obj, StockMove):
            # only a draft (never reserved, never done) may go; judged by the state as
            # loaded, so setting it back to "draft" first does not help
            committed = inspect(obj).attrs.state.history.deleted
            if obj.state != "draft" or (committed and committed[0] != "draft"):
                raise DomainError("A stock move is never deleted; correct it with a new "
                                  "move.")


class StockLevel(db.Model):
    """On hand and reserved of one product at one internal location (derived)."""

    __tablename__ = "stock_levels"

    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"),
                                            primary_key=True)
    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id", ondelete="RESTRICT"),
                                             primary_key=True, index=True)
    on_hand: Mapped[Decimal] = mapped_column(Quantity(), default=ZERO)
    reserved: Mapped[Decimal] = mapped_column(Quantity(), default=ZERO)

    location: Mapped[Location] = relationship(lazy="joined")

    @property
    def available(self) -> Decimal:
        return self.on_hand - self.reserved


class ProductStock(db.Model):
    """A product's totals over all internal locations (derived), and its lock row."""

    __tablename__ = "product_stock"

    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"),
                                            primary_key=True)
    on_hand: Mapped[Decimal] = mapped_column(Quantity(), default=ZERO)
    reserved: Mapped[Decimal] = mapped_column(Quantity(), default=ZERO)

    @property
    def available(self) -> Decimal:
        return self.on_hand - self.reserved


@dataclass
class Availability:
    on_hand: Decimal
    reserved: Decimal

    @property
    def available(self) -> Decimal:
        return self.on_hand - self.reserved


def availability(product_ids) -> dict[int, Availability]:
    """{product id: Availability} in one query; products never stocked get zeros."""
    ids = list(product_ids)
    found = {pid: Availability(ZERO, ZERO) for pid in ids}
    if ids:
        for product_id, on_hand, reserved in db.session.execute(_AVAILABILITY, {"ids": ids}):
            found[product_id] = Availability(on_hand, reserved)
    return found


# built once (every quote and order page runs it), as rows rather than records
_AVAILABILITY = select(ProductStock.product_id, ProductStock.on_hand, ProductStock.reserved
                       ).where(ProductStock.product_id.in_(bindparam("ids", expanding=True)))


def levels_for(product_id: int) -> list[StockLevel]:
    """The product's stock per internal location (rows with nothing on hand or reserved
    left out)."""
    return list(db.session.scalars(
        select(StockLevel).join(Location, Location.id == StockLevel.location_id)
        .where(StockLevel.product_id == product_id,
               (StockLevel.on_hand != 0) | (StockLevel.reserved != 0))
        .order_by(Location.code)))


def has_stock_history(product_id: int) -> bool:
    return db.session.scalar(select(StockMove.id).where(
        StockMove.product_id == product_id, StockMove.state != "cancelled").limit(1)) is not None


# --- The one place stock figures change --------------------------------------------------

def lock_product(product: Product) -> ProductStock:
    """Take the product's stock lock for the rest of the transaction and return its
    totals row, read fresh (what committed before the lock was granted); the product
    itself is re-read in the same statement, so its cost is current.

    Once a transaction: under the lock, what the session holds of the two rows is what
    the database holds, so a second call (the next line of a shipment for the same
    product, a move completed after it was reserved) reads nothing."""
    return transaction_memo(db.session, ("stock lock", product.id),
                            lambda: _lock_product(product))


def lock_products(products) -> None:
    """Take the stock lock of several products in one order, by id, as every operation
    on more than one product does: two of them listing the same products in different
    orders then queue instead of deadlocking (PostgreSQL)."""
    for product in sorted(set(products), key=lambda product: product.id):
        lock_product(product)


def _lock_product(product: Product) -> ProductStock:
    db.session.flush()  # re-reading the product would drop unsaved changes
    row = db.session.execute(_locked_stock(), {"id": product.id}).first()
    if row is None:  # its first stock: the row, made once whoever gets there first
        db.session.execute(insert_ignore(ProductStock, product_id=product.id, on_hand=0,
                                         reserved=0))
        row = db.session.execute(_locked_stock(), {"id": product.id}).one()
    return row[0]


@cache
def _locked_stock():
    # Both rows locked: a row that waited for the lock is read again as it then stands
    # only if it is locked itself (PostgreSQL reads the rest of the join as of the
    # statement's start), and the product's cost and version must be the current ones.
    return (select(ProductStock, Product)
            .join(Product, Product.id == ProductStock.product_id)
            .where(ProductStock.product_id == bindparam("id"))
            .with_for_update(of=(ProductStock, Product))
            .execution_options(populate_existing=True))


def _level(product_id: int, location_id: int) -> StockLevel:
    """The product's level at the location (made if it has none yet), read fresh; the
    caller holds the product's lock."""
    query = (select(StockLevel).where(StockLevel.product_id == product_id,
                                      StockLevel.location_id == location_id)
             .execution_options(populate_existing=True))
    level = db.session.scalars(query).one_or_none()
    if level is None:
        db.session.execute(insert_ignore(StockLevel, product_id=product_id,
                                         location_id=location_id, on_hand=0, reserved=0))
        level = db.session.scalars(query).one()
    return level


def _check_move(product: Product, quantity: Decimal, source: Location,
                target: Location) -> None:
    if not product.is_stocked:
        raise DomainError(f"{product.sku} is a service; services have no stock.",
                          field="product_id")
    if quantity is None or quantity <= 0:
        raise DomainError("Enter a quantity above zero.", field="quantity")
    product.check_quantity(quantity)
    if source.id == target.id:
        raise DomainError("Choose two different locations.", field="to_location_id")
    if source.kind == "view" or target.kind == "view":
        raise DomainError(f"{source.code if source.kind == 'view' else target.code} only "
                          "groups locations; choose one that holds stock.",
                          field="to_location_id")


def _apply_done(move: StockMove, product: Product, totals: ProductStock,
                *, was_reserved: bool) -> None:
    """Add a move that becomes done to the derived figures, refusing to take a product
    below zero on hand (unless it allows backorders)."""
    quantity = move.quantity
    if move.from_location.is_internal:
        level = _level(product.id, move.from_location.id)
        if was_reserved:
            level.reserved -= quantity
            totals.reserved -= quantity
        if level.on_hand - quantity < 0 and not product.allow_backorder:
            raise DomainError(
                f"Only {level.on_hand.normalize():f} {product.unit} of {product.sku} on hand "
                f"at {move.from_location.code}; this would take it below zero.",
                field="quantity")
        level.on_hand -= quantity
        totals.on_hand -= quantity
    if move.to_location.is_internal:
        level = _level(product.id, move.to_location.id)
        level.on_hand += quantity
        totals.on_hand += quantity
    move.state = "done"
    move.done_at = utcnow()


def _new_move(product, quantity, source, target, *, state, unit_cost, source_type,
              source_id, reference, reason, by) -> StockMove:
    move = StockMove(product=product, quantity=quantity, from_location=source,
                     to_location=target, state=state, unit_cost=unit_cost,
                     source_type=source_type, source_id=source_id,
                     reference=(reference or "")[:40], reason=(reason or "").strip()[:200],
                     created_by_id=by.id if by else None, created_at=utcnow())
    db.session.add(move)
    return move


def move_stock(product: Product, quantity: Decimal, source: Location, target: Location, *,
               by: User | None = None, reason: str = "", source_type: str = "manual",
               source_id: int | None = None, reference: str = "") -> StockMove:
    """A done move at the product's current cost: a transfer between locations, stock
    out to a customer or an adjustment. Refused when it would take on hand below zero."""
    _check_move(product, quantity, source, target)
    totals = lock_product(product)
    move = _new_move(product, quantity, source, target, state="draft",
                     unit_cost=product.cost, source_type=source_type, source_id=source_id,
                     reference=reference, reason=reason, by=by)
    _apply_done(move, product, totals, was_reserved=False)
    db.session.flush()
    return move


def manual_move(product: Product, quantity: Decimal, source: Location, target: Location, *,
                reason: str, by: User | None = None) -> StockMove:
    """A move a person types: a transfer between locations that hold stock, a write-off
    to the adjustment location, or a take-in from it. Needs a reason; refused from or to
    an archived location, and it never takes stock reserved for documents (only what is
    available at the source moves)."""
    reason = (reason or "").strip()
    if not reason:
        raise DomainError("Say why (\"moved to shelf A\", \"damaged in storage\").",
                          field="reason")
    for found, field in ((source, "from_location_id"), (target, "to_location_id")):
        if found.kind not in ("internal", "adjustment"):
            raise DomainError("Move between locations that hold stock, or to or from the "
                              "inventory adjustment.", field=field)
        if not found.active:
            raise DomainError(f"{found.code} is archived.", field=field)
    _check_move(product, quantity, source, target)
    if source.is_internal:
        lock_product(product)
        level = _level(product.id, source.id)
        if level.reserved > 0 and quantity > level.available:
            free = max(level.available, ZERO)
            raise DomainError(
                f"Only {free.normalize():f} {product.unit} of {product.sku} at {source.code} "
                f"is free; {level.reserved.normalize():f} is reserved for orders.",
                field="quantity")
    move = move_stock(product, quantity, source, target, by=by, reason=reason,
                      source_type="manual")
    if "adjustment" in (source.kind, target.kind):
        from models.postings import post_adjustment

        post_adjustment([move], on=date.today(), source_type_id=("stock_move", move.id),
                        reference=f"MOVE-{move.id}", reason=reason, by=by)
    return move


def receive_stock(product: Product, quantity: Decimal, unit_cost: Decimal, *,
                  to: Location | None = None, by: User | None = None,
                  source_type: str = "receipt", source_id: int | None = None,
                  reference: str = "", reason: str = "") -> StockMove:
    """Stock arriving from the supplier location at `unit_cost` (base currency): a done
    move, and the product's moving-average cost updated."""
    target = to or default_stock_location()
    source = virtual_location("supplier")
    _check_move(product, quantity, source, target)
    if not target.is_internal:
        raise DomainError("Receive into a location that holds stock.", field="location_id")
    if unit_cost is None or unit_cost < 0:
        raise DomainError("Enter a unit cost of zero or more.", field="unit_cost")
    # rounded once: the average uses the cost the move records, so a replay of the
    # moves gives the same figure
    unit_cost = unit_cost.quantize(COST_PLACES, rounding=ROUND_HALF_UP)
    totals = lock_product(product)
    product.cost = moving_average(totals.on_hand, product.cost, quantity, unit_cost)
    move = _new_move(product, quantity, source, target, state="draft",
                     unit_cost=unit_cost,
                     source_type=source_type, source_id=source_id, reference=reference,
                     reason=reason, by=by)
    _apply_done(move, product, totals, was_reserved=False)
    db.session.flush()
    return move


def moving_average(on_hand: Decimal, cost: Decimal, received: Decimal,
                   unit_cost: Decimal) -> Decimal:
    """The cost per unit after a receipt, half-up to 1/100 of a cent. Stock at or below
    zero carries no value to average with: the new cost is the receipt's."""
    if on_hand <= 0:
        return Decimal(unit_cost).quantize(COST_PLACES, rounding=ROUND_HALF_UP)
    average = (on_hand * cost + received * unit_cost) / (on_hand + received)
    return average.quantize(COST_PLACES, rounding=ROUND_HALF_UP)


def reserve_stock(product: Product, quantity: Decimal, *, to: Location | None = None,
                  by: User | None = None, source_type: str, source_id: int | None,
                  reference: str = "", partial: bool = True) -> tuple[list[StockMove], Decimal]:
    """Hold stock for a document: reserved moves from internal locations (the one with
    the most available first) towards `to` (the customer location by default).

    Returns (moves, quantity not reserved). With partial False, refuses unless all of
    it is available. Backorder products are reserved only up to what is available; the
    rest waits for a receipt.
    """
    target = to or virtual_location("customer")
    if not product.is_stocked:
        raise DomainError(f"{product.sku} is a service; services have no stock.")
    if quantity is None or quantity <= 0:
        raise DomainError("Enter a quantity above zero.", field="quantity")
    product.check_quantity(quantity)
    totals = lock_product(product)
    levels = db.session.scalars(
        select(StockLevel).join(Location, Location.id == StockLevel.location_id)
        .where(StockLevel.product_id == product.id, Location.kind == "internal",
               Location.active.is_(True), StockLevel.on_hand > StockLevel.reserved,
               Location.id != target.id)
        .order_by((StockLevel.on_hand - StockLevel.reserved).desc(), Location.id)
        .execution_options(populate_existing=True)).all()
    wanted = quantity
    available = sum((level.available for level in levels), ZERO)
    if available < wanted and not partial:
        raise DomainError(
            f"Only {max(available, ZERO).normalize():f} {product.unit} of {product.sku} "
            "available.", field="quantity")
    moves = []
    for level in levels:
        if wanted <= 0:
            break
        take = min(level.available, wanted)
        move = _new_move(product, take, level.location, target, state="reserved",
                         unit_cost=product.cost, source_type=source_type,
                         source_id=source_id, reference=reference, reason="", by=by)
        level.reserved += take
        totals.reserved += take
        wanted -= take
        moves.append(move)
    db.session.flush()
    return moves, wanted


def complete_move(move: StockMove, quantity: Decimal | None = None, *,
                  by: User | None = None, reference: str | None = None,
                  fresh: bool = False) -> StockMove:
    """Turn a reserved (or draft) move into a done one at the current cost. With a
    smaller `quantity`, that much is done and the rest stays reserved as a new move.
    `reference` replaces the move's (a shipment's number for the part that ships).
    `fresh` says the caller read the move after taking its product's lock, so it is not
    read again."""
    if move.state not in ("draft", "reserved"):
        raise DomainError(f"This move is already {move.state}.")
    product = move.product
    totals = lock_product(product)
    if not fresh:
        db.session.refresh(move)
    if move.state not in ("draft", "reserved"):
        raise DomainError(f"This move is already {move.state}.")
    quantity = move.quantity if quantity is None else quantity
    if quantity <= 0 or quantity > move.quantity:
        raise DomainError(f"Enter a quantity from 0 to {move.quantity.normalize():f}.",
                          field="quantity")
    product.check_quantity(quantity)
    was_reserved = move.state == "reserved"
    rest = move.quantity - quantity
    if rest > 0:
        # Split: the rest keeps its reservation in a new move, this one shrinks.
        _new_move(product, rest, move.from_location, move.to_location, state=move.state,
                  unit_cost=move.unit_cost, source_type=move.source_type,
                  source_id=move.source_id, reference=move.reference, reason=move.reason,
                  by=by)
        move.quantity = quantity
    # _apply_done releases `quantity` of the reservation; the rest stays reserved, now
    # carried by the split-off move.
    _apply_done(move, product, totals, was_reserved=was_reserved)
    move.unit_cost = product.cost  # set after the levels are read: one UPDATE of the move
    if reference is not None:
        move.reference = reference[:40]
    db.session.flush()
    return move


def cancel_move(move: StockMove, *, by: User | None = None) -> StockMove:
    """Cancel a draft or reserved move, releasing its reservation."""
    if move.state == "cancelled":
        return move
    if move.state == "done":
        raise DomainError("A done move cannot be cancelled; correct it with a new move.")
    totals = lock_product(move.product)
    db.session.refresh(move)
    if move.state == "done":  # shipped by someone else while we waited for the lock
        raise DomainError("A done move cannot be cancelled; correct it with a new move.")
    if move.state == "reserved":
        level = _level(move.product_id, move.from_location_id)
        level.reserved -= move.quantity
        totals.reserved -= move.quantity
    if move.state in ("draft", "reserved"):
        move.state = "cancelled"
    db.session.flush()
    return move


# --- Counts ------------------------------------------------------------------------------

class StockCount(db.Model):
    """A physical count at one location: what was counted, what the books said, and the
    adjustment moves that made them agree."""

    __tablename__ = "stock_counts"

    id: Mapped[int] = mapped_column(primary_key=True)
    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id", ondelete="RESTRICT"),
                                             index=True)
    reason: Mapped[str] = mapped_column(String(200), default="")
    counted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    counted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id",
                                                                 ondelete="SET NULL"))

    location: Mapped[Location] = relationship(lazy="joined")
    counted_by: Mapped[User | None] = relationship(lazy="joined")
    lines: Mapped[list["StockCountLine"]] = relationship(
        back_populates="count", cascade="all, delete-orphan", order_by="StockCountLine.id")


class StockCountLine(db.Model):
    __tablename__ = "stock_count_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    count_id: Mapped[int] = mapped_column(ForeignKey("stock_counts.id", ondelete="CASCADE"),
                                          index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="RESTRICT"))
    expected: Mapped[Decimal] = mapped_column(Quantity())
    counted: Mapped[Decimal] = mapped_column(Quantity())
    move_id: Mapped[int | None] = mapped_column(ForeignKey("stock_moves.id",
                                                           ondelete="RESTRICT"))

    count: Mapped[StockCount] = relationship(back_populates="lines")
    product: Mapped[Product] = relationship(lazy="joined")

    @property
    def difference(self) -> Decimal:
        return self.counted - self.expected


def record_count(at: Location, counted: dict[Product, Decimal], *, reason: str,
                 by: User | None = None) -> StockCount:
    """Record counted quantities at a location; each difference from the books becomes
    an adjustment move (from or to the adjustment location) with the reason."""
    reason = (reason or "").strip()
    if not reason:
        raise DomainError("Say why (\"year-end count\", \"damaged in storage\").",
                          field="reason")
    if not at.is_internal:
        raise DomainError("Count at a location that holds stock.", field="location_id")
    if not counted:
        raise DomainError("Enter at least one counted quantity.")
    adjust = virtual_location("adjustment")
    count = StockCount(location=at, reason=reason[:200], counted_by_id=by.id if by else None)
    db.session.add(count)
    db.session.flush()
    lock_products(product for product in counted if product.is_stocked)
    moves = []
    for product, quantity in sorted(counted.items(), key=lambda item: item[0].sku_key):
        if quantity is None or quantity < 0:
            raise DomainError(f"{product.sku}: enter a counted quantity of zero or more.")
        if not product.is_stocked:
            raise DomainError(f"{product.sku} is a service; services are not counted.")
        product.check_quantity(quantity, field=f"count-{product.id}")
        totals = lock_product(product)
        level = _level(product.id, at.id)
        expected = level.on_hand
        line = StockCountLine(count=count, product=product, expected=expected,
                              counted=quantity)
        db.session.add(line)
        difference = quantity - expected
        if difference:
            source, target = (adjust, at) if difference > 0 else (at, adjust)
            move = _new_move(product, abs(difference), source, target, state="draft",
                             unit_cost=product.cost, source_type="count",
                             source_id=count.id, reference=f"COUNT-{count.id}",
                             reason=reason, by=by)
            # never below zero: the count itself is zero or more
            _apply_done(move, product, totals, was_reserved=False)
            db.session.flush()
            line.move_id = move.id
            moves.append(move)
    db.session.flush()
    from models.postings import post_adjustment

    post_adjustment(moves, on=date.today(), source_type_id=("count", count.id),
                    reference=f"COUNT-{count.id}", reason=reason, by=by)
    return count


# --- Reading -----------------------------------------------------------------------------

def moves_for_product(product_id: int, limit: int = 100) -> list[StockMove]:
    """The product's moves, newest first."""
    return list(db.session.scalars(
        select(StockMove).where(StockMove.product_id == product_id)
        .order_by(StockMove.id.desc()).limit(limit)))


@dataclass
class ValuationRow:
    product: Product
    on_hand: Decimal
    value: Decimal


def stock_valuation() -> tuple[list[ValuationRow], Decimal]:
    """The value of stock on hand per product (on hand x moving-average cost, half-up to
    the cent per product) and the total."""
    rows = []
    total = Decimal("0.00")
    for product, on_hand in db.session.execute(
            select(Product, ProductStock.on_hand)
            .join(ProductStock, ProductStock.product_id == Product.id)
            .where(ProductStock.on_hand != 0).order_by(Product.sku_key)):
        value = round_money(on_hand * product.cost)
        rows.append(ValuationRow(product, on_hand, value))
        total += value
    return rows, total


def level_drift() -> list[str]:
    """Compare the kept figures with a recount from the moves; [] when they agree."""
    problems = []
    expected: dict[tuple[int, int], list[Decimal]] = {}
    moves = db.session.execute(
        select(StockMove.product_id, StockMove.from_location_id, StockMove.to_location_id,
               StockMove.state, StockMove.quantity)
        .where(StockMove.state.in_(("done", "reserved")))).all()
    internal = set(db.session.scalars(select(Location.id).where(Location.kind == "internal")))
    for product_id, source, target, state, quantity in moves:
        if state == "done":
            if source in internal:
                expected.setdefault((product_id, source), [ZERO, ZERO])[0] -= quantity
            if target in internal:
                expected.setdefault((product_id, target), [ZERO, ZERO])[0] += quantity
        elif source in internal:
            expected.setdefault((product_id, source), [ZERO, ZERO])[1] += quantity
    kept = {(row.product_id, row.location_id): [row.on_hand, row.reserved]
            for row in db.session.scalars(select(StockLevel))}
    for key in sorted(set(expected) | set(kept)):
        want = expected.get(key, [ZERO, ZERO])
        have = kept.get(key, [ZERO, ZERO])
        if want != have:
            problems.append(f"product {key[0]} at location {key[1]}: moves say on hand "
                            f"{want[0]} reserved {want[1]}, kept {have[0]} / {have[1]}")
    totals: dict[int, list[Decimal]] = {}
    for (product_id, _), (on_hand, reserved) in expected.items():
        entry = totals.setdefault(product_id, [ZERO, ZERO])
        entry[0] += on_hand
        entry[1] += reserved
    kept_totals = {row.product_id: [row.on_hand, row.reserved]
                   for row in db.session.scalars(select(ProductStock))}
    for product_id in sorted(set(totals) | set(kept_totals)):
        want = totals.get(product_id, [ZERO, ZERO])
        have = kept_totals.get(product_id, [ZERO, ZERO])
        if want != have:
            problems.append(f"product {product_id} totals: moves say {want[0]} / {want[1]}, "
                            f"kept {have[0]} / {have[1]}")
    return problems

