"""Invoices and credit notes: the lists, a draft from an order (or a shipment) or by
hand, the document page (lines, totals, posting, what settled it), the PDF (archived at
its first rendering once posted), mailing it, credit notes from an invoice or from a
support case's approved credit. Rules are in models.invoicing; these views parse and
render.
"""

from datetime import date
from decimal import Decimal

from flask import abort, flash, request, url_for
from flask_login import current_user
from sqlalchemy import and_, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm.exc import StaleDataError

from blueprints.forms import choices
from blueprints.ledger import bp
from blueprints.ledger.forms import (
    TERMS,
    CreditForm,
    CreditRequestNoteForm,
    DraftForm,
    InvoiceLineForm,
    LineQuantityForm,
    NewInvoiceForm,
    PostForm,
    SendInvoiceForm,
)
from blueprints.mail import MailError, send_mail
from blueprints.orders.lines import tax_choices, typed_line, typed_quantities
from blueprints.pdf import logo_uri, pdf_response, render_pdf
from blueprints.web import can, is_partial, later, redirect_to, refuse, render, roles, url_page
from models import AuditEntry, db
from models.activities import log_activity
from models.cases import CreditRequest
from models.catalog import TaxRate
from models.company import CompanySettings
from models.customers import Customer
from models.documents import get_locked, lines_for_totals
from models.errors import DomainError
from models.formkeys import claim_form_key, settle_form_key
from models.invoicing import (
    INVOICE_OPEN,
    INVOICE_ROLES,
    STATE_LABELS,
    VIEW_ROLES,
    Invoice,
    InvoiceLine,
    InvoicePdf,
    add_invoice_line,
    create_invoice,
    credit_from_request,
    credit_invoice,
    credit_notes_for,
    delete_draft,
    income_accounts,
    invoice_order,
    lock_invoice,
    post_invoice,
    remove_invoice_line,
    update_draft,
    update_invoice_line,
)
from models.ledger import LEDGER_ROLES, base_currency
from models.payments import allocate_credit, allocations_of, open_invoices
from models.receivables import standing
from models.sales import QuoteLineInput, SalesOrder, Shipment
from models.sequences import insert_ignore
from models.types import parse_quantity

LIST_PARAMS = {"state", "customer", "after", "before"}
INVOICE_STATES = ("", "draft", "open", "overdue", "paid", "credited")
NOTE_STATES = ("", "draft", "credit", "used")
STALE = ("This document was changed by someone else a moment ago. Reload to see their "
         "change, then make yours again.")


def _doc_or_404(invoice_id: int, kind: str | None = None, *, locked: bool = False
                ) -> Invoice:
    """The invoice or credit note (of `kind`); `locked` for a view about to change it."""
    invoice = (get_locked(Invoice, invoice_id) if locked
               else db.session.get(Invoice, invoice_id))
    if invoice is None or (kind is not None and invoice.kind != kind):
        abort(404)
    return invoice


def doc_url(invoice: Invoice, **anchor) -> str:
    endpoint = "ledger.credit_note" if invoice.is_credit_note else "ledger.invoice"
    return url_for(endpoint, invoice_id=invoice.id, **anchor)


def _qty(value: Decimal) -> str:
    return f"{value.normalize():f}"


# --- The lists ---------------------------------------------------------------------------

def _state_clause(state: str):
    today = date.today()
    if state == "draft":
        return Invoice.status == "draft"
    posted = Invoice.status == "posted"
    return {
        "open": and_(posted, INVOICE_OPEN),
        "overdue": and_(posted, INVOICE_OPEN, Invoice.due_date < today),
        "paid": and_(posted, Invoice.open_amount == 0,
                     Invoice.credited_amount < Invoice.total_amount),
        "credited": and_(posted, Invoice.credited_amount >= Invoice.total_amount),
        "credit": and_(posted, INVOICE_OPEN),
        "used": and_(posted, Invoice.open_amount == 0),
    }[state]


