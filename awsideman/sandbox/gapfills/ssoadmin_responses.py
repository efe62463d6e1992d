"""Response (wire) gap fills for moto's sso-admin: new actions, async statuses, pagination.

Every function here becomes a method of ``moto.ssoadmin.responses.SSOAdminResponse``; moto
dispatches an action to the method named after it, in-process and in server mode alike.
"""

from __future__ import annotations

import json
from typing import Any

from moto.ssoadmin.responses import SSOAdminResponse

from ._common import install, page

# Real AWS pages tags without taking MaxResults; a small page makes clients prove they follow
# NextToken.
TAGS_PAGE_SIZE = 10


def _assignment_args(self: SSOAdminResponse) -> dict[str, Any]:
    return {
        "instance_arn": self._get_param("InstanceArn"),
        "target_id": self._get_param("TargetId"),
        "target_type": self._get_param("TargetType"),
        "permission_set_arn": self._get_param("PermissionSetArn"),
        "principal_type": self._get_param("PrincipalType"),
        "principal_id": self._get_param("PrincipalId"),
    }


def create_account_assignment(self: SSOAdminResponse) -> str:
    status = self.ssoadmin_backend.create_account_assignment(**_assignment_args(self))
    return json.dumps({"AccountAssignmentCreationStatus": status})


def delete_account_assignment(self: SSOAdminResponse) -> str:
    status = self.ssoadmin_backend.delete_account_assignment(**_assignment_args(self))
    return json.dumps({"AccountAssignmentDeletionStatus": status})


def describe_account_assignment_creation_status(self: SSOAdminResponse) -> str:
    status = self.ssoadmin_backend.describe_account_assignment_creation_status(
        account_assignment_creation_request_id=self._get_param("AccountAssignmentCreationRequestId"),
        instance_arn=self._get_param("InstanceArn"),
    )
    return json.dumps({"AccountAssignmentCreationStatus": status})


def describe_account_assignment_deletion_status(self: SSOAdminResponse) -> str:
    status = self.ssoadmin_backend.describe_account_assignment_deletion_status(
        account_assignment_deletion_request_id=self._get_param("AccountAssignmentDeletionRequestId"),
        instance_arn=self._get_param("InstanceArn"),
    )
    return json.dumps({"AccountAssignmentDeletionStatus": status})


def _paged(self: SSOAdminResponse, key: str, items: list[Any], default: int = 100) -> str:
    chunk, token = page(items, self._get_param("MaxResults"), self._get_param("NextToken"), default)
    body: dict[str, Any] = {key: chunk}
    if token:
        body["NextToken"] = token
    return json.dumps(body)


def list_account_assignments(self: SSOAdminResponse) -> str:
    items = self.ssoadmin_backend.list_account_assignments(
        instance_arn=self._get_param("InstanceArn"),
        account_id=self._get_param("AccountId"),
        permission_set_arn=self._get_param("PermissionSetArn"),
    )
    return _paged(self, "AccountAssignments", items)


def list_account_assignments_for_principal(self: SSOAdminResponse) -> str:
    items = self.ssoadmin_backend.list_account_assignments_for_principal(
        filter_=self._get_param("Filter", {}),
        instance_arn=self._get_param("InstanceArn"),
        principal_id=self._get_param("PrincipalId"),
        principal_type=self._get_param("PrincipalType"),
    )
    return _paged(self, "AccountAssignments", items)


def create_permission_set(self: SSOAdminResponse) -> str:
    permission_set = self.ssoadmin_backend.create_permission_set(
        name=self._get_param("Name"),
        description=self._get_param("Description"),
        instance_arn=self._get_param("InstanceArn"),
        session_duration=self._get_param("SessionDuration"),
        relay_state=self._get_param("RelayState"),
        tags=self._get_param("Tags"),
    )
    return json.dumps({"PermissionSet": permission_set})


def update_permission_set(self: SSOAdminResponse) -> str:
    # No defaults: a field the caller did not send must stay as it is.
    self.ssoadmin_backend.update_permission_set(
        instance_arn=self._get_param("InstanceArn"),
        permission_set_arn=self._get_param("PermissionSetArn"),
        description=self._get_param("Description"),
        session_duration=self._get_param("SessionDuration"),
        relay_state=self._get_param("RelayState"),
    )
    return "{}"


def _ps_args(self: SSOAdminResponse) -> dict[str, Any]:
    return {
        "instance_arn": self._get_param("InstanceArn"),
        "permission_set_arn": self._get_param("PermissionSetArn"),
    }


def put_permissions_boundary_to_permission_set(self: SSOAdminResponse) -> str:
    self.ssoadmin_backend.put_permissions_boundary_to_permission_set(
        permissions_boundary=self._get_param("PermissionsBoundary"), **_ps_args(self)
    )
    return "{}"


