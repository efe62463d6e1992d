"""Values too large for a DynamoDB item (checkpoints of big instances, big inverses), kept in S3.

The item keeps the object's key and SHA-256; reading checks the digest, so an object edited
or swapped in the bucket is refused instead of being trusted as journal data. Objects are
written with SSE-KMS when a key is configured (``kms_key``), else with S3's own encryption.
"""

from __future__ import annotations

import hashlib
from typing import Any

from awsideman.adapters.s3_objects import S3Objects, encryption
from awsideman.core.errors import is_expected
from awsideman.core.exceptions import JournalError, StateBackendError

# What a failed call was doing, in the journal's messages.
_DOING = {"PutObject": "write", "GetObject": "read", "ListObjectsV2": "list", "DeleteObjects": "delete"}


class BlobStore:
    """``s3://bucket/prefix/<table>/...`` for one state table."""

    def __init__(self, gateway: Any, bucket: str, prefix: str, kms_key: str | None = None) -> None:
        self.objects = S3Objects(gateway, bucket, prefix, self._error, encryption(kms_key, default="AES256"))
        self.bucket, self.prefix, self.url = bucket, self.objects.prefix, self.objects.url

    def _key(self, name: str) -> str:
        return f"{self.prefix}/{name}" if self.prefix else name

    def put(self, name: str, data: bytes) -> dict[str, str]:
        """Store ``data``; return the reference an item keeps (``key``, ``sha256``)."""
        self.objects.put_object(self._key(name), data)
        return {"key": self._key(name), "sha256": hashlib.sha256(data).hexdigest()}

    def get(self, ref: dict[str, str]) -> bytes:
        """The data a reference names, checked against its digest."""
        key = str(ref.get("key", ""))
        if not key.startswith(self._key("")):
            raise JournalError(f"A state item names {key!r}, outside {self.url}: refused.")
        data = self.objects.get_object(key)["Body"].read()
        if hashlib.sha256(data).hexdigest() != ref.get("sha256"):
            raise JournalError(f"s3://{self.bucket}/{key} does not match the checksum the journal recorded.",
                               remediation=["Someone changed or replaced the object; the journal data it held "
                                            "cannot be trusted. Restore it from the bucket's versions if enabled."])
        return bytes(data)

    def delete_under(self, name: str) -> int:
        """Delete every object under ``name/``; return how many."""
        return self.objects.delete_under(self._key(name).rstrip("/") + "/", batched=True)

    def _error(self, operation: str, _what: str, code: str | None, exc: Exception) -> Exception | None:
        """A missing bucket, key or permission as a JournalError; another expected failure (an
        outage, throttling) as a StateBackendError; a bug goes on as itself."""
        doing = _DOING[operation]
        if code in ("NoSuchBucket", "AccessDenied", "AllAccessDisabled", "NoSuchKey"):
            return JournalError(f"Cannot {doing} the state data in {self.url}: {code}.", remediation=[
                f"Check that the bucket exists and that s3:{operation.replace('V2', '')} is allowed on "
                f"arn:aws:s3:::{self.bucket}/{self.prefix}*; set it with `state_s3:` in the config."])
        if isinstance(exc, JournalError) or not is_expected(exc):
            return None
        return StateBackendError(f"Cannot {doing} the state data in {self.url}: {code or type(exc).__name__}.")
