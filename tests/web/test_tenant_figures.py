"""Does a tenant read the same request figures whichever worker (or host) answers, and only
its own? On /api/metrics/system and /status, from the Prometheus multiprocess files under
gunicorn and from Redis when one is configured."""

import logging
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests import live
from tests.conftest import build_app, mint_token
from tests.helpers import bearer, soup

SYSTEM = "/api/metrics/system"


def figures(client, token: str) -> dict:
    response = client.get(SYSTEM, headers=bearer(token))
    assert response.status_code == 200
    assert "tenant_id" not in response.text
    return response.get_json()["requests"]


def status_count(html: str) -> int:
    return int(soup(html).select_one('[data-testid="tenant-request-count"]').get_text(strip=True))


# --- one process -----------------------------------------------------------------------------


def test_status_shows_the_tenants_own_figures_to_those_who_may_see_system(
        app, api_as, browser_as, fresh_tenant):
    mine, theirs = fresh_tenant(), fresh_tenant()
    me = api_as(mine.emails["trader"], mine.slug)
    them = api_as(theirs.emails["trader"], theirs.slug)
    for _ in range(4):
        me.get("/api/status")
    me.get("/api/alerts?limit=0")  # a 400: a client error
    for _ in range(7):
        them.get("/api/status")
    browser = browser_as(mine.emails["trader"], mine.slug)  # its /login post has no tenant yet
    page = browser.get("/status")
    assert page.status_code == 200
    assert status_count(page.text) == 5
    assert 'data-testid="tenant-client-errors">1<' in page.text
    assert str(mine.id) not in page.text and str(theirs.id) not in page.text
    fragment = browser.get("/status", htmx=True)
    assert status_count(fragment.text) == 6  # the page itself counted once answered
    viewer = browser_as(mine.emails["viewer"], mine.slug).get("/status")
    assert viewer.status_code == 200
    assert 'data-testid="tenant-requests"' not in viewer.text  # view_system only


# --- Redis, shared by several hosts ----------------------------------------------------------


@pytest.fixture
def redis_settings():
    live.require_redis()
    import redis

    prefix = f"portal-test:{uuid.uuid4().hex}"
    yield {"METRICS_STORAGE_URI": live.REDIS_URL, "METRICS_REDIS_PREFIX": prefix}
    client = redis.Redis.from_url(live.REDIS_URL)
    for key in client.scan_iter(f"{prefix}:*"):
        client.delete(key)


def test_apps_sharing_redis_read_the_same_figures_and_only_their_own(
        app, database, redis_settings, tenant_a, tenant_b):
    one, two = (build_app(database, **redis_settings) for _ in range(2))
    alone = build_app(database)  # no Redis: its own registry
    a1, b1 = mint_token(one, "viewer@acme.test"), mint_token(one, "trader@globex.test")
    b2 = mint_token(two, "trader@globex.test")
    first, second = one.test_client(), two.test_client()
    for _ in range(6):
        first.get("/api/status", headers=bearer(a1))
    for _ in range(2):
        first.get(f"/api/alerts/{uuid.uuid4()}", headers=bearer(b1))
    second.get("/api/status", headers=bearer(b2))

    # The other "host" reads globex's figures: both apps' requests, nothing of acme's.
    globex = figures(second, b2)
    assert (globex["count"], globex["client_errors"], globex["server_errors"]) == (3, 2, 0)
    assert 0 < globex["p50_ms"] <= globex["p95_ms"] <= globex["max_ms"]
    assert globex["mean_ms"] > 0 and globex["sample_size"] == 3
    assert figures(first, b1)["count"] == 4  # the read above was counted once answered
    assert figures(second, mint_token(two, "trader@acme.test"))["count"] == 6
    assert figures(alone.test_client(), mint_token(alone, "trader@globex.test"))["count"] == 0

    import redis

    keys = {key.decode() for key in redis.Redis.from_url(live.REDIS_URL).scan_iter(
        f"{redis_settings['METRICS_REDIS_PREFIX']}:*")}
    prefix = redis_settings["METRICS_REDIS_PREFIX"]
    assert keys == {f"{prefix}:since", f"{prefix}:{tenant_a.id}", f"{prefix}:{tenant_b.id}"}