def get_permissions_boundary_for_permission_set(self: SSOAdminResponse) -> str:
    boundary = self.ssoadmin_backend.get_permissions_boundary_for_permission_set(**_ps_args(self))
    return json.dumps({"PermissionsBoundary": boundary})


def delete_permissions_boundary_from_permission_set(self: SSOAdminResponse) -> str:
    self.ssoadmin_backend.delete_permissions_boundary_from_permission_set(**_ps_args(self))
    return "{}"


def tag_resource(self: SSOAdminResponse) -> str:
    self.ssoadmin_backend.tag_resource(
        instance_arn=self._get_param("InstanceArn"),
        resource_arn=self._get_param("ResourceArn"),
        tags=self._get_param("Tags"),
    )
    return "{}"


def untag_resource(self: SSOAdminResponse) -> str:
    self.ssoadmin_backend.untag_resource(
        instance_arn=self._get_param("InstanceArn"),
        resource_arn=self._get_param("ResourceArn"),
        tag_keys=self._get_param("TagKeys"),
    )
    return "{}"


def list_tags_for_resource(self: SSOAdminResponse) -> str:
    tags = self.ssoadmin_backend.list_tags_for_resource(
        instance_arn=self._get_param("InstanceArn"), resource_arn=self._get_param("ResourceArn")
    )
    chunk, token = page(tags, TAGS_PAGE_SIZE, self._get_param("NextToken"))
    body: dict[str, Any] = {"Tags": chunk}
    if token:
        body["NextToken"] = token
    return json.dumps(body)


def provision_permission_set(self: SSOAdminResponse) -> str:
    status = self.ssoadmin_backend.provision_permission_set(
        target_type=self._get_param("TargetType"), target_id=self._get_param("TargetId"), **_ps_args(self)
    )
    return json.dumps({"PermissionSetProvisioningStatus": status})


def describe_permission_set_provisioning_status(self: SSOAdminResponse) -> str:
    status = self.ssoadmin_backend.describe_permission_set_provisioning_status(
        instance_arn=self._get_param("InstanceArn"),
        provision_permission_set_request_id=self._get_param("ProvisionPermissionSetRequestId"),
    )
    return json.dumps({"PermissionSetProvisioningStatus": status})


def list_accounts_for_provisioned_permission_set(self: SSOAdminResponse) -> str:
    accounts = self.ssoadmin_backend.list_accounts_for_provisioned_permission_set(
        provisioning_status=self._get_param("ProvisioningStatus"), **_ps_args(self)
    )
    return _paged(self, "AccountIds", accounts)


def list_permission_sets_provisioned_to_account(self: SSOAdminResponse) -> str:
    arns = self.ssoadmin_backend.list_permission_sets_provisioned_to_account(
        instance_arn=self._get_param("InstanceArn"),
        account_id=self._get_param("AccountId"),
        provisioning_status=self._get_param("ProvisioningStatus"),
    )
    return _paged(self, "PermissionSets", arns)


def _list_statuses(self: SSOAdminResponse, kind: str) -> list[dict[str, Any]]:
    return self.ssoadmin_backend.list_async_statuses(
        kind=kind,
        instance_arn=self._get_param("InstanceArn"),
        status=(self._get_param("Filter") or {}).get("Status"),
    )


def list_account_assignment_creation_status(self: SSOAdminResponse) -> str:
    return _paged(self, "AccountAssignmentsCreationStatus", _list_statuses(self, "create"))


def list_account_assignment_deletion_status(self: SSOAdminResponse) -> str:
    return _paged(self, "AccountAssignmentsDeletionStatus", _list_statuses(self, "delete"))


def list_permission_set_provisioning_status(self: SSOAdminResponse) -> str:
    return _paged(self, "PermissionSetsProvisioningStatus", _list_statuses(self, "provision"))


_RESPONSES = (
    create_account_assignment,
    delete_account_assignment,
    describe_account_assignment_creation_status,
    describe_account_assignment_deletion_status,
    list_account_assignments,
    list_account_assignments_for_principal,
    create_permission_set,
    update_permission_set,
    put_permissions_boundary_to_permission_set,
    get_permissions_boundary_for_permission_set,
    delete_permissions_boundary_from_permission_set,
    tag_resource,
    untag_resource,
    list_tags_for_resource,
    provision_permission_set,
    describe_permission_set_provisioning_status,
    list_accounts_for_provisioned_permission_set,
    list_permission_sets_provisioned_to_account,
    list_account_assignment_creation_status,
    list_account_assignment_deletion_status,
    list_permission_set_provisioning_status,
)


def install_responses() -> None:
    """Put the wire handlers on SSOAdminResponse (idempotent)."""
    for func in _RESPONSES:
        install(SSOAdminResponse, func.__name__, func)
