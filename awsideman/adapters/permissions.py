"""Every AWS operation awsideman calls -> the IAM actions it needs, on which resources, for which command.

One table, the source of truth: the policies in ``iam/*.json`` are generated from it
(``python -m awsideman.adapters.permissions``; tests/test_iam_policies.py fails when they
differ, when the code calls an operation the table lacks, or when the table holds one nobody
calls), and so are ``awsideman iam-policy`` and the permissions a preflight simulates.

Resources are kinds (``RESOURCES``) filled in with what is known (an instance, a bucket...);
what is not known yet stays a wildcard (``*``), or a placeholder (``BUCKET``) in the files.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

# Where each kind of resource lives; ``{name}`` is filled from ``Scope``.
RESOURCES = {
    "any": "*",
    "caller": "arn:aws:iam::{caller_account}:*",
    "organization": "*",
    "caller_role": "arn:aws:iam::{caller_account}:role/*",
    "instance": "arn:aws:sso:::instance/{instance_id}",
    "permission_set": "arn:aws:sso:::permissionSet/{instance_id}/*",
    "account": "arn:aws:sso:::account/{account}",
    "identity_store": "arn:aws:identitystore::{caller_account}:identitystore/{identity_store_id}",
    "identity_entries": "arn:aws:identitystore:::*",
    "backup_bucket": "arn:aws:s3:::{backup_bucket}",
    "backup_objects": "arn:aws:s3:::{backup_bucket}/{backup_prefix}*",
    "backup_key": "arn:aws:kms:{region}:{caller_account}:key/{kms_key}",
    "state_table": "arn:aws:dynamodb:{region}:{caller_account}:table/{state_table}",
    "state_bucket": "arn:aws:s3:::{state_bucket}",
    "state_objects": "arn:aws:s3:::{state_bucket}/{state_prefix}*",
    # Where a run's end is announced (``notify:``, ``metrics: {cloudwatch: ...}``): the topics
    # named in the config; PutMetricData names no resource (its namespace is a condition key).
    "notify_topic": "arn:aws:sns:{region}:{caller_account}:*",
    "metrics": "*",
}
COMMANDS = ("backup", "restore", "rollback", "state", "state-init")

_IC = ("instance", "permission_set")
_ASSIGN = ("instance", "permission_set", "account")
_STORE = ("identity_store", "identity_entries")
_B, _R, _RB = frozenset({"backup"}), frozenset({"restore"}), frozenset({"restore", "rollback"})
_ALL_IC = frozenset({"backup", "restore", "rollback"})


@dataclass(frozen=True)
class Need:
    """What one operation needs: IAM actions, on these kinds of resource, for these commands."""

    actions: tuple[str, ...]
    resources: tuple[str, ...]
    commands: frozenset[str]


def _need(resources: tuple[str, ...], commands: frozenset[str], *actions: str) -> Need:
    return Need(actions, resources, commands)


# (gateway service, operation) -> Need. The action is the operation's name unless given.
TABLE: dict[tuple[str, str], Need] = {
    ("sts", "GetCallerIdentity"): _need(("any",), frozenset(COMMANDS), "sts:GetCallerIdentity"),
    # Reading the instance (every command finds it; a backup reads all of it).
    ("sso-admin", "ListInstances"): _need(("any",), _ALL_IC, "sso:ListInstances"),
    **{("sso-admin", op): _need(_IC if op != "ListPermissionSets" else ("instance",),
                                _ALL_IC if op in ("DescribePermissionSet", "ListPermissionSets") else _B | _R,
                                f"sso:{op}")
       for op in ("DescribePermissionSet", "GetInlinePolicyForPermissionSet", "GetPermissionsBoundaryForPermissionSet",
                  "ListCustomerManagedPolicyReferencesInPermissionSet", "ListManagedPoliciesInPermissionSet",
                  "ListPermissionSets", "ListTagsForResource")},
    ("sso-admin", "ListAccountsForProvisionedPermissionSet"): _need(_IC, _ALL_IC,
                                                                    "sso:ListAccountsForProvisionedPermissionSet"),
    ("sso-admin", "ListAccountAssignments"): _need(_ASSIGN, _ALL_IC, "sso:ListAccountAssignments"),
    ("sso-admin", "ListAccountAssignmentsForPrincipal"): _need(("instance", "account"), _B | _R,
                                                               "sso:ListAccountAssignmentsForPrincipal"),
    ("identitystore", "ListUsers"): _need(_STORE, _ALL_IC, "identitystore:ListUsers"),
    ("identitystore", "ListGroups"): _need(_STORE, _ALL_IC, "identitystore:ListGroups"),
    ("identitystore", "ListGroupMemberships"): _need(_STORE, _B | _R, "identitystore:ListGroupMemberships"),
    # Writing it (a restore, and a rollback reverting one), with the look-ups and polls on the way.
    **{("sso-admin", op): _need(_IC, _RB, f"sso:{op}")
       for op in ("AttachCustomerManagedPolicyReferenceToPermissionSet", "AttachManagedPolicyToPermissionSet",
                  "CreatePermissionSet", "DeleteInlinePolicyFromPermissionSet", "DeletePermissionSet",
                  "DeletePermissionsBoundaryFromPermissionSet", "DetachCustomerManagedPolicyReferenceFromPermissionSet",
                  "DetachManagedPolicyFromPermissionSet", "PutInlinePolicyToPermissionSet",
                  "PutPermissionsBoundaryToPermissionSet", "TagResource", "UntagResource", "UpdatePermissionSet",
                  "ProvisionPermissionSet")},
    **{("sso-admin", op): _need(_ASSIGN, _RB, f"sso:{op}")
       for op in ("CreateAccountAssignment", "DeleteAccountAssignment")},
    **{("sso-admin", op): _need(("instance",), _RB, f"sso:{op}")
       for op in ("DescribeAccountAssignmentCreationStatus", "DescribeAccountAssignmentDeletionStatus",
                  "DescribePermissionSetProvisioningStatus", "ListAccountAssignmentCreationStatus",
                  "ListAccountAssignmentDeletionStatus", "ListPermissionSetProvisioningStatus")},
    **{("identitystore", op): _need(_STORE, _RB, f"identitystore:{op}")
       for op in ("CreateGroup", "CreateGroupMembership", "CreateUser", "DeleteGroup", "DeleteGroupMembership",
                  "DeleteUser", "DescribeGroup", "DescribeGroupMembership", "DescribeUser", "UpdateGroup",
                  "UpdateUser", "GetGroupId", "GetGroupMembershipId", "GetUserId")},
    # The preflight of a restore or rollback: simulating the caller's policies (an assumed-role
    # session is resolved to its role, whose path GetRole knows).
    ("iam", "SimulatePrincipalPolicy"): _need(("caller",), _RB, "iam:SimulatePrincipalPolicy"),
    ("iam", "GetRole"): _need(("caller_role",), _RB, "iam:GetRole"),
    # ...and the accounts assignments are created in belong to the organization.
    ("organizations", "ListAccounts"): _need(("organization",), _RB, "organizations:ListAccounts"),
    # The backup store and its key. A restore only reads the store; a backup also cleans up a
    # failed write and deletes old backups (``backup delete|prune``).
    ("s3", "ListObjectsV2"): _need(("backup_bucket",), _B | _R, "s3:ListBucket"),
    ("s3", "GetObject"): _need(("backup_objects",), _B | _R, "s3:GetObject"),
    ("s3", "PutObject"): _need(("backup_objects",), _B, "s3:PutObject"),
    ("s3", "DeleteObject"): _need(("backup_objects",), _B, "s3:DeleteObject"),
    # Deleting under a prefix (s3_objects.delete_under) sends one or the other: the same action.
    ("s3", "DeleteObjects"): _need(("backup_objects",), _B, "s3:DeleteObject"),
    ("kms", "GenerateDataKey"): _need(("backup_key",), _B, "kms:GenerateDataKey"),
    # `doctor` checks the key is enabled (its state, before a backup or restore needs it).
    ("kms", "DescribeKey"): _need(("backup_key",), _B | _R, "kms:DescribeKey"),
    # A restore opens an encrypted backup; a resumed encrypted backup unseals its checkpoints.
    ("kms", "Decrypt"): _need(("backup_key",), _B | _R, "kms:Decrypt"),
    # When a backup, restore or rollback ends: its account to the SNS sinks, its figures to CloudWatch.
    ("sns", "Publish"): _need(("notify_topic",), _ALL_IC, "sns:Publish"),
    ("cloudwatch", "PutMetricData"): _need(("metrics",), _ALL_IC, "cloudwatch:PutMetricData"),
    # The shared state (state: dynamodb://TABLE): every runner, and `state init` once.
    **{("dynamodb", op): _need(("state_table",), frozenset({"state"}), f"dynamodb:{op}")
       for op in ("BatchWriteItem", "DeleteItem", "GetItem", "PutItem", "Query", "UpdateItem")},
    # A transaction is authorised per item, by what it does to the item (the journal's verbs).
    ("dynamodb", "TransactWriteItems"): _need(("state_table",), frozenset({"state"}), "dynamodb:ConditionCheckItem",
                                              "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"),
    ("dynamodb", "CreateTable"): _need(("state_table",), frozenset({"state-init"}), "dynamodb:CreateTable",
                                       "dynamodb:TagResource"),  # CreateTable with Tags
    ("dynamodb", "DescribeTable"): _need(("state_table",), frozenset({"state-init"}), "dynamodb:DescribeTable"),
    ("dynamodb", "Scan"): _need(("state_table",), frozenset({"state-init"}), "dynamodb:Scan"),
    ("state-s3", "ListObjectsV2"): _need(("state_bucket",), frozenset({"state", "state-init"}), "s3:ListBucket"),
    ("state-s3", "GetObject"): _need(("state_objects",), frozenset({"state"}), "s3:GetObject"),
    ("state-s3", "PutObject"): _need(("state_objects",), frozenset({"state"}), "s3:PutObject"),
    ("state-s3", "DeleteObjects"): _need(("state_objects",), frozenset({"state"}), "s3:DeleteObject"),
    ("state-s3", "DeleteObject"): _need(("state_objects",), frozenset({"state"}), "s3:DeleteObject"),
}
# `state init` also reads and writes its schema item like any runner.
for _op in ("GetItem", "PutItem"):
    TABLE[("dynamodb", _op)] = Need(TABLE[("dynamodb", _op)].actions, ("state_table",),
                                    frozenset({"state", "state-init"}))

# Needs no permission: AWS documents it as always allowed.
ALWAYS_ALLOWED = frozenset({"sts:GetCallerIdentity"})
# The statements of a policy: Sid, the resource kinds it covers (in this order).
STATEMENTS = (
    ("IdentityCenterInstance", ("any", "instance", "permission_set", "account")),
    ("IdentityStore", ("identity_store", "identity_entries")),
    ("PreflightSimulation", ("caller", "caller_role")),
    ("PreflightAccounts", ("organization",)),
    ("BackupEncryptionKey", ("backup_key",)),
    ("BackupBucketListing", ("backup_bucket",)),
    ("BackupObjects", ("backup_objects",)),
    ("SharedStateTable", ("state_table",)),
    ("SharedStateLargeValues", ("state_bucket", "state_objects")),
    ("Notifications", ("notify_topic",)),
    ("Metrics", ("metrics",)),
)
# What the checked-in files say where nothing is known (an operator fills these in).
PLACEHOLDERS = {"region": "REGION", "caller_account": "ACCOUNT_ID", "kms_key": "KEY_ID",
                "backup_bucket": "BACKUP_BUCKET", "backup_prefix": "PREFIX/", "state_table": "TABLE",
                "state_bucket": "BUCKET", "state_prefix": "state/"}
# The checked-in files: name -> the commands they serve.
FILES = {"backup-policy.json": ("backup",), "restore-policy.json": ("restore", "rollback"),
         "state-policy.json": ("state",), "state-init-policy.json": ("state-init",)}


class Scope:
    """What is known of the resources: values for ``RESOURCES``' fields; unknown ones stay wildcards."""

    FIELDS = ("instance_id", "identity_store_id", "caller_account", "region", "backup_bucket", "backup_prefix",
              "kms_key", "state_table", "state_bucket", "state_prefix")

    def __init__(self, accounts: tuple[str, ...] = (), topics: tuple[str, ...] = (), **known: str | None) -> None:
        unknown = sorted(set(known) - set(self.FIELDS))
        if unknown:
            raise TypeError(f"Scope has no field {unknown[0]!r}")
        self.known = {name: value for name, value in known.items() if value is not None}
        self.accounts = tuple(accounts)
        self.topics = tuple(topics)  # the SNS topics of ``notify:``

    def get(self, name: str) -> str | None:
        return self.known.get(name)

    def with_(self, accounts: tuple[str, ...] | None = None, topics: tuple[str, ...] | None = None,
              **known: str | None) -> Scope:
        """This scope with more known (a None value forgets nothing)."""
        return Scope(self.accounts if accounts is None else accounts, self.topics if topics is None else topics,
                     **{**self.known, **{k: v for k, v in known.items() if v is not None}})


