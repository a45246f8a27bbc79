"""The journal, the chart of accounts and the lock date through the real app: manual
entries (balanced, unbalanced, closed periods, control accounts, junk amounts, double
submits, "Add a line"), reversals, who may see the books, balances on the chart, account
forms, the lock date and keyset paging."""

import re
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from models.ledger import Account, JournalEntry, set_lock_date
from tests.helpers import business_rows, count_rows, form_key
from tests.ledger.factories import (
    account_by_code,
    entries,
    make_product,
    manual_entry,
    posted_invoice,
    shipped_order,
)

TODAY = date.today()
NEW = "/ledger/journal/new"


def entry_data(page: str | None, lines, *, on=None, memo="March rent") -> dict:
    """A manual entry's form as the page posts it: `lines` [(Account or None, debit,
    credit, memo)]."""
    data = {"entry_date": (on or TODAY).isoformat(), "memo": memo, "form_key": form_key(page)}
    for n, (account, debit, credit, line_memo) in enumerate(lines):
        data[f"lines-{n}-account_id"] = str(account.id) if account is not None else ""
        data[f"lines-{n}-debit"] = debit
        data[f"lines-{n}-credit"] = credit
        data[f"lines-{n}-memo"] = line_memo
    return data


def three_lines(db, chart):
    return [(account_by_code(db, "6000"), "1000.00", "", "Office rent"),
            (chart["tax_in"], "200.00", "", "VAT on rent"),
            (chart["bank"], "", "1,200.00", "Paid by transfer")]


def text_of(response) -> str:
    return response.get_data(as_text=True)


# --- A manual entry ----------------------------------------------------------------------

def test_new_entry__a_balanced_three_line_entry_is_posted_and_shown(client, login, db, chart):
    """Does finance post a balanced manual entry of three lines, land on it, and find it
    in the journal?"""
    user = login("finance")
    page = text_of(client.get(NEW))
    assert page.count('name="lines-') >= 4 * 4          # four empty lines to start with
    response = client.post(NEW, data=entry_data(page, three_lines(db, chart)))
    assert response.status_code == 302, text_of(response)
    [entry] = entries(db)
    assert response.headers["Location"].endswith(f"/ledger/journal/{entry.id}")
    assert entry.source_type == "manual" and entry.memo == "March rent"
    assert entry.posted_by_id == user.id
    assert [(line.account.code, line.debit, line.credit, line.memo) for line in entry.lines] == [
        ("6000", 1000, 0, "Office rent"), ("1400", 200, 0, "VAT on rent"),
        ("1100", 0, 1200, "Paid by transfer")]
    shown = text_of(client.get(response.headers["Location"]))
    assert entry.number in shown and "is posted" in shown
    assert "1,200.00" in shown and entry.hash[:12] in shown
    assert f'action="/ledger/journal/{entry.id}/reverse"' in shown
    listed = text_of(client.get("/ledger/journal"))
    assert entry.number in listed and "March rent" in listed and "1,200.00" in listed


def test_new_entry__unbalanced_is_422_with_the_difference_and_writes_nothing(client, login,
                                                                           db, chart):
    """Is an entry whose debits and credits differ refused with both totals and the
    difference, the input kept, and nothing written?"""
    login("finance")
    page = text_of(client.get(NEW))
    before = business_rows(db)
    lines = [(account_by_code(db, "6300"), "100.00", "", "Paper"),
             (chart["bank"], "", "90.01", "")]
    response = client.post(NEW, data=entry_data(page, lines))
    body = text_of(response)
    assert response.status_code == 422
    assert "does not balance: debits 100.00, credits 90.01 (difference 9.99)" in body
    assert 'value="90.01"' in body and 'value="Paper"' in body     # input kept
    assert "Difference" in body                                    # running totals
    assert business_rows(db) == before


def test_new_entry__control_accounts_are_not_offered_and_are_refused(client, login, db, chart):
    """Are the receivable and payable accounts left out of the account list, and a forged
    post to one refused next to its line with nothing written?"""
    login("finance")
    page = text_of(client.get(NEW))
    assert chart["receivable"].label not in page and chart["payable"].label not in page
    assert chart["bank"].label in page
    before = business_rows(db)
    lines = [(chart["receivable"], "50.00", "", ""), (chart["bank"], "", "50.00", "")]
    response = client.post(NEW, data=entry_data(page, lines))
    body = text_of(response)
    assert response.status_code == 422
    assert "is kept by invoices, payments and bills" in body
    assert 'id="lines-0-account_id-error"' in body
    assert business_rows(db) == before


