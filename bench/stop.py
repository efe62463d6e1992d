"""Benchmark: how fast a busy `awsideman backup create` stops on SIGTERM / SIGINT (not a test).

Starts the sandbox emulator, seeds it, switches on 20 ms latency, the real quotas and 30 %
random throttling, starts a backup, waits until it is busy (a number of DescribePermissionSet
calls seen), sends the signal and reports: the exit code, the time from signal to exit, and
the API calls the emulator saw start after the signal, after +0.5 s and after +1 s.

Usage:
    python bench/stop.py                 # SIGTERM and SIGINT, 3 runs each, size small
    python bench/stop.py --runs 5 --size large
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time

from botocore.config import Config

from awsideman.sandbox import seeder
from awsideman.sandbox.server import SandboxServer, sandbox_session

BUSY = {"seed": 5, "latency_ms": 20, "quotas": "real", "rules": [{"operation": "*", "throttle": 0.3}]}


def one_run(server: SandboxServer, signum: int, home: str) -> dict[str, float]:
    env = dict(os.environ, **server.env(), AWSIDEMAN_HOME=home)
    server.set_faults(BUSY)
    server.reset_counters()
    proc = subprocess.Popen([sys.executable, "-m", "awsideman", "backup", "create"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    while server.counters().get("sso-admin:DescribePermissionSet", 0) < 3:
        time.sleep(0.005)
    samples: dict[str, int] = {}
    sent = time.monotonic()
    proc.send_signal(signum)
    samples["at_signal"] = sum(server.counters().values())

    def sample(name: str, after: float) -> None:
        time.sleep(max(0.0, sent + after - time.monotonic()))
        samples[name] = sum(server.counters().values())

    timers = [threading.Thread(target=sample, args=(n, a)) for n, a in (("plus_0_5", 0.5), ("plus_1", 1.0))]
    for timer in timers:
        timer.start()
    proc.wait()
    exited = time.monotonic() - sent
    for timer in timers:
        timer.join()
    samples["final"] = sum(server.counters().values())
    return {"exit_code": proc.returncode, "seconds_to_exit": round(exited, 3),
            "calls_after_signal": samples["final"] - samples["at_signal"],
            "calls_after_0_5s": samples["final"] - samples["plus_0_5"],
            "calls_after_1s": samples["final"] - samples["plus_1"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="small", choices=sorted(seeder.SIZES))
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with SandboxServer() as server, tempfile.TemporaryDirectory() as home:
        session = sandbox_session()
        config = Config(retries={"mode": "standard", "max_attempts": 10})
        clients = {n: session.client(n, endpoint_url=server.endpoint_url, config=config)
                   for n in ("sso-admin", "identitystore")}
        seeder.seed(clients, args.size, seed=0)
        for signum in (signal.SIGTERM, signal.SIGINT):
            for run in range(args.runs):
                print(signal.Signals(signum).name, run + 1, one_run(server, signum, home), flush=True)


if __name__ == "__main__":
    main()
