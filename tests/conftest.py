"""Shared fixtures: one migrated, seeded database per test session, and ways to act as a user.

Tenant A is `acme`, tenant B is `globex` (the demo seeder's tenants, each with hundreds of
alerts and trades of its own). Tests create their own rows and assert on them, so they do not
depend on each other's order.

`PORTAL_TEST_DATABASE=postgresql` runs the same suite on PostgreSQL (see tests/pg.py).
"""

import os
import uuid
from dataclasses import dataclass

import pytest
from sqlalchemy import select

from portal import create_app, migrate, tenancy
from portal.auth.context import issue_token
from portal.auth.models import Membership, Tenant, User
from portal.seed import seed_demo

TEST_SETTINGS = {
    "TESTING": True,
    "PORTAL_ENV": "development",
    "SECRET_KEY": "test-secret-key-that-is-long-enough-for-hs256",
    "JWT_SECRET_KEY": "test-secret-key-that-is-long-enough-for-hs256",
    # Generous login limits; tests of the limiter build their own app with tight ones.
    "LOGIN_LIMIT_PER_CLIENT": "10000 per minute",
    "LOGIN_LIMIT_PER_EMAIL_CLIENT": "10000 per minute",
    "LOGIN_LIMIT_PER_EMAIL": "10000 per minute",
    # The whole suite shares two demo tenants; their plan limits are tested on their own app.
    "PLAN_RATE_LIMITS": {"starter": "100000 per minute", "pro": "100000 per minute"},
}


def _cheap_password_hashing() -> None:
    """Argon2id at its smallest cost for this test process: every sign-in through /login
    verifies a hash, and at the production cost (64 MiB, 3 passes, 4 lanes) each one takes
    most of a second on a busy two-core machine. The hash is still Argon2id, salted, and
    verified for real; only how slow it is changes, and the seeded demo users get it too."""
    from argon2 import PasswordHasher

    from portal.auth import passwords

    cheap = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    assert hasattr(passwords, "_hasher") and hasattr(passwords, "_DUMMY_HASH")
    passwords._hasher = cheap
    passwords._DUMMY_HASH = cheap.hash("not-a-real-password")


_cheap_password_hashing()


def backend() -> str:
    return os.environ.get("PORTAL_TEST_DATABASE", "sqlite")


def make_database_settings(tmp_path_factory) -> dict:
    if backend() == "postgresql":
        from tests import pg

        settings = pg.create_throwaway_database()
        if os.environ.get("PORTAL_TEST_POOLER") == "pgbouncer":
            # The app role through a real PgBouncer in transaction mode (tests/pgbouncer.py).
            from tests import pgbouncer

            _bouncer, settings = pgbouncer.in_front_of(settings)
        return settings
    path = tmp_path_factory.mktemp("db") / "portal.sqlite3"
    return {"DATABASE_URL": f"sqlite:///{path}", "ADMIN_DATABASE_URL": f"sqlite:///{path}"}


def build_app(database: dict, **overrides):
    return create_app({**TEST_SETTINGS, **database, **overrides})


def prepare_database(app) -> None:
    with app.app_context():
        if backend() == "postgresql":
            from portal import pgsetup

            pgsetup.ensure_app_role(tenancy.get_engine(admin=True), app.config["DATABASE_URL"])
        migrate.upgrade(tenancy.get_engine(admin=True))
        if backend() == "postgresql":
            from portal import pgsetup

            pgsetup.grant_app_role(tenancy.get_engine(admin=True), app.config["DATABASE_URL"])
        seed_demo()


@pytest.fixture(scope="session")
def database(tmp_path_factory) -> dict:
    """A migrated, seeded database's settings, so that every app a test builds on it (with
    settings of its own) finds the schema, even when that test runs alone."""
    settings = make_database_settings(tmp_path_factory)
    preparer = build_app(settings)
    prepare_database(preparer)
    with preparer.app_context():
        tenancy.get_engine().dispose()
        tenancy.get_engine(admin=True).dispose()
    return settings


@pytest.fixture(scope="session")
def app(database):
    return build_app(database)


@pytest.fixture
def client(app):
    return app.test_client()


@dataclass(frozen=True)
class TenantInfo:
    id: uuid.UUID
    slug: str
    name: str


def _tenant(app, slug: str) -> TenantInfo:
    with app.app_context(), tenancy.unscoped_session() as db:
        tenant = db.scalar(select(Tenant).where(Tenant.slug == slug))
        return TenantInfo(tenant.id, tenant.slug, tenant.name)


@pytest.fixture(scope="session")
def tenant_a(app) -> TenantInfo:
    return _tenant(app, "acme")


@pytest.fixture(scope="session")
def tenant_b(app) -> TenantInfo:
    return _tenant(app, "globex")


