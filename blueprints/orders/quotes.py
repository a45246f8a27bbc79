"""Quotes: the list, a new quote from a deal, the quote page with its lines (htmx, and
plain posts without JavaScript), sending by mail, the PDF, revising, declining and the
acceptance that makes the sales order. Rules are in models.sales; these views parse and
render.
"""

from datetime import date
from decimal import Decimal

from flask import abort, flash, request, url_for
from flask_login import current_user
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.exc import StaleDataError

from blueprints.forms import choices
from blueprints.mail import MailError, send_mail
from blueprints.orders import bp
from blueprints.orders.lines import tax_choices, typed_line
from blueprints.orders.quote_forms import (
    AcceptForm,
    DeclineForm,
    QuoteHeaderForm,
    QuoteLineForm,
    SendQuoteForm,
    VersionForm,
)
from blueprints.pdf import logo_uri, pdf_response, render_pdf
from blueprints.web import can, is_partial, later, redirect_to, refuse, render, roles, url_page
from models import AuditEntry, db
from models.activities import log_activity
from models.company import CompanySettings
from models.customers import Contact
from models.documents import get_locked, lines_for_totals
from models.errors import DomainError
from models.formkeys import claim_form_key, settle_form_key
from models.pipeline import Deal
from models.sales import (
    QUOTE_LABELS,
    QUOTE_ROLES,
    SALES_VIEW_ROLES,
    Quote,
    QuoteLine,
    QuoteLineInput,
    accept_quote,
    add_quote_line,
    backordered,
    create_quote,
    credit_warnings,
    decline_quote,
    line_stock,
    lock_quote,
    mark_sent,
    may_quote,
    remove_quote_line,
    revise_quote,
    update_quote,
    update_quote_line,
)

LIST_PARAMS = {"status", "mine", "after", "before"}
STATUS_FILTERS = ("", "open", "draft", "sent", "expired", "accepted", "declined", "superseded")
STALE = ("This quote was changed by someone else a moment ago. Reload to see their change, "
         "then make yours again.")


# The deal's customer is the quote's, loaded with it: joining it twice made PostgreSQL
# plan eleven joins (3 ms) on every quote request instead of seven (1 ms).
_QUOTE_PAGE = (joinedload(Quote.deal).lazyload(Deal.customer),)


def _quote_or_404(quote_id: int, *, locked: bool = False) -> Quote:
    """The quote with what its page shows; `locked` for a view about to change it."""
    if locked:
        return get_locked(Quote, quote_id, options=_QUOTE_PAGE) or abort(404)
    return db.session.get(Quote, quote_id, options=_QUOTE_PAGE) or abort(404)


def _line_or_404(quote: Quote, line_id: int) -> QuoteLine:
    line = db.session.get(QuoteLine, line_id)
    if line is None or line.quote_id != quote.id:
        abort(404)
    return line


def _qty(value: Decimal) -> str:
    return f"{value.normalize():f}"


# --- The list ----------------------------------------------------------------------------

def _status_clause(status: str):
    today = date.today()
    if status == "open":
        return and_(Quote.status.in_(("draft", "sent")), Quote.valid_until >= today)
    if status == "expired":
        return and_(Quote.status == "sent", Quote.valid_until < today)
    if status == "sent":
        return and_(Quote.status == "sent", Quote.valid_until >= today)
    return Quote.status == status


@bp.route("/quotes")
@roles(*SALES_VIEW_ROLES)
def quotes():
    """Quotes, newest first: by status (open = draft or sent and still valid) and mine."""
    args = request.args
    unknown = set(args) - LIST_PARAMS
    if unknown:
        abort(400, f"Unknown filter: {', '.join(sorted(unknown))}.")
    status = args.get("status", "")
    if status not in STATUS_FILTERS:
        abort(400, "Unknown status filter.")
    mine = args.get("mine", "") == "1"
    query = select(Quote).options(lines_for_totals(Quote.lines))
    if status:
        query = query.where(_status_clause(status))
    if mine:
        query = query.join(Deal, Deal.id == Quote.deal_id).where(
            or_(Deal.owner_id == current_user.id, Quote.created_by_id == current_user.id))
    page = url_page(query, Quote.id, Quote.id, descending=True)
    return render("orders/quotes.html", block="results", page=page,
                  filters={"status": status, "mine": "1" if mine else ""},
                  statuses=STATUS_FILTERS[1:], labels=QUOTE_LABELS | {"open": "Open"})