def test_new_entry__an_archived_account_is_refused(client, login, db, chart):
    """Is a post to an archived account refused next to its line?"""
    login("finance")
    page = text_of(client.get(NEW))
    marketing = account_by_code(db, "6500")
    marketing.active = False
    db.session.commit()
    before = business_rows(db)
    lines = [(marketing, "50.00", "", ""), (chart["bank"], "", "50.00", "")]
    response = client.post(NEW, data=entry_data(page, lines))
    assert response.status_code == 422
    assert "is archived; choose an active account" in text_of(response)
    assert business_rows(db) == before


def test_new_entry__a_closed_period_is_refused(client, login, users, db, chart):
    """Is an entry dated on or before the lock date refused next to the date, with
    nothing written?"""
    set_lock_date(TODAY - timedelta(days=10), by=users["finance"])
    db.session.commit()
    login("finance")
    page = text_of(client.get(NEW))
    assert "closed up to" in page
    before = business_rows(db)
    response = client.post(NEW, data=entry_data(page, three_lines(db, chart),
                                                on=TODAY - timedelta(days=10)))
    body = text_of(response)
    assert response.status_code == 422
    assert "The books are closed up to" in body and 'id="entry_date-error"' in body
    assert 'value="Office rent"' in body
    assert business_rows(db) == before
    # the day after the lock date is open
    response = client.post(NEW, data=entry_data(page, three_lines(db, chart),
                                                on=TODAY - timedelta(days=9)))
    assert response.status_code == 302
    assert len(entries(db)) == 1


def test_new_entry__a_double_submit_posts_one_entry(client, login, db, chart):
    """Does posting the same form twice (same one-time key) post one entry and send the
    repeat to it?"""
    login("finance")
    data = entry_data(text_of(client.get(NEW)), three_lines(db, chart))
    first = client.post(NEW, data=data)
    second = client.post(NEW, data=data)
    assert first.status_code == 302 and second.status_code == 302
    assert second.headers["Location"] == first.headers["Location"]
    assert count_rows(db, JournalEntry) == 1


def test_new_entry__a_refused_submit_can_be_sent_again_with_its_key(client, login, db, chart):
    """After a refusal, does the corrected form with the same key still post?"""
    login("finance")
    page = text_of(client.get(NEW))
    lines = three_lines(db, chart)
    data = entry_data(page, lines)
    data["lines-2-credit"] = "1199.00"
    assert client.post(NEW, data=data).status_code == 422
    data["lines-2-credit"] = "1200.00"
    assert client.post(NEW, data=data).status_code == 302
    assert count_rows(db, JournalEntry) == 1


def test_new_entry__add_a_line_keeps_the_typed_input(client, login, db, chart):
    """Does "Add a line" give one more empty row, keep what was typed (junk too) and write
    nothing?"""
    login("finance")
    page = text_of(client.get(NEW))
    before = business_rows(db)
    rent = account_by_code(db, "6000")
    lines = [(rent, "123.45", "", "Half of it"), (chart["bank"], "", "1,5", ""),
             (None, "", "", ""), (None, "", "", "")]
    data = entry_data(page, lines, memo="Kept memo") | {"add_line": "1"}
    response = client.post(NEW, data=data)
    body = text_of(response)
    assert response.status_code == 200
    assert 'name="lines-4-account_id"' in body and 'name="lines-5-account_id"' not in body
    assert 'value="123.45"' in body and 'value="Half of it"' in body
    assert 'value="1,5"' in body and 'value="Kept memo"' in body
    assert re.search(rf'<option selected value="{rent.id}">|<option value="{rent.id}" selected',
                     body)
    assert 'class="error"' not in body          # no messages before the entry is posted
    # htmx swaps only the form
    partial = text_of(client.htmx("post", NEW, data=data))
    assert "<html" not in partial and 'id="entry-form"' in partial
    assert 'name="lines-4-account_id"' in partial and 'value="123.45"' in partial
    assert business_rows(db) == before


