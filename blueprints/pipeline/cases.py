"""Support cases: the team queue, opening a case, its comment timeline, triage, and credit
requests that finance approves or rejects."""

from flask import abort, current_app, flash, request, url_for
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError

from blueprints.forms import choices
from blueprints.pipeline import bp
from blueprints.pipeline.case_forms import (
    CaseForm,
    CommentForm,
    CreditForm,
    DecisionForm,
    TriageForm,
)
from blueprints.web import can, is_partial, redirect_to, refuse, render, roles, url_page
from models import Contact, Customer, User, db
from models.cases import (
    CASE_ROLES,
    DECIDE_CREDIT_ROLES,
    OPEN_STATUSES,
    PRIORITIES,
    PRIORITY_RANK,
    STATUSES,
    TRIAGE_ROLES,
    CreditRequest,
    SupportCase,
    add_comment,
    case_queue_query,
    decide_credit,
    open_case,
    priority_rank,
    request_credit,
    triage_case,
)
from models.errors import DomainError

LIST_PARAMS = {"status", "priority", "assignee", "customer_id", "q", "sort", "after", "before"}
STATUS_FILTERS = {"": OPEN_STATUSES, "all": STATUSES} | {s: (s,) for s in STATUSES}
SORTS = ("priority", "newest")
MAX_PER_PAGE = 50
STALE = ("This was changed by someone else a moment ago. Reload to see their change, "
         "then make yours again.")


def _case_or_404(case_id: int) -> SupportCase:
    return db.session.get(SupportCase, case_id) or abort(404)


def _assignees() -> list[User]:
    """The people who work the queue (they may change a case's status)."""
    return list(db.session.scalars(
        select(User).where(User.role.in_(TRIAGE_ROLES), User.is_enabled.is_(True))
        .order_by(User.name, User.id)))


def _assignee_choices(current: User | None = None):
    people = _assignees()
    if current is not None and current not in people:
        people.append(current)  # keep a disabled assignee selectable until changed
    return choices([("", "Nobody")] + [(str(u.id), u.name) for u in people])


def _user_or_none(value: str | None) -> User | None:
    return db.session.get(User, int(value)) if value else None


# --- The queue ---------------------------------------------------------------------------

def _queue_filters() -> dict:
    """The queue's filters from the URL: whitelisted names and values only, else 400."""
    args = request.args
    unknown = set(args) - LIST_PARAMS
    if unknown:
        abort(400, f"Unknown filter: {', '.join(sorted(unknown))}.")
    status = args.get("status", "")
    if status not in STATUS_FILTERS:
        abort(400, "Unknown status filter.")
    priority = args.get("priority", "")
    if priority and priority not in PRIORITIES:
        abort(400, "Unknown priority.")
    assignee = args.get("assignee", "")
    if assignee not in ("", "mine", "none") and not (assignee.isdigit() and len(assignee) < 19):
        abort(400, "Unknown assignee filter.")
    customer_id = args.get("customer_id", "")
    if customer_id and not (customer_id.isdigit() and len(customer_id) < 19):
        abort(400, "Unknown customer filter.")
    sort = args.get("sort") or "priority"
    if sort not in SORTS:
        abort(400, "Unknown sort order.")
    return {"status": status, "priority": priority, "assignee": assignee,
            "customer_id": customer_id, "sort": sort}


@bp.route("/cases")
@roles(*CASE_ROLES)
def cases():
    """The team's case queue: filters in the URL, most urgent or newest first."""
    filters = _queue_filters()
    customer = None
    if filters["customer_id"]:
        customer = db.session.get(Customer, int(filters["customer_id"])) or abort(
            404, "There is no such customer.")
    assignee = filters["assignee"]
    query = case_queue_query(
        statuses=STATUS_FILTERS[filters["status"]], priority=filters["priority"] or None,
        assignee_id=current_user.id if assignee == "mine" else (
            int(assignee) if assignee.isdigit() else None),
        unassigned=assignee == "none", customer_id=customer.id if customer else None)
    if filters["sort"] == "priority":
        key, key_of = priority_rank(), (lambda c: PRIORITY_RANK[c.priority])
    else:
        key, key_of = SupportCase.id, (lambda c: c.id)
    per_page = min(current_app.config.get("TANDEM_PER_PAGE", 25), MAX_PER_PAGE)
    page = url_page(query, key, SupportCase.id, descending=True, per_page=per_page, key_of=key_of)
    return render("pipeline/cases.html", block="results", page=page, filters=filters,
                  customer=customer, assignees=_assignees(), statuses=STATUSES,
                  priorities=PRIORITIES)