# --- A new quote -------------------------------------------------------------------------

@bp.route("/quotes/new", methods=["POST"])
@roles(*QUOTE_ROLES)
def new_quote():
    """Start a draft quote on a deal (the deal page's button); one quote per click."""
    raw = (request.form.get("deal_id") or "").strip()
    deal = db.session.get(Deal, int(raw)) if raw.isdigit() and len(raw) < 10 else None
    if deal is None:
        abort(404, "There is no such deal.")
    key = request.form.get("form_key")
    claim_form_key(key, "new_quote", by=current_user)
    contact = next((c for c in deal.customer.contacts if c.is_primary), None)
    quote = create_quote(deal, by=current_user, contact=contact)
    url = url_for("orders.quote", quote_id=quote.id)
    settle_form_key(key, url)
    db.session.commit()
    flash(f"{quote.label} is started as a draft. Add its lines.", "success")
    return redirect_to(url)


# --- The quote page ----------------------------------------------------------------------

def _line_form(line: QuoteLine | None = None, formdata=None) -> QuoteLineForm:
    if formdata is not None:
        form = QuoteLineForm(formdata=formdata)
    elif line is None:
        form = QuoteLineForm(formdata=None)
    else:
        form = QuoteLineForm(
            formdata=None, sku=line.product.sku if line.product else "",
            description=line.description, quantity=_qty(line.quantity),
            unit_price=line.unit_price, discount_percent=line.discount_percent,
            tax_rate_id=str(line.tax_rate_id) if line.tax_rate_id else "none")
    form.tax_rate_id.choices = tax_choices(line.tax_rate if line is not None else None)
    return form


def _contact_choices(quote: Quote):
    return choices([("", f"{quote.customer.name} (no one in particular)")]
                   + [(str(c.id), c.name + (f" · {c.email}" if c.email else ""))
                      for c in quote.customer.contacts])


def _header_form(quote: Quote, formdata=None) -> QuoteHeaderForm:
    if formdata is None:
        form = QuoteHeaderForm(formdata=None, version=quote.version,
                               contact_id=str(quote.contact_id or ""),
                               valid_until=quote.valid_until, notes=quote.notes,
                               terms=quote.terms)
    else:
        form = QuoteHeaderForm(formdata=formdata)
    form.contact_id.choices = _contact_choices(quote)
    return form


def _send_form(quote: Quote, formdata=None) -> SendQuoteForm:
    if formdata is not None:
        return SendQuoteForm(formdata=formdata)
    company = CompanySettings.current()
    to = (quote.contact.email if quote.contact and quote.contact.email
          else quote.customer.email) or ""
    greeting = f"Dear {quote.contact.name}," if quote.contact else "Hello,"
    message = (f"{greeting}\n\nPlease find attached our quote {quote.label} for "
               f"“{quote.deal.title}”, valid until {quote.valid_until:%d %B %Y}.\n\n"
               f"Kind regards,\n{current_user.name}\n{company.name}")
    return SendQuoteForm(formdata=None, version=quote.version, to=to,
                         subject=f"Quote {quote.label} from {company.name}", message=message)


def _page(quote: Quote, *, block=None, status: int = 200, message: str | None = None,
          line_form=None, editing: int | None = None, header_form=None, send_form=None,
          accept_form=None, decline_form=None, lines_message: str | None = None,
          panel: str | None = None, oob: bool = False):
    """The quote page, or for htmx the block(s) named."""
    from models.receivables import standing

    may_edit = can(*QUOTE_ROLES) and may_quote(current_user, quote.deal)
    stock = line_stock(quote.lines)

    def warnings():
        if quote.status in ("draft", "sent") and quote.deal.is_open:
            return credit_warnings(quote.customer, quote.total, quote.currency)
        return []

    # what only some blocks show is worked out when a block does (later): a line added
    # over htmx renders the lines and the next step, not the money strip or the history
    return render(
        "orders/quote.html", block=block, status=status, quote=quote, message=message,
        standing=later(standing, quote.customer), customer=quote.customer,
        lines_message=lines_message, editing=editing, panel=panel, stock=stock,
        short_lines=list({line.product_id: line for line in quote.lines
                          if line.id in stock and stock[line.id].short}.values()),
        warnings=later(warnings),
        line_form=line_form or later(_line_form),
        header_form=header_form or later(_header_form, quote),
        send_form=send_form or (_send_form(quote) if may_edit and quote.status == "draft"
                                else None),
        accept_form=accept_form or AcceptForm(formdata=None, version=quote.version),
        decline_form=decline_form or DeclineForm(formdata=None, version=quote.version),
        version_form=VersionForm(formdata=None, version=quote.version),
        history=later(AuditEntry.for_subject, "quote", quote.id),
        may_edit=may_edit, labels=QUOTE_LABELS, oob=oob)


