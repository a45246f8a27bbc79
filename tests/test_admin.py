"""The admin pages: users with roles, disabling, temporary passwords, company settings."""

import io

import pytest

from models import CompanySettings, User
from tests.helpers import count_rows, snapshot

PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00"
       b"\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N"
       b"\x00\x00\x00\x00IEND\xaeB`\x82")


def test_add_user__with_role_and_temporary_password(client, login, db):
    """Can an admin add a user who must choose a password at first sign-in?"""
    login("admin")
    response = client.post("/admin/users/new", data={
        "email": "New.Rep@Example.org", "name": "New Rep", "role": "sales",
        "password": "temporary-pass"})
    assert response.status_code == 302
    user = User.by_email("new.rep@example.org")
    assert user.role == "sales" and user.must_change_password


@pytest.mark.parametrize("field,value,message", [
    ("email", "", "Enter an email address."),
    ("email", "nope", "Enter a valid email address."),
    ("email", "Taken@Example.org", "A user with this email already exists."),
    ("role", "superuser", "Not a valid choice"),
    ("password", "short", "Use 8 to 256 characters."),
    ("name", "", "Enter a name."),
])
def test_add_user__bad_input(client, login, db, field, value, message):
    """Is each bad field refused next to itself, with nothing written?"""
    login("admin")
    db.session.add(User(email="taken@example.org", name="T", role="sales", password_hash="x"))
    db.session.commit()
    before = snapshot(db)
    data = {"email": "x@example.org", "name": "X", "role": "sales", "password": "long enough"}
    response = client.post("/admin/users/new", data=data | {field: value})
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert snapshot(db) == before


def test_change_role__and_the_last_admin_is_kept(client, login, db, users):
    """Can an admin change a role, but not remove the last admin?"""
    login("admin")
    assert client.post(f"/admin/users/{users['sales'].id}/role",
                       data={"role": "finance"}).status_code == 302
    assert db.session.get(User, users["sales"].id).role == "finance"
    response = client.post(f"/admin/users/{users['admin'].id}/role", data={"role": "sales"})
    assert response.status_code == 422
    assert "last admin" in response.get_data(as_text=True)
    assert db.session.get(User, users["admin"].id).role == "admin"


def test_disable_and_enable(client, login, db, users):
    """Does disabling stop sign-in, and enabling allow it again?"""
    from tests.conftest import sign_in

    login("admin")
    client.post(f"/admin/users/{users['finance'].id}/disable")
    assert not db.session.get(User, users["finance"].id).is_enabled
    other = client.application.test_client()
    assert sign_in(other, "finance@example.test").status_code == 422
    client.post(f"/admin/users/{users['finance'].id}/enable")
    assert sign_in(other, "finance@example.test").status_code == 302


def test_last_admin__cannot_be_disabled(client, login, db, users):
    """Is disabling the only admin refused with a reason?"""
    login("admin")
    response = client.post(f"/admin/users/{users['admin'].id}/disable")
    assert response.status_code == 422
    assert db.session.get(User, users["admin"].id).is_enabled


def test_user_changes__are_in_the_audit_log_without_secrets(client, login, db, users):
    """Is a role change logged with old and new role, and a password change without the hash?"""
    login("admin")
    client.post(f"/admin/users/{users['sales'].id}/role", data={"role": "operations"})
    client.post(f"/admin/users/{users['sales'].id}/password", data={"password": "temp-password"})
    body = client.get(f"/admin/users/{users['sales'].id}").get_data(as_text=True)
    assert "operations" in body and "(changed)" in body
    assert "scrypt:" not in body and "temp-password" not in body


def test_company_settings__saved_with_logo(client, login, db):
    """Can the admin save company details and a PNG logo that is served back?"""
    login("admin")
    response = client.post("/admin/company", data={
        "version": "0", "name": "Tandem Test GmbH", "address": "Hauptstr. 1\nBerlin",
        "tax_id": "DE123", "base_currency": "CHF", "payment_instructions": "IBAN CH00",
        "logo": (io.BytesIO(PNG), "logo.png")}, content_type="multipart/form-data")
    assert response.status_code == 302
    settings = db.session.get(CompanySettings, 1)
    assert settings.name == "Tandem Test GmbH" and settings.base_currency == "CHF"
    logo = client.get("/admin/company/logo")
    assert logo.data == PNG and logo.headers["Content-Type"] == "image/png"
    assert "Tandem Test GmbH" in client.get("/").get_data(as_text=True)


def test_company_settings__quote_defaults_start_new_quotes(client, login, db):
    """Do the saved quote terms and validity reach a new quote, and is a validity of 0
    days refused next to its field with nothing saved?"""
    from datetime import date, timedelta

    from models.pipeline import ensure_stages
    from models.sales import create_quote
    from tests.helpers import make_deal

    login("admin")
    base = {"version": "0", "name": "Terms Ltd", "base_currency": "EUR"}
    refused = client.post("/admin/company", data=base | {"quote_valid_days": "0"})
    assert refused.status_code == 422 and "Enter from 1 to 366 days." in refused.get_data(
        as_text=True)
    assert db.session.get(CompanySettings, 1) is None
    saved = client.post("/admin/company", data=base | {
        "quote_terms": "Net 14 days. Delivery ex works.", "quote_valid_days": "14"})
    assert saved.status_code == 302
    stages = {s.name: s for s in ensure_stages()}
    quote = create_quote(make_deal(db, stages, stage="Proposal"))
    assert quote.terms == "Net 14 days. Delivery ex works."
    assert quote.valid_until == date.today() + timedelta(days=14)


@pytest.mark.parametrize("upload,message", [
    (b"<svg onload=alert(1)>", "Upload a PNG or JPEG image."),
    (PNG + b"\x00" * 4096, "The logo is larger than"),
])
def test_company_settings__bad_logo_is_refused(client, login, db, upload, message, monkeypatch):
    """Is an SVG (scriptable) or an oversized logo refused, with nothing saved?"""
    # A small limit keeps the upload in memory (a big one spills into a temp file).
    monkeypatch.setattr("blueprints.admin.routes.MAX_LOGO_BYTES", 2048)
    login("admin")
    before = snapshot(db)
    response = client.post("/admin/company", data={
        "version": "0", "name": "X", "base_currency": "EUR",
        "logo": (io.BytesIO(upload), "logo.svg")}, content_type="multipart/form-data")
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert snapshot(db) == before


def test_company_settings__stale_save_is_refused(app, login, db):
    """Is a save based on settings someone else has since changed refused with a 409?"""
    first, second = app.test_client(), app.test_client()
    login("admin", first)
    login("admin", second)
    base = {"name": "One", "base_currency": "EUR"}
    assert first.post("/admin/company", data=base | {"version": "0"}).status_code == 302
    loaded = db.session.get(CompanySettings, 1).version
    assert second.post("/admin/company", data=base | {"version": str(loaded),
                                                      "name": "Two"}).status_code == 302
    response = first.post("/admin/company", data=base | {"version": str(loaded),
                                                         "name": "Three"})
    assert response.status_code == 409
    assert db.session.get(CompanySettings, 1).name == "Two"
    assert count_rows(db, CompanySettings) == 1
