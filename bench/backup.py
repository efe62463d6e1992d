"""Benchmark: API calls and wall time of `awsideman backup create` at scale (not a test).

Starts the sandbox emulator on 127.0.0.1, seeds it (faults off), then switches on the
service's latency and real quotas (sso-admin: one 20 calls/s budget shared by all its APIs;
identitystore: 20 calls/s per API), optionally random throttling, and runs a real backup:
the `awsideman` executable as a subprocess with the emulator's environment and a fresh
AWSIDEMAN_HOME (default), or in-process through `BackupService` (`--in-process`, which also
shows the tool's own per-operation counts and its rate limiter's figures).

It prints, per `service:Operation`: the calls the emulator saw (throttled attempts included),
the throttles it injected and the fewest calls this fixture needs; then calls/minimum, wall
time, the quota lower bound (max over quota buckets of calls / rate), the floor (the bound /
(1 - fault rate): every faulted attempt still spends a quota token) and the targets that apply
to the run (see `targets`).

Usage:
    python bench/backup.py                       # size large, seed 0, 20 ms latency
    python bench/backup.py --size small          # quicker iteration
    python bench/backup.py --throttle 0.3        # plus 30 % random throttling on every call
    python bench/backup.py --concurrency 16      # written to AWSIDEMAN_HOME/config.yaml
    python bench/backup.py --json                # one JSON document on stdout
    python bench/backup.py --timeline            # when each operation ran; calls per 5 s per bucket
    python bench/backup.py --in-process          # BackupService in this process
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from botocore.config import Config

from awsideman.core.attributes import snapshot_records
from awsideman.core.model import Snapshot, canonical_json
from awsideman.sandbox import seeder
from awsideman.sandbox.fault_rules import REAL_QUOTAS
from awsideman.sandbox.server import SandboxServer, sandbox_session

SSO, IDS, STS = "sso-admin", "identitystore", "sts"
PAGE = 100  # MaxResults the tool asks for on every list call
TAGS_PAGE = 10  # the emulator's (and the service's) ListTagsForResource page size
SEED_CONFIG = Config(retries={"mode": "standard", "max_attempts": 10})
TARGET_CALLS_RATIO = 1.1  # calls the service accepted / the minimum
TARGET_CLEAN = 1.05  # wall / quota bound, no faults
TARGET_FAULTS = 1.15  # wall / floor, with random throttles or HTTP 500s
TARGET_REAL_RATE = 1.2  # wall / bound at the lower real quota
TARGET_THROTTLED_SHARE = 0.05  # throttled attempts / all attempts at the lower real quota


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="large", choices=sorted(seeder.SIZES))
    parser.add_argument("--seed", type=int, default=0, help="seeder and fault-rule seed")
    parser.add_argument("--latency-ms", type=float, default=20.0, help="added to every call")
    parser.add_argument("--throttle", type=float, default=0.0,
                        help="probability of a random ThrottlingException on any call (e.g. 0.3)")
    parser.add_argument("--server-error", type=float, default=0.0,
                        help="probability of a random HTTP 500 on any call (e.g. 0.05)")
    parser.add_argument("--real-rate", type=float, default=None,
                        help="the emulator's quota in calls/s per bucket (the tool still assumes 20)")
    parser.add_argument("--concurrency", type=int, default=None,
                        help="the tool's `concurrency:` setting (default: the tool's default)")
    parser.add_argument("--timeline", action="store_true",
                        help="also show when each operation ran and each quota bucket's calls per 5 s "
                             "(from the emulator's call log): idle stretches of a bucket show up as dips")
    parser.add_argument("--in-process", action="store_true",
                        help="run BackupService here instead of the awsideman executable")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    return parser.parse_args(argv)


# -- the fixture ---------------------------------------------------------------------------
def seed_fixture(server: SandboxServer, size: str, seed: int) -> seeder.SeedResult:
    """Seed with faults off, then zero the counters so only the backup is counted."""
    server.reset(faults=True)
    session = sandbox_session()
    clients = {name: session.client(name, endpoint_url=server.endpoint_url, config=SEED_CONFIG)
               for name in (SSO, IDS)}
    seeded = seeder.seed(clients, size, seed=seed)
    server.reset_counters()
    return seeded


def fault_rules(latency_ms: float, throttle: float, seed: int, server_error: float = 0.0,
                real_rate: float | None = None) -> dict[str, Any]:
    """The emulator's rules during the backup: latency, quotas (real, or the real shapes at
    `real_rate` calls/s), optional random throttling and HTTP 500s."""
    rules: dict[str, Any] = {"seed": seed, "latency_ms": latency_ms, "quotas": quota_rules(real_rate)}
    if throttle > 0 or server_error > 0:
        rules["rules"] = [{"operation": "*", "throttle": throttle, "server_error": server_error}]
    return rules


def quota_rules(real_rate: float | None) -> Any:
    """`real`, or the real quota shapes (burst = rate) at a different rate."""
    if real_rate is None:
        return "real"
    return {service: {"rate": real_rate, "burst": real_rate, "scope": scope}
            for service, (_, _, scope) in REAL_QUOTAS.items()}


# -- the fewest calls this fixture needs ---------------------------------------------------
def pages(items: int, page: int = PAGE) -> int:
    """Calls to list `items` things: at least one, even for an empty list."""
    return max(1, math.ceil(items / page))


def minimum_calls(seeded: seeder.SeedResult) -> tuple[Counter[str], str]:
    """Fewest calls per `service:Operation` for a full backup, and the assignment route used."""
    need: Counter[str] = Counter({f"{SSO}:ListInstances": 1, f"{STS}:GetCallerIdentity": 1})
    need[f"{IDS}:ListUsers"] = pages(len(seeded.users))
    need[f"{IDS}:ListGroups"] = pages(len(seeded.groups))
    members = Counter(group for group, _ in seeded.memberships)
    need[f"{IDS}:ListGroupMemberships"] = sum(pages(members[g]) for g in seeded.groups)
    need[f"{SSO}:ListPermissionSets"] = pages(len(seeded.permission_sets))
    need.update(permission_set_calls(seeded))
    by_set, by_principal = assignment_routes(seeded)
    cheaper = min((by_set, "permission-set"), (by_principal, "principal"), key=lambda r: sum(r[0].values()))
    need.update(cheaper[0])
    return need, cheaper[1]


def permission_set_calls(seeded: seeder.SeedResult) -> Counter[str]:
    """Six calls per permission set, more when a list spans several pages."""
    need: Counter[str] = Counter()
    for spec in seeded.permission_sets.values():
        need[f"{SSO}:DescribePermissionSet"] += 1
        need[f"{SSO}:GetInlinePolicyForPermissionSet"] += 1
        need[f"{SSO}:GetPermissionsBoundaryForPermissionSet"] += 1
        need[f"{SSO}:ListManagedPoliciesInPermissionSet"] += pages(len(spec["ManagedPolicyArns"]))
        need[f"{SSO}:ListCustomerManagedPolicyReferencesInPermissionSet"] += pages(
            len(spec["CustomerManagedPolicyReferences"]))
        need[f"{SSO}:ListTagsForResource"] += pages(len(spec["Tags"]), TAGS_PAGE)
    return need


def assignment_routes(seeded: seeder.SeedResult) -> tuple[Counter[str], Counter[str]]:
    """Calls to list every assignment by permission set (and account) and by principal."""
    per_pair = Counter((ps, account) for _, _, ps, account in seeded.assignments)
    accounts_per_set = Counter(ps for ps, _ in per_pair)
    by_set: Counter[str] = Counter()
    by_set[f"{SSO}:ListAccountsForProvisionedPermissionSet"] = sum(
        pages(accounts_per_set[ps]) for ps in seeded.permission_sets)
    by_set[f"{SSO}:ListAccountAssignments"] = sum(pages(n) for n in per_pair.values())
    per_principal = Counter((ptype, name) for ptype, name, _, _ in seeded.assignments)
    principals = [("USER", u) for u in seeded.users] + [("GROUP", g) for g in seeded.groups]
    by_principal = Counter({f"{SSO}:ListAccountAssignmentsForPrincipal":
                            sum(pages(per_principal[p]) for p in principals)})
    return by_set, by_principal


# -- the quota floor -----------------------------------------------------------------------
def quota_bucket(key: str) -> str | None:
    """The emulator's (and the service's) quota bucket a call draws from, None if unlimited."""
    service = key.split(":", 1)[0]
    shape = REAL_QUOTAS.get(service)
    if shape is None:
        return None
    return service if shape[2] == "shared" else key


def quota_bound(calls: dict[str, int], real_rate: float | None = None) -> tuple[float, str]:
    """Seconds the quotas need for `calls` at best (max over buckets of calls / rate)."""
    per_bucket: Counter[str] = Counter()
    for key, count in calls.items():
        bucket = quota_bucket(key)
        if bucket is not None:
            per_bucket[bucket] += count
    if not per_bucket:
        return 0.0, "-"
    def rate(bucket: str) -> float:
        return real_rate or REAL_QUOTAS[bucket.split(":")[0]][0]

    bucket, count = max(per_bucket.items(), key=lambda item: item[1] / rate(item[0]))
    return count / rate(bucket), bucket


def faults_by_operation(fault_counts: dict[str, int], kind: str) -> Counter[str]:
    """`svc:Op:KIND` fault counters folded into `svc:Op`."""
    out: Counter[str] = Counter()
    for key, count in fault_counts.items():
        service_op, _, found = key.rpartition(":")
        if found == kind:
            out[service_op] += count
    return out


def snapshot_digest(home: Path) -> str | None:
    """sha256 of the backup's content by natural keys (the ids the emulator generated while
    seeding differ from run to run): equal digests mean the same users, groups, memberships,
    permission sets and assignments, attribute for attribute."""
    found = sorted((home / "backups").glob("*/snapshot.json.gz"))
    if len(found) != 1:
        return None
    snapshot = Snapshot.from_dict(json.loads(gzip.decompress(found[0].read_bytes())))
    records = {kind: {"/".join(key): record for key, record in by_key.items()}
               for kind, by_key in snapshot_records(snapshot).items()}
    return hashlib.sha256(canonical_json(records)).hexdigest()


# -- running the backup --------------------------------------------------------------------
def backup_env(server: SandboxServer, home: Path) -> dict[str, str]:
    """This process's environment minus real AWS settings, plus the emulator's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "AWSIDEMAN_"))}
    env.update(server.env())
    env["AWS_CONFIG_FILE"] = str(home / "aws-config-absent")
    env["AWS_SHARED_CREDENTIALS_FILE"] = str(home / "aws-credentials-absent")
    env["AWSIDEMAN_HOME"] = str(home)
    env["NO_COLOR"] = "1"
    return env


