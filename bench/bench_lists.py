"""Timings of the list endpoints and pages, and the process's memory, on the demo data.

    .venv/bin/python -m bench.bench_lists [--runs 30]

Times first pages (API and full page and htmx fragment), a full keyset walk of each tenant's
alerts and trades at limit=50, and prints the peak resident memory of the process. Uses the
same database setup as bench.bench_metrics (PORTAL_BENCH_DATABASE_URL, or a throwaway SQLite).
Prints figures; asserts nothing.
"""

import argparse
import os
import resource
import statistics
import time

from bench.bench_metrics import build, token_for

FIRST_PAGES = [
    ("/api/alerts", {}),
    ("/api/alerts?acknowledged=false&severity=error", {}),
    ("/api/trades", {}),
    ("/api/trades/history", {}),
    ("/api/trades/pending", {}),
    ("/alerts", {}),
    ("/alerts", {"HX-Request": "true"}),
    ("/trades", {}),
    ("/", {}),
]


def timed(client, path, headers) -> tuple[float, int]:
    start = time.perf_counter()
    response = client.get(path, headers=headers)
    return (time.perf_counter() - start) * 1000, response.status_code


def walk(client, path, headers) -> tuple[int, int, float]:
    """Follow next_cursor to the end: (pages, items, milliseconds)."""
    pages = items = 0
    cursor = None
    start = time.perf_counter()
    while True:
        url = f"{path}?limit=50" + (f"&cursor={cursor}" if cursor else "")
        body = client.get(url, headers=headers).get_json()
        pages += 1
        items += len(body["items"])
        cursor = body["next_cursor"]
        if not cursor:
            return pages, items, (time.perf_counter() - start) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    app = build(os.environ.get("PORTAL_BENCH_DATABASE_URL"))
    client = app.test_client()
    print(f"{'tenant':7} {'request':48} {'status':>6} {'median ms':>10} {'p95 ms':>8}")
    for email, slug in (("admin@acme.test", "acme"), ("admin@globex.test", "globex")):
        token = token_for(app, email, slug)
        browser = app.test_client()
        browser.post("/login", data={"email": email, "password": "demo-password"})
        for path, extra in FIRST_PAGES:
            api = path.startswith("/api/")
            who = client if api else browser
            headers = {"Authorization": f"Bearer {token}"} if api else {}
            headers.update(extra)
            who.get(path, headers=headers)  # warm up
            runs = [timed(who, path, headers) for _ in range(args.runs)]
            timings = sorted(ms for ms, _status in runs)
            label = path + (" (htmx)" if extra else "")
            print(f"{slug:7} {label:48} {runs[-1][1]:>6} {statistics.median(timings):>10.1f} "
                  f"{timings[int(0.95 * (len(timings) - 1))]:>8.1f}")
        for path in ("/api/alerts", "/api/trades"):
            pages, items, ms = walk(client, path, {"Authorization": f"Bearer {token}"})
            print(f"{slug:7} walk {path:43} {pages:>3} pages, {items} items in {ms:.0f} ms "
                  f"({ms / pages:.1f} ms/page)")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak resident memory of this process: {peak:.0f} MiB")


if __name__ == "__main__":
    main()
