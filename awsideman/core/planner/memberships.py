"""Group memberships by (group display name, user name): created or deleted, never updated."""

from __future__ import annotations

from awsideman.core.attributes import membership_record
from awsideman.core.model import Membership, Snapshot
from awsideman.core.planner.draft import Draft, Key, Kind, compare

RESOURCE = "membership"


def membership_kind(live: Snapshot) -> Kind:
    """The membership kind, hinting the target's group and user ids where they exist."""
    group_ids = {g.display_name: g.group_id for g in live.groups}
    user_ids = {u.user_name: u.user_id for u in live.users}

    def hints(key: Key, _live: Membership | None) -> dict[str, str]:
        group, user = key
        found = {"group_id": group_ids.get(group), "user_id": user_ids.get(user)}
        return {name: value for name, value in found.items() if value}

    return Kind(RESOURCE, membership_record, hints)


def plan_memberships(draft: Draft, desired: Snapshot, live: Snapshot) -> None:
    """Memberships the backup has and the target lacks, and (with prune) the reverse."""
    compare(draft, membership_kind(live), desired.memberships, live.memberships)
