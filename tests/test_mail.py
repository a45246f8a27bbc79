"""Outgoing mail against a real SMTP server on loopback: what arrives (headers, body,
the PDF byte for byte), and that every failure (refused, down, not set up, wrong
password, no STARTTLS, a line break in a header) is a MailError with a sentence for the
user and nothing sent."""

import smtplib
import socket
from email.utils import parseaddr

import pytest

import blueprints.mail as mail_module
from blueprints.mail import MailError, mail_configured, send_mail
from tests.mailserver import running_mail_server, smtp_server  # noqa: F401

SENDER = "quotes@tandem.example"
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n" + bytes(range(256)) * 40 + b"\n%%EOF\n"


def _configure(app, port, **more):
    app.config.update(TANDEM_SMTP_HOST="127.0.0.1", TANDEM_SMTP_PORT=port,
                      TANDEM_SMTP_SECURITY="none", TANDEM_SMTP_USER="",
                      TANDEM_SMTP_PASSWORD="", TANDEM_MAIL_FROM=SENDER)
    app.config.update(more)


@pytest.fixture
def mail(app, smtp_server):  # noqa: F811
    """The app pointed at the loopback server, in its context; yields the server."""
    _configure(app, smtp_server.port)
    with app.app_context():
        yield smtp_server


def _send(**changes):
    given = {"to": "jana@harbour.example", "subject": "Quote Q-2026-0001",
             "body": "Hello", "attachments": [("Q-2026-0001.pdf", PDF, "application/pdf")]}
    given.update(changes)
    return send_mail(**given)


def test_send_mail__arrives_with_headers_body_and_the_pdf(mail):
    """Does the message arrive from the configured sender to the named recipient (and
    the copy), with subject, reply-to, Message-ID, the body and the PDF byte for byte?"""
    message_id = send_mail(
        to="jana@harbour.example", to_name="Jana Köhler, Einkauf",
        subject="Quote Q-2026-0001 from Tandem Trading – 20% off",
        body="Dear Jana,\n\nplease find our quote attached.\n\nGrüße,\nSam",
        attachments=[("Q-2026-0001.pdf", PDF, "application/pdf")],
        reply_to="sales@example.test", cc="boss@harbour.example")
    assert len(mail.messages) == 1
    message = mail.messages[0]
    assert mail.envelopes == [(SENDER, ["jana@harbour.example", "boss@harbour.example"])]
    assert message["From"] == SENDER
    assert message["To"].addresses[0].display_name == "Jana Köhler, Einkauf"
    assert message["To"].addresses[0].addr_spec == "jana@harbour.example"
    assert message["Cc"] == "boss@harbour.example"
    assert message["Reply-To"] == "sales@example.test"
    assert message["Subject"] == "Quote Q-2026-0001 from Tandem Trading – 20% off"
    assert message["Message-ID"] == message_id
    assert parseaddr(message_id)[1].endswith("@tandem.example")
    assert message["Date"]
    assert message.get_body(("plain",)).get_content().rstrip("\n") == \
        "Dear Jana,\n\nplease find our quote attached.\n\nGrüße,\nSam"
    attachments = list(message.iter_attachments())
    assert [part.get_filename() for part in attachments] == ["Q-2026-0001.pdf"]
    assert attachments[0].get_content_type() == "application/pdf"
    assert attachments[0].get_content() == PDF


@pytest.mark.parametrize("at", ["rcpt", "data"])
def test_send_mail__refusal_is_a_mail_error_with_the_servers_reply(mail, at):
    """When the server answers 550 to the recipient or the message, is it a MailError
    that quotes the reply, with nothing delivered?"""
    mail.refuse("550 5.1.1 no such user", at=at)
    with pytest.raises(MailError) as caught:
        _send()
    expected = ("The mail server refused the message: 550 5.1.1 no such user"
                + (" (jana@harbour.example)." if at == "rcpt" else "."))
    assert caught.value.message == expected
    assert mail.messages == []


def test_send_mail__server_down_could_not_be_reached(app):
    """With nothing listening on the port, is it a MailError saying the server at
    host:port could not be reached?"""
    with socket.socket() as bound:               # bound, not listening: refused at once
        bound.bind(("127.0.0.1", 0))
        port = bound.getsockname()[1]
        _configure(app, port)
        with app.app_context(), pytest.raises(MailError) as caught:
            _send()
    assert f"The mail server at 127.0.0.1:{port} could not be reached" in caught.value.message


@pytest.mark.parametrize("settings", [{"TANDEM_SMTP_HOST": ""}, {"TANDEM_MAIL_FROM": ""}],
                         ids=["no host", "no sender"])
def test_send_mail__not_configured(app, smtp_server, settings):  # noqa: F811
    """Without a host or a sender, is mail reported as not set up, and nothing sent?"""
    _configure(app, smtp_server.port, **settings)
    with app.app_context():
        assert mail_configured() is False
        with pytest.raises(MailError, match="Mail is not set up: ask an admin to set "
                                            "TANDEM_SMTP_HOST and TANDEM_MAIL_FROM."):
            _send()
    assert smtp_server.messages == []


