"""Account assignments by (account, permission set, principal type, principal name).

Creating an assignment provisions its permission set to the account (AWS does it), so new
assignments need no provision change of their own.
"""

from __future__ import annotations

from awsideman.core.attributes import assignment_record
from awsideman.core.model import Assignment, Snapshot
from awsideman.core.planner.draft import Draft, Key, Kind, compare

RESOURCE = "assignment"


def assignment_kind(live: Snapshot) -> Kind:
    """The assignment kind, hinting the target's permission set ARN and principal id."""
    set_arns = {p.name: p.arn for p in live.permission_sets}
    principal_ids = {("USER", u.user_name): u.user_id for u in live.users}
    principal_ids.update({("GROUP", g.display_name): g.group_id for g in live.groups})

    def hints(key: Key, _live: Assignment | None) -> dict[str, str]:
        _account, ps, principal_type, name = key
        found = {"permission_set_arn": set_arns.get(ps), "principal_id": principal_ids.get((principal_type, name))}
        return {hint: value for hint, value in found.items() if value}

    return Kind(RESOURCE, assignment_record, hints)


def plan_assignments(draft: Draft, desired: Snapshot, live: Snapshot) -> None:
    """Assignments the backup has and the target lacks, and (with prune) the reverse."""
    compare(draft, assignment_kind(live), desired.assignments, live.assignments)