def needs(commands: Iterable[str]) -> dict[tuple[str, str], Need]:
    """The operations ``commands`` make."""
    wanted = set(commands)
    unknown = wanted - set(COMMANDS)
    if unknown:
        raise ValueError(f"unknown command {sorted(unknown)[0]!r}; expected one of {', '.join(COMMANDS)}")
    return {key: need for key, need in TABLE.items() if need.commands & wanted}


def arns(kind: str, scope: Scope, *, placeholders: bool = False) -> list[str]:
    """The ARNs of a kind of resource in ``scope`` (wildcards or placeholders where unknown)."""
    if kind == "account" and scope.accounts:
        return [RESOURCES[kind].format(account=account) for account in scope.accounts]
    if kind == "notify_topic" and scope.topics:
        return sorted(scope.topics)
    key = scope.get("kms_key")
    if kind == "backup_key" and key and key.startswith("arn:"):
        return [key]
    values: dict[str, str] = {}
    for name in Scope.FIELDS:
        value = scope.get(name)
        if value is None:
            value = PLACEHOLDERS.get(name, "*") if placeholders else "*"
            if name.endswith("_prefix") and value == "*":
                value = ""
        elif name.endswith("_prefix") and value and not value.endswith("/"):
            value += "/"
        values[name] = value
    values["account"] = "*"
    arn = RESOURCES[kind].format(**values)
    return [arn.replace("**", "*")]


