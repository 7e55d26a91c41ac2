"""Load benchmark: the portal against a bare baseline, on PostgreSQL, under wrk.

    .venv/bin/python -m bench.load            # 1,000 tenants, ~2 M rows, 20 s per server
    .venv/bin/python -m bench.load --quick    # 100 tenants, ~40 k rows, 3 s (development)

Needs a PostgreSQL superuser (PORTAL_BENCH_PG_URL, default postgres at 127.0.0.1:5432),
Debian's `wrk` and `pgbouncer`. It creates its own database (dropped at the end), loads it
with generate_series and COPY (not the ORM), then serves it four ways, each with gunicorn and
2 sync workers on loopback:

- baseline: `bench.baseline`, JWT check + one hand-written tenant query with psycopg;
- portal: production settings (PORTAL_ENV=production), the restricted app role, RLS;
- portal, BYPASSRLS role: the same, connected as a role that skips the policies;
- portal via PgBouncer: the app role through a PgBouncer of its own in transaction mode,
  with PORTAL_DATABASE_POOLER=transaction.

wrk drives each at 16 connections for a bounded time, the tokens round-robin over the
measured tenants. Phase A runs while the other tenants hold 10 rows of each kind, phase B
after they grew to 1,000 each; the measured tenants hold 1,000 of each kind throughout. In
phase B the four servers take turns, five rounds each (two with --quick), and each figure
is the median of its rounds; a ratio between two servers is the median of the ratios of
their runs in the same round, run one right after the other, so a slow stretch of a shared
host falls on both sides of each ratio.
Then cold correlation (50 symbols x 1,260 returns, a tenant's first request, so no result
is cached for it) and risk (a 50-position portfolio) are timed one request at a time, and
each worker's peak RSS is read. Besides the workers' CPU per request, each run reports what
PostgreSQL's and Redis's processes spent per request (the whole host's, so nothing else
should run beside it). It prints figures and asserts nothing.
"""

import argparse
import contextlib
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
SUPERUSER_URL = os.environ.get(
    "PORTAL_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
SECRET = "bench-load-secret-" + "x" * 40
TOKEN_LIFETIME = timedelta(hours=2)
ROLES = {
    # name: (password, options)
    "portal_bench_owner": ("bench-owner-pw", "LOGIN NOSUPERUSER NOBYPASSRLS CREATEROLE"),
    "portal_bench_app": ("bench-app-pw",
                         "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS NOINHERIT"),
    "portal_bench_bypass": ("bench-bypass-pw",
                            "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE BYPASSRLS NOINHERIT"),
}
CONNECTIONS = 16
ENDPOINTS = ("/api/alerts", "/api/trades")


@dataclass(frozen=True)
class Size:
    tenants: int
    measured: int  # tenants whose tokens wrk uses; they hold `measured_rows` of each kind
    measured_rows: int
    other_rows_a: int  # the other tenants' rows of each kind in phase A ...
    other_rows_b: int  # ... and in phase B
    symbols: int
    days: int
    seconds: int  # each measured wrk run
    warmup: int
    samples: int  # cold correlation / risk requests per figure
    rounds: int  # phase B: wrk runs per server and endpoint, the servers taking turns


FULL = Size(1000, 200, 1000, 10, 1000, 50, 1300, 20, 2, 9, 5)
QUICK = Size(100, 20, 200, 10, 100, 50, 1300, 3, 1, 5, 2)


# --- database ------------------------------------------------------------------------------


def role_url(database: str, role: str, port: int = 5432) -> str:
    return make_url(SUPERUSER_URL).set(
        username=role, password=ROLES[role][0], database=database, port=port
    ).render_as_string(hide_password=False)


def superuser(database: str = "postgres", autocommit: bool = True) -> psycopg.Connection:
    url = make_url(SUPERUSER_URL).set(database=database).render_as_string(hide_password=False)
    return psycopg.connect(url, autocommit=autocommit)


def create_database() -> str:
    name = f"portal_bench_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with superuser() as db:
        for role, (password, options) in ROLES.items():
            exists = db.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role]).fetchone()
            db.execute(sql.SQL(("ALTER" if exists else "CREATE") + " ROLE {} " + options
                               + " PASSWORD {}").format(sql.Identifier(role),
                                                        sql.Literal(password)))
        db.execute(sql.SQL("CREATE DATABASE {} OWNER portal_bench_owner")
                   .format(sql.Identifier(name)))
    return name


