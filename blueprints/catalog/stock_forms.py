"""Forms of the stock pages: locations, a manual move, a stock count's header.

Quantities are parsed by `models.types.parse_quantity`, which needs to know whether the
product is counted in whole pieces: `QuantityField` keeps the typed text and parses it
when the form is validated, after the view has set `whole` from the product.
"""

from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional, Regexp, StopValidation

from blueprints.forms import NoControlChars
from models.types import parse_quantity

TEXT = [NoControlChars()]
REASON_MAX = 200


class QuantityField(StringField):
    """A typed quantity; `quantity` holds the parsed Decimal after validation.

    Set `whole` (the product's unit is counted in whole pieces) before validating."""

    whole = True
    allow_zero = False
    quantity = None

    def pre_validate(self, form):
        self.quantity = None
        try:
            self.quantity = parse_quantity(self.data or "", whole=self.whole,
                                           allow_zero=self.allow_zero)
        except ValueError as error:
            raise StopValidation(str(error)) from None


class LocationForm(FlaskForm):
    """A new sub-location (a shelf, a bin, a second warehouse's stock)."""

    code = StringField("Code", description="Short and unique, no spaces: WH/SHELF-C.",
                       validators=[DataRequired("Enter a code."),
                                   Length(max=40, message="Use up to 40 characters."),
                                   Regexp(r"^\S+$", message="Use a code without spaces."),
                                   *TEXT])
    name = StringField("Name", validators=[DataRequired("Enter a name."),
                                           Length(max=100, message="Use at most 100 characters."),
                                           *TEXT])
    parent_id = SelectField("Part of", coerce=str, validate_choice=True)


class LocationEditForm(FlaskForm):
    version = HiddenField()
    name = StringField("Name", validators=[DataRequired("Enter a name."),
                                           Length(max=100, message="Use at most 100 characters."),
                                           *TEXT])
    active = BooleanField("Active (unticked: archived, no longer offered)")


class MoveForm(FlaskForm):
    """Stock from one place to another: internal locations, or the inventory adjustment
    (a write-off goes to it, a take-in comes from it)."""

    from_location_id = SelectField("From", coerce=str, validate_choice=True)
    to_location_id = SelectField("To", coerce=str, validate_choice=True)
    quantity = QuantityField("Quantity", render_kw={"inputmode": "decimal",
                                                    "autocomplete": "off"})
    reason = StringField("Reason", description="Why: “moved to shelf A”, “damaged in storage”.",
                         validators=[DataRequired("Say why the stock moves."),
                                     Length(max=REASON_MAX,
                                            message=f"Use at most {REASON_MAX} characters."),
                                     *TEXT])


class CountForm(FlaskForm):
    """A count's header; its lines are `count-<product id>` and `extra-<n>-sku/-qty`
    inputs the view reads itself (their number depends on the location)."""

    location_id = HiddenField(validators=[DataRequired("Choose a location."),
                                          Regexp(r"^\d{1,9}$", message="Choose a location.")])
    reason = StringField("Reason", description="Why: “year-end count”, “damaged in storage”.",
                         validators=[DataRequired("Say why you counted (“year-end count”)."),
                                     Length(max=REASON_MAX,
                                            message=f"Use at most {REASON_MAX} characters."),
                                     *TEXT])
    # the filter the sheet was drawn with, so a refused count re-renders the same lines
    q = HiddenField(validators=[Optional(), Length(max=64), *TEXT])
