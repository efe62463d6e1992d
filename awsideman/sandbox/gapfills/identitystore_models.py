"""Backend gap fills for moto's identitystore: updates, uniqueness, cascades, every attribute.

Every public function here becomes a method of ``IdentityStoreBackend``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, NamedTuple

from moto.identitystore.exceptions import (
    ConflictException,
    ResourceNotFoundException,
    ValidationException,
)
from moto.identitystore.models import IdentityStoreBackend, Name

from ._common import LOCK, install, install_all
from .async_policy import current_policy
from .identitystore_indexes import (
    by_group,
    by_member,
    forget_user_names,
    index_membership,
    make_listings,
    memberships_of,
    note_user,
    unindex_membership,
    user_id_by_name,
)
from .propagation import hidden, note_created, visible
from .ssoadmin_async import drop_principal

# Attributes newer botocore sends that moto's User tuple has no field for.
EXTRA_USER_ATTRIBUTES = ("Website", "Birthdate", "Photos", "Roles")
SINGLE_ITEM_LISTS = ("Emails", "Addresses", "PhoneNumbers")  # "Fixed number of 1 item" in the API

_SCALARS = {
    a.lower(): a
    for a in (
        "UserName",
        "DisplayName",
        "NickName",
        "ProfileUrl",
        "UserType",
        "Title",
        "PreferredLanguage",
        "Locale",
        "Timezone",
        "Website",
        "Birthdate",
    )
}
_LISTS = {a.lower(): a for a in ("Emails", "Addresses", "PhoneNumbers", "Photos", "Roles")}
_NAME_PARTS = {f.lower(): f for f in Name._fields}
_SUB_KEYS = {
    k.lower(): k
    for k in (
        "Value",
        "Type",
        "Primary",
        "Display",
        "StreetAddress",
        "Locality",
        "Region",
        "PostalCode",
        "Country",
        "Formatted",
    )
}
_REQUIRED = {"username", "displayname", "name.givenname", "name.familyname"}
# The service's maximum lengths (characters) of the attributes a backup is likeliest to carry long.
MAX_LENGTHS = {"UserName": 128, "DisplayName": 1024, "NickName": 1024, "Title": 1024, "Description": 1024}


def _store(self: IdentityStoreBackend, identity_store_id: str) -> Any:
    return self._IdentityStoreBackend__get_identity_store(identity_store_id)


def _extras(store: Any) -> dict[str, dict[str, Any]]:
    """user id -> attributes moto's User tuple cannot hold."""
    if "_awsideman_extras" not in store.__dict__:
        store.__dict__["_awsideman_extras"] = {}
    return store.__dict__["_awsideman_extras"]


def user_extras(self: IdentityStoreBackend, identity_store_id: str, user_id: str) -> dict[str, Any]:
    """The extra attributes stored for a user (empty if none)."""
    return dict(_extras(_store(self, identity_store_id)).get(user_id, {}))


def _check_single_items(values: dict[str, Any]) -> None:
    for attribute in SINGLE_ITEM_LISTS:
        items = values.get(attribute)
        if items is not None and len(items) > 1:
            raise ValidationException(message=f"{attribute}: only 1 item is supported")


def _wrap_create_user(original: Callable[..., Any]) -> Callable[..., Any]:
    def create_user(
        self: IdentityStoreBackend, identity_store_id: str, *args: Any, extras: Any = None
    ) -> Any:
        """Create a user; at most one email/address/phone; keep attributes moto ignores."""
        # args follow moto's order: user_name, name, display_name, nick_name, profile_url,
        # emails, addresses, phone_numbers, ...
        _check_single_items({"Emails": args[5], "Addresses": args[6], "PhoneNumbers": args[7]})
        _check_lengths({"UserName": args[0], "DisplayName": args[2], "NickName": args[3], "Title": args[9]})
        with LOCK:
            store = _store(self, identity_store_id)
            if _names_ignore_case() and _taken(store.users, "UserName", args[0], None):
                raise ConflictException(message="Duplicate UserName", reason="UNIQUENESS_CONSTRAINT_VIOLATION")
            user_id, store_id = original(self, identity_store_id, *args)
            note_user(store, args[0], user_id)
            kept = {k: v for k, v in (extras or {}).items() if v is not None}
            if kept:
                _extras(store)[user_id] = kept
            note_created(store, user_id)
            return user_id, store_id

    return create_user


def _check_lengths(values: dict[str, Any]) -> None:
    for attribute, value in values.items():
        limit = MAX_LENGTHS[attribute]
        if isinstance(value, str) and len(value) > limit:
            raise ValidationException(
                message=f"{attribute}: Member must have length less than or equal to {limit}")


