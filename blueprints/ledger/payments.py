"""Payments, bills and credit control: money received from customers and paid to
suppliers with what it settles, vendor bills (with or without a purchase order), the
queue of orders on credit hold with finance's answer, and the money strip other pages
refresh. Rules are in models.payments, models.purchasing and models.sales.
"""

from datetime import date

from flask import abort, flash, request, url_for
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError

from blueprints.forms import choices
from blueprints.ledger import bp
from blueprints.ledger.forms import CreditDecisionForm, ExpenseBillForm, PaymentForm
from blueprints.ledger.invoices import allocate_from
from blueprints.web import ALL_ROLES, can, redirect_to, refuse, render, roles, url_page
from models import AuditEntry, db
from models.catalog import Supplier
from models.customers import Customer
from models.documents import lines_for_totals
from models.errors import DomainError
from models.formkeys import claim_form_key, settle_form_key
from models.ledger import LEDGER_ROLES, Account, base_currency, cash_accounts
from models.payments import (
    METHODS,
    PAYMENT_ROLES,
    Payment,
    allocations_of,
    open_bills,
    open_invoices,
    record_payment,
    record_supplier_payment,
)
from models.purchasing import VendorBill, record_expense_bill
from models.receivables import overdue_customers, standing
from models.sales import CREDIT_ROLES, SalesOrder, decide_credit_hold
from models.types import parse_money

LIST_PARAMS = {"direction", "after", "before"}
BILL_VIEW_ROLES = ("admin", "finance", "operations")


def _id(raw: str | None) -> int | None:
    raw = (raw or "").strip()
    return int(raw) if raw.isdigit() and len(raw) < 10 else None


# --- The list ----------------------------------------------------------------------------

@bp.route("/payments")
@roles(*PAYMENT_ROLES)
def payments():
    """Payments received and paid, newest first."""
    unknown = set(request.args) - LIST_PARAMS
    if unknown:
        abort(400, f"Unknown filter: {', '.join(sorted(unknown))}.")
    direction = request.args.get("direction", "")
    if direction not in ("", "in", "out"):
        abort(400, "Unknown direction.")
    query = select(Payment)
    if direction:
        query = query.where(Payment.direction == direction)
    page = url_page(query, Payment.id, Payment.id, descending=True)
    return render("ledger/payments.html", block="results", page=page,
                  filters={"direction": direction})


# --- Recording a payment -----------------------------------------------------------------

def _payment_form(formdata=None, **defaults) -> PaymentForm:
    form = PaymentForm(formdata=formdata, **defaults)
    form.account_id.choices = choices([(str(a.id), a.label) for a in cash_accounts()])
    form.method.choices = choices(list(METHODS.items()))
    return form


def _read_allocations(documents):
    """({id: amount}, {id: typed}, {id: message}) from the alloc-<id> fields."""
    plan, typed, errors = {}, {}, {}
    for document in documents:
        raw = (request.form.get(f"alloc-{document.id}") or "").strip()[:40]
        typed[document.id] = raw
        if not raw:
            continue
        try:
            plan[document.id] = parse_money(raw)
        except ValueError as error:
            errors[document.id] = str(error)
    return plan, typed, errors


def _payment_page(form, *, direction: str, partner, documents, typed, errors,
                  status: int = 200, message: str | None = None):
    currency = (partner.account.currency if direction == "in" else partner.currency) \
        if partner is not None else None
    return render("ledger/payment_new.html", status=status, form=form, direction=direction,
                  partner=partner, open_for_credit=documents, typed=typed, errors=errors,
                  message=message, currency=currency,
                  foreign=currency is not None and currency != base_currency(),
                  base=base_currency(),
                  standing=standing(partner) if direction == "in" and partner else None,
                  customer=partner if direction == "in" else None)


def _open_documents(direction: str, partner, currency: str | None = None) -> list:
    """What a payment in (out) can settle: the customer's invoices (the supplier's bills)
    in `currency` (by default theirs), oldest due first."""
    if direction == "in":
        return open_invoices(partner.id, currency or partner.account.currency)
    return open_bills(partner.id, currency or partner.currency)


def _blank_form(direction: str, partner, documents, chosen_id: int | None):
    """The form as first shown; from a document's page, its open amount is prefilled."""
    chosen = next((d for d in documents if d.id == chosen_id), None)
    form = _payment_form(payment_date=date.today(),
                         amount=chosen.open_amount if chosen is not None else None,
                         customer_id=str(partner.id) if direction == "in" and partner else "")
    typed = {chosen.id: f"{chosen.open_amount:.2f}"} if chosen is not None else {}
    return _payment_page(form, direction=direction, partner=partner, documents=documents,
                         typed=typed, errors={})


