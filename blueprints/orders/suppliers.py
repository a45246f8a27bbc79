"""Suppliers: the list (search, keyset pages), a supplier's page with its contacts, purchase
orders and bills, new/edit (version-checked), contacts, archive and restore."""

from flask import abort, flash, request, url_for
from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload
from sqlalchemy.orm.exc import StaleDataError

from blueprints.orders import bp
from blueprints.orders.supplier_forms import (
    ArchiveForm,
    SupplierContactForm,
    SupplierForm,
    terms_choices,
)
from blueprints.web import can, is_partial, redirect_to, refuse, render, roles, url_page
from models import AuditEntry, db
from models.catalog import Supplier, SupplierContact
from models.company import CompanySettings
from models.customers import normalize_name
from models.errors import DomainError
from models.purchasing import PurchaseOrder, VendorBill

VIEW_ROLES = ("admin", "operations", "finance")
# Suppliers are edited by whoever deals with them: buyers and the people who pay them.
EDIT_ROLES = ("admin", "operations", "finance")
LIST_PARAMS = {"q", "show", "after", "before"}
SHOW_FILTERS = ("", "archived", "all")
RECENT = 20
STALE = ("This was changed by someone else a moment ago. Reload to see their change, "
         "then make yours again.")


def supplier_or_404(supplier_id: int) -> Supplier:
    return db.session.get(Supplier, supplier_id) or abort(404)


# --- The list ----------------------------------------------------------------------------

def _list_filters() -> dict:
    args = request.args
    unknown = set(args) - LIST_PARAMS
    if unknown:
        abort(400, f"Unknown filter: {', '.join(sorted(unknown))}.")
    show = args.get("show", "")
    if show not in SHOW_FILTERS:
        abort(400, "Unknown filter value for show.")
    return {"q": args.get("q", "")[:200], "show": show}


@bp.route("/suppliers")
@roles(*VIEW_ROLES)
def suppliers():
    """Suppliers A-Z: search by name, active or archived, keyset pages."""
    filters = _list_filters()
    query = select(Supplier)
    if filters["show"] == "":
        query = query.where(Supplier.active.is_(True))
    elif filters["show"] == "archived":
        query = query.where(Supplier.active.is_(False))
    text = normalize_name(filters["q"])
    if text:
        query = query.where(Supplier.search_name.contains(text, autoescape=True))
    page = url_page(query, Supplier.search_name, Supplier.id, descending=False)
    return render("orders/suppliers.html", block="results", page=page, filters=filters,
                  may_edit=can(*EDIT_ROLES))


# --- One supplier ------------------------------------------------------------------------

def _page(supplier: Supplier, *, block=None, status: int = 200, contact_form=None,
          message: str | None = None):
    # each order shows its total (from its lines), each bill its order: loaded with them
    orders = list(db.session.scalars(
        select(PurchaseOrder).where(PurchaseOrder.supplier_id == supplier.id)
        .options(selectinload(PurchaseOrder.lines))
        .order_by(PurchaseOrder.id.desc()).limit(RECENT)).unique())
    bills = list(db.session.scalars(
        select(VendorBill).where(VendorBill.supplier_id == supplier.id)
        .options(joinedload(VendorBill.order))
        .order_by(VendorBill.id.desc()).limit(RECENT)).unique())
    history = AuditEntry.for_subject("supplier", supplier.id)
    archive_form = ArchiveForm(formdata=None, version=supplier.version,
                               action="restore" if not supplier.active else "archive")
    return render("orders/supplier.html", block=block, status=status, supplier=supplier,
                  orders=orders, bills=bills, history=history,
                  contact_form=contact_form or SupplierContactForm(formdata=None),
                  archive_form=archive_form, message=message, may_edit=can(*EDIT_ROLES),
                  may_buy=can("admin", "operations"), recent=RECENT, oob=is_partial())


@bp.route("/suppliers/<int:supplier_id>", endpoint="supplier")
@roles(*VIEW_ROLES)
def show_supplier(supplier_id: int):
    """A supplier: details, contacts, recent purchase orders and bills, history."""
    return _page(supplier_or_404(supplier_id))


def _apply(supplier: Supplier, form: SupplierForm) -> None:
    supplier.set_name(form.name.data)
    supplier.email = (form.email.data or "").strip().lower() or None
    supplier.phone = (form.phone.data or "").strip() or None
    for name in ("street", "postal_code", "city", "country", "tax_id", "notes"):
        setattr(supplier, name, (getattr(form, name).data or "").strip())
    supplier.currency = form.currency.data
    supplier.payment_terms_days = form.payment_terms_days.data