def test_mail_configured__with_host_and_sender(mail):
    """With a host and a sender address, is mail configured?"""
    assert mail_configured() is True


@pytest.mark.parametrize("changes", [
    {"to": "jana@harbour.example\r\nBcc: everyone@evil.example"},
    {"to_name": "Jana\nBcc: everyone@evil.example"},
    {"subject": "Quote\r\nBcc: everyone@evil.example"},
    {"subject": "Quote\u2028Bcc: everyone@evil.example"},
    {"reply_to": "sales@example.test\nBcc: everyone@evil.example"},
    {"cc": "boss@harbour.example\rBcc: everyone@evil.example"},
    {"attachments": [("Q.pdf\r\nX-Evil: 1", PDF, "application/pdf")]},
], ids=["to", "to_name", "subject", "subject-u2028", "reply_to", "cc", "filename"])
def test_send_mail__refuses_header_injection(mail, changes):
    """Is a line break in any header value refused, with nothing sent at all?"""
    with pytest.raises(MailError, match="line break"):
        _send(**changes)
    assert mail.messages == [] and mail.envelopes == []


@pytest.mark.parametrize("changes, words", [
    ({"to": "not an address"}, "The recipient “not an address” is not an email address."),
    ({"to": "a@b.example, c@d.example"}, "is not an email address"),
    ({"cc": "boss@"}, "The copy address “boss@” is not an email address."),
])
def test_send_mail__refuses_what_is_not_an_address(mail, changes, words):
    """Is a recipient that is not one email address refused before anything is sent?"""
    with pytest.raises(MailError) as caught:
        _send(**changes)
    assert words in caught.value.message
    assert mail.messages == []


def test_send_mail__starttls_is_required_when_configured(mail, app):
    """With security starttls and a server that offers no STARTTLS, is the send refused
    (never a silent fall back to plain text)?"""
    app.config["TANDEM_SMTP_SECURITY"] = "starttls"
    with pytest.raises(MailError) as caught:
        _send()
    assert "STARTTLS" in caught.value.message
    assert "TANDEM_SMTP_SECURITY" in caught.value.message
    assert mail.messages == []


def test_send_mail__unknown_security_setting(mail, app):
    """Is a misspelt TANDEM_SMTP_SECURITY reported as such, nothing sent?"""
    app.config["TANDEM_SMTP_SECURITY"] = "tls"
    with pytest.raises(MailError, match="set it to starttls, ssl or none"):
        _send()
    assert mail.messages == []


def test_send_mail__signs_in_with_the_configured_user(app):
    """With TANDEM_SMTP_USER set, does it log in with user and password and then send;
    and with a wrong password, is that a MailError naming the settings, nothing sent?"""
    with running_mail_server(credentials=("quotes", "s3cret")) as server:
        _configure(app, server.port, TANDEM_SMTP_USER="quotes",
                   TANDEM_SMTP_PASSWORD="s3cret")
        with app.app_context():
            _send()
            app.config["TANDEM_SMTP_PASSWORD"] = "wrong"
            with pytest.raises(MailError) as caught:
                _send()
    assert server.logins[0] == ("quotes", "s3cret")
    # smtplib tries each mechanism offered (PLAIN, then LOGIN) before giving up
    assert set(server.logins[1:]) == {("quotes", "wrong")}
    assert len(server.messages) == 1
    assert "TANDEM_SMTP_USER and TANDEM_SMTP_PASSWORD: 535" in caught.value.message


class _Unreachable:
    """Stands in for smtplib.SMTP / SMTP_SSL: notes where it was asked to connect."""

    calls: list = []

    def __init__(self, host, port, **options):
        _Unreachable.calls.append((host, port, options.get("timeout")))
        raise ConnectionRefusedError(111, "Connection refused")


@pytest.mark.parametrize("security, port", [("starttls", 587), ("ssl", 465), ("none", 25)])
def test_send_mail__default_port_and_timeout_per_security(app, monkeypatch, security, port):
    """With TANDEM_SMTP_PORT 0, does each security mode use its standard port, with a
    10 second timeout, and name host:port when it cannot connect?"""
    _Unreachable.calls = []
    monkeypatch.setattr(smtplib, "SMTP", _Unreachable)
    monkeypatch.setattr(smtplib, "SMTP_SSL", _Unreachable)
    _configure(app, 0, TANDEM_SMTP_HOST="mail.tandem.example", TANDEM_SMTP_SECURITY=security)
    with app.app_context(), pytest.raises(MailError) as caught:
        _send()
    assert _Unreachable.calls == [("mail.tandem.example", port, mail_module.TIMEOUT)]
    assert mail_module.TIMEOUT == 10
    assert caught.value.message == (f"The mail server at mail.tandem.example:{port} could "
                                    "not be reached (Connection refused).")
