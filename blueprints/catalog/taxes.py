"""Tax rates: the list (with how many products use each), adding, editing, and switching
a rate off for new products and on again."""

from decimal import Decimal

from flask import abort, flash, request, url_for
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from blueprints.catalog import bp
from blueprints.catalog.product_forms import TaxRateActiveForm, TaxRateForm
from blueprints.web import can, redirect_to, refuse, render, roles
from models import db
from models.catalog import Product, TaxRate
from models.errors import DomainError

VIEW_ROLES = ("admin", "finance", "operations")
EDIT_ROLES = ("admin", "finance")
STALE = ("This was changed by someone else a moment ago. Reload to see their change, "
         "then make yours again.")


def _rate_or_404(tax_rate_id: int) -> TaxRate:
    return db.session.get(TaxRate, tax_rate_id) or abort(404)


def save_tax_rate(rate: TaxRate, *, name: str, percent: Decimal | None, version=None) -> TaxRate:
    """Validate and set a rate's name (unique whatever its case) and percent (0 to 100,
    up to three decimals). Raises DomainError naming the field."""
    if rate.id is not None:
        rate.check_version(version)
    name = (name or "").strip()
    if not name:
        raise DomainError("Enter a name, like “VAT 20%”.", field="name")
    if len(name) > 60:
        raise DomainError("Use at most 60 characters.", field="name")
    taken = db.session.scalar(select(TaxRate.id).where(
        func.lower(TaxRate.name) == name.lower(), TaxRate.id != (rate.id or 0)))
    if taken is not None:
        raise DomainError(f"There is already a tax rate called {name}.", field="name")
    if percent is None or percent < 0 or percent > 100:
        raise DomainError("Enter a percent from 0 to 100.", field="percent")
    if percent != percent.quantize(Decimal("0.001")):
        raise DomainError("Use at most 3 decimals.", field="percent")
    rate.name = name
    rate.percent = percent.quantize(Decimal("0.001"))
    return rate


@bp.route("/tax-rates")
@roles(*VIEW_ROLES)
def tax_rates():
    """Every tax rate, active ones first, with the number of products using it."""
    if request.args:
        abort(400, "This list takes no filters.")
    used = dict(db.session.execute(
        select(Product.tax_rate_id, func.count(Product.id))
        .where(Product.tax_rate_id.is_not(None)).group_by(Product.tax_rate_id)).all())
    rates = list(db.session.scalars(
        select(TaxRate).order_by(TaxRate.active.desc(), TaxRate.percent, TaxRate.name)))
    forms = {r.id: TaxRateActiveForm(formdata=None, version=r.version,
                                     active="no" if r.active else "yes") for r in rates}
    return render("catalog/tax_rates.html", rates=rates, used=used, forms=forms,
                  may_edit=can(*EDIT_ROLES))


def _save(rate: TaxRate, form: TaxRateForm):
    status, conflict = 200, None
    if request.method == "POST":
        status = 422
        if form.validate():
            try:
                save_tax_rate(rate, name=form.name.data, percent=form.percent.data,
                              version=form.version.data)
                if rate.id is None:
                    db.session.add(rate)
                db.session.commit()
            except StaleDataError:
                db.session.rollback()
                status, conflict = 409, STALE
            except IntegrityError:
                db.session.rollback()
                form.name.errors = [f"There is already a tax rate called {form.name.data}."]
            except DomainError as error:
                status, conflict = refuse(form, error)
            else:
                flash(f"Tax rate {rate.name} is saved.", "success")
                return redirect_to(url_for("catalog.tax_rates"))
    return render("catalog/tax_rate_form.html", form=form, rate=rate, conflict=conflict,
                  status=status)


@bp.route("/tax-rates/new", methods=["GET", "POST"])
@roles(*EDIT_ROLES)
def new_tax_rate():
    """Add a tax rate."""
    return _save(TaxRate(), TaxRateForm())


@bp.route("/tax-rates/<int:tax_rate_id>/edit", methods=["GET", "POST"])
@roles(*EDIT_ROLES)
def edit_tax_rate(tax_rate_id: int):
    """Rename a tax rate or change its percent (version-checked). Documents already
    written keep the percent they were written with."""
    rate = _rate_or_404(tax_rate_id)
    if request.method == "GET":
        form = TaxRateForm(obj=rate)
        form.version.data = rate.version
    else:
        form = TaxRateForm()
    return _save(rate, form)


@bp.route("/tax-rates/<int:tax_rate_id>/active", methods=["POST"])
@roles(*EDIT_ROLES)
def set_tax_rate_active(tax_rate_id: int):
    """Switch a rate off (no longer offered for products) or on again."""
    rate = _rate_or_404(tax_rate_id)
    form = TaxRateActiveForm()
    if not form.validate():
        abort(400, "Choose on or off.")
    try:
        rate.check_version(form.version.data)
        rate.active = form.active.data == "yes"
        db.session.commit()
    except StaleDataError:
        db.session.rollback()
        abort(409, STALE)
    flash(f"Tax rate {rate.name} is {'active' if rate.active else 'inactive'}.", "success")
    return redirect_to(url_for("catalog.tax_rates"))