def _list(kind: str, states: tuple[str, ...], template: str):
    args = request.args
    unknown = set(args) - LIST_PARAMS
    if unknown:
        abort(400, f"Unknown filter: {', '.join(sorted(unknown))}.")
    state = args.get("state", "")
    if state not in states:
        abort(400, "Unknown state filter.")
    raw = args.get("customer", "")
    if raw and not (raw.isdigit() and len(raw) < 10):
        abort(400, "Unknown customer.")
    customer = db.session.get(Customer, int(raw)) if raw else None
    # a draft's total comes from its lines: loaded with the page, not one query a row
    query = select(Invoice).where(Invoice.kind == kind).options(lines_for_totals(Invoice.lines))
    if state:
        query = query.where(_state_clause(state))
    if customer is not None:
        query = query.where(Invoice.customer_id == customer.id)
    page = url_page(query, Invoice.id, Invoice.id, descending=True)
    return render(template, block="results", page=page, customer=customer,
                  filters={"state": state, "customer": raw}, states=states[1:],
                  labels=STATE_LABELS | {"open": "Open"}, kind=kind)


@bp.route("/invoices")
@roles(*VIEW_ROLES)
def invoices():
    """Invoices, newest first: drafts, open, overdue, paid or credited; one customer's."""
    return _list("invoice", INVOICE_STATES, "ledger/invoices.html")


@bp.route("/credit-notes")
@roles(*VIEW_ROLES)
def credit_notes():
    """Credit notes, newest first: drafts, with credit left to use, or used."""
    return _list("credit_note", NOTE_STATES, "ledger/invoices.html")


# --- New drafts --------------------------------------------------------------------------

@bp.route("/invoices/new", methods=["GET", "POST"])
@roles(*INVOICE_ROLES)
def new_invoice():
    """Start an invoice written by hand: pick the customer."""
    form = NewInvoiceForm()
    customer = None
    if request.method == "POST" and form.validate():
        raw = (form.customer_id.data or "").strip()
        customer = db.session.get(Customer, int(raw)) if raw.isdigit() and len(raw) < 10 \
            else None
        if customer is None:
            form.customer_id.errors = ["Choose a customer: type a name and pick one."]
        else:
            key = request.form.get("form_key")
            claim_form_key(key, "new_invoice", by=current_user)
            invoice = create_invoice(customer, by=current_user)
            url = doc_url(invoice)
            settle_form_key(key, url)
            db.session.commit()
            flash(f"A draft invoice for {customer.name} is started. Add its lines.",
                  "success")
            return redirect_to(url)
    status = 422 if request.method == "POST" else 200
    return render("ledger/invoice_new.html", form=form, status=status)


@bp.route("/orders/<int:order_id>/invoice", methods=["POST"])
@roles(*INVOICE_ROLES)
def invoice_order_view(order_id: int):
    """A draft invoice for what has shipped on an order (or one shipment of it)."""
    order = get_locked(SalesOrder, order_id) or abort(404)
    raw = (request.form.get("shipment_id") or "").strip()
    shipment = None
    if raw:
        shipment = db.session.get(Shipment, int(raw)) if raw.isdigit() and len(raw) < 10 \
            else None
        if shipment is None or shipment.order_id != order.id:
            abort(404)
    key = request.form.get("form_key")
    claim_form_key(key, "invoice_order", by=current_user)
    try:
        invoice = invoice_order(order, shipment=shipment, by=current_user)
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "error")
        return redirect_to(url_for("orders.sales_order", order_id=order_id))
    url = doc_url(invoice)
    settle_form_key(key, url)
    db.session.commit()
    flash(f"A draft invoice for {order.number} is ready: check it and post it.", "success")
    return redirect_to(url)


# --- The document page -------------------------------------------------------------------

def _draft_form(invoice: Invoice, formdata=None) -> DraftForm:
    if formdata is not None:
        return DraftForm(formdata=formdata)
    return DraftForm(formdata=None, version=invoice.version, customer_po=invoice.customer_po,
                     payment_terms_days=str(invoice.payment_terms_days),
                     notes=invoice.notes, reason=invoice.reason)


def _line_form(formdata=None) -> InvoiceLineForm:
    form = InvoiceLineForm(formdata=formdata)
    form.tax_rate_id.choices = tax_choices()
    form.account_id.choices = choices([("", "By product (goods or services)")] + [
        (str(a.id), a.label) for a in income_accounts()])
    return form


def _post_form(invoice: Invoice, formdata=None) -> PostForm:
    if formdata is not None:
        return PostForm(formdata=formdata)
    rate = invoice.credited_invoice.exchange_rate if invoice.credited_invoice else None
    return PostForm(formdata=None, version=invoice.version, issue_date=date.today(),
                    exchange_rate=rate)


