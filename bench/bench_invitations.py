"""Does inviting an email take the same time whether or not it has an account elsewhere?

    .venv/bin/python -m bench.bench_invitations [--runs 60]

Alternates `POST /api/invitations` as acme's admin for three kinds of email: one nobody has,
one that is an account in another organisation only (globex's admin), and one that is a
member of both organisations (ops@example.test, answered 409 here, for scale). Prints the
median and p95 of each; asserts nothing. Same database setup as bench.bench_metrics
(PORTAL_BENCH_DATABASE_URL, or a throwaway SQLite).
"""

import argparse
import os
import statistics
import time

from bench.bench_metrics import build, token_for


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=60)
    args = parser.parse_args()
    app = build(os.environ.get("PORTAL_BENCH_DATABASE_URL"))
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token_for(app, 'admin@acme.test', 'acme')}"}
    kinds = {
        # The same address every run, like the other two: from the second run on, each
        # invitation also replaces the previous pending one, so the work is the same.
        "unknown email": lambda: "nobody-bench@example.test",
        "account elsewhere only": lambda: "admin@globex.test",
        "member here (409)": lambda: "ops@example.test",
    }
    timings: dict[str, list[float]] = {kind: [] for kind in kinds}
    statuses: dict[str, set[int]] = {kind: set() for kind in kinds}
    for run in range(args.runs + 5):
        for kind, email in kinds.items():  # interleaved, so drift hits every kind alike
            start = time.perf_counter()
            response = client.post("/api/invitations", headers=headers,
                                    json={"email": email(), "role": "viewer"})
            elapsed = (time.perf_counter() - start) * 1000
            if run >= 5:  # warm-up
                timings[kind].append(elapsed)
                statuses[kind].add(response.status_code)
    print(f"{'email':24} {'status':>7} {'median ms':>10} {'p95 ms':>8}  ({args.runs} runs)")
    for kind, values in timings.items():
        p95 = statistics.quantiles(values, n=20)[18]
        status = ",".join(str(s) for s in sorted(statuses[kind]))
        print(f"{kind:24} {status:>7} {statistics.median(values):10.2f} {p95:8.2f}")


if __name__ == "__main__":
    main()
