"""One journal suite, two backends: every test that takes the `journal` fixture (or `open_journal`)
runs against the SQLite file and against the shared DynamoDB table (in-process emulator, real
boto3 through the AWS gateway). Tests about the SQLite file itself take `db_path` and are skipped
for DynamoDB; tests about leases and fencing live in test_shared_state.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from awsideman.journal import Journal

T0 = datetime(2024, 3, 1, 9, 0, 0, tzinfo=UTC)
TABLE = "awsideman-state"
BUCKET = "state-bucket"


class Clock:
    """A settable clock, so tests never sleep to make time pass."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(params=["sqlite", "dynamodb"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def db_path(tmp_path: Path, request: pytest.FixtureRequest) -> Path:
    if "backend" in request.fixturenames and request.getfixturevalue("backend") != "sqlite":
        pytest.skip("about the SQLite file")
    return tmp_path / "home" / "state.db"


_GATEWAY: list[Any] = []


def gateway() -> Any:
    """One gateway per test process: its boto3 clients are what costs (the emulator is reset per test)."""
    if not _GATEWAY:
        from awsideman.adapters.aws import AwsGateway
        from awsideman.core.retry import RetryConfig, RetryPolicy

        _GATEWAY.append(AwsGateway(profile=None, region="us-east-1",
                                   retry=RetryPolicy(RetryConfig(max_retries=2, base_delay=0.01, max_delay=0.02))))
    return _GATEWAY[0]


def shared_table(sandbox: Any) -> None:
    """Create the state table and bucket the way `awsideman state init` does."""
    from awsideman.config import Settings
    from awsideman.services.state_admin import init_state

    gateway().call("s3", "CreateBucket", Bucket=BUCKET)
    init_state(Settings(home=sandbox.home, region="us-east-1", state=f"dynamodb://{TABLE}",
                        state_s3=f"s3://{BUCKET}/state"), gateway=gateway(), sleep=lambda _s: None)


def dynamo_journal(clock: Callable[[], datetime] | None = None, **kwargs: Any) -> Any:
    from awsideman.adapters.state_blobs import BlobStore
    from awsideman.journal.dynamo import DynamoJournal

    return DynamoJournal.open(gateway(), TABLE, BlobStore(gateway(), BUCKET, "state"), clock=clock, **kwargs)


@pytest.fixture
def open_journal(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Callable[..., Any]]:
    """``open_journal(clock=None)``: another handle on the same journal (same file or table)."""
    opened: list[Any] = []
    if backend != "sqlite" and "db_path" in request.fixturenames:
        pytest.skip("about the SQLite file")
    if backend == "dynamodb":
        shared_table(request.getfixturevalue("sandbox"))

    def factory(clock: Callable[[], datetime] | None = None, **kwargs: Any) -> Any:
        journal = (Journal.open(tmp_path / "home" / "state.db", clock=clock) if backend == "sqlite"
                   else dynamo_journal(clock, **kwargs))
        opened.append(journal)
        return journal

    yield factory
    for journal in opened:
        journal.close()


@pytest.fixture
def journal(open_journal: Callable[..., Any], clock: Clock) -> Any:
    return open_journal(clock)
