"""The planner's work grows linearly with the instance: one comparison per resource, by key."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from awsideman.core.model import Assignment, Group, Membership, PermissionSet, Snapshot, User
from awsideman.core.planner import draft, make_plan
from awsideman.sandbox.seeder import SIZES, _plan


def _snapshot(scale: int) -> Snapshot:
    """The `huge` shape at 1/`scale` of its size, as a backup would hold it."""
    spec = replace(SIZES["huge"], **{k: max(1, v // scale) for k, v in vars(SIZES["huge"]).items()})
    drawn = _plan(spec, random.Random(1))
    users = [User(n, f"u-{n}", {k: v for k, v in u.items() if k != "UserName"}) for n, u in drawn["users"].items()]
    groups = [Group(n, f"g-{n}", g.get("Description")) for n, g in drawn["groups"].items()]
    sets = [PermissionSet(n, f"arn-{n}", p.get("Description"), p["SessionDuration"]) for n, p in
            drawn["permission_sets"].items()]
    memberships = [Membership(g, u, f"g-{g}", f"u-{u}") for g, u in drawn["memberships"]]
    assignments = [Assignment(a[3], a[2], a[0], a[1], f"arn-{a[2]}", f"id-{a[1]}") for a in drawn["assignments"]]
    return Snapshot(users, groups, memberships, sets, assignments)


def test_comparisons_are_one_per_resource(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = {"diff": 0}
    real = draft.diff_records

    def counted(*args: object, **kwargs: object) -> object:
        calls["diff"] += 1
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(draft, "diff_records", counted)
    per_resource = []
    for scale in (100, 25):  # 4x the resources
        desired = _snapshot(scale)
        live = _snapshot(scale)
        calls["diff"] = 0
        plan = make_plan(desired, live)
        resources = sum(desired.counts().values())
        assert plan.is_empty
        per_resource.append(calls["diff"] / resources)
    # Exactly one record comparison per resource held on both sides, whatever the size: no
    # comparison of every desired record with every live one.
    assert per_resource[0] == per_resource[1] == 1.0