def _record_posted(form, direction: str, partner, documents, record):
    """Read a posted payment form and record it with `record` (record_payment or
    record_supplier_payment), under a one-time key; refusals come back on the form."""
    valid = form.validate()
    plan, typed, errors = _read_allocations(documents)
    if not valid or errors:
        return _payment_page(form, direction=direction, partner=partner, documents=documents,
                             typed=typed, errors=errors, status=422)
    key = request.form.get("form_key")
    claim_form_key(key, "payment" if direction == "in" else "supplier_payment",
                   by=current_user)
    try:
        payment = record(
            partner, amount=form.amount.data, payment_date=form.payment_date.data,
            account=db.session.get(Account, int(form.account_id.data)),
            method=form.method.data, reference=form.reference.data or "",
            notes=form.notes.data or "", exchange_rate=form.exchange_rate.data,
            allocations=plan or None, by=current_user)
    except DomainError as error:
        return _refused(error, form, direction, partner, typed, errors)
    url = url_for("ledger.payment", payment_id=payment.id)
    settle_form_key(key, url)
    db.session.commit()
    rest = ("stays as credit" if direction == "in" else "stays on account")
    flash(f"{payment.number} is recorded" + (
        f"; {payment.currency} {payment.open_amount:,.2f} {rest}."
        if payment.open_amount else "."), "success")
    return redirect_to(url)


def _refused(error: DomainError, form, direction: str, partner, typed, errors):
    db.session.rollback()
    partner = db.session.get(type(partner), partner.id)
    documents = _open_documents(direction, partner)
    field = error.field or ""
    if field.startswith("alloc-") and field[6:].isdigit():
        errors[int(field[6:])] = error.message
        return _payment_page(form, direction=direction, partner=partner, documents=documents,
                             typed=typed, errors=errors, status=422)
    status, message = refuse(form, error)
    return _payment_page(form, direction=direction, partner=partner, documents=documents,
                         typed=typed, errors=errors, status=status, message=message)


@bp.route("/payments/new", methods=["GET", "POST"])
@roles(*PAYMENT_ROLES)
def new_payment():
    """Record money a customer paid, and which invoices it settles (oldest first unless
    amounts are typed); what is left over is their credit."""
    customer_id = _id(request.values.get("customer_id"))
    customer = db.session.get(Customer, customer_id) if customer_id else None
    if request.values.get("customer_id") and customer is None:
        abort(404)
    documents = _open_documents("in", customer) if customer else []
    if request.method == "GET":
        return _blank_form("in", customer, documents, _id(request.args.get("invoice_id")))
    form = _payment_form(formdata=request.form)
    if customer is None:
        form.validate()
        form.customer_id.errors = ["Choose the customer who paid: type a name and pick one."]
        return _payment_page(form, direction="in", partner=None, documents=[], typed={},
                             errors={}, status=422)
    return _record_posted(form, "in", customer, documents, record_payment)


@bp.route("/supplier-payments/new", methods=["GET", "POST"])
@roles(*PAYMENT_ROLES)
def new_supplier_payment():
    """Record money paid to a supplier, and which of their bills it settles."""
    supplier_id = _id(request.values.get("supplier_id"))
    supplier = db.session.get(Supplier, supplier_id) if supplier_id else None
    if supplier is None:
        return render("ledger/supplier_pick.html", suppliers=db.session.scalars(
            select(Supplier).where(Supplier.active.is_(True)).order_by(Supplier.name)).all())
    documents = _open_documents("out", supplier)
    if request.method == "GET":
        return _blank_form("out", supplier, documents, _id(request.args.get("bill_id")))
    return _record_posted(_payment_form(formdata=request.form), "out", supplier, documents,
                          record_supplier_payment)


# --- A payment ---------------------------------------------------------------------------

def _payment_or_404(payment_id: int) -> Payment:
    return db.session.get(Payment, payment_id) or abort(404)


def _show(payment: Payment, *, status: int = 200, message: str | None = None,
          typed=None, errors=None):
    documents = []
    if payment.open_amount > 0:
        documents = _open_documents(payment.direction, payment.customer or payment.supplier,
                                    payment.currency)
    return render("ledger/payment.html", status=status, payment=payment, message=message,
                  allocations=allocations_of(payment), open_for_credit=documents,
                  typed=typed or {}, errors=errors or {}, base=base_currency(),
                  may_see_books=can(*LEDGER_ROLES))


@bp.route("/payments/<int:payment_id>", endpoint="payment")
@roles(*PAYMENT_ROLES)
def show_payment(payment_id: int):
    """A payment: who, how much, through which account, and what it settled."""
    return _show(_payment_or_404(payment_id))


@bp.route("/payments/<int:payment_id>/allocate", methods=["POST"])
@roles(*PAYMENT_ROLES)
def allocate_payment(payment_id: int):
    """Settle open invoices (or bills) with what is left of a payment."""
    payment = _payment_or_404(payment_id)
    return allocate_from(payment, url_for("ledger.payment", payment_id=payment.id),
                         lambda status, message, errors, typed: _show(
                             _payment_or_404(payment_id), status=status, message=message,
                             errors=errors, typed=typed))


# --- Bills -------------------------------------------------------------------------------

@bp.route("/bills/<int:bill_id>", endpoint="bill")
@roles(*BILL_VIEW_ROLES)
def show_bill(bill_id: int):
    """A supplier's bill: amounts, what is still to pay, the payments that settled it."""
    bill = db.session.get(VendorBill, bill_id) or abort(404)
    return render("ledger/bill.html", bill=bill, allocations=allocations_of(bill),
                  base=base_currency(), may_pay=can(*PAYMENT_ROLES),
                  may_see_books=can(*LEDGER_ROLES),
                  history=AuditEntry.for_subject(*bill.audit_subject))