@bp.route("/quotes/<int:quote_id>", endpoint="quote")
@roles(*SALES_VIEW_ROLES)
def show_quote(quote_id: int):
    """A quote: header, lines with live availability, totals, what to do next."""
    return _page(_quote_or_404(quote_id))


@bp.route("/quotes/<int:quote_id>.pdf")
@roles(*SALES_VIEW_ROLES)
def quote_pdf(quote_id: int):
    """The quote as the customer receives it."""
    quote = _quote_or_404(quote_id)
    return pdf_response(_quote_pdf_bytes(quote), f"{quote.file_label}.pdf")


def _quote_pdf_bytes(quote: Quote) -> bytes:
    company = CompanySettings.current()
    return render_pdf("orders/quote_pdf.html", quote=quote, company=company,
                      logo=logo_uri(company))


# --- Lines -------------------------------------------------------------------------------

def _line_input(form: QuoteLineForm) -> QuoteLineInput | None:
    """The typed line, or None with the messages put on the form."""
    typed = typed_line(form)
    if typed is None:
        return None
    return QuoteLineInput(product=typed.product, quantity=typed.quantity,
                          unit_price=form.unit_price.data,
                          discount_percent=form.discount_percent.data or Decimal(0),
                          tax_rate=typed.tax_rate, description=form.description.data or "",
                          use_product_tax=typed.use_product_tax)


def _refuse_line(form: QuoteLineForm, error: DomainError) -> tuple[int, str | None]:
    if error.field == "product":
        error.field = "sku"
    return refuse(form, error)


def _lines_back(quote: Quote, message: str):
    """After a line changed (flushed, not yet committed): commit, and the lines block for
    htmx (totals included), else the page."""
    if is_partial():
        # the next-step panel carries the quote's version and the short-stock note, which
        # a line change alters: it comes along, swapped out of band. Rendered before the
        # commit, from the records as just written, rather than read again after it.
        response = _page(quote, block=["lines", "next"], oob=True)
        db.session.commit()
        return response
    db.session.commit()
    flash(message, "success")
    return redirect_to(url_for("orders.quote", quote_id=quote.id) + "#lines")


@bp.route("/quotes/<int:quote_id>/lines", methods=["POST"])
@roles(*QUOTE_ROLES)
def add_quote_line_view(quote_id: int):
    """Add a line to a draft: a product by SKU (price and tax default to the product's)
    or a described line with its price."""
    quote = _quote_or_404(quote_id)
    form = _line_form(formdata=request.form)
    form.validate()
    given = _line_input(form)
    status, message = 422, None
    if given is not None:
        try:
            add_quote_line(quote, given, by=current_user)
        except DomainError as error:
            status, message = _refuse_line(form, error)
        else:
            return _lines_back(quote, "The line is added.")
    return _page(_quote_or_404(quote_id), block="lines", status=status, line_form=form,
                 lines_message=message)


@bp.route("/quotes/<int:quote_id>/lines/<int:line_id>/edit")
@roles(*QUOTE_ROLES)
def edit_quote_line(quote_id: int, line_id: int):
    """One line of a draft as a form, in place of the add-line form."""
    quote = _quote_or_404(quote_id)
    line = _line_or_404(quote, line_id)
    if not quote.is_editable:
        return _page(quote, block="lines", status=422,
                     lines_message="Lines change only while the quote is a draft.")
    return _page(quote, block="lines", line_form=_line_form(line), editing=line.id)


@bp.route("/quotes/<int:quote_id>/lines/<int:line_id>", methods=["POST"])
@roles(*QUOTE_ROLES)
def update_quote_line_view(quote_id: int, line_id: int):
    """Save a changed line of a draft."""
    quote = _quote_or_404(quote_id)
    line = _line_or_404(quote, line_id)
    form = _line_form(formdata=request.form)
    form.tax_rate_id.choices = tax_choices(line.tax_rate)
    form.validate()
    given = _line_input(form)
    status, message = 422, None
    if given is not None:
        try:
            update_quote_line(line, given, by=current_user)
            db.session.flush()
        except DomainError as error:
            status, message = _refuse_line(form, error)
        else:
            return _lines_back(quote, "The line is saved.")
    return _page(_quote_or_404(quote_id), block="lines", status=status, line_form=form,
                 editing=line_id, lines_message=message)


