from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

from flask import jsonify
from flask_login import current_user
from sqlalchemy import func, select

from blueprints.dashboard import bp
from blueprints.web import ALL_ROLES, public, render, roles
from models import (
    Activity,
    AuditEntry,
    Customer,
    Deal,
    FinancialAccount,
    Relationship,
    Stage,
    User,
    db,
)
from models.customers import LIFECYCLES
from models.pipeline import soonest_closing, weighted_cents
from models.receivables import overdue_condition, overdue_customers
from models.users import utcnow


@bp.route("/")
@roles(*ALL_ROLES)
def index():
    """The dashboard for my role: what I own, what needs me, what changed."""
    mine = current_user.role == "sales"
    lifecycle_query = select(Relationship.lifecycle, func.count()).group_by(Relationship.lifecycle)
    if mine:
        lifecycle_query = lifecycle_query.where(Relationship.owner_id == current_user.id)
    counts = dict(db.session.execute(lifecycle_query).all())
    by_lifecycle = [(stage.capitalize(), counts.get(stage, 0)) for stage in LIFECYCLES]
    on_hold = []
    if current_user.role in ("finance", "admin"):
        on_hold = db.session.scalars(
            select(Customer).join(FinancialAccount).where(FinancialAccount.on_hold.is_(True))
            .order_by(Customer.search_name).limit(10)
        ).unique().all()
    recent_customers = db.session.scalars(
        select(Customer).join(Relationship)
        .where(Relationship.owner_id == current_user.id if mine else True)
        .order_by(Relationship.customer_id.desc()).limit(8)  # the owner index's order
    ).unique().all()
    recent_changes = []
    users = []
    if current_user.role == "admin":
        recent_changes = db.session.scalars(
            select(AuditEntry).order_by(AuditEntry.id.desc()).limit(10)).all()
        users = db.session.execute(
            select(User.role, func.count()).where(User.is_enabled.is_(True))
            .group_by(User.role)).all()
    deals, open_deal_count, forecast, due = [], 0, [], []
    if current_user.role in ("sales", "admin"):
        deals, open_deal_count, forecast = _open_deals(current_user.id if mine else None)
        due = _followups_due(current_user.id)
    reorder, expected, to_ship = [], [], []
    if current_user.role in ("operations", "admin"):
        reorder, expected = _supply_watch()
        to_ship = _orders_to_ship()
    money = _finance_watch() if current_user.role in ("finance", "admin") else {}
    overdue_mine = _my_overdue_customers(current_user.id if mine else None) \
        if current_user.role in ("sales", "admin") else []
    deal_overdue = overdue_customers(deal.customer_id for deal in deals)
    return render("dashboard/index.html", reorder=reorder, expected=expected, to_ship=to_ship,
                  money=money, overdue_mine=overdue_mine, deal_overdue=deal_overdue,
                  today=utcnow().date(), mine=mine, by_lifecycle=by_lifecycle,
                  on_hold=on_hold, recent_customers=recent_customers,
                  recent_changes=recent_changes, users=users, deals=deals,
                  open_deal_count=open_deal_count, forecast=forecast, due=due)


def _finance_watch() -> dict:
    """What finance watches: overdue invoices (oldest first), drafts waiting to be
    posted, orders on credit hold, and suppliers' bills due within a week."""
    from models.invoicing import INVOICE_OPEN, Invoice
    from models.purchasing import VendorBill
    from models.sales import SalesOrder

    today = utcnow().date()
    overdue = db.session.scalars(
        select(Invoice).where(Invoice.kind == "invoice", Invoice.status == "posted",
                              INVOICE_OPEN, Invoice.due_date < today)
        .order_by(Invoice.due_date, Invoice.id).limit(8)).unique().all()
    drafts = db.session.scalars(
        select(Invoice).where(Invoice.status == "draft").order_by(Invoice.id).limit(8)
    ).unique().all()
    held = db.session.scalars(
        select(SalesOrder).where(SalesOrder.status == "held").order_by(SalesOrder.id)
        .limit(8)).unique().all()
    bills = db.session.scalars(
        select(VendorBill).where(VendorBill.status == "open", VendorBill.open_amount > 0,
                                 VendorBill.due_on <= today + timedelta(days=7))
        .order_by(VendorBill.due_on, VendorBill.id).limit(8)).unique().all()
    return {"overdue": overdue, "drafts": drafts, "held": held, "bills": bills}


