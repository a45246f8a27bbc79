"""Forms of the journal, the chart of accounts and the lock date.

A manual entry's lines are a FieldList of plain (CSRF-less) sub-forms: lines-0-account_id,
lines-0-debit, ... The view reads them row by row, because whether a row is empty, half
filled or complete is a rule about the row, not about one field.
"""

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    FieldList,
    Form,
    FormField,
    HiddenField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from blueprints.forms import MoneyField, NoControlChars, NotNegative, SingleLine

TEXT = [NoControlChars()]
ONE_LINE = [NoControlChars(), SingleLine()]
START_LINES = 4        # empty lines a new entry starts with
MAX_LINES = 60         # lines one manual entry may have
AMOUNT = {"inputmode": "decimal", "autocomplete": "off"}


class EntryLineForm(Form):
    """One line of a manual entry as typed. The account is checked by the view (an id
    from the list of active accounts that people post to)."""

    account_id = SelectField("Account", coerce=str, validate_choice=False, default="")
    debit = MoneyField("Debit", validators=[NotNegative()], render_kw=AMOUNT)
    credit = MoneyField("Credit", validators=[NotNegative()], render_kw=AMOUNT)
    memo = StringField("Line memo", validators=[
        Optional(), Length(max=200, message="Use at most 200 characters."), *ONE_LINE])


class JournalEntryForm(FlaskForm):
    """A manual journal entry: its date, memo and lines."""

    entry_date = DateField("Date", validators=[InputRequired("Enter the entry's date.")])
    memo = StringField("Memo", description="What the entry is for; it shows in the journal.",
                       validators=[Optional(),
                                   Length(max=200, message="Use at most 200 characters."),
                                   *ONE_LINE])
    lines = FieldList(FormField(EntryLineForm), min_entries=START_LINES,
                      max_entries=MAX_LINES)


class ReverseForm(FlaskForm):
    """Reverse a manual entry: the date of the reversal and why."""

    entry_date = DateField("Date of the reversal",
                           validators=[InputRequired("Enter the date of the reversal.")])
    reason = StringField("Why is it reversed?", validators=[
        DataRequired("Say why the entry is reversed."),
        Length(max=150, message="Use at most 150 characters."), *ONE_LINE])


class NewAccountForm(FlaskForm):
    code = StringField("Code", description="Up to 10 letters and digits, like 6150.",
                       validators=[DataRequired("Enter a code, like 6150."),
                                   Length(max=10, message="Use up to 10 characters."),
                                   *ONE_LINE])
    name = StringField("Name", validators=[DataRequired("Enter a name."),
                                           Length(max=100, message="Use at most 100 characters."),
                                           *ONE_LINE])
    type = SelectField("Type", coerce=str, validate_choice=True,
                       validators=[DataRequired("Choose a type.")])
    is_cash = BooleanField("A bank or cash account payments go through")
    description = TextAreaField("Description", validators=[
        Optional(), Length(max=500, message="Use at most 500 characters."), *TEXT])


class EditAccountForm(FlaskForm):
    version = HiddenField()
    code = StringField("Code", description="Fixed once the account has postings.",
                       validators=[DataRequired("Enter a code, like 6150."),
                                   Length(max=10, message="Use up to 10 characters."),
                                   *ONE_LINE])
    name = StringField("Name", validators=[DataRequired("Enter a name."),
                                           Length(max=100, message="Use at most 100 characters."),
                                           *ONE_LINE])
    is_cash = BooleanField("A bank or cash account payments go through")
    active = BooleanField("Active (unticked: archived, no longer offered for new entries)")
    description = TextAreaField("Description", validators=[
        Optional(), Length(max=500, message="Use at most 500 characters."), *TEXT])


class LockDateForm(FlaskForm):
    lock_date = DateField("Closed up to and including",
                          description="Leave empty to reopen every period (admin only).",
                          validators=[Optional()])
