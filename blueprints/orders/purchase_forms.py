"""Forms of purchasing: a new order, its header, a line, send/cancel, a receipt, a bill."""

from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, HiddenField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from blueprints.forms import MoneyField, NoControlChars, NotNegative

TEXT = [NoControlChars()]
RATE_HINT = "How much one unit of the supplier's currency costs in the base currency."


def _notes(label="Notes", size=10000):
    return TextAreaField(label, validators=[
        Optional(), Length(max=size, message=f"Use at most {size:,} characters."), *TEXT])


class NewPurchaseForm(FlaskForm):
    supplier_id = SelectField("Supplier", coerce=str, validate_choice=True,
                              validators=[DataRequired("Choose a supplier.")])
    expected_on = DateField("Expected on", validators=[Optional()])
    exchange_rate = MoneyField("Exchange rate", places=6, description=RATE_HINT,
                               render_kw={"inputmode": "decimal"})
    notes = _notes()


class HeaderForm(FlaskForm):
    version = HiddenField()
    expected_on = DateField("Expected on", validators=[Optional()])
    exchange_rate = MoneyField("Exchange rate", places=6, description=RATE_HINT,
                               render_kw={"inputmode": "decimal"})
    location_id = SelectField("Receive into", coerce=str, validate_choice=True)
    notes = _notes()


class LineForm(FlaskForm):
    """A line as typed. `sku` is the product field (blank for a free-text line)."""

    sku = StringField("Product (SKU)", validators=[Optional(), Length(max=64), *TEXT])
    description = StringField("Description", validators=[
        Optional(), Length(max=500, message="Use at most 500 characters."), *TEXT])
    quantity = StringField("Quantity", validators=[Optional()],  # parsed by the view
                           render_kw={"inputmode": "decimal", "autocomplete": "off"})
    unit_cost = MoneyField("Unit cost", places=4,
                           render_kw={"inputmode": "decimal", "autocomplete": "off"})
    tax_rate_id = SelectField("Tax", coerce=str, validate_choice=True, default="")


class SendForm(FlaskForm):
    version = HiddenField()


class CancelForm(FlaskForm):
    version = HiddenField()
    reason = StringField("Why is it cancelled?", validators=[
        DataRequired("Say why the order is cancelled."),
        Length(max=500, message="Use at most 500 characters."), *TEXT])


class ReceiveForm(FlaskForm):
    """The receipt's own fields; quantities come as qty-<line id> (see the view)."""

    location_id = SelectField("Receive into", coerce=str, validate_choice=True)
    received_on = DateField("Received on", validators=[InputRequired("Enter the date.")])
    note = StringField("Note", validators=[
        Optional(), Length(max=500, message="Use at most 500 characters."), *TEXT],
        description="Delivery note number, damage, anything worth keeping.")
    confirm_over = BooleanField("Accept more than ordered")


class BillForm(FlaskForm):
    supplier_ref = StringField("Supplier's bill number", validators=[
        DataRequired("Enter the supplier's bill number."),
        Length(max=60, message="Use at most 60 characters."), *TEXT])
    bill_date = DateField("Bill date", validators=[InputRequired("Enter the bill's date.")])
    due_on = DateField("Due on", validators=[Optional()])
    net = MoneyField("Net", validators=[InputRequired("Enter the net amount."), NotNegative()],
                     render_kw={"inputmode": "decimal"})
    tax = MoneyField("Tax", validators=[InputRequired("Enter the tax (0 when none)."),
                                        NotNegative()], render_kw={"inputmode": "decimal"})
    notes = _notes()
