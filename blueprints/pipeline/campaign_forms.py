"""The campaign form."""

from flask_wtf import FlaskForm
from wtforms import DateField, HiddenField, SelectField, StringField
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from blueprints.forms import MoneyField, NoControlChars, NotNegative, choices
from models.pipeline import CHANNELS


class CampaignForm(FlaskForm):
    version = HiddenField()
    name = StringField("Name", validators=[
        DataRequired("Enter a name."), Length(max=120, message="Use at most 120 characters."),
        NoControlChars()])
    channel = SelectField("Channel", choices=choices([(c, c.capitalize()) for c in CHANNELS]),
                          default="other")
    starts_on = DateField("Starts on", validators=[Optional()],
                          description="Leave empty when open-ended.")
    ends_on = DateField("Ends on", validators=[Optional()])
    budget = MoneyField("Budget", validators=[
        InputRequired("Enter a budget (0 when unknown)."), NotNegative()])
