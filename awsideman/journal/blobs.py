"""Values too large for a DynamoDB item (checkpoints of big instances, big inverses), kept in S3.

The item keeps the object's key and SHA-256; reading checks the digest, so an object edited
or swapped in the bucket is refused instead of being trusted as journal data. Objects are
written with SSE-KMS when a key is configured (``kms_key``), else with S3's own encryption.
"""

from __future__ import annotations

import hashlib
from typing import Any

from awsideman.adapters.aws import client_error_code
from awsideman.core.errors import is_expected
from awsideman.core.exceptions import JournalError, StateBackendError


class BlobStore:
    """``s3://bucket/prefix/<table>/...`` for one state table."""

    def __init__(self, gateway: Any, bucket: str, prefix: str, kms_key: str | None = None) -> None:
        self.gateway = gateway
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.kms_key = kms_key
        self.url = f"s3://{bucket}/{self.prefix}" if self.prefix else f"s3://{bucket}"

    def _key(self, name: str) -> str:
        return f"{self.prefix}/{name}" if self.prefix else name

    def put(self, name: str, data: bytes) -> dict[str, str]:
        """Store ``data``; return the reference an item keeps (``key``, ``sha256``)."""
        extra = ({"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": self.kms_key} if self.kms_key
                 else {"ServerSideEncryption": "AES256"})
        self._s3("PutObject", "write", Key=self._key(name), Body=data, **extra)
        return {"key": self._key(name), "sha256": hashlib.sha256(data).hexdigest()}

    def get(self, ref: dict[str, str]) -> bytes:
        """The data a reference names, checked against its digest."""
        key = str(ref.get("key", ""))
        if not key.startswith(self._key("")):
            raise JournalError(f"A state item names {key!r}, outside {self.url}: refused.")
        data = self._s3("GetObject", "read", Key=key)["Body"].read()
        if hashlib.sha256(data).hexdigest() != ref.get("sha256"):
            raise JournalError(f"s3://{self.bucket}/{key} does not match the checksum the journal recorded.",
                               remediation=["Someone changed or replaced the object; the journal data it held "
                                            "cannot be trusted. Restore it from the bucket's versions if enabled."])
        return bytes(data)

    def delete_under(self, name: str) -> int:
        """Delete every object under ``name/``; return how many."""
        prefix, deleted, token = self._key(name).rstrip("/") + "/", 0, None
        while True:
            page = self._s3("ListObjectsV2", "list", Prefix=prefix, **({"ContinuationToken": token} if token else {}))
            keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
            if keys:
                self._s3("DeleteObjects", "delete", Delete={"Objects": keys, "Quiet": True})
                deleted += len(keys)
            token = page.get("NextContinuationToken")
            if not token:
                return deleted

    def _s3(self, operation: str, what: str, **params: Any) -> dict[str, Any]:
        try:
            return self.gateway.call("s3", operation, Bucket=self.bucket, **params)
        except Exception as exc:
            code = client_error_code(exc)
            if code in ("NoSuchBucket", "AccessDenied", "AllAccessDisabled", "NoSuchKey"):
                raise JournalError(f"Cannot {what} the state data in {self.url}: {code}.", remediation=[
                    f"Check that the bucket exists and that s3:{operation.replace('V2', '')} is allowed on "
                    f"arn:aws:s3:::{self.bucket}/{self.prefix}*; set it with `state_s3:` in the config."]) from exc
            if isinstance(exc, JournalError) or not is_expected(exc):
                raise
            raise StateBackendError(f"Cannot {what} the state data in {self.url}: {code or type(exc).__name__}.") \
                from exc
