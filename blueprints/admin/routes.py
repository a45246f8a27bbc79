from flask import abort, flash, make_response, request, url_for
from flask_wtf import FlaskForm
from sqlalchemy import select

from blueprints.admin import bp
from blueprints.admin.forms import CompanyForm, NewUserForm, RoleForm, TemporaryPasswordForm
from blueprints.web import ALL_ROLES, redirect_to, render, roles
from models import AuditEntry, CompanySettings, User, db
from models.company import MAX_LOGO_BYTES, logo_type_of
from models.errors import DomainError
from models.users import (
    change_role,
    create_user,
    disable_user,
    enable_user,
    set_temporary_password,
)


def _user_or_404(user_id: int) -> User:
    return db.session.get(User, user_id) or abort(404)


@bp.route("/users")
@roles("admin")
def users():
    """All users with their role and whether they may sign in."""
    rows = db.session.scalars(select(User).order_by(User.is_enabled.desc(), User.email)).all()
    return render("admin/users.html", users=rows)


@bp.route("/users/new", methods=["GET", "POST"])
@roles("admin")
def create():
    """Add a user with a role and a temporary password."""
    form = NewUserForm()
    if form.validate_on_submit():
        try:
            user = create_user(form.email.data, form.role.data, form.password.data,
                               name=form.name.data, temporary=True)
        except DomainError as error:
            getattr(form, error.field or "email").errors = [error.message]
        else:
            db.session.commit()
            flash(f"{user.email} can sign in now and will choose a password.", "success")
            return redirect_to(url_for("admin.show", user_id=user.id))
    status = 422 if request.method == "POST" else 200
    return render("admin/user_new.html", form=form, status=status)


def _show(user: User, status=200, role_form=None, password_form=None):
    role_form = role_form or RoleForm(role=user.role)
    return render("admin/user.html", user=user, role_form=role_form,
                  password_form=password_form or TemporaryPasswordForm(),
                  toggle_form=FlaskForm(), history=AuditEntry.for_subject("user", user.id),
                  status=status)


@bp.route("/users/<int:user_id>")
@roles("admin")
def show(user_id: int):
    """One user: role, access, temporary password, history."""
    return _show(_user_or_404(user_id))


@bp.route("/users/<int:user_id>/role", methods=["POST"])
@roles("admin")
def update_role(user_id: int):
    """Give the user another role."""
    user = _user_or_404(user_id)
    form = RoleForm()
    if form.validate_on_submit():
        try:
            change_role(user, form.role.data)
        except DomainError as error:
            db.session.rollback()
            form.role.errors = [error.message]
        else:
            db.session.commit()
            flash(f"{user.email} is now {user.role_label}.", "success")
            return redirect_to(url_for("admin.show", user_id=user.id))
    return _show(user, status=422, role_form=form)


@bp.route("/users/<int:user_id>/disable", methods=["POST"])
@roles("admin")
def disable(user_id: int):
    """Stop the user signing in; their open sessions end now."""
    user = _user_or_404(user_id)
    try:
        disable_user(user)
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "error")
        return _show(user, status=422)
    db.session.commit()
    flash(f"{user.email} is disabled and signed out everywhere.", "success")
    return redirect_to(url_for("admin.show", user_id=user.id))


@bp.route("/users/<int:user_id>/enable", methods=["POST"])
@roles("admin")
def enable(user_id: int):
    """Let a disabled user sign in again."""
    user = _user_or_404(user_id)
    enable_user(user)
    db.session.commit()
    flash(f"{user.email} may sign in again.", "success")
    return redirect_to(url_for("admin.show", user_id=user.id))


@bp.route("/users/<int:user_id>/password", methods=["POST"])
@roles("admin")
def temporary_password(user_id: int):
    """Set a temporary password the user must change at next sign-in."""
    user = _user_or_404(user_id)
    form = TemporaryPasswordForm()
    if form.validate_on_submit():
        set_temporary_password(user, form.password.data)
        db.session.commit()
        flash(f"Temporary password set; {user.email} is signed out everywhere.", "success")
        return redirect_to(url_for("admin.show", user_id=user.id))
    return _show(user, status=422, password_form=form)


@bp.route("/company", methods=["GET", "POST"])
@roles("admin")
def company():
    """Company details printed on quotes and invoices."""
    settings = CompanySettings.current()
    form = CompanyForm(obj=settings) if request.method == "GET" else CompanyForm()
    if request.method == "GET":
        form.version.data = settings.version or 0
    if form.validate_on_submit():
        upload = form.logo.data
        logo = upload.read(MAX_LOGO_BYTES + 1) if upload and upload.filename else None
        if logo is not None and len(logo) > MAX_LOGO_BYTES:
            form.logo.errors = ["The logo is larger than 512 KB."]
        elif logo is not None and logo_type_of(logo) is None:
            form.logo.errors = ["Upload a PNG or JPEG image."]
        else:
            try:
                if settings.version:
                    settings.check_version(form.version.data)
            except DomainError as error:
                return render("admin/company.html", form=form, settings=settings,
                              conflict=error.message, status=409)
            for field in ("name", "address", "tax_id", "base_currency",
                          "payment_instructions", "quote_terms"):
                setattr(settings, field, (getattr(form, field).data or "").strip())
            settings.quote_valid_days = form.quote_valid_days.data or 30
            if logo is not None:
                settings.logo, settings.logo_type = logo, logo_type_of(logo)
            elif form.remove_logo.data:
                settings.logo, settings.logo_type = None, None
            db.session.add(settings)
            db.session.commit()
            flash("Company settings saved.", "success")
            return redirect_to(url_for("admin.company"))
    status = 422 if request.method == "POST" else 200
    return render("admin/company.html", form=form, settings=settings, status=status)


@bp.route("/company/logo")
@roles(*ALL_ROLES)
def logo():
    """The company logo as uploaded."""
    settings = db.session.get(CompanySettings, 1)
    if settings is None or not settings.logo:
        abort(404)
    response = make_response(settings.logo)
    response.headers["Content-Type"] = settings.logo_type
    response.headers["Cache-Control"] = "private, max-age=300"
    return response
