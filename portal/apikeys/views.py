"""API keys: the JSON endpoints for scripts and the /settings/api-keys page for people.

Both call the same services; the page renders named blocks of one template as htmx
fragments. A new key's secret is in the one answer that creates it and nowhere else (no
redirect, no flash message: it never passes through a cookie).
"""

from flask import Blueprint, g, redirect, request, url_for
from pydantic import ValidationError

from portal.apikeys import queries, services
from portal.apikeys.schemas import (
    ApiKeyCreate,
    ApiKeyCreatedOut,
    ApiKeyOut,
    created_key_json,
    key_json,
)
from portal.errors import Forbidden
from portal.forms import field_errors
from portal.openapi import documented, page_of
from portal.pagination import parse_limit
from portal.permissions import ROLES, require_permission
from portal.web import json_body, json_response, render_page, wants_fragment

bp = Blueprint("apikeys", __name__, url_prefix="/settings/api-keys")
api = Blueprint("apikeys_api", __name__, url_prefix="/api/keys")

PAGE = "apikeys/index.html"


# JSON, for scripts.

@api.get("")
@documented(summary="Your API keys (an admin: every key of the organisation)",
            paginated=True, responses={200: page_of(ApiKeyOut)})
def list_keys():
    page = queries.list_keys(parse_limit(request.args.get("limit")),
                             request.args.get("cursor") or None)
    return json_response({"items": [key_json(key) for key in page.items],
                          "next_cursor": page.next_cursor})


@api.post("")
@documented(summary="Create an API key; the secret `key` is shown in this answer only",
            body=ApiKeyCreate, responses={201: ApiKeyCreatedOut})
@require_permission("manage_api_keys")
def create_key():
    payload = json_body("name, and optionally role and expires_in_days")
    created = services.create_key(ApiKeyCreate.model_validate(payload))
    # The one answer that carries the secret; like every signed-in answer it is no-store
    # (portal.auth's hook), which tests/web/test_apikeys.py checks.
    return json_response(created_key_json(created.key, created.secret), 201)


@api.post("/<key_id>/revoke")
@documented(summary="Revoke an API key at once (revoking again changes nothing)",
            responses={200: ApiKeyOut})
@require_permission("manage_api_keys")
def revoke_key(key_id):
    return json_response(key_json(services.revoke(key_id)))


# The page and its fragments.

def _page(status: int = 200, block: str = "keys", **extra):
    page = queries.list_keys(200, None)
    context = {
        "keys": page.items,
        "owners": queries.owner_emails(page.items),
        "roles": ROLES[: ROLES.index(g.role) + 1],
        "form": {"name": "", "role": g.role, "expires_in_days": ""},
        "errors": {},
        **extra,
    }
    return render_page(PAGE, block, status=status, **context)


@bp.get("")
def index():
    return _page()


@bp.post("")
@require_permission("manage_api_keys")
def create():
    try:
        created = services.create_key(ApiKeyCreate.from_form(request.form))
    except ValidationError as exc:
        return _page(422, form=request.form, errors=field_errors(exc))
    except Forbidden as exc:  # a role above the creator's own
        return _page(422, form=request.form, errors={exc.field or "form": exc.message})
    # The secret is rendered into this answer and never stored anywhere it could be read back.
    return _page(201, created=created)


@bp.post("/<key_id>/revoke")
@require_permission("manage_api_keys")
def revoke(key_id):
    key = services.revoke(key_id)
    if wants_fragment():
        return _page(notice=f"Revoked the key “{key.name}” ({key.prefix}…).")
    return redirect(url_for("apikeys.index"), code=303)
