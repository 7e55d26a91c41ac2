"""`flask --app wsgi match-orders`, and matching after every price import.

Prices are shared, orders are not: after new closes arrive, every tenant's resting limit
orders must be re-checked. That loop over tenants is the one cross-tenant step here, and it
only lists tenant ids; the matching itself runs in each tenant's own tenant-bound session
(and, on PostgreSQL, under that tenant's row-level security setting).
"""

import logging
import sys
import uuid
from dataclasses import dataclass, field

import click
from flask import Flask
from flask.cli import with_appcontext
from sqlalchemy import select

from portal import tenancy
from portal.auth.models import Tenant
from portal.cli import command, plural
from portal.market.services import prices_imported
from portal.trades import services

log = logging.getLogger("portal.trades")

MATCHER = "system:match-orders"


@dataclass
class MatchReport:
    filled: dict[uuid.UUID, int] = field(default_factory=dict)
    failed: list[uuid.UUID] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.filled.values())


def match_orders_in_every_tenant(symbols: list[str] | None = None) -> MatchReport:
    """Fill crossed limit orders tenant by tenant; one tenant's failure does not stop the rest.

    Suspended tenants are skipped: their orders wait until the tenant is active again.
    """
    with tenancy.unscoped_session(admin=True) as db:
        tenant_ids = list(db.scalars(
            select(Tenant.id).where(Tenant.status == "active").order_by(Tenant.slug)
        ))
    report = MatchReport()
    for tenant_id in tenant_ids:
        try:
            with tenancy.tenant_session_scope(tenant_id, admin=True) as db:
                filled = services.fill_crossed_orders(db, symbols, actor_email=MATCHER)
        except Exception:
            log.exception("matching orders failed for tenant %s", tenant_id)
            report.failed.append(tenant_id)
            continue
        if filled:
            report.filled[tenant_id] = len(filled)
    return report


def _summary(report: MatchReport) -> str:
    return (f"Filled {plural(report.total, 'pending limit order')} in "
            f"{plural(len(report.filled), 'organisation')}.")


def _match_after_price_import(app, result=None, **_kwargs) -> None:
    report = match_orders_in_every_tenant(result.symbols if result is not None else None)
    click.echo(_summary(report))
    if report.failed:
        click.echo(f"Matching failed for {plural(len(report.failed), 'organisation')}; "
                   "run match-orders again.", err=True)


@command("match-orders")
@with_appcontext
def match_orders() -> None:
    """Fill every pending limit order that the latest close crosses."""
    report = match_orders_in_every_tenant()
    click.echo(_summary(report))
    if report.failed:
        click.echo(f"Matching failed for {plural(len(report.failed), 'organisation')}; "
                   "see the log.", err=True)
        sys.exit(1)


def register(app: Flask) -> None:
    app.cli.add_command(match_orders)
    # Only imports run by this app trigger matching in this app's database.
    prices_imported.connect(_match_after_price_import, sender=app)
