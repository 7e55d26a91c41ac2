"""Newest-first keyset pagination with an opaque cursor.

A page is ordered by `(created_at DESC, id DESC)`; the cursor encodes the last row's pair, so
the next page starts strictly after it however many rows arrive meanwhile. Each list's index
leads with `tenant_id`, then `created_at`, so a page is one index range scan.
"""

import base64
import json
import uuid
import weakref
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

import orjson
from pydantic import BaseModel
from sqlalchemy import Select, bindparam, tuple_

from portal.errors import InvalidCursor, InvalidInput
from portal.tenancy import derived, session, tenant_rows
from portal.times import as_utc

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


@dataclass(frozen=True)
class Page:
    items: list
    next_cursor: str | None


Item = TypeVar("Item", bound=BaseModel)


class PageOut(BaseModel, Generic[Item]):
    """A page as JSON: `PageOut[AlertOut].of(page)` gives each item's `AlertOut.of(row)`,
    newest first, and the cursor of the next page."""

    items: list[Item]
    next_cursor: str | None

    @classmethod
    def of(cls, page: Page) -> "PageOut":
        item = cls._item()
        return cls(items=[item.of(row) for row in page.items], next_cursor=page.next_cursor)

    @classmethod
    def json(cls, page: Page) -> bytes:
        """The page's JSON document, byte for byte `cls.of(page).model_dump_json()`.

        An item type with a `json_fields(values)` (the item's JSON-ready values in field
        order, from the row's values by name) skips building and validating a model per row,
        which cost more than the query on a list endpoint; orjson writes the times (`Z`) and
        ids. tests/unit/test_page_json.py holds both ways to the same bytes for every such
        item type.
        """
        item = cls._item()
        fields = getattr(item, "json_fields", None)
        if fields is None:
            return cls.of(page).model_dump_json().encode()
        return orjson.dumps({"items": [fields(values) for values in row_values(page.items)],
                             "next_cursor": page.next_cursor}, option=orjson.OPT_UTC_Z)

    @classmethod
    def _item(cls) -> type[BaseModel]:
        return cls.__pydantic_generic_metadata__["args"][0]


class _Attributes:
    """An object's attributes read by name, as `json_fields` reads a row's values."""

    __slots__ = ("_obj",)

    def __init__(self, obj):
        self._obj = obj

    def __getitem__(self, name: str):
        return getattr(self._obj, name)


def row_values(rows: list) -> list:
    """Each row's values by column name. Plain rows (anything with a `Row`'s `_fields`, all
    from one statement) go through one zip each: reading a SQLAlchemy `Row`'s values as
    attributes costs ten times more, which on a page of fifty rows shows. Anything else (an
    ORM object) is read through its attributes."""
    if not rows:
        return []
    names = getattr(rows[0], "_fields", None)
    if names is None:
        return [_Attributes(row) for row in rows]
    return [dict(zip(names, row, strict=True)) for row in rows]


def parse_limit(raw: str | None) -> int:
    if raw is None or raw == "":
        return DEFAULT_LIMIT
    try:
        limit = int(raw)
    except ValueError:
        raise InvalidInput("limit must be an integer between 1 and 200", field="limit")
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput("limit must be between 1 and 200", field="limit")
    return limit


def encode_cursor(created_at: datetime, row_id: uuid.UUID) -> str:
    raw = json.dumps([created_at.isoformat(), str(row_id)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    """The (created_at, id) a cursor carries. Only what `encode_cursor` writes decodes: an
    aware date-time that is on the UTC calendar (not a bare date, not year 1 at +14:00)."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        created_at, row_id = json.loads(base64.urlsafe_b64decode(padded.encode()))
        created = datetime.fromisoformat(created_at)
        if created.tzinfo is None:
            raise ValueError("a cursor's time carries its offset")
        return as_utc(created), uuid.UUID(row_id)
    except (ValueError, TypeError, OverflowError):
        raise InvalidCursor()


# The paged forms of a statement (with or without a cursor), by the statement.
_paged: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class _Paged:
    statement: Select
    of_objects: bool  # a select of the model (ORM objects), not of its columns


def _paged_statement(stmt: Select, model, id_attr: str, after_cursor: bool) -> _Paged:
    variants = derived(_paged, stmt, lambda _stmt: {})
    key = (model, id_attr, after_cursor)
    paged = variants.get(key)
    if paged is None:
        id_column = getattr(model, id_attr)
        ordered = stmt
        if after_cursor:
            # A row-value comparison, so PostgreSQL starts the index range scan at the cursor
            # instead of filtering its way down from the newest row.
            ordered = ordered.where(tuple_(model.created_at, id_column) < tuple_(
                bindparam("page_after_created_at", type_=model.created_at.type),
                bindparam("page_after_id", type_=id_column.type)))
        ordered = (ordered.order_by(model.created_at.desc(), id_column.desc())
                   .limit(bindparam("page_limit")))
        paged = variants[key] = _Paged(ordered, len(ordered.column_descriptions) == 1)
    return paged


def paginate(stmt: Select, model, limit: int, cursor: str | None, *, id_attr: str = "id",
             params: dict | None = None, final: bool = False) -> Page:
    """Run `stmt` (a select of `model`, or of its columns) one page at a time, newest first.

    `id_attr` names the column that breaks ties between equal `created_at` values (a
    membership's is its `user_id`). `params` are the values of `stmt`'s own bound
    parameters: a statement built once per shape of its filters (see alerts.queries) is
    paged, compiled and cached once, which on a list endpoint costs more than the query.
    `final=True`: the request reads nothing more (tenancy.tenant_rows), for plain rows.
    """
    values = dict(params or {}, page_limit=limit + 1)
    if cursor:
        values["page_after_created_at"], values["page_after_id"] = decode_cursor(cursor)
    paged = _paged_statement(stmt, model, id_attr, bool(cursor))
    if paged.of_objects:
        rows = list(session.scalars(paged.statement, values))
    else:  # plain rows, no identity map, narrowed to the tenant by the session
        rows = tenant_rows(session, paged.statement, values, final=final)
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor(rows[-1].created_at, getattr(rows[-1], id_attr))
    return Page(rows, next_cursor)
