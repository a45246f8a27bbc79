"""The deal board, deals (new, page, edit, move) and the stages admin."""

import re
from datetime import date
from functools import cache, partial

from flask import abort, flash, request, url_for
from flask_login import current_user
from sqlalchemy import bindparam, func, select
from sqlalchemy.orm.exc import StaleDataError

from blueprints.forms import choices
from blueprints.pipeline import bp
from blueprints.pipeline.deal_forms import DealForm, EditDealForm, MoveForm, StageForm
from blueprints.web import ALL_ROLES, can, is_partial, redirect_to, render, roles
from models import Customer, User, db
from models.activities import timeline
from models.errors import DomainError, NotAllowed
from models.pipeline import (
    BOARD_MORE,
    Campaign,
    Deal,
    Stage,
    StageChange,
    add_stage,
    board_deals,
    board_totals,
    card_cursor,
    column_after,
    create_deal,
    deal_filter_clauses,
    delete_stage,
    ensure_stages,
    may_change_deal,
    move_deal,
    parse_card_cursor,
    update_deal,
    update_stage,
)
from models.sales import QUOTE_ROLES, may_quote, orders_for_deal, quotes_for_deal

CHANGE_DEALS = ("admin", "sales")
BOARD_PARAMS = {"owner", "month", "campaign", "source"}
MORE_PARAMS = {"column", "after"}  # a column's "Show more"
MONTH = re.compile(r"^([0-9]{4})-(0[1-9]|1[0-2])$")
ROW_ID = re.compile(r"^[0-9]{1,9}$")  # ASCII digits that fit an INTEGER column
STALE = ("This deal was changed by someone else a moment ago. The board now shows their "
         "change; make yours again if it still applies.")

# a column's "Show more" link names the last card shown (templates/pipeline/_board_more.html)
bp.add_app_template_global(card_cursor, "card_cursor")


# --- Helpers ------------------------------------------------------------------------------

def _get(model, raw):
    """The row with the typed id, or None when there is none or the id is not one."""
    raw = (str(raw) if raw is not None else "").strip()
    return db.session.get(model, int(raw)) if ROW_ID.match(raw) else None


def _deal_or_404(deal_id: int) -> Deal:
    return _get(Deal, deal_id) or abort(404)


# Menus: rows of (id, name), not whole records.
def _sales_users() -> list:
    return list(db.session.execute(
        select(User.id, User.name).where(User.role.in_(CHANGE_DEALS), User.is_enabled.is_(True))
        .order_by(User.name)))


def _campaigns() -> list:
    return list(db.session.execute(select(Campaign.id, Campaign.name).order_by(Campaign.name)))


def _default_owner() -> str:
    return "mine" if current_user.role == "sales" else "all"


def _board_filters(args) -> dict:
    """The board's filters from the URL: whitelisted names and values only, else 400."""
    unknown = set(args) - BOARD_PARAMS
    if unknown:
        abort(400, f"Unknown filter: {', '.join(sorted(unknown))}.")
    owner = args.get("owner") or _default_owner()
    if owner not in ("mine", "all", "none") and _get(User, owner) is None:
        abort(400, "Unknown owner filter.")
    month = args.get("month", "")
    if month and not MONTH.match(month):
        abort(400, "Give the close month as YYYY-MM.")
    campaign = args.get("campaign", "")
    if campaign and _get(Campaign, campaign) is None:
        abort(400, "Unknown campaign.")
    source = args.get("source", "").strip()
    if len(source) > 100 or any(ord(ch) < 32 for ch in source):
        abort(400, "The source filter is too long or has invisible characters.")
    return {"owner": owner, "month": month, "campaign": campaign, "source": source}


def _filter_args(filters: dict) -> dict:
    """The filters worth putting in a URL (defaults left out)."""
    args = {k: v for k, v in filters.items() if v and k != "owner"}
    if filters["owner"] != _default_owner():
        args["owner"] = filters["owner"]
    return args


