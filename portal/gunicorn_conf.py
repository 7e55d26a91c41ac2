"""Gunicorn settings for serving the portal with several workers:

    gunicorn -c python:portal.gunicorn_conf --workers 4 --bind 0.0.0.0:8000 wsgi:app

Prometheus counters must add up across workers, so each worker writes its series to files in
PROMETHEUS_MULTIPROC_DIR and a scrape sums them (portal.observability). This module points
that variable at a fresh temporary directory when it is not set, before any worker imports
prometheus_client; a directory you set yourself must be dedicated to the portal, because it
is emptied at start so counters do not carry over from an earlier run.
"""

import os
import tempfile
from pathlib import Path

if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="portal-prometheus-")


def on_starting(_server) -> None:
    for stale in Path(os.environ["PROMETHEUS_MULTIPROC_DIR"]).glob("*.db"):
        stale.unlink()


def child_exit(_server, worker) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
