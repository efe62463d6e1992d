"""Dependencies between changes, a stable topological order, and the order of a rollback.

Dependencies follow from what the changes do, never from where they came from, so the same
rules order a plan and the inverses of any part of it (a rollback):

- a membership or assignment *create* waits for the *create* of the user, group or permission
  set it names, for an *update* of that permission set (an assignment provisions the permission
  set as it is when created), and for the *provision* of its (permission set, account);
- a *provision* waits for the *create/update* of its permission set;
- a user, group or permission set *delete* waits for the *deletes* of the memberships and
  assignments that name it (each has its own journaled inverse instead of vanishing with it).

Why this gives a correct rollback: reversing an applied list and inverting each change turns
"update permission set, then provision" into "provision, then revert": the accounts would get
the new policy again. The rules make the inverse provision wait for the inverse update, so it
is moved after it and re-provisions the reverted permission set. Likewise an assignment that is
re-created by a rollback waits for the permission set's revert, so it provisions the old one.
Because an assignment create waits for its pair's provision, no applied prefix holds a new
assignment (which re-provisions the account with the new policy) without that provision, whose
inverse then puts the old policy back.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator
from dataclasses import replace

from awsideman.core.changes import Change, address


def _principal(principal_type: str, name: str) -> str:
    return address("user" if principal_type == "USER" else "group", (name,))


def _prerequisites(change: Change) -> Iterator[tuple[str, tuple[str, ...]]]:
    """(address, actions) of changes that must come first, if they are in the list."""
    if change.action == "create" and change.resource == "membership":
        group, user = change.key
        yield address("group", (group,)), ("create",)
        yield address("user", (user,)), ("create",)
    elif change.action == "create" and change.resource == "assignment":
        account, ps, principal_type, name = change.key
        yield _principal(principal_type, name), ("create",)
        yield address("permission_set", (ps,)), ("create", "update")
        yield address("provision", (ps, account)), ("provision",)
    elif change.resource == "provision":
        yield address("permission_set", (change.key[0],)), ("create", "update")


def _dependents_of_delete(change: Change) -> Iterator[str]:
    """For a membership/assignment delete: the principal/permission set deletes that wait for it."""
    if change.resource == "membership":
        group, user = change.key
        yield address("group", (group,))
        yield address("user", (user,))
    elif change.resource == "assignment":
        _account, ps, principal_type, name = change.key
        yield _principal(principal_type, name)
        yield address("permission_set", (ps,))


def dependencies(changes: Iterable[Change]) -> dict[str, tuple[str, ...]]:
    """Each change's address -> the addresses (in this list) it must wait for, sorted."""
    items = list(changes)
    by_address = {c.address: c for c in items}
    if len(by_address) != len(items):
        raise ValueError("two changes share an address: a list holds at most one change per resource")
    deps: dict[str, set[str]] = {c.address: set() for c in items}
    for change in items:
        for needed, actions in _prerequisites(change):
            other = by_address.get(needed)
            if other is not None and other.action in actions:
                deps[change.address].add(needed)
        if change.action == "delete":
            for waiting in _dependents_of_delete(change):
                other = by_address.get(waiting)
                if other is not None and other.action == "delete":
                    deps[waiting].add(change.address)
    return {addr: tuple(sorted(found)) for addr, found in deps.items()}


def order(changes: Iterable[Change]) -> list[Change]:
    """The changes with `depends_on` filled in, topologically sorted.

    Stable: among changes that are ready, the one earlier in the input goes first, so the input
    order survives wherever no dependency forbids it.
    """
    items = list(changes)
    deps = dependencies(items)
    position = {c.address: i for i, c in enumerate(items)}
    waiting = {addr: len(found) for addr, found in deps.items()}
    unlocks: dict[str, list[str]] = {addr: [] for addr in deps}
    for addr, found in deps.items():
        for needed in found:
            unlocks[needed].append(addr)
    ready = [position[addr] for addr, count in waiting.items() if count == 0]
    heapq.heapify(ready)
    result: list[Change] = []
    while ready:
        change = items[heapq.heappop(ready)]
        result.append(replace(change, depends_on=deps[change.address]))
        for later in unlocks[change.address]:
            waiting[later] -= 1
            if waiting[later] == 0:
                heapq.heappush(ready, position[later])
    if len(result) != len(items):  # the rules above cannot make a cycle; guard against new ones
        stuck = sorted(addr for addr, count in waiting.items() if count)
        raise ValueError(f"dependency cycle among: {', '.join(stuck)}")
    return result


def rollback_order(applied: Iterable[Change]) -> list[Change]:
    """The inverses of `applied` (changes that took effect, in any order), ready to run.

    Reverse order, each change inverted, then re-ordered by the same dependency rules as a plan:
    an inverse provision moves after the revert of its permission set, a re-created assignment
    after the revert too, and a deleted principal's memberships are re-created after it. Works
    for any subset of a plan that respects its dependencies (a failure at any point, with
    concurrent changes). Raises `IrreversibleChangeError` for a change that cannot be inverted.

    Membership and assignment deletes go principal by principal (the order does not change what
    is correct, only what becomes ready when): a user's delete is ready as soon as its own few
    are gone, so users are deleted on their own quota while other users' memberships still go,
    instead of all of them waiting for the last membership.
    """
    inverses = [change.inverse() for change in reversed(list(applied))]
    return order(sorted(inverses, key=_sweep))


def _sweep(change: Change) -> tuple[int, tuple[str, ...]]:
    """Deletes that free a principal, by that principal; everything else keeps its place (stable sort)."""
    if change.action == "delete" and change.resource == "membership":
        return 0, ("USER", change.key[1])
    if change.action == "delete" and change.resource == "assignment":
        return 0, (change.key[2], change.key[3])
    return 1, ()