def _send_form(invoice: Invoice, formdata=None) -> SendInvoiceForm:
    if formdata is not None:
        return SendInvoiceForm(formdata=formdata)
    company = CompanySettings.current()
    customer = invoice.customer
    contact = next((c for c in customer.contacts if c.is_primary and c.email), None)
    to = (contact.email if contact else customer.email) or ""
    greeting = f"Dear {contact.name}," if contact else "Hello,"
    what = invoice.kind_label.lower()
    due = (f", due on {invoice.due_date:%d %B %Y}" if invoice.due_date
           and not invoice.is_credit_note else "")
    message = (f"{greeting}\n\nPlease find attached our {what} {invoice.number} for "
               f"{invoice.currency} {invoice.total_amount:,.2f}{due}.\n\n"
               f"Kind regards,\n{current_user.name}\n{company.name}")
    return SendInvoiceForm(formdata=None, version=invoice.version, to=to,
                           subject=f"{invoice.kind_label} {invoice.number} from {company.name}",
                           message=message)


def _page(invoice: Invoice, *, status: int = 200, message: str | None = None, block=None,
          draft_form=None, line_form=None, post_form=None, send_form=None,
          credit_form=None, lines_message: str | None = None, panel: str | None = None,
          typed: dict | None = None, errors: dict | None = None, oob: bool = False):
    may_edit = can(*INVOICE_ROLES)
    foreign = invoice.currency != base_currency()
    credits = []
    if invoice.is_credit_note and invoice.status == "posted" and invoice.open_amount > 0:
        credits = open_invoices(invoice.customer_id, invoice.currency)
    return render(
        "ledger/invoice.html", block=block, status=status, invoice=invoice, message=message,
        lines_message=lines_message, panel=panel, may_edit=may_edit, foreign=foreign,
        base=base_currency(), may_see_books=can(*LEDGER_ROLES),
        # a draft's forms are made only when a block shows them: a posted invoice's page
        # reads no tax rates or income accounts for a line form it hides
        draft_form=draft_form or later(_draft_form, invoice),
        line_form=line_form or later(_line_form),
        post_form=post_form or later(_post_form, invoice),
        send_form=send_form or (_send_form(invoice) if may_edit and invoice.status == "posted"
                                else None),
        credit_form=credit_form, typed=typed or {}, errors=errors or {},
        allocations=allocations_of(invoice) if invoice.status == "posted" else [],
        credit_notes=credit_notes_for(invoice.id) if not invoice.is_credit_note else [],
        open_for_credit=credits,
        standing=standing(invoice.customer), oob=oob,
        history=AuditEntry.for_subject(invoice.kind, invoice.id))


@bp.route("/invoices/<int:invoice_id>", endpoint="invoice")
@roles(*VIEW_ROLES)
def show_invoice(invoice_id: int):
    """An invoice: lines and totals, its state, what paid or credited it, what to do next."""
    return _page(_doc_or_404(invoice_id, "invoice"))


@bp.route("/credit-notes/<int:invoice_id>", endpoint="credit_note")
@roles(*VIEW_ROLES)
def show_credit_note(invoice_id: int):
    """A credit note: what it takes back, from which invoice or case, and where its
    credit went."""
    return _page(_doc_or_404(invoice_id, "credit_note"))


# --- The PDF -----------------------------------------------------------------------------

def render_document_pdf(invoice: Invoice) -> bytes:
    company = CompanySettings.current()
    return render_pdf("ledger/invoice_pdf.html", invoice=invoice, company=company,
                      logo=logo_uri(company),
                      payment_instructions=company.payment_instructions)


def document_pdf(invoice: Invoice) -> bytes:
    """The posted document's archived PDF (rendered and archived the first time), or a
    draft's, rendered fresh and marked as a draft."""
    if invoice.status != "posted":
        return render_document_pdf(invoice)
    archived = db.session.get(InvoicePdf, invoice.id)
    if archived is not None:
        return archived.data
    data = render_document_pdf(invoice)
    _archive(invoice.id, data)
    return data


def _archive(invoice_id: int, data: bytes) -> None:
    """Keep the first rendering: in its own short transaction, so a GET's read snapshot
    never has to be upgraded to a write (SQLite); two first downloads at once keep one."""
    import hashlib

    from models.users import utcnow

    db.session.rollback()
    try:
        db.session.execute(insert_ignore(
            InvoicePdf, invoice_id=invoice_id, data=data,
            sha256=hashlib.sha256(data).hexdigest(), created_at=utcnow()))
        db.session.commit()
    except OperationalError:
        # the database is busy: serve this rendering now, archive on a later download
        db.session.rollback()


