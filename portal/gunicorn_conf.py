"""Gunicorn settings for serving the portal with several workers:

    gunicorn -c python:portal.gunicorn_conf --workers 4 --bind 0.0.0.0:8000 wsgi:app

Prometheus counters must add up across workers, so each worker writes its series to files in
PROMETHEUS_MULTIPROC_DIR and a scrape sums them (portal.observability). This module points
that variable at a fresh temporary directory when it is not set, before any worker imports
prometheus_client, and removes that directory when gunicorn exits; a directory you set
yourself must be dedicated to the portal, because it is emptied at start so counters do not
carry over from an earlier run (it is left in place at exit).

Each worker freezes what it loaded at start (`post_worker_init`), so the garbage collector
no longer walks it, and runs numpy's linear algebra on one thread (below).

Settings are checked once in the master before any worker starts: a missing secret or a
malformed database URL stops gunicorn with one line instead of every worker's traceback.
"""

import gc
import os
import shutil
import sys
import tempfile
from pathlib import Path

_created_multiproc_dir = None
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    _created_multiproc_dir = tempfile.mkdtemp(prefix="portal-prometheus-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = _created_multiproc_dir

# One BLAS thread per worker: the workers are the parallelism. With OpenBLAS's default of one
# thread per CPU, every worker's correlation or risk request woke threads that spun on the CPUs
# the other workers (and PostgreSQL) were using: on the two-CPU development VM, cold 50-symbol
# Pearson matrices took 8-65 ms from one request to the next, on one thread 9-16 ms (and
# Kendall 74-167 ms, on one thread 81-94 ms). Set before any worker imports numpy; a value you
# set yourself is kept.
for _threads in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_threads, "1")


def on_starting(_server) -> None:
    from portal.config import ConfigurationError, from_environment

    try:
        from_environment(tempfile.gettempdir())
    except ConfigurationError as error:
        _remove_created_dir()
        sys.exit(f"AlphaPulse Portal cannot start: {error}")
    for stale in Path(os.environ["PROMETHEUS_MULTIPROC_DIR"]).glob("*.db"):
        stale.unlink()


def post_worker_init(_worker) -> None:
    """Once the worker has loaded the app, keep what it loaded (Flask, SQLAlchemy's mappers,
    numpy, about 140,000 objects) out of the garbage collector's sight: they live as long as
    the worker. Left in, each full collection walked all of them and stopped the worker for
    about 80 ms every couple of thousand requests, the slowest 1 % of list requests under
    load (`python -m bench.load`)."""
    gc.collect()
    gc.freeze()


def child_exit(_server, worker) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(_server) -> None:
    _remove_created_dir()


def _remove_created_dir() -> None:
    if _created_multiproc_dir:
        shutil.rmtree(_created_multiproc_dir, ignore_errors=True)
