"""Benchmark: start-up of the CLI, as whole processes (issue 25 item 5).

Times `awsideman --version`, `awsideman --help` and `awsideman report list` (a local journal in a
temporary AWSIDEMAN_HOME, no AWS call) from process start to exit, N times each after a warm-up,
and prints min / median / max wall seconds against the targets (0.15 s, 0.15 s, 0.3 s).
Which modules each imports is what tests/cli/test_startup.py asserts; this measures the time.

Usage:
    python bench/startup.py                    # 15 runs each, the installed `awsideman`
    python bench/startup.py --runs 30 --json
    python bench/startup.py --command 'python -m awsideman'
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

CASES = (("--version", ["--version"], 0.15), ("--help", ["--help"], 0.15), ("report list", ["report", "list"], 0.3))


def timed(command: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    proc = subprocess.run(command, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, check=False)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"{shlex.join(command)} exited {proc.returncode}: {proc.stderr.decode()[-500:]}")
    return elapsed


def measure(base: list[str], runs: int, warmup: int) -> list[dict[str, Any]]:
    rows = []
    with tempfile.TemporaryDirectory(prefix="awsideman-startup-") as home:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS")}  # AWS_* and AWSIDEMAN_*
        env["AWSIDEMAN_HOME"] = home
        for name, args, target in CASES:
            command = [*base, *args]
            for _ in range(warmup):  # also creates the journal `report list` reads
                timed(command, env)
            times = [timed(command, env) for _ in range(runs)]
            median = statistics.median(times)
            rows.append({"command": name, "runs": runs, "min": round(min(times), 4), "median": round(median, 4),
                         "max": round(max(times), 4), "target": target, "ok": median <= target})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="counted runs per command (default 15)")
    parser.add_argument("--warmup", type=int, default=2, help="runs not counted, first (default 2)")
    parser.add_argument("--command", help="how to start awsideman (default: the installed executable)")
    parser.add_argument("--json", action="store_true", help="one JSON document on stdout")
    options = parser.parse_args()
    if options.runs < 1 or options.warmup < 1:
        parser.error("--runs and --warmup must be at least 1")
    found = shutil.which("awsideman")
    base = shlex.split(options.command) if options.command else [found] if found else [sys.executable, "-m",
                                                                                         "awsideman"]
    rows = measure(base, options.runs, options.warmup)
    if options.json:
        print(json.dumps({"command": shlex.join(base), "results": rows}, indent=2))
        return
    print(f"{shlex.join(base)}: wall seconds over {options.runs} runs (after {options.warmup} warm-up)")
    print(f"{'command':<12} {'min':>7} {'median':>7} {'max':>7} {'target':>7}")
    for row in rows:
        verdict = "ok" if row["ok"] else "MISSED"
        print(f"{row['command']:<12} {row['min']:>7.3f} {row['median']:>7.3f} {row['max']:>7.3f} "
              f"{row['target']:>7.2f}  target: median {verdict}")


if __name__ == "__main__":
    main()
