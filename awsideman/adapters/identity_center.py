"""Reads of an Identity Center instance, in the service's own vocabulary.

Thin functions over `AwsGateway.call`/`pages`; they return the API's dicts (minus response
metadata) and know nothing of snapshots or checkpoints.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from awsideman.adapters.aws import AwsGateway, client_error_code
from awsideman.core.exceptions import InstanceNotFoundError

SSO = "sso-admin"
IDS = "identitystore"
PAGE = 100  # the largest page every list operation used here accepts


@dataclass(frozen=True)
class Instance:
    """Where the data lives: the instance and its identity store."""

    instance_arn: str
    identity_store_id: str
    region: str
    account_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"instance_arn": self.instance_arn, "identity_store_id": self.identity_store_id,
                "region": self.region, "account_id": self.account_id}


def discover_instance(gateway: AwsGateway, instance_arn: str | None = None,
                      identity_store_id: str | None = None) -> Instance:
    """The configured instance, or the only one `ListInstances` returns."""
    account_id = _caller_account(gateway)
    if instance_arn and identity_store_id:
        return Instance(instance_arn, identity_store_id, gateway.region, account_id)
    found = list(gateway.pages(SSO, "ListInstances", "Instances"))
    if instance_arn:
        found = [i for i in found if i["InstanceArn"] == instance_arn]
    if len(found) == 1:
        item = found[0]
        return Instance(item["InstanceArn"], identity_store_id or item["IdentityStoreId"],
                        gateway.region, account_id)
    listed = ", ".join(f"{i['InstanceArn']} ({i['IdentityStoreId']})" for i in found) or "none"
    raise InstanceNotFoundError(
        f"Expected one Identity Center instance in {gateway.region}, found: {listed}",
        remediation=["Set `instance_arn` and `identity_store_id` in the config file, "
                     "or AWSIDEMAN_INSTANCE_ARN / AWSIDEMAN_IDENTITY_STORE_ID.",
                     "Check --region: Identity Center lives in one region."])


def _caller_account(gateway: AwsGateway) -> str | None:
    # The gateway keeps the answer: the journal records the caller from it, without a second call.
    identity = gateway.caller_identity()  # None when denied: the account id is informative only
    return str(identity["Account"]) if identity and identity.get("Account") else None


class IdentityCenterReader:
    """Paginated reads of every attribute the backup needs."""

    def __init__(self, gateway: AwsGateway, instance: Instance) -> None:
        self.gateway = gateway
        self.instance = instance

    # -- identity store ----------------------------------------------------------------------
    def users(self) -> list[dict[str, Any]]:
        return list(self.each_user())

    def each_user(self) -> Iterator[dict[str, Any]]:
        """The users a page at a time: a caller that keeps a smaller form of each (the collector)
        never holds an enterprise's listing twice, as the API's dicts and as its own."""
        # ListUsers returns every attribute of each user: no DescribeUser per user needed.
        return self.gateway.pages(IDS, "ListUsers", "Users", MaxResults=PAGE,
                                  IdentityStoreId=self.instance.identity_store_id)

    def groups(self) -> list[dict[str, Any]]:
        return list(self.each_group())

    def each_group(self) -> Iterator[dict[str, Any]]:
        """The groups a page at a time (see `each_user`)."""
        return self.gateway.pages(IDS, "ListGroups", "Groups", MaxResults=PAGE,
                                  IdentityStoreId=self.instance.identity_store_id)

    def group_memberships(self, group_id: str) -> list[dict[str, Any]]:
        return list(self.gateway.pages(IDS, "ListGroupMemberships", "GroupMemberships",
                                       MaxResults=PAGE, GroupId=group_id,
                                       IdentityStoreId=self.instance.identity_store_id))

    # -- permission sets ----------------------------------------------------------------------
    def permission_set_arns(self) -> list[str]:
        return list(self.gateway.pages(SSO, "ListPermissionSets", "PermissionSets", MaxResults=PAGE,
                                       InstanceArn=self.instance.instance_arn))

    def permission_set(self, arn: str) -> dict[str, Any]:
        """Every attribute of one permission set (six calls, one per attribute family)."""
        ref: dict[str, Any] = {"InstanceArn": self.instance.instance_arn, "PermissionSetArn": arn}
        described = _jsonable(self.gateway.call(SSO, "DescribePermissionSet", **ref)["PermissionSet"])
        inline = self.gateway.call(SSO, "GetInlinePolicyForPermissionSet", **ref).get("InlinePolicy")
        managed = [p["Arn"] for p in self.gateway.pages(
            SSO, "ListManagedPoliciesInPermissionSet", "AttachedManagedPolicies", MaxResults=PAGE, **ref)]
        customer = list(self.gateway.pages(
            SSO, "ListCustomerManagedPolicyReferencesInPermissionSet", "CustomerManagedPolicyReferences",
            MaxResults=PAGE, **ref))
        tags = list(self.gateway.pages(SSO, "ListTagsForResource", "Tags",
                                       InstanceArn=self.instance.instance_arn, ResourceArn=arn))
        return {
            "PermissionSet": described,
            "InlinePolicy": inline or None,
            "ManagedPolicies": managed,
            "CustomerManagedPolicyReferences": customer,
            "PermissionsBoundary": self._boundary(ref),
            "Tags": tags,
        }

    def _boundary(self, ref: dict[str, Any]) -> dict[str, Any] | None:
        try:
            return self.gateway.call(SSO, "GetPermissionsBoundaryForPermissionSet",
                                     **ref).get("PermissionsBoundary")
        except Exception as exc:
            # "No boundary" is answered with ResourceNotFoundException, not an empty result.
            if client_error_code(exc) == "ResourceNotFoundException":
                return None
            raise

    # -- assignments --------------------------------------------------------------------------
    def accounts_for_permission_set(self, arn: str) -> list[str]:
        return list(self.gateway.pages(SSO, "ListAccountsForProvisionedPermissionSet", "AccountIds",
                                       MaxResults=PAGE, InstanceArn=self.instance.instance_arn,
                                       PermissionSetArn=arn))

    def account_assignments(self, account_id: str, arn: str) -> list[dict[str, Any]]:
        return list(self.gateway.pages(SSO, "ListAccountAssignments", "AccountAssignments",
                                       MaxResults=PAGE, InstanceArn=self.instance.instance_arn,
                                       AccountId=account_id, PermissionSetArn=arn))

    def assignments_for_principal(self, principal_type: str, principal_id: str) -> list[dict[str, Any]]:
        """Management-account-only listing: every assignment of one principal, all accounts."""
        return list(self.gateway.pages(SSO, "ListAccountAssignmentsForPrincipal", "AccountAssignments",
                                       MaxResults=PAGE, InstanceArn=self.instance.instance_arn,
                                       PrincipalId=principal_id, PrincipalType=principal_type))


def _jsonable(value: Any) -> Any:
    """Timestamps as ISO strings, so step results can be checkpointed as JSON."""
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value
