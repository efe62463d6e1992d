"""Benchmark: API calls and wall time of `awsideman restore` into an emptied instance (not a test).

Seeds the served emulator with `--size`, backs it up, empties the emulator (a new, empty
instance: the restore also proves cross-instance resolution by natural keys), switches on
20 ms latency, the real quotas and asynchronous requests that take `--async-seconds` each
(with the 15-request cap), and runs `awsideman restore BACKUP --yes -o json`.

It prints calls against the minimum (one write per resource and attribute family, plus the
live read of an empty instance) and wall time against the lower bound: the largest of
sso-admin calls / 20, the busiest identitystore write / 20, assignments / 15 x async seconds,
and users first, then memberships or assignments.

With `--rollback`, the restore is then rolled back (`awsideman rollback OP --yes`: every
resource it created is deleted again, in reverse dependency order) and the rollback is measured
the same way: calls, and wall time against its bound (the largest of sso-admin calls / 20, the
busiest identitystore delete / 20, assignments / 15 x async seconds, and memberships or
assignments before their groups and users).

With `--state dynamodb`, the journal and the lock live in the emulator's DynamoDB table (and S3
bucket) instead of the local state.db: the same restore then also shows what the shared state
backend costs (its calls are listed apart and are not in the bound). `--compare` runs the
restore twice in one run, into a freshly emptied instance each time: first with the local
state, then with the shared one, and prints the ratio of their wall times.

Usage:
    python bench/restore.py                  # size large, 1 s asynchronous requests
    python bench/restore.py --size small
    python bench/restore.py --rollback       # and then the rollback of that restore
    python bench/restore.py --state dynamodb # with the shared state backend
    python bench/restore.py --compare        # local, then shared state, in one run
    python bench/restore.py --timeline 20    # and each write's calls per 20 s window (stalls show)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from typing import Any

from botocore.config import Config

from awsideman.sandbox import seeder
from awsideman.sandbox.server import SandboxServer, sandbox_session


def cli(env: dict[str, str], *args: str) -> dict:
    proc = subprocess.run([sys.executable, "-m", "awsideman", "-o", "json", *args], env=env, capture_output=True,
                          text=True)
    if not proc.stdout.strip():
        raise SystemExit(proc.stderr)
    return json.loads(proc.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="large", choices=sorted(seeder.SIZES))
    parser.add_argument("--async-seconds", type=float, default=1.0)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--rollback", action="store_true", help="then roll the restore back and measure that")
    parser.add_argument("--state", default="local", choices=["local", "dynamodb"])
    parser.add_argument("--compare", action="store_true", help="local state, then the shared state, in one run")
    parser.add_argument("--timeline", type=float, default=0, metavar="SECONDS",
                        help="also print the calls per operation in windows of SECONDS (where a lane stalls)")
    args = parser.parse_args()
    with SandboxServer() as server, tempfile.TemporaryDirectory() as home:
        env = dict(os.environ, **server.env(), AWSIDEMAN_HOME=home)
        session = sandbox_session()
        config = Config(retries={"mode": "standard", "max_attempts": 10})
        clients = {n: session.client(n, endpoint_url=server.endpoint_url, config=config)
                   for n in ("sso-admin", "identitystore")}
        seeded = seeder.seed(clients, args.size, seed=0)
        backup = cli(env, "backup", "create")
        walls = {}
        for state in (["local", "dynamodb"] if args.compare else [args.state]):
            result, walls[state] = restore(server, session, clients, env, backup["backup_id"], seeded.counts(),
                                           state, args)
            if args.rollback:
                rollback(server, env, result["operation_id"], seeded.counts(), args)
        if args.compare:
            print(json.dumps({"shared_over_local": round(walls["dynamodb"] / walls["local"], 3),
                              "wall_seconds": {k: round(v, 1) for k, v in walls.items()}}, indent=2))


def restore(server: SandboxServer, session: Any, clients: dict[str, Any], env: dict[str, str], backup_id: str,
            counts: dict[str, int], state: str, args: argparse.Namespace) -> tuple[dict, float]:
    """Empty the emulator, restore the backup into it with `state`, print the figures."""
    server.reset()
    if not clients["sso-admin"].list_instances()["Instances"]:
        clients["sso-admin"].create_instance(Name="emptied")
    target = clients["sso-admin"].list_instances()["Instances"][0]["InstanceArn"]  # another instance: said so
    if state == "dynamodb":
        session.client("s3", endpoint_url=server.endpoint_url).create_bucket(Bucket="state")
        env.update(AWSIDEMAN_STATE="dynamodb://awsideman-state", AWSIDEMAN_STATE_S3="s3://state/awsideman")
        cli(env, "state", "init")
    server.set_faults({"latency_ms": args.latency_ms, "quotas": "real", "async_seconds": args.async_seconds})
    result, wall, calls, state_calls = measured(server, env, args, "restore", backup_id, "--yes",
                                                "--target-instance", target)
    bound = quota_bound(calls, counts, "identitystore:Create", args.async_seconds)
    writes = {op: n for op, n in sorted(calls.items()) if op.split(":")[1].startswith(
        ("Create", "Put", "Attach", "Provision", "Tag"))}
    print(json.dumps({"state": state, "status": result["status"], "applied": len(result["applied"]),
                      "wall_seconds": round(wall, 1), "lower_bound_seconds": round(bound, 1),
                      "wall_over_bound": round(wall / bound, 3), "calls": sum(calls.values()), "writes": writes,
                      "all_calls": dict(sorted(calls.items())), "state_calls": state_calls, "counts": counts},
                     indent=2))
    return result, wall


def rollback(server: SandboxServer, env: dict[str, str], operation_id: str, counts: dict[str, int],
             args: argparse.Namespace) -> None:
    result, wall, calls, state_calls = measured(server, env, args, "rollback", operation_id, "--yes")
    bound = quota_bound(calls, counts, "identitystore:Delete", args.async_seconds)
    deletes = {op: n for op, n in sorted(calls.items()) if op.split(":")[1].startswith(("Delete", "Detach", "Untag"))}
    print(json.dumps({"rollback_status": result["status"], "compensated": len(result["compensated"]),
                      "leftover": len(result["leftover"]), "wall_seconds": round(wall, 1),
                      "lower_bound_seconds": round(bound, 1), "wall_over_bound": round(wall / bound, 3),
                      "calls": sum(calls.values()), "deletes": deletes, "all_calls": dict(sorted(calls.items())),
                      "state_calls": state_calls}, indent=2))


def measured(server: SandboxServer, env: dict[str, str], args: argparse.Namespace,
             *command: str) -> tuple[dict, float, Counter[str], dict[str, int]]:
    """Run one `awsideman` command on fresh counters: (its JSON result, wall seconds, Identity
    Center calls, state backend calls); with `--timeline`, print its calls per window too."""
    server.reset_counters()
    started, since = time.monotonic(), time.time()
    result = cli(env, *command)
    wall = time.monotonic() - started
    if args.timeline:
        timeline(server, since, args.timeline)
    calls, state_calls = split_state(server.counters())
    return result, wall, calls, state_calls


def quota_bound(calls: Counter[str], counts: dict[str, int], writes: str, async_seconds: float) -> float:
    """The largest of: sso-admin calls / 20, the busiest identitystore write (`writes`: the
    operations' prefix) / 20, assignments / 15 x async seconds, and users then memberships or
    assignments (a restore creates users first; a rollback deletes them last)."""
    sso = sum(n for op, n in calls.items() if op.startswith("sso-admin:"))
    busiest = max((n for op, n in calls.items() if op.startswith(writes)), default=0)
    return max(sso / 20, busiest / 20, counts["assignments"] / 15 * async_seconds,
               counts["users"] / 20 + max(counts["memberships"], counts["assignments"]) / 20)


def timeline(server: SandboxServer, since: float, window: float) -> None:
    """Calls per operation in each window of the run: a lane below its quota shows as a dip."""
    rows: dict[int, Counter[str]] = {}
    for instant, operation in server.call_entries(since):
        rows.setdefault(int((instant - since) // window), Counter())[operation.split(":")[1]] += 1
    names = sorted({name for row in rows.values() for name in row})
    print(json.dumps({"timeline_window_seconds": window, "per_second": {
        f"{index * window:g}s": {n: round(rows[index][n] / window, 1) for n in names if rows[index][n]}
        for index in sorted(rows)}}, indent=1))


def split_state(counters: dict[str, int]) -> tuple[Counter[str], dict[str, int]]:
    """(Identity Center calls, calls to the shared state backend)."""
    state = {op: n for op, n in sorted(counters.items()) if op.startswith(("dynamodb:", "s3:"))}
    return Counter({op: n for op, n in counters.items() if op not in state}), state


if __name__ == "__main__":
    main()
