"""One vocabulary for time at the edges: the date range every list filters by, and the one
way a time is written in JSON.

- `since` is inclusive and `until` exclusive, on every list (alerts, trades, audit).
- A bare date (`2024-05-01`) means the start of that UTC day; a date-time without an offset
  is UTC; an offset is honoured. A value that cannot be placed on the UTC calendar (year 1
  at +14:00 is still year 0 in UTC) is refused like any other bad value, naming the field.
- Times in JSON are ISO 8601 in UTC ending in `Z`.
"""

import re
from datetime import UTC, date, datetime, time
from typing import Annotated

from pydantic import (
    BaseModel,
    BeforeValidator,
    PlainSerializer,
    ValidationInfo,
    field_validator,
)
from sqlalchemy import Select, bindparam

_DATE_ONLY = re.compile(r"\d{4}-\d{2}-\d{2}")
INSTANT_HINT = "must be an ISO 8601 date or date-time, e.g. 2024-05-01 or 2024-05-01T09:30:00Z"


def as_utc(value: datetime) -> datetime:
    """An aware UTC datetime; a naive one is taken to be UTC already. Raises ValueError when
    the instant falls off the calendar in UTC."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("is outside the years 1 to 9999 in UTC")


def parse_instant(raw: str) -> datetime:
    """An ISO 8601 date (the start of that UTC day) or date-time, as an aware UTC datetime."""
    raw = raw.strip()
    try:
        if _DATE_ONLY.fullmatch(raw):
            return datetime.combine(date.fromisoformat(raw), time.min, tzinfo=UTC)
        parsed = datetime.fromisoformat(raw)
    except (ValueError, OverflowError):
        raise ValueError(INSTANT_HINT)
    return as_utc(parsed)


def _instant_or_none(value):
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, datetime):
        return as_utc(value)
    if isinstance(value, str):
        return parse_instant(value)
    raise ValueError(INSTANT_HINT)


def utc_text(value: datetime) -> str:
    """The JSON spelling of a time: ISO 8601, UTC, ending in Z."""
    return as_utc(value).isoformat().replace("+00:00", "Z")


# An optional instant as a list filter reads it (query string or form value).
Instant = Annotated[datetime | None, BeforeValidator(_instant_or_none)]
# A time as JSON writes it.
UtcText = Annotated[datetime, PlainSerializer(utc_text, return_type=str)]


class TimeRange(BaseModel):
    """`since` (inclusive) and `until` (exclusive), shared by every list's filters."""

    since: Instant = None
    until: Instant = None

    @field_validator("until")
    @classmethod
    def _not_before_since(cls, value, info: ValidationInfo):
        since = info.data.get("since")
        if value is not None and since is not None and value < since:
            raise ValueError("must not be before since")
        return value

    def range_query(self) -> dict[str, str]:
        """The range as query-string values, for links that keep the filters."""
        return {name: utc_text(value) for name in ("since", "until")
                if (value := getattr(self, name)) is not None}


def range_params(time_range: TimeRange) -> dict[str, datetime]:
    """The range's set ends, as the parameters `within_bound` names."""
    return {name: value for name in ("since", "until")
            if (value := getattr(time_range, name)) is not None}


def within_bound(stmt: Select, column, names) -> Select:
    """`stmt` narrowed to `since <= column < until` by bound parameters, for each end named
    in `names`: a statement built once per shape (see pagination)."""
    if "since" in names:
        stmt = stmt.where(column >= bindparam("since", type_=column.type))
    if "until" in names:
        stmt = stmt.where(column < bindparam("until", type_=column.type))
    return stmt


def within(stmt: Select, column, time_range: TimeRange) -> Select:
    """`stmt` narrowed to `since <= column < until`."""
    if time_range.since is not None:
        stmt = stmt.where(column >= time_range.since)
    if time_range.until is not None:
        stmt = stmt.where(column < time_range.until)
    return stmt
