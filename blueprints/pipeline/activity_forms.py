"""Forms for activities: logging a call, email, meeting, note or task."""

import re
from datetime import UTC, date, datetime, time

from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional, ValidationError
from wtforms.widgets import DateInput, TimeInput

from blueprints.forms import NoControlChars, choices
from models.activities import KIND_LABELS, KINDS, MAX_BODY, MAX_SUBJECT

TEXT = [NoControlChars()]
DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
TIME_RE = re.compile(r"\d{2}:\d{2}(:\d{2})?")
# A task with a date but no time is due at the start of the working day (UTC).
DEFAULT_TIME = time(9, 0)


class ActivityForm(FlaskForm):
    """One activity. `customer_id` and `deal_id` say what it is about; `next` where to go
    back to without JavaScript (a local path only). Element ids are prefixed: the form
    opens inside other pages (customer, deal) whose own fields must not clash."""

    customer_id = HiddenField(id="activity-customer-id")
    deal_id = HiddenField(id="activity-deal-id")
    next = HiddenField(id="activity-next")
    kind = SelectField("Kind", id="activity-kind",
                       choices=choices([(k, KIND_LABELS[k]) for k in KINDS]))
    subject = StringField("Subject", id="activity-subject", validators=[
        DataRequired("Enter a subject."),
        Length(max=MAX_SUBJECT, message=f"Use at most {MAX_SUBJECT} characters."), *TEXT])
    body = TextAreaField("Notes", id="activity-body", validators=[
        Optional(), Length(max=MAX_BODY, message=f"Use at most {MAX_BODY:,} characters."),
        *TEXT])
    contact_id = SelectField("Contact", id="activity-contact-id", coerce=str,
                             validate_choice=True)
    due_date = StringField("Date", id="activity-due-date", widget=DateInput(),
                           validators=[Optional()],
                           description="When it is due, or when it happened. Empty: now.")
    due_time = StringField("Time (UTC)", id="activity-due-time", widget=TimeInput(),
                           validators=[Optional()])
    assignee_id = SelectField("Assigned to", id="activity-assignee-id", coerce=str,
                              validate_choice=True)
    done = BooleanField("Done already", id="activity-done")

    def validate_due_date(self, field):
        value = (field.data or "").strip()
        if not DATE_RE.fullmatch(value):
            raise ValidationError("Enter a date like 2025-03-31.")
        try:
            day = date.fromisoformat(value)
        except ValueError:
            raise ValidationError("Enter a date like 2025-03-31.") from None
        if not 2000 <= day.year <= 2100:
            raise ValidationError("Enter a date between 2000 and 2100.")

    def validate_due_time(self, field):
        value = (field.data or "").strip()
        if not TIME_RE.fullmatch(value):
            raise ValidationError("Enter a time like 14:30.")
        try:
            time.fromisoformat(value)
        except ValueError:
            raise ValidationError("Enter a time like 14:30.") from None
        if not (self.due_date.data or "").strip():
            raise ValidationError("Enter the date too.")

    @property
    def when(self) -> datetime | None:
        """The date and time typed (UTC), or None when no date was given. Call after
        validation."""
        value = (self.due_date.data or "").strip()
        if not value:
            return None
        at = (self.due_time.data or "").strip()
        moment = time.fromisoformat(at) if at else DEFAULT_TIME
        return datetime.combine(date.fromisoformat(value), moment, tzinfo=UTC)


class ToggleForm(FlaskForm):
    """Tick an activity done (done=1) or open it again (done=0)."""

    done = HiddenField()
    next = HiddenField()
    view = HiddenField()
    timeline_deal_id = HiddenField()