def policy(commands: Iterable[str], scope: Scope | None = None, *, placeholders: bool = False,
           skip: frozenset[str] = frozenset()) -> dict[str, Any]:
    """The least-privilege identity policy for ``commands`` (``awsideman iam-policy``, ``iam/*.json``);
    operations needing only resources of a kind in ``skip`` (a local store, no KMS key) are left out."""
    scope = scope or Scope()
    wanted = {key: need for key, need in needs(commands).items() if not set(need.resources) <= skip}
    statements: list[dict[str, Any]] = []
    for sid, kinds in STATEMENTS:
        actions = sorted({action for need in wanted.values() if set(need.resources) & set(kinds)
                          for action in need.actions} - ALWAYS_ALLOWED)
        if not actions:
            continue
        used = [kind for kind in kinds if any(kind in need.resources for need in wanted.values())]
        resources = ["*"] if "any" in used or (sid in ("IdentityCenterInstance", "IdentityStore")
                                                and not _narrowed(sid, scope)) else \
            sorted({arn for kind in used for arn in arns(kind, scope, placeholders=placeholders)})
        statements.append({"Sid": sid, "Effect": "Allow", "Action": actions, "Resource": resources})
    if scope.get("instance_id") is not None and statements and statements[0]["Sid"] == "IdentityCenterInstance":
        _split_discovery(statements, scope, placeholders)
    return {"Version": "2012-10-17", "Statement": statements}


def _narrowed(sid: str, scope: Scope) -> bool:
    return scope.get("instance_id" if sid == "IdentityCenterInstance" else "identity_store_id") is not None


def _split_discovery(statements: list[dict[str, Any]], scope: Scope, placeholders: bool) -> None:
    """With the instance known, only ``sso:ListInstances`` (which names no resource) keeps ``*``."""
    first = statements[0]
    actions = [a for a in first["Action"] if a != "sso:ListInstances"]
    kinds = ("instance", "permission_set", "account")
    first["Action"], first["Resource"] = actions, sorted({arn for kind in kinds for arn in arns(kind, scope)})
    statements.insert(0, {"Sid": "IdentityCenterDiscovery", "Effect": "Allow", "Action": ["sso:ListInstances"],
                          "Resource": ["*"]})


def render(document: Mapping[str, object]) -> str:
    return json.dumps(document, indent=2) + "\n"


def checked_in() -> dict[str, str]:
    """The text of each file in ``iam/``, as generated."""
    return {name: render(policy(commands, placeholders=True)) for name, commands in FILES.items()}


if __name__ == "__main__":
    import pathlib

    folder = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "iam")
    for name, text in checked_in().items():
        (folder / name).write_text(text)