def drop_database(name: str) -> None:
    with superuser() as db:
        db.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def portal_env(database_url: str, owner_url: str, workdir: Path) -> dict:
    env = dict(os.environ)
    for name in [name for name in env if name.startswith("PORTAL_")]:
        del env[name]
    env.update({
        "PORTAL_ENV": "production",
        "PORTAL_SECRET_KEY": SECRET,
        "PORTAL_DATABASE_URL": database_url,
        "PORTAL_ADMIN_DATABASE_URL": owner_url,
        "PORTAL_RATELIMIT_STORAGE_URI": rate_limit_storage(),
        # The tokens are issued for the whole run (issue_tokens); the servers must accept
        # that lifetime, since a token whose exp lies beyond it is refused.
        "PORTAL_TOKEN_TTL_SECONDS": str(int(TOKEN_LIFETIME.total_seconds())),
        "PROMETHEUS_MULTIPROC_DIR": str(Path(tempfile.mkdtemp(dir=workdir, prefix="prom-"))),
        "PYTHONPATH": str(ROOT),
    })
    return env


def rate_limit_storage() -> str:
    """Production shares limits through Redis; fall back to memory when none is running."""
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", 6379), 1):
        return "redis://127.0.0.1:6379/0"
    return "memory://"


def init_schema(database: str, workdir: Path) -> None:
    """`flask init-db` exactly as production runs it, then the bypass role's grants."""
    owner = role_url(database, "portal_bench_owner")
    env = portal_env(role_url(database, "portal_bench_app"), owner, workdir)
    subprocess.run([str(VENV_BIN / "flask"), "--app", "wsgi", "init-db"], cwd=ROOT, env=env,
                   check=True, stdout=subprocess.DEVNULL)
    from sqlalchemy import create_engine

    from portal.pgsetup import grant_app_role

    engine = create_engine("postgresql+psycopg://" + owner.split("://", 1)[1])
    grant_app_role(engine, role_url(database, "portal_bench_bypass"))
    engine.dispose()


def measured(column: str, size: Size, inside: bool) -> str:
    """SQL: is the tenant with this slug column one of the measured ones?"""
    op = "<=" if inside else ">"
    return f"split_part({column}, '-', 2)::int {op} {size.measured}"


def load_reference_data(db: psycopg.Connection, size: Size) -> None:
    from portal.auth.passwords import hash_password
    from portal.market.services import trading_days

    db.execute(
        "INSERT INTO tenants (id, slug, name, plan, status, created_at)"
        " SELECT gen_random_uuid(), 'bench-' || lpad(i::text, 5, '0'), 'Bench ' || i, 'pro',"
        " 'active', now() FROM generate_series(1, %s) i", [size.tenants])
    db.execute(
        "INSERT INTO users (id, email, display_name, password_hash, is_active, created_at)"
        " SELECT gen_random_uuid(), 'bench-' || lpad(i::text, 5, '0') || '@bench.test',"
        " 'Bench user ' || i, %s, true, now() FROM generate_series(1, %s) i",
        [hash_password("bench-password"), size.tenants])
    db.execute(
        "INSERT INTO memberships (tenant_id, user_id, role, created_at)"
        " SELECT t.id, u.id, 'trader', now() FROM tenants t"
        " JOIN users u ON u.email = t.slug || '@bench.test'")
    symbols = [f"S{index:02d}" for index in range(size.symbols)]
    with db.cursor().copy("COPY instruments (symbol, name, sector) FROM STDIN") as copy:
        for symbol in symbols:
            copy.write_row((symbol, f"Bench {symbol}", "bench"))
    # A market + noise factor model, so correlations are neither all 0 nor all 1.
    rng = np.random.default_rng(9)
    days = trading_days(size.days, date.today())
    market = rng.normal(0.0003, 0.01, size.days)
    with db.cursor().copy("COPY prices (symbol, day, close) FROM STDIN") as copy:
        for index, symbol in enumerate(symbols):
            beta = 0.4 + index / size.symbols
            path = 100 * np.cumprod(1 + beta * market + rng.normal(0, 0.012, size.days))
            for day, close in zip(days, path, strict=True):
                copy.write_row((symbol, day, f"{close:.4f}"))


