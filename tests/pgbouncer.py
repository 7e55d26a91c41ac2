"""A real PgBouncer the tests own: transaction pooling in front of the test database.

`PgBouncer(database, roles).start()` writes its configuration into a temp dir, starts Debian's
`pgbouncer` on a free loopback port and waits until it accepts connections. The pool is small
on purpose (`pool_size`, 2 by default): tests send more concurrent clients than that, so
transactions of different clients and tenants share server connections — the situation that
breaks server-side prepared statements and session-level state.

`kill()` stops it abruptly (a crashed pooler: every client and server connection drops at
once); `start()` again brings it back on the same port, as a restarted service would.

`PORTAL_TEST_POOLER=pgbouncer` (with `PORTAL_TEST_DATABASE=postgresql`) puts one in front of
the app role's connection for the whole test run (tests/conftest.py); .ci/run has a stage
for it.
"""

import atexit
import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from sqlalchemy.engine import make_url

from tests import pg
from tests.live import free_port, require


def binary() -> str:
    found = shutil.which("pgbouncer") or shutil.which("pgbouncer", path="/usr/sbin:/sbin")
    require(found is not None, "pgbouncer (Debian package pgbouncer)")
    return found


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


class PgBouncer:
    """`server_url` is the PostgreSQL it pools (the tests' by default); bench/load.py starts
    one in front of its own database with a larger pool."""

    def __init__(self, database: str, roles: list[tuple[str, str]], pool_size: int = 2, *,
                 server_url: str | None = None,
                 ignore_startup_parameters: str = "extra_float_digits"):
        self.database = database
        self.roles = roles
        self.pool_size = pool_size
        self.server_url = server_url or pg.SUPERUSER_URL
        self.ignore_startup_parameters = ignore_startup_parameters
        self.port = free_port()
        self.home = Path(tempfile.mkdtemp(prefix="portal-pgbouncer-"))
        self.process: subprocess.Popen | None = None
        atexit.register(self.close)

    @property
    def config_path(self) -> Path:
        return self.home / "pgbouncer.ini"

    @property
    def log_path(self) -> Path:
        return self.home / "pgbouncer.log"

    def config(self) -> str:
        server = make_url(self.server_url)
        host, port = server.host or "127.0.0.1", server.port or 5432
        return f"""[databases]
{self.database} = host={host} port={port} dbname={self.database}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {self.port}
unix_socket_dir =
auth_type = scram-sha-256
auth_file = {self.home / "userlist.txt"}
pool_mode = transaction
default_pool_size = {self.pool_size}
min_pool_size = 0
reserve_pool_size = 0
max_client_conn = 200
server_reset_query =
ignore_startup_parameters = {self.ignore_startup_parameters}
query_wait_timeout = 10
logfile = {self.log_path}
pidfile = {self.home / "pgbouncer.pid"}
"""

    def url_for(self, role: tuple[str, str]) -> str:
        return make_url(pg.url_for(self.database, role)).set(
            host="127.0.0.1", port=self.port
        ).render_as_string(hide_password=False)

    def start(self) -> "PgBouncer":
        self.config_path.write_text(self.config())
        (self.home / "userlist.txt").write_text(
            "".join(f'"{name}" "{password}"\n' for name, password in self.roles))
        command = [binary(), str(self.config_path)]
        if os.geteuid() == 0:  # PgBouncer refuses to run as root
            user = "postgres" if _user_exists("postgres") else "nobody"
            for path in [self.home, *self.home.iterdir()]:
                shutil.chown(path, user)
            command[1:1] = ["-u", user]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            with contextlib.suppress(OSError), socket.create_connection(
                    ("127.0.0.1", self.port), timeout=1):
                return self
            time.sleep(0.1)
        self.kill()
        log = self.log_path.read_text() if self.log_path.exists() else "(no log)"
        raise RuntimeError(f"pgbouncer did not start on port {self.port}:\n{log[-2000:]}")

    def kill(self) -> None:
        """Stop at once, as a crash would: open connections are cut, nothing is drained."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None

    def close(self) -> None:
        self.kill()
        shutil.rmtree(self.home, ignore_errors=True)


def in_front_of(settings: dict) -> tuple[PgBouncer, dict]:
    """Route the app role's connection of a throwaway database's settings through a new
    PgBouncer in transaction mode; the owner connection (migrations, seeding) stays direct."""
    database = make_url(settings["DATABASE_URL"]).database
    bouncer = PgBouncer(database, [pg.APP_ROLE, pg.OWNER_ROLE]).start()
    return bouncer, {**settings, "DATABASE_URL": bouncer.url_for(pg.APP_ROLE),
                     "DATABASE_POOLER": "transaction"}