def write_config(home: Path, concurrency: int | None) -> None:
    if concurrency is not None:
        (home / "config.yaml").write_text(f"concurrency: {concurrency}\n", encoding="utf-8")


def run_cli(env: dict[str, str]) -> dict[str, Any]:
    """`awsideman backup create -o json` as users run it; the JSON result plus wall time."""
    command = [sys.executable, "-m", "awsideman", "backup", "create", "-o", "json", "--quiet"]
    epoch = time.time()
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    if done.returncode not in (0, 3):
        raise SystemExit(f"backup failed (exit {done.returncode}):\n{done.stderr[-3000:]}\n{done.stdout[-2000:]}")
    return {"wall_seconds": wall, "exit_code": done.returncode, "result": json.loads(done.stdout), "epoch": epoch}


def run_in_process(env: dict[str, str]) -> dict[str, Any]:
    """`BackupService(...).create()` here: also yields per-operation counts and limiter figures."""
    os.environ.clear()
    os.environ.update(env)
    from awsideman.config import load_settings
    from awsideman.services.backup import BackupRequest, BackupService
    from awsideman.services.context import Context

    context = Context(load_settings())
    epoch = time.time()
    started = time.perf_counter()
    result = BackupService(context).create(BackupRequest())
    wall = time.perf_counter() - started
    tool = {"calls": context.gateway.calls_by_operation(),
            "limiter": context.gateway._retry.limiter.snapshot()}  # noqa: SLF001 (bench only)
    context.close()
    return {"wall_seconds": wall, "exit_code": 0, "result": result.to_dict(), "tool": tool, "epoch": epoch}


