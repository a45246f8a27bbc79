"""Activities and follow-ups: the timeline on a customer or deal (log a call in two taps),
my follow-ups ticked off in place, and a secret calendar feed of my tasks and meetings.

The timeline is the partial templates/pipeline/_timeline.html, included by the customer
and deal pages with `timeline_activities`, `timeline_customer` and `timeline_deal`. Its
forms post here and get the whole section back (htmx), or go back to `next` (no JS).
"""

from urllib.parse import urlsplit

import icalendar
from flask import Response, abort, flash, request, url_for
from flask_login import current_user
from sqlalchemy import select

from blueprints.forms import choices
from blueprints.pipeline import bp
from blueprints.pipeline.activity_forms import ActivityForm, ToggleForm
from blueprints.web import (
    ALL_ROLES,
    id_url,
    is_partial,
    public,
    redirect_to,
    render,
    roles,
    safe_next,
)
from models import Activity, Customer, Deal, User, db
from models.activities import (
    CALENDAR_KINDS,
    DONE_BY_DEFAULT,
    KIND_LABELS,
    KINDS,
    calendar_activities,
    default_subject,
    followup_counts,
    followup_state,
    log_activity,
    may_change_activity,
    more_followups,
    new_calendar_token,
    set_done,
    timeline,
    user_by_calendar_token,
)
from models.activities import followups as followup_groups
from models.errors import DomainError
from models.users import as_utc, utcnow

# Everyone talks to customers: all roles may log activities. Who may tick one off is
# models.activities.may_change_activity.
LOG_ROLES = ALL_ROLES
KIND_ICONS = {"call": "☎", "email": "✉", "meeting": "◷", "note": "✎", "task": "☐"}


# --- Template helpers (the timeline partial is rendered on other blueprints' pages) ----

@bp.app_template_filter("activity_when")
def activity_when(value) -> str:
    """A stored time as people read it: '2025-03-31 14:30 UTC'."""
    value = as_utc(value)
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else ""


@bp.app_template_filter("activity_iso")
def activity_iso(value) -> str:
    value = as_utc(value)
    return value.isoformat() if value else ""


def deal_path(deal_id: int) -> str:
    """The deal page's path."""
    return id_url("pipeline.deal", deal_id=deal_id)


def timeline_home(customer_id: int, deal_id: int | None = None) -> str:
    """Where a timeline lives: the deal page for a deal's timeline, else the customer page."""
    return (deal_id and deal_path(deal_id)) or url_for("accounts.show", customer_id=customer_id)


@bp.app_context_processor
def _timeline_helpers():
    return {"timeline_home": timeline_home, "activity_kinds": KINDS,
            "activity_labels": KIND_LABELS, "activity_icons": KIND_ICONS,
            "may_change_activity": may_change_activity, "activity_deal_path": deal_path,
            "activity_deal": _deal_of, "activity_state": followup_state}


def _deal_of(activity) -> Deal | None:
    """The deal an activity is about (lists load it with their rows: see
    models.activities.timeline and followups)."""
    return activity.deal if activity.deal_id else None


# --- Parsing what the URL or the form says the activity is about -----------------------

def _id_or_400(value, what: str) -> int | None:
    value = (value or "").strip()
    if not value:
        return None
    if not (value.isascii() and value.isdigit()) or len(value) > 18:
        abort(400, f"The {what} in this address is not a number.")
    return int(value)


def _subject_of(source) -> tuple[Customer, Deal | None]:
    """The customer (and deal) named by `customer_id` / `deal_id`: 400 when missing or
    malformed, 404 when unknown or when the deal is another customer's."""
    customer_id = _id_or_400(source.get("customer_id"), "customer")
    if customer_id is None:
        abort(400, "Say which customer the activity is about.")
    customer = db.session.get(Customer, customer_id) or abort(404)
    deal_id = _id_or_400(source.get("deal_id"), "deal")
    deal = None
    if deal_id is not None:
        deal = db.session.get(Deal, deal_id)
        if deal is None or deal.customer_id != customer.id:
            abort(404)
    return customer, deal


def _fill_choices(form: ActivityForm, customer: Customer) -> None:
    form.contact_id.choices = choices(
        [("", "Nobody in particular")] + [(str(c.id), c.name) for c in customer.contacts])
    users = db.session.execute(
        select(User.id, User.name).where(User.is_enabled.is_(True)).order_by(User.name)).all()
    pairs = [(str(u.id), u.name + (" (me)" if u.id == current_user.id else "")) for u in users]
    form.assignee_id.choices = choices([("", "Nobody")] + pairs)