def _names_ignore_case() -> bool:
    """User names are unique ignoring case in the real service (quirk ``case_insensitive_user_names``)."""
    return current_policy().quirks().case_insensitive_user_names


def _taken(items: dict[str, Any], field: str, value: Any, item_id: str | None) -> bool:
    """Whether another record than `item_id` holds `value` in `field` (user names: ignoring case
    when the quirk is on)."""
    fold = field == "UserName" and _names_ignore_case() and isinstance(value, str)
    wanted = value.casefold() if fold else value
    for other_id, other in items.items():
        held = getattr(other, field)
        if other_id != item_id and (held.casefold() if fold and isinstance(held, str) else held) == wanted:
            return True
    return False


def _normalise(value: Any) -> Any:
    """Accept SCIM-style lower-case keys in list items and store the API's spelling."""
    if isinstance(value, list):
        return [_normalise(v) for v in value]
    if isinstance(value, dict):
        return {_SUB_KEYS.get(k.lower(), k): v for k, v in value.items()}
    return value


def _apply_user_operation(extra: dict[str, Any], user: Any, path: str, value: Any) -> Any:
    """Return the user tuple with one AttributePath set (or removed when value is None); an
    attribute the tuple cannot hold is set in (or removed from) `extra`."""
    key = path.lower()
    if value is None and key in _REQUIRED:
        raise ValidationException(message=f"{path}: The attribute {path} is required")
    if key == "name":
        return user._replace(Name=Name.from_dict(_normalise_name(value)) if value else None)
    if key.startswith("name.") and key[5:] in _NAME_PARTS:
        parts = user.Name._asdict() if user.Name else dict.fromkeys(Name._fields)
        parts[_NAME_PARTS[key[5:]]] = value
        return user._replace(Name=Name(**parts))
    attribute = _SCALARS.get(key) or _LISTS.get(key)
    if attribute is None:
        raise ValidationException(message=f"Invalid attribute path: {path}")
    value = _normalise(value)
    if attribute in SINGLE_ITEM_LISTS:
        _check_single_items({attribute: value})
    if attribute in EXTRA_USER_ATTRIBUTES:
        if value is None:
            extra.pop(attribute, None)
        else:
            extra[attribute] = value
        return user
    return user._replace(**{attribute: value})


def _normalise_name(value: dict[str, Any]) -> dict[str, Any]:
    full = {f: None for f in Name._fields}
    full.update({_NAME_PARTS.get(k.lower(), k): v for k, v in value.items()})
    return full


class _Kind(NamedTuple):
    """What UpdateUser and UpdateGroup need to know of the records they change."""

    resource_type: str  # as a ResourceNotFoundException names it
    unique: str  # the field no two records of a store share
    duplicate: str  # the ConflictException's message when an update would make two share it


_USER = _Kind("USER", "UserName", "Duplicate UserName")
_GROUP = _Kind("GROUP", "DisplayName", "Duplicate GroupDisplayName")


def _not_found(resource_type: str) -> ResourceNotFoundException:
    return ResourceNotFoundException(message=f"{resource_type} not found.", resource_type=resource_type)


def _update(
    items: dict[str, Any], item_id: str, operations: list[dict[str, Any]] | None,
    apply: Callable[[Any, str, Any], Any], kind: _Kind,
) -> None:
    """Apply every {AttributePath, AttributeValue} to one record, then store it; all or nothing."""
    if item_id not in items:
        raise _not_found(kind.resource_type)
    item = items[item_id]
    for operation in operations or []:
        item = apply(item, operation["AttributePath"], operation.get("AttributeValue"))
    _check_lengths({a: getattr(item, a) for a in MAX_LENGTHS if hasattr(item, a)})
    if _taken(items, kind.unique, getattr(item, kind.unique), item_id):
        raise ConflictException(message=kind.duplicate, reason="UNIQUENESS_CONSTRAINT_VIOLATION")
    items[item_id] = item


def update_user(
    self: IdentityStoreBackend, identity_store_id: str, user_id: str, operations: list[dict[str, Any]]
) -> None:
    """UpdateUser: apply every {AttributePath, AttributeValue}; all or nothing."""
    with LOCK:
        store = _store(self, identity_store_id)
        extra = dict(_extras(store).get(user_id, {}))
        before = store.users.get(user_id)
        _update(store.users, user_id, operations, functools.partial(_apply_user_operation, extra), _USER)
        _extras(store)[user_id] = extra
        if before is not None and before.UserName != store.users[user_id].UserName:
            forget_user_names(store)


def _apply_group_operation(group: Any, path: str, value: Any) -> Any:
    """Return the group tuple with one AttributePath set: displayName (required) or description."""
    if path.lower() == "displayname":
        if not value:
            raise ValidationException(message="displayName: The attribute displayName is required")
        return group._replace(DisplayName=value)
    if path.lower() == "description":
        return group._replace(Description=value)
    raise ValidationException(message=f"Invalid attribute path: {path}")


