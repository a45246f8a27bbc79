"""Quote rules at the model level: numbering and currency, what a line accepts, per-line
half-up rounding, the draft -> sent -> revised / declined life, expiry by date, and the
stock and credit hints shown while quoting."""

from datetime import date, timedelta
from decimal import Decimal

import pytest

from models.customers import Contact
from models.errors import DomainError
from models.sales import (
    Quote,
    QuoteLine,
    QuoteLineInput,
    add_quote_line,
    create_quote,
    credit_warnings,
    decline_quote,
    line_stock,
    mark_sent,
    remove_quote_line,
    revise_quote,
    update_quote,
    update_quote_line,
)
from tests.helpers import count_rows, make_customer, make_deal
from tests.sales.factories import make_order, make_product, make_quote, make_tax_rate, stock

D = Decimal
TODAY = date.today()
YEAR = TODAY.year


def line(product=None, quantity="1", price=None, discount="0", **extra):
    """A QuoteLineInput as the form would give it."""
    return QuoteLineInput(product=product, quantity=D(quantity),
                          unit_price=None if price is None else D(price),
                          discount_percent=D(discount), **extra)


def refused(call, *args, **kwargs) -> DomainError:
    with pytest.raises(DomainError) as caught:
        call(*args, **kwargs)
    return caught.value


# --- Creating a quote ---------------------------------------------------------------------

def test_quote_takes_the_customers_account_currency(db, stages):
    deal = make_deal(db, stages, stage="Proposal", customer=make_customer(currency="USD"))
    quote = create_quote(deal)
    db.session.commit()
    assert (quote.currency, quote.customer_id, quote.status) == ("USD", deal.customer_id,
                                                                 "draft")


def test_quote_numbers_run_in_sequence_per_year(db, stages):
    first = make_quote(db, stages)
    second = make_quote(db, stages)
    assert (first.number, second.number) == (f"Q-{YEAR}-0001", f"Q-{YEAR}-0002")
    assert (first.revision, first.label) == (1, f"Q-{YEAR}-0001")


def test_default_validity_follows_company_settings(db, stages):
    from models.company import CompanySettings

    assert make_quote(db, stages).valid_until == TODAY + timedelta(days=30)
    settings = CompanySettings.current()
    settings.quote_valid_days = 14
    settings.quote_terms = "  Net 30.  "
    db.session.add(settings)
    db.session.commit()
    quote = make_quote(db, stages)
    assert (quote.issued_on, quote.valid_until, quote.terms) == (
        TODAY, TODAY + timedelta(days=14), "Net 30.")


def test_validity_in_the_past_or_beyond_a_year_is_refused(db, stages):
    deal = make_deal(db, stages, stage="Proposal")
    past = refused(create_quote, deal, valid_until=TODAY - timedelta(days=1))
    far = refused(create_quote, deal, valid_until=TODAY + timedelta(days=400))
    db.session.rollback()
    assert (past.field, far.field) == ("valid_until", "valid_until")
    assert count_rows(db, Quote) == 0


@pytest.mark.parametrize("stage", ["Won", "Lost"])
def test_quote_on_a_closed_deal_is_refused(db, stages, users, stage):
    from models.pipeline import move_deal

    deal = make_deal(db, stages, stage="Proposal")
    move_deal(deal, stages[stage], by=users["admin"], version=deal.version,
              lost_reason="price")
    db.session.commit()
    error = refused(create_quote, deal)
    db.session.rollback()
    assert f"This deal is {stage.lower()}" in error.message
    assert count_rows(db, Quote) == 0


def test_contact_of_another_customer_is_refused(db, stages):
    deal = make_deal(db, stages, stage="Proposal")
    elsewhere = make_customer(name="Other Ltd")
    own = Contact(customer=deal.customer, name="Ann Own")
    db.session.add(own)
    other = Contact(customer=elsewhere, name="Olga Other")
    db.session.add(other)
    db.session.commit()
    error = refused(create_quote, deal, contact=other)
    db.session.rollback()
    assert error.field == "contact_id"
    assert deal.customer.name in error.message
    quote = create_quote(deal, contact=own)
    db.session.commit()
    assert quote.contact_id == own.id


