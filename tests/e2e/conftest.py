"""Browser tests: Debian's chromium driven by pytest-playwright against a live server.

htmx is loaded from the CDN in production; here the browser is offline, so the CDN URL is
answered from the same pinned version installed from npm into tests/e2e/vendor (see .ci/run).
Under CI=true a missing browser or htmx file fails the run instead of skipping it.
"""

import os
import shutil
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from portal.config import HTMX_VERSION
from tests.live import require

CHROMIUM = os.environ.get("PORTAL_CHROMIUM", "/usr/bin/chromium")
HTMX_FILE = Path(__file__).parent / "vendor" / "node_modules" / "htmx.org" / "dist" / "htmx.min.js"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    require(bool(shutil.which(CHROMIUM)) or Path(CHROMIUM).exists(), f"chromium ({CHROMIUM})")
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def htmx_source() -> bytes:
    require(HTMX_FILE.exists(), f"htmx.org@{HTMX_VERSION} from npm ({HTMX_FILE})")
    package = HTMX_FILE.parents[1] / "package.json"
    assert f'"version": "{HTMX_VERSION}"' in package.read_text(), "wrong htmx version installed"
    return HTMX_FILE.read_bytes()


@pytest.fixture(scope="session")
def live_server(app):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture
def context(context, app, htmx_source):
    """Every page of the browser context gets htmx from npm instead of the CDN."""
    context.route(
        app.config["HTMX_URL"],
        lambda route: route.fulfill(
            status=200, body=htmx_source, content_type="application/javascript",
            headers={"Access-Control-Allow-Origin": "*"},
        ),
    )
    return context


def sign_in(page, base: str, email: str, tenant: str = "") -> None:
    """Through the real login form, as a demo user, on the server at `base`."""
    page.goto(f"{base}/login")
    page.fill("#email", email)
    page.fill("#password", "demo-password")
    if tenant:
        page.fill("#tenant", tenant)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")


@pytest.fixture
def login(page, live_server):
    return lambda email, tenant="": sign_in(page, live_server, email, tenant)
