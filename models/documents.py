"""What quotes, sales orders (and later invoices) share: priced lines and their totals.

Rounding is per line, half-up to the currency's smallest unit: a line's net is
quantity x unit price less its discount, rounded once; its tax is that net x the tax
percent, rounded once. The document's net, tax per rate and total are sums of the
rounded line figures, so the PDF, the page and the books always add up to the cent.
"""

from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import lazyload, selectinload

from models import db
from models.company import currency_places
from models.transactions import holds_earlier_reads, transaction_memo
from models.types import round_money

HUNDRED = Decimal(100)


def lock_document(document):
    """Re-read a document under a row lock (SELECT ... FOR UPDATE on PostgreSQL) for the
    rest of the transaction, so a rule sees what a concurrent transaction committed
    before it.

    On SQLite there is nothing to re-read: a POST's transaction took the database's one
    write lock when it began (BEGIN IMMEDIATE), so what it has read is already the
    newest, and a deferred transaction reads one snapshot throughout, refreshed or not;
    unless the session still holds what an earlier transaction read.

    Locked again in the same transaction (a view locks, then the rule it calls), it is
    not read a second time: no one else can have changed it under the lock."""
    model = type(document)

    def lock():
        db.session.flush()  # a refresh would drop unsaved changes
        if _must_read_locked():
            _take_row_lock(model, document.id)
            db.session.refresh(document)
        return True

    transaction_memo(db.session, ("locked", model.__name__, document.id), lock)
    return document


def get_locked(model, ident: int, *, options=()):
    """The document `ident` (None if there is none) read once, under its row lock, for
    a view about to change it: where loading it and then locking it (`lock_document`)
    reads it twice on PostgreSQL. The rule the view calls finds it locked."""
    session = db.session
    if not _must_read_locked():
        found = session.get(model, ident, options=options)
    else:
        session.flush()
        if not _take_row_lock(model, ident):
            return None
        found = session.get(model, ident, options=options, populate_existing=True)
    if found is not None:
        transaction_memo(session, ("locked", model.__name__, ident), lambda: True)
    return found


def _must_read_locked() -> bool:
    """Whether a document must be locked and read again to be current: always on
    PostgreSQL; on SQLite only when the session holds what an earlier transaction read
    (a POST's own transaction holds the write lock from its first statement)."""
    return (db.session.get_bind().dialect.name != "sqlite"
            or holds_earlier_reads(db.session))


def _take_row_lock(model, ident: int) -> bool:
    """SELECT … FOR UPDATE the row; False when there is none."""
    return db.session.execute(select(model.id).where(model.id == ident)
                              .with_for_update()).first() is not None


def without_joined(model) -> list:
    """Loader options that leave out every relation `model` joins by default."""
    mapper = model.__mapper__
    return [lazyload(getattr(model, rel.key)) for rel in mapper.relationships
            if rel.lazy == "joined"]


def lines_for_totals(lines):
    """selectinload(document.lines) for a list that shows each document's totals: the
    lines' own quantities, prices and tax percents, without the product, tax rate or
    account each line would otherwise join (several records a line, none of them shown)."""
    return selectinload(lines).options(*without_joined(lines.property.mapper.class_))


class ProductLine:
    """A document line that names a product, or only a description (a service, freight)."""

    @property
    def label(self) -> str:
        if self.product is not None:
            return f"{self.product.sku} · {self.description or self.product.name}"
        return self.description

    @property
    def unit(self) -> str:
        return self.product.unit if self.product is not None else ""

    @property
    def is_stocked(self) -> bool:
        return self.product is not None and self.product.is_stocked


class PricedLine(ProductLine):
    """A line with quantity, unit_price, discount_percent and tax_percent columns, on a
    document that has a `currency`."""

    @property
    def places(self) -> int:
        return currency_places(self.document.currency)

    @property
    def gross_amount(self) -> Decimal:
        """Quantity x unit price, before the discount."""
        return round_money(self.quantity * self.unit_price, self.places)

    @property
    def net(self) -> Decimal:
        """Quantity x unit price less the discount, half-up to the currency's unit."""
        factor = (HUNDRED - (self.discount_percent or 0)) / HUNDRED
        return round_money(self.quantity * self.unit_price * factor, self.places)

    @property
    def discount_amount(self) -> Decimal:
        return self.gross_amount - self.net

    @property
    def tax(self) -> Decimal:
        return round_money(self.net * self.tax_percent / HUNDRED, self.places)

    @property
    def total(self) -> Decimal:
        return self.net + self.tax


class DocumentTotals:
    """Net, tax per rate, tax and total from a document's `lines`."""

    @property
    def net(self) -> Decimal:
        return sum((line.net for line in self.lines), Decimal(0))

    @property
    def tax_breakdown(self) -> list[tuple[str, Decimal, Decimal]]:
        """[(rate label, net taxed at it, tax)] per tax percent, from the per-line taxes."""
        sums: dict[Decimal, list[Decimal]] = {}
        for line in self.lines:
            figures = sums.setdefault(line.tax_percent, [Decimal(0), Decimal(0)])
            figures[0] += line.net
            figures[1] += line.tax
        return [(f"{percent.normalize():f}%", net, tax)
                for percent, (net, tax) in sorted(sums.items())]

    @property
    def tax(self) -> Decimal:
        return sum((line.tax for line in self.lines), Decimal(0))

    @property
    def total(self) -> Decimal:
        return self.net + self.tax