@bp.route("/invoices/<int:invoice_id>.pdf")
@roles(*VIEW_ROLES)
def invoice_pdf(invoice_id: int):
    """The invoice as the customer receives it (the archived legal copy once posted)."""
    invoice = _doc_or_404(invoice_id, "invoice")
    return pdf_response(document_pdf(invoice), f"{invoice.file_label}.pdf")


@bp.route("/credit-notes/<int:invoice_id>.pdf")
@roles(*VIEW_ROLES)
def credit_note_pdf(invoice_id: int):
    """The credit note as the customer receives it."""
    invoice = _doc_or_404(invoice_id, "credit_note")
    return pdf_response(document_pdf(invoice), f"{invoice.file_label}.pdf")


# --- Drafts: header and lines ------------------------------------------------------------

def _line_or_404(invoice: Invoice, line_id: int) -> InvoiceLine:
    line = db.session.get(InvoiceLine, line_id)
    if line is None or line.invoice_id != invoice.id:
        abort(404)
    return line


def _lines_back(invoice: Invoice, message: str):
    if is_partial():
        return _page(_doc_or_404(invoice.id), block=["lines", "next"], oob=True)
    flash(message, "success")
    return redirect_to(doc_url(invoice, _anchor="lines"))


@bp.route("/invoices/<int:invoice_id>/header", methods=["POST"])
@roles(*INVOICE_ROLES)
def update_draft_view(invoice_id: int):
    """Save a draft's reference, payment terms, notes (and a credit note's reason)."""
    invoice = _doc_or_404(invoice_id)
    form = _draft_form(invoice, formdata=request.form)
    status, message = 422, None
    if form.validate():
        try:
            update_draft(invoice, version=form.version.data, notes=form.notes.data or "",
                         customer_po=form.customer_po.data or "",
                         payment_terms_days=int(form.payment_terms_days.data),
                         reason=form.reason.data if invoice.is_credit_note else None)
            db.session.commit()
        except StaleDataError:
            db.session.rollback()
            status, message = 409, STALE
        except DomainError as error:
            status, message = refuse(form, error)
        else:
            flash("Saved.", "success")
            return redirect_to(doc_url(invoice))
    return _page(_doc_or_404(invoice_id), status=status, message=message, draft_form=form,
                 panel="header")


@bp.route("/invoices/<int:invoice_id>/lines", methods=["POST"])
@roles(*INVOICE_ROLES)
def add_line_view(invoice_id: int):
    """Add a line to a hand-written draft: a product by SKU or a described line."""
    invoice = _doc_or_404(invoice_id)
    form = _line_form(formdata=request.form)
    form.validate()
    typed = typed_line(form)
    status, message = 422, None
    if typed is not None:
        raw = form.account_id.data or ""
        from models.ledger import Account

        account = db.session.get(Account, int(raw)) if raw.isdigit() and len(raw) < 10 \
            else None
        try:
            add_invoice_line(invoice, QuoteLineInput(
                product=typed.product, quantity=typed.quantity,
                unit_price=form.unit_price.data,
                discount_percent=form.discount_percent.data or Decimal(0),
                tax_rate=typed.tax_rate, description=form.description.data or "",
                use_product_tax=typed.use_product_tax), account=account)
        except DomainError as error:
            if error.field == "product":
                error.field = "sku"
            status, message = refuse(form, error)
        else:
            db.session.commit()
            return _lines_back(invoice, "The line is added.")
    return _page(_doc_or_404(invoice_id), block="lines", status=status, line_form=form,
                 lines_message=message)


@bp.route("/invoices/<int:invoice_id>/lines/<int:line_id>", methods=["POST"])
@roles(*INVOICE_ROLES)
def update_line_view(invoice_id: int, line_id: int):
    """Change how much of a line a draft bills (or credits)."""
    invoice = _doc_or_404(invoice_id)
    line = _line_or_404(invoice, line_id)
    form = LineQuantityForm()
    raw = (form.quantity.data or "").strip()[:40]
    try:
        quantity = parse_quantity(raw, whole=False)
        update_invoice_line(line, quantity=quantity)
        db.session.flush()
    except ValueError as error:
        db.session.rollback()
        text = str(error)
        message = "Enter a number, like 12 or 2.5." if text.startswith("Enter a number") \
            else text
        return _page(_doc_or_404(invoice_id), block="lines", status=422,
                     typed={line_id: raw}, errors={line_id: message})
    except DomainError as error:
        db.session.rollback()
        return _page(_doc_or_404(invoice_id), block="lines", status=error.status,
                     typed={line_id: raw}, errors={line_id: error.message})
    db.session.commit()
    return _lines_back(invoice, "The quantity is saved.")


