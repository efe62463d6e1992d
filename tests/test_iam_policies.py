"""The least-privilege IAM policies in iam/ match the API calls the code makes, and nothing more.

Every AWS operation named in the modules that call the gateway (found by reading their string
constants against botocore's service models) maps to an action in the policy of the command
that makes it; every action in a policy is one of those. The S3 calls the backup store and the
shared journal both make live in adapters/s3_objects.py: a module that imports it makes the
operations of the ``S3Objects`` methods it calls. ``assert_covered`` checks what a
gateway actually called against the emulator (tests/services/test_report.py uses it).
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import botocore.session

ROOT = Path(__file__).resolve().parents[1]
ADAPTERS = ROOT / "awsideman" / "adapters"
# module -> the services its gateway calls go to
# The modules of a restore's writes (and the lookups and polling they make on the way).
WRITE_MODULES = ("identity_center_writes.py", "lookups.py", "async_requests.py", "permission_set_writes.py",
                 "revert_access.py")
MODULES = {"identity_center.py": ("sso-admin", "identitystore", "sts"),
           **{m: ("sso-admin", "identitystore") for m in WRITE_MODULES},
           "storage.py": ("s3",), "crypto.py": ("kms",)}
# The shared state backend (state: dynamodb://TABLE): the journal at run time, and `state init`.
STATE_MODULES = {"journal/dynamo_store.py": ("dynamodb",), "adapters/state_blobs.py": ("s3",),
                 "services/state_admin.py": ("dynamodb", "s3")}
# The S3 calls storage.py and state_blobs.py share: each makes the operations of the methods it calls.
SHARED_S3 = "s3_objects.py"
PREFIX = {"sso-admin": "sso", "identitystore": "identitystore", "kms": "kms", "s3": "s3", "sts": "sts",
          "dynamodb": "dynamodb"}
S3_ACTIONS = {"ListObjectsV2": "s3:ListBucket", "DeleteObjects": "s3:DeleteObject"}
# A transaction is authorised per item, by what it does to the item (the journal's verbs).
TRANSACTION_ACTIONS = {"dynamodb:ConditionCheckItem", "dynamodb:PutItem", "dynamodb:UpdateItem",
                       "dynamodb:DeleteItem"}
ALWAYS_ALLOWED = {"sts:GetCallerIdentity"}  # needs no permission (AWS documents it as always allowed)
# What only a backup needs: writing the store (DeleteObject: cleaning up a failed write, and
# `backup delete|prune`) and a data key; a restore or rollback only reads the store.
BACKUP_ONLY = {"s3:PutObject", "kms:GenerateDataKey"}


def action(service: str, operation: str) -> str:
    if service == "s3":
        return S3_ACTIONS.get(operation, f"s3:{operation}")
    return f"{PREFIX[service]}:{operation}"


def actions(service: str, operation: str) -> set[str]:
    if (service, operation) == ("dynamodb", "TransactWriteItems"):
        return set(TRANSACTION_ACTIONS)
    return {action(service, operation)}


def _strings(node: ast.AST) -> set[str]:
    return {n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)}


def _attributes(node: ast.AST) -> set[str]:
    return {n.attr for n in ast.walk(node) if isinstance(n, ast.Attribute)}


def shared_s3_operations(s3_operations: set[str]) -> dict[str, set[str]]:
    """{public method of S3Objects: the S3 operations it makes, itself or through its other methods}."""
    module = ast.parse((ADAPTERS / SHARED_S3).read_text())
    cls = next(n for n in module.body if isinstance(n, ast.ClassDef) and n.name == "S3Objects")
    methods = {f.name: f for f in cls.body if isinstance(f, ast.FunctionDef)}
    made = {name: _strings(f) & s3_operations for name, f in methods.items()}
    uses = {name: _attributes(f) & set(methods) for name, f in methods.items()}
    for _ in methods:  # n rounds follow any chain of calls among n methods
        made = {name: made[name].union(*(made[u] for u in uses[name])) for name in methods}
    return {name: ops for name, ops in made.items() if not name.startswith("_")}


def _imports_shared_s3(module: ast.Module) -> bool:
    return any(isinstance(n, ast.ImportFrom) and n.module == f"awsideman.adapters.{SHARED_S3[:-3]}"
               for n in ast.walk(module))


def operations_in_code() -> dict[str, set[str]]:
    """{module: {iam action}} of every operation name among the module's string constants, and of
    the shared S3 methods it calls."""
    session = botocore.session.get_session()
    models = {s: set(session.get_service_model(s).operation_names) for s in PREFIX}
    shared = shared_s3_operations(models["s3"])
    found: dict[str, set[str]] = {}
    modules = {**{ADAPTERS / m: s for m, s in MODULES.items()},
               **{ADAPTERS.parent / m: s for m, s in STATE_MODULES.items()}}
    for path, services in modules.items():
        module = ast.parse(path.read_text())
        named = {(s, op) for s in services for op in _strings(module) & models[s]}
        if _imports_shared_s3(module):
            named |= {("s3", op) for m in _attributes(module) & set(shared) for op in shared[m]}
        found[path.name] = {a for s, op in named for a in actions(s, op)}
    return found


def policy_actions(name: str) -> set[str]:
    document = json.loads((ROOT / "iam" / name).read_text())
    return {a for statement in document["Statement"] for a in statement["Action"]}


def expected() -> dict[str, set[str]]:
    code = operations_in_code()
    reads, writes = code["identity_center.py"], set().union(*(code[m] for m in WRITE_MODULES))
    store, kms = code["storage.py"], code["crypto.py"]
    backup = (reads | store | kms) - ALWAYS_ALLOWED - {"kms:Decrypt"}
    restore = (reads | writes | store | kms) - ALWAYS_ALLOWED - BACKUP_ONLY - {"s3:DeleteObject"}
    return {"backup-policy.json": backup | {"kms:Decrypt"},  # a resumed encrypted backup unseals checkpoints
            "restore-policy.json": restore,
            "state-policy.json": set().union(*(code[m] for m in ("dynamo_store.py", "state_blobs.py"))),
            "state-init-policy.json": code["state_admin.py"] | {"dynamodb:TagResource"}}  # CreateTable with Tags


def test_the_shared_s3_calls_are_seen_through_the_methods_that_make_them():
    """Else the stores would make no S3 call as far as the policy check can tell."""
    shared = shared_s3_operations({"PutObject", "GetObject", "ListObjectsV2", "DeleteObject", "DeleteObjects"})
    assert shared["put_object"] == {"PutObject"} and shared["call"] == set()
    assert shared["delete_under"] == {"ListObjectsV2", "DeleteObject", "DeleteObjects"}
    code = operations_in_code()
    assert {"s3:PutObject", "s3:GetObject", "s3:ListBucket", "s3:DeleteObject"} <= code["storage.py"]
    assert {"s3:PutObject", "s3:GetObject", "s3:ListBucket", "s3:DeleteObject"} <= code["state_blobs.py"]


def test_each_policy_is_exactly_the_calls_its_commands_make():
    for name, wanted in expected().items():
        documented = policy_actions(name)
        assert documented - wanted == set(), f"{name} allows what the code never calls"
        assert wanted - documented == set(), f"{name} lacks actions the code calls"


def assert_covered(calls: dict[str, int], policy: str) -> None:
    """What a gateway called (``{service:Operation: n}``) is allowed by the policy."""
    called = {a for key in calls for a in actions(*key.split(":"))}
    assert called - ALWAYS_ALLOWED <= policy_actions(policy), sorted(called - policy_actions(policy))
