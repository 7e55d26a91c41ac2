"""What an operator sees from the commands: every bad price row, one-line setup errors, a busy
port found before anything runs, counted nouns."""

import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy import func, select

from portal import tenancy
from portal.cli import OperatorCommand, database_error_line, plural
from portal.market.models import Price
from tests.conftest import build_app
from tests.helpers import run_command

ROOT = Path(__file__).resolve().parents[2]


def price_count(app) -> int:
    with app.app_context(), tenancy.unscoped_session() as db:
        return db.scalar(select(func.count()).select_from(Price))


def test_every_bad_row_is_reported_and_nothing_is_imported(app, tmp_path):
    symbol = "ALL" + uuid.uuid4().hex[:4].upper()
    csv = tmp_path / "prices.csv"
    csv.write_text(
        "date,symbol,close\n"
        f"2026-01-05,{symbol},10\n"
        f"2026-11-31,{symbol},10\n"      # line 3: a day November does not have
        f"2026-01-07,{symbol},-1\n"      # line 4
        f"05/01/2026,{symbol},10\n"      # line 5: not ISO
        f"2026-01-08,{symbol},ten\n"     # line 6
    )
    before = price_count(app)
    result = run_command(app, "import-prices", str(csv))
    assert result.exit_code == 1
    assert "has 4 bad lines; nothing was imported" in result.output
    assert "line 3: no such date 2026-11-31" in result.output
    assert "line 4: close '-1' must be positive" in result.output
    assert "line 5: date '05/01/2026' is not YYYY-MM-DD" in result.output
    assert "line 6: close 'ten' is not a number" in result.output
    assert "Traceback" not in result.output
    assert price_count(app) == before


def test_a_file_full_of_bad_rows_shows_the_first_twenty_and_counts_the_rest(app, tmp_path):
    csv = tmp_path / "prices.csv"
    csv.write_text("date,symbol,close\n" + "".join(f"2026-02-30,X{i},1\n" for i in range(23)))
    output = run_command(app, "import-prices", str(csv)).output
    assert "has 23 bad lines" in output
    assert "line 21: no such date 2026-02-30" in output
    assert "line 22:" not in output
    assert "and 3 more bad lines" in output


def test_the_import_is_reported_before_the_fills_it_causes(app, tmp_path):
    symbol = "ORD" + uuid.uuid4().hex[:4].upper()
    csv = tmp_path / "prices.csv"
    csv.write_text(f"date,symbol,close\n2026-01-05,{symbol},10.5\n")
    result = run_command(app, "import-prices", str(csv))
    assert result.exit_code == 0, result.output
    imported = result.output.index(f"Imported 1 close for {symbol}")
    assert result.output.index("Filled ") > imported
    assert "(s)" not in result.output


def test_plurals_are_words_not_parentheses():
    assert plural(1, "close") == "1 close"
    assert plural(0, "close") == "0 closes"
    assert plural(2, "organisation") == "2 organisations"


def test_every_portal_command_answers_setup_errors_in_one_line(app):
    ours = {name: cmd for name, cmd in app.cli.commands.items()}
    assert {"init-db", "seed-demo", "import-prices", "demo", "prune", "match-orders"} <= set(ours)
    plain = [name for name, cmd in ours.items() if not isinstance(cmd, OperatorCommand)]
    assert plain == [], "declare these with portal.cli.command"


def unreachable_database(tmp_path) -> dict:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return {"DATABASE_URL": f"postgresql://portal_app:pw@127.0.0.1:{port}/portal",
            "ADMIN_DATABASE_URL": f"postgresql://portal_owner:pw@127.0.0.1:{port}/portal"}, port


@pytest.mark.parametrize("command", [["init-db"], ["seed-demo"], ["match-orders"], ["prune"]])
def test_an_unreachable_database_is_one_line_and_a_failure(tmp_path, command):
    database, port = unreachable_database(tmp_path)
    result = run_command(build_app(database), *command)
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith("Error: cannot use the database at 127.0.0.1:")
    assert f"nothing answers at 127.0.0.1:{port}" in lines[0]
    assert "start PostgreSQL" in lines[0]


def test_a_sqlite_file_that_cannot_be_opened_is_one_line(tmp_path):
    url = f"sqlite:///{tmp_path}/no/such/folder/portal.sqlite3"
    result = run_command(build_app({"DATABASE_URL": url, "ADMIN_DATABASE_URL": url}), "init-db")
    assert result.exit_code == 1
    assert len(result.output.strip().splitlines()) == 1, result.output
    assert "unable to open database file" in result.output
    assert "PORTAL_DATABASE_URL" in result.output


def operational_error(message: str) -> sa_exc.OperationalError:
    return sa_exc.OperationalError("connect", {}, Exception(message))


@pytest.mark.parametrize(("said", "advice"), [
    ('connection to server at "10.0.0.5", port 5432 failed: FATAL:  password authentication '
     'failed for user "portal_owner"', "check the password"),
    ('connection to server at "db" (10.0.0.5), port 5432 failed: FATAL:  role "portal_owner" '
     'does not exist', "create the owner role first"),
    ('connection to server at "db" (10.0.0.5), port 5432 failed: FATAL:  database "portal" '
     'does not exist', "create the database first"),
])
def test_what_postgresql_says_becomes_advice(said, advice):
    line = database_error_line(operational_error(said))
    assert "\n" not in line
    assert advice in line
    assert said.split("FATAL:")[1].strip() in line
    assert "10.0.0.5:5432" in line or "db:5432" in line


