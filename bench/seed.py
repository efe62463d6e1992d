"""Benchmark: seed the ``large`` data set in-process under moto and print wall time and counts.

Run: ``python bench/seed.py [size] [seed]`` (default: large 0). Not a test.
"""

from __future__ import annotations

import os
import sys
import time

import boto3
from moto import mock_aws

from awsideman.sandbox import patches
from awsideman.sandbox.seeder import seed


def main(size: str = "large", seed_value: int = 0) -> None:
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
        result = seed(boto3.Session(region_name="us-east-1"), size, seed=seed_value)
        elapsed = time.perf_counter() - started
    counts = result.counts()
    print(f"seeded {size!r} (seed={seed_value}) in {elapsed:.1f} s wall time")
    for name, count in counts.items():
        print(f"  {name:16} {count}")


if __name__ == "__main__":
    main(*(sys.argv[1:2] or ["large"]), *(int(a) for a in sys.argv[2:3]))