# --- Lines --------------------------------------------------------------------------------

def test_product_line_defaults_to_list_price_and_product_tax(db, stages):
    vat = make_tax_rate("VAT 20", "20")
    reduced = make_tax_rate("VAT 7", "7")
    product = make_product("LP-1", tax_rate=vat)
    quote = make_quote(db, stages)
    default = add_quote_line(quote, line(product, "2"))
    chosen = add_quote_line(quote, line(product, "1", tax_rate=reduced))
    untaxed = add_quote_line(quote, line(product, "1", use_product_tax=False))
    db.session.commit()
    assert (default.unit_price, default.tax_rate_id, default.tax_percent) == (
        D("25.00"), vat.id, D("20.000"))
    assert (chosen.tax_rate_id, chosen.tax_percent) == (reduced.id, D("7.000"))
    assert (untaxed.tax_rate_id, untaxed.tax_percent) == (None, D("0.000"))
    assert [ln.position for ln in quote.lines] == [1, 2, 3]


def test_described_line_needs_a_price(db, stages):
    quote = make_quote(db, stages)
    error = refused(add_quote_line, quote, line(None, "1", description="Installation"))
    assert error.field == "unit_price"
    nothing = refused(add_quote_line, quote, line(None, "1", "10.00"))
    assert nothing.field == "product"
    made = add_quote_line(quote, line(None, "1", "100.00", description=" Installation "))
    db.session.commit()
    assert (made.description, made.unit_price, made.product_id) == (
        "Installation", D("100.00"), None)
    assert len(quote.lines) == 1


@pytest.mark.parametrize("quantity", ["0", "-1"])
def test_zero_or_negative_quantity_is_refused(db, stages, quantity):
    product = make_product()
    quote = make_quote(db, stages)
    error = refused(add_quote_line, quote, line(product, quantity))
    assert error.field == "quantity"
    assert quote.lines == []


def test_fraction_of_a_whole_unit_is_refused(db, stages):
    pieces = make_product("PC-1", unit="pc")
    kilos = make_product("KG-1", unit="kg")
    quote = make_quote(db, stages)
    error = refused(add_quote_line, quote, line(pieces, "1.5"))
    assert "PC-1" in error.message and "whole" in error.message
    made = add_quote_line(quote, line(kilos, "1.5"))
    db.session.commit()
    assert [ln.id for ln in quote.lines] == [made.id]
    assert made.quantity == D("1.500")


@pytest.mark.parametrize("discount", ["100.01", "-1", "12.345"])
def test_bad_discount_is_refused(db, stages, discount):
    quote = make_quote(db, stages)
    error = refused(add_quote_line, quote, line(make_product(), "1", discount=discount))
    assert error.field == "discount_percent"
    assert quote.lines == []


def test_discount_of_exactly_100_is_allowed(db, stages):
    quote = make_quote(db, stages, [(make_product(), "2", "25.00", "100")])
    assert (quote.lines[0].net, quote.net, quote.lines[0].discount_amount) == (
        D("0.00"), D("0.00"), D("50.00"))


def test_price_with_three_decimals_is_refused_in_eur(db, stages):
    quote = make_quote(db, stages)
    error = refused(add_quote_line, quote, line(make_product(), "1", "9.999"))
    assert (error.field, error.message) == ("unit_price", "Use at most 2 decimals.")
    negative = refused(add_quote_line, quote, line(make_product(), "1", "-1.00"))
    assert negative.field == "unit_price"
    assert quote.lines == []


