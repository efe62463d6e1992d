"""Objects under a prefix of one S3 bucket: the calls the backup store (storage.py) and the shared
journal's large values (state_blobs.py) both make, through the AWS gateway.

Each user keeps its own words for failures: it passes a ``translate`` that turns a failed call
into its exception (None lets the error go on as it is), and the encryption its objects get.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from awsideman.adapters.aws import client_error_code

# (operation, what the caller was doing, S3 error code or None, the error) -> the user's error, or None
Translate = Callable[[str, str, str | None, Exception], Exception | None]


def encryption(kms_key: str | None, default: str | None) -> dict[str, str]:
    """PutObject's encryption parameters: SSE-KMS with ``kms_key``, else ``default`` (``"AES256"``)
    asked for explicitly, else none (the bucket's default applies)."""
    if kms_key:
        return {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": kms_key}
    return {"ServerSideEncryption": default} if default else {}


class S3Objects:
    """``s3://bucket/prefix``: every call names the bucket and goes through ``translate``."""

    def __init__(self, gateway: Any, bucket: str, prefix: str, translate: Translate,
                 sse: dict[str, str] | None = None) -> None:
        self.gateway = gateway
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.url = f"s3://{bucket}/{self.prefix}" if self.prefix else f"s3://{bucket}"
        self.translate = translate
        self.sse = sse or {}

    def call(self, operation: str, what: str = "", **params: Any) -> dict[str, Any]:
        try:
            return self.gateway.call("s3", operation, Bucket=self.bucket, **params)
        except Exception as exc:
            error = self.translate(operation, what, client_error_code(exc), exc)
            if error is None:
                raise
            raise error from exc

    def put_object(self, key: str, body: bytes, what: str = "") -> None:
        self.call("PutObject", what, Key=key, Body=body, **self.sse)

    def get_object(self, key: str, what: str = "") -> dict[str, Any]:
        return self.call("GetObject", what, Key=key)

    def delete_object(self, key: str, what: str = "") -> None:
        self.call("DeleteObject", what, Key=key)

    def list_pages(self, prefix: str, what: str = "", **params: Any) -> Iterator[dict[str, Any]]:
        """Each ListObjectsV2 page under ``prefix``, the next one asked for only when wanted."""
        token = None
        while True:
            page = self.call("ListObjectsV2", what, Prefix=prefix, **params,
                             **({"ContinuationToken": token} if token else {}))
            yield page
            token = page.get("NextContinuationToken")
            if not token:
                return

    def delete_under(self, prefix: str, what: str = "", *, batched: bool) -> int:
        """Delete every listed object whose key starts with ``prefix``, a page at a time (one
        DeleteObjects a page when ``batched``, else a DeleteObject a key); return how many.

        A key outside ``prefix`` is skipped: a listing is never trusted to stay in its prefix.
        """
        deleted = 0
        for page in self.list_pages(prefix, what):
            keys = [item["Key"] for item in page.get("Contents", []) if str(item.get("Key", "")).startswith(prefix)]
            if batched and keys:
                self.call("DeleteObjects", what, Delete={"Objects": [{"Key": k} for k in keys], "Quiet": True})
            elif not batched:
                for key in keys:
                    self.delete_object(key, what)
            deleted += len(keys)
        return deleted
