from flask import abort, flash, request, url_for
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError

from blueprints.accounts import bp
from blueprints.accounts.forms import (
    ContactForm,
    FinancialForm,
    IdentityForm,
    NewCustomerForm,
    RelationshipForm,
)
from blueprints.forms import choices
from blueprints.web import ALL_ROLES, can, is_partial, redirect_to, refuse, render, roles, url_page
from models import AuditEntry, Contact, Customer, FinancialAccount, User, db
from models.activities import last_contacted, timeline
from models.cases import cases_for_customer
from models.contracts import contracts_for_customer
from models.customers import (
    LIFECYCLES,
    SORTS,
    create_customer,
    customer_list_query,
    find_duplicates,
    lookup,
    sort_key_of,
)
from models.errors import DomainError
from models.invoicing import invoices_for_customer
from models.pipeline import deals_for_customer
from models.receivables import overdue_condition, overdue_customers, standing
from models.sales import orders_for_customer

# Who edits what (the design's ownership of the two facets).
EDIT_IDENTITY = ("admin", "sales", "finance")
EDIT_RELATIONSHIP = ("admin", "sales")
EDIT_FINANCIAL = ("admin", "finance")
EDIT_CONTACTS = ("admin", "sales", "finance")
LIST_PARAMS = {"q", "owner", "lifecycle", "hold", "overdue", "sort", "after", "before"}


def _customer_or_404(customer_id: int) -> Customer:
    return db.session.get(Customer, customer_id) or abort(404)


# Built once (every customer page and list runs them): statements are immutable.
_USER_NAMES = select(User.id, User.name)
_OWNERS = (select(User.id, User.name)
           .where(User.role.in_(("sales", "admin")), User.is_enabled.is_(True))
           .order_by(User.name))


def _owner_choices():
    users = db.session.execute(_OWNERS).all()
    return [("", "Nobody")] + [(str(u.id), u.name) for u in users]


def _list_filters() -> dict:
    """The list's filters from the URL: whitelisted names and values only, else 400."""
    args = request.args
    unknown = set(args) - LIST_PARAMS
    if unknown:
        abort(400, f"Unknown filter: {', '.join(sorted(unknown))}.")
    owner = args.get("owner", "")
    if owner not in ("", "mine", "none") and not owner.isdigit():
        abort(400, "Unknown owner filter.")
    lifecycle = args.get("lifecycle", "")
    if lifecycle and lifecycle not in LIFECYCLES:
        abort(400, "Unknown lifecycle.")
    hold = args.get("hold", "")
    if hold not in ("", "yes", "no"):
        abort(400, "Unknown hold filter.")
    overdue = args.get("overdue", "")
    if overdue not in ("", "yes"):
        abort(400, "Unknown overdue filter.")
    sort = args.get("sort") or "name"
    if sort not in SORTS:
        abort(400, "Unknown sort order.")
    q = args.get("q", "")[:200]
    return {"q": q, "owner": owner, "lifecycle": lifecycle, "hold": hold, "overdue": overdue,
            "sort": sort}


@bp.route("/")
@roles(*ALL_ROLES)
def index():
    """Customers: live search, filters, sorting and pages that stay fast at any size."""
    filters = _list_filters()
    owner = filters["owner"]
    query = customer_list_query(
        q=filters["q"],
        owner_id=current_user.id if owner == "mine" else (int(owner) if owner.isdigit() else None),
        unowned=owner == "none",
        lifecycle=filters["lifecycle"] or None,
        on_hold={"yes": True, "no": False}.get(filters["hold"]),
    )
    if filters["overdue"]:
        query = query.where(overdue_condition())
    column, descending = SORTS[filters["sort"]]
    page = url_page(query, column, Customer.id,
                    descending=descending, key_of=sort_key_of(filters["sort"]))
    return render("accounts/index.html", block="results", page=page, filters=filters,
                  owners=_owner_choices(), lifecycles=LIFECYCLES, sorts=SORTS,
                  contacted=last_contacted(c.id for c in page.items),
                  overdue=overdue_customers(c.id for c in page.items))


