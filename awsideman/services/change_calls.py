"""One change, made against the target: natural keys resolved to ids, then the writer's call.

A registry of implementations per (resource, action), as alembic keeps one per operation
type: the planner's changes know no boto3, and this module knows no scheduling or journal.
A synchronous change returns a short detail for the journal; an asynchronous one returns the
request it started (the engine polls it). Deleting what is already gone is done, not an error:
every change must be safe to run again after a crash.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from awsideman.core.changes import Change
from awsideman.services.resolver import Resolver


@dataclass(frozen=True)
class Outcome:
    """What a change did: a detail for the journal, or the asynchronous request it started."""

    detail: str | None = None
    request: Any = None  # adapters.async_requests.AsyncRequest


def execute(change: Change, writer: Any, resolver: Resolver) -> Outcome:
    """Make ``change`` in the target (one resource; several calls for a permission set)."""
    return _CALLS[(change.resource, change.action)](change, writer, resolver)


def _created(result: Any) -> tuple[str, str]:
    ident = str(result.id)
    how = {"found_after_lost_response": " (found by natural key after a lost answer)",
           "already_existed": " (it already existed)"}.get(result.outcome, "")
    return ident, ident + how


def created_id(detail: str | None) -> str | None:
    """The id a create's journaled detail names (``created ID ...``, as `_created` writes it)."""
    words = (detail or "").split()
    return words[1] if len(words) > 1 and words[0] == "created" else None


def _create_named(resource: str, create: str) -> Callable[[Change, Any, Resolver], Outcome]:
    def run(change: Change, writer: Any, resolver: Resolver) -> Outcome:
        ident, detail = _created(getattr(writer, create)(change.after))
        resolver.learn(resource, change.key[0], ident)
        return Outcome(f"created {detail}")
    return run


def _update_named(resource: str, update: str) -> Callable[[Change, Any, Resolver], Outcome]:
    def run(change: Change, writer: Any, resolver: Resolver) -> Outcome:
        ident = resolver.require(resource, change.key[0])
        getattr(writer, update)(ident, change.diff)
        return Outcome(f"updated {', '.join(sorted(change.diff))}")
    return run


def _delete_named(resource: str, delete: str) -> Callable[[Change, Any, Resolver], Outcome]:
    def run(change: Change, writer: Any, resolver: Resolver) -> Outcome:
        # The revert of a create deletes what that create made, by the id its answer gave.
        ident = change.hints.get("created_id") or resolver.find(resource, change.key[0])
        if ident is None:
            return Outcome("already absent")
        result = getattr(writer, delete)(ident)
        resolver.forget(resource, change.key[0])
        return Outcome("already absent" if result.outcome == "already_absent" else f"deleted {ident}")
    return run


def _create_membership(change: Change, writer: Any, resolver: Resolver) -> Outcome:
    group, user = change.key
    result = writer.create_membership(resolver.require("group", group), resolver.require("user", user))
    resolver.learn("membership", change.address, str(result.id))
    return Outcome(f"created {_created(result)[1]}")


def _delete_membership(change: Change, writer: Any, resolver: Resolver) -> Outcome:
    membership = resolver.known("membership", change.address) or change.hints.get("created_id")
    if membership is None:
        group_id, user_id = resolver.find("group", change.key[0]), resolver.find("user", change.key[1])
        membership = writer.membership_id(group_id, user_id) if group_id and user_id else None
    if membership is None:
        return Outcome("already absent")
    result = writer.delete_membership(membership)
    resolver.forget("membership", change.address)
    return Outcome("already absent" if result.outcome == "already_absent" else f"deleted {membership}")


def _create_assignment(change: Change, writer: Any, resolver: Resolver) -> Outcome:
    account, ps, principal_type, name = change.key
    arn = resolver.require("permission_set", ps)
    return Outcome(request=writer.create_assignment(account, arn, principal_type,
                                                    resolver.principal(principal_type, name)))


def _delete_assignment(change: Change, writer: Any, resolver: Resolver) -> Outcome:
    account, ps, principal_type, name = change.key
    arn = resolver.find("permission_set", ps)
    # An orphan's principal has no name to resolve: the dangling id is the assignment's own key.
    principal = name if change.orphan else resolver.find("user" if principal_type == "USER" else "group", name)
    if arn is None or principal is None:
        return Outcome("already absent")
    # Sent without listing first: the service knows at once whether the assignment exists (an
    # absent one is answered not-found, settled as done), while a listing may not show one that
    # was created moments ago (propagation lag) and cost a call per delete besides.
    return Outcome(request=writer.delete_assignment(account, arn, principal_type, principal))


def _provision(change: Change, writer: Any, resolver: Resolver) -> Outcome:
    ps, account = change.key
    return Outcome(request=writer.provision(resolver.require("permission_set", ps), account))


_CALLS: dict[tuple[str, str], Callable[[Change, Any, Resolver], Outcome]] = {
    ("user", "create"): _create_named("user", "create_user"),
    ("user", "update"): _update_named("user", "update_user"),
    ("user", "delete"): _delete_named("user", "delete_user"),
    ("group", "create"): _create_named("group", "create_group"),
    ("group", "update"): _update_named("group", "update_group"),
    ("group", "delete"): _delete_named("group", "delete_group"),
    ("permission_set", "create"): _create_named("permission_set", "create_permission_set"),
    ("permission_set", "update"): _update_named("permission_set", "update_permission_set"),
    ("permission_set", "delete"): _delete_named("permission_set", "delete_permission_set"),
    ("membership", "create"): _create_membership,
    ("membership", "delete"): _delete_membership,
    ("assignment", "create"): _create_assignment,
    ("assignment", "delete"): _delete_assignment,
    ("provision", "provision"): _provision,
}
