"""Idempotency records: a retried POST with the same key returns the first answer.

Keys belong to the tenant (the record is tenant-scoped) and to a scope such as
`trades.create`, so one key can't replay another endpoint's answer. The same key with a
different body is a client bug and answers 422.
"""

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError

from portal.errors import IdempotencyKeyReused, InvalidInput
from portal.idempotency.models import IdempotencyRecord

MAX_KEY_LENGTH = 255


def request_fingerprint(payload) -> str:
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def validate_key(key: str | None) -> str | None:
    if key is None:
        return None
    key = key.strip()
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise InvalidInput("Idempotency-Key must be 1-255 printable characters",
                           field="Idempotency-Key")
    return key


def replay(db, scope: str, key: str | None, fingerprint: str) -> tuple[dict, int] | None:
    """The stored answer for this key, or None when the key is new (or absent)."""
    if key is None:
        return None
    record = db.get(IdempotencyRecord, (db.tenant_id, scope, key))
    if record is None:
        return None
    if record.request_hash != fingerprint:
        raise IdempotencyKeyReused()
    return record.response_body, record.status_code


def remember(db, scope: str, key: str | None, fingerprint: str, body: dict, status: int) -> None:
    """Store the answer in the same transaction as the change it describes."""
    if key is not None:
        db.add(IdempotencyRecord(scope=scope, key=key, request_hash=fingerprint,
                                 status_code=status, response_body=body))


def is_duplicate_key_race(exc: IntegrityError) -> bool:
    """Two concurrent first requests with one key: the loser's insert hits the primary key."""
    return "idempotency_records" in str(exc.orig) or "pk_idempotency_records" in str(exc.orig)


@dataclass(frozen=True)
class Outcome:
    body: dict
    status: int
    replayed: bool
    # What `create` made, for callers that answer with more than the stored JSON (a page's
    # notice); None when the answer is a replay.
    created: Any = None


def create_once(db, scope: str, key: str | None, payload: dict,
                create: Callable[[], Any], encode: Callable[[Any], dict]) -> Outcome:
    """Run `create` (it adds rows and returns what it made), store `encode` of that as the 201
    answer and commit, at most once per key.

    A known key replays its stored answer. The record commits with the rows it describes;
    when two first requests with one key race, the loser's record insert hits the primary
    key, its whole transaction rolls back, and it answers with the winner's stored result.
    """
    fingerprint = request_fingerprint(payload)
    stored = replay(db, scope, key, fingerprint)
    if stored is not None:
        return Outcome(*stored, replayed=True)
    created = create()
    body = encode(created)
    remember(db, scope, key, fingerprint, body, 201)
    try:
        db.commit()
    except IntegrityError as exc:
        db.rollback()
        if key is None or not is_duplicate_key_race(exc):
            raise
        stored = replay(db, scope, key, fingerprint)
        if stored is None:
            raise
        return Outcome(*stored, replayed=True)
    return Outcome(body, 201, replayed=False, created=created)