def _clauses(filters: dict) -> list:
    owner = filters["owner"]
    month = MONTH.match(filters["month"]) if filters["month"] else None
    return deal_filter_clauses(
        owner_id=current_user.id if owner == "mine" else (int(owner) if owner.isdigit() else None),
        unowned=owner == "none",
        close_month=date(int(month.group(1)), int(month.group(2)), 1) if month else None,
        campaign_id=int(filters["campaign"]) if filters["campaign"] else None,
        source=filters["source"])


def _board(filters: dict, *, status: int = 200, message: str | None = None,
           error: str | None = None, lost: dict | None = None):
    """The board page, or for htmx its board block, for these filters."""
    stages = Stage.ordered()
    open_stages = [s for s in stages if s.is_open]
    closing = {s.outcome: s for s in stages if not s.is_open}
    clauses = _clauses(filters)
    return render(
        "pipeline/board.html", block=["board", "status"], status=status, oob=is_partial(),
        filters=filters,
        filter_args=_filter_args(filters), stages=stages, open_stages=open_stages,
        won_stage=closing.get("won"), lost_stage=closing.get("lost"),
        columns=board_deals(clauses, [s.id for s in open_stages]),
        totals=board_totals([*clauses, Deal.stage_id.in_([s.id for s in open_stages])]),
        owners=_sales_users(), campaigns=_campaigns(),
        # the signed-in user looked up once, not through the proxy for each of 200 cards
        may_move=partial(may_change_deal, current_user._get_current_object()),
        message=message, error=error, lost=lost)


# --- The board ---------------------------------------------------------------------------

@bp.route("/")
@roles(*ALL_ROLES)
def index():
    """The deal board: a column per open stage with its totals, filtered from the URL.

    ?column=<stage id>&after=<cursor> (with the filters) is a column's "Show more": its
    next cards after the one the cursor names, alone for htmx (they take the link's
    place), else a page of that column's next cards.
    """
    if not MORE_PARAMS & set(request.args):
        return _board(_board_filters(request.args))
    column, after = request.args.get("column", ""), request.args.get("after", "")
    filters = _board_filters({k: v for k, v in request.args.items() if k not in MORE_PARAMS})
    stage = _get(Stage, column)
    if stage is None or not stage.is_open:
        abort(400, "There is no such column on the board.")
    try:
        cursor = parse_card_cursor(after)
    except ValueError as error:
        abort(400, str(error))
    cards = column_after(_clauses(filters), stage.id, cursor, BOARD_MORE + 1)
    return render("pipeline/board_more.html", block="cards", stage=stage,
                  stages=Stage.ordered(), cards=cards[:BOARD_MORE],
                  more=len(cards) > BOARD_MORE, filters=filters,
                  filter_args=_filter_args(filters),
                  may_move=partial(may_change_deal, current_user._get_current_object()))


@bp.route("/deals/<int:deal_id>/move", methods=["POST"])
@roles(*CHANGE_DEALS)
def move(deal_id: int):
    """Move a deal to another stage (drag on the board, the Move to… form, the deal page)."""
    deal = _deal_or_404(deal_id)
    on_deal_page = request.form.get("back") == "deal"
    filters = None if on_deal_page else _board_filters(request.args)
    form = MoveForm()

    def refused(status: int, text: str, *, lost_error: bool = False):
        db.session.rollback()
        fresh = _deal_or_404(deal_id)
        if on_deal_page:
            return _deal_page(fresh, status=status, move_form=form, move_error=text)
        lost = None
        if lost_error:
            lost = {"deal": fresh, "version": form.version.data or "",
                    "reason": form.lost_reason.data or "", "error": text}
        return _board(filters, status=status, error=None if lost_error else text, lost=lost)

    if not may_change_deal(current_user, deal):
        return refused(403, f"Only the owner of “{deal.title}” or an admin may move it.")
    raw = (form.stage_id.data or "").strip()
    stage = _get(Stage, raw)
    if stage is None:
        return refused(422, "Choose a stage from the list.")
    if not form.validate():
        return refused(422, " ".join(form.lost_reason.errors) or "Check the form.",
                       lost_error=stage.outcome == "lost")
    try:
        move_deal(deal, stage, by=current_user, version=form.version.data,
                  lost_reason=form.lost_reason.data)
        db.session.commit()
    except StaleDataError:
        return refused(409, STALE)
    except DomainError as error:
        return refused(error.status, error.message,
                       lost_error=error.field == "lost_reason" and not on_deal_page)
    text = f"“{deal.title}” moved to {stage.name}."
    if on_deal_page:
        flash(text, "success")
        return redirect_to(url_for("pipeline.deal", deal_id=deal.id))
    if is_partial():
        return _board(filters, message=text)
    flash(text, "success")
    return redirect_to(url_for("pipeline.index", **_filter_args(filters)))


