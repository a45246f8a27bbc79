from flask import jsonify
from flask_login import current_user
from sqlalchemy import func, select

from blueprints.dashboard import bp
from blueprints.web import ALL_ROLES, public, render, roles
from models import AuditEntry, Customer, FinancialAccount, Relationship, User, db
from models.customers import LIFECYCLES


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
        .order_by(Customer.id.desc()).limit(8)
    ).unique().all()
    recent_changes = []
    users = []
    if current_user.role == "admin":
        recent_changes = db.session.scalars(
            select(AuditEntry).order_by(AuditEntry.id.desc()).limit(10)).all()
        users = db.session.execute(
            select(User.role, func.count()).where(User.is_enabled.is_(True))
            .group_by(User.role)).all()
    return render("dashboard/index.html", mine=mine, by_lifecycle=by_lifecycle,
                  on_hold=on_hold, recent_customers=recent_customers,
                  recent_changes=recent_changes, users=users)


@bp.route("/healthz")
@public
def healthz():
    """Liveness for load balancers and the benchmark's ceiling."""
    return jsonify(status="ok")
