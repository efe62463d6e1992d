"""Indexes that make identitystore reads cost what one page costs, not what the store holds.

moto answers every ListUsers page by copying every user (``_asdict``) and finding the page
token by scanning them, every ListGroupMemberships by scanning every membership, and
GetUserId / GetGroupMembershipId by scanning: on a 50,000-user, 200,000-membership store
(``huge``) a backup's 5,500 listings took hours. Here the same answers, with the same opaque
page tokens (moto's ``Paginator``), come from per-store indexes:

- memberships by group and by member (``by_group`` / ``by_member``), kept by the gap fills
  that create and delete memberships (``identitystore_models``) and by ``seed_backends``;
  a read drops ids no longer in the store, so a missed delete can only cost a lookup;
- the page start by position in the store's own (insertion-ordered) dict;
- user ids by user name, checked against the user on every hit (renames are rare).

Each index lives in the store's ``__dict__``, like the other gap fills' state, so moto's reset
forgets it, and it is built on first use from what the store holds.
"""

from __future__ import annotations

from typing import Any

from moto.utilities.paginator import InvalidToken, Paginator

_BY_GROUP, _BY_MEMBER, _USER_NAMES = "_awsideman_by_group", "_awsideman_by_member", "_awsideman_user_names"


def by_group(store: Any) -> dict[str, dict[str, None]]:
    """group id -> {membership id: None}, in creation order."""
    return _membership_index(store, _BY_GROUP, lambda m: m["GroupId"])


def by_member(store: Any) -> dict[str, dict[str, None]]:
    """user id -> {membership id: None}, in creation order."""
    return _membership_index(store, _BY_MEMBER, lambda m: m["MemberId"]["UserId"])


def _membership_index(store: Any, name: str, owner: Any) -> dict[str, dict[str, None]]:
    index = store.__dict__.get(name)
    if index is None:
        index = store.__dict__[name] = {}
        for membership_id, membership in store.group_memberships.items():
            index.setdefault(owner(membership), {})[membership_id] = None
    return index


def index_membership(store: Any, membership: dict[str, Any]) -> None:
    """A membership was created: list it under its group and its member."""
    membership_id = membership["MembershipId"]
    by_group(store).setdefault(membership["GroupId"], {})[membership_id] = None
    by_member(store).setdefault(membership["MemberId"]["UserId"], {})[membership_id] = None


def unindex_membership(store: Any, membership: dict[str, Any]) -> None:
    """A membership was deleted."""
    membership_id = membership["MembershipId"]
    by_group(store).get(membership["GroupId"], {}).pop(membership_id, None)
    by_member(store).get(membership["MemberId"]["UserId"], {}).pop(membership_id, None)


def memberships_of(store: Any, index: dict[str, dict[str, None]], owner_id: str) -> list[dict[str, Any]]:
    """The memberships an index lists under `owner_id` that the store still holds."""
    held = store.group_memberships
    return [held[mid] for mid in index.get(owner_id, {}) if mid in held]


def user_id_by_name(store: Any, user_name: str) -> str | None:
    """The id of the user called `user_name` (exact). The index is built on first use and kept
    by `note_user` / `forget_user_names`; a hit is still checked against the user."""
    names: dict[str, str] | None = store.__dict__.get(_USER_NAMES)
    if names is None:
        names = store.__dict__[_USER_NAMES] = {u.UserName: uid for uid, u in store.users.items()}
    found = names.get(user_name)
    user = store.users.get(found) if found is not None else None
    return found if user is not None and user.UserName == user_name else None


def note_user(store: Any, user_name: str, user_id: str) -> None:
    """A user was created (the index, if built, learns it)."""
    names = store.__dict__.get(_USER_NAMES)
    if names is not None:
        names[user_name] = user_id


def forget_user_names(store: Any) -> None:
    """Users were renamed or written around the gap fills: rebuild the index on next use."""
    store.__dict__.pop(_USER_NAMES, None)


