"""Forms of the catalog's products and tax rates, and the CSV import upload."""

from decimal import Decimal

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import BooleanField, HiddenField, SelectField, StringField, TextAreaField
from wtforms.validators import AnyOf, DataRequired, InputRequired, Length, Optional

from blueprints.forms import MoneyField, NoControlChars, choices
from models.catalog import KINDS, NAME_MAX, SKU_MAX, UNITS
from models.catalog_csv import MAX_DESCRIPTION

TEXT = [NoControlChars()]
KIND_LABELS = {"stocked": "Stocked (kept in stock)", "service": "Service (no stock)"}
KIND_CHOICES = choices([(k, KIND_LABELS[k]) for k in KINDS])
UNIT_CHOICES = choices([(code, f"{label} ({code})") for code, (label, _) in UNITS.items()])


class QuantityField(MoneyField):
    """A typed quantity (three decimals at most), shown as a person would type it."""

    def __init__(self, label=None, validators=None, **kwargs):
        super().__init__(label, validators, places=3, **kwargs)

    def process_formdata(self, valuelist):
        try:
            super().process_formdata(valuelist)
        except ValueError as error:
            message = str(error)
            if message.startswith("Use at most"):
                message = "Use at most 3 decimals."
            elif message.startswith("Enter a number"):
                message = "Enter a number, like 12 or 2.5."
            raise ValueError(message) from None

    def _value(self):
        if self.raw_data:
            return self.raw_data[0]
        if self.data is None:
            return ""
        text = f"{Decimal(self.data).normalize():f}"
        return "0" if text == "-0" else text


class ProductForm(FlaskForm):
    version = HiddenField()
    sku = StringField("SKU", validators=[
        DataRequired("Enter a SKU."),
        Length(max=SKU_MAX, message=f"Use at most {SKU_MAX} characters."), *TEXT],
        description="Your code for it, without spaces; unique whatever its case.")
    name = StringField("Name", validators=[
        DataRequired("Enter a name."),
        Length(max=NAME_MAX, message=f"Use at most {NAME_MAX} characters."), *TEXT])
    description = TextAreaField("Description", validators=[
        Optional(), Length(max=MAX_DESCRIPTION,
                           message=f"Use at most {MAX_DESCRIPTION:,} characters."), *TEXT])
    kind = SelectField("Kind", choices=KIND_CHOICES, default="stocked")
    unit = SelectField("Unit", choices=UNIT_CHOICES, default="pc")
    list_price = MoneyField("List price", validators=[
        InputRequired("Enter a list price (0 when it is free).")])
    cost = MoneyField("Cost", places=4, validators=[
        InputRequired("Enter a cost (0 when not known yet).")])
    tax_rate_id = SelectField("Tax rate", coerce=str, validate_choice=True)
    reorder_point = QuantityField("Reorder point", validators=[Optional()],
                                  description="Suggest buying when available falls below this "
                                              "(0: never).")
    reorder_qty = QuantityField("Reorder quantity", validators=[Optional()])
    preferred_supplier_id = SelectField("Preferred supplier", coerce=str, validate_choice=True)
    allow_backorder = BooleanField("Allow selling more than is on hand (backorders)")


class ArchiveForm(FlaskForm):
    version = HiddenField()
    archive = HiddenField(validators=[AnyOf(("yes", "no"), message="Choose archive or restore.")])


class TaxRateForm(FlaskForm):
    version = HiddenField()
    name = StringField("Name", validators=[
        DataRequired("Enter a name, like “VAT 20%”."),
        Length(max=60, message="Use at most 60 characters."), *TEXT])
    percent = MoneyField("Percent", places=3, validators=[InputRequired("Enter a percent.")],
                         description="From 0 to 100, up to 3 decimals (7.7 for 7.7%).")


class TaxRateActiveForm(FlaskForm):
    version = HiddenField()
    active = HiddenField(validators=[AnyOf(("yes", "no"), message="Choose on or off.")])


class ImportForm(FlaskForm):
    file = FileField("CSV file")
    valid_only = BooleanField("Import the valid rows even if others have errors")