@bp.route("/quotes/<int:quote_id>/lines/<int:line_id>/delete", methods=["POST"])
@roles(*QUOTE_ROLES)
def remove_quote_line_view(quote_id: int, line_id: int):
    """Remove a line from a draft."""
    quote = _quote_or_404(quote_id)
    line = _line_or_404(quote, line_id)
    try:
        remove_quote_line(line, by=current_user)
        db.session.flush()
    except DomainError as error:
        db.session.rollback()
        return _page(_quote_or_404(quote_id), block="lines", status=error.status,
                     lines_message=error.message)
    return _lines_back(quote, "The line is removed.")


# --- Header, send, revise, decline, accept -----------------------------------------------

def _contact(value: str, quote: Quote) -> Contact | None:
    if value and value.isdigit() and len(value) < 10:
        return db.session.get(Contact, int(value))
    return None


@bp.route("/quotes/<int:quote_id>/header", methods=["POST"])
@roles(*QUOTE_ROLES)
def update_quote_view(quote_id: int):
    """Change a draft's addressee, validity, notes and terms (a stale save is 409)."""
    quote = _quote_or_404(quote_id)
    form = _header_form(quote, formdata=request.form)
    status, message = 422, None
    if form.validate():
        try:
            update_quote(quote, version=form.version.data, valid_until=form.valid_until.data,
                         contact=_contact(form.contact_id.data, quote),
                         notes=form.notes.data or "", terms=form.terms.data or "",
                         by=current_user)
            db.session.commit()
        except StaleDataError:
            db.session.rollback()
            status, message = 409, STALE
        except DomainError as error:
            status, message = refuse(form, error)
        else:
            flash("The quote is saved.", "success")
            return redirect_to(url_for("orders.quote", quote_id=quote.id))
    return _page(_quote_or_404(quote_id), status=status, message=message, header_form=form,
                 panel="header")


def _log_sent(quote: Quote, *, to: str, subject: str, body: str) -> None:
    log_activity(kind="email", subject=subject[:200], customer=quote.customer,
                 deal=quote.deal, contact=quote.contact, by=current_user,
                 body=f"To {to}, with {quote.file_label}.pdf attached.\n\n{body}"[:10000])


@bp.route("/quotes/<int:quote_id>/send", methods=["POST"])
@roles(*QUOTE_ROLES)
def send_quote(quote_id: int):
    """Mail the quote's PDF and mark it sent. The quote is locked while the mail goes
    out; if the server refuses or is down it stays a draft and nothing is written."""
    quote = _quote_or_404(quote_id)
    form = _send_form(quote, formdata=request.form)
    if not form.validate():
        return _page(_quote_or_404(quote_id), status=422, send_form=form, panel="send")
    try:
        mark_sent(quote, by=current_user, version=form.version.data)
        data = _quote_pdf_bytes(quote)
        to = form.to.data.strip()
        send_mail(to=to, to_name=quote.contact.name if quote.contact else "",
                  subject=form.subject.data.strip(), body=form.message.data or "",
                  attachments=[(f"{quote.file_label}.pdf", data, "application/pdf")],
                  reply_to=current_user.email)
    except StaleDataError:
        db.session.rollback()
        return _page(_quote_or_404(quote_id), status=409, message=STALE, send_form=form,
                     panel="send")
    except DomainError as error:
        status, message = refuse(form, error)
        return _page(_quote_or_404(quote_id), status=status, message=message,
                     send_form=form, panel="send")
    except MailError as error:
        db.session.rollback()
        return _page(_quote_or_404(quote_id), status=502, send_form=form, panel="send",
                     message=f"{error.message} The quote is still a draft; nothing was sent.")
    _log_sent(quote, to=to, subject=form.subject.data.strip(), body=form.message.data or "")
    db.session.commit()
    flash(f"{quote.label} was sent to {to}.", "success")
    return redirect_to(url_for("orders.quote", quote_id=quote.id))


