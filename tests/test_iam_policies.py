"""The least-privilege IAM policies in iam/ match the API calls the code makes, and nothing more.

Every AWS operation named in the modules that call the gateway (found by reading their string
constants against botocore's service models) maps to an action in the policy of the command
that makes it; every action in a policy is one of those. ``assert_covered`` checks what a
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
STATE_MODULES = {"journal/dynamo_store.py": ("dynamodb",), "journal/blobs.py": ("s3",),
                 "services/state_admin.py": ("dynamodb", "s3")}
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


def operations_in_code() -> dict[str, set[str]]:
    """{module: {iam action}} of every operation name among the module's string constants."""
    session = botocore.session.get_session()
    models = {s: set(session.get_service_model(s).operation_names) for s in PREFIX}
    found: dict[str, set[str]] = {}
    modules = {**{ADAPTERS / m: s for m, s in MODULES.items()},
               **{ADAPTERS.parent / m: s for m, s in STATE_MODULES.items()}}
    for path, services in modules.items():
        strings = {n.value for n in ast.walk(ast.parse(path.read_text()))
                   if isinstance(n, ast.Constant) and isinstance(n.value, str)}
        found[path.name] = {a for s in services for op in strings & models[s] for a in actions(s, op)}
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
            "state-policy.json": set().union(*(code[m] for m in ("dynamo_store.py", "blobs.py"))),
            "state-init-policy.json": code["state_admin.py"] | {"dynamodb:TagResource"}}  # CreateTable with Tags


def test_each_policy_is_exactly_the_calls_its_commands_make():
    for name, wanted in expected().items():
        documented = policy_actions(name)
        assert documented - wanted == set(), f"{name} allows what the code never calls"
        assert wanted - documented == set(), f"{name} lacks actions the code calls"


def assert_covered(calls: dict[str, int], policy: str) -> None:
    """What a gateway called (``{service:Operation: n}``) is allowed by the policy."""
    called = {a for key in calls for a in actions(*key.split(":"))}
    assert called - ALWAYS_ALLOWED <= policy_actions(policy), sorted(called - policy_actions(policy))
