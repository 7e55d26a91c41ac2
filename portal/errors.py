"""What can go wrong, in the domain's words, and the one table that turns it into HTTP.

Domain code (queries, services, pagination, schemas, idempotency) raises these and never
knows a status code or imports the web layer; `portal.web` answers every one of them with
`http_status(exc)` and the error's `code`, `message` and `field`, as JSON under /api and as a
page (or an inline form error) in the browser.
"""


class PortalError(Exception):
    """A failure a person can act on: `message` says what to do, `field` names the input it
    concerns (when there is one), `code` is the stable word scripts match on."""

    code = "error"
    default_message = "The request failed."

    def __init__(self, message: str | None = None, *, field: str | None = None,
                 code: str | None = None):
        self.message = message or self.default_message
        super().__init__(self.message)
        self.field = field
        if code is not None:
            self.code = code


class InvalidInput(PortalError):
    """The input is malformed or out of range; `field` says which."""

    code = "invalid_input"
    default_message = "The input is not valid."


class InvalidCursor(InvalidInput):
    """A cursor that `portal.pagination.encode_cursor` did not write; `field` names the
    parameter that carried it (`cursor`, or `after` for a poll)."""

    default_message = "cursor is not valid"

    def __init__(self, field: str = "cursor"):
        message = self.default_message if field == "cursor" else f"{field} is not a valid cursor"
        super().__init__(message, field=field)


class UnknownSymbol(InvalidInput):
    def __init__(self, symbol: str, field: str = "symbol"):
        super().__init__(f"{field}: unknown symbol {symbol}", field=field)


class NotAuthenticated(PortalError):
    """No usable sign-in; `reason` is for the log and the isolation metrics, never the
    client."""

    code = "unauthorized"
    default_message = "Authentication required."

    def __init__(self, reason: str = "authentication required", message: str | None = None):
        super().__init__(message)
        self.reason = reason


class BadCredentials(NotAuthenticated):
    """A password that does not match, or an account that may not sign in: one answer for
    every reason, so it tells nothing about which. Answered by the page or endpoint that
    asked for the password, not by the sign-in redirect."""

    default_message = "Invalid email or password."

    def __init__(self, message: str | None = None, *, field: str | None = None):
        super().__init__("bad credentials", message)
        self.field = field


class Forbidden(PortalError):
    code = "forbidden"
    default_message = "You may not do this."


class PermissionDenied(Forbidden):
    def __init__(self, permission: str):
        super().__init__(f"Your role does not allow this ({permission}).")
        self.permission = permission


class NotFound(PortalError):
    """Missing, malformed or another tenant's: the same answer for all three."""

    code = "not_found"
    default_message = "Not found."


class Conflict(PortalError):
    """The request is well formed but the row's current state does not allow it."""

    code = "conflict"
    default_message = "The request conflicts with the current state."


class NotPending(Conflict):
    code = "not_pending"

    def __init__(self, status: str):
        super().__init__(f"Only pending orders can be cancelled; this one is {status}.")
        self.status = status


class Gone(PortalError):
    code = "gone"
    default_message = "This is no longer available."


class Unprocessable(PortalError):
    """Well formed, but the rules of the domain refuse it (no position to sell, no price)."""

    code = "unprocessable"
    default_message = "The request cannot be carried out."


class IdempotencyKeyReused(Unprocessable):
    code = "idempotency_mismatch"
    default_message = "Idempotency-Key was already used with a different request"

    def __init__(self):
        super().__init__(field="Idempotency-Key")


class InsufficientPosition(Unprocessable):
    code = "insufficient_position"


class NoPrice(Unprocessable):
    code = "no_price"


class RiskUnavailable(Unprocessable):
    """The holdings give no risk figures; the subclass (and its code) says why."""


class NoPositions(RiskUnavailable):
    code = "no_positions"
    default_message = "There are no open positions to measure risk on."


class InsufficientHistory(RiskUnavailable):
    code = "insufficient_history"


# The one mapping to HTTP. Looked up along the class's MRO, so a new subclass inherits its
# parent's status and needs no entry of its own.
HTTP_STATUS: dict[type[PortalError], int] = {
    InvalidInput: 400,
    NotAuthenticated: 401,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
    Gone: 410,
    Unprocessable: 422,
    PortalError: 400,
}


def http_status(error: PortalError) -> int:
    for cls in type(error).__mro__:
        if cls in HTTP_STATUS:
            return HTTP_STATUS[cls]
    return 500
