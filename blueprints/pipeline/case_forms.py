"""Forms of support cases: a new case, triage, a comment, a credit request, a decision."""

from decimal import Decimal

from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectField, StringField, TextAreaField
from wtforms.validators import (
    AnyOf,
    DataRequired,
    InputRequired,
    Length,
    Optional,
    Regexp,
    ValidationError,
)

from blueprints.forms import MoneyField, NoControlChars, choices
from models.cases import MAX_REASON, MAX_SUBJECT, MAX_TEXT, PRIORITIES, STATUSES

TEXT = [NoControlChars()]
PRIORITY_CHOICES = choices([(p, p.capitalize()) for p in PRIORITIES])
STATUS_CHOICES = choices([(s, s.capitalize()) for s in STATUSES])


class AboveZero:
    def __call__(self, form, field):
        if field.data is not None and field.data <= Decimal(0):
            raise ValidationError("Enter an amount above zero.")


class CaseForm(FlaskForm):
    # Filled by the type-ahead customer picker (a hidden input named customer_id).
    customer_id = StringField("Customer", validators=[
        DataRequired("Choose a customer from the list."),
        Regexp(r"^\d{1,18}$", message="Choose a customer from the list.")])
    contact_id = SelectField("Contact", coerce=str, validate_choice=False)
    subject = StringField("Subject", validators=[
        DataRequired("Enter a subject."),
        Length(max=MAX_SUBJECT, message=f"Use at most {MAX_SUBJECT} characters."), *TEXT])
    description = TextAreaField("Description", validators=[
        Optional(), Length(max=MAX_TEXT, message=f"Use at most {MAX_TEXT:,} characters."), *TEXT])
    priority = SelectField("Priority", choices=PRIORITY_CHOICES, default="normal")
    assignee_id = SelectField("Assignee", coerce=str, validate_choice=True)


class TriageForm(FlaskForm):
    version = HiddenField()
    status = SelectField("Status", choices=STATUS_CHOICES)
    priority = SelectField("Priority", choices=PRIORITY_CHOICES)
    assignee_id = SelectField("Assignee", coerce=str, validate_choice=True)


class CommentForm(FlaskForm):
    body = TextAreaField("Comment", validators=[
        DataRequired("Write a comment."),
        Length(max=MAX_TEXT, message=f"Use at most {MAX_TEXT:,} characters."), *TEXT])


class CreditForm(FlaskForm):
    amount = MoneyField("Amount", validators=[InputRequired("Enter an amount."), AboveZero()])
    reason = StringField("Reason", validators=[
        DataRequired("Say why the customer should get a credit."),
        Length(max=MAX_REASON, message=f"Use at most {MAX_REASON} characters."), *TEXT])


class DecisionForm(FlaskForm):
    version = HiddenField()
    decision = HiddenField(validators=[AnyOf(("approve", "reject"),
                                             message="Choose approve or reject.")])
    note = StringField("Note", validators=[
        Optional(), Length(max=MAX_REASON, message=f"Use at most {MAX_REASON} characters."),
        *TEXT])