def grow(db: psycopg.Connection, size: Size, where: str, first: int, last: int) -> None:
    """Rows `first`..`last` of alerts and of trades for every tenant matching `where`."""
    if last < first:
        return
    source = (f" FROM memberships m JOIN tenants t ON t.id = m.tenant_id,"
              f" generate_series({first}, {last}) g WHERE {where}")
    db.execute(
        "INSERT INTO alerts (tenant_id, id, title, message, severity, source, tags, created_at,"
        " created_by, acknowledged_at, acknowledged_by)"
        " SELECT m.tenant_id, gen_random_uuid(), 'Bench alert ' || g, 'Raised by bench.load',"
        " (ARRAY['info','warning','error','critical'])[1 + g % 4], 'bench',"
        " '[\"bench\", \"load\"]'::json, now() - g * interval '7 minutes', m.user_id,"
        " CASE WHEN g % 3 = 0 THEN now() - g * interval '7 minutes' + interval '1 minute' END,"
        " CASE WHEN g % 3 = 0 THEN m.user_id END" + source)
    # 80 % filled market buys over every symbol (so a measured tenant holds all of them),
    # 10 % pending and 10 % cancelled limit orders.
    db.execute(
        "INSERT INTO trades (tenant_id, id, symbol, side, quantity, order_type, limit_price,"
        " status, fill_price, fee, created_at, created_by, filled_at, cancelled_at)"
        f" SELECT m.tenant_id, gen_random_uuid(), 'S' || lpad((g % {size.symbols})::text, 2,"
        " '0'), 'buy', 1 + g % 7, CASE WHEN g % 10 < 2 THEN 'limit' ELSE 'market' END,"
        " CASE WHEN g % 10 < 2 THEN 50 END,"
        " CASE g % 10 WHEN 0 THEN 'pending' WHEN 1 THEN 'cancelled' ELSE 'filled' END,"
        " CASE WHEN g % 10 >= 2 THEN 90 + g % 20 END,"
        " CASE WHEN g % 10 >= 2 THEN 0.1 ELSE 0 END,"
        " now() - g * interval '11 minutes', m.user_id,"
        " CASE WHEN g % 10 >= 2 THEN now() - g * interval '11 minutes' END,"
        " CASE WHEN g % 10 = 1 THEN now() - g * interval '11 minutes' + interval '1 minute' END"
        + source)


def vacuum(database: str) -> None:
    with superuser(database) as db:
        db.execute("VACUUM ANALYZE")


def row_counts(database: str) -> tuple[int, int]:
    with superuser(database) as db:
        return (db.execute("SELECT count(*) FROM alerts").fetchone()[0],
                db.execute("SELECT count(*) FROM trades").fetchone()[0])


def issue_tokens(database: str, size: Size, workdir: Path) -> list[str]:
    """Bearer tokens of the measured tenants' users, issued by the portal's own code."""
    from portal import create_app, tenancy
    from portal.auth.context import issue_token
    from portal.auth.models import Membership

    with superuser(database) as db:
        pairs = db.execute(
            "SELECT m.tenant_id, m.user_id FROM memberships m JOIN tenants t"
            f" ON t.id = m.tenant_id WHERE {measured('t.slug', size, True)} ORDER BY t.slug"
        ).fetchall()
    owner = role_url(database, "portal_bench_owner")
    app = create_app({"DATABASE_URL": role_url(database, "portal_bench_app"),
                      "ADMIN_DATABASE_URL": owner, "SECRET_KEY": SECRET,
                      "JWT_SECRET_KEY": SECRET, "LOG_LEVEL": "WARNING",
                      "JWT_ACCESS_TOKEN_EXPIRES": TOKEN_LIFETIME})
    tokens = []
    with app.test_request_context("/"):
        for tenant_id, user_id in pairs:
            with tenancy.tenant_session_scope(tenant_id, admin=True) as db:
                membership = db.get(Membership, (tenant_id, user_id))
                tokens.append(issue_token(membership.user, membership))
        tenancy.get_engine().dispose()
        tenancy.get_engine(admin=True).dispose()
    return tokens