def update_group(
    self: IdentityStoreBackend, identity_store_id: str, group_id: str, operations: list[dict[str, Any]]
) -> None:
    """UpdateGroup: displayName (unique) and description; all or nothing."""
    with LOCK:
        _update(_store(self, identity_store_id).groups, group_id, operations, _apply_group_operation, _GROUP)


def _pairs(store: Any) -> dict[tuple[str, str], str]:
    """(group id, user id) -> membership id; built lazily so pre-existing data is indexed."""
    if "_awsideman_pairs" not in store.__dict__:
        store.__dict__["_awsideman_pairs"] = {
            (m["GroupId"], m["MemberId"]["UserId"]): mid for mid, m in store.group_memberships.items()
        }
    return store.__dict__["_awsideman_pairs"]


def _wrap_create_group_membership(original: Callable[..., Any]) -> Callable[..., Any]:
    def create_group_membership(
        self: IdentityStoreBackend, identity_store_id: str, group_id: str, member_id: dict[str, str]
    ) -> Any:
        """A user is a member of a group once: a repeat is a uniqueness ConflictException."""
        with LOCK:
            store = _store(self, identity_store_id)
            pair = (group_id, (member_id or {}).get("UserId", ""))
            existing = _pairs(store).get(pair)
            if existing is not None and existing in store.group_memberships:
                raise ConflictException(
                    message="Member is already in the group", reason="UNIQUENESS_CONSTRAINT_VIOLATION"
                )
            membership_id, store_id = original(self, identity_store_id, group_id, member_id)
            _pairs(store)[pair] = membership_id
            index_membership(store, store.group_memberships[membership_id])
            note_created(store, membership_id)
            return membership_id, store_id

    return create_group_membership


def delete_group_membership(self: IdentityStoreBackend, identity_store_id: str, membership_id: str) -> None:
    """Unknown membership -> ResourceNotFoundException (moto ignored it)."""
    with LOCK:
        store = _store(self, identity_store_id)
        membership = store.group_memberships.pop(membership_id, None)
        if membership is None:
            raise _not_found("GROUP_MEMBERSHIP")
        _pairs(store).pop((membership["GroupId"], membership["MemberId"]["UserId"]), None)
        unindex_membership(store, membership)


def _drop_memberships(store: Any, field: str, principal_id: str) -> None:
    index = by_group(store) if field == "GroupId" else by_member(store)
    for membership in memberships_of(store, index, principal_id):
        del store.group_memberships[membership["MembershipId"]]
        _pairs(store).pop((membership["GroupId"], membership["MemberId"]["UserId"]), None)
        unindex_membership(store, membership)


def _orphaning() -> bool:
    """The real service leaves a deleted principal's assignments in place (quirk ``orphan_assignments``)."""
    return current_policy().quirks().orphan_assignments


def delete_user(self: IdentityStoreBackend, identity_store_id: str, user_id: str) -> None:
    """Delete a user, its memberships and its account assignments (unless they are to be left
    orphaned, as AWS does); unknown id -> ResourceNotFound."""
    with LOCK:
        store = _store(self, identity_store_id)
        if store.users.pop(user_id, None) is None:
            raise _not_found("USER")
        _extras(store).pop(user_id, None)
        _drop_memberships(store, "UserId", user_id)
        drop_principal(self.account_id, self.region_name, identity_store_id, "USER", user_id, keep=_orphaning())


def delete_group(self: IdentityStoreBackend, identity_store_id: str, group_id: str) -> None:
    """Delete a group, its memberships and its account assignments (unless they are to be left
    orphaned, as AWS does); unknown id -> ResourceNotFound."""
    with LOCK:
        store = _store(self, identity_store_id)
        if store.groups.pop(group_id, None) is None:
            raise _not_found("GROUP")
        _drop_memberships(store, "GroupId", group_id)
        drop_principal(self.account_id, self.region_name, identity_store_id, "GROUP", group_id, keep=_orphaning())


def _wrap_create_group(original: Callable[..., Any]) -> Callable[..., Any]:
    def create_group(self: IdentityStoreBackend, identity_store_id: str, display_name: str,
                     description: str | None) -> Any:
        """Create a group (display name unique, lengths checked) and note its birth."""
        _check_lengths({"DisplayName": display_name, "Description": description})
        with LOCK:
            group_id, store_id = original(self, identity_store_id=identity_store_id, display_name=display_name,
                                          description=description)
            note_created(_store(self, identity_store_id), group_id)
            return group_id, store_id

    return create_group


# -- reads under propagation lag (``propagation.py``) -------------------------------------------

