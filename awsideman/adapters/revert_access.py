"""What a rollback checks before it reverts anything: access, per kind of resource.

One cheap read per kind of resource its inverses touch, so that a denial, a wrong account or
expired credentials show before the first revert, not half-way through; and the permissions
the inverses of that kind need, for the message when the read is refused.
"""

from __future__ import annotations

from typing import Any

from awsideman.adapters.aws import AwsGateway
from awsideman.adapters.identity_center import IDS, SSO, Instance

ACCESS_PROBES: dict[str, tuple[str, str]] = {
    "user": (IDS, "ListUsers"), "group": (IDS, "ListGroups"), "membership": (IDS, "ListGroups"),
    "permission_set": (SSO, "ListPermissionSets"),
    "assignment": (SSO, "ListAccountAssignmentCreationStatus"),
    "provision": (SSO, "ListPermissionSetProvisioningStatus"),
}
REVERT_PERMISSIONS: dict[str, tuple[str, ...]] = {
    "user": ("identitystore:GetUserId", "identitystore:CreateUser", "identitystore:UpdateUser",
             "identitystore:DeleteUser"),
    "group": ("identitystore:GetGroupId", "identitystore:CreateGroup", "identitystore:UpdateGroup",
              "identitystore:DeleteGroup"),
    "membership": ("identitystore:GetGroupMembershipId", "identitystore:CreateGroupMembership",
                   "identitystore:DeleteGroupMembership"),
    "permission_set": ("sso:ListPermissionSets", "sso:DescribePermissionSet", "sso:CreatePermissionSet",
                       "sso:UpdatePermissionSet", "sso:DeletePermissionSet", "sso:PutInlinePolicyToPermissionSet",
                       "sso:DeleteInlinePolicyFromPermissionSet", "sso:AttachManagedPolicyToPermissionSet",
                       "sso:DetachManagedPolicyFromPermissionSet",
                       "sso:AttachCustomerManagedPolicyReferenceToPermissionSet",
                       "sso:DetachCustomerManagedPolicyReferenceFromPermissionSet",
                       "sso:PutPermissionsBoundaryToPermissionSet", "sso:DeletePermissionsBoundaryFromPermissionSet",
                       "sso:TagResource", "sso:UntagResource"),
    "assignment": ("sso:ListAccountAssignments", "sso:CreateAccountAssignment", "sso:DeleteAccountAssignment",
                   "sso:ListAccountAssignmentCreationStatus", "sso:ListAccountAssignmentDeletionStatus",
                   "sso:DescribeAccountAssignmentCreationStatus", "sso:DescribeAccountAssignmentDeletionStatus"),
    "provision": ("sso:ProvisionPermissionSet", "sso:ListPermissionSetProvisioningStatus",
                  "sso:DescribePermissionSetProvisioningStatus"),
}


def probe(gateway: AwsGateway, instance: Instance, resource: str) -> None:
    """The cheap read of ``ACCESS_PROBES`` for one resource kind (raises what the service says)."""
    service, operation = ACCESS_PROBES[resource]
    ids: dict[str, Any] = ({"IdentityStoreId": instance.identity_store_id} if service == IDS
                           else {"InstanceArn": instance.instance_arn})
    gateway.call(service, operation, MaxResults=1, **ids)
