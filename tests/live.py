"""Real servers for tests that need them: gunicorn with several workers, on loopback only.

Tools a fresh machine may lack (Redis, Prometheus, promtool) go through `require`: a skip
on a developer's machine, a failure under CI=true (.ci/run installs and starts them).
"""

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
METRICS_TOKEN = "scrape-token-for-tests"
SECRET_KEY = "gunicorn-test-secret-key-long-enough-for-hs256"
REDIS_URL = os.environ.get("PORTAL_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def require(available: bool, what: str) -> None:
    if available:
        return
    message = f"{what} is missing; run .ci/run (or see README) to install and start it"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def require_redis() -> None:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
        reachable = True
    except redis.RedisError:
        reachable = False
    require(reachable, f"Redis at {REDIS_URL}")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def http_get(url: str, token: str | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def http_json(url: str, token: str | None = None) -> tuple[int, dict]:
    status, body = http_get(url, token)
    return status, json.loads(body)


def wait_until_serving(url: str, process: subprocess.Popen, log: Path, seconds: float = 60):
    deadline = time.monotonic() + seconds
    while True:
        try:
            http_get(url, METRICS_TOKEN)
            return
        except OSError:
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)


@contextlib.contextmanager
def gunicorn(database: dict, tmp_path: Path, workers: int, multiproc: Path | None = None,
             **settings):
    """`gunicorn -c python:portal.gunicorn_conf wsgi:app` on a free loopback port, reading
    the test database; yields the base URL. Extra keyword arguments become environment
    variables (PORTAL_…)."""
    port = free_port()
    if multiproc is None:
        multiproc = tmp_path / f"prometheus-{port}"
        multiproc.mkdir()
    env = {
        **os.environ,
        "PORTAL_DATABASE_URL": database["DATABASE_URL"],
        "PORTAL_ADMIN_DATABASE_URL": database["ADMIN_DATABASE_URL"],
        "PORTAL_METRICS_TOKEN": METRICS_TOKEN,
        "PORTAL_SECRET_KEY": SECRET_KEY,
        "PORTAL_RATELIMIT_ENABLED": "false",
        "PROMETHEUS_MULTIPROC_DIR": str(multiproc),
        **settings,
    }
    log_path = tmp_path / f"gunicorn-{port}.log"
    with log_path.open("w") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "python:portal.gunicorn_conf",
             "--workers", str(workers), "--no-control-socket",
             "--bind", f"127.0.0.1:{port}", "wsgi:app"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            # Ready when it answers a scrape (which tests count apart from their own requests).
            wait_until_serving(f"{base}/internal/metrics", server, log_path)
            yield base
        finally:
            server.terminate()
            server.wait(timeout=30)