@bp.route("/lookup")
@roles(*ALL_ROLES)
def lookup_customers():
    """Type-ahead: up to eight customers matching what was typed."""
    q = request.args.get("q", "")[:200]
    return render("accounts/_lookup.html", customers=lookup(q), q=q,
                  mode=request.args.get("mode", "go"))


@bp.route("/duplicates")
@roles(*EDIT_IDENTITY)
def duplicates():
    """Likely duplicates of the name and email being typed into the new-customer form."""
    name = request.args.get("name", "")[:200]
    email = request.args.get("email", "")[:254]
    return render("accounts/_duplicates.html", duplicates=find_duplicates(name, email))


@bp.route("/new", methods=["GET", "POST"])
@roles(*EDIT_IDENTITY)
def create():
    """Create a customer; likely duplicates are shown before saving, and can be overridden."""
    form = NewCustomerForm()
    form.owner_id.choices = choices(_owner_choices())
    if request.method == "GET":
        form.owner_id.data = str(current_user.id) if current_user.role == "sales" else ""
    duplicates_found = []
    if form.validate_on_submit():
        duplicates_found = find_duplicates(form.name.data, form.email.data)
        if not duplicates_found or form.confirm_duplicates.data == "yes":
            owner = db.session.get(User, int(form.owner_id.data)) if form.owner_id.data else None
            try:
                customer = create_customer(
                    name=form.name.data, kind=form.kind.data, email=form.email.data,
                    phone=form.phone.data, street=form.street.data,
                    postal_code=form.postal_code.data, city=form.city.data,
                    country=form.country.data, owner=owner, lifecycle=form.lifecycle.data,
                    source=form.source.data)
            except DomainError as error:
                db.session.rollback()
                getattr(form, error.field or "name").errors = [error.message]
            else:
                db.session.commit()
                flash(f"{customer.name} is created.", "success")
                return redirect_to(url_for("accounts.show", customer_id=customer.id))
    status = 422 if request.method == "POST" else 200
    return render("accounts/new.html", form=form, duplicates=duplicates_found, status=status)


def _page(customer: Customer, *, editing: str | None = None, status: int = 200,
          block=None, conflict: str | None = None, **forms):
    """The customer page (or, for htmx, the blocks named) with one panel maybe in edit mode."""
    history = AuditEntry.for_subject("customer", customer.id)
    users = {str(u.id): u.name for u in db.session.execute(_USER_NAMES)}
    may = {"identity": can(*EDIT_IDENTITY), "relationship": can(*EDIT_RELATIONSHIP),
           "financial": can(*EDIT_FINANCIAL), "contacts": can(*EDIT_CONTACTS)}
    return render("accounts/show.html", block=block, customer=customer, editing=editing,
                  history=history, user_names=users, conflict=conflict, oob=is_partial(),
                  may=may, status=status,
                  last_contact=last_contacted([customer.id]).get(customer.id),
                  customer_deals=deals_for_customer(customer.id),
                  customer_orders=orders_for_customer(customer.id),
                  customer_invoices=invoices_for_customer(customer.id),
                  standing=standing(customer),
                  customer_cases=cases_for_customer(customer.id),
                  customer_contracts=contracts_for_customer(customer.id),
                  timeline_activities=timeline(customer_id=customer.id),
                  timeline_customer=customer, timeline_deal=None, **forms)


@bp.route("/<int:customer_id>")
@roles(*ALL_ROLES)
def show(customer_id: int):
    """The customer with both facets side by side, the contacts and the history."""
    return _page(_customer_or_404(customer_id))


def _facet_form(customer: Customer, which: str, formdata=None):
    if which == "identity":
        form = IdentityForm(formdata=formdata, obj=customer)
        form.version.data = form.version.data if formdata else customer.version
    elif which == "relationship":
        facet = customer.relationship_facet
        form = RelationshipForm(formdata=formdata, obj=facet)
        form.owner_id.choices = choices(_owner_choices())
        if formdata is None:
            form.owner_id.data = str(facet.owner_id or "")
            form.rating.data = str(facet.rating or "")
            form.tags.data = ", ".join(facet.tag_list)
            form.version.data = facet.version
    else:
        facet = customer.account
        form = FinancialForm(formdata=formdata, obj=facet)
        if formdata is None:
            form.version.data = facet.version
    return form