@pytest.mark.parametrize("typed, message", [
    ("1e999999", "out of range"),
    ("1,5", "Use a point for decimals"),
    ("ten euros", "Enter a number"),
    ("-5.00", "Enter zero or more"),
    ("1.234", "at most 2 decimals"),
    ("NaN", "Enter a number"),
])
def test_new_entry__junk_amounts_are_messages_next_to_the_field(client, login, db, chart,
                                                                typed, message):
    """Is junk typed into an amount a message next to it (422), never a 500?"""
    login("finance")
    page = text_of(client.get(NEW))
    before = business_rows(db)
    lines = [(account_by_code(db, "6000"), typed, "", ""), (chart["bank"], "", "5.00", "")]
    response = client.post(NEW, data=entry_data(page, lines))
    body = text_of(response)
    assert response.status_code == 422
    assert message in body and 'id="lines-0-debit-error"' in body
    assert f'value="{typed}"' in body
    assert business_rows(db) == before


def test_new_entry__junk_dates_and_forged_rows_are_messages(client, login, db, chart):
    """Is a junk date, a row with both sides, a row with neither, an amount without an
    account and a forged account id each a message next to its field?"""
    login("finance")
    page = text_of(client.get(NEW))
    before = business_rows(db)
    bank = chart["bank"]
    rent = account_by_code(db, "6000")
    lines = [(rent, "10.00", "10.00", ""), (bank, "", "", "just a memo"),
             (None, "5.00", "", "")]
    data = entry_data(page, lines) | {"entry_date": "2026-13-45",
                                      "lines-3-account_id": "99999999999999",
                                      "lines-3-debit": "1.00"}
    response = client.post(NEW, data=data)
    body = text_of(response)
    assert response.status_code == 422
    assert "Not a valid date value" in body
    assert "Enter either a debit or a credit, not both." in body
    assert "Enter a debit or a credit." in body
    assert "Choose an account." in body and "Choose an account from the list." in body
    assert business_rows(db) == before


def test_new_entry__an_empty_form_says_what_is_missing(client, login, db, chart):
    """Is a form with no lines refused with a message, nothing written?"""
    login("finance")
    page = text_of(client.get(NEW))
    before = business_rows(db)
    response = client.post(NEW, data=entry_data(page, []))
    assert response.status_code == 422
    assert "at least one amount" in text_of(response)
    assert business_rows(db) == before


# --- Reversals ---------------------------------------------------------------------------

def test_reverse__works_once_and_the_second_time_is_refused(client, login, db, chart):
    """Does reversing a manual entry post the mirror entry once, link both ways, and
    refuse a second reversal with nothing written?"""
    login("finance")
    entry = manual_entry(db, [(account_by_code(db, "6300"), "40.00"), (chart["bank"], "-40.00")])
    url = f"/ledger/journal/{entry.id}/reverse"
    response = client.post(url, data={"entry_date": TODAY.isoformat(), "reason": "Wrong month"})
    assert response.status_code == 302, text_of(response)
    reversal = db.session.scalar(select(JournalEntry).where(JournalEntry.reverses_id == entry.id))
    assert response.headers["Location"].endswith(f"/ledger/journal/{reversal.id}")
    assert [(line.debit, line.credit) for line in reversal.lines] == [(0, 40), (40, 0)]
    assert reversal.memo == f"Reversal of {entry.number}: Wrong month"
    shown = text_of(client.get(f"/ledger/journal/{entry.id}"))
    assert "Reversed by" in shown and reversal.number in shown and url not in shown
    assert entry.number in text_of(client.get(f"/ledger/journal/{reversal.id}"))
    before = business_rows(db)
    again = client.post(url, data={"entry_date": TODAY.isoformat(), "reason": "Again"})
    assert again.status_code == 422
    assert "was already reversed" in text_of(again)
    assert business_rows(db) == before


def test_reverse__needs_a_reason_and_a_date_not_before_the_entry(client, login, db, chart):
    """Are a missing reason and a date before the entry refused next to their fields?"""
    login("finance")
    entry = manual_entry(db, [(account_by_code(db, "6300"), "40.00"), (chart["bank"], "-40.00")])
    before = business_rows(db)
    url = f"/ledger/journal/{entry.id}/reverse"
    response = client.post(url, data={"entry_date": TODAY.isoformat(), "reason": " "})
    assert response.status_code == 422 and 'id="reason-error"' in text_of(response)
    response = client.post(url, data={"entry_date": (TODAY - timedelta(days=1)).isoformat(),
                                      "reason": "Typo"})
    assert response.status_code == 422
    assert "cannot be dated before the entry" in text_of(response)
    assert business_rows(db) == before