@bp.route("/invoices/<int:invoice_id>/lines/<int:line_id>/delete", methods=["POST"])
@roles(*INVOICE_ROLES)
def remove_line_view(invoice_id: int, line_id: int):
    """Remove a line from a draft."""
    invoice = _doc_or_404(invoice_id)
    line = _line_or_404(invoice, line_id)
    try:
        remove_invoice_line(line)
        db.session.flush()
    except DomainError as error:
        db.session.rollback()
        return _page(_doc_or_404(invoice_id), block="lines", status=error.status,
                     lines_message=error.message)
    db.session.commit()
    return _lines_back(invoice, "The line is removed.")


@bp.route("/invoices/<int:invoice_id>/delete", methods=["POST"])
@roles(*INVOICE_ROLES)
def delete_draft_view(invoice_id: int):
    """Throw a draft away (a posted document is never deleted)."""
    invoice = _doc_or_404(invoice_id)
    kind, customer_id = invoice.kind, invoice.customer_id
    try:
        delete_draft(invoice)
    except DomainError as error:
        db.session.rollback()
        return _page(_doc_or_404(invoice_id), status=error.status, message=error.message)
    db.session.commit()
    flash(f"The draft {'credit note' if kind == 'credit_note' else 'invoice'} is deleted.",
          "success")
    return redirect_to(url_for("accounts.show", customer_id=customer_id))


# --- Posting and sending -----------------------------------------------------------------

@bp.route("/invoices/<int:invoice_id>/post", methods=["POST"])
@roles(*INVOICE_ROLES)
def post_view(invoice_id: int):
    """Post a draft: its number, its journal entry, and it is final."""
    invoice = _doc_or_404(invoice_id, locked=True)
    form = _post_form(invoice, formdata=request.form)
    if not form.validate():
        return _page(_doc_or_404(invoice_id), status=422, post_form=form, panel="post")
    try:
        invoice.check_version(form.version.data)
        post_invoice(invoice, issue_date=form.issue_date.data,
                     exchange_rate=form.exchange_rate.data, by=current_user)
        db.session.commit()
    except StaleDataError:
        db.session.rollback()
        return _page(_doc_or_404(invoice_id), status=409, message=STALE, post_form=form,
                     panel="post")
    except DomainError as error:
        status, message = refuse(form, error)
        return _page(_doc_or_404(invoice_id), status=status, message=message,
                     post_form=form, panel="post")
    flash(f"{invoice.number} is posted.", "success")
    return redirect_to(doc_url(invoice))


@bp.route("/invoices/<int:invoice_id>/send", methods=["POST"])
@roles(*INVOICE_ROLES)
def send_view(invoice_id: int):
    """Mail the posted document's PDF to the customer and log it on their timeline."""
    invoice = _doc_or_404(invoice_id)
    form = _send_form(invoice, formdata=request.form)
    if invoice.status != "posted":
        return _page(invoice, status=422, message="Post it before sending it.")
    if not form.validate():
        return _page(_doc_or_404(invoice_id), status=422, send_form=form, panel="send")
    data = document_pdf(invoice)
    invoice = _doc_or_404(invoice_id)
    to = form.to.data.strip()
    try:
        lock_invoice(invoice)
        send_mail(to=to, subject=form.subject.data.strip(), body=form.message.data or "",
                  attachments=[(f"{invoice.file_label}.pdf", data, "application/pdf")],
                  reply_to=current_user.email)
    except MailError as error:
        db.session.rollback()
        return _page(_doc_or_404(invoice_id), status=502, send_form=form, panel="send",
                     message=f"{error.message} Nothing was sent.")
    from models.users import utcnow

    invoice.sent_at = utcnow()
    log_activity(kind="email", subject=form.subject.data.strip()[:200],
                 customer=invoice.customer, deal=invoice.deal, by=current_user,
                 body=(f"To {to}, with {invoice.file_label}.pdf attached.\n\n"
                       f"{form.message.data or ''}")[:10000])
    db.session.commit()
    flash(f"{invoice.number} was sent to {to}.", "success")
    return redirect_to(doc_url(invoice))


# --- Credit notes ------------------------------------------------------------------------