# --- A new case --------------------------------------------------------------------------

def _contact_choices(customer: Customer | None):
    contacts = customer.contacts if customer else []
    return choices([("", "Not known" if customer else "Choose a customer first")]
                   + [(str(c.id), c.name) for c in contacts])


def _picked_customer(value: str | None) -> Customer | None:
    value = (value or "").strip()
    if not value.isdigit() or len(value) > 18:
        return None
    return db.session.get(Customer, int(value))


@bp.route("/cases/new", methods=["GET", "POST"])
@roles(*CASE_ROLES)
def new_case():
    """Open a case for a customer (?customer_id= preselects one)."""
    form = CaseForm()
    triage = can(*TRIAGE_ROLES)
    form.assignee_id.choices = _assignee_choices()
    if request.method == "GET":
        value = request.args.get("customer_id", "")
        if value and not (value.isdigit() and len(value) < 19):
            abort(400, "Unknown customer.")
        customer = _picked_customer(value)
        if value and customer is None:
            abort(404, "There is no such customer.")
        form.customer_id.data = str(customer.id) if customer else ""
        form.assignee_id.data = str(current_user.id) if triage else ""
    else:
        customer = _picked_customer(form.customer_id.data)
    form.contact_id.choices = _contact_choices(customer)
    if request.method == "POST":
        valid = form.validate()
        if valid and customer is None:
            form.customer_id.errors = ["Choose a customer from the list."]
            valid = False
        if valid:
            contact = None
            if form.contact_id.data:
                contact = db.session.get(Contact, int(form.contact_id.data)) \
                    if form.contact_id.data.isdigit() else None
                if contact is None:
                    form.contact_id.errors = ["Choose one of the customer's contacts."]
                    valid = False
            if valid:
                try:
                    case = open_case(
                        customer=customer, contact=contact, subject=form.subject.data,
                        description=form.description.data, priority=form.priority.data,
                        assignee=_user_or_none(form.assignee_id.data) if triage else None,
                        by=current_user)
                except DomainError as error:
                    db.session.rollback()
                    customer = _picked_customer(form.customer_id.data)
                    getattr(form, error.field or "subject").errors = [error.message]
                else:
                    db.session.commit()
                    flash(f"Case #{case.id} is opened.", "success")
                    return redirect_to(url_for("pipeline.case", case_id=case.id))
    status = 422 if request.method == "POST" else 200
    # The contact select alone is re-fetched (htmx) when another customer is picked.
    block = "contact_field" if request.method == "GET" else None
    return render("pipeline/case_form.html", block=block, form=form,
                  customer=customer, triage=triage, status=status)


# --- One case ----------------------------------------------------------------------------

def _triage_form(case: SupportCase, formdata=None) -> TriageForm:
    form = TriageForm(formdata=formdata)
    form.assignee_id.choices = _assignee_choices(case.assignee)
    if formdata is None:
        form.version.data = case.version
        form.status.data = case.status
        form.priority.data = case.priority
        form.assignee_id.data = str(case.assignee_id or "")
    return form


def _credits(case: SupportCase) -> list[CreditRequest]:
    return list(db.session.scalars(
        select(CreditRequest).where(CreditRequest.case_id == case.id)
        .order_by(CreditRequest.id)).unique())


def _page(case: SupportCase, *, block=None, status: int = 200, conflict: str | None = None,
          triage_form=None, comment_form=None, credit_form=None, decision_forms=None,
          credit_conflict: str | None = None):
    """The case page, or for htmx the blocks named."""
    credits = _credits(case)
    forms = {c.id: DecisionForm(formdata=None, version=c.version) for c in credits}
    forms.update(decision_forms or {})
    credit_form = credit_form or CreditForm(formdata=None)
    credit_form.amount.label.text = f"Amount ({case.customer.account.currency})"
    people = {c.requested_by_id for c in credits} | {c.decided_by_id for c in credits}
    people.discard(None)
    names = {u.id: u.name for u in db.session.scalars(
        select(User).where(User.id.in_(people)))} if people else {}
    from models.invoicing import Invoice

    notes = {note.credit_request_id: note for note in db.session.scalars(
        select(Invoice).where(Invoice.credit_request_id.in_([c.id for c in credits])))
        } if credits else {}
    return render(
        "pipeline/case.html", block=block, status=status, case=case, conflict=conflict,
        triage_form=triage_form or _triage_form(case),
        comment_form=comment_form or CommentForm(formdata=None),
        credit_form=credit_form, credits=credits,
        decision_forms=forms, credit_conflict=credit_conflict, user_names=names,
        credit_notes=notes,
        may_triage=can(*TRIAGE_ROLES), may_decide=can(*DECIDE_CREDIT_ROLES),
        oob=is_partial())


