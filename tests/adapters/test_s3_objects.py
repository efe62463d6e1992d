"""The S3 calls of the two S3 users, the backup store (S3Store) and the shared journal's large
values (BlobStore), exactly as they go to the gateway, and the errors each turns them into.

Against the in-process emulator, through a real AWS gateway that records each call as the store
made it. A listing can be made to page after a few keys (the page size is sent to the emulator,
not recorded) so the ContinuationToken path runs without writing a thousand objects.
"""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from awsideman.adapters.aws import AwsGateway
from awsideman.adapters.s3_objects import encryption
from awsideman.adapters.state_blobs import BlobStore
from awsideman.adapters.storage import S3Store
from awsideman.core.backup_format import MANIFEST, PAYLOAD
from awsideman.core.exceptions import JournalError, StateBackendError, StorageError
from awsideman.core.retry import RetryConfig, RetryPolicy

BUCKET = "pinned-bucket"
ONE = "bk-20240301T090000Z-aaaaa1"
TWO = "bk-20240302T090000Z-bbbbb2"


class RecordingGateway:
    """The AWS gateway, keeping ``(operation, params)`` of every call until ``take``; a continuation
    token it handed out is recorded as ``<page N>`` (the emulator's tokens are opaque)."""

    def __init__(self, page_size: int | None = None, planted: str | None = None) -> None:
        self.gateway = AwsGateway(profile=None, region="us-east-1",
                                  retry=RetryPolicy(RetryConfig(max_retries=1, base_delay=0.01, max_delay=0.02)))
        self.page_size = page_size
        self.planted = planted  # a key each listing adds, outside what was asked for
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.tokens: dict[str, str] = {}

    def call(self, service: str, operation: str, **params: Any) -> dict[str, Any]:
        assert service == "s3"
        recorded = dict(params)
        if "ContinuationToken" in recorded:
            recorded["ContinuationToken"] = self.tokens[recorded["ContinuationToken"]]
        self.calls.append((operation, recorded))
        sent = dict(params)
        listing = operation == "ListObjectsV2"
        if listing and self.page_size and "MaxKeys" not in sent:
            sent["MaxKeys"] = self.page_size
        response = self.gateway.call(service, operation, **sent)
        if listing and response.get("NextContinuationToken"):
            self.tokens.setdefault(response["NextContinuationToken"], f"<page {len(self.tokens) + 2}>")
        if listing and self.planted:
            response = {**response, "Contents": [*response.get("Contents", []), {"Key": self.planted}]}
        return response

    def take(self) -> list[tuple[str, dict[str, Any]]]:
        calls, self.calls, self.tokens = self.calls, [], {}
        return calls


def _keys(prefix: str = "") -> list[str]:
    gateway = RecordingGateway()
    return [o["Key"] for o in gateway.call("s3", "ListObjectsV2", Bucket=BUCKET, Prefix=prefix).get("Contents", [])]


@pytest.fixture
def bucket(sandbox: Any) -> None:
    RecordingGateway().call("s3", "CreateBucket", Bucket=BUCKET)


def _list(prefix: str, **params: Any) -> tuple[str, dict[str, Any]]:
    return "ListObjectsV2", {"Bucket": BUCKET, "Prefix": prefix, **params}


