"""Make moto 5.2.5 behave like the real IAM Identity Center APIs this project depends on.

Call :func:`apply` once before ``moto.mock_aws()`` or before starting a ``ThreadedMotoServer``
in the same process; it is idempotent. What it fills in is listed in :data:`GAP_FILLS`.
"""

from __future__ import annotations

import threading

from .gapfills import (
    dynamodb,
    iam_simulate,
    identitystore_models,
    identitystore_responses,
    kms_models,
    organizations_accounts,
    ssoadmin_async,
    ssoadmin_instance_ids,
    ssoadmin_models,
    ssoadmin_responses,
)

GAP_FILLS = (
    "sso-admin: permissions boundaries (Put/Get/Delete)",
    "sso-admin: the n-th instance of an account and region has the same ids in every emulator process",
    "sso-admin: permission set tags (CreatePermissionSet Tags, Tag/Untag/ListTagsForResource, paged)",
    "sso-admin: async requests (assignment create/delete, provisioning) IN_PROGRESS for a set time, "
    "then SUCCEEDED or an injected FAILED; effects visible once SUCCEEDED; Describe/List*Status filtered",
    "sso-admin: at most 15 outstanding async requests per instance -> ThrottlingException",
    "sso-admin: one async operation per permission set and account at a time -> ConflictException",
    "sso-admin: CreateAccountAssignment validates permission set, principal, target; never duplicates",
    "sso-admin: provisioned-account listings follow assignments and ProvisionPermissionSet; paged",
    "sso-admin: DeletePermissionSet with assignments -> ConflictException; duplicate name -> Conflict",
    "sso-admin: AWS managed policy ARNs keep their IAM path (job-function/...)",
    "sso-admin: UpdatePermissionSet keeps fields it was not given; SessionDuration defaults to PT1H",
    "sso-admin: ListAccountAssignments[ForPrincipal] paged; List*Status calls",
    "identitystore: UpdateUser, UpdateGroup",
    "identitystore: duplicate membership -> ConflictException UNIQUENESS_CONSTRAINT_VIOLATION",
    "identitystore: DeleteUser/DeleteGroup cascade to memberships and account assignments "
    "(quirk orphan_assignments: the assignments stay, as in AWS); unknown ids -> ResourceNotFound",
    "identitystore: every user attribute kept and returned; one email/address/phone at most",
    "kms: disabled / pending-deletion keys refuse Encrypt, GenerateDataKey and Decrypt; "
    "a KeyId that did not encrypt the blob -> IncorrectKeyException; EnableKey/DisableKey take ARNs",
    "dynamodb: one request at a time (moto's tables are not safe for concurrent requests)",
    "dynamodb: TransactWriteItems checks every condition first, then writes (no copy of the table per call)",
    "organizations: CreateAccount with the tag awsideman:account-id takes that id (seeded accounts); "
    "ListAccounts without an organization -> AWSOrganizationsNotInUseException",
    "iam: SimulatePrincipalPolicy / SimulateCustomPolicy from the principal's identity-based policies "
    "(user + its groups, role, group; Allow/Deny, NotAction/NotResource, wildcards; paged)",
)

_lock = threading.Lock()
_applied = False


def apply() -> None:
    """Install every gap fill on moto's classes (idempotent)."""
    global _applied
    with _lock:
        if _applied:
            return
        ssoadmin_models.install_models()
        ssoadmin_instance_ids.install_models()
        ssoadmin_async.install_models()
        ssoadmin_responses.install_responses()
        identitystore_models.install_models()
        identitystore_responses.install_responses()
        kms_models.install_models()
        iam_simulate.install_responses()
        organizations_accounts.install_models()
        dynamodb.install()
        _applied = True


def is_applied() -> bool:
    """True once :func:`apply` has run in this process."""
    return _applied