def test_price_with_any_decimals_is_refused_in_jpy(db, stages):
    deal = make_deal(db, stages, stage="Proposal", customer=make_customer(currency="JPY"))
    product = make_product("JP-1")
    quote = create_quote(deal)
    error = refused(add_quote_line, quote, line(product, "1", "100.5"))
    assert (error.field, error.message) == (
        "unit_price", "Use whole amounts: this currency has no decimals.")
    # list prices are in the base currency (EUR): a yen quote is priced by hand
    listed = refused(add_quote_line, quote, line(product, "1"))
    assert (listed.field, listed.message) == (
        "unit_price", "List prices are in EUR; enter the price in JPY.")
    made = add_quote_line(quote, line(product, "2", "2500"))
    db.session.commit()
    assert [ln.id for ln in quote.lines] == [made.id]
    assert (made.net, quote.total) == (D(5000), D(5000))


def test_list_price_with_decimals_is_refused_when_the_base_currency_is_jpy(db, stages):
    from models.company import CompanySettings

    settings = CompanySettings.current()
    settings.base_currency = "JPY"
    db.session.add(settings)
    db.session.commit()
    deal = make_deal(db, stages, stage="Proposal", customer=make_customer())
    product = make_product("JP-2")
    quote = create_quote(deal)
    assert quote.currency == "JPY"
    listed = add_quote_line(quote, line(product, "1"))  # 25.00 is a whole amount
    assert listed.unit_price == D(25)
    product.list_price = D("25.50")
    error = refused(add_quote_line, quote, line(product, "1"))
    assert "JP-2" in error.message and error.field == "unit_price"
    assert [ln.id for ln in quote.lines] == [listed.id]


def test_archived_product_is_refused(db, stages):
    old = make_product("OLD-1", active=False)
    quote = make_quote(db, stages)
    error = refused(add_quote_line, quote, line(old, "1"))
    assert "OLD-1 is archived" in error.message
    assert quote.lines == []


def test_refused_line_update_changes_nothing(db, stages):
    product = make_product()
    quote = make_quote(db, stages, [(product, "2", "10.00")])
    first = quote.lines[0]
    refused(update_quote_line, first, line(product, "3", "10.00", discount="101"))
    assert (first.quantity, first.discount_percent) == (D(2), D("0.00"))
    update_quote_line(first, line(product, "3", "12.00", discount="5"))
    db.session.commit()
    assert (first.quantity, first.unit_price, first.discount_percent, first.net) == (
        D(3), D("12.00"), D("5.00"), D("34.20"))


# --- Rounding ----------------------------------------------------------------------------

def test_line_net_rounds_half_up_once(db, stages):
    kilos = make_product("KG-2", unit="kg")
    quote = make_quote(db, stages, [(kilos, "0.335", "3.00"), ("Cable", "0.335", "3.00")])
    # 0.335 x 3.00 = 1.005: half-up to 1.01 (banker's rounding would give 1.00)
    assert [ln.net for ln in quote.lines] == [D("1.01"), D("1.01")]
    assert quote.net == D("2.02")


@pytest.mark.parametrize("quantity, price, net", [
    ("1", "0.60", "0.53"),    # 0.525
    ("2", "0.30", "0.53"),    # 0.525
    ("3", "9.99", "26.22"),   # 26.22375
    ("1", "0.20", "0.18"),    # 0.175
])
def test_discount_of_12_5_percent_rounds_half_up(db, stages, quantity, price, net):
    quote = make_quote(db, stages, [("Service", quantity, price, "12.5")])
    found = quote.lines[0]
    assert found.net == D(net)
    assert found.gross_amount == D(quantity) * D(price)
    assert found.discount_amount == found.gross_amount - D(net)


def test_tax_is_rounded_per_line_and_summed(db, stages):
    ten = make_tax_rate("VAT 10", "10")
    quote = make_quote(db, stages)
    for _ in range(2):
        add_quote_line(quote, line(None, "1", "0.05", description="Tiny", tax_rate=ten))
    db.session.commit()
    # each line: 0.005 tax -> 0.01; the sum of the lines is 0.02 (not 10% of 0.10)
    assert [ln.tax for ln in quote.lines] == [D("0.01"), D("0.01")]
    assert (quote.net, quote.tax, quote.total) == (D("0.10"), D("0.02"), D("0.12"))


