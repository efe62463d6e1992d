"""Benchmark: time and memory of backup, diff, dry-run and restore per size (not a test).

For each `--sizes` entry: a fresh served emulator seeded in-process (`seed_backends`, straight
into the backends), quotas and latency off in the emulator and the tool's rate limiter off
(`rate_limit: {enabled: false}`), so what is measured is the tool's own work and the
emulator's, not a quota. Then, each as its own `awsideman` process:

    backup create       the whole instance into a fresh local store
    diff BACKUP         the backup against the live instance (equal)
    restore --dry-run   the plan against the unchanged instance (nothing to do)
    restore --yes       after drift (0.2 % of users retitled, memberships and assignments
                        deleted): plans everything, applies the few changes back

`--fresh` also restores the backup into an emptied instance (every resource written; long on
`huge`). `--commands` measures only some of them (`backup` always runs: the others need its
backup; `restore` is the drifted one, so it runs after the rest). Per command: wall seconds,
resources, seconds per 1,000 resources, peak RSS of the process and its CPU seconds (user +
system), from `os.wait4`'s rusage of that process alone, started by a small launcher (see
`LAUNCHER`: forked from this process, it would inherit the emulator's peak RSS).

Usage:
    python bench/scale.py                        # large and huge
    python bench/scale.py --sizes small --json
    python bench/scale.py --sizes large --fresh
    python bench/scale.py --sizes huge --commands diff,dry-run
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from awsideman.sandbox.seed_backends import seed_backends
from awsideman.sandbox.seeder import SIZES, SeedResult
from awsideman.sandbox.server import SandboxServer, sandbox_session

RESOURCES = ("users", "groups", "memberships", "permission_sets", "assignments")
COMMANDS = ("backup", "diff", "dry-run", "restore")
DRIFT = 0.002  # share of users, memberships and assignments changed before the drifted restore
TARGET_RSS_MB = 500.0
TARGET_FLATNESS = 1.3  # seconds per 1,000 resources, this size / the smallest size measured


def machine() -> dict[str, Any]:
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor())
    return {"nproc": os.cpu_count(), "cpu": model, "python": platform.python_version()}


# Starts the command and reports its rusage. A child forked from this process would inherit its
# peak RSS: Linux carries the forking process's high-water mark over fork and exec into
# ru_maxrss, and this process holds the emulator and the whole seeded instance (~500 MB on
# `huge`, more than most commands themselves). Forked from this small launcher instead, the
# command's ru_maxrss is its own (the launcher's ~10 MB is the floor).
LAUNCHER = """
import json, os, subprocess, sys
proc = subprocess.Popen(sys.argv[2:])
_, status, usage = os.wait4(proc.pid, 0)
with open(sys.argv[1], "w") as out:
    json.dump({"maxrss_kb": usage.ru_maxrss, "cpu_seconds": usage.ru_utime + usage.ru_stime}, out)
sys.exit(os.waitstatus_to_exitcode(status))
"""


def run(env: dict[str, str], *args: str) -> dict[str, Any]:
    """One `awsideman` process; its own peak RSS and CPU from the kernel's accounting of it."""
    command = [sys.executable, "-m", "awsideman", "-o", "json", "--quiet", *args]
    started = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
            tempfile.NamedTemporaryFile("r", suffix=".json") as usage:
        proc = subprocess.Popen([sys.executable, "-c", LAUNCHER, usage.name, *command], env=env, stdout=out,
                                stderr=err)
        returncode = proc.wait()
        wall = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
        measured = json.loads(usage.read() or "{}")
    if returncode not in (0, 3) or not measured:
        raise SystemExit(f"awsideman {' '.join(args)} failed (exit {returncode}):\n{stderr[-3000:]}")
    return {"wall_seconds": round(wall, 2), "exit_code": returncode,
            "peak_rss_mb": round(measured["maxrss_kb"] / 1024, 1),  # kilobytes on Linux
            "cpu_seconds": round(measured["cpu_seconds"], 2),
            "document": json.loads(stdout) if stdout.strip() else None}


def drift(server: SandboxServer, seeded: SeedResult) -> dict[str, int]:
    """Change a fixed share of the instance through the API, as an operator would."""
    session = sandbox_session()
    ids = session.client("identitystore", endpoint_url=server.endpoint_url)
    sso = session.client("sso-admin", endpoint_url=server.endpoint_url)
    store = seeded.identity_store_id
    every = int(1 / DRIFT)
    users = list(seeded.user_ids.items())[::every]
    for _, user_id in users:
        ids.update_user(IdentityStoreId=store, UserId=user_id,
                        Operations=[{"AttributePath": "title", "AttributeValue": "Drifted"}])
    memberships = seeded.memberships[::every]
    for group, user in memberships:
        membership = ids.get_group_membership_id(IdentityStoreId=store, GroupId=seeded.group_ids[group],
                                                 MemberId={"UserId": seeded.user_ids[user]})
        ids.delete_group_membership(IdentityStoreId=store, MembershipId=membership["MembershipId"])
    assignments = seeded.assignments[::every]
    for principal_type, name, ps_name, account in assignments:
        principal = (seeded.user_ids if principal_type == "USER" else seeded.group_ids)[name]
        sso.delete_account_assignment(InstanceArn=seeded.instance_arn, TargetId=account, TargetType="AWS_ACCOUNT",
                                      PermissionSetArn=seeded.permission_set_arns[ps_name],
                                      PrincipalType=principal_type, PrincipalId=principal)
    return {"users": len(users), "memberships": len(memberships), "assignments": len(assignments)}


