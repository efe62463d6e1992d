"""Benchmark: wall time and peak memory of `awsideman access` and `access diff` at scale (not a test).

Starts the sandbox emulator on 127.0.0.1, seeds `--size` in-process (default large: 2,000 users, 200 groups,
4,000 memberships, 100 permission sets, 50 accounts, 3,000 assignments; `huge` in seconds), backs it
up, removes `--drop` memberships and backs it up again. Then runs each `awsideman access ...`
command as its own process, with stdout to a file, and reports per command: wall time, the
process's peak RSS (`os.wait4`'s rusage: that child alone), and the lines and bytes written.
`awsideman --version` is measured too: the interpreter and imports alone.

Usage:
    python bench/access.py                # size large
    python bench/access.py --size small   # seconds
    python bench/access.py --json         # one JSON document on stdout
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from botocore.config import Config

from awsideman.sandbox import seeder
from awsideman.sandbox.seed_backends import seed_backends
from awsideman.sandbox.server import SandboxServer, sandbox_session

SEED_CONFIG = Config(retries={"mode": "standard", "max_attempts": 10})
# The client-side limiter at rates that never wait: the reads here measure the tool, not the quota.
UNPACED = "rate_limit: {sso_admin_rate: 10000, identitystore_rate: 10000, burst: 10000}\n"


def environment(server: SandboxServer, home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "AWSIDEMAN_"))}
    env.update(server.env())
    env.update(AWS_CONFIG_FILE=str(home / "aws-config-absent"), AWS_SHARED_CREDENTIALS_FILE=str(home / "absent"),
               AWSIDEMAN_HOME=str(home), NO_COLOR="1", COLUMNS="240")
    (home / "config.yaml").write_text(UNPACED, encoding="utf-8")
    return env


# Implementation note: a child's peak RSS starts at its parent's when it is forked (Linux keeps the
# high-water mark across fork and exec), and this process holds the whole emulator. So a small
# launcher (a fresh interpreter: stdlib only) starts each measured command and reads that child's
# own rusage with os.wait4.
LAUNCHER = """
import json, os, subprocess, sys, time
out, command = sys.argv[1], sys.argv[2:]
with open(out, "wb") as stdout:
    started = time.perf_counter()
    child = subprocess.Popen(command, stdout=stdout, stderr=subprocess.PIPE)
    stderr = child.stderr.read()
    _, status, usage = os.wait4(child.pid, 0)
print(json.dumps({"seconds": time.perf_counter() - started, "maxrss_kib": usage.ru_maxrss,
                  "exit": os.waitstatus_to_exitcode(status), "stderr": stderr.decode()[-400:]}))
"""


def measure(env: dict[str, str], args: list[str], out: Path) -> dict[str, Any]:
    """Run `awsideman ARGS` with stdout to ``out``: wall seconds, peak RSS (MiB), exit code, output size."""
    command = [sys.executable, "-m", "awsideman", *args]
    done = subprocess.run([sys.executable, "-c", LAUNCHER, str(out), *command], env=env, capture_output=True,
                          text=True, check=True)
    run = json.loads(done.stdout)
    data = out.read_bytes()
    return {"command": "awsideman " + " ".join(args), "exit": run["exit"], "seconds": round(run["seconds"], 2),
            "peak_rss_mib": round(run["maxrss_kib"] / 1024, 1), "lines": data.count(b"\n"), "bytes": len(data),
            **({"stderr": run["stderr"]} if run["exit"] not in (0, 3) else {})}


def backup(env: dict[str, str]) -> str:
    done = subprocess.run([sys.executable, "-m", "awsideman", "-o", "json", "backup", "create"], env=env,
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(done.stderr)
    return str(json.loads(done.stdout)["backup_id"])


def drop_memberships(seeded: seeder.SeedResult, endpoint: str, count: int) -> None:
    ids = sandbox_session().client("identitystore", endpoint_url=endpoint, config=SEED_CONFIG)
    store = seeded.identity_store_id
    for group, user in random.Random(0).sample(seeded.memberships, count):
        found = ids.get_group_membership_id(IdentityStoreId=store, GroupId=seeded.group_ids[group],
                                            MemberId={"UserId": seeded.user_ids[user]})
        ids.delete_group_membership(IdentityStoreId=store, MembershipId=found["MembershipId"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="large", choices=sorted(seeder.SIZES))
    parser.add_argument("--drop", type=int, default=100, help="memberships removed between the two backups")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    results: list[dict[str, Any]] = []
    with SandboxServer() as server, tempfile.TemporaryDirectory() as folder:
        home, out = Path(folder) / "home", Path(folder) / "out"
        home.mkdir()
        env = environment(server, home)
        started = time.perf_counter()
        # Straight into the served emulator's backends (it runs in this process): `huge` in seconds.
        seeded = seed_backends(args.size, seed=0)
        seeded_in = time.perf_counter() - started
        first = backup(env)
        drop_memberships(seeded, server.endpoint_url, min(args.drop, len(seeded.memberships)))
        second = backup(env)
        for command in (["--version"],
                        ["access", first, "--format", "csv"], ["access", first, "--format", "jsonl"],
                        ["access", first, "--format", "json"], ["access", first, "--format", "markdown"],
                        ["access", first], ["access", first, "--summary", "-o", "json"],
                        ["access", first, "--user", next(iter(seeded.users))],
                        ["access", "--live", "--format", "csv"],
                        ["access", "diff", first, second, "-o", "json"], ["access", "diff", first, "-o", "json"]):
            results.append(measure(env, command, out))
    data = {"size": args.size, "counts": seeded.counts(), "seeded_seconds": round(seeded_in, 1),
            "dropped_memberships": args.drop, "runs": results}
    if args.json:
        print(json.dumps(data, indent=2))
        return 0
    print(f"size {args.size}: {data['counts']} (seeded in {data['seeded_seconds']} s)")
    print(f"{'seconds':>8} {'peak MiB':>9} {'lines':>8} {'bytes':>11} exit  command")
    for run in results:
        print(f"{run['seconds']:>8} {run['peak_rss_mib']:>9} {run['lines']:>8} {run['bytes']:>11} {run['exit']:>4}  "
              f"{run['command']}")
        if "stderr" in run:
            print(f"          {run['stderr']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
