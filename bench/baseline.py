"""The bare baseline that `bench.load` compares the portal with.

What any tenant-aware JSON list needs and nothing more: check the JWT (PyJWT, the library
under flask-jwt-extended), run the same hand-written tenant query with psycopg on one
connection per worker, answer the same JSON shape. No ORM, no tenant session, no RLS
setting, no membership or revocation check, no rate limit, no metrics.

    BENCH_DATABASE_URL=postgresql://... BENCH_JWT_SECRET=... gunicorn bench.baseline:app
"""

import os

import jwt
import psycopg
from flask import Flask, jsonify, request

app = Flask(__name__)
SECRET = os.environ.get("BENCH_JWT_SECRET", "")
DATABASE_URL = os.environ.get("BENCH_DATABASE_URL", "")
PAGE = 50

QUERIES = {
    "alerts": (
        "SELECT id, title, message, severity, source, tags, created_at, created_by,"
        " acknowledged_at, acknowledged_by FROM alerts WHERE tenant_id = %s"
        " ORDER BY created_at DESC, id DESC LIMIT %s"
    ),
    "trades": (
        "SELECT id, symbol, side, quantity, order_type, limit_price, status, fill_price, fee,"
        " created_at, created_by, filled_at, cancelled_at, reject_reason FROM trades"
        " WHERE tenant_id = %s ORDER BY created_at DESC, id DESC LIMIT %s"
    ),
}

_connection: psycopg.Connection | None = None


def _database() -> psycopg.Connection:
    global _connection
    if _connection is None or _connection.closed:
        _connection = psycopg.connect(DATABASE_URL, autocommit=True)
    return _connection


def _plain(value):
    if value is None or isinstance(value, str | bool | int | float | list):
        return value
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)  # UUID, Decimal


def _page(kind: str):
    token = request.headers.get("Authorization", "").removeprefix("Bearer ")
    try:
        tenant_id = jwt.decode(token, SECRET, algorithms=["HS256"])["tenant_id"]
    except (jwt.PyJWTError, KeyError):
        return jsonify({"error": {"code": "unauthorized"}}), 401
    cursor = _database().execute(QUERIES[kind], (tenant_id, PAGE + 1))
    names = [column.name for column in cursor.description]
    items = [dict(zip(names, map(_plain, row), strict=True)) for row in cursor.fetchall()]
    next_cursor = items[PAGE - 1]["id"] if len(items) > PAGE else None
    return jsonify({"items": items[:PAGE], "next_cursor": next_cursor})


@app.get("/api/alerts")
def alerts():
    return _page("alerts")


@app.get("/api/trades")
def trades():
    return _page("trades")
