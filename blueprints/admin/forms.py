from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (
    BooleanField,
    EmailField,
    HiddenField,
    IntegerField,
    PasswordField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Email, Length, NumberRange, Optional

from blueprints.forms import choices
from models.company import CURRENCIES
from models.users import MAX_PASSWORD, MIN_PASSWORD, ROLE_LABELS

ROLE_CHOICES = list(ROLE_LABELS.items())
PASSWORD_RULES = [
    DataRequired("Enter a password."),
    Length(min=MIN_PASSWORD, max=MAX_PASSWORD,
           message=f"Use {MIN_PASSWORD} to {MAX_PASSWORD} characters."),
]


class NewUserForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired("Enter an email address."),
                                            Length(max=254),
                                            Email("Enter a valid email address.",
                                                  check_deliverability=False)])
    name = StringField("Name", validators=[DataRequired("Enter a name."), Length(max=120)])
    role = SelectField("Role", choices=choices(ROLE_CHOICES))
    password = PasswordField("Temporary password", validators=PASSWORD_RULES,
                             description="They choose their own at first sign-in.")


class RoleForm(FlaskForm):
    role = SelectField("Role", choices=choices(ROLE_CHOICES))


class TemporaryPasswordForm(FlaskForm):
    password = PasswordField("Temporary password", validators=PASSWORD_RULES)


class CompanyForm(FlaskForm):
    version = HiddenField()
    name = StringField("Company name", validators=[DataRequired("Enter the company name."),
                                                   Length(max=200)])
    address = TextAreaField("Address", validators=[Optional(), Length(max=1000)])
    tax_id = StringField("Tax id (VAT number)", validators=[Optional(), Length(max=64)])
    base_currency = SelectField("Base currency", choices=choices([(c, c) for c in CURRENCIES]))
    payment_instructions = TextAreaField("Payment instructions",
                                         validators=[Optional(), Length(max=2000)],
                                         description="Printed on invoices: bank, IBAN, reference.")
    quote_terms = TextAreaField("Quote terms", validators=[Optional(), Length(max=5000)],
                                description="New quotes start with these terms: payment, "
                                            "delivery, warranty.")
    quote_valid_days = IntegerField(
        "Quotes are valid for (days)", default=30, description="30 when left empty.",
        validators=[Optional(), NumberRange(1, 366, "Enter from 1 to 366 days.")])
    logo = FileField("Logo (PNG or JPEG, at most 512 KB)")
    remove_logo = BooleanField("Remove the logo")
