"""Backup stores: a local folder or an S3 prefix, with the same small interface.

A backup becomes visible only when its manifest exists: locally the whole folder is renamed
into place after every file is fsynced; in S3 the manifest is written last and deleted first.
So a killed write never leaves a backup that `list` shows or `restore` accepts.

A store is a trust boundary: other people and processes may write to it. Locally no symbolic
link is followed below the store folder (a linked backup folder or file is reported as
damaged, never read or deleted through), only regular files are read (a FIFO or device is
refused without blocking), reads stop at the configured size limits, and `delete` removes
only the regular files of one backup folder. In S3, `delete` removes only keys under the
backup's own prefix.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
import stat
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote, urlsplit

from awsideman.adapters.aws import AwsGateway, client_error_code
from awsideman.adapters.s3_objects import S3Objects, encryption
from awsideman.core.backup_format import MANIFEST, PAYLOAD
from awsideman.core.exceptions import BackupNotFoundError, CorruptBackupError, StorageError, UsageError
from awsideman.core.files import make_private_dirs, read_limited
from awsideman.core.limits import Limits, describe

_BACKUP_ID = re.compile(r"^bk-\d{8}T\d{6}Z-[a-z0-9]{6}$")
STALE_STAGING_SECONDS = 24 * 3600
# Which size limit applies to which file of a backup (core/limits.py).
_LIMIT_OF = {MANIFEST: "manifest_mib", PAYLOAD: "payload_mib"}
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK  # O_NONBLOCK: a FIFO must not hang the open
_DIR_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_DIRECTORY


def _max_bytes(limits: Limits, name: str) -> int:
    return limits.bytes(_LIMIT_OF.get(name, "payload_mib"))


def _too_large(backup_id: str, name: str, limits: Limits) -> CorruptBackupError:
    setting = _LIMIT_OF.get(name, "payload_mib")
    return CorruptBackupError(f"{backup_id}: {name} is larger than the limit of "
                              f"{describe(_max_bytes(limits, name))} (limits.{setting})",
                              remediation=[f"If the backup is genuine, raise limits.{setting} in the config."])


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

    def __init__(self, root: Path, limits: Limits | None = None) -> None:
        # Resolved once: a relative --store means the same folder for the whole run and, recorded
        # in the journal, for a resume started elsewhere. Not realpath: the user's links stay.
        self.root = Path(os.path.abspath(root.expanduser()))
        self.url = str(self.root)
        self.limits = limits or Limits()

    def _check_root(self) -> bool:
        """Whether the store folder exists; UsageError when the path is something else."""
        if self.root.is_dir():
            return True
        if self.root.exists() or self.root.is_symlink():
            raise UsageError(f"--store {self.root} is a file, not a folder",
                             remediation=["Give a folder (it is created if missing), file:///path or "
                                          "s3://bucket/prefix."])
        return False

    def _ensure_root(self) -> None:
        self._check_root()
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
        if os.path.lexists(final):
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
                info = folder.lstat()
                if stat.S_ISDIR(info.st_mode) and info.st_mtime < cutoff:
                    shutil.rmtree(folder)  # does not follow links inside

    def _open_backup(self, backup_id: str) -> int:
        """A file descriptor of the backup's own folder (never through a symbolic link)."""
        path = self.root / backup_id
        try:
            info = os.lstat(path)
        except FileNotFoundError:
            raise BackupNotFoundError(f"No backup {backup_id} in {self.root}",
                                      remediation=["List backups with `awsideman backup list`."]) from None
        except OSError as exc:
            raise StorageError(f"Cannot read {path}: {exc.strerror}") from exc
        if stat.S_ISLNK(info.st_mode):
            raise CorruptBackupError(f"{backup_id}: the backup folder is a symbolic link; awsideman does not "
                                     "follow links out of a store",
                                     remediation=[f"Inspect it (ls -l {path}); remove the link itself with rm "
                                                  "if it does not belong there."])
        if not stat.S_ISDIR(info.st_mode):
            raise CorruptBackupError(f"{backup_id}: is not a folder in the store",
                                     remediation=[f"Inspect {path} and remove it if it does not belong there."])
        try:
            return os.open(path, _DIR_FLAGS)
        except OSError as exc:  # replaced by a link since the lstat, or unreadable
            raise StorageError(f"Cannot open {path}: {exc.strerror}") from exc

    def _has_manifest(self, folder: int) -> bool:
        try:
            os.stat(MANIFEST, dir_fd=folder, follow_symlinks=False)
        except FileNotFoundError:
            return False
        return True

    def read(self, backup_id: str, name: str) -> bytes:
        folder = self._open_backup(backup_id)
        try:
            if not self._has_manifest(folder):
                raise BackupNotFoundError(f"No backup {backup_id} in {self.root}",
                                          remediation=["List backups with `awsideman backup list`."])
            return self._read_file(folder, backup_id, name)
        finally:
            os.close(folder)

    def _read_file(self, folder: int, backup_id: str, name: str) -> bytes:
        path = self.root / backup_id / name
        try:
            fd = os.open(name, _FILE_FLAGS, dir_fd=folder)
        except FileNotFoundError as exc:
            raise StorageError(f"Backup {backup_id} lacks {name} (incomplete or damaged)") from exc
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise CorruptBackupError(f"{backup_id}: {name} is a symbolic link; awsideman does not follow "
                                         "links out of a store") from exc
            raise StorageError(f"Cannot read {path}: {exc.strerror}") from exc
        with os.fdopen(fd, "rb") as handle:
            info = os.fstat(handle.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise CorruptBackupError(f"{backup_id}: {name} is not a regular file")
            limit = _max_bytes(self.limits, name)
            if info.st_size > limit:
                raise _too_large(backup_id, name, self.limits)
            os.set_blocking(handle.fileno(), True)
            try:
                data = read_limited(handle, limit)
            except OSError as exc:
                raise StorageError(f"Cannot read {path}: {exc.strerror}") from exc
        if data is None:  # grew while being read
            raise _too_large(backup_id, name, self.limits)
        return data

    def list_ids(self) -> list[str]:
        """Every backup in the store, damaged ones included (their reads say what is wrong).

        A real folder without a manifest is a write or delete cut short and stays invisible;
        anything else with a backup's name (a link, a file) is listed so that it shows as damaged.
        """
        if not self._check_root():
            return []
        ids = []
        for entry in os.scandir(self.root):
            if not _BACKUP_ID.match(entry.name):
                continue
            if entry.is_dir(follow_symlinks=False):
                if os.path.lexists(os.path.join(entry.path, MANIFEST)):
                    ids.append(entry.name)
            else:
                ids.append(entry.name)
        return sorted(ids)

    def delete(self, backup_id: str) -> None:
        """Remove one backup folder and its regular files; refuse anything else, changing nothing."""
        folder = self._open_backup(backup_id)
        try:
            if not self._has_manifest(folder):
                raise BackupNotFoundError(f"No backup {backup_id} in {self.root}")
            names = sorted(os.listdir(folder), key=lambda n: n != MANIFEST)
            odd = [n for n in names if not stat.S_ISREG(os.stat(n, dir_fd=folder, follow_symlinks=False).st_mode)]
            if odd:
                raise StorageError(f"{backup_id}: not deleted: {', '.join(repr(n) for n in odd[:5])} "
                                   "is not a regular file (a link, folder or device has no place in a backup)",
                                   remediation=[f"Inspect {self.root / backup_id} and remove it by hand."])
            # The manifest goes first: a delete cut short leaves an invisible folder, not a broken backup.
            for name in names:
                os.unlink(name, dir_fd=folder)
        finally:
            os.close(folder)
        os.rmdir(self.root / backup_id)


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

    def __init__(self, gateway: AwsGateway, bucket: str, prefix: str, sse_kms_key: str | None = None,
                 limits: Limits | None = None) -> None:
        self.limits = limits or Limits()
        self.objects = S3Objects(gateway, bucket, prefix, self._error, encryption(sse_kms_key, default=None))
        self.bucket, self.prefix, self.url = bucket, self.objects.prefix, self.objects.url

    def _key(self, backup_id: str, name: str = "") -> str:
        parts = [p for p in (self.prefix, backup_id, name) if p]
        return "/".join(parts)

    def _error(self, operation: str, what: str, code: str | None, _exc: Exception) -> StorageError | None:
        """A missing bucket or a denial in the store's words; anything else goes on as it is."""
        if code == "NoSuchBucket":
            return StorageError(f"The S3 bucket {self.bucket} does not exist",
                                remediation=["Create it or fix --store."])
        if code in ("AccessDenied", "AllAccessDisabled"):
            return StorageError(f"Access denied to {self.url} while trying to {what}",
                                remediation=[f"Allow s3:{operation.replace('V2', '')} on "
                                             f"arn:aws:s3:::{self.bucket}/*."])
        return None

    def preflight(self) -> None:
        self.objects.call("ListObjectsV2", "list backups", Prefix=self._key("") or "", MaxKeys=1)

    def write(self, backup_id: str, files: dict[str, bytes]) -> None:
        if self._exists(backup_id):
            raise StorageError(f"Backup {backup_id} already exists in {self.url}")
        written = []
        try:
            for name, data in sorted(files.items(), key=lambda item: item[0] == MANIFEST):
                self.objects.put_object(self._key(backup_id, name), data, "write a backup")
                written.append(name)
        except BaseException:
            for name in written:
                with contextlib.suppress(Exception):
                    self.objects.delete_object(self._key(backup_id, name), "clean up")
            raise

    def _exists(self, backup_id: str) -> bool:
        response = self.objects.call("ListObjectsV2", "list backups", Prefix=self._key(backup_id, MANIFEST), MaxKeys=1)
        return bool(response.get("KeyCount"))

    def read(self, backup_id: str, name: str) -> bytes:
        if not self._exists(backup_id):
            raise BackupNotFoundError(f"No backup {backup_id} in {self.url}",
                                      remediation=["List backups with `awsideman backup list --store URL`."])
        try:
            response = self.objects.get_object(self._key(backup_id, name), "read a backup")
        except Exception as exc:
            if client_error_code(exc) == "NoSuchKey":
                raise StorageError(f"Backup {backup_id} lacks {name} (incomplete or damaged)") from exc
            raise
        limit = _max_bytes(self.limits, name)
        body = response["Body"]
        try:
            if int(response.get("ContentLength") or 0) > limit:
                raise _too_large(backup_id, name, self.limits)
            data = read_limited(body, limit)
        finally:
            body.close()
        if data is None:
            raise _too_large(backup_id, name, self.limits)
        return data

    def list_ids(self) -> list[str]:
        prefix = f"{self.prefix}/" if self.prefix else ""
        ids = [p["Prefix"][len(prefix):].rstrip("/")
               for page in self.objects.list_pages(prefix, "list backups", Delimiter="/")
               for p in page.get("CommonPrefixes", [])]
        return sorted(i for i in ids if _BACKUP_ID.match(i) and self._exists(i))

    def delete(self, backup_id: str) -> None:
        if not self._exists(backup_id):
            raise BackupNotFoundError(f"No backup {backup_id} in {self.url}")
        self.objects.delete_object(self._key(backup_id, MANIFEST), "delete a backup")
        self.objects.delete_under(self._key(backup_id) + "/", "delete a backup", batched=False)


def open_store(url: str, gateway: Callable[[], AwsGateway], sse_kms_key: str | None = None,
               limits: Limits | None = None) -> BackupStore:
    """A store for a folder path, `file:///path` (RFC 8089) or `s3://bucket/prefix`."""
    parsed = urlsplit(url)
    if parsed.scheme == "s3":
        if not parsed.netloc:
            raise UsageError(f"--store {url!r}: an S3 store needs a bucket, e.g. s3://my-bucket/backups")
        return S3Store(gateway(), parsed.netloc, parsed.path, sse_kms_key, limits)
    if parsed.scheme == "file":
        return LocalStore(_file_url_path(url, parsed.netloc, parsed.path, parsed.query or parsed.fragment),
                          limits)
    if parsed.scheme and len(parsed.scheme) > 1:
        raise UsageError(f"--store {url!r}: unsupported scheme {parsed.scheme!r} (use a path, file:// or s3://)")
    return LocalStore(Path(url), limits)


def _file_url_path(url: str, host: str, path: str, extra: str) -> Path:
    """The local path of a `file:` URL: `file:///abs`, `file://localhost/abs` or `file:/abs` (RFC 8089)."""
    if host.lower() not in ("", "localhost"):
        raise UsageError(f"--store {url!r}: a file: URL for host {host!r} is not a local folder",
                         remediation=["Use file:///absolute/path (or file://localhost/absolute/path), "
                                      "or mount the share and give its local path."])
    if extra:
        raise UsageError(f"--store {url!r}: a file: URL with a query or fragment is not a folder",
                         remediation=["Percent-encode '?' and '#' in folder names (%3F, %23)."])
    local = unquote(path)
    if not local.startswith("/") or "\0" in local:
        raise UsageError(f"--store {url!r}: a file: URL needs an absolute path, e.g. file:///var/backups",
                         remediation=["For a relative folder give the path itself, without file:."])
    return Path(local)
