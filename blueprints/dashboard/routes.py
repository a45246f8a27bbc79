from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

from flask import jsonify
from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload, lazyload

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
from models.receivables import overdue_customers, overdue_invoices
from models.users import utcnow

DASHBOARD_ROWS = 8  # rows a panel lists (the open deals and follow-ups due list ten)


def _first(entity, picked, order, *shown):
    """The records `picked` (a SELECT of `entity.id` with its WHERE, ORDER BY and LIMIT),
    in `order`, loading only the relations `shown` (`joinedload(...)`): the few rows are
    chosen first and joined after. With the default joined relations on the SELECT that
    chose them, PostgreSQL joined every customer (and its facets) before the LIMIT."""
    return db.session.scalars(
        select(entity).where(entity.id.in_(picked.correlate(None))).order_by(*order)
        .options(*shown, lazyload("*"))).unique().all()


def _name_of(relation):
    """joinedload of a relation whose name a panel shows, without its own relations."""
    return joinedload(relation).lazyload("*")


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
        order = (Customer.search_name, Customer.id)
        on_hold = _first(Customer, select(Customer.id).join(FinancialAccount)
                         .where(FinancialAccount.on_hold.is_(True)).order_by(*order).limit(10),
                         order, _name_of(Customer.account))
    recent_customers = _first(
        Customer, select(Relationship.customer_id)
        .where(Relationship.owner_id == current_user.id if mine else True)
        .order_by(Relationship.customer_id.desc()).limit(DASHBOARD_ROWS),  # the owner index's order
        (Customer.id.desc(),))
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
    (reorder, reorder_count), expected, to_ship = ([], 0), [], []
    if current_user.role in ("operations", "admin"):
        (reorder, reorder_count), expected = _supply_watch()
        to_ship = _orders_to_ship()
    money = _finance_watch() if current_user.role in ("finance", "admin") else {}
    overdue_mine = _my_overdue_customers(current_user.id if mine else None) \
        if current_user.role in ("sales", "admin") else []
    deal_overdue = overdue_customers(deal.customer_id for deal in deals)
    return render("dashboard/index.html", reorder=reorder, reorder_count=reorder_count,
                  expected=expected, to_ship=to_ship,
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
    customer = _name_of(Invoice.customer)
    by_due = (Invoice.due_date, Invoice.id)
    overdue = _first(Invoice, select(Invoice.id).where(
        Invoice.kind == "invoice", Invoice.status == "posted", INVOICE_OPEN,
        Invoice.due_date < today).order_by(*by_due).limit(DASHBOARD_ROWS), by_due, customer)
    drafts = _first(Invoice, select(Invoice.id).where(Invoice.status == "draft")
                    .order_by(Invoice.id).limit(DASHBOARD_ROWS), (Invoice.id,), customer)
    held = _first(SalesOrder, select(SalesOrder.id).where(SalesOrder.status == "held")
                  .order_by(SalesOrder.id).limit(DASHBOARD_ROWS), (SalesOrder.id,),
                  _name_of(SalesOrder.customer))
    by_due = (VendorBill.due_on, VendorBill.id)
    bills = _first(VendorBill, select(VendorBill.id).where(
        VendorBill.status == "open", VendorBill.open_amount > 0,
        VendorBill.due_on <= today + timedelta(days=7)).order_by(*by_due)
        .limit(DASHBOARD_ROWS), by_due, _name_of(VendorBill.supplier))
    return {"overdue": overdue, "drafts": drafts, "held": held, "bills": bills}


def _my_overdue_customers(owner_id: int | None) -> list[tuple[Customer, Decimal]]:
    """Customers (mine, for a rep) with invoices past due, the longest overdue first (the
    call to make first), with what is overdue: one pass over the open invoices past due
    (the partial index by due date), then the few customers shown."""
    from models.invoicing import Invoice
    from models.ledger import sum_money

    picked = (select(Invoice.customer_id, sum_money(Invoice.open_amount))
              .where(*overdue_invoices()).group_by(Invoice.customer_id)
              .order_by(func.min(Invoice.due_date), Invoice.customer_id)
              .limit(DASHBOARD_ROWS))
    if owner_id is not None:
        picked = picked.join(Relationship, Relationship.customer_id == Invoice.customer_id) \
            .where(Relationship.owner_id == owner_id)
    amounts = dict(db.session.execute(picked).all())
    if not amounts:
        return []
    customers = db.session.scalars(
        select(Customer).where(Customer.id.in_(amounts))
        .options(_name_of(Customer.account), lazyload("*"))).unique()
    by_id = {customer.id: customer for customer in customers}
    return [(by_id[customer_id], amount) for customer_id, amount in amounts.items()]


def _supply_watch():
    """What operations watch: the first products to reorder and how many there are, and
    purchase orders still to arrive (soonest expected first; late ones first of all)."""
    from models.purchasing import PurchaseOrder, reorder_watch

    reorder = reorder_watch(DASHBOARD_ROWS)
    order = (PurchaseOrder.expected_on.is_(None), PurchaseOrder.expected_on, PurchaseOrder.id)
    expected = _first(PurchaseOrder, select(PurchaseOrder.id)
                      .where(PurchaseOrder.status.in_(("sent", "partial"))).order_by(*order)
                      .limit(DASHBOARD_ROWS), order, _name_of(PurchaseOrder.supplier))
    return reorder, expected


def _orders_to_ship():
    """Sales orders with something left to ship, oldest first."""
    from sqlalchemy.orm import selectinload

    from models.documents import lines_for_totals
    from models.sales import OPEN_ORDER_STATUSES, SalesOrder

    order = (SalesOrder.ordered_on, SalesOrder.id)
    return _first(SalesOrder, select(SalesOrder.id)
                  .where(SalesOrder.status.in_(OPEN_ORDER_STATUSES)).order_by(*order)
                  .limit(DASHBOARD_ROWS), order, _name_of(SalesOrder.customer),
                  lines_for_totals(SalesOrder.lines), selectinload(SalesOrder.shipments))


def _open_deals(owner_id: int | None) -> tuple[list, int, list[tuple[str, Decimal]]]:
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
    order = (Activity.due_at, Activity.id)
    return _first(Activity, select(Activity.id).where(
        Activity.assignee_id == user_id, Activity.done.is_(False),
        Activity.due_at.is_not(None), Activity.due_at < end_of_today).order_by(*order)
        .limit(10), order, _name_of(Activity.customer))


@bp.route("/healthz")
@public
def healthz():
    """Liveness for load balancers and the benchmark's ceiling."""
    return jsonify(status="ok")