def test_reverse__a_document_entry_is_refused(client, login, db, chart):
    """Is the entry of an invoice refused (corrected by its document), with no reverse
    form offered?"""
    login("finance")
    posted_invoice(db)
    [entry] = entries(db, "invoice")
    assert "/reverse" not in text_of(client.get(f"/ledger/journal/{entry.id}"))
    before = business_rows(db)
    response = client.post(f"/ledger/journal/{entry.id}/reverse",
                           data={"entry_date": TODAY.isoformat(), "reason": "Oops"})
    assert response.status_code == 422 and "correct the document" in text_of(response)
    assert business_rows(db) == before


# --- Who may see the books ---------------------------------------------------------------

@pytest.mark.parametrize("role", ["sales", "operations"])
def test_ledger_pages__sales_and_operations_get_403(client, login, db, chart, role):
    """Are the journal, an entry, the chart, an account, their forms and the lock date
    refused (403) to sales and operations, and nothing written by their posts?"""
    entry = manual_entry(db, [(account_by_code(db, "6300"), "5.00"), (chart["bank"], "-5.00")])
    account = chart["bank"].id
    login(role)
    before = business_rows(db)
    gets = ["/ledger/journal", f"/ledger/journal/{entry.id}", NEW, "/ledger/accounts",
            f"/ledger/accounts/{account}", "/ledger/accounts/new",
            f"/ledger/accounts/{account}/edit", "/ledger/lock-date"]
    posts = {NEW: entry_data(None, three_lines(db, chart)),
             f"/ledger/journal/{entry.id}/reverse": {"entry_date": TODAY.isoformat(),
                                                     "reason": "x"},
             "/ledger/accounts/defaults": {},
             "/ledger/accounts/new": {"code": "7000", "name": "X", "type": "expense"},
             f"/ledger/accounts/{account}/edit": {"code": "1101", "name": "X", "version": 1},
             "/ledger/lock-date": {"lock_date": (TODAY - timedelta(days=1)).isoformat()}}
    for url in gets:
        assert client.get(url).status_code == 403, url
    for url, data in posts.items():
        assert client.post(url, data=data).status_code == 403, url
    assert business_rows(db) == before
    menu = text_of(client.get("/"))
    assert "/ledger/journal" not in menu and "/ledger/accounts" not in menu


def test_ledger_pages__a_huge_id_is_404(client, login, db, chart):
    """Is an id larger than an integer column holds a 404 on every page that takes one?"""
    login("finance")
    huge = "99999999999"
    for url in [f"/ledger/journal/{huge}", f"/ledger/accounts/{huge}",
                f"/ledger/accounts/{huge}/edit", "/ledger/journal/2147483647"]:
        assert client.get(url).status_code == 404, url
    assert client.post(f"/ledger/journal/{huge}/reverse",
                       data={"entry_date": TODAY.isoformat(), "reason": "x"}).status_code == 404


# --- The journal list --------------------------------------------------------------------

def test_journal__keyset_pages_have_no_repeats(app, client, login, db, chart):
    """Walking the journal page by page (dates out of posting order, several on one day),
    is every entry shown once, newest date first, and does "Previous" go back?"""
    app.config["TANDEM_PER_PAGE"] = 2
    rent, bank = account_by_code(db, "6000"), chart["bank"]
    days = [3, 1, 3, 0, 2, 3, 1]
    made = [manual_entry(db, [(rent, "1.00"), (bank, "-1.00")], on=TODAY - timedelta(days=d),
                         memo=f"Entry {n}") for n, d in enumerate(days)]
    login("finance")
    seen, pages, url = [], [], "/ledger/journal"
    while url:
        body = text_of(client.get(url))
        numbers = re.findall(r">(JE-\d{4}-\d{4})</a>", body)
        assert 0 < len(numbers) <= 2
        seen += numbers
        pages.append((url, numbers))
        found = re.search(r'href="([^"]+)" rel="next"', body)
        url = found.group(1).replace("&amp;", "&") if found else None
    expected = sorted(made, key=lambda e: (e.entry_date, e.id), reverse=True)
    assert seen == [entry.number for entry in expected]
    # back from the last page
    body = text_of(client.get(pages[-1][0]))
    previous = re.search(r'href="([^"]+)" rel="prev"', body).group(1).replace("&amp;", "&")
    assert re.findall(r">(JE-\d{4}-\d{4})</a>", text_of(client.get(previous))) == pages[-2][1]


