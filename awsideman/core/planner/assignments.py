"""Account assignments by (account, permission set, principal type, principal name).

Creating an assignment provisions its permission set to the account (AWS does it), so new
assignments need no provision change of their own.
"""

from __future__ import annotations

from awsideman.core.attributes import Record, assignment_record
from awsideman.core.changes import Change, address
from awsideman.core.model import Assignment, OrphanAssignment, Snapshot
from awsideman.core.planner.draft import Draft, Key, Kind, compare
from awsideman.core.planner.scope import NotTouched

RESOURCE = "assignment"
ORPHAN_NOTE = ("cannot be given back by a rollback: its user or group no longer exists, so AWS cannot assign it "
               "again (it granted no one access)")


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
    """Assignments the backup has and the target lacks, and (with prune) the reverse; then the
    orphan assignments of both sides (`plan_orphans`)."""
    compare(draft, assignment_kind(live), desired.assignments, live.assignments)
    plan_orphans(draft, desired, live)


def orphan_record(orphan: OrphanAssignment) -> Record:
    """An assignment record whose principal is the dangling id, marked (``Change.orphan``)."""
    return {"account_id": orphan.account_id, "permission_set_name": orphan.permission_set_name,
            "principal_type": orphan.principal_type, "principal_name": orphan.principal_id,
            "principal_id": orphan.principal_id, "orphan": True}


def plan_orphans(draft: Draft, desired: Snapshot, live: Snapshot) -> None:
    """Orphan assignments (their user or group was deleted; AWS keeps them).

    The backup's are never created (there is no principal to give them to): the plan lists them
    as not touched. The target's are left alone, said so, unless ``--prune``: then each is
    deleted like any assignment the backup lacks, though no rollback can give it back.
    """
    if desired.orphan_assignments:
        addresses = tuple(address(RESOURCE, o.key) for o in desired.orphan_assignments)
        draft.unresolved.append(NotTouched(
            f"{len(addresses)} orphan assignment(s) in the backup",
            "their user or group no longer existed when the backup was taken: nothing is created for them",
            addresses))
    if not live.orphan_assignments:
        return
    if not draft.prune:
        draft.unresolved.append(NotTouched(
            f"{len(live.orphan_assignments)} orphan assignment(s) in the target",
            "their user or group no longer exists; left in place (--prune deletes them)", ()))
        return
    for orphan in live.orphan_assignments:
        change = Change(RESOURCE, "delete", orphan.key, before=orphan_record(orphan),
                        hints={"permission_set_arn": orphan.permission_set_arn, "principal_id": orphan.principal_id},
                        notes=(ORPHAN_NOTE,))
        draft.propose(change, None, orphan)