def _lagging_list(original: Callable[..., Any], key: Callable[[Any], str]) -> Callable[..., Any]:
    def listing(self: IdentityStoreBackend, **kwargs: Any) -> Any:
        items, next_token = original(self, **kwargs)
        return visible(_store(self, kwargs["identity_store_id"]), items, key), next_token

    listing.__name__ = original.__name__
    listing.__doc__ = f"{original.__name__}, without what was created less than the propagation lag ago."
    return listing


def _lagging_get(original: Callable[..., Any], resource_type: str) -> Callable[..., Any]:
    def get(self: IdentityStoreBackend, **kwargs: Any) -> Any:
        found, store_id = original(self, **kwargs)
        if hidden(_store(self, kwargs["identity_store_id"]), found):
            raise _not_found(resource_type)
        return found, store_id

    get.__name__ = original.__name__
    get.__doc__ = f"{original.__name__}; not found while the record is younger than the propagation lag."
    return get


def get_group_membership_id(self: IdentityStoreBackend, identity_store_id: str, group_id: str,
                            member_id: dict[str, str]) -> Any:
    """GetGroupMembershipId from the (group, user) index (moto scanned every membership)."""
    with LOCK:
        store = _store(self, identity_store_id)
        membership_id = _pairs(store).get((group_id, (member_id or {}).get("UserId", "")))
        if membership_id is None or membership_id not in store.group_memberships:
            raise _not_found("GROUP_MEMBERSHIP")
        return membership_id, identity_store_id


def _indexed_get_user_id(original: Callable[..., Any]) -> Callable[..., Any]:
    def get_user_id(self: IdentityStoreBackend, identity_store_id: str, alternate_identifier: dict[str, Any]) -> Any:
        """GetUserId by user name from an index (moto scanned every user); emails as moto does."""
        unique = (alternate_identifier or {}).get("UniqueAttribute") or {}
        value = unique.get("AttributeValue")
        if str(unique.get("AttributePath", "")).lower() == "username" and isinstance(value, str) and value:
            with LOCK:
                user_id = user_id_by_name(_store(self, identity_store_id), value)
            if user_id is None:
                raise _not_found("USER")
            return user_id, identity_store_id
        return original(self, identity_store_id=identity_store_id, alternate_identifier=alternate_identifier)

    return get_user_id


def _wrap_get_user_id(original: Callable[..., Any]) -> Callable[..., Any]:
    def get_user_id(self: IdentityStoreBackend, identity_store_id: str, alternate_identifier: dict[str, Any]) -> Any:
        """GetUserId; by user name ignoring case under ``case_insensitive_user_names``."""
        unique = (alternate_identifier or {}).get("UniqueAttribute") or {}
        value = unique.get("AttributeValue")
        if (_names_ignore_case() and isinstance(value, str) and
                str(unique.get("AttributePath", "")).lower() == "username"):
            with LOCK:
                for user in _store(self, identity_store_id).users.values():
                    if user.UserName.casefold() == value.casefold():
                        value = user.UserName
                        break
            alternate_identifier = {"UniqueAttribute": {**unique, "AttributeValue": value}}
        return original(self, identity_store_id=identity_store_id, alternate_identifier=alternate_identifier)

    return get_user_id


def install_models() -> None:
    """Put the gap fills on IdentityStoreBackend (idempotent)."""
    install_all(IdentityStoreBackend,
                (user_extras, update_user, update_group, delete_group_membership, delete_user, delete_group))
    install(IdentityStoreBackend, "create_user", _wrap_create_user(IdentityStoreBackend.create_user))
    install(
        IdentityStoreBackend,
        "create_group_membership",
        _wrap_create_group_membership(IdentityStoreBackend.create_group_membership),
    )
    install(IdentityStoreBackend, "create_group", _wrap_create_group(IdentityStoreBackend.create_group))
    listings = {"list_users": lambda u: u["UserId"], "list_groups": lambda g: g.GroupId,
                "list_group_memberships": lambda m: m["MembershipId"],
                "list_group_memberships_for_member": lambda m: m["MembershipId"]}
    indexed = make_listings(_store, {name: getattr(IdentityStoreBackend, name) for name in listings})
    for name, key in listings.items():
        install(IdentityStoreBackend, name, _lagging_list(indexed[name], key))
    install(IdentityStoreBackend, "get_group_id", _lagging_get(IdentityStoreBackend.get_group_id, "GROUP"))
    install(IdentityStoreBackend, "get_group_membership_id",
            _lagging_get(get_group_membership_id, "GROUP_MEMBERSHIP"))
    install(IdentityStoreBackend, "get_user_id",
            _wrap_get_user_id(_lagging_get(_indexed_get_user_id(IdentityStoreBackend.get_user_id), "USER")))
