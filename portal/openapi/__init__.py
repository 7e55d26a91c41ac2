"""The API's OpenAPI 3.1 contract, generated from the views and the pydantic schemas they use.

Each `/api` view carries its contract in one decorator, `@documented(...)`, placed between the
route and the permission decorators; `portal.openapi.document` walks the app's URL map and
turns those declarations and the pydantic models' own JSON schemas into the document served at
`GET /api/openapi.json` and rendered at `GET /api/docs`.
"""

from portal.openapi.registry import Operation, documented, page_of

__all__ = ["Operation", "documented", "page_of"]