def _bill_form(formdata=None, **defaults) -> ExpenseBillForm:
    form = ExpenseBillForm(formdata=formdata, **defaults)
    form.supplier_id.choices = choices([("", "Choose a supplier")] + [
        (str(s.id), f"{s.name} ({s.currency})") for s in db.session.scalars(
            select(Supplier).where(Supplier.active.is_(True)).order_by(Supplier.name))])
    form.account_id.choices = choices([("", "Choose an account")] + [
        (str(a.id), a.label) for a in db.session.scalars(
            select(Account).where(Account.type.in_(("expense", "asset")),
                                  Account.active.is_(True), Account.control.is_(None),
                                  Account.is_cash.is_(False), Account.role.is_(None))
            .order_by(Account.code))])
    return form


@bp.route("/bills/new", methods=["GET", "POST"])
@roles(*PAYMENT_ROLES)
def new_bill():
    """Record a supplier's bill that has no purchase order (rent, a service, a fee)."""
    if request.method == "GET":
        return render("ledger/bill_new.html", form=_bill_form(bill_date=date.today()))
    form = _bill_form(formdata=request.form)
    message = None
    if form.validate():
        supplier = db.session.get(Supplier, _id(form.supplier_id.data) or 0)
        account = db.session.get(Account, _id(form.account_id.data) or 0)
        if supplier is None:
            form.supplier_id.errors = ["Choose the supplier."]
        else:
            key = request.form.get("form_key")
            claim_form_key(key, "expense_bill", by=current_user)
            try:
                bill = record_expense_bill(
                    supplier, supplier_ref=form.supplier_ref.data, bill_date=form.bill_date.data,
                    due_on=form.due_on.data, net=form.net.data, tax=form.tax.data,
                    account=account, notes=form.notes.data or "", by=current_user,
                    exchange_rate=form.exchange_rate.data)
            except DomainError as error:
                status, message = refuse(form, error)
                return render("ledger/bill_new.html", form=form, status=status,
                              message=message)
            url = url_for("ledger.bill", bill_id=bill.id)
            settle_form_key(key, url)
            db.session.commit()
            flash(f"Bill {bill.supplier_ref} from {supplier.name} is recorded and posted.",
                  "success")
            return redirect_to(url)
    return render("ledger/bill_new.html", form=form, status=422, message=message)


# --- Credit holds ------------------------------------------------------------------------

@bp.route("/credit-holds")
@roles(*CREDIT_ROLES)
def credit_holds():
    """Orders waiting on credit hold, oldest first, with why; and the latest decisions."""
    waiting = db.session.scalars(
        select(SalesOrder).where(SalesOrder.status == "held")
        .options(lines_for_totals(SalesOrder.lines)).order_by(SalesOrder.id)).unique().all()
    decided = db.session.scalars(
        select(SalesOrder).where(SalesOrder.credit_decision.is_not(None))
        .options(lines_for_totals(SalesOrder.lines))
        .order_by(SalesOrder.credit_decided_at.desc()).limit(10)).unique().all()
    return render("ledger/credit_holds.html", waiting=waiting, decided=decided,
                  overdue=overdue_customers(order.customer_id for order in waiting))


@bp.route("/credit-holds/<int:order_id>", methods=["POST"])
@roles(*CREDIT_ROLES)
def decide_credit_hold_view(order_id: int):
    """Release an order on credit hold (it can ship) or reject it (it is cancelled)."""
    order = db.session.get(SalesOrder, order_id) or abort(404)
    form = CreditDecisionForm()
    decision = request.form.get("decision")
    if decision not in ("release", "reject"):
        abort(400, "Choose release or reject.")
    if not form.validate():
        flash(" ".join(form.note.errors) or "Check the note.", "error")
        return redirect_to(url_for("orders.sales_order", order_id=order.id))
    try:
        decide_credit_hold(order, release=decision == "release", note=form.note.data or "",
                           by=current_user, version=form.version.data)
        db.session.commit()
    except StaleDataError:
        db.session.rollback()
        flash("This order was changed by someone else a moment ago; look again.", "error")
        return redirect_to(url_for("orders.sales_order", order_id=order_id))
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "error")
        return redirect_to(url_for("orders.sales_order", order_id=order_id)
                           + "#credit-hold")
    flash(f"{order.number} is {'released: it can ship' if decision == 'release' else 'rejected and cancelled'}.",
          "success")
    return redirect_to(url_for("orders.sales_order", order_id=order.id))


# --- The money strip ---------------------------------------------------------------------

@bp.route("/customers/<int:customer_id>/money-strip")
@roles(*ALL_ROLES)
def money_strip(customer_id: int):
    """A customer's money strip (credit used, overdue, last payment, open orders and
    cases), for a page that refreshes it in place."""
    customer = db.session.get(Customer, customer_id) or abort(404)
    return render("ledger/money_strip.html", block="strip", customer=customer,
                  standing=standing(customer))

