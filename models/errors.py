"""Domain errors: raised by the rules, turned into a 4xx with their message by the views."""


class DomainError(Exception):
    """A rule refused the request; `message` says what the person can do about it.

    Attributes:
        message: the sentence shown to the user.
        field: the form field the message belongs next to, or None for the whole form.
        status: the HTTP status a view answers with.
    """

    status = 422

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


class Conflict(DomainError):
    """The record changed since the user loaded it (a stale version)."""

    status = 409


class NotAllowed(DomainError):
    """The signed-in user may not do this to this record."""

    status = 403