def measure(size: str, fresh: bool, commands: tuple[str, ...] = COMMANDS) -> dict[str, Any]:
    with SandboxServer() as server, tempfile.TemporaryDirectory(prefix="awsideman-scale-") as tmp:
        home = Path(tmp)
        (home / "config.yaml").write_text("rate_limit:\n  enabled: false\n", encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "AWSIDEMAN_"))}
        env.update(server.env(), AWSIDEMAN_HOME=str(home), NO_COLOR="1",
                   AWS_CONFIG_FILE=str(home / "absent"), AWS_SHARED_CREDENTIALS_FILE=str(home / "absent"))
        server.reset(faults=True)  # moto's backends are the process's: the previous size is still there
        started = time.perf_counter()
        seeded = seed_backends(size)
        seed_seconds = time.perf_counter() - started
        resources = sum(seeded.counts()[k] for k in RESOURCES)
        rows: dict[str, Any] = {}
        backup = rows["backup"] = run(env, "backup", "create")
        backup_id = backup.pop("document")["backup_id"]
        if "diff" in commands:
            rows["diff"] = run(env, "diff", backup_id)
            rows["diff"]["changes"] = _changes(rows["diff"].pop("document"))
        if "dry-run" in commands:
            rows["restore --dry-run"] = run(env, "restore", backup_id, "--dry-run")
            rows["restore --dry-run"]["changes"] = _changes(rows["restore --dry-run"].pop("document"))
        if "restore" in commands:
            drifted = drift(server, seeded)
            rows["restore (drifted)"] = run(env, "restore", backup_id, "--yes")
            rows["restore (drifted)"]["changes"] = _changes(rows["restore (drifted)"].pop("document"))
            rows["restore (drifted)"]["drift"] = drifted
        if fresh:
            server.reset()
            rows["restore (fresh)"] = run(env, "restore", backup_id, "--yes")
            rows["restore (fresh)"]["changes"] = _changes(rows["restore (fresh)"].pop("document"))
        for row in rows.values():
            row["resources"] = resources
            row["seconds_per_1000"] = round(row["wall_seconds"] / resources * 1000, 3)
        return {"size": size, "counts": seeded.counts(), "resources": resources,
                "seed_seconds": round(seed_seconds, 2), "commands": rows}


def _changes(document: Any) -> int | None:
    """How many changes a diff, plan or restore document reports (None if it says nothing)."""
    if not isinstance(document, dict):
        return None
    for key in ("applied", "changes", "differences"):
        if isinstance(document.get(key), list):
            return len(document[key])
    summary = document.get("summary")
    if isinstance(summary, dict) and isinstance(summary.get("total"), int):
        return summary["total"]
    return None


def verdicts(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Peak RSS under the target everywhere; time per resource flat against the first size."""
    found = []
    base = results[0]
    for result in results:
        for command, row in result["commands"].items():
            found.append({"size": result["size"], "command": command, "name": "peak RSS MB",
                          "value": row["peak_rss_mb"], "limit": TARGET_RSS_MB,
                          "met": row["peak_rss_mb"] < TARGET_RSS_MB})
            if result is not base and command in base["commands"]:
                ratio = round(row["seconds_per_1000"] / base["commands"][command]["seconds_per_1000"], 2)
                found.append({"size": result["size"], "command": command,
                              "name": f"s/1000 vs {base['size']}", "value": ratio, "limit": TARGET_FLATNESS,
                              "met": ratio <= TARGET_FLATNESS})
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="large,huge", help="comma-separated, smallest first")
    parser.add_argument("--fresh", action="store_true", help="also restore into an emptied instance")
    parser.add_argument("--commands", default=",".join(COMMANDS),
                        help=f"comma-separated, of {','.join(COMMANDS)} (backup always runs: the others need it)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    commands = tuple(c.strip() for c in args.commands.split(",") if c.strip())
    if not commands or any(c not in COMMANDS for c in commands):
        parser.error(f"--commands: choose from {', '.join(COMMANDS)}")
    sizes = args.sizes.split(",")
    unknown = [s for s in sizes if s not in SIZES]
    if unknown:
        parser.error(f"unknown size(s) {', '.join(unknown)}; choose from {', '.join(SIZES)}")
    results = []
    for size in sizes:
        results.append(measure(size, args.fresh, commands))
        if not args.json:
            print(f"measured {size}", file=sys.stderr)
    data = {"machine": machine(), "results": results, "targets": verdicts(results)}
    if args.json:
        print(json.dumps(data, indent=2))
        return 0
    print(f"machine: nproc {data['machine']['nproc']}, {data['machine']['cpu']}, Python {data['machine']['python']}")
    print(f"{'size':6} {'command':18} {'resources':>9} {'wall s':>8} {'s/1000':>7} {'RSS MB':>7} {'CPU s':>7} changes")
    for result in results:
        for command, row in result["commands"].items():
            print(f"{result['size']:6} {command:18} {row['resources']:>9} {row['wall_seconds']:>8} "
                  f"{row['seconds_per_1000']:>7} {row['peak_rss_mb']:>7} {row['cpu_seconds']:>7} "
                  f"{row.get('changes')}")
    for target in data["targets"]:
        print(f"target {target['size']} {target['command']}: {target['name']} {target['value']} "
              f"(limit {target['limit']}): {'ok' if target['met'] else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