def test_journal__filters_by_source_dates_and_text(client, login, db, chart):
    """Do the source, date and text filters narrow the journal?"""
    rent, bank = account_by_code(db, "6000"), chart["bank"]
    old = manual_entry(db, [(rent, "1.00"), (bank, "-1.00")], on=TODAY - timedelta(days=40),
                       memo="Old rent")
    new = manual_entry(db, [(rent, "2.00"), (bank, "-2.00")], memo="Coffee_100%")
    invoice = posted_invoice(db)
    [billed] = entries(db, "invoice")
    login("finance")

    def numbers(query):
        response = client.get(f"/ledger/journal?{query}")
        assert response.status_code == 200, query
        return set(re.findall(r">(JE-\d{4}-\d{4})</a>", text_of(response)))

    assert numbers("source_type=invoice") == {billed.number}
    assert numbers("source_type=manual") == {old.number, new.number}
    since = (TODAY - timedelta(days=10)).isoformat()
    assert old.number not in numbers(f"from={since}") and new.number in numbers(f"from={since}")
    assert numbers(f"to={since}") == {old.number}
    assert numbers("q=coffee_100%25") == {new.number}
    assert numbers("q=c%25e") == set()          # % is a character, not a wildcard
    assert numbers(f"q={invoice.number}") == {billed.number}
    partial = client.htmx("get", "/ledger/journal?source_type=manual")
    assert "<html" not in text_of(partial) and old.number in text_of(partial)


@pytest.mark.parametrize("query", [
    "source_type=bogus", "colour=red", "from=yesterday", "to=2026-02-30", "after=not-a-cursor",
    "sort=number", "from=20260101",
])
def test_journal__unknown_filters_are_400(client, login, db, chart, query):
    """Is a filter outside the whitelist, or a broken value, a 400?"""
    login("finance")
    assert client.get(f"/ledger/journal?{query}").status_code == 400


@pytest.mark.parametrize("key", ['"text"', "12", '["d","1"]', '["t","x"]', "true", "null"])
def test_journal__forged_cursor_is_400(client, login, db, chart, key):
    """Is a hand-made cursor with a key of the wrong kind a 400, never a 500?"""
    import base64

    login("finance")
    cursor = base64.urlsafe_b64encode(f"[{key},1]".encode()).decode().rstrip("=")
    assert client.get(f"/ledger/journal?after={cursor}").status_code == 400


def test_entry__links_its_source_document(client, login, db, stages, chart):
    """Does a shipment's cost-of-goods entry link to its sales order, and an invoice's
    entry show its number without breaking when the invoice page is not there?"""
    widget = make_product(cost="4.00")
    order = shipped_order(db, stages, [(widget, "2", "10.00")])
    [shipment] = entries(db, "shipment")
    posted_invoice(db, order=order)
    [billed] = entries(db, "invoice")
    login("finance")
    body = text_of(client.get(f"/ledger/journal/{shipment.id}"))
    assert f'href="/orders/sales/{order.id}"' in body
    assert "8.00" in body
    body = text_of(client.get(f"/ledger/journal/{billed.id}"))
    assert billed.reference in body
    assert f'href="/accounts/{order.customer_id}"' in body        # the receivable's customer
    assert f'/orders/sales/{order.id}' in text_of(client.get("/ledger/journal"))


# --- The chart of accounts ---------------------------------------------------------------

def test_accounts__show_balances_after_postings(client, login, db, chart):
    """Does the chart show each account's balance on its normal side and a total per
    type, from the postings?"""
    posted_invoice(db, lines=(("Consulting", "2", "150.00"),))
    manual_entry(db, [(account_by_code(db, "6000"), "80.00"), (chart["bank"], "-80.00")])
    login("finance")
    body = text_of(client.get("/ledger/accounts"))

    def row(code):
        found = re.search(rf'<td data-label="Code">{code}</td>(.*?)</tr>', body, re.S)
        return re.search(r'data-label="Balance" class="num">([^<]*)<', found.group(1)).group(1)

    assert row("1200") == "300.00"          # receivable, debit side
    assert row("1100") == "-80.00"          # the bank paid out more than came in
    assert row("6000") == "80.00"
    assert "300.00" in {row("4000"), row("4100")}       # income, credit side, positive
    assert row("6100") == "0.00"
    assert "Control: receivable" in body and "Control: payable" in body


