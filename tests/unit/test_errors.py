"""Does every error the domain can raise reach HTTP with the status its kind promises?"""

import pytest

from portal import errors

EXPECTED_STATUS = {
    errors.PortalError: 400,
    errors.InvalidInput: 400,
    errors.InvalidCursor: 400,
    errors.UnknownSymbol: 400,
    errors.NotAuthenticated: 401,
    errors.BadCredentials: 401,
    errors.Forbidden: 403,
    errors.PermissionDenied: 403,
    errors.NotFound: 404,
    errors.Conflict: 409,
    errors.NotPending: 409,
    errors.Gone: 410,
    errors.Unprocessable: 422,
    errors.IdempotencyKeyReused: 422,
    errors.InsufficientPosition: 422,
    errors.NoPrice: 422,
    errors.RiskUnavailable: 422,
    errors.NoPositions: 422,
    errors.InsufficientHistory: 422,
}


def error_types() -> set[type]:
    found, pending = set(), [errors.PortalError]
    while pending:
        cls = pending.pop()
        if cls.__module__ == errors.__name__:
            found.add(cls)
        pending.extend(cls.__subclasses__())
    return found


def test_every_error_type_is_listed_here_with_its_status():
    assert error_types() == set(EXPECTED_STATUS)


@pytest.mark.parametrize("cls", list(EXPECTED_STATUS), ids=lambda cls: cls.__name__)
def test_an_error_answers_with_its_kinds_status(cls):
    error = cls.__new__(cls)  # the status depends on the type alone, not on its arguments
    assert errors.http_status(error) == EXPECTED_STATUS[cls]


def test_a_cursor_error_names_the_parameter_that_carried_it():
    assert (errors.InvalidCursor().field, errors.InvalidCursor().message) == (
        "cursor", "cursor is not valid")
    after = errors.InvalidCursor("after")
    assert (after.field, after.message, after.code) == (
        "after", "after is not a valid cursor", "invalid_input")


def test_an_error_keeps_a_code_given_for_one_case():
    refusal = errors.Forbidden("Cross-site sign-in refused.", code="cross_site")
    assert (refusal.code, errors.Forbidden().code) == ("cross_site", "forbidden")