FACETS = {
    "identity": EDIT_IDENTITY,
    "relationship": EDIT_RELATIONSHIP,
    "financial": EDIT_FINANCIAL,
}


def _edit(customer_id: int, which: str):
    customer = _customer_or_404(customer_id)
    form = _facet_form(customer, which)
    return _page(customer, editing=which, block=which, **{f"{which}_form": form})


def _apply(customer: Customer, which: str, form) -> None:
    """Copy a valid facet form onto its record, through the model's rules."""
    if which == "identity":
        customer.check_version(form.version.data)
        customer.set_identity(name=form.name.data, kind=form.kind.data, email=form.email.data,
                              phone=form.phone.data, street=form.street.data,
                              postal_code=form.postal_code.data, city=form.city.data,
                              country=form.country.data)
    elif which == "relationship":
        facet = customer.relationship_facet
        facet.check_version(form.version.data)
        facet.owner_id = int(form.owner_id.data) if form.owner_id.data else None
        facet.lifecycle = form.lifecycle.data
        facet.source = (form.source.data or "").strip()
        facet.tags = facet.clean_tags(form.tags.data)
        facet.rating = int(form.rating.data) if form.rating.data else None
        facet.notes = (form.notes.data or "").strip()
    else:
        facet = customer.account
        facet.check_version(form.version.data)
        code = form.account_code.data.strip().upper()
        taken = db.session.scalar(select(FinancialAccount.customer_id).where(
            FinancialAccount.account_code == code,
            FinancialAccount.customer_id != customer.id))
        if taken:
            raise DomainError("Another customer has this account code.", field="account_code")
        facet.account_code = code
        facet.billing_address = (form.billing_address.data or "").strip()
        facet.tax_id = (form.tax_id.data or "").strip()
        facet.currency = form.currency.data
        facet.payment_terms_days = form.payment_terms_days.data
        facet.credit_limit = form.credit_limit.data
        facet.on_hold = bool(form.on_hold.data)
        facet.hold_reason = (form.hold_reason.data or "").strip() if facet.on_hold else ""


def _update(customer_id: int, which: str):
    customer = _customer_or_404(customer_id)
    form = _facet_form(customer, which, formdata=request.form)
    message = None
    if form.validate():
        try:
            _apply(customer, which, form)
            db.session.commit()
        except StaleDataError:
            # Someone saved between our version check and our UPDATE.
            db.session.rollback()
            return _page(_customer_or_404(customer_id), editing=which, block=which, status=409,
                         conflict="This was changed by someone else a moment ago. Reload to "
                                  "see their change, then make yours again.",
                         **{f"{which}_form": form})
        except DomainError as error:
            status, message = refuse(form, error)
            return _page(_customer_or_404(customer_id), editing=which, block=which,
                         status=status, conflict=message, **{f"{which}_form": form})
        else:
            return _saved(customer, which)
    return _page(customer, editing=which, block=which, status=422, conflict=message,
                 **{f"{which}_form": form})


def _saved(customer: Customer, which: str):
    """After a save: the panel back in view mode and the history, or the page itself."""
    if is_partial():
        return _page(customer, block=[which, "head", "history"])
    flash("Saved.", "success")
    return redirect_to(url_for("accounts.show", customer_id=customer.id))


@bp.route("/<int:customer_id>/identity/edit")
@roles(*EDIT_IDENTITY)
def edit_identity(customer_id: int):
    """The name, email and address panel as a form."""
    return _edit(customer_id, "identity")


@bp.route("/<int:customer_id>/identity", methods=["POST"])
@roles(*EDIT_IDENTITY)
def update_identity(customer_id: int):
    """Save the name, email and address."""
    return _update(customer_id, "identity")


@bp.route("/<int:customer_id>/relationship/edit")
@roles(*EDIT_RELATIONSHIP)
def edit_relationship(customer_id: int):
    """The relationship facet (sales) as a form."""
    return _edit(customer_id, "relationship")


