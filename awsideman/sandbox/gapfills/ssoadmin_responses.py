"""Response (wire) gap fills for moto's sso-admin: new actions, async statuses, pagination.

Every function here becomes a method of ``moto.ssoadmin.responses.SSOAdminResponse``; moto
dispatches an action to the method named after it, in-process and in server mode alike.
"""

from __future__ import annotations

import json
from typing import Any

from moto.ssoadmin.responses import SSOAdminResponse

from ._common import empty_answer, install_all, page, request_args

# Real AWS pages tags without taking MaxResults; a small page makes clients prove they follow
# NextToken.
TAGS_PAGE_SIZE = 10

# The request parameters that name an assignment, and a permission set.
_ASSIGNMENT = ("InstanceArn", "TargetId", "TargetType", "PermissionSetArn", "PrincipalType", "PrincipalId")
_PERMISSION_SET = ("InstanceArn", "PermissionSetArn")


def create_account_assignment(self: SSOAdminResponse) -> str:
    status = self.ssoadmin_backend.create_account_assignment(**request_args(self, *_ASSIGNMENT))
    return json.dumps({"AccountAssignmentCreationStatus": status})


def delete_account_assignment(self: SSOAdminResponse) -> str:
    status = self.ssoadmin_backend.delete_account_assignment(**request_args(self, *_ASSIGNMENT))
    return json.dumps({"AccountAssignmentDeletionStatus": status})


def _status(self: SSOAdminResponse, kind: str, request_id_param: str) -> dict[str, Any]:
    """The status of the `kind` request whose id the parameter `request_id_param` carries."""
    return self.ssoadmin_backend.async_status(
        kind, self._get_param(request_id_param), self._get_param("InstanceArn"))


def describe_account_assignment_creation_status(self: SSOAdminResponse) -> str:
    status = _status(self, "create", "AccountAssignmentCreationRequestId")
    return json.dumps({"AccountAssignmentCreationStatus": status})


def describe_account_assignment_deletion_status(self: SSOAdminResponse) -> str:
    status = _status(self, "delete", "AccountAssignmentDeletionRequestId")
    return json.dumps({"AccountAssignmentDeletionStatus": status})


def _paged(self: SSOAdminResponse, key: str, items: list[Any], page_size: int | None = None) -> str:
    """One page of `items` under `key`: MaxResults long, or `page_size` for a call without it."""
    size = self._get_param("MaxResults") if page_size is None else page_size
    chunk, token = page(items, size, self._get_param("NextToken"))
    body: dict[str, Any] = {key: chunk}
    if token:
        body["NextToken"] = token
    return json.dumps(body)


def list_account_assignments(self: SSOAdminResponse) -> str:
    items = self.ssoadmin_backend.list_account_assignments(
        **request_args(self, "InstanceArn", "AccountId", "PermissionSetArn"))
    return _paged(self, "AccountAssignments", items)


def list_account_assignments_for_principal(self: SSOAdminResponse) -> str:
    items = self.ssoadmin_backend.list_account_assignments_for_principal(
        filter_=self._get_param("Filter", {}), **request_args(self, "InstanceArn", "PrincipalId", "PrincipalType"))
    return _paged(self, "AccountAssignments", items)


def create_permission_set(self: SSOAdminResponse) -> str:
    permission_set = self.ssoadmin_backend.create_permission_set(**request_args(
        self, "Name", "Description", "InstanceArn", "SessionDuration", "RelayState", "Tags"))
    return json.dumps({"PermissionSet": permission_set})


def update_permission_set(self: SSOAdminResponse) -> str:
    # No defaults: a field the caller did not send must stay as it is.
    return empty_answer(self, self.ssoadmin_backend.update_permission_set,
                        *_PERMISSION_SET, "Description", "SessionDuration", "RelayState")


def put_permissions_boundary_to_permission_set(self: SSOAdminResponse) -> str:
    return empty_answer(self, self.ssoadmin_backend.put_permissions_boundary_to_permission_set,
                        *_PERMISSION_SET, "PermissionsBoundary")


def get_permissions_boundary_for_permission_set(self: SSOAdminResponse) -> str:
    boundary = self.ssoadmin_backend.get_permissions_boundary_for_permission_set(
        **request_args(self, *_PERMISSION_SET))
    return json.dumps({"PermissionsBoundary": boundary})


def delete_permissions_boundary_from_permission_set(self: SSOAdminResponse) -> str:
    return empty_answer(self, self.ssoadmin_backend.delete_permissions_boundary_from_permission_set, *_PERMISSION_SET)


def tag_resource(self: SSOAdminResponse) -> str:
    return empty_answer(self, self.ssoadmin_backend.tag_resource, "InstanceArn", "ResourceArn", "Tags")


def untag_resource(self: SSOAdminResponse) -> str:
    return empty_answer(self, self.ssoadmin_backend.untag_resource, "InstanceArn", "ResourceArn", "TagKeys")


def list_tags_for_resource(self: SSOAdminResponse) -> str:
    tags = self.ssoadmin_backend.list_tags_for_resource(**request_args(self, "InstanceArn", "ResourceArn"))
    return _paged(self, "Tags", tags, page_size=TAGS_PAGE_SIZE)


def provision_permission_set(self: SSOAdminResponse) -> str:
    status = self.ssoadmin_backend.provision_permission_set(
        **request_args(self, *_PERMISSION_SET, "TargetType", "TargetId"))
    return json.dumps({"PermissionSetProvisioningStatus": status})


def describe_permission_set_provisioning_status(self: SSOAdminResponse) -> str:
    status = _status(self, "provision", "ProvisionPermissionSetRequestId")
    return json.dumps({"PermissionSetProvisioningStatus": status})


def list_accounts_for_provisioned_permission_set(self: SSOAdminResponse) -> str:
    accounts = self.ssoadmin_backend.list_accounts_for_provisioned_permission_set(
        **request_args(self, *_PERMISSION_SET, "ProvisioningStatus"))
    return _paged(self, "AccountIds", accounts)


def list_permission_sets_provisioned_to_account(self: SSOAdminResponse) -> str:
    arns = self.ssoadmin_backend.list_permission_sets_provisioned_to_account(
        **request_args(self, "InstanceArn", "AccountId", "ProvisioningStatus"))
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
    install_all(SSOAdminResponse, _RESPONSES)
