"""Timings of the metrics endpoints on the demo data.

    .venv/bin/python -m bench.bench_metrics [--runs 30]

Builds a throwaway SQLite database (or uses PORTAL_BENCH_DATABASE_URL, which must already be
migrated and seeded), signs in as each demo tenant's viewer and times whole requests through
the app (token check, tenant binding, queries, JSON). Prints figures; asserts nothing.
"""

import argparse
import os
import statistics
import tempfile
import time

from sqlalchemy import select

from portal import create_app, migrate, tenancy
from portal.auth.context import issue_token
from portal.auth.models import Membership, Tenant, User
from portal.seed import seed_demo

ENDPOINTS = [
    "/api/metrics/portfolio",
    "/api/metrics/trading?window=30d",
    "/api/metrics/trading?window=all",
    "/api/metrics/risk?lookback_days=252",
    "/api/metrics/risk?lookback_days=1260",
    "/metrics",
]
SETTINGS = {"TESTING": True, "SECRET_KEY": "bench-secret-key-long-enough-for-hs256-signing",
            "JWT_SECRET_KEY": "bench-secret-key-long-enough-for-hs256-signing",
            "RATELIMIT_ENABLED": False}


def build(database_url: str | None):
    if database_url:
        return create_app({**SETTINGS, "DATABASE_URL": database_url,
                           "ADMIN_DATABASE_URL": database_url})
    path = os.path.join(tempfile.mkdtemp(prefix="portal-bench-"), "bench.sqlite3")
    url = f"sqlite:///{path}"
    app = create_app({**SETTINGS, "DATABASE_URL": url, "ADMIN_DATABASE_URL": url})
    with app.app_context():
        migrate.upgrade(tenancy.get_engine(admin=True))
        seed_demo()
    return app


def token_for(app, email: str, slug: str) -> str:
    with app.app_context():
        with tenancy.unscoped_session() as db:
            user = db.scalar(select(User).where(User.email == email))
            tenant = db.scalar(select(Tenant).where(Tenant.slug == slug))
        with tenancy.tenant_session_scope(tenant.id, admin=True) as db:
            membership = db.get(Membership, (tenant.id, user.id))
        with app.test_request_context():
            return issue_token(user, membership)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    started = time.perf_counter()
    app = build(os.environ.get("PORTAL_BENCH_DATABASE_URL"))
    print(f"database ready in {time.perf_counter() - started:.1f}s "
          f"({app.config['DATABASE_URL'].split(':', 1)[0]}); {args.runs} runs per endpoint")
    client = app.test_client()
    print(f"{'tenant':8} {'endpoint':38} {'status':>6} {'median ms':>10} {'p95 ms':>8} "
          f"{'max ms':>8}")
    for email, slug in (("viewer@acme.test", "acme"), ("admin@globex.test", "globex")):
        headers = {"Authorization": f"Bearer {token_for(app, email, slug)}"}
        for path in ENDPOINTS:
            client.get(path, headers=headers)  # warm up
            timings, status = [], None
            for _ in range(args.runs):
                start = time.perf_counter()
                status = client.get(path, headers=headers).status_code
                timings.append((time.perf_counter() - start) * 1000)
            timings.sort()
            p95 = timings[min(len(timings) - 1, round(0.95 * (len(timings) - 1)))]
            print(f"{slug:8} {path:38} {status:>6} {statistics.median(timings):>10.1f} "
                  f"{p95:>8.1f} {timings[-1]:>8.1f}")


if __name__ == "__main__":
    main()
