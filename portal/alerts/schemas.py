"""What an alert request may contain, and the one JSON shape an alert has."""

import re
import uuid
from collections.abc import Mapping
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)
from werkzeug.datastructures import MultiDict

from portal.alerts.models import Alert
from portal.pagination import PageOut
from portal.times import TimeRange, UtcText

Severity = Literal["info", "warning", "error", "critical"]

MAX_TAGS = 20
# Control characters (NUL above all, which PostgreSQL refuses outright) have no business in an
# alert's one-line fields; a message may still span lines.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_CONTROL_EXCEPT_LINES = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _no_control_characters(value: str, pattern: re.Pattern = _CONTROL) -> str:
    if pattern.search(value):
        raise ValueError("must not contain control characters")
    return value


Tag = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=40),
    AfterValidator(_no_control_characters),
]


class AlertCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    title: str = Field(min_length=1, max_length=200)
    severity: Severity
    message: str = Field(default="", max_length=5000)
    source: str = Field(default="", max_length=100)
    tags: list[Tag] = Field(default_factory=list, max_length=MAX_TAGS)

    @field_validator("title", "source")
    @classmethod
    def _one_line(cls, value: str) -> str:
        return _no_control_characters(value)

    @field_validator("message")
    @classmethod
    def _printable_lines(cls, value: str) -> str:
        return _no_control_characters(value, _CONTROL_EXCEPT_LINES)

    @classmethod
    def from_form(cls, form: MultiDict) -> "AlertCreate":
        """The page's form: the same fields, tags typed as one comma-separated line."""
        tags = [tag.strip() for tag in form.get("tags", "").split(",") if tag.strip()]
        return cls.model_validate({
            "title": form.get("title", ""),
            "severity": form.get("severity", ""),
            "message": form.get("message", ""),
            "source": form.get("source", ""),
            "tags": tags,
        })



def _blank_to_none(value):
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


class AlertFilters(TimeRange):
    """The list filters, shared by the JSON list and the page (query-string values)."""

    model_config = ConfigDict(frozen=True)

    severity: Severity | None = None
    acknowledged: bool | None = None
    source: str | None = Field(default=None, max_length=100)

    @classmethod
    def from_args(cls, args: MultiDict) -> "AlertFilters":
        return cls.model_validate({name: args.get(name) for name in cls.model_fields})

    @field_validator("severity", "source", mode="before")
    @classmethod
    def _optional_text(cls, value):
        return _blank_to_none(value)

    @field_validator("source")
    @classmethod
    def _one_line(cls, value: str | None) -> str | None:
        return value if value is None else _no_control_characters(value)

    @field_validator("acknowledged", mode="before")
    @classmethod
    def _true_or_false(cls, value):
        # Only the two spellings the contract names; pydantic alone would also take "yes", "1"...
        value = _blank_to_none(value)
        if value is None or isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise ValueError("must be true or false")

    def as_query(self) -> dict[str, str]:
        """The filters as query-string values, for links that keep them (Older, polling)."""
        query: dict[str, str] = {}
        if self.severity:
            query["severity"] = self.severity
        if self.acknowledged is not None:
            query["acknowledged"] = "true" if self.acknowledged else "false"
        if self.source:
            query["source"] = self.source
        query.update(self.range_query())
        return query


class AlertOut(BaseModel):
    id: uuid.UUID
    title: str
    message: str
    severity: str
    source: str
    tags: list[str]
    created_at: UtcText
    created_by: uuid.UUID | None
    acknowledged: bool
    acknowledged_at: UtcText | None
    acknowledged_by: uuid.UUID | None

    @classmethod
    def of(cls, alert) -> "AlertOut":
        """From an Alert, or a plain row of its columns."""
        return cls(
            id=alert.id,
            title=alert.title,
            message=alert.message or "",
            severity=alert.severity,
            source=alert.source or "",
            tags=list(alert.tags or []),
            created_at=alert.created_at,
            created_by=alert.created_by,
            acknowledged=alert.acknowledged_at is not None,
            acknowledged_at=alert.acknowledged_at,
            acknowledged_by=alert.acknowledged_by,
        )

    @staticmethod
    def json_fields(alert: Mapping) -> dict:
        """`of(alert)`'s JSON values, from the alert's values by name, without building the
        model (PageOut.json)."""
        acknowledged_at = alert["acknowledged_at"]
        return {
            "id": alert["id"],
            "title": alert["title"],
            "message": alert["message"] or "",
            "severity": alert["severity"],
            "source": alert["source"] or "",
            "tags": list(alert["tags"] or []),
            "created_at": alert["created_at"],
            "created_by": alert["created_by"],
            "acknowledged": acknowledged_at is not None,
            "acknowledged_at": acknowledged_at,
            "acknowledged_by": alert["acknowledged_by"],
        }


def stored_answer(alert: Alert) -> dict:
    """A raised alert's JSON as the idempotency record keeps it, to replay byte for byte."""
    return AlertOut.of(alert).model_dump(mode="json")


AlertPageOut = PageOut[AlertOut]
