from flask import flash, request, url_for
from flask_login import current_user, login_user, logout_user
from flask_wtf import FlaskForm

from blueprints.auth import bp
from blueprints.auth.forms import ChangePasswordForm, LoginForm
from blueprints.web import ALL_ROLES, public, redirect_to, render, roles, safe_next
from models import db
from models.errors import DomainError
from models.users import UserSession, authenticate


@bp.route("/login", methods=["GET", "POST"])
@public
def login():
    """Sign in with email and password; go on to the page that asked for it."""
    if current_user.is_authenticated:
        return redirect_to(safe_next(request.args.get("next")) or url_for("dashboard.index"))
    form = LoginForm()
    if request.method == "GET":
        form.next.data = safe_next(request.args.get("next")) or ""
    if form.validate_on_submit():
        try:
            user = authenticate(form.email.data, form.password.data, request.remote_addr or "")
        except DomainError as error:
            db.session.commit()  # keep the failed attempt: it is what throttling counts
            form.password.errors = [error.message]
            return render("auth/login.html", form=form, status=429 if "Too many" in
                          error.message else 422)
        UserSession.start(user, request.user_agent.string)
        db.session.commit()
        login_user(user)
        if user.must_change_password:
            return redirect_to(url_for("auth.change_password"))
        return redirect_to(safe_next(form.next.data) or url_for("dashboard.index"))
    status = 422 if request.method == "POST" else 200
    return render("auth/login.html", form=form, status=status)


@bp.route("/logout", methods=["POST"])
@public
def logout():
    """Sign out: this browser's session ends on the server too."""
    form = FlaskForm()
    if form.validate_on_submit() and current_user.is_authenticated:
        UserSession.end(current_user.get_id())
        db.session.commit()
    logout_user()
    flash("You are signed out.", "info")
    return redirect_to(url_for("auth.login"))


@bp.route("/account/password", methods=["GET", "POST"])
@roles(*ALL_ROLES)
def change_password():
    """Change my own password; my other sessions end, this one goes on."""
    form = ChangePasswordForm()
    if form.validate_on_submit():
        if not current_user.check_password(form.current.data):
            form.current.errors = ["That is not your current password."]
        else:
            user = current_user._get_current_object()
            try:
                user.set_password(form.password.data)
            except DomainError as error:
                form.password.errors = [error.message]
            else:
                user.end_all_sessions()
                UserSession.start(user, request.user_agent.string)
                db.session.commit()
                login_user(user)
                flash("Your password is changed. Other sessions are signed out.", "success")
                return redirect_to(url_for("dashboard.index"))
    status = 422 if request.method == "POST" else 200
    return render("auth/change_password.html", form=form, status=status)