@bp.route("/invoices/<int:invoice_id>/credit", methods=["GET", "POST"])
@roles(*INVOICE_ROLES)
def credit_view(invoice_id: int):
    """A credit note for a posted invoice: all of it, or some quantity of some lines."""
    invoice = _doc_or_404(invoice_id, "invoice")
    if request.method == "GET":
        typed = {line.id: _qty(line.creditable) for line in invoice.lines
                 if line.creditable > 0}
        return render("ledger/credit_form.html", invoice=invoice,
                      form=CreditForm(formdata=None), typed=typed, errors={})
    form = CreditForm()
    quantities, typed, errors = typed_quantities(invoice.lines)
    status, message = 422, None
    if form.validate() and not errors:
        key = request.form.get("form_key")
        claim_form_key(key, "credit_note", by=current_user)
        try:
            note = credit_invoice(invoice, reason=form.reason.data, quantities=quantities,
                                  by=current_user)
        except DomainError as error:
            db.session.rollback()
            field = error.field or ""
            if field.startswith("qty-") and field[4:].isdigit():
                errors[int(field[4:])] = error.message
            else:
                status, message = refuse(form, error)
        else:
            url = doc_url(note)
            settle_form_key(key, url)
            db.session.commit()
            flash("The draft credit note is ready: check it and post it.", "success")
            return redirect_to(url)
    return render("ledger/credit_form.html", status=status, invoice=_doc_or_404(invoice_id),
                  form=form, typed=typed, errors=errors, message=message)


@bp.route("/credit-requests/<int:request_id>/credit-note", methods=["GET", "POST"])
@roles(*INVOICE_ROLES)
def credit_request_note(request_id: int):
    """A draft credit note for a support case's approved credit."""
    found = db.session.get(CreditRequest, request_id) or abort(404)
    form = CreditRequestNoteForm()
    form.tax_rate_id.choices = choices(
        [("none", "No tax: the amount is what they get back")]
        + [(str(rate.id), f"{rate.label}: the amount is net")
           for rate in db.session.scalars(select(TaxRate).where(TaxRate.active.is_(True))
                                          .order_by(TaxRate.name))])
    if request.method == "GET":
        return render("ledger/credit_request_form.html", request_=found, form=form)
    if not form.validate():
        return render("ledger/credit_request_form.html", request_=found, form=form,
                      status=422)
    raw = form.tax_rate_id.data
    tax_rate = db.session.get(TaxRate, int(raw)) if raw.isdigit() else None
    key = request.form.get("form_key")
    claim_form_key(key, "credit_request_note", by=current_user)
    try:
        note = credit_from_request(found, tax_rate=tax_rate, by=current_user)
    except DomainError as error:
        db.session.rollback()
        return render("ledger/credit_request_form.html", request_=found, form=form,
                      status=error.status, message=error.message)
    url = doc_url(note)
    settle_form_key(key, url)
    db.session.commit()
    flash("The draft credit note is ready: check it and post it.", "success")
    return redirect_to(url)


@bp.route("/credit-notes/<int:invoice_id>/allocate", methods=["POST"])
@roles(*INVOICE_ROLES)
def allocate_credit_note(invoice_id: int):
    """Settle the customer's open invoices with what is left of a credit note."""
    note = _doc_or_404(invoice_id, "credit_note")
    return allocate_from(note, doc_url(note), lambda status, message, errors, typed: _page(
        _doc_or_404(invoice_id), status=status, message=message, errors=errors, typed=typed,
        panel="allocate"))


def allocate_from(source, url: str, page):
    """Shared by credit notes and payments: read alloc-<id> amounts, allocate, answer."""
    from models.types import parse_money

    plan, typed, errors = {}, {}, {}
    for name, raw in request.form.items():
        if not name.startswith("alloc-") or not name[6:].isdigit() or len(name) > 16:
            continue
        raw = raw.strip()[:40]
        typed[int(name[6:])] = raw
        if not raw:
            continue
        try:
            plan[int(name[6:])] = parse_money(raw)
        except ValueError as error:
            errors[int(name[6:])] = str(error)
    if errors:
        return page(422, None, errors, typed)
    try:
        allocate_credit(source, plan, by=current_user)
    except DomainError as error:
        db.session.rollback()
        field = error.field or ""
        if field.startswith("alloc-") and field[6:].isdigit():
            errors[int(field[6:])] = error.message
            return page(422, None, errors, typed)
        return page(error.status, error.message, errors, typed)
    db.session.commit()
    flash("The allocation is recorded.", "success")
    return redirect_to(url)


__all__ = ["TERMS", "doc_url"]