def test_figures_sent_without_waiting_still_count_every_request(database, redis_settings):
    """A request's figures leave before its response and their answer is read afterwards;
    an answer Redis could not give (its scripts flushed, as after a restart) is made good,
    and another host reading at once sees every request, whether or not the responses were
    closed yet."""
    import redis

    one, two = (build_app(database, **redis_settings) for _ in range(2))
    token = mint_token(one, "viewer@acme.test")
    first = one.test_client()
    for number in range(6):
        if number == 3:
            redis.Redis.from_url(live.REDIS_URL).script_flush()
        response = first.get("/api/status", headers=bearer(token))
        assert response.status_code == 200
        # Read by the other app straight away: this app's write is already in Redis.
        assert figures(two.test_client(), mint_token(two, "trader@acme.test"))["count"] \
            == 2 * number + 1
    assert figures(first, mint_token(one, "trader@acme.test"))["count"] == 12


def test_without_redis_requests_still_answer_and_figures_come_from_prometheus(
        app, database, caplog):
    closed = live.free_port()  # nothing listens there
    broken = build_app(database, METRICS_STORAGE_URI=f"redis://127.0.0.1:{closed}/0")
    client, token = broken.test_client(), mint_token(broken, "trader@globex.test")
    with caplog.at_level(logging.WARNING, logger="portal.observability"):
        for _ in range(3):
            assert client.get("/api/status",
                              headers=bearer(token)).status_code == 200
        assert figures(client, token)["count"] == 3
    warnings = [r for r in caplog.records if r.name == "portal.observability"]
    assert warnings and all(r.levelno == logging.WARNING for r in warnings)
    assert "Redis unavailable" in warnings[0].getMessage()
    assert len(warnings) == 1  # then Redis is left alone for a while, not retried per request


# --- several gunicorn workers ----------------------------------------------------------------


@pytest.fixture(params=["prometheus", "redis"])
def shared_store(request):
    """The settings of each shared store: the multiprocess files, or Redis."""
    if request.param == "prometheus":
        return {"PORTAL_METRICS_STORAGE_URI": "prometheus"}
    settings = request.getfixturevalue("redis_settings")
    return {"PORTAL_METRICS_STORAGE_URI": settings["METRICS_STORAGE_URI"],
            "PORTAL_METRICS_REDIS_PREFIX": settings["METRICS_REDIS_PREFIX"]}


def test_a_tenants_figures_are_the_same_whichever_worker_answers(
        app, database, tmp_path, shared_store):
    signer = build_app(database, SECRET_KEY=live.SECRET_KEY, JWT_SECRET_KEY=live.SECRET_KEY)
    acme = mint_token(signer, "trader@acme.test")
    globex = mint_token(signer, "trader@globex.test")
    with live.gunicorn(database, tmp_path, workers=3, **shared_store) as base:
        # Concurrent, so no single worker can answer them all.
        work = [acme] * 40 + [globex] * 9
        with ThreadPoolExecutor(max_workers=6) as pool:
            statuses = list(pool.map(lambda t: live.http_get(f"{base}/api/status", t)[0], work))
        assert statuses == [200] * len(work)

        # Six reads at once, again until two workers have answered (a worker can be quick
        # enough to take all six): each sees at least the 40, at most the reads answered
        # before it.
        reads: list[dict] = []
        while len({read["process"]["pid"] for read in reads}) < 2 and len(reads) < 60:
            with ThreadPoolExecutor(max_workers=6) as pool:
                reads += pool.map(lambda _: live.http_json(f"{base}{SYSTEM}", acme)[1],
                                  range(6))
        assert len({read["process"]["pid"] for read in reads}) >= 2  # several workers answered
        for read in reads:
            assert 40 <= read["requests"]["count"] <= 40 + len(reads) - 1
            assert read["requests"]["client_errors"] == read["requests"]["server_errors"] == 0

        # Then one at a time: exact, each read counted once it was answered.
        answered = 40 + len(reads)
        for _ in range(6):
            assert live.http_json(f"{base}{SYSTEM}", acme)[1]["requests"]["count"] == answered
            answered += 1
        status_page = live.http_get(f"{base}/status", acme)[1]
        assert status_count(status_page) == answered
        # And the other tenant sees its own figures, never acme's.
        assert live.http_json(f"{base}{SYSTEM}", globex)[1]["requests"]["count"] == 9