def test_accounts__an_empty_chart_is_not_loaded_by_a_get(client, login, db):
    """Does opening the chart with no accounts say so and write nothing, and does the
    button load the default?"""
    login("finance")
    before = business_rows(db)
    body = text_of(client.get("/ledger/accounts"))
    assert "The chart of accounts is empty" in body
    assert "no accounts to post to" in text_of(client.get(NEW))
    assert business_rows(db) == before
    assert client.post("/ledger/accounts/defaults").status_code == 302
    assert count_rows(db, Account) == 28
    assert "Accounts receivable" in text_of(client.get("/ledger/accounts"))


def test_account__shows_its_lines_newest_first_with_date_filters(app, client, login, db,
                                                                 chart):
    """Does an account's page show its balance and lines (paged, newest first), and the
    totals of a date range?"""
    app.config["TANDEM_PER_PAGE"] = 2
    rent, bank = account_by_code(db, "6000"), chart["bank"]
    made = [manual_entry(db, [(rent, f"{n}.00"), (bank, f"-{n}.00")],
                         on=TODAY - timedelta(days=n), memo=f"Rent {n}") for n in (1, 2, 3)]
    login("finance")
    body = text_of(client.get(f"/ledger/accounts/{rent.id}"))
    assert "6.00" in body                                   # the balance
    assert re.findall(r">(JE-\d{4}-\d{4})</a>", body) == [made[0].number, made[1].number]
    found = re.search(r'href="([^"]+)" rel="next"', body).group(1).replace("&amp;", "&")
    assert re.findall(r">(JE-\d{4}-\d{4})</a>", text_of(client.get(found))) == [made[2].number]
    since = (TODAY - timedelta(days=2)).isoformat()
    body = text_of(client.get(f"/ledger/accounts/{rent.id}?from={since}&to={since}"))
    assert re.findall(r">(JE-\d{4}-\d{4})</a>", body) == [made[1].number]
    assert "debits EUR 2.00, credits EUR 0.00" in body
    assert client.get(f"/ledger/accounts/{rent.id}?q=x").status_code == 400


def test_new_account__is_added_and_a_duplicate_code_is_refused_next_to_the_field(
        client, login, db, chart):
    """Is a new account added with its history, and one with a code already taken
    refused next to the code with nothing written?"""
    login("finance")
    response = client.post("/ledger/accounts/new", data={
        "code": "6150", "name": "Software", "type": "expense", "description": "SaaS"})
    assert response.status_code == 302, text_of(response)
    software = account_by_code(db, "6150")
    assert (software.name, software.type, software.control, software.active) == (
        "Software", "expense", None, True)
    assert "Software" in text_of(client.get(f"/ledger/accounts/{software.id}"))
    assert software.label in text_of(client.get(NEW))          # offered for manual entries
    before = business_rows(db)
    response = client.post("/ledger/accounts/new", data={
        "code": "6000", "name": "Rent again", "type": "expense"})
    body = text_of(response)
    assert response.status_code == 422
    assert "Account 6000 already exists." in body and 'id="code-error"' in body
    assert 'value="Rent again"' in body
    response = client.post("/ledger/accounts/new", data={
        "code": "6160", "name": "Petty cash", "type": "expense", "is_cash": "y"})
    assert response.status_code == 422 and 'id="is_cash-error"' in text_of(response)
    response = client.post("/ledger/accounts/new", data={
        "code": "6170", "name": "X", "type": "bogus"})
    assert response.status_code == 422 and 'id="type-error"' in text_of(response)
    assert business_rows(db) == before


def test_new_account__on_an_empty_chart_loads_the_defaults_first(client, login, db):
    """Does adding the first account also load the default chart (so automatic postings
    find theirs)?"""
    login("finance")
    response = client.post("/ledger/accounts/new", data={
        "code": "6150", "name": "Software", "type": "expense"})
    assert response.status_code == 302
    assert count_rows(db, Account) == 29


