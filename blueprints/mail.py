"""Outgoing mail (quotes now, invoices later) through the SMTP relay in the settings.

TANDEM_SMTP_HOST empty means mail is off; TANDEM_SMTP_SECURITY is starttls (port 587 by
default), ssl (implicit TLS, 465) or none (25, a relay on loopback); TANDEM_SMTP_USER and
PASSWORD sign in when a user is set; TANDEM_MAIL_FROM is the sender and is required.

One message, one connection, one attempt: callers send inside a request and must know at
once whether the message left, so every failure (refused, unreachable, bad TLS, wrong
password) becomes a `MailError` whose message can be shown to the user as it is. Header
values come from forms, so a line break in any of them is refused rather than cleaned:
a CR/LF there is how a header is injected (an extra Bcc:).
"""

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formataddr, formatdate, getaddresses, make_msgid

from flask import current_app

TIMEOUT = 10  # seconds, for connecting and for each server reply
DEFAULT_PORTS = {"starttls": 587, "ssl": 465, "none": 25}
# Characters that end a header line for a mail program or for Python's splitlines().
_LINE_BREAKS = frozenset("\r\n\x00\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")


class MailError(Exception):
    """Mail did not go out; `message` says why in a sentence for the user."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def mail_configured() -> bool:
    """Is there a mail server and a sender address to send from?"""
    config = current_app.config
    return bool(config.get("TANDEM_SMTP_HOST") and config.get("TANDEM_MAIL_FROM"))


def send_mail(*, to: str, to_name: str = "", subject: str, body: str,
              attachments: list[tuple[str, bytes, str]] = (), reply_to: str = "",
              cc: str = "") -> str:
    """Send one plain-text message with attachments [(filename, bytes, media type)];
    returns its Message-ID. Raises MailError when it could not be sent."""
    if not mail_configured():
        raise MailError("Mail is not set up: ask an admin to set TANDEM_SMTP_HOST and "
                        "TANDEM_MAIL_FROM.")
    config = current_app.config
    sender = config["TANDEM_MAIL_FROM"].strip()
    for field, value in (("sender address", sender), ("recipient", to),
                         ("recipient's name", to_name), ("subject", subject),
                         ("reply-to address", reply_to), ("copy address", cc),
                         *(("attachment name", name) for name, _, _ in attachments)):
        _refuse_line_breaks(field, value)
    sender_address = _address(sender, "The sender address TANDEM_MAIL_FROM")
    recipients = [_address(to, "The recipient")]
    recipients += [_address(one, "The copy address") for one in _split(cc)]
    message = EmailMessage()
    message["From"] = sender
    message["To"] = formataddr((to_name.strip(), recipients[0]))
    if cc.strip():
        message["Cc"] = ", ".join(recipients[1:])
    if reply_to.strip():
        message["Reply-To"] = _address(reply_to, "The reply-to address")
    message["Subject"] = subject.strip()
    message["Date"] = formatdate(localtime=True)
    # The sender's domain, not socket.getfqdn(): that can wait on DNS and names the host.
    message_id = make_msgid(domain=sender_address.rpartition("@")[2])
    message["Message-ID"] = message_id
    message.set_content(body or "")
    for filename, data, media_type in attachments:
        maintype, _, subtype = media_type.partition("/")
        message.add_attachment(data, maintype=maintype, subtype=subtype or "octet-stream",
                               filename=filename)
    _deliver(message, sender_address, recipients)
    return message_id


def _refuse_line_breaks(field: str, value: str) -> None:
    if value and any(char in _LINE_BREAKS for char in value):
        raise MailError(f"The {field} contains a line break; mail headers must be a single "
                        "line.")


def _split(addresses: str) -> list[str]:
    return [address.strip() for address in (addresses or "").split(",") if address.strip()]


def _address(value: str, what: str) -> str:
    """The bare address in `value` ("Name <a@b>" or "a@b"), or MailError."""
    value = (value or "").strip()
    found = getaddresses([value])
    address = found[0][1] if len(found) == 1 else ""
    local, at, domain = address.rpartition("@")
    if not (at and local and "." in domain) or any(c.isspace() for c in address):
        raise MailError(f"{what} “{value}” is not an email address.")
    return address


def _deliver(message: EmailMessage, sender: str, recipients: list[str]) -> None:
    """Hand the message to the relay, turning every failure into a MailError."""
    config = current_app.config
    host = config["TANDEM_SMTP_HOST"].strip()
    security = (config.get("TANDEM_SMTP_SECURITY") or "starttls").strip().lower()
    if security not in DEFAULT_PORTS:
        raise MailError(f"TANDEM_SMTP_SECURITY is “{security}”; set it to starttls, ssl or "
                        "none.")
    port = int(config.get("TANDEM_SMTP_PORT") or 0) or DEFAULT_PORTS[security]
    where = f"{host}:{port}"
    user = config.get("TANDEM_SMTP_USER") or ""
    try:
        smtp = _connect(host, port, security)
        try:
            if security == "starttls":
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            if user:
                smtp.login(user, config.get("TANDEM_SMTP_PASSWORD") or "")
            refused = smtp.send_message(message, from_addr=sender, to_addrs=recipients)
        finally:
            _hang_up(smtp)
    except smtplib.SMTPRecipientsRefused as error:
        raise MailError(_refusal(error.recipients)) from error
    except smtplib.SMTPSenderRefused as error:
        raise MailError(f"The mail server refused the sender address {sender}: "
                        f"{_reply(error.smtp_code, error.smtp_error)}") from error
    except smtplib.SMTPAuthenticationError as error:
        raise MailError("The mail server did not accept the user name and password in "
                        "TANDEM_SMTP_USER and TANDEM_SMTP_PASSWORD: "
                        f"{_reply(error.smtp_code, error.smtp_error)}") from error
    except smtplib.SMTPNotSupportedError as error:
        raise MailError(f"The mail server at {where} cannot do what the settings ask "
                        f"({error}); check TANDEM_SMTP_SECURITY and TANDEM_SMTP_PORT.") \
            from error
    except smtplib.SMTPConnectError as error:
        raise MailError(f"The mail server at {where} turned the connection away: "
                        f"{_reply(error.smtp_code, error.smtp_error)}") from error
    except smtplib.SMTPResponseException as error:
        raise MailError("The mail server refused the message: "
                        f"{_reply(error.smtp_code, error.smtp_error)}") from error
    except ssl.SSLCertVerificationError as error:
        raise MailError(f"The mail server at {where} could not be trusted: its TLS "
                        f"certificate did not verify ({error.verify_message}).") from error
    except ssl.SSLError as error:
        raise MailError(f"No secure connection could be made to the mail server at {where} "
                        f"({error.reason or error}); check TANDEM_SMTP_SECURITY and "
                        "TANDEM_SMTP_PORT.") from error
    except smtplib.SMTPServerDisconnected as error:
        raise MailError(f"The mail server at {where} closed the connection before the "
                        f"message was accepted ({error or 'no reason given'}).") from error
    except (smtplib.SMTPException, OSError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else error
        raise MailError(f"The mail server at {where} could not be reached "
                        f"({reason or type(error).__name__}).") from error
    if refused:
        # Some copies were refused but the message went out to the rest: not an error
        # for the caller (what it sent is sent), but worth a line in the log.
        current_app.logger.warning("mail %s: refused for %s", message["Message-ID"],
                                   ", ".join(refused))


def _connect(host: str, port: int, security: str) -> smtplib.SMTP:
    if security == "ssl":
        return smtplib.SMTP_SSL(host, port, timeout=TIMEOUT,
                                context=ssl.create_default_context())
    return smtplib.SMTP(host, port, timeout=TIMEOUT)


def _hang_up(smtp: smtplib.SMTP) -> None:
    """QUIT and close, ignoring failures: once the server took the message it is sent,
    and a QUIT that times out must not make the user send it again."""
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        smtp.close()


def _reply(code, text) -> str:
    """The server's reply as one sentence: "550 5.1.1 No such user."."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    reply = " ".join(f"{code} {text}".split())
    return reply if reply.endswith(".") else reply + "."


def _refusal(recipients: dict) -> str:
    reasons = "; ".join(f"{_reply(code, text).rstrip('.')} ({address})"
                        for address, (code, text) in recipients.items())
    return f"The mail server refused the message: {reasons}."