def test_backup_store_calls(bucket: None) -> None:
    gateway = RecordingGateway(page_size=1)
    key = gateway.gateway.call("kms", "CreateKey")["KeyMetadata"]["KeyId"]
    store = S3Store(gateway, BUCKET, "/nightly/prod/", sse_kms_key=key)  # type: ignore[arg-type]
    assert store.url == f"s3://{BUCKET}/nightly/prod"
    sse = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": key}
    at = "nightly/prod"

    store.preflight()
    store.write(ONE, {MANIFEST: b"m1", PAYLOAD: b"p1"})
    assert gateway.take() == [
        _list(at, MaxKeys=1),
        _list(f"{at}/{ONE}/{MANIFEST}", MaxKeys=1),
        ("PutObject", {"Bucket": BUCKET, "Key": f"{at}/{ONE}/{PAYLOAD}", "Body": b"p1", **sse}),
        ("PutObject", {"Bucket": BUCKET, "Key": f"{at}/{ONE}/{MANIFEST}", "Body": b"m1", **sse})]

    S3Store(gateway, BUCKET, "nightly/prod").write(TWO, {MANIFEST: b"m2", PAYLOAD: b"p2"})  # type: ignore[arg-type]
    assert gateway.take()[1:] == [  # no key: no encryption parameters at all (the bucket's default)
        ("PutObject", {"Bucket": BUCKET, "Key": f"{at}/{TWO}/{PAYLOAD}", "Body": b"p2"}),
        ("PutObject", {"Bucket": BUCKET, "Key": f"{at}/{TWO}/{MANIFEST}", "Body": b"m2"})]

    assert store.list_ids() == [ONE, TWO]
    assert store.read(ONE, PAYLOAD) == b"p1"
    assert gateway.take() == [
        _list(f"{at}/", Delimiter="/"), _list(f"{at}/", Delimiter="/", ContinuationToken="<page 2>"),
        _list(f"{at}/{ONE}/{MANIFEST}", MaxKeys=1), _list(f"{at}/{TWO}/{MANIFEST}", MaxKeys=1),
        _list(f"{at}/{ONE}/{MANIFEST}", MaxKeys=1), ("GetObject", {"Bucket": BUCKET, "Key": f"{at}/{ONE}/{PAYLOAD}"})]

    store.delete(ONE)
    assert gateway.take() == [
        _list(f"{at}/{ONE}/{MANIFEST}", MaxKeys=1),
        ("DeleteObject", {"Bucket": BUCKET, "Key": f"{at}/{ONE}/{MANIFEST}"}),
        _list(f"{at}/{ONE}/"),
        ("DeleteObject", {"Bucket": BUCKET, "Key": f"{at}/{ONE}/{PAYLOAD}"})]
    assert _keys() == [f"{at}/{TWO}/{MANIFEST}", f"{at}/{TWO}/{PAYLOAD}"]


def test_backup_store_at_the_bucket_root_and_a_paged_delete(bucket: None) -> None:
    gateway = RecordingGateway(page_size=2)
    store = S3Store(gateway, BUCKET, "")  # type: ignore[arg-type]
    assert store.url == f"s3://{BUCKET}"
    store.write(ONE, {MANIFEST: b"m", PAYLOAD: b"p", "extra-1": b"1", "extra-2": b"2"})
    store.preflight()
    assert store.list_ids() == [ONE]
    gateway.take()
    store.delete(ONE)
    assert gateway.take() == [
        _list(f"{ONE}/{MANIFEST}", MaxKeys=1), ("DeleteObject", {"Bucket": BUCKET, "Key": f"{ONE}/{MANIFEST}"}),
        _list(f"{ONE}/"),
        ("DeleteObject", {"Bucket": BUCKET, "Key": f"{ONE}/extra-1"}),
        ("DeleteObject", {"Bucket": BUCKET, "Key": f"{ONE}/extra-2"}),
        _list(f"{ONE}/", ContinuationToken="<page 2>"),
        ("DeleteObject", {"Bucket": BUCKET, "Key": f"{ONE}/{PAYLOAD}"})]
    assert _keys() == []


def test_a_delete_never_follows_a_listing_out_of_its_prefix(bucket: None) -> None:
    S3Store(RecordingGateway(), BUCKET, "b").write(ONE, {MANIFEST: b"m", PAYLOAD: b"p"})  # type: ignore[arg-type]
    BlobStore(RecordingGateway(), BUCKET, "state").put("t/op/a", b"a")
    RecordingGateway().call("s3", "PutObject", Bucket=BUCKET, Key="elsewhere/keep", Body=b"k")
    gateway = RecordingGateway(planted="elsewhere/keep")
    S3Store(gateway, BUCKET, "b").delete(ONE)  # type: ignore[arg-type]
    assert BlobStore(gateway, BUCKET, "state").delete_under("t/op") == 1
    assert "elsewhere/keep" not in str([call for call in gateway.take() if call[0] != "ListObjectsV2"])
    assert _keys() == ["elsewhere/keep"]