def mint_token(app, email: str, tenant_slug: str | None = None) -> str:
    """A real signed token for a demo user, without paying for the password hash."""
    with app.app_context():
        with tenancy.unscoped_session() as db:
            user = db.scalar(select(User).where(User.email == email))
            tenant = (
                db.scalar(select(Tenant).where(Tenant.slug == tenant_slug))
                if tenant_slug else None
            )
        tenant_id = tenant.id if tenant else None
        if tenant_id is None:
            from portal.auth.queries import active_memberships

            tenant_id = active_memberships(user.id)[0].tenant_id
        with tenancy.tenant_session_scope(tenant_id, admin=True) as db:
            membership = db.get(Membership, (tenant_id, user.id))
        with app.test_request_context():
            return issue_token(user, membership)


class ApiClient:
    """A test client that sends a bearer token, as a script would."""

    def __init__(self, client, token: str):
        self.client = client
        self.token = token

    def _headers(self, extra):
        return {"Authorization": f"Bearer {self.token}", **(extra or {})}

    def get(self, path, headers=None, **kwargs):
        return self.client.get(path, headers=self._headers(headers), **kwargs)

    def post(self, path, headers=None, **kwargs):
        return self.client.post(path, headers=self._headers(headers), **kwargs)

    def patch(self, path, headers=None, **kwargs):
        return self.client.patch(path, headers=self._headers(headers), **kwargs)

    def delete(self, path, headers=None, **kwargs):
        return self.client.delete(path, headers=self._headers(headers), **kwargs)


@pytest.fixture
def api_as(app):
    def make(email: str, tenant_slug: str | None = None) -> ApiClient:
        return ApiClient(app.test_client(), mint_token(app, email, tenant_slug))

    return make


class BrowserClient:
    """A test client signed in through the real /login form, carrying cookies and CSRF."""

    def __init__(self, client, app):
        self.client = client
        self.app = app

    @property
    def csrf(self) -> str:
        cookie = self.client.get_cookie(self.app.config["JWT_ACCESS_CSRF_COOKIE_NAME"])
        return cookie.value if cookie else ""

    def get(self, path, htmx=False, headers=None, **kwargs):
        headers = dict(headers or {})
        if htmx:
            headers["HX-Request"] = "true"
        return self.client.get(path, headers=headers, **kwargs)

    def post(self, path, data=None, htmx=False, headers=None, **kwargs):
        """A form post; htmx posts send the CSRF header, plain ones the csrf_token field."""
        headers = dict(headers or {})
        data = dict(data or {})
        if htmx:
            headers["HX-Request"] = "true"
            headers["X-CSRF-TOKEN"] = self.csrf
        else:
            data.setdefault("csrf_token", self.csrf)
        return self.client.post(path, data=data, headers=headers, **kwargs)


@pytest.fixture
def browser_as(app):
    def make(email: str, tenant_slug: str | None = None) -> BrowserClient:
        client = app.test_client()
        response = client.post(
            "/login",
            data={"email": email, "password": "demo-password", "tenant": tenant_slug or ""},
        )
        assert response.status_code == 303, response.text
        return BrowserClient(client, app)

    return make


@dataclass(frozen=True)
class FreshTenant:
    id: uuid.UUID
    slug: str
    name: str
    emails: dict  # role -> email of a member with that role


def make_fresh_tenant(app, name: str | None = None) -> FreshTenant:
    """A new, empty tenant with an admin, a trader and a viewer."""

    suffix = uuid.uuid4().hex[:8]
    slug = f"t-{suffix}"
    name = name or f"Test Fund {suffix}"
    with app.app_context():
        with tenancy.unscoped_session(admin=True) as db:
            tenant = Tenant(slug=slug, name=name, plan="pro")
            db.add(tenant)
            password_hash = _test_password_hash()
            users = {
                role: User(email=f"{role}@{slug}.test", display_name=f"{role} {slug}",
                           password_hash=password_hash)
                for role in ("admin", "trader", "viewer")
            }
            db.add_all(users.values())
            db.flush()
            tenant_id = tenant.id
            user_ids = {role: user.id for role, user in users.items()}
        with tenancy.tenant_session_scope(tenant_id, admin=True) as db:
            for role, user_id in user_ids.items():
                db.add(Membership(user_id=user_id, role=role))
    return FreshTenant(tenant_id, slug, name, {role: f"{role}@{slug}.test" for role in user_ids})


_password_hash_cache: list[str] = []


def _test_password_hash() -> str:
    from portal.auth.passwords import hash_password

    if not _password_hash_cache:
        _password_hash_cache.append(hash_password("demo-password"))
    return _password_hash_cache[0]


@pytest.fixture
def fresh_tenant(app):
    """A new, empty tenant with an admin, a trader and a viewer (role@<slug>.test, password
    demo-password): for tests that need exact, hand-made data."""
    return lambda name=None: make_fresh_tenant(app, name)


@pytest.fixture
def orm_filter_off():
    """The first wall (the ORM tenant filter) removed for one test, then put back: on SQLite
    tenants then leak; on PostgreSQL row-level security must hold on its own."""
    from sqlalchemy import event

    from portal.tenancy import TenantSession

    event.remove(TenantSession, "do_orm_execute", tenancy._filter_to_tenant)
    try:
        yield
    finally:
        event.listen(TenantSession, "do_orm_execute", tenancy._filter_to_tenant)
