from flask_wtf import FlaskForm
from wtforms import EmailField, HiddenField, PasswordField
from wtforms.validators import DataRequired, EqualTo, Length

from models.users import MAX_PASSWORD, MIN_PASSWORD


class LoginForm(FlaskForm):
    email = EmailField("Email", render_kw={"autocomplete": "username"},
                       validators=[DataRequired("Enter your email."), Length(max=254)])
    password = PasswordField("Password", render_kw={"autocomplete": "current-password"},
                             validators=[DataRequired("Enter your password."),
                                                     Length(max=MAX_PASSWORD)])
    next = HiddenField()


class ChangePasswordForm(FlaskForm):
    current = PasswordField("Current password",
                            validators=[DataRequired("Enter your current password.")])
    password = PasswordField("New password", validators=[
        DataRequired("Enter a new password."),
        Length(min=MIN_PASSWORD, max=MAX_PASSWORD,
               message=f"Use {MIN_PASSWORD} to {MAX_PASSWORD} characters."),
    ])
    confirm = PasswordField("Repeat the new password", validators=[
        DataRequired("Repeat the new password."),
        EqualTo("password", "The two passwords differ."),
    ])