def test_tax_breakdown_per_rate(db, stages):
    standard = make_tax_rate("VAT 20", "20")
    reduced = make_tax_rate("VAT 7.5", "7.5")
    quote = make_quote(db, stages)
    add_quote_line(quote, line(None, "1", "10.05", description="A", tax_rate=standard))
    add_quote_line(quote, line(None, "3", "1.10", description="B", tax_rate=reduced))
    add_quote_line(quote, line(None, "1", "4.00", description="C", tax_rate=standard))
    add_quote_line(quote, line(None, "1", "2.00", description="Untaxed"))
    db.session.commit()
    # A: 10.05 x 20% = 2.01; C: 0.80; B: 3.30 x 7.5% = 0.2475 -> 0.25
    assert quote.tax_breakdown == [
        ("0%", D("2.00"), D("0.00")),
        ("7.5%", D("3.30"), D("0.25")),
        ("20%", D("14.05"), D("2.81")),
    ]
    assert quote.tax == D("3.06")
    assert quote.total == quote.net + quote.tax == D("22.41")


def test_jpy_amounts_round_to_whole_yen(db, stages):
    ten = make_tax_rate("JP 10", "10")
    deal = make_deal(db, stages, stage="Proposal", customer=make_customer(currency="JPY"))
    quote = create_quote(deal)
    add_quote_line(quote, line(None, "1", "5", description="Stamp", tax_rate=ten))
    add_quote_line(quote, line(None, "3", "333", "12.5", description="Bolts"))
    db.session.commit()
    # 5 x 10% = 0.5 -> 1; 999 x 0.875 = 874.125 -> 874
    assert [(ln.net, ln.tax) for ln in quote.lines] == [(D(5), D(1)), (D(874), D(0))]
    assert quote.total == D(880)


# --- Draft only ---------------------------------------------------------------------------

def test_only_a_draft_is_edited(db, stages):
    product = make_product()
    quote = make_quote(db, stages, [(product, "1")], status="sent")
    first = quote.lines[0]
    attempts = [
        lambda: add_quote_line(quote, line(product, "1")),
        lambda: update_quote_line(first, line(product, "5")),
        lambda: remove_quote_line(first),
        lambda: update_quote(quote, version=quote.version, valid_until=quote.valid_until,
                             contact=None, notes="changed", terms=""),
    ]
    for attempt in attempts:
        error = refused(attempt)
        assert "only a draft changes" in error.message
    db.session.rollback()
    assert [(ln.quantity, ln.id) for ln in quote.lines] == [(D(1), first.id)]
    assert quote.notes == "" and count_rows(db, QuoteLine) == 1


def test_draft_edits_and_line_removal_renumber(db, stages):
    quote = make_quote(db, stages, [("A", "1", "1.00"), ("B", "1", "2.00"), ("C", "1", "3.00")])
    remove_quote_line(quote.lines[0])
    update_quote(quote, version=quote.version, valid_until=TODAY + timedelta(days=5),
                 contact=None, notes=" Call first ", terms="Net 14")
    db.session.commit()
    assert [(ln.description, ln.position) for ln in quote.lines] == [("B", 1), ("C", 2)]
    assert (quote.valid_until, quote.notes, quote.terms) == (
        TODAY + timedelta(days=5), "Call first", "Net 14")


# --- Sending ------------------------------------------------------------------------------

def test_mark_sent_needs_lines(db, stages):
    quote = make_quote(db, stages)
    error = refused(mark_sent, quote)
    assert "at least one line" in error.message
    db.session.rollback()
    assert db.session.get(Quote, quote.id).status == "draft"


