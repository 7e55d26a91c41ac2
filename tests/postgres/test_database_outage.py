"""Does the portal survive its database going away in the middle of concurrent writes?

An app connected through a PgBouncer the test owns (transaction mode, tests/pgbouncer.py).
Traders of two tenants place market orders from six threads, each order with its own
Idempotency-Key. The test kills PgBouncer abruptly (every connection cut, including ones in
the middle of a transaction or a COMMIT), keeps the writers going, brings PgBouncer back on the
same port and checks, with a superuser connection:

- while it is down: only 201 or 503 (never a 500); the 503s are the JSON `unavailable` error
  with Retry-After; `/health` and pages answer 503 too;
- it recovers by itself: the same app object answers 201 again, no restart;
- no order that answered 201 is lost;
- nothing is half written: every stored trade has its fill, its audit record and its
  idempotency record, and nothing else is stored;
- a 503'd order retried with its key afterwards is placed exactly once (a COMMIT that landed
  but whose answer was lost replays instead of placing a second trade).
"""

import threading
import time
import uuid
from collections import Counter

import pytest
from sqlalchemy import text

from tests.conftest import ApiClient, make_fresh_tenant, mint_token

pytestmark = pytest.mark.postgres

WRITERS_PER_TENANT = 3
ORDER = {"symbol": "AAPL", "side": "buy", "quantity": "1", "order_type": "market"}


@pytest.fixture(scope="module")
def pooled(behind_pgbouncer):
    return behind_pgbouncer(DATABASE_CONNECT_TIMEOUT=2)


class Writers:
    """Threads placing orders until stopped, recording every answer by idempotency key."""

    def __init__(self, app, tokens: dict):
        self.app = app
        self.tokens = tokens
        self.answers: list[tuple[uuid.UUID, str, int, dict, dict]] = []
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.threads = [
            threading.Thread(target=self._write, args=(tenant_id, number))
            for tenant_id in tokens for number in range(WRITERS_PER_TENANT)
        ]

    def _write(self, tenant_id, number) -> None:
        api = ApiClient(self.app.test_client(), self.tokens[tenant_id])
        count = 0
        while not self.stop.is_set():
            key = f"outage-{tenant_id}-{number}-{count}"
            count += 1
            response = api.post("/api/trades", json=ORDER, headers={"Idempotency-Key": key})
            with self.lock:
                self.answers.append((tenant_id, key, response.status_code,
                                     response.get_json(silent=True) or {},
                                     dict(response.headers)))
            if response.status_code == 503:
                time.sleep(0.1)  # a polite client waits (scaled down from Retry-After)

    def count(self, status: int) -> int:
        with self.lock:
            return sum(1 for answer in self.answers if answer[2] == status)

    def wait_for(self, status: int, at_least: int, seconds: float = 30) -> None:
        deadline = time.monotonic() + seconds
        while self.count(status) < at_least:
            assert time.monotonic() < deadline, f"fewer than {at_least} answers {status}"
            time.sleep(0.05)

    def __enter__(self):
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *_exc):
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=60)


def stored(superuser, tenant_ids) -> dict:
    """What the database holds for these tenants, read past row-level security."""
    with superuser.connect() as connection:
        def rows(sql):
            return connection.execute(text(sql), {"t": list(tenant_ids)}).all()

        return {
            "trades": {(str(r[0]), r[1]) for r in rows(
                "SELECT id, status FROM trades WHERE tenant_id = ANY(:t)")},
            "fills": Counter(str(r[0]) for r in rows(
                "SELECT trade_id FROM fills WHERE tenant_id = ANY(:t)")),
            "audit": Counter((r[0], r[1]) for r in rows(
                "SELECT target_id, action FROM audit_records"
                " WHERE tenant_id = ANY(:t) AND action LIKE 'order.%'")),
            "keys": {r[0]: r[1] for r in rows(
                "SELECT key, response_body->>'id' FROM idempotency_records"
                " WHERE tenant_id = ANY(:t) AND scope = 'trades.create'")},
        }


def test_cutting_the_database_under_concurrent_writes_loses_and_half_writes_nothing(
        app, pooled, superuser):
    bouncer, pooled_app = pooled
    tenants = [make_fresh_tenant(app, f"Outage {n}") for n in range(2)]
    tokens = {tenant.id: mint_token(app, tenant.emails["trader"], tenant.slug)
              for tenant in tenants}
    browser = pooled_app.test_client()
    browser.set_cookie(app.config["JWT_ACCESS_COOKIE_NAME"], tokens[tenants[0].id])

    with Writers(pooled_app, tokens) as writers:
        writers.wait_for(201, at_least=12)
        bouncer.kill()
        writers.wait_for(503, at_least=12)
        # While it is down, for everyone: /health, pages and the API say 503.
        health = pooled_app.test_client().get("/health")
        assert health.status_code == 503 and "Retry-After" in health.headers
        page = browser.get("/trades", headers={"Accept": "text/html"})
        assert page.status_code == 503 and "Back in a moment" in page.text
        before_recovery = len(writers.answers)
        bouncer.start()
        # Recovery by itself: the same app, no restart, answers 201 again.
        deadline = time.monotonic() + 30
        while pooled_app.test_client().get("/health").status_code != 200:
            assert time.monotonic() < deadline, "the portal did not recover"
            time.sleep(0.2)
        recovered = writers.count(201)
        writers.wait_for(201, at_least=recovered + 12)
    answers = writers.answers
    assert any(status == 201 for _, _, status, _, _ in answers[before_recovery:])

    statuses = Counter(status for _, _, status, _, _ in answers)
    assert set(statuses) <= {201, 503}, statuses
    for _, _, status, body, headers in answers:
        if status == 503:
            assert body["error"]["code"] == "unavailable"
            assert int(headers["Retry-After"]) > 0

    tenant_ids = [tenant.id for tenant in tenants]
    state = stored(superuser, tenant_ids)
    trade_ids = {trade_id for trade_id, _ in state["trades"]}
    # No 201 is lost.
    created = {body["id"] for _, _, status, body, _ in answers if status == 201}
    assert created <= trade_ids
    # Nothing is half written: each stored trade is a whole market order.
    assert all(status == "filled" for _, status in state["trades"])
    assert state["fills"] == Counter({trade_id: 1 for trade_id in trade_ids})
    assert state["audit"] == Counter({(trade_id, "order.placed"): 1 for trade_id in trade_ids})
    assert set(state["keys"].values()) == trade_ids  # exactly the keyed answers, no strays

    # Retrying every 503'd order with its key places it exactly once.
    clients = {tenant_id: ApiClient(app.test_client(), token)
               for tenant_id, token in tokens.items()}
    for tenant_id, key, status, _, _ in answers:
        if status == 503:
            retry = clients[tenant_id].post("/api/trades", json=ORDER,
                                            headers={"Idempotency-Key": key})
            assert retry.status_code == 201, retry.text
            created.add(retry.json["id"])
    state = stored(superuser, tenant_ids)
    assert len(state["keys"]) == len(answers)
    assert {trade_id for trade_id, _ in state["trades"]} == created == set(
        state["keys"].values())
