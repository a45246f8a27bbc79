"""Company settings: who we are, printed on quotes and invoices; edited by admin."""

from datetime import date

from sqlalchemy import Date, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models import db
from models.versioned import Versioned

CURRENCIES = ("EUR", "USD", "GBP", "CHF", "CAD", "AUD", "SEK", "NOK", "DKK", "PLN", "CZK", "JPY")
# Currencies without the usual two decimals (ISO 4217 minor units); all others have 2.
MINOR_UNITS = {"JPY": 0}
LOGO_TYPES = {b"\x89PNG\r\n\x1a\n": "image/png", b"\xff\xd8\xff": "image/jpeg"}
MAX_LOGO_BYTES = 512 * 1024


class CompanySettings(Versioned, db.Model):
    """The one row of company settings.

    Attributes:
        name, address, tax_id: the seller's legal details for documents.
        base_currency: ISO 4217 code of the books; new customers default to it.
        payment_instructions: printed on invoices (bank, IBAN, reference).
        quote_terms: the terms new quotes start with; quote_valid_days: how long a new
            quote is valid.
        logo, logo_type: PNG or JPEG bytes and their media type; None when unset.
        lock_date: the books are closed up to and including this day (finance sets it);
            None when no period is closed.
    """

    __tablename__ = "company_settings"
    __audit__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), default="My Company")
    address: Mapped[str] = mapped_column(Text, default="")
    tax_id: Mapped[str] = mapped_column(String(64), default="")
    base_currency: Mapped[str] = mapped_column(String(3), default="EUR")
    payment_instructions: Mapped[str] = mapped_column(Text, default="")
    quote_terms: Mapped[str] = mapped_column(Text, default="")
    quote_valid_days: Mapped[int] = mapped_column(Integer, default=30)
    logo: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    logo_type: Mapped[str | None] = mapped_column(String(32))
    lock_date: Mapped[date | None] = mapped_column(Date)

    @property
    def audit_subject(self):
        return ("company", 1)

    def keep(self) -> "CompanySettings":
        """Hold on to these settings for the rest of the session (however they were
        read), so that current() finds them in the identity map."""
        db.session().info["tandem.company"] = self
        return self

    @classmethod
    def current(cls) -> "CompanySettings":
        """The saved settings, or unsaved defaults when none were saved yet.

        The session keeps a strong reference to them: its identity map holds rows only
        while something else does, and without one every call would read them again."""
        found = db.session.get(cls, 1)
        if found is not None:
            return found.keep()
        return cls(id=1, name="My Company", address="", tax_id="", base_currency="EUR",
                   payment_instructions="", quote_terms="", quote_valid_days=30,
                   lock_date=None)


def currency_places(code: str) -> int:
    """How many decimals amounts in `code` have: 2, or 0 for the yen."""
    return MINOR_UNITS.get(code, 2)


def logo_type_of(data: bytes) -> str | None:
    """The media type of a PNG or JPEG by its first bytes, or None."""
    for magic, media_type in LOGO_TYPES.items():
        if data.startswith(magic):
            return media_type
    return None
