"""Helpers more than one test module needs: reading what the portal stored, acting as a script
would, and reading pages as HTML rather than as text."""

import uuid
from datetime import UTC, datetime, timedelta

import jwt as pyjwt
from bs4 import BeautifulSoup, Tag
from sqlalchemy import select

from portal import tenancy
from portal.audit.models import AuditRecord
from portal.auth.models import Membership, User


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def audit_actions(app, tenant_id, target_id) -> list[str]:
    """The actions the audit log holds for one target in one tenant, oldest first."""
    with app.app_context(), tenancy.tenant_session_scope(tenant_id, admin=True) as db:
        return list(db.scalars(
            select(AuditRecord.action).where(AuditRecord.target_id == str(target_id))
            .order_by(AuditRecord.created_at)
        ))


def role_in(app, tenant_id, email: str) -> str | None:
    with app.app_context(), tenancy.tenant_session_scope(tenant_id, admin=True) as db:
        return db.scalar(
            select(Membership.role).join(User, User.id == Membership.user_id)
            .where(User.email == email)
        )


def audit_of(app, tenant_id, action: str) -> list[AuditRecord]:
    with app.app_context(), tenancy.tenant_session_scope(tenant_id, admin=True) as db:
        return list(db.scalars(select(AuditRecord).where(AuditRecord.action == action)
                               .order_by(AuditRecord.created_at)))


def walk_pages(client, path: str, limit: int = 200, **filters) -> list[dict]:
    """Every item of a cursor-paginated list, following next_cursor to its end; each page
    must answer 200 and keep to the limit."""
    items, cursor = [], None
    for _ in range(100):
        params = {**filters, "limit": limit, **({"cursor": cursor} if cursor else {})}
        response = client.get(path, query_string=params)
        assert response.status_code == 200, response.json
        assert len(response.json["items"]) <= limit
        items += response.json["items"]
        cursor = response.json["next_cursor"]
        if cursor is None:
            return items
    raise AssertionError(f"{path}: pagination did not end")


def user_id_of(app, email: str) -> str:
    with app.app_context(), tenancy.unscoped_session() as db:
        return str(db.scalar(select(User.id).where(User.email == email)))


def forge(app, tenant, email="trader@acme.test", key=None, algorithm="HS256", **changes):
    """A token shaped like ours, with chosen changes, signed with the app's key by default."""
    with app.app_context(), tenancy.unscoped_session() as db:
        user = db.scalar(select(User).where(User.email == email))
    now = datetime.now(UTC)
    claims = {
        "sub": str(user.id), "tenant_id": str(tenant), "role": "admin",
        "jti": str(uuid.uuid4()), "sid": uuid.uuid4().hex,
        "iat": now, "nbf": now, "exp": now + timedelta(minutes=30),
        "type": "access", "fresh": False,
    }
    claims.update(changes)
    claims = {name: value for name, value in claims.items() if value is not None}
    if algorithm == "none":
        return pyjwt.encode(claims, None, algorithm="none")
    return pyjwt.encode(claims, key or app.config["JWT_SECRET_KEY"], algorithm=algorithm)


def run_command(app, *args):
    """A flask CLI command run in-process, as an operator would type it."""
    return app.test_cli_runner().invoke(args=list(args))


def import_prices(app, path, rows):
    """Writes (day, symbol, close) rows as a price file at `path` and imports it with the
    operator's command, which must succeed."""
    path.write_text("date,symbol,close\n"
                    + "".join(f"{day},{symbol},{close}\n" for day, symbol, close in rows))
    result = run_command(app, "import-prices", str(path))
    assert result.exit_code == 0, result.output
    return result


# HTML.

def soup(response_or_html) -> BeautifulSoup:
    html = (response_or_html if isinstance(response_or_html, str)
            else response_or_html.get_data(as_text=True))
    return BeautifulSoup(html, "html.parser")


def is_full_page(response_or_html) -> bool:
    """A whole document (what a plain request or a boosted one gets), not an htmx fragment."""
    return soup(response_or_html).find("html") is not None


def fragment_root(response_or_html) -> Tag:
    """The one element an htmx fragment swaps into its target (out-of-band elements go
    elsewhere, so they do not count); fails on a whole page or on several roots."""
    roots = [node for node in soup(response_or_html).contents
             if isinstance(node, Tag) and not node.has_attr("hx-swap-oob")]
    assert len(roots) == 1, [root.name for root in roots]
    assert roots[0].name != "html", "a whole page, not a fragment"
    return roots[0]


def root_selector(response_or_html) -> str:
    """`tag#id` of a fragment's one root element: which named block htmx swaps in."""
    root = fragment_root(response_or_html)
    return f"{root.name}#{root.get('id')}"


# Browser journeys.

def mark_page(page) -> None:
    """A flag that a full page load would wipe out, so a journey can tell a swap from a load."""
    page.evaluate("window.__sameDocument = true")


def still_same_page(page) -> bool:
    return page.evaluate("window.__sameDocument === true")


def htmx_settled(page) -> None:
    """Wait until htmx has no request in flight and has finished swapping and settling.

    A person takes longer than that between two fields; a test does not. Once the portal
    answered a filter in a few milliseconds, a test's next change could land while htmx was
    still settling the swap (it waits 20 ms before it does), and htmx never sent it."""
    from playwright.sync_api import expect

    expect(page.locator(".htmx-request, .htmx-swapping, .htmx-settling")).to_have_count(0)
