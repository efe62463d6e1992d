"""Bounded work on hostile input: store URLs, size-limited reads, linear-time error text."""

from __future__ import annotations

import gzip
import io
import json
import os
import re
from pathlib import Path

import pytest

from awsideman.adapters.storage import LocalStore, open_store
from awsideman.core import error_text, schemas
from awsideman.core.errors import ErrorAnalyzer
from awsideman.core.exceptions import CorruptBackupError, UsageError
from awsideman.core.files import read_limited


def _no_gateway():
    raise AssertionError("a local store must not build an AWS gateway")


@pytest.mark.parametrize("url, path", [
    ("file:///var/backups", "/var/backups"),
    ("file://localhost/var/backups", "/var/backups"),
    ("file://LOCALHOST/var/backups", "/var/backups"),
    ("file:/var/backups", "/var/backups"),
    ("file:///var/my%20backups", "/var/my backups"),
    ("/var/backups/../backups", "/var/backups"),
])
def test_file_urls_per_rfc_8089(url, path):
    store = open_store(url, _no_gateway)
    assert isinstance(store, LocalStore) and store.url == path


@pytest.mark.parametrize("url, words", [
    ("file://fileserver/share/backups", "for host 'fileserver' is not a local folder"),
    ("file://user@localhost/x", "is not a local folder"),
    ("file:relative/backups", "needs an absolute path"),
    ("file://localhost", "needs an absolute path"),
    ("file:///var/backups?x=1", "query or fragment"),
    ("ftp://host/x", "unsupported scheme"),
])
def test_other_file_url_forms_are_refused(url, words):
    with pytest.raises(UsageError, match=words) as caught:
        open_store(url, _no_gateway)
    assert caught.value.exit_code == 2


def test_relative_store_is_resolved_once_and_recorded_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    store = open_store("backups", _no_gateway)
    monkeypatch.chdir("/")
    assert store.url == str(tmp_path / "backups") and Path(store.url).is_absolute()


class _Counting(io.RawIOBase):
    """A stream that counts what was taken from it."""

    def __init__(self, inner):
        self.inner, self.taken = inner, 0

    def read(self, size=-1):
        data = self.inner.read(size)
        self.taken += len(data)
        return data


def test_bounded_read_of_an_endless_device_stops_one_byte_past_the_limit():
    with open("/dev/zero", "rb") as device:
        endless = _Counting(device)
        assert read_limited(endless, 3 * 1024 * 1024) is None
        assert endless.taken == 3 * 1024 * 1024 + 1
    assert read_limited(io.BytesIO(b"abc"), 3) == b"abc"
    assert read_limited(io.BytesIO(b"abcd"), 3) is None


@pytest.mark.timeout(60)  # the old pattern took minutes on this input; linear time takes well under a second
def test_error_text_patterns_take_linear_time_on_pathological_input():
    unclosed = "An error occurred (" * 20_000  # 380 KB: each "(" once scanned to the end of the text
    assert error_text.cli_line(unclosed) is None
    assert ErrorAnalyzer().analyze_all(unclosed) == []
    errnos = "[Errno 2] " * 40_000
    assert error_text.errno_mention(errnos).number == 2
    assert error_text.cli_line("An error occurred (ThrottlingException) when calling the ListUsers operation: slow") \
        .code == "ThrottlingException"


def test_published_schemas_are_the_files_in_the_repository():
    folder = Path(__file__).resolve().parents[2] / "awsideman" / "schemas"
    for name in schemas.SCHEMAS:
        published = (folder / f"{name}.schema.json").read_text(encoding="utf-8")
        assert schemas.schema(name) == json.loads(published)
    assert os.path.exists(folder / "__init__.py")


@pytest.mark.parametrize("document, words", [
    ({"users": [{"user_name": 5, "user_id": "u"}]}, "users[0].user_name: expected string, got integer"),
    ({"groups": "admins"}, "groups: expected array, got string"),
    ({"memberships": [{"group_name": "g"}]}, "memberships[0].user_name: is required"),
    ({"assignments": [{"account_id": "111122223333", "permission_set_name": "A", "principal_type": "ROLE",
                       "principal_name": "x", "permission_set_arn": "a", "principal_id": "p"}]},
     'assignments[0].principal_type: expected one of "USER", "GROUP"'),
    ({"permission_sets": [{"name": "A", "arn": "a", "tags": {"k": ["v"]}}]},
     "permission_sets[0].tags.k: expected string, got array"),
    ({"users": [{"user_name": "a", "user_id": "u", "is_admin": True}]}, "users[0].is_admin: unknown key"),
])
def test_hostile_snapshot_fields_are_named_with_their_path(document, words):
    from awsideman.core.backup_format import unpack_snapshot

    full = {"format_version": 1, "users": [], "groups": [], "memberships": [], "permission_sets": [],
            "assignments": [], **document}
    payload = gzip.compress(json.dumps(full).encode())
    with pytest.raises(CorruptBackupError, match=re.escape(words)):
        unpack_snapshot(payload, 1024 * 1024)


def test_deeply_nested_payload_is_damaged_not_a_crash():
    from awsideman.core.backup_format import unpack_snapshot

    with pytest.raises(CorruptBackupError, match="nested too deeply"):
        unpack_snapshot(gzip.compress(b"[" * 200_000 + b"]" * 200_000), 1024 * 1024)