# --- Deals --------------------------------------------------------------------------------

def _deal_form_choices(form, *, new: bool) -> None:
    owners = _sales_users()
    form.owner_id.choices = choices([("", "Nobody")] + [(str(u.id), u.name) for u in owners])
    stages = Stage.ordered()
    form.stage_id.choices = choices(
        [(str(s.id), s.name) for s in stages if not (new and s.outcome == "lost")])
    form.campaign_id.choices = choices(
        [("", "None")] + [(str(c.id), c.name) for c in _campaigns()])


def _picked_customer(form) -> Customer | None:
    """The customer chosen in the picker, or None with the error on the field."""
    raw = (form.customer_id.data or "").strip()
    if not raw:
        form.customer_id.errors = ["Choose a customer: type a name and pick one."]
        return None
    customer = _get(Customer, raw)
    if customer is None:
        form.customer_id.errors = ["Choose a customer from the list."]
    return customer


def _deal_values(form) -> dict:
    owner = db.session.get(User, int(form.owner_id.data)) if form.owner_id.data else None
    campaign = (db.session.get(Campaign, int(form.campaign_id.data))
                if form.campaign_id.data else None)
    return {"title": form.title.data, "owner": owner,
            "stage": db.session.get(Stage, int(form.stage_id.data)),
            "amount": form.amount.data, "expected_close": form.expected_close.data,
            "probability_override": form.probability_override.data, "campaign": campaign,
            "source": form.source.data or ""}


def _form_page(form, *, deal: Deal | None, customer: Customer | None, status: int = 200,
               conflict: str | None = None):
    return render("pipeline/deal_form.html", form=form, deal=deal, customer=customer,
                  picker_text=customer.name if customer else request.form.get("q", ""),
                  conflict=conflict, status=status)


def _apply_error(form, error: DomainError) -> str | None:
    """Put a refused rule's message next to its field; return it when no field fits."""
    field = getattr(form, error.field, None) if error.field else None
    if field is not None:
        field.errors = [error.message]
        return None
    return error.message


@bp.route("/deals/new", methods=["GET", "POST"])
@roles(*CHANGE_DEALS)
def new_deal():
    """A new deal for a customer chosen by the type-ahead picker."""
    form = DealForm()
    _deal_form_choices(form, new=True)
    customer = None
    if request.method == "GET":
        raw = request.args.get("customer_id", "")
        if raw:
            if not ROW_ID.match(raw):
                abort(400, "Unknown customer.")
            customer = _get(Customer, raw) or abort(404)
            form.customer_id.data = str(customer.id)
        form.owner_id.data = str(current_user.id)
        open_stages = [c for c in form.stage_id.choices]
        form.stage_id.data = open_stages[0].value if open_stages else ""
        return _form_page(form, deal=None, customer=customer)
    valid = form.validate_on_submit()
    customer = _picked_customer(form)
    message = None
    if valid and customer is not None:
        try:
            deal = create_deal(customer=customer, by=current_user, **_deal_values(form))
            db.session.commit()
        except DomainError as error:
            db.session.rollback()
            customer = db.session.get(Customer, customer.id)
            message = _apply_error(form, error)
        else:
            flash(f"“{deal.title}” is created.", "success")
            return redirect_to(url_for("pipeline.deal", deal_id=deal.id))
    return _form_page(form, deal=None, customer=customer, status=422, conflict=message)