def test_encryption_parameters() -> None:
    assert encryption("key-1", default=None) == {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": "key-1"}
    assert encryption("key-1", default="AES256") == {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": "key-1"}
    assert encryption(None, default="AES256") == {"ServerSideEncryption": "AES256"}
    assert encryption(None, default=None) == encryption("", default=None) == {}


def test_blob_store_calls(bucket: None) -> None:
    gateway = RecordingGateway(page_size=2)
    blobs = BlobStore(gateway, BUCKET, "/state/")
    assert blobs.url == f"s3://{BUCKET}/state"
    ref = blobs.put("t/op-1/a", b"alpha")
    assert ref == {"key": "state/t/op-1/a", "sha256": hashlib.sha256(b"alpha").hexdigest()}
    key = gateway.gateway.call("kms", "CreateKey")["KeyMetadata"]["KeyId"]
    kms = BlobStore(gateway, BUCKET, "state", kms_key=key)
    kms.put("t/op-1/b", b"beta")
    kms.put("t/op-1/c", b"gamma")
    blobs.put("t/op-2/a", b"other operation")
    assert blobs.get(ref) == b"alpha"
    assert gateway.take() == [  # no key: S3's own encryption, asked for
        ("PutObject", {"Bucket": BUCKET, "Key": "state/t/op-1/a", "Body": b"alpha", "ServerSideEncryption": "AES256"}),
        ("PutObject", {"Bucket": BUCKET, "Key": "state/t/op-1/b", "Body": b"beta",
                       "ServerSideEncryption": "aws:kms", "SSEKMSKeyId": key}),
        ("PutObject", {"Bucket": BUCKET, "Key": "state/t/op-1/c", "Body": b"gamma",
                       "ServerSideEncryption": "aws:kms", "SSEKMSKeyId": key}),
        ("PutObject", {"Bucket": BUCKET, "Key": "state/t/op-2/a", "Body": b"other operation",
                       "ServerSideEncryption": "AES256"}),
        ("GetObject", {"Bucket": BUCKET, "Key": "state/t/op-1/a"})]

    assert blobs.delete_under("t/op-1/") == 3
    assert gateway.take() == [
        _list("state/t/op-1/"),
        ("DeleteObjects", {"Bucket": BUCKET, "Delete": {"Objects": [{"Key": "state/t/op-1/a"},
                                                                    {"Key": "state/t/op-1/b"}], "Quiet": True}}),
        _list("state/t/op-1/", ContinuationToken="<page 2>"),
        ("DeleteObjects", {"Bucket": BUCKET, "Delete": {"Objects": [{"Key": "state/t/op-1/c"}], "Quiet": True}})]
    assert blobs.delete_under("t/op-1") == 0
    assert gateway.take() == [_list("state/t/op-1/")]
    assert _keys() == ["state/t/op-2/a"]

    root = BlobStore(gateway, BUCKET, "")
    assert root.url == f"s3://{BUCKET}" and root.put("x", b"x")["key"] == "x"


def test_blob_store_refuses_what_it_cannot_trust(bucket: None) -> None:
    blobs = BlobStore(RecordingGateway(), BUCKET, "state")
    ref = blobs.put("t/op/a", b"alpha")
    with pytest.raises(JournalError, match=r"names 'statefile/x', outside s3://pinned-bucket/state: refused\.$"):
        blobs.get({"key": "statefile/x", "sha256": ref["sha256"]})
    RecordingGateway().call("s3", "PutObject", Bucket=BUCKET, Key="state/t/op/a", Body=b"swapped")
    with pytest.raises(JournalError) as caught:
        blobs.get(ref)
    assert str(caught.value) == "s3://pinned-bucket/state/t/op/a does not match the checksum the journal recorded."
    assert caught.value.remediation == ["Someone changed or replaced the object; the journal data it held cannot "
                                        "be trusted. Restore it from the bucket's versions if enabled."]


DENIED = {"rules": [{"operation": "s3:*", "fail_after": 0}]}  # AccessDenied
SLOW = {"rules": [{"operation": "s3:*", "throttle": 1}]}  # SlowDown on every try


@pytest.mark.parametrize(("faults", "bucket_name", "act", "error", "message", "remediation"), [
    (None, "no-such-bucket", lambda s: s.preflight(), StorageError, "The S3 bucket no-such-bucket does not exist",
     ["Create it or fix --store."]),
    (DENIED, BUCKET, lambda s: s.preflight(), StorageError,
     "Access denied to s3://pinned-bucket/p while trying to list backups",
     ["Allow s3:ListObjects on arn:aws:s3:::pinned-bucket/*."]),
    (DENIED, BUCKET, lambda s: s.read(ONE, PAYLOAD), StorageError,
     "Access denied to s3://pinned-bucket/p while trying to list backups",
     ["Allow s3:ListObjects on arn:aws:s3:::pinned-bucket/*."]),
    (DENIED, BUCKET, lambda s: s.delete(ONE), StorageError,
     "Access denied to s3://pinned-bucket/p while trying to list backups",
     ["Allow s3:ListObjects on arn:aws:s3:::pinned-bucket/*."]),
    (SLOW, BUCKET, lambda s: s.list_ids(), None,
     "An error occurred (SlowDown) when calling the ListObjectsV2 operation (reached max retries: 0): Rate exceeded",
     None),
])
def test_backup_store_errors(sandbox: Any, bucket: None, faults: Any, bucket_name: str, act: Any, error: Any,
                             message: str, remediation: Any) -> None:
    store = S3Store(RecordingGateway(), bucket_name, "p")  # type: ignore[arg-type]
    if faults:
        sandbox.set_faults(faults)
    with pytest.raises(Exception) as caught:
        act(store)
    assert type(caught.value) is (error or type(caught.value)) and str(caught.value) == message
    assert getattr(caught.value, "remediation", None) == remediation
    if error is None:
        assert not isinstance(caught.value, StorageError)  # an outage goes on as itself


def test_backup_store_errors_of_writes_and_a_missing_file(sandbox: Any, bucket: None) -> None:
    store = S3Store(RecordingGateway(), BUCKET, "p")  # type: ignore[arg-type]
    store.write(ONE, {MANIFEST: b"m", PAYLOAD: b"p"})
    RecordingGateway().call("s3", "DeleteObject", Bucket=BUCKET, Key=f"p/{ONE}/{PAYLOAD}")
    with pytest.raises(StorageError) as caught:
        store.read(ONE, PAYLOAD)
    assert str(caught.value) == f"Backup {ONE} lacks {PAYLOAD} (incomplete or damaged)"
    sandbox.set_faults({"rules": [{"operation": "PutObject", "fail_after": 0}]})
    gateway = RecordingGateway()
    with pytest.raises(StorageError) as caught:
        S3Store(gateway, BUCKET, "p").write(TWO, {MANIFEST: b"m", PAYLOAD: b"p"})  # type: ignore[arg-type]
    assert str(caught.value) == "Access denied to s3://pinned-bucket/p while trying to write a backup"
    assert caught.value.remediation == ["Allow s3:PutObject on arn:aws:s3:::pinned-bucket/*."]
    assert [op for op, _ in gateway.take()] == ["ListObjectsV2", "PutObject"]  # nothing written: nothing cleaned


def _state_remediation(operation: str, bucket: str = BUCKET) -> list[str]:
    return [f"Check that the bucket exists and that s3:{operation} is allowed on arn:aws:s3:::{bucket}/state*; "
            "set it with `state_s3:` in the config."]


@pytest.mark.parametrize(("faults", "bucket_name", "act", "error", "message", "remediation"), [
    (None, "no-such-bucket", lambda b: b.put("a", b"x"), JournalError,
     "Cannot write the state data in s3://no-such-bucket/state: NoSuchBucket.",
     _state_remediation("PutObject", "no-such-bucket")),
    (DENIED, BUCKET, lambda b: b.put("a", b"x"), JournalError,
     "Cannot write the state data in s3://pinned-bucket/state: AccessDenied.", _state_remediation("PutObject")),
    (DENIED, BUCKET, lambda b: b.get({"key": "state/a", "sha256": ""}), JournalError,
     "Cannot read the state data in s3://pinned-bucket/state: AccessDenied.", _state_remediation("GetObject")),
    (None, BUCKET, lambda b: b.get({"key": "state/a", "sha256": ""}), JournalError,
     "Cannot read the state data in s3://pinned-bucket/state: NoSuchKey.", _state_remediation("GetObject")),
    (DENIED, BUCKET, lambda b: b.delete_under("t"), JournalError,
     "Cannot list the state data in s3://pinned-bucket/state: AccessDenied.", _state_remediation("ListObjects")),
    ({"rules": [{"operation": "DeleteObjects", "fail_after": 0}]}, BUCKET, lambda b: b.delete_under("t"),
     JournalError, "Cannot delete the state data in s3://pinned-bucket/state: AccessDenied.",
     _state_remediation("DeleteObjects")),
    (SLOW, BUCKET, lambda b: b.put("a", b"x"), StateBackendError,
     "Cannot write the state data in s3://pinned-bucket/state: SlowDown.", []),
])
def test_blob_store_errors(sandbox: Any, bucket: None, faults: Any, bucket_name: str, act: Any, error: Any,
                           message: str, remediation: list[str]) -> None:
    blobs = BlobStore(RecordingGateway(), bucket_name, "state")
    if bucket_name == BUCKET:
        blobs.put("t/x", b"x")
    if faults:
        sandbox.set_faults(faults)
    with pytest.raises(JournalError) as caught:
        act(blobs)
    assert (type(caught.value), str(caught.value), caught.value.remediation) == (error, message, remediation)
    assert caught.value.exit_code == error.exit_code