def test_mark_sent_refuses_a_product_archived_since_drafting(db, stages):
    product = make_product("GONE-7")
    quote = make_quote(db, stages, [(product, "1"), ("Setup", "1", "5.00")])
    product.active = False
    db.session.commit()
    error = refused(mark_sent, quote)
    assert "GONE-7 was archived since" in error.message
    db.session.rollback()
    assert db.session.get(Quote, quote.id).status == "draft"


def test_mark_sent_refuses_a_past_valid_until(db, stages):
    quote = make_quote(db, stages, [("Setup", "1", "5.00")])
    quote.valid_until = TODAY - timedelta(days=1)
    db.session.commit()
    error = refused(mark_sent, quote)
    assert error.field == "valid_until"
    db.session.rollback()
    assert db.session.get(Quote, quote.id).status == "draft"


def test_mark_sent_fixes_the_quote(db, stages):
    quote = make_quote(db, stages, [("Setup", "1", "5.00")])
    mark_sent(quote)
    db.session.commit()
    assert (quote.status, quote.state, quote.issued_on) == ("sent", "sent", TODAY)
    assert quote.sent_at is not None and not quote.is_editable
    assert mark_sent(quote) is quote  # sending again changes nothing


# --- Revising and declining ----------------------------------------------------------------

def test_revise_makes_the_next_revision_and_keeps_the_old_one(db, stages):
    vat = make_tax_rate("VAT 20", "20")
    product = make_product(tax_rate=vat)
    quote = make_quote(db, stages, [(product, "2", "20.00", "5"), ("Freight", "1", "9.00")],
                       status="sent", notes="first offer")
    old_lines = [(ln.id, ln.position, ln.product_id, ln.description, ln.quantity,
                  ln.unit_price, ln.discount_percent, ln.tax_rate_id, ln.tax_percent)
                 for ln in quote.lines]
    new = revise_quote(quote)
    db.session.commit()
    assert (new.number, new.revision, new.label, new.status) == (
        quote.number, 2, f"{quote.number} v2", "draft")
    assert (new.revises_id, new.notes, new.currency) == (quote.id, "first offer", "EUR")
    copied = [(ln.position, ln.product_id, ln.description, ln.quantity, ln.unit_price,
               ln.discount_percent, ln.tax_rate_id, ln.tax_percent) for ln in new.lines]
    assert copied == [row[1:] for row in old_lines]
    assert {ln.id for ln in new.lines}.isdisjoint(row[0] for row in old_lines)
    assert new.net == quote.net and new.tax == quote.tax
    db.session.expire_all()
    old = db.session.get(Quote, quote.id)
    assert (old.status, old.superseded_by_id, old.label) == (
        "superseded", new.id, quote.number)
    assert [ln.id for ln in old.lines] == [row[0] for row in old_lines]
    # the revision can be edited, sent and revised again: v3
    mark_sent(new)
    third = revise_quote(new)
    db.session.commit()
    assert third.label == f"{quote.number} v3"


@pytest.mark.parametrize("status", ["draft", "accepted", "superseded"])
def test_revise_is_refused(db, stages, status):
    stock(product := make_product(), 5)
    quote = make_quote(db, stages, [(product, "1")], status="draft" if status == "draft"
                       else "sent")
    if status == "accepted":
        from models.sales import accept_quote

        accept_quote(quote)
    elif status == "superseded":
        revise_quote(quote)
    db.session.commit()
    before = count_rows(db, Quote)
    error = refused(revise_quote, quote)
    db.session.rollback()
    assert {"draft": "still a draft", "accepted": "was accepted",
            "superseded": "already revised as"}[status] in error.message
    assert count_rows(db, Quote) == before


