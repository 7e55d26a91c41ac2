"""pydantic's validation errors in words for people: one sentence for an API answer, and one
per field for showing beside a form's inputs."""

from collections.abc import Callable
from decimal import Decimal
from typing import TypeVar

from pydantic import ValidationError
from werkzeug.datastructures import MultiDict

F = TypeVar("F")


def validation_message(exc: ValidationError) -> tuple[str, str]:
    """The first problem of a pydantic error as (field, sentence)."""
    first = exc.errors()[0]
    field = ".".join(str(part) for part in first.get("loc", ()) if part != "__root__") or "body"
    message = first.get("msg", "is invalid")
    message = message.removeprefix("Value error, ")
    return field, f"{field}: {message}"


def _number(value) -> str:
    return f"{Decimal(str(value)):,f}"


# pydantic's messages speak of inputs and types; beside a form field people need what to enter.
_FOR_PEOPLE = {
    "missing": lambda ctx: "Required.",
    "string_too_short": lambda ctx: "Required." if ctx.get("min_length") == 1
    else f"Use at least {ctx['min_length']} characters.",
    "string_too_long": lambda ctx: f"Use at most {ctx['max_length']} characters.",
    "greater_than": lambda ctx: f"Enter a number above {_number(ctx['gt'])}.",
    "greater_than_equal": lambda ctx: f"Enter {_number(ctx['ge'])} or more.",
    "less_than": lambda ctx: f"Enter a number below {_number(ctx['lt'])}.",
    "less_than_equal": lambda ctx: f"Enter {_number(ctx['le'])} or less.",
    "decimal_parsing": lambda ctx: "Enter a number, such as 12.5.",
    "decimal_type": lambda ctx: "Enter a number, such as 12.5.",
    "int_parsing": lambda ctx: "Enter a whole number.",
    "decimal_max_places": lambda ctx: f"Use at most {ctx['decimal_places']} decimal places.",
    "decimal_max_digits": lambda ctx: f"Use at most {ctx['max_digits']} digits.",
    "literal_error": lambda ctx: "Choose " + ctx["expected"].replace("'", "") + ".",
    "datetime_from_date_parsing": lambda ctx: "Enter a date such as 2026-01-31.",
    "datetime_parsing": lambda ctx: "Enter a date such as 2026-01-31, or 2026-01-31T09:30.",
    "extra_forbidden": lambda ctx: "This form has no such field.",
}


def message_for_people(error: dict) -> str:
    """One pydantic error as a sentence for a person filling in a form."""
    explain = _FOR_PEOPLE.get(error.get("type", ""))
    if explain is not None:
        try:
            return explain(error.get("ctx") or {})
        except (KeyError, ArithmeticError, ValueError):
            pass
    text = error.get("msg", "is invalid").removeprefix("Value error, ")
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


def field_errors(exc: ValidationError) -> dict[str, str]:
    """The first problem with each top-level field, for showing next to a form's inputs."""
    errors: dict[str, str] = {}
    for error in exc.errors():
        field = str(error["loc"][0]) if error.get("loc") else "form"
        errors.setdefault(field, message_for_people(error))
    return errors


def valid_filters(parse: Callable[[MultiDict], F], args: MultiDict) -> tuple[F, dict[str, str]]:
    """A filter form's values from `args`, and the errors to show beside its refused fields.
    The refused fields are left out, so the page still lists what the rest of the form asks
    for; a form with nothing usable lists as if unfiltered."""
    try:
        return parse(args), {}
    except ValidationError as exc:
        errors = field_errors(exc)
    kept = MultiDict([(name, value) for name, value in args.items(multi=True)
                      if name not in errors])
    try:
        return parse(kept), errors
    except ValidationError:
        return parse(MultiDict()), errors