def page_of(ids: list[str], unique_attribute: str, max_results: Any, next_token: Any,
            params: dict[str, Any]) -> tuple[list[str], str | None]:
    """One page of `ids` (a store's keys, in order) and the next token, as moto's paginator
    makes them (the token names the next page's first item and checks the other parameters),
    without scanning the items."""
    paginator = Paginator(max_results=max_results, max_results_default=100, starting_token=next_token,
                          unique_attribute=unique_attribute, param_values_to_check=params)
    start = 0
    if next_token:
        parsed = paginator._parsed_token  # noqa: SLF001 (moto's own token format, reused)
        wanted = (parsed or {}).get("uniqueAttributes") or [None]
        try:
            start = ids.index(wanted[0])
        except ValueError:
            raise InvalidToken("Resource not found!") from None
    end = min(start + paginator._max_results, len(ids))  # noqa: SLF001
    page = ids[start:end]
    token = paginator._build_next_token({unique_attribute: ids[end]}) if page and end < len(ids) else None  # noqa: SLF001
    return page, token


def _user_dict(user: Any) -> dict[str, Any]:
    record = user._asdict()
    if record.get("Name"):
        record["Name"] = user.Name._asdict()
    return record


def make_listings(store_of: Any, originals: dict[str, Any]) -> dict[str, Any]:
    """Backend methods (before the propagation-lag wrapper) for the four identitystore listings.

    `store_of(backend, identity_store_id)` gives the store; a filtered ListUsers/ListGroups
    (one name, one page) keeps moto's own answer from `originals`."""

    def list_users(self: Any, identity_store_id: str, filters: Any = None, max_results: Any = None,
                   next_token: Any = None) -> tuple[list[dict[str, Any]], str | None]:
        if filters:
            return originals["list_users"](self, identity_store_id=identity_store_id, filters=filters,
                                           max_results=max_results, next_token=next_token)
        users = store_of(self, identity_store_id).users
        page, token = page_of(list(users), "UserId", max_results, next_token,
                              {"identity_store_id": identity_store_id, "filters": filters})
        return [_user_dict(users[uid]) for uid in page], token

    def list_groups(self: Any, identity_store_id: str, filters: Any = None, max_results: Any = None,
                    next_token: Any = None) -> tuple[list[Any], str | None]:
        if filters:
            return originals["list_groups"](self, identity_store_id=identity_store_id, filters=filters,
                                            max_results=max_results, next_token=next_token)
        groups = store_of(self, identity_store_id).groups
        page, token = page_of(list(groups), "GroupId", max_results, next_token,
                              {"identity_store_id": identity_store_id, "filters": filters})
        return [groups[gid] for gid in page], token

    def list_group_memberships(self: Any, identity_store_id: str, group_id: str, max_results: Any = None,
                               next_token: Any = None) -> tuple[list[Any], str | None]:
        store = store_of(self, identity_store_id)
        found = {m["MembershipId"]: m for m in memberships_of(store, by_group(store), group_id)}
        page, token = page_of(list(found), "MembershipId", max_results, next_token,
                              {"identity_store_id": identity_store_id, "group_id": group_id})
        return [found[mid] for mid in page], token

    def list_group_memberships_for_member(self: Any, identity_store_id: str, member_id: dict[str, str],
                                          max_results: Any = None,
                                          next_token: Any = None) -> tuple[list[Any], str | None]:
        store = store_of(self, identity_store_id)
        user_id = (member_id or {}).get("UserId", "")
        found = {m["MembershipId"]: m for m in memberships_of(store, by_member(store), user_id)}
        page, token = page_of(list(found), "MembershipId", max_results, next_token,
                              {"identity_store_id": identity_store_id, "member_id": member_id})
        return [found[mid] for mid in page], token

    return {f.__name__: f for f in (list_users, list_groups, list_group_memberships,
                                    list_group_memberships_for_member)}
