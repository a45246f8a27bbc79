"""Contracts and renewals: a customer's contracts, and the renewal deals that open by
themselves when a contract's notice period begins."""

from datetime import date

from flask import abort, flash, make_response, request, url_for
from flask_wtf import FlaskForm
from wtforms import DateField, HiddenField, IntegerField, StringField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Regexp

from blueprints.forms import MoneyField, NoControlChars, NotNegative
from blueprints.pipeline import bp
from blueprints.web import redirect_to, refuse, render, roles
from models import Customer, db
from models.contracts import (
    CONTRACT_ROLES,
    DEFAULT_NOTICE_DAYS,
    MAX_NOTICE_DAYS,
    Contract,
    open_renewals,
    save_contract,
)
from models.errors import DomainError


class ContractForm(FlaskForm):
    version = HiddenField()
    customer_id = StringField("Customer", validators=[
        DataRequired("Choose a customer from the list."),
        Regexp(r"^\d{1,18}$", message="Choose a customer from the list.")])
    title = StringField("Title", validators=[
        DataRequired("Enter a title."), Length(max=200, message="Use at most 200 characters."),
        NoControlChars()])
    starts_on = DateField("Starts on", validators=[
        InputRequired("Enter the date the contract starts.")])
    ends_on = DateField("Ends on", validators=[InputRequired("Enter the date the contract ends.")])
    value = MoneyField("Value", validators=[
        InputRequired("Enter the contract's value (0 when none)."), NotNegative()])
    notice_days = IntegerField(
        "Notice (days)", default=DEFAULT_NOTICE_DAYS,
        validators=[InputRequired("Enter the notice period in days."),
                    NumberRange(0, MAX_NOTICE_DAYS, f"Enter 0 to {MAX_NOTICE_DAYS} days.")],
        description="The renewal deal opens this many days before the contract ends.")


def _customer_from(value: str | None) -> Customer | None:
    value = (value or "").strip()
    if not value.isdigit() or len(value) > 18:
        return None
    return db.session.get(Customer, int(value))


def _save(contract: Contract, form: ContractForm, customer: Customer | None):
    status, conflict = 200, None
    if request.method == "POST":
        status = 422
        valid = form.validate()
        if valid and customer is None:
            form.customer_id.errors = ["Choose a customer from the list."]
            valid = False
        if valid:
            try:
                save_contract(contract, customer=customer, title=form.title.data,
                              starts_on=form.starts_on.data, ends_on=form.ends_on.data,
                              value=form.value.data, notice_days=form.notice_days.data,
                              version=form.version.data)
            except DomainError as error:
                status, conflict = refuse(form, error)
            else:
                db.session.commit()
                flash(f"The contract {contract.title} is saved.", "success")
                return redirect_to(url_for("accounts.show", customer_id=customer.id))
    if customer is not None:
        form.value.label.text = f"Value ({customer.account.currency})"
    return render("pipeline/contract_form.html", form=form, contract=contract,
                  customer=customer, conflict=conflict, status=status)


@bp.route("/contracts/new", methods=["GET", "POST"])
@roles(*CONTRACT_ROLES)
def new_contract():
    """Add a contract to a customer (?customer_id= chooses the customer)."""
    form = ContractForm()
    if request.method == "GET":
        value = request.args.get("customer_id", "")
        if value and not (value.isdigit() and len(value) < 19):
            abort(400, "Unknown customer.")
        customer = (db.session.get(Customer, int(value)) or abort(404)) if value else None
        form.customer_id.data = str(customer.id) if customer else ""
    else:
        customer = _customer_from(form.customer_id.data)
    return _save(Contract(), form, customer)


@bp.route("/contracts/<int:contract_id>/edit", methods=["GET", "POST"])
@roles(*CONTRACT_ROLES)
def edit_contract(contract_id: int):
    """Change a contract (version-checked)."""
    contract = db.session.get(Contract, contract_id) or abort(404)
    if request.method == "GET":
        form = ContractForm(obj=contract)
        form.customer_id.data = str(contract.customer_id)
        form.version.data = contract.version
    else:
        form = ContractForm()
        # A contract stays with its customer: the posted id is not trusted.
        form.customer_id.data = str(contract.customer_id)
    return _save(contract, form, contract.customer)


@bp.route("/renewals/run", methods=["POST"])
@roles("admin", "sales")
def run_renewals():
    """Open the renewal deals that are due today (the dashboard posts this on load)."""
    opened = open_renewals(date.today())
    db.session.commit()
    response = make_response("", 204)
    response.headers["X-Renewals-Opened"] = str(len(opened))
    return response