@cache
def _stage_changes():
    # every deal page runs it: built once, the deal's id bound at each run
    return (select(StageChange, User.name).outerjoin(User, User.id == StageChange.by_id)
            .where(StageChange.deal_id == bindparam("deal_id"))
            .order_by(StageChange.at, StageChange.id))


def _deal_page(deal: Deal, *, status: int = 200, move_form=None, move_error=None):
    changes = db.session.execute(_stage_changes(), {"deal_id": deal.id}).all()
    stages = Stage.ordered()
    if move_form is None:
        move_form = MoveForm(formdata=None)
        move_form.version.data = deal.version
    from models.invoicing import invoices_for_deal
    from models.receivables import standing

    return render("pipeline/deal.html", status=status, deal=deal, stages=stages,
                  quotes=quotes_for_deal(deal.id), orders=orders_for_deal(deal.id),
                  invoices=invoices_for_deal(deal.id), standing=standing(deal.customer),
                  customer=deal.customer,
                  may_quote=can(*QUOTE_ROLES) and may_quote(current_user, deal),
                  stage_names={s.id: s.name for s in stages}, changes=changes,
                  may_change=may_change_deal(current_user, deal), move_form=move_form,
                  move_error=move_error, timeline_activities=timeline(deal_id=deal.id),
                  timeline_customer=deal.customer, timeline_deal=deal)


@bp.route("/deals/<int:deal_id>")
@roles(*ALL_ROLES)
def deal(deal_id: int):
    """A deal: stage and probability, the customer's standing and contacts, the activity."""
    return _deal_page(_deal_or_404(deal_id))


@bp.route("/deals/<int:deal_id>/edit", methods=["GET", "POST"])
@roles(*CHANGE_DEALS)
def edit_deal(deal_id: int):
    """Edit a deal (its owner or an admin); a stale save is refused."""
    deal = _deal_or_404(deal_id)
    if not may_change_deal(current_user, deal):
        raise NotAllowed("Only the deal's owner or an admin may change it.")
    if request.method == "GET":
        form = EditDealForm(obj=deal)
        _deal_form_choices(form, new=False)
        form.version.data = deal.version
        form.customer_id.data = str(deal.customer_id)
        form.owner_id.data = str(deal.owner_id or "")
        form.stage_id.data = str(deal.stage_id)
        form.campaign_id.data = str(deal.campaign_id or "")
        return _form_page(form, deal=deal, customer=deal.customer)
    form = EditDealForm()
    _deal_form_choices(form, new=False)
    valid = form.validate_on_submit()
    customer = _picked_customer(form)
    message = None
    if valid and customer is not None:
        try:
            update_deal(deal, by=current_user, version=form.version.data, customer=customer,
                        lost_reason=form.lost_reason.data, **_deal_values(form))
            db.session.commit()
        except StaleDataError:
            db.session.rollback()
            return _form_page(form, deal=_deal_or_404(deal_id), customer=customer, status=409,
                              conflict=STALE)
        except DomainError as error:
            db.session.rollback()
            deal = _deal_or_404(deal_id)
            customer = db.session.get(Customer, customer.id)
            if error.status != 422:
                return _form_page(form, deal=deal, customer=customer, status=error.status,
                                  conflict=error.message)
            message = _apply_error(form, error)
        else:
            flash("Saved.", "success")
            return redirect_to(url_for("pipeline.deal", deal_id=deal.id))
    return _form_page(form, deal=deal, customer=customer, status=422, conflict=message)


# --- Stages (admin) -----------------------------------------------------------------------