@bp.route("/suppliers/new", methods=["GET", "POST"])
@roles(*EDIT_ROLES)
def new_supplier():
    """Add a supplier (their currency defaults to the base currency)."""
    form = SupplierForm()
    form.payment_terms_days.choices = terms_choices()
    if request.method == "GET":
        form.currency.data = CompanySettings.current().base_currency
        form.payment_terms_days.data = 30
    message = None
    if form.validate_on_submit():
        supplier = Supplier(active=True)
        try:
            _apply(supplier, form)
            db.session.add(supplier)
            db.session.flush()
        except DomainError as error:
            status, message = refuse(form, error)
        else:
            db.session.commit()
            flash(f"{supplier.name} is added.", "success")
            return redirect_to(url_for("orders.supplier", supplier_id=supplier.id))
    status = 422 if request.method == "POST" else 200
    return render("orders/supplier_form.html", form=form, supplier=None, message=message,
                  status=status)


@bp.route("/suppliers/<int:supplier_id>/edit", methods=["GET", "POST"])
@roles(*EDIT_ROLES)
def edit_supplier(supplier_id: int):
    """Change a supplier's details; a save based on an older version is refused (409)."""
    supplier = supplier_or_404(supplier_id)
    form = SupplierForm(obj=supplier if request.method == "GET" else None)
    form.payment_terms_days.choices = terms_choices(supplier.payment_terms_days)
    if request.method == "GET":
        form.version.data = supplier.version
        form.email.data = supplier.email or ""
        form.phone.data = supplier.phone or ""
    message = None
    status = 422
    if form.validate_on_submit():
        try:
            supplier.check_version(form.version.data)
            _apply(supplier, form)
            db.session.commit()
        except StaleDataError:
            db.session.rollback()
            status, message = 409, STALE
        except DomainError as error:
            status, message = refuse(form, error)
        else:
            flash("Saved.", "success")
            return redirect_to(url_for("orders.supplier", supplier_id=supplier.id))
        supplier = supplier_or_404(supplier_id)
    if request.method == "GET":
        status = 200
    return render("orders/supplier_form.html", form=form, supplier=supplier, message=message,
                  status=status)


@bp.route("/suppliers/<int:supplier_id>/archive", methods=["POST"])
@roles(*EDIT_ROLES)
def archive_supplier(supplier_id: int):
    """Archive a supplier (kept on old documents, not offered for new orders), or restore."""
    supplier = supplier_or_404(supplier_id)
    form = ArchiveForm()
    if not form.validate_on_submit():
        return _page(supplier, status=422, message=" ".join(form.action.errors)
                     or "Reload the page and try again.")
    try:
        supplier.check_version(form.version.data)
        supplier.active = form.action.data == "restore"
        db.session.commit()
    except StaleDataError:
        db.session.rollback()
        return _page(supplier_or_404(supplier_id), status=409, message=STALE)
    except DomainError as error:
        db.session.rollback()
        return _page(supplier_or_404(supplier_id), status=error.status, message=error.message)
    flash(f"{supplier.name} is {'restored' if supplier.active else 'archived'}.", "success")
    return redirect_to(url_for("orders.supplier", supplier_id=supplier.id))


# --- Contacts ----------------------------------------------------------------------------

def _contacts_back(supplier: Supplier, message: str):
    if is_partial():
        db.session.refresh(supplier)
        return _page(supplier, block=["contacts", "history"])
    flash(message, "success")
    return redirect_to(url_for("orders.supplier", supplier_id=supplier.id) + "#contacts")


@bp.route("/suppliers/<int:supplier_id>/contacts", methods=["POST"])
@roles(*EDIT_ROLES)
def add_supplier_contact(supplier_id: int):
    """Add a person at the supplier."""
    supplier = supplier_or_404(supplier_id)
    form = SupplierContactForm()
    if form.validate_on_submit():
        contact = SupplierContact(
            supplier=supplier, name=form.name.data.strip(),
            role=(form.role.data or "").strip(),
            email=(form.email.data or "").strip().lower() or None,
            phone=(form.phone.data or "").strip() or None)
        db.session.add(contact)
        db.session.commit()
        return _contacts_back(supplier, f"{contact.name} is added.")
    return _page(supplier, block="contacts", status=422, contact_form=form)


@bp.route("/suppliers/<int:supplier_id>/contacts/<int:contact_id>/delete", methods=["POST"])
@roles(*EDIT_ROLES)
def remove_supplier_contact(supplier_id: int, contact_id: int):
    """Remove a person at the supplier (the history keeps who it was)."""
    supplier = supplier_or_404(supplier_id)
    contact = db.session.get(SupplierContact, contact_id)
    if contact is None or contact.supplier_id != supplier.id:
        abort(404)
    name = contact.name
    supplier.contacts.remove(contact)
    db.session.delete(contact)
    db.session.commit()
    return _contacts_back(supplier, f"{name} is removed.")
