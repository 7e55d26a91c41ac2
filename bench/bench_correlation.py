"""Timings of the correlation matrix and analysis for 12 symbols x 756 daily returns.

    .venv/bin/python -m bench.bench_correlation [--repeat N]

Prints figures only (no thresholds): the statistics alone, then whole requests through the
app on a throwaway SQLite database, with the result cache cleared ("cold") and warm.
"""

import argparse
import statistics
import tempfile
import time
from datetime import date
from decimal import Decimal
from pathlib import Path

import numpy as np

SYMBOLS = [f"BN{index:02d}" for index in range(12)]
RETURNS = 756


def synthetic_closes() -> dict[str, dict[date, Decimal]]:
    from portal.market.services import trading_days

    rng = np.random.default_rng(12)
    days = trading_days(RETURNS + 1, date(2024, 6, 28))
    market = rng.normal(0.0004, 0.01, len(days))
    closes = {}
    for index, symbol in enumerate(SYMBOLS):
        returns = (0.5 + index / 12) * market + rng.normal(0, 0.01, len(days))
        path = 100 * np.cumprod(1 + returns)
        closes[symbol] = {day: Decimal(f"{v:.4f}") for day, v in zip(days, path, strict=True)}
    return closes


def timed(function, repeat: int) -> tuple[float, float]:
    """Median and best wall time in milliseconds."""
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples), min(samples)


def report(label: str, figures: tuple[float, float]) -> None:
    median, best = figures
    print(f"  {label:<38} median {median:8.2f} ms   best {best:8.2f} ms")


def bench_statistics(closes, repeat: int) -> None:
    from portal.correlation import analysis as stats

    print(f"Statistics only ({len(SYMBOLS)} symbols x {RETURNS} returns, {repeat} runs each)")
    report("align closes and compute returns",
           timed(lambda: stats.aligned_returns(closes, SYMBOLS, RETURNS), repeat))
    aligned = stats.aligned_returns(closes, SYMBOLS, RETURNS)
    weights = np.full(len(SYMBOLS), 1 / len(SYMBOLS))
    for method in stats.METHODS:
        report(f"{method} matrix",
               timed(lambda m=method: stats.correlation_matrix(aligned.returns, m), repeat))
        matrix = stats.correlation_matrix(aligned.returns, method)
        report(f"{method} analysis (given the matrix)", timed(
            lambda m=matrix: stats.analyse(SYMBOLS, aligned.returns, m, weights, 0.7), repeat))


def build_app(directory: Path):
    from portal import create_app, migrate, tenancy
    from portal.auth.models import Membership, Tenant, User
    from portal.market.services import import_prices

    database = f"sqlite:///{directory / 'bench.sqlite3'}"
    app = create_app({"TESTING": True, "DATABASE_URL": database, "ADMIN_DATABASE_URL": database,
                      "RATELIMIT_ENABLED": False, "LOG_LEVEL": "WARNING"})
    with app.app_context():
        migrate.upgrade(tenancy.get_engine(admin=True))
        rows = [(day, symbol, close) for symbol, by_day in synthetic_closes().items()
                for day, close in by_day.items()]
        with tenancy.unscoped_session(admin=True) as db:
            import_prices(db, rows)
            tenant = Tenant(slug="bench", name="Bench Fund", plan="pro")
            user = User(email="bench@bench.test", display_name="Bench", password_hash="!")
            db.add_all([tenant, user])
            db.flush()
            tenant_id, user_id = tenant.id, user.id
        with tenancy.tenant_session_scope(tenant_id, admin=True) as db:
            db.add(Membership(user_id=user_id, role="viewer"))
    return app, tenant_id, user_id


def bench_requests(repeat: int) -> None:
    from portal import tenancy
    from portal.auth.context import issue_token
    from portal.auth.models import Membership, User
    from portal.correlation.services import cache

    with tempfile.TemporaryDirectory() as directory:
        app, tenant_id, user_id = build_app(Path(directory))
        with app.app_context(), tenancy.tenant_session_scope(tenant_id) as db:
            user = db.get(User, user_id)
            membership = db.get(Membership, (tenant_id, user_id))
            with app.test_request_context():
                token = issue_token(user, membership)
        client = app.test_client()
        headers = {"Authorization": f"Bearer {token}"}
        symbols = ",".join(SYMBOLS)

        def get(path):
            response = client.get(path, headers=headers)
            assert response.status_code == 200, response.get_data(as_text=True)

        def cold(path):
            cache.clear()
            get(path)

        print(f"\nWhole requests through the app (SQLite, {repeat} runs each)")
        for method in ("pearson", "spearman", "kendall"):
            for endpoint in ("matrix", "analysis"):
                path = (f"/api/correlation/{endpoint}?symbols={symbols}"
                        f"&lookback_days={RETURNS}&method={method}")
                report(f"{endpoint} {method}, cold cache", timed(lambda p=path: cold(p), repeat))
                report(f"{endpoint} {method}, warm cache", timed(lambda p=path: get(p), repeat))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    bench_statistics(synthetic_closes(), args.repeat)
    bench_requests(args.repeat)


if __name__ == "__main__":
    main()