def _stage_form(stage: Stage, formdata=None) -> StageForm:
    form = StageForm(formdata=formdata, obj=None if formdata else stage, prefix=f"s{stage.id}")
    if formdata is None:
        form.version.data = stage.version
    return form


def _stages_page(*, status: int = 200, forms: dict | None = None, new_form=None,
                 message: str | None = None, message_stage: int | None = None):
    stages = Stage.ordered()
    forms = forms or {}
    in_use = dict(db.session.execute(
        select(Deal.stage_id, func.count(Deal.id)).group_by(Deal.stage_id)).all())
    return render("pipeline/stages.html", status=status, stages=stages,
                  forms={s.id: forms.get(s.id) or _stage_form(s) for s in stages},
                  new_form=new_form or StageForm(
                      formdata=None, prefix="new", probability=50,
                      position=max([s.position for s in stages if s.is_open], default=-1) + 1),
                  in_use=in_use, message=message, message_stage=message_stage)


def _posted_stage() -> Stage:
    raw = request.form.get("stage_id", "")
    return _get(Stage, raw) or abort(404)


@bp.route("/stages")
@roles("admin")
def stages():
    """Pipeline stages: names, order, probabilities and follow-up days."""
    return _stages_page()


@bp.route("/stages/save", methods=["POST"])
@roles("admin")
def update_stage_view():
    """Save one stage's settings."""
    stage = _posted_stage()
    form = _stage_form(stage, formdata=request.form)
    if form.validate():
        try:
            update_stage(stage, version=form.version.data, name=form.name.data,
                         position=form.position.data, probability=form.probability.data,
                         followup_days=form.followup_days.data)
            db.session.commit()
        except StaleDataError:
            db.session.rollback()
            return _stages_page(status=409, forms={stage.id: form}, message=STALE,
                                message_stage=stage.id)
        except DomainError as error:
            db.session.rollback()
            if error.status != 422:
                return _stages_page(status=error.status, forms={stage.id: form},
                                    message=error.message, message_stage=stage.id)
            message = _apply_error(form, error)
            return _stages_page(status=422, forms={stage.id: form}, message=message,
                                message_stage=stage.id)
        flash(f"{stage.name} is saved.", "success")
        return redirect_to(url_for("pipeline.stages"))
    return _stages_page(status=422, forms={stage.id: form})


@bp.route("/stages/add", methods=["POST"])
@roles("admin")
def add_stage_view():
    """Add an open stage (a new board column)."""
    form = StageForm(prefix="new")
    if form.validate():
        try:
            stage = add_stage(name=form.name.data, position=form.position.data,
                              probability=form.probability.data,
                              followup_days=form.followup_days.data)
            db.session.commit()
        except DomainError as error:
            db.session.rollback()
            message = _apply_error(form, error)
            return _stages_page(status=422, new_form=form, message=message)
        flash(f"{stage.name} is added.", "success")
        return redirect_to(url_for("pipeline.stages"))
    return _stages_page(status=422, new_form=form)


@bp.route("/stages/delete", methods=["POST"])
@roles("admin")
def delete_stage_view():
    """Remove an open stage that no deal is in or has passed through."""
    stage = _posted_stage()
    name = stage.name
    try:
        delete_stage(stage)
        db.session.commit()
    except DomainError as error:
        db.session.rollback()
        return _stages_page(status=422, message=error.message, message_stage=stage.id)
    flash(f"{name} is removed.", "success")
    return redirect_to(url_for("pipeline.stages"))


@bp.route("/stages/standard", methods=["POST"])
@roles("admin")
def load_stages():
    """Load the standard stages when there are none yet."""
    had = db.session.scalar(select(Stage.id).limit(1)) is not None
    ensure_stages()
    db.session.commit()
    flash("The stages were already set up; nothing changed." if had
          else "The standard stages are loaded.", "success")
    return redirect_to(url_for("pipeline.stages"))
