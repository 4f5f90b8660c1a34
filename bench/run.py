"""`make bench`: every figure with its baseline from the same run, as one table.

.venv/bin/python -m bench.run [--quick] [--only PART]  (repeatable; PART: see --help)
"""

from __future__ import annotations

import argparse
import platform
import time

from bench import figures
from bench.cluster import cluster
from bench.remote_workers import remote_workers
from bench.sweeps import sweeps
from bench.web_ui import web_ui


def main() -> None:
    parser = argparse.ArgumentParser(description="TradAI Backend benchmarks")
    parser.add_argument("--quick", action="store_true", help="shorter runs (a smoke test, noisier)")
    parser.add_argument(
        "--only",
        action="append",
        choices=[
            "http",
            "contention",
            "freshness",
            "rebuild",
            "kafka",
            "dynamodb",
            "backtests",
            "sqs",
            "cluster",
            "sweeps",
            "ui",
            "memory",
        ],
        help="measure only this part (repeat for several)",
    )
    args = parser.parse_args()
    seconds = 3 if args.quick else 8
    started = time.perf_counter()
    rows: list[figures.Figure] = []
    for name, measure in (
        ("http", lambda: figures.http_throughput(seconds)),
        ("contention", lambda: figures.submit_latency_under_contention(seconds)),
        ("freshness", lambda: figures.freshness(200 if args.quick else 1000)),
        ("rebuild", lambda: figures.rebuild(30_000 if args.quick else 150_000)),
        ("kafka", lambda: figures.kafka_relay(20_000 if args.quick else 100_000, seconds)),
        ("dynamodb", lambda: figures.dynamodb_read_model(4_000 if args.quick else 20_000, seconds)),
        ("backtests", lambda: figures.backtests(1 if args.quick else 3)),
        ("sqs", remote_workers),
        ("cluster", lambda: cluster(seconds, 100 if args.quick else 300)),
        ("sweeps", lambda: sweeps(1 if args.quick else 3)),
        ("ui", lambda: web_ui(3 if args.quick else 7)),
        ("memory", lambda: figures.memory(10_000 if args.quick else 100_000)),
    ):
        if args.only and name not in args.only:
            continue
        print(f"measuring {name} ...", flush=True)
        rows += measure()
    print()
    print(f"{'figure':<44} {'measured':<44} {'baseline (same run)':<36} {'ratio':>6}  target")
    for row in rows:
        ratio = f"{row.ratio:.2f}" if row.ratio is not None else "-"
        mark = "-" if row.met is None else "met" if row.met else "MISSED"
        print(
            f"{row.name:<44} {row.value:<44} {row.baseline:<36} {ratio:>6}  {row.target} [{mark}]"
        )
    elapsed = time.perf_counter() - started
    print(f"\n{platform.node()}, Python {platform.python_version()}, {elapsed:.0f} s in all")


if __name__ == "__main__":
    main()
