"""`flask --app wsgi <command>`: schema, demo data, prices."""

import socket
import sys

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from portal import migrate, tenancy
from portal.cli import command, plural
from portal.trades.commands import register as register_trade_commands


def register(app: Flask) -> None:
    app.cli.add_command(init_db)
    app.cli.add_command(downgrade_db)
    app.cli.add_command(seed_demo)
    app.cli.add_command(import_prices)
    app.cli.add_command(demo)
    app.cli.add_command(prune)
    app.cli.add_command(set_retention)
    app.cli.add_command(vendor_htmx)
    register_trade_commands(app)


@command("init-db")
@with_appcontext
def init_db() -> None:
    """Bring the schema to the newest migration (as the owner connection)."""
    from psycopg.errors import InsufficientPrivilege

    from portal import pgsetup

    engine = tenancy.get_engine(admin=True)
    if engine.dialect.name == "postgresql":
        try:
            pgsetup.ensure_app_role(engine, current_app.config["DATABASE_URL"])
        except InsufficientPrivilege as error:
            owner = engine.url.username
            app_role = pgsetup.app_role_name(current_app.config["DATABASE_URL"])
            raise click.ClickException(
                f"the owner role {owner} may not create the app role {app_role} "
                f"({str(error).strip()}): run ALTER ROLE {owner} CREATEROLE as a "
                f"superuser, or create {app_role} yourself (README, \"Running on PostgreSQL\")"
            ) from None
        for warning in pgsetup.rls_bypass_warnings(engine, current_app.config["DATABASE_URL"]):
            click.echo(f"WARNING: {warning}", err=True)
            if current_app.config["PORTAL_ENV"] != "development":
                raise click.ClickException("refusing to set up a database whose row-level "
                                           "security the app could bypass")
    migrate.upgrade(engine)
    if engine.dialect.name == "postgresql":
        pgsetup.grant_app_role(engine, current_app.config["DATABASE_URL"])
    click.echo(f"Schema is at the newest migration ({engine.dialect.name}).")


@command("downgrade-db")
@click.argument("revision")
@with_appcontext
def downgrade_db(revision: str) -> None:
    """Undo migrations down to REVISION (e.g. 0002; `base` empties the schema). Rollback."""
    engine = tenancy.get_engine(admin=True)
    before = migrate.current_revision(engine)
    migrate.downgrade(engine, revision)
    click.echo(f"Schema downgraded from {before} to {migrate.current_revision(engine)} "
               f"({engine.dialect.name}).")


@command("seed-demo")
@with_appcontext
def seed_demo() -> None:
    """Create the demo tenants, users, prices, alerts and trades (idempotent)."""
    from portal.seed import seed_demo as run

    created = run()
    for what, count in created.items():
        click.echo(f"{what}: {count} created")


@command("import-prices")
@with_appcontext
@click.argument("file", type=click.File("r", encoding="utf-8-sig"))
def import_prices(file) -> None:
    """Load daily closes from a CSV with the header date,symbol,close."""
    from portal.market.services import (
        PriceFileError,
        parse_price_rows,
        prices_imported,
    )
    from portal.market.services import (
        import_prices as load,
    )

    try:
        rows = parse_price_rows(file)
    except PriceFileError as exc:
        click.echo(f"{file.name} has {plural(len(exc.problems), 'bad line')}; "
                   "nothing was imported:", err=True)
        for line in exc.report().splitlines():
            click.echo(f"  {line}", err=True)
        sys.exit(1)
    with tenancy.unscoped_session(admin=True) as db:
        result = load(db, rows)
    click.echo(
        f"Imported {plural(result.rows, 'close')} for {', '.join(result.symbols)}"
        + (f" (new: {', '.join(result.new_symbols)})" if result.new_symbols else "")
    )
    # Matching pending limit orders reports after the import it follows.
    prices_imported.send(current_app._get_current_object(), result=result)


@command("demo")
@with_appcontext
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True,
              help="Port to serve on; pick another when 5000 is taken.")
@click.pass_context
def demo(ctx, host: str, port: int) -> None:
    """Migrate, seed the demo data, print the demo logins and serve the portal."""
    from portal.seed import DEMO_PASSWORD, TENANTS, USERS

    # Before migrating and seeding: a busy port should cost the user nothing but a retry.
    refuse_busy_port(host, port)
    ctx.invoke(init_db)
    ctx.invoke(seed_demo)
    click.echo(f"\nAlphaPulse Portal: http://{host}:{port}/  (password for every demo user: "
               f"{DEMO_PASSWORD})")
    suspended = {slug for slug, _name, _plan, status in TENANTS if status == "suspended"}
    for email, _name, memberships in USERS:
        roles = ", ".join(f"{role} in {slug}" for slug, role in memberships)
        if any(slug in suspended for slug, _role in memberships):
            roles += " (organisation suspended: cannot sign in)"
        click.echo(f"  {email:22} {roles}")
    # Flask ignores app.run() inside a CLI command, so serve with werkzeug directly.
    from werkzeug.serving import run_simple

    run_simple(host, port, current_app._get_current_object(), threaded=True)