# --- servers -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Server:
    name: str
    port: int
    process: subprocess.Popen

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def worker_pids(self) -> list[str]:
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return children.read_text().split()

    def cpu_seconds(self) -> float:
        """User + system CPU the workers have used so far: what a request costs the server,
        whatever else the shared machine is doing (wall times are not)."""
        ticks = 0
        for pid in self.worker_pids():
            with contextlib.suppress(OSError):
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                ticks += int(fields[11]) + int(fields[12])  # utime, stime
        return ticks / os.sysconf("SC_CLK_TCK")

    def worker_peak_rss_mib(self) -> list[float]:
        """VmHWM (peak resident set) of each gunicorn worker, in MiB."""
        peaks = []
        for pid in self.worker_pids():
            with contextlib.suppress(OSError):
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        peaks.append(int(line.split()[1]) / 1024)
        return peaks

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_gunicorn(name: str, app: str, env: dict, workdir: Path, conf: bool) -> Server:
    port = free_port()
    command = [str(VENV_BIN / "gunicorn"), "--workers", "2", "--worker-class", "sync",
               "--bind", f"127.0.0.1:{port}", app]
    if conf:
        command[1:1] = ["-c", "python:portal.gunicorn_conf"]
    log = open(workdir / f"{name}.log", "wb")  # noqa: SIM115 - lives as long as the server
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=log)
    server = Server(name, port, process)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited; see {workdir / (name + '.log')}")
        try:
            urllib.request.urlopen(server.url + "/api/alerts", timeout=2)
        except urllib.error.HTTPError:
            return server  # 401 without a token: it answers
        except OSError:
            time.sleep(0.3)
            continue
        return server
    raise RuntimeError(f"{name} did not start in 60 s")


# --- wrk -----------------------------------------------------------------------------------

LUA = """
local tokens = {%s}
local counter = 0
local made = 0

function setup(thread)
  thread:set("offset", made * 7)
  made = made + 1
end

function init(args)
  counter = offset or 0
end

function request()
  counter = counter + 1
  local token = tokens[(counter %% #tokens) + 1]
  return wrk.format("GET", nil, {["Authorization"] = "Bearer " .. token})
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH {\\"requests\\": %%d, \\"duration_us\\": %%d, \\"p50_us\\": %%d, \\"p99_us\\": %%d," ..
    " \\"socket_errors\\": %%d, \\"non2xx\\": %%d}\\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.timeout, e.status))
end
"""


def service_cpu_seconds() -> dict[str, float]:
    """User + system CPU so far of every PostgreSQL and Redis process on this host: what the
    requests cost the services behind the servers (their share is not in the workers')."""
    used = {"postgres": 0, "redis": 0}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            text = stat.read_text()
            name = text[text.index("(") + 1:text.rindex(")")]
            kind = ("postgres" if name.startswith(("postgres", "postmaster"))
                    else "redis" if name.startswith("redis") else None)
            if kind is not None:
                fields = text.rsplit(")", 1)[1].split()
                used[kind] += int(fields[11]) + int(fields[12])
    return {kind: ticks / os.sysconf("SC_CLK_TCK") for kind, ticks in used.items()}


@dataclass(frozen=True)
class Run:
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    requests: int
    cpu_ms: float = 0.0  # the workers' CPU per request
    postgres_ms: float = 0.0  # PostgreSQL's CPU per request (every backend of the host)
    redis_ms: float = 0.0  # Redis's CPU per request
    round_rps: tuple[float, ...] = ()  # phase B: each round's req/s, in the order run

    @property
    def ms_per_request(self) -> float:
        return 1000.0 / self.rps if self.rps else float("inf")