@bp.route("/<int:customer_id>/relationship", methods=["POST"])
@roles(*EDIT_RELATIONSHIP)
def update_relationship(customer_id: int):
    """Save the relationship facet."""
    return _update(customer_id, "relationship")


@bp.route("/<int:customer_id>/financial/edit")
@roles(*EDIT_FINANCIAL)
def edit_financial(customer_id: int):
    """The financial account facet (finance) as a form."""
    return _edit(customer_id, "financial")


@bp.route("/<int:customer_id>/financial", methods=["POST"])
@roles(*EDIT_FINANCIAL)
def update_financial(customer_id: int):
    """Save the financial account facet."""
    return _update(customer_id, "financial")


# --- Contacts ----------------------------------------------------------------------------

def _contact_or_404(customer: Customer, contact_id: int) -> Contact:
    contact = db.session.get(Contact, contact_id)
    if contact is None or contact.customer_id != customer.id:
        abort(404)
    return contact


def _save_contact(customer: Customer, contact: Contact, form: ContactForm) -> None:
    contact.name = form.name.data.strip()
    contact.job_title = (form.job_title.data or "").strip()
    contact.email = (form.email.data or "").strip().lower() or None
    contact.phone = (form.phone.data or "").strip() or None
    contact.is_primary = bool(form.is_primary.data)
    if contact.is_primary:
        for other in customer.contacts:
            if other is not contact and other.is_primary:
                other.is_primary = False


@bp.route("/<int:customer_id>/contacts/new")
@roles(*EDIT_CONTACTS)
def new_contact(customer_id: int):
    """A blank contact form inside the contacts panel."""
    customer = _customer_or_404(customer_id)
    return _page(customer, editing="contact:new", block="contacts", contact_form=ContactForm())


@bp.route("/<int:customer_id>/contacts", methods=["POST"])
@roles(*EDIT_CONTACTS)
def create_contact(customer_id: int):
    """Add a contact to the customer."""
    customer = _customer_or_404(customer_id)
    form = ContactForm()
    if form.validate_on_submit():
        contact = Contact(customer_id=customer.id)
        db.session.add(contact)
        _save_contact(customer, contact, form)
        customer.contacts.append(contact)
        db.session.commit()
        return _saved(customer, "contacts")
    return _page(customer, editing="contact:new", block="contacts", status=422,
                 contact_form=form)


@bp.route("/<int:customer_id>/contacts/<int:contact_id>/edit")
@roles(*EDIT_CONTACTS)
def edit_contact(customer_id: int, contact_id: int):
    """One contact as a form, in place."""
    customer = _customer_or_404(customer_id)
    contact = _contact_or_404(customer, contact_id)
    form = ContactForm(obj=contact)
    form.version.data = contact.version
    return _page(customer, editing=f"contact:{contact.id}", block="contacts", contact_form=form)


@bp.route("/<int:customer_id>/contacts/<int:contact_id>", methods=["POST"])
@roles(*EDIT_CONTACTS)
def update_contact(customer_id: int, contact_id: int):
    """Save a contact."""
    customer = _customer_or_404(customer_id)
    contact = _contact_or_404(customer, contact_id)
    form = ContactForm()
    if form.validate_on_submit():
        try:
            contact.check_version(form.version.data)
        except DomainError as error:
            return _page(customer, editing=f"contact:{contact.id}", block="contacts",
                         status=409, conflict=error.message, contact_form=form)
        _save_contact(customer, contact, form)
        db.session.commit()
        return _saved(customer, "contacts")
    return _page(customer, editing=f"contact:{contact.id}", block="contacts", status=422,
                 contact_form=form)


@bp.route("/<int:customer_id>/contacts/<int:contact_id>/delete", methods=["POST"])
@roles(*EDIT_CONTACTS)
def delete_contact(customer_id: int, contact_id: int):
    """Remove a contact (the history keeps what it was)."""
    customer = _customer_or_404(customer_id)
    contact = _contact_or_404(customer, contact_id)
    db.session.delete(contact)
    db.session.commit()
    db.session.refresh(customer)
    return _saved(customer, "contacts")
