from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    HiddenField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Email, InputRequired, Length, Optional

from blueprints.forms import MoneyField, NoControlChars, NotNegative, choices
from models.company import CURRENCIES
from models.customers import KINDS, LIFECYCLES, PAYMENT_TERMS

TEXT = [NoControlChars()]


def _email():
    return EmailField("Email", validators=[Optional(), Length(max=254),
                                           Email("Enter a valid email address.",
                                                 check_deliverability=False)])


class IdentityForm(FlaskForm):
    version = HiddenField()
    name = StringField("Name", validators=[DataRequired("Enter a name."),
                                           Length(max=200, message="Use at most 200 characters."),
                                           *TEXT])
    kind = SelectField("Kind", choices=choices([(k, k.capitalize()) for k in KINDS]))
    email = _email()
    phone = StringField("Phone", validators=[Optional(), Length(max=40), *TEXT])
    street = StringField("Street", validators=[Optional(), Length(max=200), *TEXT])
    postal_code = StringField("Postal code", validators=[Optional(), Length(max=20), *TEXT])
    city = StringField("City", validators=[Optional(), Length(max=100), *TEXT])
    country = StringField("Country", validators=[Optional(), Length(max=100), *TEXT])


class NewCustomerForm(IdentityForm):
    owner_id = SelectField("Owner", coerce=str, validate_choice=True)
    lifecycle = SelectField("Lifecycle", choices=choices([(s, s.capitalize()) for s in LIFECYCLES]))
    source = StringField("Source or campaign", validators=[Optional(), Length(max=100), *TEXT])
    confirm_duplicates = HiddenField()


class RelationshipForm(FlaskForm):
    version = HiddenField()
    owner_id = SelectField("Owner", coerce=str, validate_choice=True)
    lifecycle = SelectField("Lifecycle", choices=choices([(s, s.capitalize()) for s in LIFECYCLES]))
    source = StringField("Source or campaign", validators=[Optional(), Length(max=100), *TEXT])
    tags = StringField("Tags", validators=[Optional(), Length(max=500), *TEXT],
                       description="Separate tags with commas.")
    rating = SelectField("Rating", choices=choices(
        [("", "Not rated")] + [(str(n), f"{n} of 5") for n in range(1, 6)]))
    notes = TextAreaField("Notes", validators=[Optional(), Length(max=10000), *TEXT])


class FinancialForm(FlaskForm):
    version = HiddenField()
    account_code = StringField("Account code", validators=[
        DataRequired("Enter an account code."), Length(max=20), *TEXT])
    billing_address = TextAreaField("Billing address", validators=[
        Optional(), Length(max=1000), *TEXT], description="Leave empty to bill the main address.")
    tax_id = StringField("Tax id", validators=[Optional(), Length(max=64), *TEXT])
    currency = SelectField("Currency", choices=choices([(c, c) for c in CURRENCIES]))
    payment_terms_days = SelectField(
        "Payment terms", coerce=int,
        choices=choices([(d, "Due on receipt" if d == 0 else f"Net {d} days") for d in PAYMENT_TERMS]))
    credit_limit = MoneyField("Credit limit", validators=[
        InputRequired("Enter a credit limit (0 for cash only)."), NotNegative()])
    on_hold = BooleanField("On hold (no new orders)")
    hold_reason = StringField("Reason for the hold", validators=[
        Optional(), Length(max=500), *TEXT])


class ContactForm(FlaskForm):
    version = HiddenField()
    name = StringField("Name", validators=[DataRequired("Enter the contact's name."),
                                           Length(max=200, message="Use at most 200 characters."),
                                           *TEXT])
    job_title = StringField("Job title", validators=[Optional(), Length(max=120), *TEXT])
    email = _email()
    phone = StringField("Phone", validators=[Optional(), Length(max=40), *TEXT])
    is_primary = BooleanField("Primary contact")