def refuse_busy_port(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        # As werkzeug binds: a port left in TIME_WAIT by a previous run is free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            raise click.ClickException(
                f"cannot serve on {host}:{port} ({error.strerror or error}); "
                f"another program has it: pick a free port with --port, e.g. --port {port + 1}"
            ) from None


@command("prune")
@click.option("--idempotency-hours", default=24, show_default=True,
              help="Keep idempotency records this long; a retry after that places a new order.")
@click.option("--batch-size", default=1000, show_default=True, type=click.IntRange(min=1),
              help="Rows deleted per transaction when applying retention.")
@with_appcontext
def prune(idempotency_hours: int, batch_size: int) -> None:
    """Apply each tenant's retention (acknowledged alerts, audit records) and delete ended
    sessions past their expiry and old idempotency records, tenant by tenant. Open alerts,
    trades and fills are never pruned."""
    from datetime import timedelta

    from sqlalchemy import delete, select

    from portal.alerts.services import prune_acknowledged
    from portal.audit.services import prune as prune_audit
    from portal.auth.models import RevokedSession, Tenant
    from portal.db import utcnow
    from portal.idempotency.models import IdempotencyRecord

    now = utcnow()
    with tenancy.unscoped_session(admin=True) as db:
        tenants = db.execute(select(Tenant.id, Tenant.alert_retention_days,
                                    Tenant.audit_retention_days)).all()
    tokens = records = alerts = audits = 0
    for tenant_id, alert_days, audit_days in tenants:
        with tenancy.tenant_session_scope(tenant_id, admin=True) as db:
            tokens += db.execute(
                delete(RevokedSession).where(RevokedSession.expires_at < now)).rowcount
            records += db.execute(
                delete(IdempotencyRecord).where(
                    IdempotencyRecord.created_at < now - timedelta(hours=idempotency_hours))
            ).rowcount
            alerts += prune_acknowledged(db, now - timedelta(days=alert_days), batch_size)
            audits += prune_audit(db, now - timedelta(days=audit_days), batch_size)
    click.echo(f"Pruned {plural(tokens, 'ended session')} past expiry and "
               f"{plural(records, 'idempotency record')} in "
               f"{plural(len(tenants), 'organisation')}.")
    click.echo(f"Retention: pruned {plural(alerts, 'acknowledged alert')} and "
               f"{plural(audits, 'audit record')}.")


@command("set-retention")
@click.argument("slug")
@click.option("--alerts-days", type=click.IntRange(min=1),
              help="Keep acknowledged alerts this many days after acknowledgement.")
@click.option("--audit-days", type=click.IntRange(min=1),
              help="Keep audit records this many days.")
@with_appcontext
def set_retention(slug: str, alerts_days: int | None, audit_days: int | None) -> None:
    """Show or change how long an organisation's acknowledged alerts and audit records are
    kept (defaults 90 and 365 days); `prune` applies it."""
    from sqlalchemy import select

    from portal.auth.models import Tenant

    with tenancy.unscoped_session(admin=True) as db:
        tenant = db.scalar(select(Tenant).where(Tenant.slug == slug))
        if tenant is None:
            raise click.BadParameter(f"no organisation with the slug {slug!r}", param_hint="SLUG")
        if alerts_days is not None:
            tenant.alert_retention_days = alerts_days
        if audit_days is not None:
            tenant.audit_retention_days = audit_days
        click.echo(f"{tenant.slug}: acknowledged alerts {tenant.alert_retention_days} days, "
                   f"audit records {tenant.audit_retention_days} days.")


@command("vendor-htmx")
@with_appcontext
def vendor_htmx() -> None:
    """Install the pinned htmx from the npm registry into static/vendor/ for
    PORTAL_HTMX_SOURCE=local."""
    from pathlib import Path

    from portal.config import HTMX_LOCAL_FILE, HTMX_VERSION
    from portal.htmx_vendor import VendorError, install

    target = (Path(current_app.static_folder) / HTMX_LOCAL_FILE).resolve()
    try:
        install(current_app.config["NPM_REGISTRY"], HTMX_VERSION,
                current_app.config["HTMX_INTEGRITY"], target)
    except VendorError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"Installed htmx {HTMX_VERSION} ({current_app.config['HTMX_INTEGRITY']}) at "
               f"{target}; set PORTAL_HTMX_SOURCE=local to serve it.")