@bp.route("/cases/<int:case_id>", endpoint="case")
@roles(*CASE_ROLES)
def show_case(case_id: int):
    """A case: its details, the comment timeline, triage and credit requests."""
    return _page(_case_or_404(case_id))


def _back(case: SupportCase, blocks: list[str], message: str):
    """After a change: the changed blocks for htmx, else the page again."""
    if is_partial():
        db.session.refresh(case)
        return _page(case, block=blocks)
    flash(message, "success")
    return redirect_to(url_for("pipeline.case", case_id=case.id))


@bp.route("/cases/<int:case_id>/triage", methods=["POST"])
@roles(*TRIAGE_ROLES)
def triage(case_id: int):
    """Change a case's status, priority and assignee."""
    case = _case_or_404(case_id)
    form = _triage_form(case, formdata=request.form)
    if form.validate():
        try:
            triage_case(case, status=form.status.data, priority=form.priority.data,
                        assignee=_user_or_none(form.assignee_id.data),
                        version=form.version.data, by=current_user)
            db.session.commit()
        except StaleDataError:
            db.session.rollback()
            return _page(_case_or_404(case_id), block="triage", status=409, conflict=STALE,
                         triage_form=form)
        except DomainError as error:
            db.session.rollback()
            return _page(_case_or_404(case_id), block="triage", status=error.status,
                         conflict=error.message, triage_form=form)
        return _back(case, ["triage", "head"], "The case is updated.")
    return _page(case, block="triage", status=422, triage_form=form)


@bp.route("/cases/<int:case_id>/comments", methods=["POST"])
@roles(*CASE_ROLES)
def comment(case_id: int):
    """Add a comment to the case's timeline."""
    case = _case_or_404(case_id)
    form = CommentForm()
    if form.validate_on_submit():
        try:
            add_comment(case, form.body.data, by=current_user)
        except DomainError as error:
            db.session.rollback()
            form.body.errors = [error.message]
        else:
            db.session.commit()
            return _back(case, ["comments"], "Your comment is added.")
    return _page(_case_or_404(case_id), block="comments", status=422, comment_form=form)


@bp.route("/cases/<int:case_id>/credits", methods=["POST"])
@roles(*CASE_ROLES)
def credit(case_id: int):
    """Ask finance to credit the case's customer."""
    case = _case_or_404(case_id)
    form = CreditForm()
    if form.validate_on_submit():
        try:
            request_credit(case, amount=form.amount.data, reason=form.reason.data,
                           by=current_user)
        except DomainError as error:
            db.session.rollback()
            getattr(form, error.field or "reason").errors = [error.message]
        else:
            db.session.commit()
            return _back(case, ["credits"], "The credit request is sent to finance.")
    return _page(_case_or_404(case_id), block="credits", status=422, credit_form=form)


@bp.route("/credits/<int:credit_id>/decide", methods=["POST"])
@roles(*DECIDE_CREDIT_ROLES)
def decide(credit_id: int):
    """Approve or reject a requested credit, with a note."""
    credit = db.session.get(CreditRequest, credit_id) or abort(404)
    case_id = credit.case_id
    form = DecisionForm()
    if form.validate_on_submit():
        try:
            decide_credit(credit, approve=form.decision.data == "approve",
                          note=form.note.data, version=form.version.data, by=current_user)
            db.session.commit()
        except StaleDataError:
            db.session.rollback()
            return _page(_case_or_404(case_id), block="credits", status=409,
                         credit_conflict=STALE, decision_forms={credit_id: form})
        except DomainError as error:
            status, message = refuse(form, error)
            return _page(_case_or_404(case_id), block="credits", status=status,
                         credit_conflict=message, decision_forms={credit_id: form})
        verdict = "approved" if form.decision.data == "approve" else "rejected"
        return _back(credit.case, ["credits"], f"The credit is {verdict}.")
    return _page(_case_or_404(case_id), block="credits", status=422,
                 decision_forms={credit_id: form})
