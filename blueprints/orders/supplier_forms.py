"""Forms of suppliers: the supplier itself, a contact at it, archive/restore."""

from flask_wtf import FlaskForm
from wtforms import EmailField, HiddenField, SelectField, StringField, TextAreaField
from wtforms.validators import AnyOf, DataRequired, Email, Length, Optional

from blueprints.forms import NoControlChars, choices
from models.company import CURRENCIES
from models.customers import PAYMENT_TERMS

TEXT = [NoControlChars()]


def terms_label(days: int) -> str:
    return "Due on receipt" if days == 0 else f"Net {days} days"


def terms_choices(current: int | None = None):
    """PAYMENT_TERMS as choices, plus a supplier's own odd value so it stays selectable."""
    days = list(PAYMENT_TERMS)
    if current is not None and current not in days:
        days = sorted([*days, current])
    return choices([(d, terms_label(d)) for d in days])


def _email():
    return EmailField("Email", validators=[
        Optional(), Length(max=254, message="Use at most 254 characters."),
        Email("Enter a valid email address.", check_deliverability=False)])


def _text(label, size, **kwargs):
    return StringField(label, validators=[
        Optional(), Length(max=size, message=f"Use at most {size} characters."), *TEXT],
        **kwargs)


class SupplierForm(FlaskForm):
    version = HiddenField()
    name = StringField("Name", validators=[
        DataRequired("Enter the supplier's name."),
        Length(max=200, message="Use at most 200 characters."), *TEXT])
    email = _email()
    phone = _text("Phone", 40)
    street = _text("Street", 200)
    postal_code = _text("Postal code", 20)
    city = _text("City", 100)
    country = _text("Country", 100)
    tax_id = _text("Tax id", 64)
    currency = SelectField("Currency they bill in", choices=choices([(c, c) for c in CURRENCIES]))
    payment_terms_days = SelectField("Payment terms", coerce=int)
    notes = TextAreaField("Notes", validators=[
        Optional(), Length(max=10000, message="Use at most 10,000 characters."), *TEXT])


class SupplierContactForm(FlaskForm):
    name = StringField("Name", validators=[
        DataRequired("Enter the contact's name."),
        Length(max=200, message="Use at most 200 characters."), *TEXT])
    role = _text("Role", 100, description="What they do for us: sales, accounts, dispatch.")
    email = _email()
    phone = _text("Phone", 40)


class ArchiveForm(FlaskForm):
    version = HiddenField()
    action = HiddenField(validators=[AnyOf(("archive", "restore"),
                                           message="Choose archive or restore.")])
