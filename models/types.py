"""Exact money in SQL on both databases.

SQLite has no decimal type: a Numeric column is stored as a float there and SQL sums
drift. `Money` stores an amount as a scaled integer (cents by default) and hands Python
a `Decimal`, so `SUM()` stays exact on SQLite and PostgreSQL alike, over any number of
rows. Rounding is never implicit: a value with more decimals than the column keeps is
refused, and callers round with `round_money` (half-up) where the rules say so.
"""

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from sqlalchemy import BigInteger
from sqlalchemy.types import TypeDecorator

CENT = Decimal("0.01")
# The largest amount anyone may type: a trillion, well inside a BIGINT of cents.
MAX_AMOUNT = Decimal("1e12")
_THOUSANDS = re.compile(r"[-+]?\d{1,3}(,\d{3})+(\.\d*)?")


def round_money(value: Decimal | int | str, places: int = 2) -> Decimal:
    """Round half-up to `places` decimals (the cent by default)."""
    return Decimal(value).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def parse_money(text: str, places: int = 2) -> Decimal:
    """Parse a typed amount ("1,250.50", " 30 ") into a Decimal, refusing junk.

    Raises ValueError with a sentence a person can act on.
    """
    cleaned = (text or "").strip().replace(" ", "")
    if "," in cleaned:
        # A comma only separates thousands ("1,250.50"); "1,5" is a decimal comma we
        # refuse rather than read as 15.
        if not _THOUSANDS.fullmatch(cleaned):
            raise ValueError("Use a point for decimals, like 1.5.")
        cleaned = cleaned.replace(",", "")
    if not cleaned:
        raise ValueError("Enter an amount.")
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise ValueError("Enter a number, like 1250.00.") from None
    if not value.is_finite():
        raise ValueError("Enter a number, like 1250.00.")
    # adjusted() is the power of ten of the first digit: no arithmetic, so "1e999999999"
    # cannot overflow the decimal context before it is refused
    if value.adjusted() >= MAX_AMOUNT.adjusted():
        raise ValueError("That amount is out of range.")
    if value != value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP):
        raise ValueError(f"Use at most {places} decimals.")
    return value.quantize(Decimal(1).scaleb(-places))


class Money(TypeDecorator):
    """A Decimal amount stored as an integer count of 10**-scale units."""

    impl = BigInteger
    cache_ok = True

    # The largest amount we accept: keeps the scaled integer well inside BIGINT.
    LIMIT = Decimal("1e15")

    def __init__(self, scale: int = 2):
        super().__init__()
        self.scale = scale

    @property
    def python_type(self):
        return Decimal

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if isinstance(value, float):
            raise TypeError("Money never takes a float; pass a Decimal")
        value = Decimal(value)
        if not value.is_finite() or abs(value) >= self.LIMIT:
            raise ValueError(f"{value} is out of range for an amount")
        exponent = Decimal(1).scaleb(-self.scale)
        if value != value.quantize(exponent):
            raise ValueError(f"{value} has more than {self.scale} decimals; round it first")
        return int(value.scaleb(self.scale))

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return Decimal(int(value)).scaleb(-self.scale).quantize(Decimal(1).scaleb(-self.scale))

    def coerce_compared_value(self, op, value):
        # Compare against literals through our own bind processing (scaled integers).
        return self


class Quantity(Money):
    """A quantity of a product: three decimals (kilograms to the gram), exact in SQL."""

    cache_ok = True

    def __init__(self, scale: int = 3):
        super().__init__(scale)


def parse_quantity(text: str, *, whole: bool, allow_zero: bool = False) -> Decimal:
    """Parse a typed quantity, refusing junk, negatives, and fractions of whole units.

    whole: the unit is counted in whole pieces (no "1.5 boxes").
    Raises ValueError with a sentence a person can act on.
    """
    try:
        value = parse_money(text, places=3)
    except ValueError as exc:
        if str(exc).startswith("Use at most"):
            raise ValueError("Use at most 3 decimals.") from None
        if str(exc) == "Enter an amount.":
            raise ValueError("Enter a quantity.") from None
        raise
    if value < 0:
        raise ValueError("Enter a quantity of zero or more." if allow_zero
                         else "Enter a quantity above zero.")
    if value == 0 and not allow_zero:
        raise ValueError("Enter a quantity above zero.")
    if whole and value != value.to_integral_value():
        raise ValueError("This unit is counted in whole pieces.")
    return value
