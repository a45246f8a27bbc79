"""Forms of quotes and sales orders: a quote's header and lines, sending by mail,
acceptance, decline, cancelling an order, a shipment."""

from flask_wtf import FlaskForm
from wtforms import DateField, EmailField, HiddenField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Email, InputRequired, Length, Optional

from blueprints.forms import MoneyField, NoControlChars, SingleLine

TEXT = [NoControlChars()]


def _text(label, size, *, required: str | None = None, description=None):
    first = DataRequired(required) if required else Optional()
    return StringField(label, description=description, validators=[
        first, Length(max=size, message=f"Use at most {size:,} characters."), *TEXT,
        SingleLine()])


def _area(label, size=10000, description=None):
    return TextAreaField(label, description=description, validators=[
        Optional(), Length(max=size, message=f"Use at most {size:,} characters."), *TEXT])


class QuoteHeaderForm(FlaskForm):
    version = HiddenField()
    contact_id = SelectField("Addressed to", coerce=str, validate_choice=True, default="")
    valid_until = DateField("Valid until", validators=[InputRequired("Enter a date.")])
    notes = _area("Notes", description="Printed on the quote above the lines.")
    terms = _area("Terms", description="Printed at the end: payment, delivery, warranty.")


class QuoteLineForm(FlaskForm):
    """A line as typed. `sku` is the product field (blank for a free-text line)."""

    sku = StringField("Product (SKU)", validators=[Optional(), Length(max=64), *TEXT])
    description = _text("Description", 500)
    quantity = StringField("Quantity", validators=[Optional()],  # parsed by the view
                           render_kw={"inputmode": "decimal", "autocomplete": "off"})
    # four places here, so the quote's currency decides (and says) how many are allowed
    unit_price = MoneyField("Unit price", places=4,
                            render_kw={"inputmode": "decimal", "autocomplete": "off"})
    discount_percent = MoneyField("Discount %", places=4,
                                  render_kw={"inputmode": "decimal", "autocomplete": "off"})
    tax_rate_id = SelectField("Tax", coerce=str, validate_choice=True, default="")


class SendQuoteForm(FlaskForm):
    version = HiddenField()
    to = EmailField("To", validators=[
        DataRequired("Enter the address to send the quote to."),
        Email("Enter an email address like name@example.com.", check_deliverability=False),
        Length(max=254)])
    subject = _text("Subject", 200, required="Enter a subject.")
    message = _area("Message", 5000)


class VersionForm(FlaskForm):
    version = HiddenField()


class AcceptForm(FlaskForm):
    version = HiddenField()
    customer_po = _text("Customer's PO reference", 60,
                        description="Their purchase order number, printed on the order.")


class DeclineForm(FlaskForm):
    version = HiddenField()
    reason = _text("Why did they decline?", 500)


class CancelOrderForm(FlaskForm):
    version = HiddenField()
    reason = _text("Why is it cancelled?", 500, required="Say why the order is cancelled.")


class ShipForm(FlaskForm):
    """The shipment's own fields; quantities come as qty-<line id> (see the view)."""

    shipped_on = DateField("Shipped on", validators=[InputRequired("Enter the date.")])
    carrier = _text("Carrier", 60)
    tracking = _text("Tracking reference", 100)
    note = _text("Note", 500)

