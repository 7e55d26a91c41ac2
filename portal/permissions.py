"""Roles and the permissions they grant (names kept from the original system)."""

from functools import wraps

from flask import g

from portal.errors import PermissionDenied

VIEWER = frozenset({"view_alerts", "view_metrics", "view_portfolio", "view_trades"})
TRADER = VIEWER | {"acknowledge_alerts", "create_alerts", "execute_trades", "view_system",
                   "manage_api_keys"}
ADMIN = TRADER | {"manage_users", "view_audit_logs"}

ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    "viewer": VIEWER,
    "trader": frozenset(TRADER),
    "admin": frozenset(ADMIN),
}
ROLES = tuple(ROLE_PERMISSIONS)


def permissions_for(role: str) -> frozenset[str]:
    return ROLE_PERMISSIONS.get(role, frozenset())


def require_permission(permission: str):
    """403 unless the signed-in membership's role grants `permission`."""

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if permission not in g.get("permissions", frozenset()):
                raise PermissionDenied(permission)
            return view(*args, **kwargs)

        wrapped.required_permission = permission
        return wrapped

    return decorator


def public(view):
    """Marks a view that needs no token (login, token issue, health, metrics scrape)."""
    view.is_public = True
    return view


def private(view):
    """A public page whose address or answer carries a secret (an invitation link): like every
    signed-in answer, no cache, proxy or history may keep it."""
    view.is_private = True
    return view


def public_keeping_sign_in(view):
    """A public page that a signed-in browser still sees signed in (with the portal's
    navigation): the gate binds a good token when there is one, and ignores a bad one."""
    view.keeps_sign_in = True
    return public(view)