def wrk(url: str, script: Path, seconds: int) -> Run:
    output = subprocess.run(
        ["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{seconds}s", "--timeout", "5s", "-s",
         str(script), url], capture_output=True, text=True, check=True, timeout=seconds + 60,
    ).stdout
    line = next(line for line in output.splitlines() if line.startswith("BENCH "))
    figures = json.loads(line.removeprefix("BENCH "))
    return Run(figures["requests"] / (figures["duration_us"] / 1e6), figures["p50_us"] / 1000,
               figures["p99_us"] / 1000, figures["socket_errors"] + figures["non2xx"],
               figures["requests"])


def measure(server: Server, path: str, script: Path, size: Size) -> Run:
    wrk(server.url + path, script, size.warmup)
    return report(server, path, timed_run(server, path, script, size.seconds))


def timed_run(server: Server, path: str, script: Path, seconds: int) -> Run:
    cpu, services = server.cpu_seconds(), service_cpu_seconds()
    run = wrk(server.url + path, script, seconds)
    per_request = 1000 / max(run.requests, 1)
    after = service_cpu_seconds()
    return replace(run, cpu_ms=(server.cpu_seconds() - cpu) * per_request,
                   postgres_ms=(after["postgres"] - services["postgres"]) * per_request,
                   redis_ms=(after["redis"] - services["redis"]) * per_request)


def report(server: Server, path: str, run: Run, rounds: list[Run] | None = None) -> Run:
    # Each round's req/s and p99: on a shared host the spread says how far one figure goes.
    each = (" (rounds: " + ", ".join(f"{r.rps:.0f}" for r in rounds) + " req/s; p99 "
            + ", ".join(f"{r.p99_ms:.0f}" for r in rounds) + " ms)" if rounds else "")
    print(f"  {server.name:<28} {path:<12} {run.rps:8.0f} req/s  p50 {run.p50_ms:6.1f} ms"
          f"  p99 {run.p99_ms:6.1f} ms  cpu {run.cpu_ms:5.2f} ms/req (postgres"
          f" {run.postgres_ms:4.2f}, redis {run.redis_ms:4.2f})  errors {run.errors}"
          f"{each}", flush=True)
    return run


def measure_in_turns(servers: list[Server], path: str, script: Path,
                     size: Size) -> dict[str, Run]:
    """Every server `size.rounds` times, taking turns, `size.seconds` in all each: a slow
    stretch of a shared host falls on every server alike instead of on whichever ran then.
    Each figure is the median of the rounds (req/s, p50, p99); CPU per request is over all
    of them."""
    for server in servers:
        wrk(server.url + path, script, size.warmup)
    seconds = max(1, size.seconds // size.rounds)
    runs: dict[str, list[Run]] = {server.name: [] for server in servers}
    for _round in range(size.rounds):
        for server in servers:
            runs[server.name].append(timed_run(server, path, script, seconds))
    results = {}
    for server in servers:
        rounds = runs[server.name]
        requests = sum(r.requests for r in rounds)
        results[server.name] = report(server, path, Run(
            rps=statistics.median(r.rps for r in rounds),
            p50_ms=statistics.median(r.p50_ms for r in rounds),
            p99_ms=statistics.median(r.p99_ms for r in rounds),
            errors=sum(r.errors for r in rounds), requests=requests,
            cpu_ms=sum(r.cpu_ms * r.requests for r in rounds) / max(requests, 1),
            postgres_ms=sum(r.postgres_ms * r.requests for r in rounds) / max(requests, 1),
            redis_ms=sum(r.redis_ms * r.requests for r in rounds) / max(requests, 1),
            round_rps=tuple(r.rps for r in rounds),
        ), rounds)
    return results


# --- cold correlation and risk -------------------------------------------------------------


def timed_get(server: "Server", url: str, token: str) -> tuple[float, float]:
    """Wall time and the workers' CPU time of one request, in ms."""
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    cpu = server.cpu_seconds()
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=60) as response:
        response.read()
        if response.status != 200:
            raise RuntimeError(f"{url} answered {response.status}")
    return (time.perf_counter() - started) * 1000, (server.cpu_seconds() - cpu) * 1000


