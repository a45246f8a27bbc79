"""A real SMTP server on loopback for tests that send mail (aiosmtpd in a thread).

Use it as a fixture: `from tests.mailserver import smtp_server  # noqa: F401` in a test
module (or a conftest), then point the app at it:

    app.config.update(TANDEM_SMTP_HOST="127.0.0.1", TANDEM_SMTP_PORT=smtp_server.port,
                      TANDEM_SMTP_SECURITY="none", TANDEM_MAIL_FROM="quotes@tandem.example")

It configures nothing itself. `.messages` are the accepted messages parsed with
`email.policy.default` (EmailMessage), `.envelopes` their (MAIL FROM, RCPT TOs), and
`.refuse("550 5.1.1 No such user")` makes the next RCPT (or, with at="data", the next
DATA) fail with that reply. `running_mail_server(credentials=(user, password))` starts one
that offers AUTH (over plain SMTP: loopback only) and records `.logins`.
"""

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class _LoopbackController(Controller):
    """Listens on a port the system picks (port 0), then reads back which one it was:
    no race with another process for a "free" port found beforehand."""

    def _trigger_server(self):
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


@dataclass
class MailServer:
    """What the server received, and refusals queued for the next commands."""

    port: int = 0
    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)
    logins: list[tuple[str, str]] = field(default_factory=list)
    credentials: tuple[str, str] | None = None
    _refusals: dict[str, str] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def refuse(self, code_and_text: str, *, at: str = "rcpt") -> None:
        """Answer the next RCPT (at="rcpt") or DATA (at="data") with this reply."""
        if at not in ("rcpt", "data"):
            raise ValueError("refuse at 'rcpt' or 'data'")
        with self._lock:
            self._refusals[at] = code_and_text

    def _take_refusal(self, at: str) -> str | None:
        with self._lock:
            return self._refusals.pop(at, None)

    # aiosmtpd handler hooks (run in the server's thread)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        refusal = self._take_refusal("rcpt")
        if refusal:
            return refusal
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        refusal = self._take_refusal("data")
        if refusal:
            return refusal
        # CRLF as on the wire becomes \n, as a mail program would show it
        raw = (envelope.original_content or envelope.content).replace(b"\r\n", b"\n")
        message = message_from_bytes(raw, policy=policy.default)
        with self._lock:
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
            self.messages.append(message)
        return "250 Message accepted for delivery"


    def authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        """aiosmtpd's authenticator: PLAIN or LOGIN with the configured credentials."""
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login = (auth_data.login.decode(), auth_data.password.decode())
        with self._lock:
            self.logins.append(login)
        # handled=False: aiosmtpd itself answers a failure with 535
        return AuthResult(success=login == self.credentials, handled=False)


@contextmanager
def running_mail_server(*, credentials: tuple[str, str] | None = None) -> Iterator[MailServer]:
    """An SMTP server on 127.0.0.1 while the block runs; with `credentials` it offers
    AUTH PLAIN/LOGIN without TLS (acceptable on loopback, and only then)."""
    server = MailServer(credentials=credentials)
    options = {}
    if credentials is not None:
        options = {"authenticator": server.authenticate, "auth_require_tls": False}
    controller = _LoopbackController(server, hostname="127.0.0.1", port=0, **options)
    controller.start()
    server.port = controller.port
    try:
        yield server
    finally:
        controller.stop()


@pytest.fixture
def smtp_server():
    """An SMTP server on 127.0.0.1 (plain, no auth) for the test, stopped after it."""
    with running_mail_server() as server:
        yield server
