"""Which journal a command uses: the local ``state.db`` or the shared DynamoDB table.

``state: local`` (default) keeps today's SQLite file in ``$AWSIDEMAN_HOME``; ``state:
dynamodb://TABLE`` keeps the journal and the instance locks in one DynamoDB table shared by
every runner, with values too large for an item in S3 (``state_s3``, default: the S3 backup
store's bucket under ``state/``). See README "Shared state".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from awsideman.config import Settings
from awsideman.core.exceptions import ConfigError
from awsideman.journal import Journal, StateJournal

# The gateway (botocore) and the retry engine (tenacity) only for the shared table: a local
# journal (`report list`) is opened without either.
if TYPE_CHECKING:
    from awsideman.adapters.aws import AwsGateway

DYNAMODB_SCHEME = "dynamodb://"


@dataclass(frozen=True)
class StateLocation:
    """Where the journal lives: ``table`` is None for the local file."""

    table: str | None = None
    bucket: str | None = None
    prefix: str = ""

    @property
    def shared(self) -> bool:
        return self.table is not None

    def describe(self, settings: Settings) -> str:
        return f"{DYNAMODB_SCHEME}{self.table}" if self.table else str(settings.journal_path)


def state_location(settings: Settings) -> StateLocation:
    """Parse ``state`` / ``state_s3`` (a ConfigError says what to set)."""
    if not settings.state.startswith(DYNAMODB_SCHEME):
        return StateLocation()
    table = settings.state[len(DYNAMODB_SCHEME):]
    source = settings.state_s3
    if source is None and settings.default_store.startswith("s3://"):
        bucket = settings.default_store[len("s3://"):].split("/", 1)[0]
        return StateLocation(table, bucket, "state")
    if source is None:
        raise ConfigError(
            f"state: {settings.state} keeps large values in S3, and the backup store is not in S3.",
            remediation=["Set `state_s3: s3://BUCKET/PREFIX` in the config (or AWSIDEMAN_STATE_S3)."])
    if not source.startswith("s3://") or len(source) <= len("s3://"):
        raise ConfigError(f"state_s3: must be s3://BUCKET[/PREFIX], got {source!r}")
    bucket, _, prefix = source[len("s3://"):].partition("/")
    return StateLocation(table, bucket, prefix.strip("/"))


def state_gateway(settings: Settings) -> AwsGateway:
    """A gateway for the state table: same retry owner and limiter rules, but no stop signal.

    A Ctrl-C stops the run's API calls; the journal must still record that it was interrupted.
    """
    from awsideman.adapters.aws import AwsGateway
    from awsideman.core.ratelimit import RateLimiter
    from awsideman.core.retry import RetryPolicy

    policy = RetryPolicy(settings.retry, limiter=RateLimiter(settings.rate_limit))
    return AwsGateway(profile=settings.profile, region=settings.region, retry=policy, max_pool=settings.concurrency + 4)


def open_journal(settings: Settings, gateway: AwsGateway | None = None) -> StateJournal:
    """The journal ``settings`` name, opened (the shared table must exist: `awsideman state init`)."""
    location = state_location(settings)
    if not location.shared:
        return Journal.open(settings.journal_path)
    from awsideman.adapters.state_blobs import BlobStore
    from awsideman.journal.dynamo import DynamoJournal

    gateway = gateway or state_gateway(settings)
    assert location.table is not None and location.bucket is not None
    blobs = BlobStore(gateway, location.bucket, location.prefix, settings.s3_sse_kms_key or settings.kms_key)
    return DynamoJournal.open(gateway, location.table, blobs, lease_seconds=settings.state_lease_seconds)


def journal_exists(settings: Settings) -> bool:
    """Whether there is a journal to read (read-only commands must not create a local file)."""
    return state_location(settings).shared or settings.journal_path.exists()
