"""Form pieces shared by blueprints."""

from decimal import Decimal

from wtforms import SelectChoice, StringField
from wtforms.validators import StopValidation, ValidationError

from models.types import parse_money


class MoneyField(StringField):
    """A typed amount parsed into a Decimal (never a float), cents at most."""

    def __init__(self, label=None, validators=None, places: int = 2, **kwargs):
        super().__init__(label, validators, **kwargs)
        self.places = places

    def process_formdata(self, valuelist):
        self.raw = valuelist[0] if valuelist else ""
        self.data = None
        if self.raw.strip():
            try:
                self.data = parse_money(self.raw, self.places)
            except ValueError as error:
                self.data = None
                raise ValueError(str(error)) from None

    def pre_validate(self, form):
        # A parse error ("Enter a number") is the message; skip "required" and the rest.
        if self.process_errors:
            raise StopValidation()

    def _value(self):
        if self.raw_data:
            return self.raw_data[0]
        return "" if self.data is None else f"{self.data:.{self.places}f}"


class NotNegative:
    def __call__(self, form, field):
        if field.data is not None and field.data < Decimal(0):
            raise ValidationError("Enter zero or more.")


class NoControlChars:
    """Refuse invisible control characters (tabs and newlines aside) in typed text."""

    def __call__(self, form, field):
        if field.data and any(ord(ch) < 32 and ch not in "\t\r\n" for ch in field.data):
            raise ValidationError("Remove the invisible control characters.")


class SingleLine:
    """Refuse line breaks in a one-line field (a mail subject must not carry headers)."""

    def __call__(self, form, field):
        if field.data and ("\r" in field.data or "\n" in field.data):
            raise ValidationError("Keep this on one line.")


def choices(pairs) -> list[SelectChoice]:
    """(value, label) pairs as WTForms select choices."""
    return [SelectChoice(str(value) if not isinstance(value, int) else value, label)
            for value, label in pairs]
