"""Suppliers: the list, a supplier's page, new/edit/archive, contacts, roles."""

from models import Supplier, SupplierContact
from tests.helpers import business_rows, count_rows
from tests.orders.factories import make_po, make_supplier


def _form(supplier=None, **changes):
    data = {"name": "Acme Parts", "email": "", "phone": "", "street": "", "postal_code": "",
            "city": "", "country": "", "tax_id": "", "currency": "EUR",
            "payment_terms_days": "30", "notes": ""}
    if supplier is not None:
        data.update({"version": supplier.version, "name": supplier.name,
                     "email": supplier.email or "", "currency": supplier.currency,
                     "payment_terms_days": str(supplier.payment_terms_days)})
    data.update(changes)
    return data


def test_new_supplier__is_saved_and_opens_its_page(client, login, db):
    """Does adding a supplier save every field and go to its page?"""
    login("operations")
    response = client.post("/orders/suppliers/new", data=_form(
        name="Nordic Bolts AB", email="Sales@Nordic.example.org", city="Malmö",
        country="Sweden", currency="SEK", payment_terms_days="45", tax_id="SE123"))
    assert response.status_code == 302
    supplier = db.session.scalar(db.select(Supplier))
    assert response.headers["Location"].endswith(f"/orders/suppliers/{supplier.id}")
    assert (supplier.name, supplier.email, supplier.currency, supplier.payment_terms_days) == \
        ("Nordic Bolts AB", "sales@nordic.example.org", "SEK", 45)
    assert supplier.search_name == "nordic bolts ab"
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Nordic Bolts AB" in page and "Malmö" in page and "Net 45 days" in page


def test_new_supplier__without_a_name_is_422_and_writes_nothing(client, login, db):
    """Is a supplier without a name refused next to the field, with nothing written?"""
    login("operations")
    before = business_rows(db)
    response = client.post("/orders/suppliers/new", data=_form(name="  "))
    assert response.status_code == 422
    assert "Enter the supplier&#39;s name." in response.get_data(as_text=True)
    assert business_rows(db) == before


def test_new_supplier__bad_email_or_unknown_currency_is_422(client, login, db):
    """Are a malformed email and a currency outside the list refused?"""
    login("admin")
    before = business_rows(db)
    response = client.post("/orders/suppliers/new", data=_form(email="not-an-email",
                                                               currency="XXX"))
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Enter a valid email address." in body and "Not a valid choice" in body
    assert business_rows(db) == before


def test_edit_supplier__saves_changes(client, login, db):
    """Does editing a supplier save the new terms and currency?"""
    supplier = make_supplier("Old Name")
    login("finance")
    response = client.post(f"/orders/suppliers/{supplier.id}/edit", data=_form(
        supplier, name="New Name", payment_terms_days="60", currency="USD"))
    assert response.status_code == 302
    db.session.expire_all()
    supplier = db.session.get(Supplier, supplier.id)
    assert (supplier.name, supplier.payment_terms_days, supplier.currency) == \
        ("New Name", 60, "USD")


def test_edit_supplier__stale_version_is_409_with_who(client, login, db, users):
    """Is a save based on an older version refused with 409 and nothing written?"""
    supplier = make_supplier("Versioned Co")
    login("operations")
    stale = _form(supplier, name="Mine")
    client.post(f"/orders/suppliers/{supplier.id}/edit", data=_form(supplier, name="Theirs"))
    before = business_rows(db)
    response = client.post(f"/orders/suppliers/{supplier.id}/edit", data=stale)
    assert response.status_code == 409
    assert "after you opened it" in response.get_data(as_text=True)
    assert business_rows(db) == before
    db.session.expire_all()
    assert db.session.get(Supplier, supplier.id).name == "Theirs"


def test_edit_supplier__keeps_an_odd_payment_term_selectable(client, login, db):
    """Does a supplier with terms outside the list (21 days) still open and save?"""
    supplier = make_supplier("Odd Terms", terms=21)
    login("operations")
    page = client.get(f"/orders/suppliers/{supplier.id}/edit").get_data(as_text=True)
    assert '<option selected value="21">' in page
    response = client.post(f"/orders/suppliers/{supplier.id}/edit",
                           data=_form(supplier, notes="still 21"))
    assert response.status_code == 302


def test_supplier_list__searches_and_pages_by_keyset(client, login, db, app):
    """Does the list find suppliers by part of the name and page without OFFSET?"""
    app.config["TANDEM_PER_PAGE"] = 2
    for name in ("Alpha Tools", "Beta Tools", "Gamma Tools", "Delta Foods"):
        make_supplier(name)
    login("finance")
    first = client.get("/orders/suppliers?q=tools").get_data(as_text=True)
    assert "Alpha Tools" in first and "Beta Tools" in first
    assert "Gamma Tools" not in first and "Delta Foods" not in first
    import re

    cursor = re.search(r'after=([^"&]+)', first).group(1)
    second = client.get(f"/orders/suppliers?q=tools&after={cursor}").get_data(as_text=True)
    assert "Gamma Tools" in second and "Alpha Tools" not in second


def test_supplier_list__archived_are_hidden_unless_asked(client, login, db):
    """Are archived suppliers left out of the default list and shown under Archived?"""
    make_supplier("Live Co")
    make_supplier("Gone Co", active=False)
    login("operations")
    default = client.get("/orders/suppliers").get_data(as_text=True)
    assert "Live Co" in default and "Gone Co" not in default
    archived = client.get("/orders/suppliers?show=archived").get_data(as_text=True)
    assert "Gone Co" in archived and "Live Co" not in archived


