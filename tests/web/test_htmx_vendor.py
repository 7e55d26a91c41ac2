"""Can a machine whose browsers cannot reach the CDN serve htmx itself? `vendor-htmx` installs
the pinned build from an npm registry (here a fake one on loopback serving the real npm file)
after checking the tarball and the file, and PORTAL_HTMX_SOURCE=local makes pages use it."""

import base64
import hashlib
import io
import json
import tarfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from portal.config import HTMX_DEFAULT_INTEGRITY, HTMX_VERSION
from portal.htmx_vendor import VendorError, install
from tests.conftest import build_app

NPM_FILE = (Path(__file__).resolve().parents[1] / "e2e" / "vendor" / "node_modules"
            / "htmx.org" / "dist" / "htmx.min.js")
STATIC_COPY = Path(__file__).resolve().parents[2] / "static" / "vendor" / "htmx.min.js"


def sri(algorithm: str, data: bytes) -> str:
    return f"{algorithm}-{base64.b64encode(hashlib.new(algorithm, data).digest()).decode()}"


def tarball(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@pytest.fixture
def registry():
    """A loopback npm registry; `serve(files, integrity=None)` sets what it answers."""
    state = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path == f"/htmx.org/{HTMX_VERSION}":
                body = json.dumps({"dist": {
                    "tarball": f"{state['base']}/htmx.org/-/htmx.org-{HTMX_VERSION}.tgz",
                    "integrity": state["integrity"]}}).encode()
            elif self.path.endswith(".tgz"):
                body = state["tarball"]
            else:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state["base"] = f"http://127.0.0.1:{server.server_port}"
    threading.Thread(target=server.serve_forever, daemon=True).start()

    def serve(files: dict[str, bytes], integrity: str | None = None) -> str:
        state["tarball"] = tarball(files)
        state["integrity"] = integrity or sri("sha512", state["tarball"])
        return state["base"]

    yield serve
    server.shutdown()


@pytest.fixture(scope="module")
def npm_htmx() -> bytes:
    if not NPM_FILE.exists():
        pytest.fail(f"{NPM_FILE} is missing; .ci/run installs htmx.org@{HTMX_VERSION} from npm")
    assert sri("sha384", NPM_FILE.read_bytes()) == HTMX_DEFAULT_INTEGRITY
    return NPM_FILE.read_bytes()


def test_the_command_installs_the_pinned_file_and_local_pages_use_it(
        app, database, registry, npm_htmx, monkeypatch):
    base = registry({"package/dist/htmx.min.js": npm_htmx, "package/package.json": b"{}"})
    monkeypatch.setenv("PORTAL_NPM_REGISTRY", base)
    result = build_app(database).test_cli_runner().invoke(args=["vendor-htmx"])
    assert result.exit_code == 0, result.output
    assert STATIC_COPY.read_bytes() == npm_htmx

    monkeypatch.setenv("PORTAL_HTMX_SOURCE", "local")
    local = build_app(database).test_client()
    page = local.get("/login")
    script = f'<script src="/static/vendor/htmx.min.js" integrity="{HTMX_DEFAULT_INTEGRITY}"'
    assert script in page.text
    policy = page.headers["Content-Security-Policy"]
    assert "cdn.jsdelivr.net" not in policy and "script-src 'self' 'sha384-" in policy
    served = local.get("/static/vendor/htmx.min.js")
    assert served.status_code == 200 and served.data == npm_htmx


def test_the_cdn_stays_the_default(app):
    page = app.test_client().get("/login")
    assert 'src="https://cdn.jsdelivr.net/npm/htmx.org@' in page.text


def test_a_file_that_is_not_the_pinned_build_is_refused_and_not_written(
        registry, npm_htmx, tmp_path):
    base = registry({"package/dist/htmx.min.js": npm_htmx + b"\nalert('tampered')"})
    with pytest.raises(VendorError, match="does not match the pinned SRI hash"):
        install(base, HTMX_VERSION, HTMX_DEFAULT_INTEGRITY, tmp_path / "htmx.min.js")
    assert list(tmp_path.iterdir()) == []


def test_a_tarball_that_is_not_what_the_registry_lists_is_refused(registry, npm_htmx, tmp_path):
    base = registry({"package/dist/htmx.min.js": npm_htmx},
                    integrity=sri("sha512", b"some other tarball"))
    with pytest.raises(VendorError, match="does not match the registry's integrity"):
        install(base, HTMX_VERSION, HTMX_DEFAULT_INTEGRITY, tmp_path / "htmx.min.js")
    assert list(tmp_path.iterdir()) == []


def test_an_unreachable_registry_is_one_line_and_a_failure(app, database, monkeypatch):
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("PORTAL_NPM_REGISTRY", f"http://127.0.0.1:{port}")
    result = build_app(database).test_cli_runner().invoke(args=["vendor-htmx"])
    assert result.exit_code == 1
    assert len(result.output.strip().splitlines()) == 1
    assert "cannot download" in result.output


def test_an_unknown_htmx_source_is_a_configuration_error(monkeypatch, database):
    from portal.config import ConfigurationError

    monkeypatch.setenv("PORTAL_HTMX_SOURCE", "floppy")
    with pytest.raises(ConfigurationError, match="PORTAL_HTMX_SOURCE must be cdn or local"):
        build_app(database)
