"""What a view declares about itself for the API document: one decorator per view.

    @api.get("/<alert_id>")
    @documented(responses={200: AlertOut})
    @require_permission("view_alerts")
    def get_alert(alert_id): ...

Everything the view's other decorators already say is read from them, not repeated: a
`@public` view needs no token, `@require_permission` names the permission and implies 401/403,
a path argument implies 404, any input implies 400, the tenant limit implies 429.
"""

from dataclasses import dataclass, field
from functools import cache

from pydantic import BaseModel, Field, create_model


@dataclass(frozen=True)
class Operation:
    summary: str
    query: type[BaseModel] | None = None
    body: type[BaseModel] | None = None
    # status -> response model; None means a body the document describes as a plain object
    responses: dict[int, type[BaseModel] | None] = field(default_factory=dict)
    # statuses this route answers beyond the ones its decorators imply (409, 422, ...)
    errors: tuple[int, ...] = ()
    paginated: bool = False
    idempotent: bool = False
    content_type: str = "application/json"
    tags: tuple[str, ...] = ()
    # Whether an empty query value (`?since=`) means "absent", as it does for the list filters
    # that HTML forms also send.
    blank_query_is_absent: bool = True


def documented(
    *,
    responses: dict[int, type[BaseModel] | None],
    summary: str | None = None,
    query: type[BaseModel] | None = None,
    body: type[BaseModel] | None = None,
    errors: tuple[int, ...] = (),
    paginated: bool = False,
    idempotent: bool = False,
    content_type: str = "application/json",
    tags: tuple[str, ...] = (),
    blank_query_is_absent: bool = True,
):
    """Attach the view's API contract to it (nothing wraps the view; it runs as before)."""

    def decorator(view):
        view.openapi = Operation(
            summary=summary or _first_line(view.__doc__) or view.__name__.replace("_", " "),
            query=query, body=body, responses=dict(responses), errors=tuple(errors),
            paginated=paginated, idempotent=idempotent, content_type=content_type,
            tags=tuple(tags), blank_query_is_absent=blank_query_is_absent,
        )
        return view

    return decorator


def _first_line(text: str | None) -> str:
    return (text or "").strip().split("\n", 1)[0].strip()


class PaginationQuery(BaseModel):
    """The keyset page arguments every list takes (portal.pagination)."""

    limit: int = Field(default=50, ge=1, le=200, description="Items per page (1 to 200).")
    cursor: str | None = Field(
        default=None, description="The `next_cursor` of the previous page, as it was given."
    )


@cache
def page_of(item: type[BaseModel]) -> type[BaseModel]:
    """The `{items, next_cursor}` page shape of a list of `item` (portal.pagination.Page)."""
    name = item.__name__.removesuffix("Out") + "Page"
    return create_model(
        name,
        items=(list[item], ...),
        next_cursor=(str | None, Field(description="Pass as `cursor` for the next page.")),
        __doc__=f"One newest-first page of {item.__name__.removesuffix('Out').lower()}s.",
    )
