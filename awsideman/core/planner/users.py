"""Users: every writable attribute the backup holds (see `attributes.USER_READ_ONLY`)."""

from __future__ import annotations

from awsideman.core.attributes import user_record
from awsideman.core.model import Snapshot, User
from awsideman.core.planner.draft import Draft, Key, Kind, compare

RESOURCE = "user"


def _hints(_key: Key, live: User | None) -> dict[str, str]:
    return {"user_id": live.user_id} if live is not None else {}


def _delete_notes(live: User) -> tuple[str, ...]:
    # The identity provider links its users by ExternalIds, which only it can set: a user
    # re-created by a rollback comes back unlinked (and with a new id).
    if live.attributes.get("ExternalIds"):
        return ("re-creating this user cannot restore its ExternalIds (set by the identity provider)",)
    return ()


def plan_users(draft: Draft, desired: Snapshot, live: Snapshot) -> None:
    """Creates, attribute updates and (with prune) deletes of users, by user name."""
    kind = Kind(RESOURCE, user_record, _hints, _delete_notes)
    compare(draft, kind, desired.users, live.users)