def analytics_timings(server: Server, tokens: list[str], size: Size
                      ) -> dict[str, list[tuple[float, float]]]:
    """Each sample is a different tenant's first request for that figure, so no result is
    cached for it; the shared closes may be (they are the same for every tenant)."""
    symbols = ",".join(f"S{index:02d}" for index in range(size.symbols))
    timings: dict[str, list[tuple[float, float]]] = {}
    fresh = iter(tokens)
    for method in ("pearson", "spearman", "kendall"):
        url = (f"{server.url}/api/correlation/matrix?symbols={symbols}&lookback_days=1260"
               f"&method={method}")
        timings[method] = [timed_get(server, url, next(fresh)) for _ in range(size.samples)]
    url = f"{server.url}/api/metrics/risk?lookback_days=1260"
    timings["risk"] = [timed_get(server, url, next(fresh)) for _ in range(size.samples)]
    return timings


# --- the run -------------------------------------------------------------------------------


def ratio(run: Run, base: Run) -> float:
    """`run`'s time per request over `base`'s: paired round by round when both ran in turns
    (the median of each round's ratio), else from their overall figures."""
    if run.round_rps and len(run.round_rps) == len(base.round_rps):
        return statistics.median(
            theirs / ours if ours else float("inf")
            for ours, theirs in zip(run.round_rps, base.round_rps, strict=True))
    return run.ms_per_request / base.ms_per_request


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small data, short runs")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (logs)")
    options = parser.parse_args(argv)
    size = QUICK if options.quick else FULL
    sys.path.insert(0, str(ROOT))
    for tool in ("wrk", "pgbouncer"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is not installed (apt-get install {tool})")

    workdir = Path(tempfile.mkdtemp(prefix="portal-bench-"))
    database = create_database()
    servers: list[Server] = []
    pgbouncer = None
    print(f"bench.load {'--quick ' if options.quick else ''}on {platform.node()}, "
          f"{os.cpu_count()} CPUs, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; database {database}")
    try:
        started = time.perf_counter()
        init_schema(database, workdir)
        with superuser(database, autocommit=False) as db:
            db.execute("SET synchronous_commit = off")
            load_reference_data(db, size)
            grow(db, size, measured("t.slug", size, True), 1, size.measured_rows)
            grow(db, size, measured("t.slug", size, False), 1, size.other_rows_a)
        vacuum(database)
        alerts, trades = row_counts(database)
        print(f"phase A data: {size.tenants} tenants, {alerts:,} alerts, {trades:,} trades "
              f"({time.perf_counter() - started:.0f} s)", flush=True)
        tokens = issue_tokens(database, size, workdir)
        script = workdir / "tokens.lua"
        script.write_text(LUA % ", ".join(f'"{token}"' for token in tokens))

        app_url = role_url(database, "portal_bench_app")
        owner_url = role_url(database, "portal_bench_owner")
        baseline_env = portal_env(app_url, owner_url, workdir)
        baseline_env.update({"BENCH_DATABASE_URL": role_url(database, "portal_bench_bypass"),
                             "BENCH_JWT_SECRET": SECRET})
        baseline = start_gunicorn("baseline", "bench.baseline:app", baseline_env, workdir,
                                  conf=False)
        servers.append(baseline)
        portal = start_gunicorn("portal", "wsgi:app", portal_env(app_url, owner_url, workdir),
                                workdir, conf=True)
        servers.append(portal)

        print(f"\nPhase A: the other tenants hold {size.other_rows_a} rows of each kind; "
              f"wrk -c{CONNECTIONS}, {size.seconds} s per run")
        phase_a = {path: measure(portal, path, script, size) for path in ENDPOINTS}

        started = time.perf_counter()
        with superuser(database, autocommit=False) as db:
            db.execute("SET synchronous_commit = off")
            grow(db, size, measured("t.slug", size, False), size.other_rows_a + 1,
                 size.other_rows_b)
        vacuum(database)
        alerts, trades = row_counts(database)
        print(f"\nphase B data: {alerts:,} alerts, {trades:,} trades "
              f"({time.perf_counter() - started:.0f} s)", flush=True)

        bypass = start_gunicorn(
            "portal, BYPASSRLS role", "wsgi:app",
            portal_env(role_url(database, "portal_bench_bypass"), owner_url, workdir),
            workdir, conf=True)
        servers.append(bypass)
        from tests.pgbouncer import PgBouncer

        # The tests' PgBouncer in transaction mode, with a pool of four, ignoring the startup
        # options the bench's clients send.
        roles = [(role, password) for role, (password, _) in ROLES.items()]
        pgbouncer = PgBouncer(database, roles, pool_size=4, server_url=SUPERUSER_URL,
                              ignore_startup_parameters="extra_float_digits,options").start()
        pooled_env = portal_env(role_url(database, "portal_bench_app", pgbouncer.port), owner_url,
                                workdir)
        pooled_env["PORTAL_DATABASE_POOLER"] = "transaction"  # no server-side prepares
        pooled = start_gunicorn("portal via PgBouncer (txn)", "wsgi:app", pooled_env, workdir,
                                conf=True)
        servers.append(pooled)

        print(f"\nPhase B: the other tenants hold {size.other_rows_b} rows of each kind; "
              f"{size.rounds} rounds of {max(1, size.seconds // size.rounds)} s per server, "
              "taking turns (medians)")
        phase_b = {}
        for path in ENDPOINTS:
            for name, run in measure_in_turns([baseline, portal, bypass, pooled], path, script,
                                              size).items():
                phase_b[(name, path)] = run

        print("\nCold analytics on the portal (one request at a time, ms, median of "
              f"{size.samples} tenants' first requests; cpu = the workers' CPU time)")
        timings = analytics_timings(portal, tokens, size)
        for name, samples in timings.items():
            label = f"correlation {name}" if name != "risk" else "risk metrics"
            walls, cpus = [wall for wall, _ in samples], [cpu for _, cpu in samples]
            print(f"  {label:<24} wall median {statistics.median(walls):7.1f}  "
                  f"first {walls[0]:7.1f}  cpu median {statistics.median(cpus):6.1f}  "
                  f"first {cpus[0]:6.1f}")

        print("\nSummary (phase B)")
        print("| endpoint | server | req/s | p50 ms | p99 ms | x baseline time/request "
              "| CPU ms/request | x baseline CPU | PostgreSQL CPU ms/request "
              "| Redis CPU ms/request |")
        print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for path in ENDPOINTS:
            base = phase_b[(baseline.name, path)]
            for server in (baseline, portal, bypass, pooled):
                run = phase_b[(server.name, path)]
                print(f"| `{path}` | {server.name} | {run.rps:.0f} | {run.p50_ms:.1f} | "
                      f"{run.p99_ms:.1f} | {ratio(run, base):.2f} | {run.cpu_ms:.2f} | "
                      f"{run.cpu_ms / base.cpu_ms:.2f} | {run.postgres_ms:.2f} | "
                      f"{run.redis_ms:.2f} |")
        for path in ENDPOINTS:
            rls = ratio(phase_b[(portal.name, path)], phase_b[(bypass.name, path)])
            change = ratio(phase_b[(portal.name, path)], phase_a[path])
            print(f"{path}: RLS cost (app role / BYPASSRLS time per request) {rls:.2f}x; "
                  f"phase A -> B {phase_a[path].rps:.0f} -> {phase_b[(portal.name, path)].rps:.0f}"
                  f" req/s ({(change - 1) * 100:+.0f}% time per request), p99 "
                  f"{phase_a[path].p99_ms:.1f} -> {phase_b[(portal.name, path)].p99_ms:.1f} ms")
        print("peak RSS per worker (MiB): " + "; ".join(
            f"{server.name} " + ", ".join(f"{mib:.0f}" for mib in server.worker_peak_rss_mib())
            for server in servers))
    finally:
        for server in servers:
            server.stop()
        if pgbouncer is not None:
            pgbouncer.close()
        drop_database(database)
        if options.keep:
            print(f"logs kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