def test_decline_keeps_the_deal_open_and_can_be_revised(db, stages):
    quote = make_quote(db, stages, [("Setup", "1", "5.00")], status="sent")
    decline_quote(quote, reason=" Too expensive ")
    db.session.commit()
    assert (quote.status, quote.decline_reason) == ("declined", "Too expensive")
    assert quote.declined_at is not None and quote.deal.is_open
    again = refused(decline_quote, quote, reason="")
    assert "only a sent quote" in again.message.lower()
    new = revise_quote(quote)
    db.session.commit()
    assert (new.revision, quote.status) == (2, "superseded")


def test_decline_of_a_draft_is_refused(db, stages):
    quote = make_quote(db, stages, [("Setup", "1", "5.00")])
    error = refused(decline_quote, quote, reason="no")
    db.session.rollback()
    assert "this one is draft" in error.message
    assert db.session.get(Quote, quote.id).status == "draft"


def test_expired_is_derived_from_valid_until(db, stages):
    quote = make_quote(db, stages, [("Setup", "1", "5.00")], status="sent")
    assert quote.state == "sent"
    quote.valid_until = TODAY - timedelta(days=1)
    db.session.commit()
    db.session.expire_all()
    found = db.session.get(Quote, quote.id)
    assert (found.status, found.state, found.state_label) == ("sent", "expired", "Expired")
    # an expired quote is revised with a fresh date
    new = revise_quote(found)
    db.session.commit()
    assert new.valid_until >= TODAY and new.state == "draft"


# --- Stock and credit hints ---------------------------------------------------------------

def test_line_stock_counts_all_lines_of_a_product(db, stages):
    short = make_product("SH-1")
    plenty = make_product("PL-1")
    service = make_product("SV-1", kind="service")
    stock(short, 5)
    stock(plenty, 10)
    quote = make_quote(db, stages, [(short, "3"), (short, "4"), (plenty, "4"), (service, "2")])
    a, b, c, d = quote.lines
    found = line_stock(quote.lines)
    assert set(found) == {a.id, b.id, c.id}
    for first in (a, b):
        assert (found[first.id].available, found[first.id].leaves) == (D(5), D(-2))
        assert found[first.id].short and found[first.id].missing == D(2)
    assert (found[c.id].available, found[c.id].leaves, found[c.id].short) == (
        D(10), D(6), False)
    assert found[c.id].missing == D(0)
    assert d.id not in found


def test_line_stock_of_a_never_stocked_product(db, stages):
    product = make_product("NEW-1", allow_backorder=True)
    quote = make_quote(db, stages, [(product, "2")])
    found = line_stock(quote.lines)[quote.lines[0].id]
    assert (found.available, found.leaves, found.short, found.backorder) == (
        D(0), D(-2), True, True)


def test_credit_warning_when_on_hold(db, stages):
    customer = make_customer(name="Slow Payer", on_hold=True)
    customer.account.hold_reason = "overdue invoices"
    db.session.commit()
    warnings = credit_warnings(customer, D("10.00"), "EUR")
    assert len(warnings) == 1
    assert "Slow Payer is on hold (overdue invoices)" in warnings[0]


def test_credit_warning_over_the_limit_with_open_orders(db, stages):
    product = make_product()
    stock(product, 100)
    customer = make_customer(name="Big Buyer", credit_limit="1000.00")
    order = make_order(db, stages, [(product, "30", "25.00")], customer=customer)
    assert order.total == D("750.00")
    assert credit_warnings(customer, D("250.00"), "EUR") == []  # exactly at the limit
    over = credit_warnings(customer, D("250.01"), "EUR")
    assert len(over) == 1
    assert "EUR 1,000.01" in over[0] and "EUR 1,000.00" in over[0]
    # another currency is not compared with the limit
    assert credit_warnings(customer, D("5000.00"), "USD") == []


def test_no_credit_warning_under_the_limit_or_without_one(db, stages):
    limited = make_customer(credit_limit="1000.00")
    unlimited = make_customer()
    assert credit_warnings(limited, D("999.99"), "EUR") == []
    assert credit_warnings(unlimited, D("1000000.00"), "EUR") == []