def test_edit_account__renumbering_an_account_with_postings_is_refused(client, login, db,
                                                                       chart):
    """Is changing the code of an account with postings refused next to the code, while
    renaming it works?"""
    rent = account_by_code(db, "6000")
    manual_entry(db, [(rent, "10.00"), (chart["bank"], "-10.00")])
    login("finance")
    url = f"/ledger/accounts/{rent.id}/edit"
    page = text_of(client.get(url))
    assert 'value="6000"' in page
    before = business_rows(db)
    data = {"version": rent.version, "code": "6001", "name": "Rent", "active": "y"}
    response = client.post(url, data=data)
    assert response.status_code == 422
    assert "This account has postings" in text_of(response)
    assert 'id="code-error"' in text_of(response)
    assert business_rows(db) == before
    response = client.post(url, data=data | {"code": "6000", "name": "Office rent"})
    assert response.status_code == 302
    db.session.expire_all()
    assert account_by_code(db, "6000").name == "Office rent"
    assert "Office rent" in text_of(client.get(f"/ledger/accounts/{rent.id}"))  # history


def test_edit_account__a_stale_version_is_409_naming_who_changed_it(client, login, db, chart):
    """Is a save based on an older version refused with 409 and who changed it?"""
    marketing = account_by_code(db, "6500")
    login("admin")
    url = f"/ledger/accounts/{marketing.id}/edit"
    data = {"version": marketing.version, "code": "6500", "name": "Marketing", "active": "y"}
    assert client.post(url, data=data | {"name": "Advertising"}).status_code == 302
    before = business_rows(db)
    response = client.post(url, data=data | {"name": "Promotion"})
    assert response.status_code == 409
    assert "Ada Admin" in text_of(response)
    assert business_rows(db) == before


def test_edit_account__an_account_automatic_postings_use_stays_active(client, login, db,
                                                                      chart):
    """Is archiving the bank account (used by payments) refused next to the box?"""
    bank = chart["bank"]
    login("finance")
    response = client.post(f"/ledger/accounts/{bank.id}/edit", data={
        "version": bank.version, "code": bank.code, "name": bank.name, "is_cash": "y"})
    assert response.status_code == 422
    assert "stays active" in text_of(response) and 'id="active-error"' in text_of(response)


# --- The lock date -----------------------------------------------------------------------

def test_lock_date__finance_closes_a_period_cannot_reopen_it_and_admin_can(app, client, login,
                                                                          db, chart):
    """Can finance close the books up to a past day but not move the date back, while an
    admin can reopen?"""
    from models.company import CompanySettings

    def locked():
        db.session.expire_all()
        return CompanySettings.current().lock_date

    login("finance")
    page = text_of(client.get("/ledger/lock-date"))
    assert "No period is closed" in page and "Nothing posts on or before" in page
    closing = TODAY - timedelta(days=5)
    response = client.post("/ledger/lock-date", data={"lock_date": closing.isoformat()})
    assert response.status_code == 302
    assert locked() == closing
    assert closing.isoformat() in text_of(client.get("/ledger/lock-date"))
    before = business_rows(db)
    for day in [(TODAY - timedelta(days=30)).isoformat(), ""]:
        response = client.post("/ledger/lock-date", data={"lock_date": day})
        assert response.status_code == 422
        assert "Only an admin may reopen" in text_of(response)
        assert 'id="lock_date-error"' in text_of(response)
    response = client.post("/ledger/lock-date", data={"lock_date": TODAY.isoformat()})
    assert response.status_code == 422 and "a day that has ended" in text_of(response)
    response = client.post("/ledger/lock-date", data={"lock_date": "soon"})
    assert response.status_code == 422 and "Not a valid date" in text_of(response)
    assert business_rows(db) == before
    # a later day moves it forward
    later = TODAY - timedelta(days=2)
    assert client.post("/ledger/lock-date",
                       data={"lock_date": later.isoformat()}).status_code == 302
    assert locked() == later

    admin = app.test_client()
    login("admin", admin)
    earlier = TODAY - timedelta(days=30)
    assert admin.post("/ledger/lock-date",
                      data={"lock_date": earlier.isoformat()}).status_code == 302
    assert locked() == earlier
    assert admin.post("/ledger/lock-date", data={"lock_date": ""}).status_code == 302
    assert locked() is None