def _timeline_context(customer: Customer, deal: Deal | None, *, form=None,
                      next_url: str | None = None) -> dict:
    activities = timeline(deal_id=deal.id) if deal else timeline(customer_id=customer.id)
    return {"timeline_activities": activities, "timeline_customer": customer,
            "timeline_deal": deal, "timeline_form": form,
            "timeline_next": next_url or timeline_home(customer.id, deal.id if deal else None)}


def _timeline_page(customer, deal, *, status=200, **context):
    """The timeline section (htmx) or a page around it (no JavaScript)."""
    return render("pipeline/_activity_page.html", block="timeline", status=status,
                  page_customer=customer, page_deal=deal,
                  **_timeline_context(customer, deal, **context))


# --- The timeline: open the form, log an activity --------------------------------------

@bp.route("/activities/timeline")
@roles(*LOG_ROLES)
def timeline_section():
    """A customer's (or a deal's) activities: the timeline section, or a page of it."""
    customer, deal = _subject_of(request.args)
    return _timeline_page(customer, deal, next_url=safe_next(request.args.get("next")))


@bp.route("/activities/new")
@roles(*LOG_ROLES)
def new_activity():
    """The log-an-activity form inside the timeline, its subject already filled in."""
    customer, deal = _subject_of(request.args)
    kind = request.args.get("kind", "call")
    if kind not in KINDS:
        abort(400, "Choose a call, email, meeting, note or task.")
    next_url = safe_next(request.args.get("next")) or timeline_home(
        customer.id, deal.id if deal else None)
    form = ActivityForm(formdata=None)
    _fill_choices(form, customer)
    form.customer_id.data = str(customer.id)
    form.deal_id.data = str(deal.id) if deal else ""
    form.next.data = next_url
    form.kind.data = kind
    form.subject.data = default_subject(kind, customer)
    primary = next((c for c in customer.contacts if c.is_primary), None)
    form.contact_id.data = str(primary.id) if primary else ""
    form.assignee_id.data = str(current_user.id)
    form.done.data = DONE_BY_DEFAULT[kind]
    return _timeline_page(customer, deal, form=form, next_url=next_url)


@bp.route("/activities", methods=["POST"])
@roles(*LOG_ROLES)
def create_activity():
    """Log a call, email, meeting, note or task; the timeline comes back with it on top."""
    customer, deal = _subject_of(request.form)
    form = ActivityForm()
    _fill_choices(form, customer)
    next_url = safe_next(form.next.data) or timeline_home(customer.id,
                                                          deal.id if deal else None)
    form.next.data = next_url
    if form.validate():
        contact = next((c for c in customer.contacts if str(c.id) == form.contact_id.data),
                       None)
        assignee = (db.session.get(User, int(form.assignee_id.data))
                    if form.assignee_id.data else None)
        try:
            activity = log_activity(
                kind=form.kind.data, subject=form.subject.data, body=form.body.data,
                customer=customer, deal=deal, contact=contact, when=form.when,
                assignee=assignee, done=bool(form.done.data), by=current_user)
        except DomainError as error:
            db.session.rollback()
            target = getattr(form, error.field or "", None) or form.subject
            target.errors = [error.message]
        else:
            label = KIND_LABELS[activity.kind]
            db.session.commit()
            if is_partial():
                return _timeline_page(customer, deal, next_url=next_url)
            flash(f"{label} logged.", "success")
            return redirect_to(next_url)
    return _timeline_page(customer, deal, form=form, next_url=next_url, status=422)


@bp.route("/activities/<int:activity_id>/toggle", methods=["POST"])
@roles(*LOG_ROLES)
def toggle_activity(activity_id: int):
    """Tick an activity done, or open it again, in place."""
    activity = db.session.get(Activity, activity_id) or abort(404)
    form = ToggleForm()
    if not form.validate() or form.done.data not in ("0", "1"):
        abort(400, "Say whether it is done (1) or not (0).")
    view = form.view.data or "row"
    if view not in ("row", "timeline"):
        abort(400, "Unknown view.")
    # The timeline to answer with (checked before anything is written).
    customer, deal = activity.customer, None
    deal_id = _id_or_400(form.timeline_deal_id.data, "deal")
    if deal_id is not None:
        deal = db.session.get(Deal, deal_id)
        if deal is None or deal.customer_id != customer.id:
            abort(404)
    set_done(activity, form.done.data == "1", by=current_user)
    db.session.commit()
    if is_partial():
        if view == "timeline":
            return _timeline_page(customer, deal, next_url=safe_next(form.next.data))
        return render("pipeline/_followup_row.html", activity=activity,
                      state=followup_state(activity), next_url=safe_next(form.next.data))
    flash("Marked done." if activity.done else "Opened again.", "success")
    return redirect_to(safe_next(form.next.data) or url_for("pipeline.followups"))


# --- My follow-ups ---------------------------------------------------------------------

