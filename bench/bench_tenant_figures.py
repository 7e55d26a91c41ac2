"""What one tenant's request figures cost to read back from the Prometheus multiprocess files
(`/api/metrics/system`, `/status` under gunicorn), against a whole scrape of the same files.

    .venv/bin/python -m bench.bench_tenant_figures [--tenants 1000] [--routes 20] [--workers 4]

Fills a temporary PROMETHEUS_MULTIPROC_DIR the way `--workers` gunicorn workers would after
every tenant called `--routes` routes with a 200 and a 404, then times reading one tenant's
figures and a full scrape. Prints figures; asserts nothing.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

FILL = """
import sys, uuid
from prometheus_client import CollectorRegistry
from portal.observability import PrometheusMetrics
tenants, routes = int(sys.argv[1]), int(sys.argv[2])
metrics = PrometheusMetrics(CollectorRegistry())
for number in range(tenants):
    tenant = str(uuid.UUID(int=number + 1))
    for route in range(routes):
        for status in (200, 404):
            metrics.observe("GET", f"/api/route-{route}", status, 0.004 * (route % 7 + 1), tenant)
"""


def timed(action, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        times.append((time.perf_counter() - started) * 1000)
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tenants", type=int, default=1000)
    parser.add_argument("--routes", type=int, default=20)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    directory = tempfile.mkdtemp(prefix="portal-bench-multiproc-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
    for _ in range(args.workers):  # one process per worker: one set of files each
        subprocess.run([sys.executable, "-c", FILL, str(args.tenants), str(args.routes)],  # noqa: S603
                       check=True, env=os.environ)

    from prometheus_client import CollectorRegistry

    from portal.observability import PrometheusFigures, PrometheusMetrics

    metrics = PrometheusMetrics(CollectorRegistry())
    figures = PrometheusFigures(metrics)
    tenant = uuid.UUID(int=args.tenants // 2 + 1)
    read = timed(lambda: figures.figures(tenant), args.runs)
    scrape = timed(metrics.scrape, max(1, args.runs // 2))
    size = sum(os.path.getsize(os.path.join(directory, name)) for name in os.listdir(directory))
    print(f"{args.tenants} tenants x {args.routes} routes x 2 statuses, {args.workers} workers "
          f"({size / 2**20:.0f} MiB of sparse files)")
    print(f"one tenant's figures: median {statistics.median(read):8.1f} ms "
          f"(count {figures.figures(tenant).count})")
    print(f"whole scrape:         median {statistics.median(scrape):8.1f} ms")


if __name__ == "__main__":
    main()
