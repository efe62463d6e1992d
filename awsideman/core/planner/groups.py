"""Groups: the display name is the key, the description the one writable attribute.

ExternalIds of a group come from the identity provider (CreateGroup cannot set them), so they
are not compared.
"""

from __future__ import annotations

from awsideman.core.attributes import group_record
from awsideman.core.model import Group, Snapshot
from awsideman.core.planner.draft import Draft, Key, Kind, compare

RESOURCE = "group"


def _hints(_key: Key, live: Group | None) -> dict[str, str]:
    return {"group_id": live.group_id} if live is not None else {}


def _delete_notes(live: Group) -> tuple[str, ...]:
    if live.external_ids:
        return ("re-creating this group cannot restore its ExternalIds (set by the identity provider)",)
    return ()


def plan_groups(draft: Draft, desired: Snapshot, live: Snapshot) -> None:
    """Creates, description updates and (with prune) deletes of groups, by display name."""
    compare(draft, Kind(RESOURCE, group_record, _hints, _delete_notes), desired.groups, live.groups)
