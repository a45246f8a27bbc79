"""Forms of the deal board: a deal, a stage move, a pipeline stage."""

from datetime import date

from flask_wtf import FlaskForm
from wtforms import DateField, HiddenField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    ValidationError,
)

from blueprints.forms import MoneyField, NoControlChars, NotNegative

TEXT = [NoControlChars()]
FIRST_DATE, LAST_DATE = date(2000, 1, 1), date(2199, 12, 31)


class PlausibleDate:
    """Refuse dates no deal closes on (a typo like 0202 or 20255)."""

    def __call__(self, form, field):
        if field.data is not None and not FIRST_DATE <= field.data <= LAST_DATE:
            raise ValidationError("Enter a date between 2000 and 2199.")


class DealForm(FlaskForm):
    version = HiddenField()
    customer_id = HiddenField("Customer")
    title = StringField("Title", validators=[DataRequired("Enter a title."),
                                             Length(max=200, message="Use at most 200 characters."),
                                             *TEXT])
    owner_id = SelectField("Owner", coerce=str, validate_choice=True)
    stage_id = SelectField("Stage", coerce=str, validate_choice=True)
    amount = MoneyField("Amount", validators=[InputRequired("Enter an amount (0 when unknown)."),
                                              NotNegative()])
    expected_close = DateField("Expected close", validators=[Optional(), PlausibleDate()],
                               invalid_value_message="Enter a date like 2026-12-31.")
    probability_override = IntegerField(
        "Win probability (%)", validators=[Optional(), NumberRange(
            0, 100, message="Enter a probability from 0 to 100.")],
        invalid_value_message="Enter a whole number from 0 to 100.",
        description="Leave empty to use the stage's probability.")
    campaign_id = SelectField("Campaign", coerce=str, validate_choice=True)
    source = StringField("Source", validators=[Optional(), Length(max=100), *TEXT],
                         description="Where the deal came from, when not a campaign.")


class EditDealForm(DealForm):
    lost_reason = TextAreaField("Lost reason", validators=[
        Optional(), Length(max=500, message="Use at most 500 characters."), *TEXT],
        description="Needed when the stage is the lost stage.")


class MoveForm(FlaskForm):
    """A move to another stage; stage_id is checked against the stages by the view."""

    version = HiddenField()
    stage_id = StringField("Move to")
    lost_reason = TextAreaField("Why was it lost?", validators=[
        Optional(), Length(max=500, message="Use at most 500 characters."), *TEXT])


class StageForm(FlaskForm):
    """One stage's settings; rendered with a prefix per stage, so CSRF is checked app-wide."""

    class Meta:
        csrf = False

    version = HiddenField()
    name = StringField("Name", validators=[DataRequired("Enter a name."),
                                           Length(max=60, message="Use at most 60 characters."),
                                           *TEXT])
    position = IntegerField("Position", validators=[
        InputRequired("Enter a position."),
        NumberRange(0, 1000, message="Enter a position from 0 to 1000.")],
        invalid_value_message="Enter a whole number.")
    probability = IntegerField("Probability (%)", validators=[
        InputRequired("Enter a probability."),
        NumberRange(0, 100, message="Enter a probability from 0 to 100.")],
        invalid_value_message="Enter a whole number from 0 to 100.")
    followup_days = IntegerField("Follow-up after (days)", validators=[
        Optional(), NumberRange(0, 365, message="Enter 0 to 365 days.")],
        invalid_value_message="Enter a whole number of days.")
