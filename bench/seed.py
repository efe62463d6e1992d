"""Benchmark: seed a data set in-process under moto and print wall time and counts.

Run: ``python bench/seed.py [size] [seed]`` (default: large 0). Not a test. ``huge`` (and any
size with ``--backends``) is written straight into the emulator's backends
(``awsideman.sandbox.seed_backends``), as ``awsideman sandbox up`` seeds; the other sizes go
call by call through boto3, as a test's ``seed()`` does.
"""

from __future__ import annotations

import os
import sys
import time

import boto3
from moto import mock_aws

from awsideman.sandbox import patches
from awsideman.sandbox.seed_backends import seed_backends
from awsideman.sandbox.seeder import seed


def main(size: str = "large", seed_value: int = 0, backends: bool = False) -> None:
    """Seed once and report wall time, calls per second and what was created."""
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        os.environ.setdefault(key, value)
    os.environ.pop("AWS_ENDPOINT_URL", None)  # in-process: never reach a served emulator
    patches.apply()
    with mock_aws():
        started = time.perf_counter()
        if backends or size == "huge":
            result = seed_backends(size, seed=seed_value)
        else:
            result = seed(boto3.Session(region_name="us-east-1"), size, seed=seed_value)
        elapsed = time.perf_counter() - started
    counts = result.counts()
    print(f"seeded {size!r} (seed={seed_value}) in {elapsed:.1f} s wall time")
    for name, count in counts.items():
        print(f"  {name:16} {count}")


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "--backends"]
    main(*(args[0:1] or ["large"]), *(int(a) for a in args[1:2]), backends="--backends" in sys.argv)
