"""Forms of invoices, credit notes, payments and bills. Quantities and per-document
amounts (qty-<line id>, alloc-<document id>) are read by the views, one per row."""

from flask_wtf import FlaskForm
from wtforms import DateField, HiddenField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from blueprints.forms import MoneyField, NoControlChars, SingleLine, choices
from blueprints.orders.quote_forms import QuoteLineForm, SendQuoteForm

TEXT = [NoControlChars()]
TERMS = [(str(days), "Due on receipt" if days == 0 else f"Net {days} days")
         for days in (0, 7, 14, 30, 45, 60, 90)]
TERM_CHOICES = choices(TERMS)


def _text(label, size, *, required: str | None = None, description=None):
    first = DataRequired(required) if required else Optional()
    return StringField(label, description=description, validators=[
        first, Length(max=size, message=f"Use at most {size:,} characters."), *TEXT,
        SingleLine()])


def _area(label, size=5000, description=None):
    return TextAreaField(label, description=description, validators=[
        Optional(), Length(max=size, message=f"Use at most {size:,} characters."), *TEXT])


class NewInvoiceForm(FlaskForm):
    """A hand-written invoice: the customer (picked by name)."""

    customer_id = HiddenField("Customer")


class DraftForm(FlaskForm):
    version = HiddenField()
    customer_po = _text("Customer's reference", 60,
                        description="Their purchase order number, printed on the invoice.")
    payment_terms_days = SelectField("Payment terms", choices=TERM_CHOICES, default="30")
    notes = _area("Notes", description="Printed on the document above the lines.")
    reason = _text("Reason", 500, description="Why the customer is credited (printed).")


class InvoiceLineForm(QuoteLineForm):
    """A line of a hand-written invoice: the quote line's fields and an income account."""

    account_id = SelectField("Income account", coerce=str, validate_choice=True, default="")


class LineQuantityForm(FlaskForm):
    quantity = StringField("Quantity", validators=[Optional()],
                           render_kw={"inputmode": "decimal", "autocomplete": "off"})


class PostForm(FlaskForm):
    version = HiddenField()
    issue_date = DateField("Invoice date", validators=[InputRequired("Enter a date.")])
    exchange_rate = MoneyField("Exchange rate", places=6,
                               render_kw={"inputmode": "decimal", "autocomplete": "off"})


class SendInvoiceForm(SendQuoteForm):
    """To, subject and message, as for a quote."""


class CreditForm(FlaskForm):
    """A credit note for an invoice: the reason; quantities come as qty-<line id>."""

    reason = _text("Why is the customer credited?", 500,
                   required="Say why the customer is credited.")


class CreditRequestNoteForm(FlaskForm):
    tax_rate_id = SelectField("Tax", coerce=str, validate_choice=True, default="none")


class PaymentForm(FlaskForm):
    """Money received or paid; allocations come as alloc-<document id>."""

    customer_id = HiddenField("Customer")
    payment_date = DateField("Date received", validators=[InputRequired("Enter a date.")])
    amount = MoneyField("Amount", validators=[InputRequired("Enter the amount.")],
                        render_kw={"inputmode": "decimal", "autocomplete": "off"})
    account_id = SelectField("Into", coerce=str, validate_choice=True)
    method = SelectField("How", coerce=str, validate_choice=True)
    reference = _text("Reference", 100,
                      description="The bank's reference or the cheque number.")
    exchange_rate = MoneyField("Exchange rate", places=6,
                               render_kw={"inputmode": "decimal", "autocomplete": "off"})
    notes = _area("Notes", 2000)


class ExpenseBillForm(FlaskForm):
    """A supplier's bill without a purchase order."""

    supplier_id = SelectField("Supplier", coerce=str, validate_choice=True)
    supplier_ref = _text("Their bill number", 60, required="Enter the supplier's bill number.")
    bill_date = DateField("Bill date", validators=[InputRequired("Enter the bill's date.")])
    due_on = DateField("Due on", validators=[Optional()],
                       description="Empty: from the supplier's payment terms.")
    account_id = SelectField("Expense account", coerce=str, validate_choice=True)
    net = MoneyField("Net", validators=[InputRequired("Enter the net amount.")],
                     render_kw={"inputmode": "decimal", "autocomplete": "off"})
    tax = MoneyField("Tax", validators=[InputRequired("Enter the tax (0 when none).")],
                     render_kw={"inputmode": "decimal", "autocomplete": "off"})
    exchange_rate = MoneyField("Exchange rate", places=6,
                               render_kw={"inputmode": "decimal", "autocomplete": "off"})
    notes = _area("Notes", 2000)


class CreditDecisionForm(FlaskForm):
    version = HiddenField()
    note = _text("Note for the sales rep", 500)
