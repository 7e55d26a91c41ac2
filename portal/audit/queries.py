"""Reads of the tenant's audit log."""

from sqlalchemy import select

from portal.audit.models import AuditRecord
from portal.audit.schemas import AuditFilter
from portal.pagination import Page, paginate
from portal.tenancy import session
from portal.times import within


def audit_page(filters: AuditFilter, limit: int, cursor: str | None) -> Page:
    """Newest first, one keyset page."""
    stmt = select(AuditRecord)
    if filters.action:
        stmt = stmt.where(AuditRecord.action == filters.action)
    stmt = within(stmt, AuditRecord.created_at, filters)
    return paginate(stmt, AuditRecord, limit, cursor)


def recorded_actions() -> list[str]:
    """The actions that occur in this tenant's log, for the filter menu."""
    return list(session.scalars(
        select(AuditRecord.action).distinct().order_by(AuditRecord.action)
    ))
