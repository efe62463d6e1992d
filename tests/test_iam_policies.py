"""The least-privilege IAM policies match the API calls the code makes, and nothing more.

The permissions table (``awsideman/adapters/permissions.py``) is the one source: every AWS
operation named in the modules that call the gateway (found by reading their string constants
against botocore's service models) has an entry, every entry is called by some module, and the
files in ``iam/`` are exactly what the table generates. The S3 calls the backup store and the
shared journal both make live in adapters/s3_objects.py: a module that imports it makes the
operations of the ``S3Objects`` methods it calls. ``assert_covered`` checks what a gateway
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
    "adapters/organization.py": ("organizations",),
    "journal/dynamo_store.py": ("dynamodb",), "adapters/state_blobs.py": ("state-s3",),
    "services/state_admin.py": ("dynamodb", "state-s3"),
    "adapters/sns_publish.py": ("sns",), "adapters/cloudwatch_metrics.py": ("cloudwatch",),
}
MODEL = {"state-s3": "s3"}
SHARED_S3 = "adapters/s3_objects.py"


def _strings(node: ast.AST) -> set[str]:
    return {n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)}


def _attributes(node: ast.AST) -> set[str]:
    return {n.attr for n in ast.walk(node) if isinstance(n, ast.Attribute)}


def shared_s3_operations(s3_operations: set[str]) -> dict[str, set[str]]:
    """{public method of S3Objects: the S3 operations it makes, itself or through its other methods}."""
    module = ast.parse((PACKAGE / SHARED_S3).read_text())
    cls = next(n for n in module.body if isinstance(n, ast.ClassDef) and n.name == "S3Objects")
    methods = {f.name: f for f in cls.body if isinstance(f, ast.FunctionDef)}
    made = {name: _strings(f) & s3_operations for name, f in methods.items()}
    uses = {name: _attributes(f) & set(methods) for name, f in methods.items()}
    for _ in methods:  # n rounds follow any chain of calls among n methods
        made = {name: made[name].union(*(made[u] for u in uses[name])) for name in methods}
    return {name: ops for name, ops in made.items() if not name.startswith("_")}


def _imports_shared_s3(module: ast.Module) -> bool:
    return any(isinstance(n, ast.ImportFrom) and n.module == "awsideman.adapters.s3_objects" for n in ast.walk(module))


def operations_in_code() -> set[tuple[str, str]]:
    """(service, operation) of every operation name among the modules' string constants."""
    session = botocore.session.get_session()
    shared = shared_s3_operations(set(session.get_service_model("s3").operation_names))
    found = set()
    for module, services in MODULES.items():
        tree = ast.parse((PACKAGE / module).read_text())
        strings = _strings(tree)
        if _imports_shared_s3(tree):  # the S3 operations of the shared methods it calls, as its own S3
            s3 = next(s for s in services if MODEL.get(s, s) == "s3")
            found |= {(s3, op) for method in _attributes(tree) & set(shared) for op in shared[method]}
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
