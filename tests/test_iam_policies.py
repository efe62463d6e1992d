"""The least-privilege IAM policies match the API calls the code makes, and nothing more.

The permissions table (``awsideman/adapters/permissions.py``) is the one source: every AWS
operation named in the modules that call the gateway (found by reading their string constants
against botocore's service models) has an entry, every entry is called by some module, and the
files in ``iam/`` are exactly what the table generates. ``assert_covered`` checks what a gateway
actually called against the emulator (tests/services/test_report.py uses it).
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import botocore.session

from awsideman.adapters import permissions

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "awsideman"
# module -> the services its gateway calls go to (the shared state's S3 is its own "state-s3")
MODULES = {
    "adapters/identity_center.py": ("sso-admin", "identitystore", "sts"),
    **{f"adapters/{m}": ("sso-admin", "identitystore") for m in (
        "identity_center_writes.py", "lookups.py", "async_requests.py", "permission_set_writes.py",
        "revert_access.py")},
    "adapters/storage.py": ("s3",), "adapters/crypto.py": ("kms",), "adapters/access_check.py": ("iam", "sts"),
    "journal/dynamo_store.py": ("dynamodb",), "journal/blobs.py": ("state-s3",),
    "services/state_admin.py": ("dynamodb", "state-s3"),
}
MODEL = {"state-s3": "s3"}


def operations_in_code() -> set[tuple[str, str]]:
    """(service, operation) of every operation name among the modules' string constants."""
    session = botocore.session.get_session()
    found = set()
    for module, services in MODULES.items():
        tree = ast.parse((PACKAGE / module).read_text())
        strings = {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)}
        for service in services:
            names = set(session.get_service_model(MODEL.get(service, service)).operation_names)
            # IAM's operations share names with identitystore's (CreateUser...): only its calls count.
            named = _called(tree, service) if service == "iam" else strings
            found |= {(service, operation) for operation in named & names}
    return found


def _called(tree: ast.AST, service: str) -> set[str]:
    """Operations of ``gateway.call(service, "Operation", ...)`` calls."""
    return {node.args[1].value for node in ast.walk(tree)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "call"
            and len(node.args) >= 2 and all(isinstance(a, ast.Constant) for a in node.args[:2])
            and node.args[0].value == service}


def test_every_operation_the_code_calls_has_an_entry_and_every_entry_is_called():
    called, table = operations_in_code(), set(permissions.TABLE)
    assert called - table == set(), "operations the code calls that the permissions table lacks"
    assert table - called == set(), "permissions table entries nothing calls"


def test_the_checked_in_policies_are_the_generated_ones():
    """After changing the table: `python -m awsideman.adapters.permissions iam`."""
    for name, text in permissions.checked_in().items():
        assert (ROOT / "iam" / name).read_text() == text, name
    assert sorted(p.name for p in (ROOT / "iam").glob("*.json")) == sorted(permissions.FILES)


def test_a_policy_narrowed_to_known_resources_keeps_wildcards_only_for_the_unknown():
    scope = permissions.Scope(instance_id="ssoins-1", identity_store_id="d-1", caller_account="111122223333",
                              region="eu-west-1", backup_bucket="bk", backup_prefix="team", kms_key="k-1")
    document = permissions.policy(["restore"], scope)
    by_sid = {s["Sid"]: s for s in document["Statement"]}
    assert by_sid["IdentityCenterDiscovery"] == {"Sid": "IdentityCenterDiscovery", "Effect": "Allow",
                                                 "Action": ["sso:ListInstances"], "Resource": ["*"]}
    assert by_sid["IdentityCenterInstance"]["Resource"] == [
        "arn:aws:sso:::account/*", "arn:aws:sso:::instance/ssoins-1", "arn:aws:sso:::permissionSet/ssoins-1/*"]
    assert by_sid["IdentityStore"]["Resource"] == [
        "arn:aws:identitystore::111122223333:identitystore/d-1", "arn:aws:identitystore:::*"]
    assert by_sid["BackupObjects"] == {"Sid": "BackupObjects", "Effect": "Allow", "Action": ["s3:GetObject"],
                                       "Resource": ["arn:aws:s3:::bk/team/*"]}
    assert by_sid["BackupEncryptionKey"]["Resource"] == ["arn:aws:kms:eu-west-1:111122223333:key/k-1"]
    rollback = {a for s in permissions.policy(["rollback"], scope)["Statement"] for a in s["Action"]}
    assert "sso:DeleteAccountAssignment" in rollback and "s3:GetObject" not in rollback  # no store to read
    assert not any(a.startswith(("s3:", "kms:")) for a in rollback)


def policy_actions(name: str) -> set[str]:
    document = json.loads((ROOT / "iam" / name).read_text())
    return {a for statement in document["Statement"] for a in statement["Action"]}


def assert_covered(calls: dict[str, int], policy: str) -> None:
    """What a gateway called (``{service:Operation: n}``) is allowed by the policy."""
    called = {a for key in calls for a in permissions.TABLE[tuple(key.split(":", 1))].actions}  # type: ignore[index]
    missing = called - permissions.ALWAYS_ALLOWED - policy_actions(policy)
    assert not missing, sorted(missing)
