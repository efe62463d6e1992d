"""Backup stores: a local folder or an S3 prefix, with the same small interface.

A backup becomes visible only when its manifest exists: locally the whole folder is renamed
into place after every file is fsynced; in S3 the manifest is written last and deleted first.
So a killed write never leaves a backup that `list` shows or `restore` accepts.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import unquote, urlparse

from awsideman.adapters.aws import AwsGateway, client_error_code
from awsideman.core.backup_format import MANIFEST
from awsideman.core.exceptions import BackupNotFoundError, StorageError, UsageError
from awsideman.core.files import make_private_dirs

_BACKUP_ID = re.compile(r"^bk-\d{8}T\d{6}Z-[a-z0-9]{6}$")
STALE_STAGING_SECONDS = 24 * 3600


class BackupStore(Protocol):
    url: str

    def preflight(self) -> None:
        """Fail now (StorageError) if a backup could not be written here later."""

    def write(self, backup_id: str, files: dict[str, bytes]) -> None: ...

    def read(self, backup_id: str, name: str) -> bytes: ...

    def list_ids(self) -> list[str]: ...

    def delete(self, backup_id: str) -> None: ...


class LocalStore:
    """A folder of backups, private to the user (folders 0700, files 0600)."""

    def __init__(self, root: Path) -> None:
        self.root = root.expanduser()
        self.url = str(self.root)

    def _ensure_root(self) -> None:
        try:
            make_private_dirs(self.root)
        except OSError as exc:
            raise StorageError(f"Cannot create the backup store folder {self.root}: {exc.strerror}",
                               remediation=["Choose a writable --store folder."]) from exc
        if not os.access(self.root, os.W_OK | os.X_OK):
            raise StorageError(f"The backup store folder {self.root} is not writable",
                               remediation=["Fix its permissions or choose another --store."])

    def preflight(self) -> None:
        self._ensure_root()

    def write(self, backup_id: str, files: dict[str, bytes]) -> None:
        self._ensure_root()
        self._remove_stale_staging()
        final = self.root / backup_id
        if final.exists():
            raise StorageError(f"Backup {backup_id} already exists in {self.root}")
        staging = Path(tempfile.mkdtemp(prefix=f".tmp-{backup_id}-", dir=self.root))
        try:
            for name, data in sorted(files.items(), key=lambda item: item[0] == MANIFEST):
                _write_private(staging / name, data)
            _fsync_dir(staging)
            os.rename(staging, final)
            _fsync_dir(self.root)
        except OSError as exc:
            shutil.rmtree(staging, ignore_errors=True)
            raise StorageError(f"Cannot write backup {backup_id} to {self.root}: {exc.strerror or exc}",
                               remediation=["Check free space and permissions of the store folder."]) from exc

    def _remove_stale_staging(self) -> None:
        """Staging folders a killed write left behind (old enough that no live write owns them)."""
        cutoff = time.time() - STALE_STAGING_SECONDS
        for folder in self.root.glob(".tmp-bk-*"):
            with contextlib.suppress(OSError):
                if folder.stat().st_mtime < cutoff:
                    shutil.rmtree(folder)

    def read(self, backup_id: str, name: str) -> bytes:
        path = self.root / backup_id / name
        if not (self.root / backup_id / MANIFEST).is_file():
            raise BackupNotFoundError(f"No backup {backup_id} in {self.root}",
                                      remediation=["List backups with `awsideman backup list`."])
        try:
            return path.read_bytes()
        except FileNotFoundError as exc:
            raise StorageError(f"Backup {backup_id} lacks {name} (incomplete or damaged)") from exc
        except OSError as exc:
            raise StorageError(f"Cannot read {path}: {exc.strerror}") from exc

    def list_ids(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir()
                      if _BACKUP_ID.match(p.name) and (p / MANIFEST).is_file())

    def delete(self, backup_id: str) -> None:
        folder = self.root / backup_id
        if not (folder / MANIFEST).is_file():
            raise BackupNotFoundError(f"No backup {backup_id} in {self.root}")
        # Remove the manifest first: a delete cut short leaves an invisible folder, not a broken backup.
        (folder / MANIFEST).unlink()
        shutil.rmtree(folder)


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        with contextlib.suppress(OSError):
            path.unlink()
        raise


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class S3Store:
    """Backups under `s3://bucket/prefix/<backup_id>/`, SSE-KMS when a key is configured."""

    def __init__(self, gateway: AwsGateway, bucket: str, prefix: str, sse_kms_key: str | None = None) -> None:
        self.gateway = gateway
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.sse_kms_key = sse_kms_key
        self.url = f"s3://{bucket}/{self.prefix}" if self.prefix else f"s3://{bucket}"

    def _key(self, backup_id: str, name: str = "") -> str:
        parts = [p for p in (self.prefix, backup_id, name) if p]
        return "/".join(parts)

    def _s3(self, operation: str, what: str, **params: Any) -> dict:
        try:
            return self.gateway.call("s3", operation, Bucket=self.bucket, **params)
        except Exception as exc:
            code = client_error_code(exc)
            if code == "NoSuchBucket":
                raise StorageError(f"The S3 bucket {self.bucket} does not exist",
                                   remediation=["Create it or fix --store."]) from exc
            if code in ("AccessDenied", "AllAccessDisabled"):
                raise StorageError(f"Access denied to {self.url} while trying to {what}",
                                   remediation=[f"Allow s3:{operation.replace('V2', '')} on "
                                                f"arn:aws:s3:::{self.bucket}/*."]) from exc
            raise

    def preflight(self) -> None:
        self._s3("ListObjectsV2", "list backups", Prefix=self._key("") or "", MaxKeys=1)

    def write(self, backup_id: str, files: dict[str, bytes]) -> None:
        extra: dict[str, str] = {}
        if self.sse_kms_key:
            extra = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": self.sse_kms_key}
        if self._exists(backup_id):
            raise StorageError(f"Backup {backup_id} already exists in {self.url}")
        written = []
        try:
            for name, data in sorted(files.items(), key=lambda item: item[0] == MANIFEST):
                self._s3("PutObject", "write a backup", Key=self._key(backup_id, name), Body=data, **extra)
                written.append(name)
        except BaseException:
            for name in written:
                with contextlib.suppress(Exception):
                    self._s3("DeleteObject", "clean up", Key=self._key(backup_id, name))
            raise

    def _exists(self, backup_id: str) -> bool:
        response = self._s3("ListObjectsV2", "list backups", Prefix=self._key(backup_id, MANIFEST), MaxKeys=1)
        return bool(response.get("KeyCount"))

    def read(self, backup_id: str, name: str) -> bytes:
        if not self._exists(backup_id):
            raise BackupNotFoundError(f"No backup {backup_id} in {self.url}",
                                      remediation=["List backups with `awsideman backup list --store URL`."])
        try:
            body = self._s3("GetObject", "read a backup", Key=self._key(backup_id, name))["Body"]
        except Exception as exc:
            if client_error_code(exc) == "NoSuchKey":
                raise StorageError(f"Backup {backup_id} lacks {name} (incomplete or damaged)") from exc
            raise
        return bytes(body.read())

    def list_ids(self) -> list[str]:
        ids = []
        prefix = f"{self.prefix}/" if self.prefix else ""
        token = None
        while True:
            params: dict[str, object] = {"Prefix": prefix, "Delimiter": "/"}
            if token:
                params["ContinuationToken"] = token
            response = self._s3("ListObjectsV2", "list backups", **params)
            ids += [p["Prefix"][len(prefix):].rstrip("/") for p in response.get("CommonPrefixes", [])]
            token = response.get("NextContinuationToken")
            if not token:
                break
        return sorted(i for i in ids if _BACKUP_ID.match(i) and self._exists(i))

    def delete(self, backup_id: str) -> None:
        if not self._exists(backup_id):
            raise BackupNotFoundError(f"No backup {backup_id} in {self.url}")
        self._s3("DeleteObject", "delete a backup", Key=self._key(backup_id, MANIFEST))
        response = self._s3("ListObjectsV2", "delete a backup", Prefix=self._key(backup_id) + "/")
        for item in response.get("Contents", []):
            self._s3("DeleteObject", "delete a backup", Key=item["Key"])


def open_store(url: str, gateway: Callable[[], AwsGateway], sse_kms_key: str | None = None) -> BackupStore:
    """A store for a folder path, `file:///path` or `s3://bucket/prefix`."""
    parsed = urlparse(url)
    if parsed.scheme == "s3":
        if not parsed.netloc:
            raise UsageError(f"--store {url!r}: an S3 store needs a bucket, e.g. s3://my-bucket/backups")
        return S3Store(gateway(), parsed.netloc, parsed.path, sse_kms_key)
    if parsed.scheme == "file":
        return LocalStore(Path(unquote(parsed.path)))
    if parsed.scheme and len(parsed.scheme) > 1:
        raise UsageError(f"--store {url!r}: unsupported scheme {parsed.scheme!r} (use a path, file:// or s3://)")
    return LocalStore(Path(url))