@bp.route("/quotes/<int:quote_id>/mark-sent", methods=["POST"])
@roles(*QUOTE_ROLES)
def mark_quote_sent(quote_id: int):
    """Mark a draft as sent without mail (handed over, sent from elsewhere)."""
    quote = _quote_or_404(quote_id, locked=True)
    form = VersionForm()
    try:
        mark_sent(quote, by=current_user, version=form.version.data)
        db.session.commit()
    except StaleDataError:
        db.session.rollback()
        return _page(_quote_or_404(quote_id), status=409, message=STALE)
    except DomainError as error:
        db.session.rollback()
        return _page(_quote_or_404(quote_id), status=error.status, message=error.message)
    flash(f"{quote.label} is marked as sent.", "success")
    return redirect_to(url_for("orders.quote", quote_id=quote.id))


@bp.route("/quotes/<int:quote_id>/revise", methods=["POST"])
@roles(*QUOTE_ROLES)
def revise_quote_view(quote_id: int):
    """A new draft revision of a sent quote; the old one is kept, superseded."""
    quote = _quote_or_404(quote_id)
    key = request.form.get("form_key")
    claim_form_key(key, "revise_quote", by=current_user)
    try:
        new = revise_quote(quote, by=current_user)
    except DomainError as error:
        db.session.rollback()
        return _page(_quote_or_404(quote_id), status=error.status, message=error.message)
    url = url_for("orders.quote", quote_id=new.id)
    settle_form_key(key, url)
    db.session.commit()
    flash(f"{new.label} is a new draft; {quote.label} is kept as superseded.", "success")
    return redirect_to(url)


@bp.route("/quotes/<int:quote_id>/decline", methods=["POST"])
@roles(*QUOTE_ROLES)
def decline_quote_view(quote_id: int):
    """Record that the customer declined a sent quote."""
    quote = _quote_or_404(quote_id)
    form = DeclineForm()
    if form.validate():
        try:
            decline_quote(quote, reason=form.reason.data or "", by=current_user,
                          version=form.version.data)
            db.session.commit()
        except StaleDataError:
            db.session.rollback()
            return _page(_quote_or_404(quote_id), status=409, message=STALE)
        except DomainError as error:
            status, message = refuse(form, error)
            return _page(_quote_or_404(quote_id), status=status, message=message,
                         decline_form=form, panel="decline")
        flash(f"{quote.label} is recorded as declined.", "success")
        return redirect_to(url_for("orders.quote", quote_id=quote.id))
    return _page(_quote_or_404(quote_id), status=422, decline_form=form, panel="decline")


@bp.route("/quotes/<int:quote_id>/accept", methods=["POST"])
@roles(*QUOTE_ROLES)
def accept_quote_view(quote_id: int):
    """The customer accepted: the sales order, the deal won, stock reserved. The form's
    one-time key makes a double click or a retried request land on the same order."""
    quote = _quote_or_404(quote_id, locked=True)
    form = AcceptForm()
    if not form.validate():
        return _page(_quote_or_404(quote_id), status=422, accept_form=form, panel="accept")
    key = request.form.get("form_key")
    claim_form_key(key, "accept_quote", by=current_user)
    try:
        lock_quote(quote)
        if quote.status == "accepted" and quote.order is not None:
            # accepted by another tab with its own key: show the order, make nothing
            db.session.rollback()
            flash(f"{quote.label} was already accepted.", "info")
            return redirect_to(url_for("orders.sales_order", order_id=quote.order.id))
        order = accept_quote(quote, by=current_user, customer_po=form.customer_po.data or "")
    except DomainError as error:
        status, message = refuse(form, error)
        return _page(_quote_or_404(quote_id), status=status, message=message,
                     accept_form=form, panel="accept")
    url = url_for("orders.sales_order", order_id=order.id)
    settle_form_key(key, url)
    db.session.commit()
    backordered = order_backorders(order)
    flash(f"{quote.label} is accepted: {order.number} is confirmed and the deal is won."
          + (f" {backordered} backordered." if backordered else ""), "success")
    return redirect_to(url)


def order_backorders(order) -> str:
    """"2 pc of W-1, 1 box of B-7" for the stocked quantities not reserved, or ""."""
    missing = backordered(order)
    return ", ".join(f"{_qty(missing[line.id])} {line.unit} of {line.product.sku}"
                     for line in order.lines if missing.get(line.id, 0) > 0)