def run_backup(server: SandboxServer, args: argparse.Namespace) -> dict[str, Any]:
    """One backup against the seeded emulator with the benchmark's fault rules on."""
    with tempfile.TemporaryDirectory(prefix="awsideman-bench-") as tmp:
        home = Path(tmp)
        write_config(home, args.concurrency)
        env = backup_env(server, home)
        server.set_faults(fault_rules(args.latency_ms, args.throttle, args.seed, args.server_error,
                                      args.real_rate))
        try:
            run = run_in_process(env) if args.in_process else run_cli(env)
        finally:
            server.set_faults(None)
        run["snapshot_sha256"] = snapshot_digest(home)
        return run


# -- figures and output --------------------------------------------------------------------
TIMELINE_STEP = 5.0  # seconds per column of the per-bucket counts


def timeline(entries: list[tuple[float, str]], epoch: float) -> dict[str, Any]:
    """When each operation ran (seconds after the process started) and each quota bucket's calls
    per TIMELINE_STEP seconds."""
    spans: dict[str, list[float]] = {}
    per_bucket: dict[str, Counter[int]] = {}
    for started, key in entries:
        at = started - epoch
        span = spans.setdefault(key, [at, at])
        span[1] = at
        bucket = quota_bucket(key)
        if bucket is not None:
            per_bucket.setdefault(bucket, Counter())[int(at // TIMELINE_STEP)] += 1
    columns = 1 + max((int((t - epoch) // TIMELINE_STEP) for t, _ in entries), default=0)
    ordered = sorted(spans.items(), key=lambda item: item[1][0])
    return {"step_seconds": TIMELINE_STEP,
            "operations": {key: [round(first, 2), round(last, 2)] for key, (first, last) in ordered},
            "per_bucket": {bucket: [counts.get(i, 0) for i in range(columns)]
                           for bucket, counts in sorted(per_bucket.items())}}


def print_timeline(data: dict[str, Any]) -> None:
    print(f"\n{'operation':58} {'first s':>8} {'last s':>8}")
    for key, (first, last) in data["operations"].items():
        print(f"{key:58} {first:>8} {last:>8}")
    print(f"calls per {data['step_seconds']:g} s, per quota bucket:")
    for bucket, counts in data["per_bucket"].items():
        print(f"  {bucket}: {' '.join(str(n) for n in counts)}")


def figures(seeded: seeder.SeedResult, run: dict[str, Any], server_calls: dict[str, int],
            server_faults: dict[str, int], args: argparse.Namespace) -> dict[str, Any]:
    """Everything the benchmark reports, as one JSON-able document."""
    need, route = minimum_calls(seeded)
    throttled = faults_by_operation(server_faults, "throttle")
    errors = faults_by_operation(server_faults, "server_error")
    accepted = {k: v - throttled.get(k, 0) - errors.get(k, 0) for k, v in server_calls.items()}
    bound, bucket = quota_bound(need, args.real_rate)
    bound_actual, bucket_actual = quota_bound(accepted, args.real_rate)
    fault_rate = args.throttle + args.server_error
    floor = bound / (1 - fault_rate)
    total, minimum, result = sum(server_calls.values()), sum(need.values()), run["result"]
    return {
        "size": args.size, "seed": args.seed, "latency_ms": args.latency_ms, "throttle": args.throttle,
        "server_error": args.server_error, "real_rate": args.real_rate,
        "concurrency": args.concurrency, "mode": "in-process" if args.in_process else "cli",
        "counts": seeded.counts(), "status": result.get("status"),
        "calls": {"server": server_calls, "throttled": dict(throttled), "minimum": dict(need),
                  "tool": run.get("tool", {}).get("calls")},
        "server_calls": total, "server_calls_accepted": sum(accepted.values()),
        "server_throttles": sum(throttled.values()), "server_errors": sum(errors.values()),
        "throttled_share": round(sum(throttled.values()) / total, 4) if total else 0.0,
        "tool_api_calls": result.get("api_calls"),
        "tool_retries": result.get("retries"), "minimum_calls": minimum, "minimum_route": route,
        "calls_ratio": round(total / minimum, 3),
        "calls_ratio_accepted": round(sum(accepted.values()) / minimum, 3),
        "wall_seconds": round(run["wall_seconds"], 2), "tool_seconds": result.get("duration_seconds"),
        "quota_bound_seconds": round(bound, 2), "quota_bound_bucket": bucket,
        "wall_ratio": round(run["wall_seconds"] / bound, 3) if bound else None,
        "floor_seconds": round(floor, 2), "wall_to_floor": round(run["wall_seconds"] / floor, 3) if floor else None,
        "snapshot_sha256": run.get("snapshot_sha256"),
        "quota_bound_actual_seconds": round(bound_actual, 2), "quota_bound_actual_bucket": bucket_actual,
        "limiter": run.get("tool", {}).get("limiter"),
    }


def targets(data: dict[str, Any]) -> list[dict[str, Any]]:
    """The targets that apply to this run (issue 14), each with its figure and verdict."""
    found = [("calls accepted / minimum", data["calls_ratio_accepted"], TARGET_CALLS_RATIO)]
    if data["real_rate"] is not None:
        found += [("wall / bound at the real rate", data["wall_ratio"], TARGET_REAL_RATE),
                  ("throttled share", data["throttled_share"], TARGET_THROTTLED_SHARE)]
    elif data["throttle"] or data["server_error"]:
        found.append(("wall / floor", data["wall_to_floor"], TARGET_FAULTS))
    else:
        found.append(("wall / bound", data["wall_ratio"], TARGET_CLEAN))
    return [{"name": name, "value": value, "limit": limit, "met": value is not None and value <= limit}
            for name, value, limit in found]


def print_table(data: dict[str, Any]) -> None:
    calls = data["calls"]
    tool = calls["tool"] or {}
    keys = sorted(set(calls["server"]) | set(calls["minimum"]))
    print(f"{'operation':58} {'server':>7} {'thrott':>7} {'tool':>7} {'min':>7}")
    for key in keys:
        tool_count = tool.get(key, "-") if tool else "-"
        print(f"{key:58} {calls['server'].get(key, 0):>7} {calls['throttled'].get(key, 0):>7} "
              f"{tool_count:>7} {calls['minimum'].get(key, 0):>7}")


def print_summary(data: dict[str, Any]) -> None:
    ok = lambda good: "ok" if good else "MISSED"  # noqa: E731
    print(f"\nfixture {data['size']} seed {data['seed']}: {data['counts']}")
    print(f"rules: latency {data['latency_ms']} ms, quotas {data['real_rate'] or 'real'}, "
          f"throttle {data['throttle']}, server errors {data['server_error']}; "
          f"concurrency {data['concurrency'] or 'default'}; mode {data['mode']}; status {data['status']}")
    print(f"calls: server {data['server_calls']} (accepted {data['server_calls_accepted']}, "
          f"throttled {data['server_throttles']} = {data['throttled_share']:.1%}, "
          f"HTTP 500 {data['server_errors']}), tool {data['tool_api_calls']}, "
          f"retries {data['tool_retries']}")
    print(f"minimum calls: {data['minimum_calls']} (assignments by {data['minimum_route']})")
    print(f"calls / minimum: {data['calls_ratio']} (accepted only: {data['calls_ratio_accepted']})")
    print(f"wall: {data['wall_seconds']} s (tool's own: {data['tool_seconds']} s)")
    print(f"quota bound: {data['quota_bound_seconds']} s ({data['quota_bound_bucket']}, minimum calls); "
          f"{data['quota_bound_actual_seconds']} s for the calls accepted")
    print(f"wall / bound: {data['wall_ratio']}")
    print(f"floor (bound / (1 - fault rate)): {data['floor_seconds']} s; wall / floor: {data['wall_to_floor']}")
    print(f"snapshot sha256: {data['snapshot_sha256']}")
    for target in data["targets"]:
        print(f"target: {target['name']} {target['value']} <= {target['limit']}: {ok(target['met'])}")
    if data["limiter"]:
        print(f"tool's limiter: {data['limiter']}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with SandboxServer() as server:
        started = time.perf_counter()
        seeded = seed_fixture(server, args.size, args.seed)
        if not args.json:
            print(f"seeded {args.size} in {time.perf_counter() - started:.1f} s", file=sys.stderr)
        run = run_backup(server, args)
        data = figures(seeded, run, server.counters(), server.fault_counters(), args)
        data["targets"] = targets(data)
        if args.timeline:
            data["timeline"] = timeline(server.call_entries(run["epoch"]), run["epoch"])
    if args.json:
        print(json.dumps(data, indent=2, sort_keys=True))
    else:
        print_table(data)
        print_summary(data)
        if args.timeline:
            print_timeline(data["timeline"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