def test_supplier_list__unknown_filter_or_cursor_is_400(client, login, db):
    """Are unknown parameters, values and broken cursors answered 400?"""
    login("operations")
    for query in ("colour=red", "show=deleted", "after=%%%", "before=bm90LWpzb24"):
        assert client.get(f"/orders/suppliers?{query}").status_code == 400, query


def test_supplier_list__htmx_gets_only_the_results(client, login, db):
    """Does a partial htmx request get the results block, not the page?"""
    make_supplier("Fragment Supplies")
    login("operations")
    response = client.htmx("get", "/orders/suppliers?q=fragment")
    body = response.get_data(as_text=True)
    assert "<html" not in body and "Fragment Supplies" in body
    assert 'id="results"' in body


def test_supplier_page__shows_its_orders_and_contacts(client, login, db):
    """Does a supplier's page list its purchase orders and its contacts?"""
    supplier = make_supplier("Page Co")
    order = make_po(supplier, [("Freight", "1", "50.00")])
    db.session.add(SupplierContact(supplier=supplier, name="Pia Person", role="Sales"))
    db.session.commit()
    login("finance")
    page = client.get(f"/orders/suppliers/{supplier.id}").get_data(as_text=True)
    assert order.number in page and "Pia Person" in page
    assert "New purchase order" not in page   # finance does not buy


def test_supplier_page__unknown_id_is_404(client, login, db):
    """Is an unknown supplier id a 404?"""
    login("operations")
    assert client.get("/orders/suppliers/999999").status_code == 404


def test_contacts__added_and_removed(client, login, db):
    """Can a contact be added to a supplier and removed again?"""
    supplier = make_supplier("Contacts Co")
    login("operations")
    response = client.post(f"/orders/suppliers/{supplier.id}/contacts",
                           data={"name": "Cara Contact", "role": "Accounts",
                                 "email": "Cara@Contacts.example.org", "phone": ""})
    assert response.status_code == 302
    contact = db.session.scalar(db.select(SupplierContact))
    assert (contact.name, contact.role, contact.email) == \
        ("Cara Contact", "Accounts", "cara@contacts.example.org")
    response = client.post(f"/orders/suppliers/{supplier.id}/contacts/{contact.id}/delete")
    assert response.status_code == 302
    assert count_rows(db, SupplierContact) == 0


def test_contacts__htmx_add_returns_the_panel(client, login, db):
    """Does an htmx add answer with the contacts panel (and the history out of band)?"""
    supplier = make_supplier("Htmx Co")
    login("operations")
    response = client.htmx("post", f"/orders/suppliers/{supplier.id}/contacts",
                           data={"name": "Hal Htmx"})
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'id="contacts"' in body and "Hal Htmx" in body and "<html" not in body
    assert 'hx-swap-oob="true"' in body


def test_contacts__without_a_name_is_422(client, login, db):
    """Is a contact without a name refused with the message and nothing written?"""
    supplier = make_supplier("Nameless Co")
    login("operations")
    before = business_rows(db)
    response = client.post(f"/orders/suppliers/{supplier.id}/contacts", data={"name": ""})
    assert response.status_code == 422
    assert "Enter the contact&#39;s name." in response.get_data(as_text=True)
    assert business_rows(db) == before


def test_contacts__of_another_supplier_is_404(client, login, db):
    """Is removing a contact through another supplier's URL a 404 that removes nothing?"""
    one, other = make_supplier("One"), make_supplier("Other")
    db.session.add(SupplierContact(supplier=one, name="Stays"))
    db.session.commit()
    contact = db.session.scalar(db.select(SupplierContact))
    login("operations")
    response = client.post(f"/orders/suppliers/{other.id}/contacts/{contact.id}/delete")
    assert response.status_code == 404
    assert count_rows(db, SupplierContact) == 1


def test_archive__hides_the_supplier_from_new_orders_and_restore_brings_it_back(
        client, login, db):
    """Does archiving take a supplier out of the new-order choices, and restoring undo it?"""
    supplier = make_supplier("Archivable Co")
    login("operations")
    response = client.post(f"/orders/suppliers/{supplier.id}/archive",
                           data={"version": supplier.version, "action": "archive"})
    assert response.status_code == 302
    db.session.expire_all()
    supplier = db.session.get(Supplier, supplier.id)
    assert supplier.active is False
    client.get(f"/orders/suppliers/{supplier.id}")  # shows (and clears) the flash message
    assert "Archivable Co" not in client.get("/orders/purchases/new").get_data(as_text=True)
    client.post(f"/orders/suppliers/{supplier.id}/archive",
                data={"version": supplier.version, "action": "restore"})
    db.session.expire_all()
    assert db.session.get(Supplier, supplier.id).active is True


def test_archive__stale_version_is_409(client, login, db):
    """Is archiving based on an old version refused with 409?"""
    supplier = make_supplier("Stale Archive")
    login("operations")
    before = business_rows(db)
    response = client.post(f"/orders/suppliers/{supplier.id}/archive",
                           data={"version": supplier.version - 1, "action": "archive"})
    assert response.status_code == 409
    assert business_rows(db) == before


def test_supplier_roles__sales_cannot_see_and_finance_can_edit(app, client, login, db):
    """Is sales refused the supplier pages, while finance may view and edit?"""
    supplier = make_supplier("Role Co")
    login("sales")
    before = business_rows(db)
    assert client.get("/orders/suppliers").status_code == 403
    assert client.get(f"/orders/suppliers/{supplier.id}").status_code == 403
    assert client.post("/orders/suppliers/new", data=_form()).status_code == 403
    assert business_rows(db) == before
    finance = app.test_client()
    login("finance", finance)
    assert finance.get(f"/orders/suppliers/{supplier.id}/edit").status_code == 200
