"""The command line: create-user and demo."""

from sqlalchemy import func, select

from cli import DEMO_PASSWORD, DEMO_USERS
from models import Contract, CreditRequest, Customer, Deal, Stage, User


def test_create_user__reads_password_from_stdin(app, db):
    """Does `create-user EMAIL --role ROLE` take the password from standard input?"""
    result = app.test_cli_runner().invoke(args=["create-user", "Ops2@Example.org", "--role",
                                                "operations"], input="a long password\n")
    assert result.exit_code == 0, result.output
    user = User.by_email("ops2@example.org")
    assert user.role == "operations" and user.check_password("a long password")


def test_create_user__refuses_short_password_and_bad_role(app, db):
    """Are a short password and an unknown role refused with a message and no user?"""
    runner = app.test_cli_runner()
    result = runner.invoke(args=["create-user", "x@example.org", "--role", "sales"], input="short\n")
    assert result.exit_code != 0 and "at least 8 characters" in result.output
    result = runner.invoke(args=["create-user", "x@example.org", "--role", "boss"], input="long enough\n")
    assert result.exit_code != 0
    assert db.session.scalar(select(func.count()).select_from(User)) == 0


def test_demo__loads_once_and_prints_sign_ins(app, db):
    """Does `demo` load users for every role once, and change nothing when run again?"""
    runner = app.test_cli_runner()
    first = runner.invoke(args=["demo"])
    assert first.exit_code == 0, first.output
    for email, role, _ in DEMO_USERS:
        assert email in first.output
        user = User.by_email(email)
        assert user.role == role and user.check_password(DEMO_PASSWORD)
    customers = db.session.scalar(select(func.count()).select_from(Customer))
    assert customers >= 10
    stages = [s.name for s in Stage.ordered()]
    assert stages == ["Lead", "Qualified", "Proposal", "Negotiation", "Won", "Lost"]
    deals = db.session.scalars(select(Deal)).unique().all()
    assert len(deals) >= 9
    assert {d.stage.name for d in deals} >= {"Lead", "Qualified", "Proposal", "Won", "Lost"}
    assert all(d.lost_reason for d in deals if d.stage.name == "Lost")
    assert db.session.scalar(select(func.count()).select_from(CreditRequest)) == 1
    assert db.session.scalar(select(func.count()).select_from(Contract)) == 2
    second = runner.invoke(args=["demo"])
    assert second.exit_code == 0 and "already there" in second.output
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(Customer)) == customers
    assert db.session.scalar(select(func.count()).select_from(User)) == len(DEMO_USERS)
