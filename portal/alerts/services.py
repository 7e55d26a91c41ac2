"""Raising, acknowledging and pruning alerts: the only alert code that writes."""

from datetime import datetime

from flask import g
from sqlalchemy import update

from portal import idempotency
from portal.alerts import queries
from portal.alerts.models import Alert
from portal.alerts.schemas import AlertCreate, AlertFilters, stored_answer
from portal.audit import services as audit
from portal.db import utcnow
from portal.tenancy import delete_in_batches, session

CREATE_SCOPE = "alerts.create"


def _add_alert(data: AlertCreate) -> Alert:
    alert = Alert(
        title=data.title,
        message=data.message,
        severity=data.severity,
        source=data.source,
        tags=list(data.tags),
        created_by=g.user.id,
    )
    session.add(alert)
    session.flush()
    audit.record(session, "alert.created", target_type="alert", target_id=alert.id,
                 details={"severity": alert.severity, "title": alert.title})
    return alert


def create_alert(data: AlertCreate) -> Alert:
    alert = _add_alert(data)
    session.commit()
    return alert


def create_alert_once(data: AlertCreate, key: str | None) -> idempotency.Outcome:
    """Create an alert; with an `Idempotency-Key`, a retry gets the first answer back instead
    of a second alert (the same key with another body is a 422)."""
    return idempotency.create_once(session, CREATE_SCOPE, key, data.model_dump(mode="json"),
                                   lambda: _add_alert(data), stored_answer)


def acknowledge(alert: Alert) -> Alert:
    """Mark the alert acknowledged by the signed-in user, once.

    Acknowledging again changes nothing: the first who and when stay, and only the first
    acknowledgement is audited. The conditional UPDATE keeps that true when two operators
    click at the same moment.
    """
    if alert.acknowledged_at is not None:
        return alert
    result = session.execute(
        update(Alert)
        .where(Alert.id == alert.id, Alert.acknowledged_at.is_(None))
        .values(acknowledged_at=utcnow(), acknowledged_by=g.user.id)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount == 1:
        audit.record(session, "alert.acknowledged", target_type="alert", target_id=alert.id)
    session.commit()
    session.refresh(alert)
    return alert


def prune_acknowledged(db, before: datetime, batch_size: int) -> int:
    """Delete the tenant's alerts acknowledged before `before`, in batches. Open alerts are
    never pruned, however old."""
    return delete_in_batches(db, Alert, Alert.acknowledged_at.is_not(None),
                             Alert.acknowledged_at < before, batch_size=batch_size)


# What other areas (the dashboard, the navigation badge) show of the alerts.

def open_alert_count() -> int:
    return queries.open_alert_count()


def newest_open_alerts(limit: int) -> list:
    return queries.list_alerts(AlertFilters(acknowledged=False), limit, None).items