# Each group's heading and what it says when empty, in the page's order.
FOLLOWUP_SECTIONS = {
    "overdue": ("Overdue", "Nothing overdue."),
    "today": ("Today", "Nothing due today."),
    "upcoming": ("Upcoming", "Nothing planned after today."),
    "undated": ("No date", ""),
    "done": ("Done recently", "Nothing ticked off in the last seven days."),
}


@bp.route("/activities")
@roles(*ALL_ROLES)
def followups():
    """My follow-ups: open tasks, meetings and calls by due date, ticked off in place.

    Each group lists its first rows; "Show more" asks ?group=…&after=<cursor> for the
    next ones: the rows alone for htmx (they replace the button), else a page of that
    group with a link to its next rows.
    """
    group, after = request.args.get("group"), request.args.get("after")
    if set(request.args) - {"group", "after"} or (group is None) != (after is None):
        abort(400, "This page takes no filters.")
    now = utcnow()
    next_url = url_for("pipeline.followups")
    if group is not None:
        try:
            page = more_followups(current_user, group, after, now)
        except ValueError as error:
            abort(400, str(error))
        return render("pipeline/followups_more.html", block="rows", group=group,
                      section=FOLLOWUP_SECTIONS[group], page=page, next_url=next_url)
    pages = followup_groups(current_user, now)
    return render("pipeline/followups.html", pages=pages, sections=FOLLOWUP_SECTIONS,
                  counts=followup_counts(current_user, pages, now), next_url=next_url)


# --- Calendar feed ---------------------------------------------------------------------

@bp.route("/calendar")
@roles(*ALL_ROLES)
def calendar():
    """My calendar feed: the secret address to subscribe to, and a way to replace it."""
    token = current_user.calendar_token
    feed_url = url_for("pipeline.calendar_feed", token=token, _external=True) if token else None
    webcal_url = None
    if feed_url:
        parts = urlsplit(feed_url)
        webcal_url = "webcal://" + feed_url[len(parts.scheme) + 3:]
    return render("pipeline/calendar.html", feed_url=feed_url, webcal_url=webcal_url)


@bp.route("/calendar/new-link", methods=["POST"])
@roles(*ALL_ROLES)
def new_calendar_link():
    """Make a new secret feed address; the old one stops working at once."""
    had = current_user.calendar_token is not None
    new_calendar_token(current_user)
    db.session.commit()
    flash("Here is your new secret link. The old one no longer works; subscribe again "
          "with this one." if had else "Here is your secret link.", "success")
    return redirect_to(url_for("pipeline.calendar"))


@bp.route("/calendar/<token>.ics")
# Public on purpose: calendar apps subscribe without signing in, so the secret token in
# the address is the credential. An unknown (or replaced) token is a plain 404, and the
# feed only ever holds the token owner's own open tasks and meetings.
@public
def calendar_feed(token: str):
    """One user's open tasks and meetings as an iCalendar feed, opened by its secret token."""
    user = user_by_calendar_token(token) or abort(404)
    host = urlsplit(request.host_url).hostname or "tandem"
    cal = icalendar.Calendar()
    cal.add("prodid", "-//Tandem//Follow-ups//EN")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("x-wr-calname", f"Tandem: {user.name}")
    now = utcnow()
    base = request.host_url.rstrip("/")
    activities = calendar_activities(user)
    titles = _deal_titles(activities)
    for activity in activities:
        start = as_utc(activity.due_at)
        event = icalendar.Event()
        event.add("uid", f"tandem-activity-{activity.id}@{host}")
        event.add("dtstamp", as_utc(activity.updated_at) or now)
        event.add("dtstart", start)
        event.add("dtend", start + CALENDAR_KINDS[activity.kind])
        event.add("summary", activity.subject)
        lines = [f"{KIND_LABELS[activity.kind]} · {activity.customer.name}"]
        if activity.deal_id in titles:
            lines.append(f"Deal: {titles[activity.deal_id]}")
        if activity.body:
            lines.append("")
            lines.append(activity.body)
        event.add("description", "\n".join(lines))
        path = (activity.deal_id and deal_path(activity.deal_id)) or url_for(
            "accounts.show", customer_id=activity.customer_id)
        event.add("url", base + path)
        cal.add_component(event)
    response = Response(cal.to_ical(), mimetype="text/calendar")
    response.headers["Content-Type"] = "text/calendar; charset=utf-8"
    response.headers["Content-Disposition"] = 'inline; filename="tandem.ics"'
    return response


def _deal_titles(activities) -> dict[int, str]:
    """{deal id: title} for the deals these activities are about, in one query."""
    deal_ids = {a.deal_id for a in activities if a.deal_id}
    if not deal_ids:
        return {}
    return dict(db.session.execute(
        select(Deal.id, Deal.title).where(Deal.id.in_(deal_ids))).all())
