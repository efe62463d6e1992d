"""Benchmark: journal write latency and throughput, local SQLite vs the shared DynamoDB backend.

The DynamoDB table and S3 bucket are the served emulator's, with `--latency-ms` added to every
request (real DynamoDB answers in single-digit milliseconds within a region). Each change is
what a restore journals: an INTENT (with its inverse) and then its outcome (APPLIED). The
DynamoDB journal holds the instance lock, so every write is fenced (one transaction that also
checks the lock), as in a real restore. Threads write concurrently, as the apply engine's
workers do.

Usage:
    python bench/state.py                      # 400 changes, 1 and 8 threads, 5 ms latency
    python bench/state.py --changes 1000 --latency-ms 10
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from awsideman.adapters.aws import AwsGateway
from awsideman.adapters.state_blobs import BlobStore
from awsideman.config import Settings
from awsideman.core.retry import RetryPolicy
from awsideman.journal import ChangeState, Journal
from awsideman.journal.dynamo import DynamoJournal
from awsideman.sandbox.server import SandboxServer, sandbox_session
from awsideman.services.state_admin import init_state

INSTANCE = "arn:aws:sso:::instance/ssoins-bench"
INVERSE = {"action": "delete", "resource": "membership", "address": "membership:g/u", "payload": {"x": "y" * 200}}


def run(journal: Any, changes: int, threads: int) -> dict[str, Any]:
    op = journal.start_operation("restore", {}, INSTANCE)
    journal.acquire_lock(INSTANCE, op.id)
    latencies: list[float] = []
    lock = threading.Lock()
    per_thread = changes // threads

    def worker() -> None:
        for _ in range(per_thread):
            started = time.perf_counter()
            seq = journal.record_intent(op.id, "create:membership", INVERSE, INVERSE, address="membership:g/u")
            journal.mark_change(op.id, seq, ChangeState.APPLIED, wait=False)  # as the apply engine does
            with lock:
                latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    journal.checkpoints(op.id)  # a read: waits for outcomes still being committed
    wall = time.perf_counter() - started
    journal.release_lock(INSTANCE, op.id)
    journal.finish_operation(op.id, "succeeded")
    latencies.sort()
    return {"threads": threads, "changes": len(latencies), "wall_seconds": round(wall, 2),
            "changes_per_second": round(len(latencies) / wall, 1),
            "p50_ms_per_change": round(statistics.median(latencies) * 1000, 1),
            "p95_ms_per_change": round(latencies[int(len(latencies) * 0.95) - 1] * 1000, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=400)
    parser.add_argument("--latency-ms", type=float, default=5.0)
    args = parser.parse_args()
    results: dict[str, Any] = {"latency_ms": args.latency_ms, "sqlite": [], "dynamodb": []}
    with tempfile.TemporaryDirectory() as home, SandboxServer() as server:
        for threads in (1, 8):
            with Journal.open(Path(home) / f"state-{threads}.db") as local:
                results["sqlite"].append(run(local, args.changes, threads))
        import os

        os.environ.update(server.env())
        sandbox_session().client("s3", endpoint_url=server.endpoint_url).create_bucket(Bucket="state")
        settings = Settings(home=Path(home), region="us-east-1", state="dynamodb://bench", state_s3="s3://state/x")
        init_state(settings)
        server.set_faults({"latency_ms": args.latency_ms})
        for threads in (1, 8):
            server.reset_counters()
            gateway = AwsGateway(profile=None, region="us-east-1", retry=RetryPolicy())
            with DynamoJournal.open(gateway, "bench", BlobStore(gateway, "state", "x")) as shared:
                figures = run(shared, args.changes, threads)
            figures["calls"] = {k: v for k, v in sorted(server.counters().items()) if k.startswith("dynamodb:")}
            results["dynamodb"].append(figures)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