def _my_overdue_customers(owner_id: int | None) -> list[tuple[Customer, Decimal]]:
    """Customers (mine, for a rep) with invoices past due: the call to make first."""
    query = (select(Customer).join(Relationship, Relationship.customer_id == Customer.id)
             .where(overdue_condition()).order_by(Customer.search_name).limit(8))
    if owner_id is not None:
        query = query.where(Relationship.owner_id == owner_id)
    customers = db.session.scalars(query).unique().all()
    amounts = overdue_customers(c.id for c in customers)
    return [(customer, amounts.get(customer.id, Decimal(0))) for customer in customers]


def _supply_watch():
    """What operations watch: products to reorder, and purchase orders still to arrive
    (soonest expected first; late ones first of all)."""
    from models.purchasing import PurchaseOrder, reorder_suggestions

    reorder = reorder_suggestions()
    expected = db.session.scalars(
        select(PurchaseOrder).where(PurchaseOrder.status.in_(("sent", "partial")))
        .order_by(PurchaseOrder.expected_on.is_(None), PurchaseOrder.expected_on,
                  PurchaseOrder.id).limit(8)).unique().all()
    return reorder, expected


def _orders_to_ship():
    """Sales orders with something left to ship, oldest first."""
    from sqlalchemy.orm import selectinload

    from models.documents import lines_for_totals
    from models.sales import OPEN_ORDER_STATUSES, SalesOrder

    return db.session.scalars(
        select(SalesOrder).where(SalesOrder.status.in_(OPEN_ORDER_STATUSES))
        .options(lines_for_totals(SalesOrder.lines), selectinload(SalesOrder.shipments))
        .order_by(SalesOrder.ordered_on, SalesOrder.id).limit(8)).unique().all()


def _open_deals(owner_id: int | None) -> tuple[list[Deal], int, list[tuple[str, Decimal]]]:
    """The ten open deals closing soonest, how many are open, and the weighted forecast
    by close month (the first six months, then "No date"): three small statements, the
    counting and summing done in SQL whatever the size of the pipeline."""
    mine = [Deal.owner_id == owner_id] if owner_id else []
    open_ids = db.session.scalars(select(Stage.id).where(Stage.outcome == "open")).all()
    by_stage = soonest_closing(mine, open_ids, 10, at_most=10)
    deals = sorted((deal for deals in by_stage.values() for deal in deals),
                   key=lambda deal: (deal.expected_close is None, deal.expected_close, deal.id))[:10]
    clauses = [Stage.outcome == "open", *mine]
    weighted = func.sum(weighted_cents())
    rows = db.session.execute(
        select(Deal.expected_close, func.count(Deal.id), weighted)
        .join(Stage, Stage.id == Deal.stage_id).where(*clauses)
        .group_by(Deal.expected_close)).all()  # a row a day: fewer than the deals
    count = sum(n for _, n, _ in rows)
    months: dict[str, int] = {}
    for day, _, cents in rows:
        key = day.strftime("%Y-%m") if day else "No date"
        months[key] = months.get(key, 0) + cents
    forecast = [(key, Decimal(cents) / 100) for key, cents in
                sorted(months.items(), key=lambda item: (item[0] == "No date", item[0]))[:6]]
    return deals, count, forecast


def _followups_due(user_id: int) -> list[Activity]:
    """My open activities due by the end of today (UTC), oldest first."""
    end_of_today = datetime.combine(utcnow().date() + timedelta(days=1), time.min, UTC)
    return list(db.session.scalars(
        select(Activity).where(Activity.assignee_id == user_id, Activity.done.is_(False),
                               Activity.due_at.is_not(None), Activity.due_at < end_of_today)
        .order_by(Activity.due_at).limit(10)).unique())


@bp.route("/healthz")
@public
def healthz():
    """Liveness for load balancers and the benchmark's ceiling."""
    return jsonify(status="ok")
