"""The audit trail: who did what to which target, when, from where, in which request."""

import uuid
from datetime import datetime
from typing import Any

from flask import g, request
from flask import has_request_context as in_request
from sqlalchemy.orm import Session

from portal.audit.models import AuditRecord
from portal.tenancy import delete_in_batches


def record(
    db: Session,
    action: str,
    *,
    target_type: str = "",
    target_id: Any = "",
    details: dict | None = None,
    actor_id: uuid.UUID | None = None,
    actor_email: str | None = None,
) -> AuditRecord:
    """Add an audit record to `db`; it commits with the change it describes."""
    user = g.get("user") if in_request() else None
    entry = AuditRecord(
        action=action,
        target_type=target_type,
        target_id=str(target_id) if target_id else "",
        details=details or {},
        actor_id=actor_id or (user.id if user else None),
        actor_email=actor_email if actor_email is not None else (user.email if user else ""),
        client_addr=(request.remote_addr or "") if in_request() else "cli",
        request_id=g.get("request_id", "") if in_request() else "",
    )
    db.add(entry)
    return entry


def prune(db, before: datetime, batch_size: int) -> int:
    """Delete the tenant's audit records written before `before`, in batches."""
    return delete_in_batches(db, AuditRecord, AuditRecord.created_at < before,
                             batch_size=batch_size)