def cli(args: list[str], **env) -> subprocess.CompletedProcess:
    environment = {key: value for key, value in os.environ.items()
                   if not key.startswith("PORTAL_")}
    environment.update(env)
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=environment,
                          capture_output=True, text=True, timeout=60)


def test_a_missing_secret_in_production_stops_the_cli_in_one_line(tmp_path):
    done = cli(["-m", "flask", "--app", "wsgi", "init-db"], PORTAL_ENV="production",
               PORTAL_DATABASE_URL=f"sqlite:///{tmp_path}/p.sqlite3")
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines() == [
        done.stderr.strip()], done.stderr
    assert "PORTAL_SECRET_KEY must be set" in done.stderr
    assert not (tmp_path / "p.sqlite3").exists()


def test_a_malformed_database_url_stops_the_cli_in_one_line():
    done = cli(["-m", "flask", "--app", "wsgi", "init-db"],
               PORTAL_DATABASE_URL="postgres//nobody@nowhere")
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "PORTAL_DATABASE_URL is not a database URL" in done.stderr


def test_gunicorn_refuses_a_missing_secret_in_one_line_and_leaves_no_folder(tmp_path):
    done = cli(["-m", "gunicorn", "-c", "python:portal.gunicorn_conf", "--no-control-socket",
                "--bind", "127.0.0.1:0", "wsgi:app"],
               PORTAL_ENV="production", TMPDIR=str(tmp_path))
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    assert "AlphaPulse Portal cannot start: PORTAL_SECRET_KEY must be set" in done.stderr
    assert list(tmp_path.glob("portal-prometheus-*")) == []


def test_demo_checks_the_port_before_migrating(tmp_path):
    url = f"sqlite:///{tmp_path}/demo.sqlite3"
    app = build_app({"DATABASE_URL": url, "ADMIN_DATABASE_URL": url})
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run_command(app, "demo", "--port", str(port))
    assert result.exit_code == 1
    assert f"cannot serve on 127.0.0.1:{port}" in result.output
    assert f"--port {port + 1}" in result.output
    assert "Schema is at" not in result.output
    with app.app_context(), tenancy.get_engine(admin=True).connect() as connection:
        assert connection.exec_driver_sql(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table'").scalar() == 0


def test_the_demo_banner_says_initech_is_suspended(app, database, monkeypatch):
    served = []
    monkeypatch.setattr("werkzeug.serving.run_simple",
                        lambda host, port, *_a, **_k: served.append((host, port)))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = run_command(build_app(database), "demo", "--port", str(port))
    assert result.exit_code == 0, result.output
    assert served == [("127.0.0.1", port)]
    initech = next(line for line in result.output.splitlines() if "user@initech.test" in line)
    assert "suspended" in initech
    acme = next(line for line in result.output.splitlines() if "admin@acme.test" in line)
    assert "suspended" not in acme


@contextmanager
def gunicorn_serving(database, tmp_path, **settings) -> Iterator[subprocess.Popen]:
    """The portal under gunicorn with its production settings file and one worker, as a
    fresh environment (no PORTAL_, Prometheus or BLAS settings of the test run's own) plus
    `settings`, once it answers /health; stopped afterwards."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    environment = {key: value for key, value in os.environ.items()
                   if not key.startswith(("PORTAL_", "OPENBLAS_", "OMP_", "MKL_"))
                   and key != "PROMETHEUS_MULTIPROC_DIR"}
    environment.update(TMPDIR=str(tmp_path), PORTAL_DATABASE_URL=database["DATABASE_URL"],
                       PORTAL_ADMIN_DATABASE_URL=database["ADMIN_DATABASE_URL"], **settings)
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "python:portal.gunicorn_conf", "--workers", "1",
         "--no-control-socket", "--bind", f"127.0.0.1:{port}", "wsgi:app"],
        cwd=ROOT, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5):
                    break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline
                time.sleep(0.2)
        yield server
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_gunicorn_removes_the_prometheus_folder_it_created(database, tmp_path):
    with gunicorn_serving(database, tmp_path):
        assert len(list(tmp_path.glob("portal-prometheus-*"))) == 1
    assert list(tmp_path.glob("portal-prometheus-*")) == []


def test_gunicorn_workers_run_one_blas_thread_unless_told_otherwise(database, tmp_path):
    """Each worker's numpy runs one thread (the workers are the parallelism): OpenBLAS starts
    no helper threads in it, which it would otherwise start at import, one per further CPU.
    An operator's own OPENBLAS_NUM_THREADS is kept."""

    def worker_threads(**settings) -> int:
        with gunicorn_serving(database, tmp_path, **settings) as server:
            (worker,) = Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split()
            status = Path(f"/proc/{worker}/status").read_text()
        return int(next(line.split()[1] for line in status.splitlines()
                        if line.startswith("Threads:")))

    assert worker_threads() == 1
    assert worker_threads(OPENBLAS_NUM_THREADS="2") == 2
