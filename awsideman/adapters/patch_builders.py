"""Request bodies built from the planner's diffs: pure functions, no calls.

The planner says what changed in the service's own words (``{attribute: {"before", "after"}}``,
`core/attributes.py`); the writes need it in the shape each API takes: SCIM attribute-path
operations for UpdateUser/UpdateGroup, UpdatePermissionSet fields, tag lists, and the
added/removed halves of set-like changes. Kept apart from the calls so that each rule (what
can be cleared, which path an attribute has) can be read and tested without a service.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from awsideman.core.exceptions import UnsupportedChangeError

Record = dict[str, Any]
Diff = dict[str, dict[str, Any]]

# UpdateUser's AttributePath for each attribute ListUsers returns: SCIM names, lower camel case.
USER_PATHS = {
    "DisplayName": "displayName", "NickName": "nickName", "ProfileUrl": "profileUrl",
    "UserType": "userType", "Title": "title", "PreferredLanguage": "preferredLanguage",
    "Locale": "locale", "Timezone": "timezone", "Website": "website", "Birthdate": "birthdate",
    # Multi-valued attributes only take a full replacement ("emails[0].value" is refused).
    "Emails": "emails", "Addresses": "addresses", "PhoneNumbers": "phoneNumbers",
    "Photos": "photos", "Roles": "roles",
}
NAME_PATHS = {
    "GivenName": "name.givenName", "FamilyName": "name.familyName", "MiddleName": "name.middleName",
    "Formatted": "name.formatted", "HonorificPrefix": "name.honorificPrefix",
    "HonorificSuffix": "name.honorificSuffix",
}
GROUP_PATHS = {"description": "description", "display_name": "displayName"}
MAX_OPERATIONS = 100  # UpdateUser / UpdateGroup take at most 100 operations per call

# UpdatePermissionSet fields; none of them can be cleared (the API only sets non-empty values).
PERMISSION_SET_FIELDS = {"description": "Description", "session_duration": "SessionDuration",
                         "relay_state": "RelayState"}
TAGS_PER_CALL = 50  # TagResource / UntagResource limit per request


# -- identity store: SCIM operations ----------------------------------------------------------


def _scim(value: Any) -> Any:
    """Items of multi-valued attributes as UpdateUser takes them: SCIM keys (streetAddress, primary)."""
    if isinstance(value, list):
        return [_scim(item) for item in value]
    if isinstance(value, dict):
        return {key[:1].lower() + key[1:]: item for key, item in value.items()}
    return value


def _operation(path: str, value: Any) -> dict[str, Any]:
    # The service stores no empty values; removing is AttributePath without AttributeValue.
    if value is None or value == "" or value == [] or value == {}:
        return {"AttributePath": path}
    return {"AttributePath": path, "AttributeValue": value}


def user_operations(diff: Diff) -> list[dict[str, Any]]:
    """UpdateUser operations for a user diff ``{Attribute: {"before", "after"}}``.

    Name parts are set one by one (``name.givenName``), so only the changed parts are sent;
    Emails/Addresses/PhoneNumbers/Photos/Roles are replaced whole.
    """
    operations = []
    for attribute in sorted(diff):
        before, after = diff[attribute].get("before"), diff[attribute].get("after")
        if attribute == "Name":
            operations += _name_operations(before or {}, after or {})
        elif attribute in USER_PATHS:
            operations.append(_operation(USER_PATHS[attribute], _scim(after)))
        else:
            raise UnsupportedChangeError(
                f"No UpdateUser attribute path is known for user attribute {attribute!r}",
                remediation=["Change it in the IAM Identity Center console, or restore without users."])
    return operations


def _name_operations(before: dict[str, Any], after: dict[str, Any]) -> list[dict[str, Any]]:
    operations = []
    for part in sorted(set(before) | set(after)):
        if before.get(part) == after.get(part):
            continue
        if part not in NAME_PATHS:
            raise UnsupportedChangeError(f"No UpdateUser attribute path is known for Name.{part}")
        operations.append(_operation(NAME_PATHS[part], after.get(part)))
    return operations


def group_operations(diff: Diff) -> list[dict[str, Any]]:
    """UpdateGroup operations for a group diff (``description``; ``display_name`` if renamed)."""
    unknown = sorted(set(diff) - set(GROUP_PATHS))
    if unknown:
        raise UnsupportedChangeError(f"No UpdateGroup attribute path is known for {', '.join(unknown)}")
    return [_operation(GROUP_PATHS[name], diff[name].get("after")) for name in sorted(diff)]


def chunks(items: list[Any], size: int) -> Iterable[list[Any]]:
    """``items`` in requests of at most ``size`` (the per-call limits above)."""
    for start in range(0, len(items), size):
        yield items[start:start + size]


# -- permission sets --------------------------------------------------------------------------


def permission_set_create_fields(record: Record) -> dict[str, Any]:
    """CreatePermissionSet's optional parameters for a record (only the non-empty ones)."""
    params: dict[str, Any] = {PERMISSION_SET_FIELDS[k]: record[k] for k in PERMISSION_SET_FIELDS if record.get(k)}
    if record.get("tags"):
        params["Tags"] = tags(record["tags"])
    return params


def permission_set_update_fields(diff: Diff) -> dict[str, Any]:
    """UpdatePermissionSet's parameters for a diff; refuses a diff that clears one of them."""
    fields = {}
    for name, param in PERMISSION_SET_FIELDS.items():
        if name not in diff:
            continue
        after = diff[name].get("after")
        if after is None or after == "":
            raise UnsupportedChangeError(
                f"UpdatePermissionSet cannot clear {param} (it was {diff[name].get('before')!r})",
                remediation=["Clear it in the IAM Identity Center console, or accept the difference."])
        fields[param] = after
    return fields


def added_removed(change: dict[str, Any]) -> tuple[list[Any], list[Any]]:
    """``added``/``removed`` of a set-like diff entry, computed from before/after when absent."""
    before, after = change.get("before") or [], change.get("after") or []
    added = change["added"] if "added" in change else [i for i in after if i not in before]
    removed = change["removed"] if "removed" in change else [i for i in before if i not in after]
    return list(added), list(removed)


def tag_changes(change: dict[str, Any]) -> tuple[dict[str, str], list[str]]:
    """(tags to set, keys to remove) of a tags diff entry, computed from before/after when absent."""
    before, after = change.get("before") or {}, change.get("after") or {}
    added = change["added"] if "added" in change else {k: v for k, v in after.items() if before.get(k) != v}
    removed = change["removed"] if "removed" in change else sorted(k for k in before if k not in after)
    return dict(added), list(removed)


def tags(mapping: dict[str, str]) -> list[dict[str, str]]:
    """A tag map as TagResource/CreatePermissionSet take it, in key order."""
    return [{"Key": key, "Value": value} for key, value in sorted(mapping.items())]
